/*
 * store_snap: the snapshot planning works from (see struct snapshot in
 * store.h), and forgetting noted problems whose rows read fine again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store_int.h"
#include "base/tz.h"
#include "base/util.h"

/* ------------------------------------------------------------ snapshot */

static void *
grow(void *p, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 16;
	return xrealloc(p, *cap * size);
}

static void
add_bad(struct snapshot *sn, size_t *cap, const char *table, long long id,
    const char *what)
{
	struct bad_row *b;

	sn->bad = grow(sn->bad, sn->nbad, cap, sizeof(*sn->bad));
	b = &sn->bad[sn->nbad++];
	b->table = xstrdup(table);
	b->id = id;
	b->what = xstrdup(what);
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static int
cmp_msg(const void *a, const void *b)
{
	return cmp_ll(&((const struct msg *)a)->id, &((const struct msg *)b)->id);
}

/* Sort ids and drop repeats; returns the new count. */
static size_t
uniq_ids(long long *ids, size_t n)
{
	size_t i, o = 0;

	qsort(ids, n, sizeof(*ids), cmp_ll);
	for (i = 0; i < n; i++)
		if (o == 0 || ids[o - 1] != ids[i])
			ids[o++] = ids[i];
	return o;
}

static int
snap_appts(struct store *s, time_t since, struct snapshot *sn, size_t *badcap,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	char from[TZ_UTC_LEN], why[160];
	size_t cap = 0;
	struct appt a;
	int rc;

	/*
	 * Cheap prefilter on the text: a date two days before since leaves
	 * room for any UTC offset; a value that does not even start with a
	 * date is read too, so that it is reported.
	 */
	tz_format_utc(since - 2L * 86400, from);
	from[10] = '\0';
	/*
	 * A case with active homework needs its sessions, past ones too: they
	 * bound the schedule and give day numbers.
	 */
	if ((st = store_prep(s, "SELECT " APPT_COLS ", case_id IN (SELECT case_id"
	    " FROM homework WHERE active = 1) FROM appointments"
	    " WHERE substr(starts_at, 1, 10) >= ?1 OR starts_at IS NULL"
	    " OR starts_at NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*'"
	    " OR case_id IN (SELECT case_id FROM homework WHERE active = 1)"
	    " ORDER BY id", err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, from);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (store_read_appt(st, &a, why, sizeof(why)) == -1) {
			add_bad(sn, badcap, "appointments", a.id, why);
			appt_free(&a);
			continue;
		}
		if (a.starts_at < since && sqlite3_column_int(st, 9) == 0) {
			appt_free(&a);
			continue;
		}
		sn->appts = grow(sn->appts, sn->nappts, &cap, sizeof(a));
		sn->appts[sn->nappts++] = a;
	}
	if (rc != SQLITE_DONE)
		store_dberr(s, err, errlen, "reading appointments");
	store_done(s, st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
snap_homework(struct store *s, struct snapshot *sn, size_t *badcap, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;
	char why[160];
	size_t cap = 0;
	struct homework h;
	int rc;

	if ((st = store_prep(s, "SELECT " HW_COLS " FROM homework WHERE active = 1"
	    " ORDER BY id", err, errlen)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (store_read_homework(st, &h, why, sizeof(why)) == -1) {
			add_bad(sn, badcap, "homework", h.id, why);
			homework_free(&h);
			continue;
		}
		sn->hw = grow(sn->hw, sn->nhw, &cap, sizeof(h));
		sn->hw[sn->nhw++] = h;
	}
	if (rc != SQLITE_DONE)
		store_dberr(s, err, errlen, "reading homework");
	store_done(s, st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
snap_cases(struct store *s, struct snapshot *sn, char *err, size_t errlen)
{
	sqlite3_stmt *cst = NULL, *mst = NULL;
	long long *ids;
	size_t i, n = 0;
	int rc = -1, r;

	ids = xcalloc(sn->nappts + sn->nhw, sizeof(*ids));
	for (i = 0; i < sn->nappts; i++)
		ids[n++] = sn->appts[i].case_id;
	for (i = 0; i < sn->nhw; i++)
		ids[n++] = sn->hw[i].case_id;
	n = uniq_ids(ids, n);
	sn->cases = xcalloc(n, sizeof(*sn->cases));
	if ((cst = store_prep(s, CASE_SQL, err, errlen)) == NULL ||
	    (mst = store_prep(s, MEMBERS_SQL, err, errlen)) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		/* A case that does not exist is simply absent; planning skips it. */
		if ((r = store_load_case(s, cst, mst, ids[i], &sn->cases[sn->ncases],
		    err, errlen)) == -1)
			goto out;
		if (r == 1)
			sn->ncases++;
	}
	rc = 0;
out:
	store_done(s, cst);
	store_done(s, mst);
	free(ids);
	return rc;
}

static int
snap_clients(struct store *s, struct snapshot *sn, size_t *badcap, char *err,
    size_t errlen)
{
	char why[128];
	sqlite3_stmt *st;
	long long *ids;
	size_t i, j, n = 0, cap = 0;
	int rc = 0;

	for (i = 0; i < sn->ncases; i++)
		cap += sn->cases[i].nmembers;
	ids = xcalloc(cap, sizeof(*ids));
	for (i = 0; i < sn->ncases; i++)
		for (j = 0; j < sn->cases[i].nmembers; j++)
			ids[n++] = sn->cases[i].members[j];
	n = uniq_ids(ids, n);
	sn->clients = xcalloc(n, sizeof(*sn->clients));
	if ((st = store_prep(s, "SELECT " CLIENT_COLS " FROM clients WHERE id = ?1",
	    err, errlen)) == NULL) {
		free(ids);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, ids[i]);
		switch (sqlite3_step(st)) {
		case SQLITE_ROW:
			/* Unreadable: reported, and the client gets nothing. */
			if (store_read_client(st, &sn->clients[sn->nclients],
			    why, sizeof(why)) == 0)
				sn->nclients++;
			else
				add_bad(sn, badcap, "clients", ids[i], why);
			break;
		case SQLITE_DONE:
			break;
		default:
			rc = store_dberr(s, err, errlen, "reading clients");
		}
	}
	store_done(s, st);
	free(ids);
	return rc;
}

/* Messages of each id in ids (one ?1), appended to sn->msgs. */
static int
snap_msgs_for(struct store *s, const char *sql, const long long *ids, size_t n,
    struct snapshot *sn, size_t *cap, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	struct msg m;
	size_t i;
	int rc = SQLITE_DONE;

	if ((st = store_prep(s, sql, err, errlen)) == NULL)
		return -1;
	for (i = 0; i < n && rc == SQLITE_DONE; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, ids[i]);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			/* Only nudged writes messages; a foreign channel is skipped. */
			if (store_read_msg(st, &m) == -1)
				continue;
			sn->msgs = grow(sn->msgs, sn->nmsgs, cap, sizeof(m));
			sn->msgs[sn->nmsgs++] = m;
		}
	}
	if (rc != SQLITE_DONE)
		store_dberr(s, err, errlen, "reading messages");
	store_done(s, st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
snap_msgs(struct store *s, struct snapshot *sn, int stopped, char *err,
    size_t errlen)
{
	static const long long none = 0;
	long long *aids, *hids;
	size_t cap = 0, i, o = 0;
	int rc;

	aids = xcalloc(sn->nappts, sizeof(*aids));
	hids = xcalloc(sn->nhw, sizeof(*hids));
	for (i = 0; i < sn->nappts; i++)
		aids[i] = sn->appts[i].id;
	for (i = 0; i < sn->nhw; i++)
		hids[i] = sn->hw[i].id;
	rc = snap_msgs_for(s, "SELECT " MSG_COLS " FROM messages"
	    " WHERE appointment_id = ?1", aids, sn->nappts, sn, &cap,
	    err, errlen) == -1 ||
	    snap_msgs_for(s, "SELECT " MSG_COLS " FROM messages"
	    " WHERE homework_id = ?1", hids, sn->nhw, sn, &cap, err, errlen) == -1 ||
	    /* prompts of homework that was stopped: the planner cancels them */
	    (stopped && snap_msgs_for(s, "SELECT " MSG_COLS " FROM messages"
	    " INDEXED BY messages_pending_hw"	/* not every pending row */
	    " WHERE status = 'pending' AND homework_id IS NOT NULL AND"
	    " homework_id NOT IN (SELECT id FROM homework WHERE active = 1)"
	    " AND ?1 = 0", &none, 1, sn, &cap, err, errlen) == -1);
	free(aids);
	free(hids);
	if (rc)
		return -1;
	/* A row naming both an appointment and a homework was read twice. */
	if (sn->nmsgs > 1)
		qsort(sn->msgs, sn->nmsgs, sizeof(*sn->msgs), cmp_msg);
	for (i = 0; i < sn->nmsgs; i++) {
		if (o > 0 && sn->msgs[o - 1].id == sn->msgs[i].id)
			msg_free(&sn->msgs[i]);
		else
			sn->msgs[o++] = sn->msgs[i];
	}
	sn->nmsgs = o;
	return 0;
}

/* 1 when (table, id) is in the snapshot as a good row. */
static int
snap_has(const struct snapshot *sn, const char *table, long long id)
{
	size_t i;

	if (strcmp(table, "appointments") == 0) {
		for (i = 0; i < sn->nappts; i++)
			if (sn->appts[i].id == id)
				return 1;
	} else if (strcmp(table, "homework") == 0) {
		for (i = 0; i < sn->nhw; i++)
			if (sn->hw[i].id == id)
				return 1;
	} else if (strcmp(table, "clients") == 0) {
		for (i = 0; i < sn->nclients; i++)
			if (sn->clients[i].id == id)
				return 1;
	}
	return 0;
}

/* 1 when the row is bad now, for the same reason (2) or another (1); 0 not bad. */
static int
snap_bad(const struct snapshot *sn, const char *table, long long id,
    const char *what)
{
	size_t i;
	int found = 0;

	for (i = 0; i < sn->nbad; i++) {
		if (sn->bad[i].id != id || strcmp(sn->bad[i].table, table) != 0)
			continue;
		if (strcmp(sn->bad[i].what, what) == 0)
			return 2;
		found = 1;
	}
	return found;
}

/*
 * 1 when an outbox row noted as unreadable (store_next_due) is fine now:
 * it reads, or it is gone, or it is no longer waiting to be sent.
 */
static int
snap_msg_fine(struct store *s, long long id)
{
	sqlite3_stmt *st;
	struct msg m;
	int fine = 0;

	if ((st = store_prep(s, "SELECT " MSG_COLS " FROM messages WHERE id = ?1"
	    " AND status = 'pending'", NULL, 0)) == NULL)
		return 0;
	sqlite3_bind_int64(st, 1, id);
	switch (sqlite3_step(st)) {
	case SQLITE_DONE:
		fine = 1;
		break;
	case SQLITE_ROW:
		fine = store_read_msg(st, &m) == 0;
		if (fine)
			msg_free(&m);
		break;
	default:
		break;
	}
	store_done(s, st);
	return fine;
}

/*
 * Forget problems with rows that are readable now, or bad for another
 * reason: if they break again the same way, that is news again.  The
 * problems table is nearly always empty, so this costs one query.
 */
static int
snap_forget(struct store *s, const struct snapshot *sn, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	long long *gone = NULL;
	size_t n = 0, cap = 0, i;
	const char *tbl, *what;
	long long id;
	int rc;

	if ((st = store_prep(s, "SELECT rowid, tbl, row_id, what FROM problems",
	    err, errlen)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		tbl = col_str(st, 1);
		id = sqlite3_column_int64(st, 2);
		what = col_str(st, 3);
		if (tbl == NULL || what == NULL)
			continue;
		if (snap_has(sn, tbl, id) || snap_bad(sn, tbl, id, what) == 1 ||
		    (strcmp(tbl, "messages") == 0 && snap_msg_fine(s, id))) {
			gone = grow(gone, n, &cap, sizeof(*gone));
			gone[n++] = sqlite3_column_int64(st, 0);
		}
	}
	if (rc != SQLITE_DONE)
		store_dberr(s, err, errlen, "reading problems");
	store_done(s, st);
	if (rc != SQLITE_DONE || n == 0) {
		free(gone);
		return rc == SQLITE_DONE ? 0 : -1;
	}
	rc = 0;
	if ((st = store_prep(s, "DELETE FROM problems WHERE rowid = ?1", err,
	    errlen)) == NULL)
		rc = -1;
	for (i = 0; i < n && rc == 0; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, gone[i]);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = store_dberr(s, err, errlen, "forgetting a problem");
	}
	store_done(s, st);
	free(gone);
	return rc;
}

static int
cmp_case_id(const void *k, const void *e)
{
	long long id = *(const long long *)k, o = ((const struct kase *)e)->id;

	return (id > o) - (id < o);
}

/*
 * An appointment whose case does not exist (a booking tool's broken
 * reference) is reported and left out, like any unreadable row.
 */
static void
snap_orphans(struct snapshot *sn, size_t *badcap)
{
	size_t i, o = 0;
	char why[64];

	for (i = 0; i < sn->nappts; i++) {
		struct appt *a = &sn->appts[i];

		if (bsearch(&a->case_id, sn->cases, sn->ncases, sizeof(*sn->cases),
		    cmp_case_id) == NULL) {
			snprintf(why, sizeof(why), "case %lld does not exist",
			    a->case_id);
			add_bad(sn, badcap, "appointments", a->id, why);
			appt_free(a);
			continue;
		}
		sn->appts[o++] = *a;
	}
	sn->nappts = o;
}

int
store_snapshot(struct store *s, time_t since, struct snapshot *sn, char *err,
    size_t errlen)
{
	size_t badcap = 0;

	memset(sn, 0, sizeof(*sn));
	if (snap_appts(s, since, sn, &badcap, err, errlen) == -1 ||
	    snap_homework(s, sn, &badcap, err, errlen) == -1 ||
	    snap_cases(s, sn, err, errlen) == -1) {
		snapshot_free(sn);
		return -1;
	}
	snap_orphans(sn, &badcap);
	if (snap_clients(s, sn, &badcap, err, errlen) == -1 ||
	    snap_msgs(s, sn, 1, err, errlen) == -1 ||
	    snap_forget(s, sn, err, errlen) == -1) {
		snapshot_free(sn);
		return -1;
	}
	return 0;
}


/*
 * The sessions the homework schedule needs: session days are counted from
 * starts_on and it ends before the first session after that day, so none
 * before it matters (two days' margin for the zone; an unreadable start
 * is read, to be reported).  A case's whole history was read on every
 * pass, in its last transaction (issue 12, item 3).
 */
#define SNAP_HW_SESSIONS "SELECT a.id FROM appointments a JOIN homework h" \
	" ON h.case_id = a.case_id WHERE h.active = 1 AND" \
	" (julianday(a.starts_at) IS NULL OR julianday(a.starts_at) >=" \
	" julianday(h.starts_on) - 2)"

/*
 * Issue 12: the appointments a pass chose (store_pass_ids), read by id,
 * with (homework) the active homework and the sessions of its cases
 * that bound and number its prompts (SNAP_HW_SESSIONS).
 */
static int
snap_appt_ids(struct store *s, const long long *want, size_t nwant, int homework,
    struct snapshot *sn, size_t *badcap, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	long long *ids;
	size_t n = 0, cap = nwant + 16, acap = 0, i;
	char why[160];
	struct appt a;
	int rc = SQLITE_DONE;

	ids = xcalloc(cap, sizeof(*ids));
	if (nwant > 0)	/* want may be NULL then */
		memcpy(ids, want, nwant * sizeof(*ids));
	n = nwant;
	if (homework) {
		if ((st = store_prep(s, SNAP_HW_SESSIONS, err, errlen)) == NULL) {
			free(ids);
			return -1;
		}
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			ids = grow(ids, n, &cap, sizeof(*ids));
			ids[n++] = sqlite3_column_int64(st, 0);
		}
		if (rc != SQLITE_DONE)
			store_dberr(s, err, errlen, "reading homework sessions");
		store_done(s, st);
		if (rc != SQLITE_DONE) {
			free(ids);
			return -1;
		}
		n = uniq_ids(ids, n);
	}
	if ((st = store_prep(s, "SELECT " APPT_COLS " FROM appointments WHERE"
	    " id = ?1", err, errlen)) == NULL) {
		free(ids);
		return -1;
	}
	for (i = 0; i < n && rc == SQLITE_DONE; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, ids[i]);
		if ((rc = sqlite3_step(st)) != SQLITE_ROW)
			continue;	/* deleted meanwhile: DONE */
		rc = SQLITE_DONE;
		if (store_read_appt(st, &a, why, sizeof(why)) == -1) {
			add_bad(sn, badcap, "appointments", a.id, why);
			appt_free(&a);
			continue;
		}
		sn->appts = grow(sn->appts, sn->nappts, &acap, sizeof(a));
		sn->appts[sn->nappts++] = a;
	}
	if (rc != SQLITE_DONE)
		store_dberr(s, err, errlen, "reading appointments");
	store_done(s, st);
	free(ids);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_snapshot_ids(struct store *s, const long long *ids, size_t n,
    int homework, struct snapshot *sn, char *err, size_t errlen)
{
	size_t badcap = 0;

	memset(sn, 0, sizeof(*sn));
	if (snap_appt_ids(s, ids, n, homework, sn, &badcap, err, errlen) == -1 ||
	    (homework && snap_homework(s, sn, &badcap, err, errlen) == -1) ||
	    snap_cases(s, sn, err, errlen) == -1) {
		snapshot_free(sn);
		return -1;
	}
	snap_orphans(sn, &badcap);
	if (snap_clients(s, sn, &badcap, err, errlen) == -1 ||
	    snap_msgs(s, sn, homework, err, errlen) == -1 ||
	    snap_forget(s, sn, err, errlen) == -1) {
		snapshot_free(sn);
		return -1;
	}
	return 0;
}
