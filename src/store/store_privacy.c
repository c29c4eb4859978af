/*
 * store_privacy: consent record, export, erasure, retention, weekly
 * counts.  See store_privacy.h.
 *
 * Booking tools write appointments.starts_at and homework dates in any
 * form the contract allows, so retention and the weekly summary parse
 * those in C (as the row readers do) instead of comparing them in SQL.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store_int.h"
#include "store/store_privacy.h"
#include "base/tz.h"
#include "base/util.h"

#define FORGOTTEN	"[forgotten]"
/* Shorter strings are not searched for: "Al" would hit every "Also". */
#define SCRUB_MIN	4

/* ------------------------------------------------------------ consent */

/*
 * The four values as the store reads them (store_read.c), for the clients
 * with id in [?4, ?5] (issue 12: a pass records a large diary's first look
 * a batch of clients per transaction).
 */
#define CONSENT_DIFF \
	" FROM clients c LEFT JOIN consent_seen s ON s.client_id = c.id" \
	" WHERE c.id BETWEEN ?4 AND ?5 AND (s.client_id IS NULL" \
	" OR s.email_consent IS NOT (c.email_consent = 1)" \
	" OR s.sms_consent IS NOT (c.sms_consent = 1)" \
	" OR s.opted_out IS NOT (c.opted_out_at IS NOT NULL)" \
	" OR s.discreet IS NOT (c.discreet <> 0))"

#define CONSENT_LOG(what, seen, now) \
	"INSERT INTO consent_log (client_id, what, old_value, new_value," \
	" changed_at, how) SELECT c.id, '" what "', s." seen ", " now ", ?1," \
	" CASE WHEN s.client_id IS NULL THEN ?3 ELSE ?2 END" \
	" FROM clients c LEFT JOIN consent_seen s ON s.client_id = c.id" \
	" WHERE c.id BETWEEN ?4 AND ?5 AND (s.client_id IS NULL OR s." seen \
	" IS NOT " now ") ORDER BY c.id"

static const char *const consent_log_sql[] = {
	CONSENT_LOG("email_consent", "email_consent", "(c.email_consent = 1)"),
	CONSENT_LOG("sms_consent", "sms_consent", "(c.sms_consent = 1)"),
	CONSENT_LOG("opted_out", "opted_out", "(c.opted_out_at IS NOT NULL)"),
	CONSENT_LOG("discreet", "discreet", "(c.discreet <> 0)"),
};

/* store_consent_sync for the clients with id in [lo, hi]; 0 or -1. */
static int
consent_sync_range(struct store *s, time_t now, const char *how_changed,
    const char *how_new, long long lo, long long hi, int *logged, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;
	int rc, n = 0;

	/* The usual case, every pass: one read finds nothing changed. */
	if ((st = store_prep(s, "SELECT 1" CONSENT_DIFF " LIMIT 1", err,
	    errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 4, lo);
	sqlite3_bind_int64(st, 5, hi);
	rc = sqlite3_step(st);
	store_done(s, st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_dberr(s, err, errlen, "reading consent");
	for (size_t i = 0; rc == SQLITE_ROW && i < 4; i++) {
		if ((st = store_prep(s, consent_log_sql[i], err, errlen)) == NULL)
			return -1;
		bind_time(st, 1, now);
		bind_text(st, 2, how_changed);
		bind_text(st, 3, how_new);
		sqlite3_bind_int64(st, 4, lo);
		sqlite3_bind_int64(st, 5, hi);
		if (store_run(s, st, "recording consent", err, errlen) != 0)
			return -1;
		n += sqlite3_changes(s->db);
	}
	if (rc == SQLITE_ROW) {
		if ((st = store_prep(s, "INSERT INTO consent_seen (client_id,"
		    " email_consent, sms_consent, opted_out, discreet) SELECT c.id,"
		    " (c.email_consent = 1), (c.sms_consent = 1),"
		    " (c.opted_out_at IS NOT NULL), (c.discreet <> 0)" CONSENT_DIFF
		    " ON CONFLICT (client_id) DO UPDATE SET"
		    " email_consent = excluded.email_consent,"
		    " sms_consent = excluded.sms_consent,"
		    " opted_out = excluded.opted_out, discreet = excluded.discreet",
		    err, errlen)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 4, lo);
		sqlite3_bind_int64(st, 5, hi);
		if (store_run(s, st, "recording consent", err, errlen) != 0)
			return -1;
	}
	if (logged != NULL)
		*logged += n;
	return 0;
}

/* A client row deleted (by a tool, or nudgectl client delete). */
static int
consent_forget_deleted(struct store *s, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "DELETE FROM consent_seen WHERE client_id NOT IN"
	    " (SELECT id FROM clients)", err, errlen)) == NULL)
		return -1;
	return store_run(s, st, "recording consent", err, errlen);
}

int
store_consent_sync(struct store *s, time_t now, const char *how_changed,
    const char *how_new, int *logged, char *err, size_t errlen)
{
	if (logged != NULL)
		*logged = 0;
	if (consent_sync_range(s, now, how_changed, how_new, INT64_MIN,
	    INT64_MAX, logged, err, errlen) != 0)
		return -1;
	return consent_forget_deleted(s, err, errlen);
}

int
store_consent_sync_some(struct store *s, time_t now, const char *how_changed,
    const char *how_new, long long *from, int max, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	long long hi = INT64_MAX;
	int rc;

	/* The max-th client from *from: this batch's last. */
	if ((st = store_prep(s, "SELECT id FROM clients WHERE id >= ?1 ORDER BY"
	    " id LIMIT 1 OFFSET ?2", err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, *from);
	sqlite3_bind_int(st, 2, max > 0 ? max - 1 : 0);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		hi = sqlite3_column_int64(st, 0);
	store_done(s, st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_dberr(s, err, errlen, "reading consent");
	if (consent_sync_range(s, now, how_changed, how_new, *from, hi, NULL,
	    err, errlen) != 0)
		return -1;
	if (hi < INT64_MAX) {
		*from = hi + 1;
		return 0;
	}
	*from = INT64_MIN;
	return consent_forget_deleted(s, err, errlen);
}

/* ------------------------------------------------------------- export */

/* Run sql (?1 = id) and hand every row to fn.  0 or -1. */
static int
rows(struct store *s, const char *section, const char *sql, long long id,
    store_row_fn fn, void *arg, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	struct store_row r = { .section = section };
	const char **names = NULL, **values = NULL;
	int *numeric = NULL, rc, n;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return store_dberr(s, err, errlen, section);
	sqlite3_bind_int64(st, 1, id);
	n = sqlite3_column_count(st);
	names = xcalloc((size_t)n + 1, sizeof(*names));
	values = xcalloc((size_t)n + 1, sizeof(*values));
	numeric = xcalloc((size_t)n + 1, sizeof(*numeric));
	for (int i = 0; i < n; i++)
		names[i] = sqlite3_column_name(st, i);
	r.ncols = n;
	r.names = names;
	r.values = values;
	r.numeric = numeric;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < n; i++) {
			int t = sqlite3_column_type(st, i);

			numeric[i] = t == SQLITE_INTEGER || t == SQLITE_FLOAT;
			values[i] = t == SQLITE_NULL ? NULL :
			    (const char *)sqlite3_column_text(st, i);
		}
		fn(arg, &r);
	}
	if (rc != SQLITE_DONE)
		store_dberr(s, err, errlen, section);
	sqlite3_finalize(st);
	free(names);
	free(values);
	free(numeric);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
has_column(struct store *s, const char *table, const char *col)
{
	sqlite3_stmt *st;
	int r = 0;

	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM pragma_table_info(?1)"
	    " WHERE name = ?2", -1, &st, NULL) != SQLITE_OK)
		return 0;
	bind_text(st, 1, table);
	bind_text(st, 2, col);
	r = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return r;
}

#define MY_CASES "(SELECT case_id FROM case_members WHERE client_id = ?1)"

static enum store_rc
client_exists(struct store *s, long long id, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	enum store_rc r;

	if ((st = store_prep(s, "SELECT 1 FROM clients WHERE id = ?1", err,
	    errlen)) == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(st, 1, id);
	r = store_step_one(s, st, "reading clients", err, errlen);
	store_done(s, st);
	return r;
}

enum store_rc
store_export(struct store *s, long long id, store_row_fn fn, void *arg,
    char *err, size_t errlen)
{
	/* for_client (a later addition) names the one member an appointment is for. */
	const char *appts = has_column(s, "appointments", "for_client") ?
	    "SELECT * FROM appointments WHERE case_id IN " MY_CASES
	    " AND (for_client IS NULL OR for_client = ?1) ORDER BY starts_at, id" :
	    "SELECT * FROM appointments WHERE case_id IN " MY_CASES
	    " ORDER BY starts_at, id";
	const char *const sections[][2] = {
		{ "client", "SELECT * FROM clients WHERE id = ?1" },
		{ "cases", "SELECT * FROM cases WHERE id IN " MY_CASES
		    " ORDER BY id" },
		/* The partner: their name, nothing else. */
		{ "partners", "SELECT m.case_id AS case_id, c.name AS name FROM"
		    " case_members m JOIN clients c ON c.id = m.client_id WHERE"
		    " m.case_id IN " MY_CASES " AND m.client_id <> ?1"
		    " ORDER BY m.case_id, c.id" },
		{ "appointments", appts },
		{ "homework", "SELECT * FROM homework WHERE case_id IN " MY_CASES
		    " ORDER BY id" },
		{ "messages", "SELECT * FROM messages WHERE client_id = ?1"
		    " ORDER BY id" },
		{ "consent_log", "SELECT * FROM consent_log WHERE client_id = ?1"
		    " ORDER BY id" },
		{ "problems", "SELECT * FROM problems WHERE tbl = 'clients' AND"
		    " row_id = ?1 ORDER BY first_seen" },
	};
	enum store_rc r;

	/* One read transaction: every section from the same moment. */
	if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return store_dberr(s, err, errlen, "starting the export");
	if ((r = client_exists(s, id, err, errlen)) == STORE_FOUND)
		for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
			if (rows(s, sections[i][0], sections[i][1], id, fn, arg,
			    err, errlen) != 0) {
				r = STORE_ERR;
				break;
			}
	sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	return r;
}

int
store_consent_history(struct store *s, long long id, store_row_fn fn,
    void *arg, char *err, size_t errlen)
{
	return rows(s, "consent_log", "SELECT changed_at, what, old_value,"
	    " new_value, how FROM consent_log WHERE client_id = ?1 ORDER BY id",
	    id, fn, arg, err, errlen);
}

/* ------------------------------------------------------------- forget */

static int
run1(struct store *s, const char *sql, long long id, time_t now,
    const char *what, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, sql, err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_bind_parameter_count(st) >= 2)
		bind_time(st, 2, now);
	if (store_run(s, st, what, err, errlen) != 0)
		return -1;
	return sqlite3_changes(s->db);
}

/* "name" as an SQL identifier (quotes doubled): names come from the schema. */
static char *
ident(const char *name)
{
	struct sbuf b = { 0 };

	sbuf_addc(&b, '"');
	for (; *name != '\0'; name++) {
		if (*name == '"')
			sbuf_addc(&b, '"');
		sbuf_addc(&b, *name);
	}
	sbuf_addc(&b, '"');
	return sbuf_steal(&b);
}

/*
 * Replace v in every text value of every table but clients.  Identifiers
 * come from sqlite_master and pragma_table_info (quoted), the value is a
 * parameter.  OR REPLACE: a value made equal to another under a UNIQUE
 * constraint (two problems rows) drops the duplicate rather than keep
 * the original text.  Returns the count of values changed, or -1.
 */
static int
scrub_everywhere(struct store *s, const char *v, char *err, size_t errlen)
{
	sqlite3_stmt *tl, *cl, *up;
	int n = 0;

	if (sqlite3_prepare_v2(s->db, "SELECT name FROM sqlite_master WHERE"
	    " type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND"
	    " name <> 'clients' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name",
	    -1, &tl, NULL) != SQLITE_OK)
		return store_dberr(s, err, errlen, "listing tables");
	while (n >= 0 && sqlite3_step(tl) == SQLITE_ROW) {
		const char *table = col_str(tl, 0);
		char *qt = ident(table);

		if (sqlite3_prepare_v2(s->db, "SELECT name FROM pragma_table_info(?1)",
		    -1, &cl, NULL) != SQLITE_OK) {
			free(qt);
			n = store_dberr(s, err, errlen, "listing columns");
			break;
		}
		bind_text(cl, 1, table);
		while (n >= 0 && sqlite3_step(cl) == SQLITE_ROW) {
			char *qc = ident(col_str(cl, 0));
			char *sql = xasprintf("UPDATE OR REPLACE %s SET %s = CASE WHEN"
			    " instr(lower(replace(%s, ?1, ?2)), lower(?1)) = 0"
			    " THEN replace(%s, ?1, ?2) ELSE ?2 END WHERE"
			    " typeof(%s) = 'text' AND instr(lower(%s), lower(?1)) > 0",
			    qt, qc, qc, qc, qc, qc);

			if (sqlite3_prepare_v2(s->db, sql, -1, &up, NULL) != SQLITE_OK)
				n = store_dberr(s, err, errlen, "scrubbing");
			else {
				bind_text(up, 1, v);
				bind_text(up, 2, FORGOTTEN);
				if (sqlite3_step(up) != SQLITE_DONE)
					n = store_dberr(s, err, errlen, "scrubbing");
				else
					n += sqlite3_changes(s->db);
				sqlite3_finalize(up);
			}
			free(sql);
			free(qc);
		}
		sqlite3_finalize(cl);
		free(qt);
	}
	sqlite3_finalize(tl);
	return n;
}

/*
 * A calendar feed's last body (a BLOB, which scrub_everywhere() does not
 * search) holds the diary as fetched: attendees' names and addresses.
 * One that quotes v is dropped with its validators, so the next fetch is
 * a full one.  Searched unfolded: iCalendar folds lines at 75 octets
 * (CRLF or LF, then a space or tab), which long ATTENDEE lines cut
 * inside a name or an address.  How many, or -1.
 */
static int
forget_feed_cache(struct store *s, const char *v, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE calendar_feeds SET body = NULL, etag ="
	    " NULL, last_modified = NULL WHERE body IS NOT NULL AND"
	    " instr(lower(replace(replace(replace(replace(CAST(body AS TEXT),"
	    " char(13, 10, 32), ''), char(13, 10, 9), ''), char(10, 32), ''),"
	    " char(10, 9), '')), lower(?1)) > 0", err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, v);
	if (store_run(s, st, "forgetting a calendar's copy", err, errlen) != 0)
		return -1;
	return sqlite3_changes(s->db);
}

/*
 * The client's outbox rows: pending ones cancelled, recipients and
 * provider references emptied.  STORE_HELD (nothing done) while one is
 * being sent, STORE_OK, STORE_ERR.
 */
static enum store_rc
forget_outbox(struct store *s, long long id, time_t now,
    struct forget_stats *fs, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int r;

	if ((st = store_prep(s, "SELECT count(*) FROM messages WHERE"
	    " client_id = ?1 AND status = 'sending'", err, errlen)) == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(st, 1, id);
	r = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	store_done(s, st);
	if (r < 0)
		return store_dberr(s, err, errlen, "reading the outbox");
	if (r > 0)
		return STORE_HELD;
	if ((r = run1(s, "UPDATE messages SET status = 'cancelled', last_error ="
	    " 'client forgotten', next_at = NULL, updated_at = ?2 WHERE"
	    " client_id = ?1 AND status = 'pending'", id, now,
	    "cancelling messages", err, errlen)) < 0)
		return STORE_ERR;
	fs->cancelled = r;
	if ((r = run1(s, "UPDATE messages SET recipient = '', provider_ref = NULL,"
	    " last_error = CASE WHEN last_error = 'client forgotten' THEN"
	    " last_error END WHERE client_id = ?1", id, 0,
	    "scrubbing the outbox", err, errlen)) < 0)
		return STORE_ERR;
	fs->scrubbed = r;
	return STORE_OK;
}

/*
 * Take the client out of their cases.  The label often names both
 * partners ("Sam & Alex"): the case keeps the remaining member's name, or
 * becomes "case N", closed, when nobody is left.  How many cases, or -1.
 */
static int
forget_cases(struct store *s, long long id, time_t now, char *err,
    size_t errlen)
{
	long long *cases = NULL;
	size_t ncases = 0;
	sqlite3_stmt *st;
	int r, rc = -1;

	if ((st = store_prep(s, "SELECT case_id FROM case_members WHERE"
	    " client_id = ?1 ORDER BY case_id", err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		cases = xrealloc(cases, (ncases + 1) * sizeof(*cases));
		cases[ncases++] = sqlite3_column_int64(st, 0);
	}
	store_done(s, st);
	if (r != SQLITE_DONE) {
		store_dberr(s, err, errlen, "reading cases");
		goto out;
	}
	if (run1(s, "DELETE FROM case_members WHERE client_id = ?1", id, 0,
	    "leaving cases", err, errlen) < 0)
		goto out;
	for (size_t i = 0; i < ncases; i++)
		if (run1(s, "UPDATE cases SET label = COALESCE((SELECT c.name FROM"
		    " case_members m JOIN clients c ON c.id = m.client_id WHERE"
		    " m.case_id = ?1 ORDER BY c.id LIMIT 1), 'case ' || ?1),"
		    " closed_at = CASE WHEN EXISTS (SELECT 1 FROM case_members"
		    " WHERE case_id = ?1) THEN closed_at ELSE COALESCE(closed_at,"
		    " ?2) END WHERE id = ?1", cases[i], now, "relabelling cases",
		    err, errlen) < 0)
			goto out;
	rc = (int)ncases;
out:
	free(cases);
	return rc;
}

enum store_rc
store_forget(struct store *s, long long id, time_t now,
    const char *const *scrub, size_t nscrub, struct forget_stats *fs,
    char *err, size_t errlen)
{
	int r;

	memset(fs, 0, sizeof(*fs));
	/* Freed pages are zeroed too, before the VACUUM rewrites the file. */
	sqlite3_exec(s->db, "PRAGMA secure_delete = ON", NULL, NULL, NULL);
	if ((r = forget_outbox(s, id, now, fs, err, errlen)) != STORE_OK)
		return r;
	if ((fs->cases = forget_cases(s, id, now, err, errlen)) < 0)
		return STORE_ERR;
	if (run1(s, "UPDATE clients SET name = 'forgotten client', first_name ="
	    " NULL, email = NULL, phone = NULL, email_consent = 0, sms_consent = 0,"
	    " discreet = 0, opted_out_at = COALESCE(opted_out_at, ?2) WHERE"
	    " id = ?1", id, now, "anonymising the client", err, errlen) < 0 ||
	    run1(s, "DELETE FROM problems WHERE tbl = 'clients' AND row_id = ?1",
	    id, 0, "forgetting problems", err, errlen) < 0)
		return STORE_ERR;
	for (size_t i = 0; i < nscrub; i++) {
		if (scrub[i] == NULL || strlen(scrub[i]) < SCRUB_MIN)
			continue;
		if ((r = scrub_everywhere(s, scrub[i], err, errlen)) < 0)
			return STORE_ERR;
		fs->replaced += r;
		if ((r = forget_feed_cache(s, scrub[i], err, errlen)) < 0)
			return STORE_ERR;
		fs->replaced += r;
	}
	return STORE_OK;
}

enum store_rc
store_vacuum(struct store *s, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int busy = 1;

	if (sqlite3_exec(s->db, "VACUUM", NULL, NULL, NULL) != SQLITE_OK)
		return store_dberr(s, err, errlen, "VACUUM");
	if (sqlite3_prepare_v2(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", -1, &st,
	    NULL) != SQLITE_OK)
		return store_dberr(s, err, errlen, "checkpoint");
	if (sqlite3_step(st) == SQLITE_ROW)
		busy = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return busy ? STORE_HELD : STORE_OK;
}

/* ---------------------------------------------------------- retention */

/*
 * detail: how the appointment was held, with its video link
 * (plan_detail); kept while the appointment is ahead, for a change notice.
 */
#define RETAIN_DETAIL_OLD "(appt_start IS NULL OR appt_start < ?1)"
#define RETAIN_MSG_WHERE " WHERE status IN ('sent', 'failed', 'skipped'," \
	" 'cancelled') AND COALESCE(sent_at, due_at) < ?1 AND (recipient <> ''" \
	" OR provider_ref IS NOT NULL OR last_error IS NOT NULL OR" \
	" (detail IS NOT NULL AND " RETAIN_DETAIL_OLD "))"

/* Run update, then also (NULL: none), for each id (?1).  0 or -1. */
static int
retain_ids(struct store *s, const char *update, const char *also,
    long long *ids, size_t n, int dry, long *count, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	*count = (long)n;
	for (size_t i = 0; !dry && i < n; i++)
		for (int k = 0; k < 2; k++) {
			const char *sql = k == 0 ? update : also;

			if (sql == NULL)
				continue;
			if ((st = store_prep(s, sql, err, errlen)) == NULL)
				return -1;
			sqlite3_bind_int64(st, 1, ids[i]);
			if (store_run(s, st, "retention", err, errlen) != 0)
				return -1;
		}
	return 0;
}

/* Appointments that started before cutoff lose their video link. */
static int
retain_links(struct store *s, time_t cutoff, int dry, struct retain_counts *rc,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	long long *ids = NULL;
	size_t n = 0;
	int r;

	if ((st = store_prep(s, "SELECT id, starts_at FROM appointments WHERE"
	    " video_url IS NOT NULL", err, errlen)) == NULL)
		return -1;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		time_t t;

		if (col_str(st, 1) == NULL || tz_parse_any(col_str(st, 1), &t) != 0 ||
		    t >= cutoff)
			continue;	/* unreadable: reported by planning, kept */
		ids = xrealloc(ids, (n + 1) * sizeof(*ids));
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	store_done(s, st);
	if (r != SQLITE_DONE) {
		free(ids);
		return store_dberr(s, err, errlen, "reading appointments");
	}
	/* The outbox's copy of the link (messages.detail) goes with it. */
	r = retain_ids(s, "UPDATE appointments SET video_url = NULL WHERE id = ?1",
	    "UPDATE messages SET detail = NULL WHERE appointment_id = ?1 AND"
	    " status NOT IN ('pending', 'sending')", ids, n, dry,
	    &rc->appointments, err, errlen);
	free(ids);
	return r;
}

/* Homework that ended (or stopped) before cutoff loses its words. */
static int
retain_homework(struct store *s, time_t cutoff, int dry,
    struct retain_counts *rc, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	long long *ids = NULL;
	size_t n = 0;
	char day[16];
	int r;

	/* Homework: dates are local 'YYYY-MM-DD', the same form compares as text. */
	tz_format_local_date(cutoff, day, sizeof(day));
	if ((st = store_prep(s, "SELECT id, starts_on, ends_on, active FROM"
	    " homework WHERE title <> '' OR prompt <> ''", err, errlen)) == NULL)
		return -1;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *start = col_str(st, 1), *end = col_str(st, 2);
		int y, m, d;

		if (end != NULL ? tz_parse_date(end, &y, &m, &d) != 0 ||
		    strcmp(end, day) >= 0 :
		    sqlite3_column_int(st, 3) != 0 || start == NULL ||
		    tz_parse_date(start, &y, &m, &d) != 0 || strcmp(start, day) >= 0)
			continue;
		ids = xrealloc(ids, (n + 1) * sizeof(*ids));
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	store_done(s, st);
	if (r != SQLITE_DONE) {
		free(ids);
		return store_dberr(s, err, errlen, "reading homework");
	}
	r = retain_ids(s, "UPDATE homework SET title = '', prompt = '', active = 0"
	    " WHERE id = ?1", NULL, ids, n, dry, &rc->homework, err, errlen);
	free(ids);
	return r;
}

static int
retain_appts(struct store *s, time_t cutoff, int dry, struct retain_counts *rc,
    char *err, size_t errlen)
{
	if (retain_links(s, cutoff, dry, rc, err, errlen) != 0)
		return -1;
	return retain_homework(s, cutoff, dry, rc, err, errlen);
}

int
store_retain(struct store *s, time_t msg_cutoff, time_t appt_cutoff, int dry,
    struct retain_counts *rc, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int r;

	memset(rc, 0, sizeof(*rc));
	if (msg_cutoff != 0) {
		if ((st = store_prep(s, dry ? "SELECT count(*) FROM messages"
		    RETAIN_MSG_WHERE : "UPDATE messages SET recipient = '',"
		    " provider_ref = NULL, last_error = NULL, detail = CASE WHEN"
		    RETAIN_DETAIL_OLD " THEN NULL ELSE detail END"
		    RETAIN_MSG_WHERE,
		    err, errlen)) == NULL)
			return -1;
		bind_time(st, 1, msg_cutoff);
		r = sqlite3_step(st);
		if (dry && r == SQLITE_ROW)
			rc->messages = (long)sqlite3_column_int64(st, 0);
		else if (!dry && r == SQLITE_DONE)
			rc->messages = sqlite3_changes(s->db);
		store_done(s, st);
		if (r != (dry ? SQLITE_ROW : SQLITE_DONE))
			return store_dberr(s, err, errlen, "retention");
	}
	if (appt_cutoff != 0)
		return retain_appts(s, appt_cutoff, dry, rc, err, errlen);
	return 0;
}

/* ------------------------------------------------------------- weekly */

static int
cmp_session(const void *a, const void *b)
{
	const struct week_session *x = a, *y = b;

	if (x->starts_at != y->starts_at)
		return x->starts_at < y->starts_at ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The week's messages by status (but alerts and test sends). */
static int
week_counts(struct store *s, time_t from, time_t to, struct week_stats *w,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int r;

	if ((st = store_prep(s, "SELECT status, count(*) FROM messages WHERE"
	    " due_at >= ?1 AND due_at < ?2 AND purpose NOT IN ('alert', 'test')"
	    " GROUP BY status", err, errlen)) == NULL)
		return -1;
	bind_time(st, 1, from);
	bind_time(st, 2, to);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		long n = (long)sqlite3_column_int64(st, 1);
		enum msg_status ms;

		if (msg_status_parse(col_str(st, 0), &ms) == -1)
			continue;
		switch (ms) {
		case MSG_SENT: w->sent = n; break;
		case MSG_FAILED: w->failed = n; break;
		case MSG_CANCELLED: w->cancelled = n; break;
		case MSG_SKIPPED: w->skipped = n; break;
		default: break;
		}
	}
	store_done(s, st);
	if (r != SQLITE_DONE)
		return store_dberr(s, err, errlen, "counting messages");
	return 0;
}

/* Why the week's skipped messages were skipped, most frequent first. */
static int
week_skips(struct store *s, time_t from, time_t to, struct week_stats *w,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int r;

	if ((st = store_prep(s, "SELECT COALESCE(last_error, 'no reason recorded'),"
	    " count(*) FROM messages WHERE status = 'skipped' AND due_at >= ?1 AND"
	    " due_at < ?2 AND purpose NOT IN ('alert', 'test') GROUP BY 1"
	    " ORDER BY 2 DESC, 1", err, errlen)) == NULL)
		return -1;
	bind_time(st, 1, from);
	bind_time(st, 2, to);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		w->skips = xrealloc(w->skips, (w->nskips + 1) * sizeof(*w->skips));
		w->skips[w->nskips].reason = col_dup(st, 0);
		w->skips[w->nskips++].n = (long)sqlite3_column_int64(st, 1);
	}
	store_done(s, st);
	if (r != SQLITE_DONE)
		return store_dberr(s, err, errlen, "counting skipped messages");
	return 0;
}

/* The week's failed messages, by due time. */
static int
week_failed(struct store *s, time_t from, time_t to, struct week_stats *w,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int r;

	if ((st = store_prep(s, "SELECT id, due_at FROM messages WHERE status ="
	    " 'failed' AND due_at >= ?1 AND due_at < ?2 AND purpose NOT IN"
	    " ('alert', 'test') ORDER BY due_at, id", err, errlen)) == NULL)
		return -1;
	bind_time(st, 1, from);
	bind_time(st, 2, to);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		w->failed_ids = xrealloc(w->failed_ids, (w->nfailed_ids + 1) *
		    sizeof(*w->failed_ids));
		w->failed_due = xrealloc(w->failed_due, (w->nfailed_ids + 1) *
		    sizeof(*w->failed_due));
		w->failed_ids[w->nfailed_ids] = sqlite3_column_int64(st, 0);
		w->failed_due[w->nfailed_ids++] = col_time(st, 1);
	}
	store_done(s, st);
	if (r != SQLITE_DONE)
		return store_dberr(s, err, errlen, "reading failed messages");
	return 0;
}

/* The open cases' booked sessions in [to, next_to), by time. */
static int
week_next(struct store *s, time_t to, time_t next_to, struct week_stats *w,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int r;

	if ((st = store_prep(s, "SELECT a.id, a.case_id, a.starts_at, k.label FROM"
	    " appointments a JOIN cases k ON k.id = a.case_id WHERE a.status ="
	    " 'booked' AND k.closed_at IS NULL", err, errlen)) == NULL)
		return -1;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct week_session *x;
		time_t t;

		if (col_str(st, 2) == NULL || tz_parse_any(col_str(st, 2), &t) != 0 ||
		    t < to || t >= next_to)
			continue;
		w->next = xrealloc(w->next, (w->nnext + 1) * sizeof(*w->next));
		x = &w->next[w->nnext++];
		x->id = sqlite3_column_int64(st, 0);
		x->case_id = sqlite3_column_int64(st, 1);
		x->starts_at = t;
		x->label = col_dup(st, 3);
	}
	store_done(s, st);
	if (r != SQLITE_DONE)
		return store_dberr(s, err, errlen, "reading appointments");
	if (w->nnext > 1)
		qsort(w->next, w->nnext, sizeof(*w->next), cmp_session);
	return 0;
}

int
store_week_stats(struct store *s, time_t from, time_t to, time_t next_to,
    struct week_stats *w, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int r;

	memset(w, 0, sizeof(*w));
	if (week_counts(s, from, to, w, err, errlen) != 0 ||
	    week_skips(s, from, to, w, err, errlen) != 0 ||
	    week_failed(s, from, to, w, err, errlen) != 0)
		return -1;

	if ((st = store_prep(s, "SELECT count(*) FROM problems WHERE"
	    " first_seen >= ?1 AND first_seen < ?2", err, errlen)) == NULL)
		return -1;
	bind_time(st, 1, from);
	bind_time(st, 2, to);
	if ((r = sqlite3_step(st)) == SQLITE_ROW)
		w->unreadable = (long)sqlite3_column_int64(st, 0);
	store_done(s, st);
	if (r != SQLITE_ROW)
		return store_dberr(s, err, errlen, "counting problems");

	if (store_state_get(s, "pause.email", &w->paused[0]) < 0 ||
	    store_state_get(s, "pause.sms", &w->paused[1]) < 0)
		return store_dberr(s, err, errlen, "reading state");
	return week_next(s, to, next_to, w, err, errlen);
}

