/*
 * store_ctl: the reads and writes behind nudgectl's warnings and its
 * "undo" commands: look-alike clients, overlapping appointments (of the
 * same case, and the practice's others at the same time), a case's
 * future appointments (case close --cancel-future), case reopen and
 * client delete.  Inside the caller's transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"

/* First other client whose column equals v (case-blind); 0 none, -1 error. */
static long long
ctl_same(struct store *s, const char *sql, const char *v, long long skip,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	long long id = 0;
	int rc;

	if (v == NULL || *v == '\0')
		return 0;
	if ((st = store_prep(s, sql, err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, v);
	sqlite3_bind_int64(st, 2, skip);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	store_done(s, st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_dberr(s, err, errlen, "looking for look-alike "
		    "clients");
	return id;
}

int
store_client_lookalike(struct store *s, const char *name, const char *email,
    long long skip, long long *same_name, long long *same_email, char *err,
    size_t errlen)
{
	*same_name = ctl_same(s, "SELECT id FROM clients WHERE"
	    " lower(trim(name)) = lower(trim(?1)) AND id <> ?2 ORDER BY id",
	    name, skip, err, errlen);
	*same_email = ctl_same(s, "SELECT id FROM clients WHERE"
	    " lower(trim(email)) = lower(trim(?1)) AND id <> ?2 ORDER BY id",
	    email, skip, err, errlen);
	return *same_name < 0 || *same_email < 0 ? -1 : 0;
}

/* Do [a, a + adur minutes) and [b, b + bdur minutes) overlap? */
static int
overlaps(time_t a, long long adur, time_t b, long long bdur)
{
	return a < b + bdur * 60 && b < a + adur * 60;
}

/* Booked appointments other than ?1, as first_overlap reads them. */
#define BOOKED_SQL "SELECT a.id, a.case_id, a.starts_at, a.duration_min," \
	" k.label FROM appointments a LEFT JOIN cases k ON k.id = a.case_id" \
	" WHERE a.status = 'booked' AND a.id <> ?1"

/*
 * The first row of st (bound; id, case_id, starts_at, duration_min,
 * label) that overlaps [start, start + dur minutes), into hit.  Times
 * written by booking tools take several forms, so they are parsed here,
 * not compared in SQL; an unreadable one is nudged's to report, not
 * ours.  STORE_FOUND, STORE_GONE, STORE_ERR.
 */
static enum store_rc
first_overlap(struct store *s, sqlite3_stmt *st, time_t start, long dur,
    struct appt_hit *hit, char *err, size_t errlen)
{
	time_t t;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (tz_parse_any(col_str(st, 2), &t) == -1 ||
		    !overlaps(t, sqlite3_column_int64(st, 3), start, dur))
			continue;
		hit->id = sqlite3_column_int64(st, 0);
		hit->case_id = sqlite3_column_int64(st, 1);
		hit->starts_at = t;
		snprintf(hit->label, sizeof(hit->label), "%s",
		    col_str(st, 4) ? col_str(st, 4) : "?");
		store_done(s, st);
		return STORE_FOUND;
	}
	store_done(s, st);
	if (rc != SQLITE_DONE)
		return store_dberr(s, err, errlen, "reading appointments");
	return STORE_GONE;
}

/*
 * Booked appointments that overlap [start, start + dur minutes), other
 * than skip, of any open case but not_case (0: any).
 */
enum store_rc
store_overlap(struct store *s, long long not_case, long long skip,
    time_t start, long dur, struct appt_hit *hit, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, BOOKED_SQL " AND a.case_id <> ?2"
	    " AND k.closed_at IS NULL ORDER BY a.id", err, errlen)) == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(st, 1, skip);
	sqlite3_bind_int64(st, 2, not_case);
	return first_overlap(s, st, start, dur, hit, err, errlen);
}

/*
 * The same within one case (a mistyped date, a series booked twice):
 * its first booked appointment other than skip that overlaps.
 */
enum store_rc
store_case_clash(struct store *s, long long case_id, long long skip,
    time_t start, long dur, struct appt_hit *hit, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, BOOKED_SQL " AND a.case_id = ?2 ORDER BY a.id",
	    err, errlen)) == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(st, 1, skip);
	sqlite3_bind_int64(st, 2, case_id);
	return first_overlap(s, st, start, dur, hit, err, errlen);
}

/*
 * A case's booked appointments after now: how many, the first, and with
 * cancel set, cancel them (nudged then withdraws their reminders and
 * sends the notices, as for nudgectl cancel).  0 or -1.
 */
int
store_case_future(struct store *s, long long case_id, time_t now, int cancel,
    long *n, time_t *first, char *err, size_t errlen)
{
	sqlite3_stmt *st, *up;
	time_t t;
	int rc;

	*n = 0;
	*first = 0;
	if ((st = store_prep(s, "SELECT id, starts_at FROM appointments"
	    " WHERE case_id = ?1 AND status = 'booked' ORDER BY id", err,
	    errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, case_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (tz_parse_any(col_str(st, 1), &t) == -1 || t <= now)
			continue;
		(*n)++;
		if (*first == 0 || t < *first)
			*first = t;
		if (!cancel)
			continue;
		if ((up = store_prep(s, "UPDATE appointments SET status ="
		    " 'cancelled' WHERE id = ?1", err, errlen)) == NULL) {
			store_done(s, st);
			return -1;
		}
		sqlite3_bind_int64(up, 1, sqlite3_column_int64(st, 0));
		if (store_run(s, up, "cancelling an appointment", err,
		    errlen) != 0) {
			store_done(s, st);
			return -1;
		}
	}
	store_done(s, st);
	if (rc != SQLITE_DONE)
		return store_dberr(s, err, errlen, "reading appointments");
	return 0;
}

int
store_case_reopen(struct store *s, long long case_id, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE cases SET closed_at = NULL WHERE"
	    " id = ?1", err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, case_id);
	return store_run(s, st, "reopening the case", err, errlen);
}

/*
 * Delete a client typed by mistake: only one with no appointments in
 * any of their cases and nothing in the outbox (their history stays).
 * STORE_OK deleted (cases left without members are deleted too, when they have
 * no homework, and so are the client's consent record and problems: a
 * new client may get the same id), STORE_REFUSED (why says why), STORE_ERR.
 */
enum store_rc
store_client_delete(struct store *s, long long id, char *why, size_t whylen,
    char *err, size_t errlen)
{
	static const char *const steps[] = {
		"DELETE FROM case_members WHERE client_id = ?1",
		"DELETE FROM cases WHERE id IN (SELECT k.id FROM cases k"
		    " WHERE NOT EXISTS (SELECT 1 FROM case_members m"
		    " WHERE m.case_id = k.id)"
		    " AND NOT EXISTS (SELECT 1 FROM appointments a"
		    " WHERE a.case_id = k.id)"
		    " AND NOT EXISTS (SELECT 1 FROM homework h"
		    " WHERE h.case_id = k.id))",
		"DELETE FROM clients WHERE id = ?1",
		/*
		 * SQLite gives the next client the highest id + 1, which may
		 * be this one: nothing recorded under the id may pass to them.
		 */
		"DELETE FROM consent_log WHERE client_id = ?1",
		"DELETE FROM consent_seen WHERE client_id = ?1",
		"DELETE FROM problems WHERE tbl = 'clients' AND row_id = ?1",
	};
	sqlite3_stmt *st;
	long na = 0, nm = 0;
	int rc;

	if ((st = store_prep(s, "SELECT (SELECT count(*) FROM appointments a"
	    " JOIN case_members m ON m.case_id = a.case_id"
	    " WHERE m.client_id = ?1),"
	    " (SELECT count(*) FROM messages WHERE client_id = ?1)", err,
	    errlen)) == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(st, 1, id);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		na = (long)sqlite3_column_int64(st, 0);
		nm = (long)sqlite3_column_int64(st, 1);
	}
	store_done(s, st);
	if (rc != SQLITE_ROW)
		return store_dberr(s, err, errlen, "reading the client");
	if (na > 0 || nm > 0) {
		snprintf(why, whylen, "they have %ld appointment%s and %ld "
		    "message%s on record", na, na == 1 ? "" : "s", nm,
		    nm == 1 ? "" : "s");
		return STORE_REFUSED;
	}
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if ((st = store_prep(s, steps[i], err, errlen)) == NULL)
			return STORE_ERR;
		if (strchr(steps[i], '?') != NULL)
			sqlite3_bind_int64(st, 1, id);
		if (store_run(s, st, "deleting the client", err, errlen) != 0)
			return STORE_ERR;
	}
	return STORE_OK;
}
