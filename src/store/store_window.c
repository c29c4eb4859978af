/*
 * store_window: which appointments a pass reads (issue 12), so that a pass
 * costs the due window and what changed, not the table.
 *
 * The engine (pass_plan.c) names ranges of start instants; this file turns
 * them into appointment ids through the appointments_start index
 * (julianday(starts_at)), and adds:
 *   - the rows the plan_dirty triggers logged (any connection's inserts and
 *     updates of appointments; updated clients and cases, whose
 *     appointments inside the whole window are read again), as the pass
 *     took them (store_dirty_take: plan_taken);
 *   - the appointments of pending rows due by the caller's due_by (late
 *     passes: the overdue rules), and rows whose starts_at julianday()
 *     cannot read (NULL, first in the index), so they are reported.
 * julianday() reads "Z" and "+HH:MM" times exactly and a bare local time
 * as if it were UTC: every range is widened by the caller's tz_slack.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store_int.h"
#include "base/util.h"

/* time_t to SQLite's julianday() scale. */
static double
win_jd(time_t t)
{
	return (double)t / 86400.0 + 2440587.5;
}

struct win_ids {
	long long	*v;
	size_t		 n, cap;
};

static void
win_add(struct win_ids *w, long long id)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 256;
		w->v = xrealloc(w->v, w->cap * sizeof(*w->v));
	}
	w->v[w->n++] = id;
}

/* Every id column 0 of st yields (bound by the caller); 0 or -1. */
static int
win_collect(struct store *s, sqlite3_stmt *st, struct win_ids *w, char *err,
    size_t errlen)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (sqlite3_column_type(st, 0) == SQLITE_INTEGER)
			win_add(w, sqlite3_column_int64(st, 0));
	if (rc != SQLITE_DONE)
		store_dberr(s, err, errlen, "choosing the appointments to plan");
	store_done(s, st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
win_cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

/* What the change log names (see store_pass_ids), into w.  0 or -1. */
static int
win_changed(struct store *s, const struct store_pass *p, struct win_ids *w,
    char *err, size_t errlen)
{
	double lo = win_jd(p->win_lo - p->tz_slack);
	double hi = win_jd(p->win_hi + p->tz_slack);
	sqlite3_stmt *st;

	/*
	 * Changed appointments: those in the window, those already with
	 * messages (moved far away or cancelled after a reminder went: the
	 * notices), and unreadable ones.  Others (a far booking, the past)
	 * have nothing to plan until their band comes.
	 */
	if ((st = store_prep(s, "SELECT a.id FROM plan_taken d JOIN appointments a"
	    " ON a.id = d.row_id WHERE d.tbl = 'a' AND (julianday(a.starts_at)"
	    " IS NULL OR julianday(a.starts_at) BETWEEN ?1 AND ?2 OR EXISTS"
	    " (SELECT 1 FROM messages m WHERE m.appointment_id = a.id))",
	    err, errlen)) == NULL)
		return -1;
	sqlite3_bind_double(st, 1, lo);
	sqlite3_bind_double(st, 2, hi);
	if (win_collect(s, st, w, err, errlen) != 0)
		return -1;
	/*
	 * Changed clients and cases: consent, opt-out, address, closing,
	 * members.  A whole pass reads their window anyway.
	 */
	if (p->whole)
		return 0;
	if ((st = store_prep(s, "SELECT id FROM appointments WHERE case_id IN"
	    " (SELECT row_id FROM plan_taken WHERE tbl = 'k' UNION SELECT case_id"
	    " FROM case_members WHERE client_id IN (SELECT row_id FROM plan_taken"
	    " WHERE tbl = 'c')) AND julianday(starts_at) BETWEEN ?1 AND ?2",
	    err, errlen)) == NULL)
		return -1;
	sqlite3_bind_double(st, 1, lo);
	sqlite3_bind_double(st, 2, hi);
	return win_collect(s, st, w, err, errlen);
}

int
store_pass_ids(struct store *s, const struct store_pass *p, long long **ids,
    size_t *n, char *err, size_t errlen)
{
	struct win_ids w = { 0 };
	sqlite3_stmt *st;
	size_t i, o;

	*ids = NULL;
	*n = 0;
	for (i = 0; i < p->nranges; i++) {
		if ((st = store_prep(s, "SELECT id FROM appointments WHERE"
		    " julianday(starts_at) BETWEEN ?1 AND ?2", err, errlen)) == NULL)
			goto fail;
		sqlite3_bind_double(st, 1, win_jd(p->ranges[i][0] - p->tz_slack));
		sqlite3_bind_double(st, 2, win_jd(p->ranges[i][1] + p->tz_slack));
		if (win_collect(s, st, &w, err, errlen) != 0)
			goto fail;
	}
	if (win_changed(s, p, &w, err, errlen) != 0)
		goto fail;
	if ((st = store_prep(s, "SELECT DISTINCT appointment_id FROM messages"
	    " WHERE status = 'pending' AND due_at <= ?1 AND appointment_id IS NOT"
	    " NULL", err, errlen)) == NULL)
		goto fail;
	bind_time(st, 1, p->due_by);
	if (win_collect(s, st, &w, err, errlen) != 0)
		goto fail;
	if ((st = store_prep(s, "SELECT id FROM appointments WHERE"
	    " julianday(starts_at) IS NULL", err, errlen)) == NULL)
		goto fail;
	if (win_collect(s, st, &w, err, errlen) != 0)
		goto fail;
	if (w.n > 1)
		qsort(w.v, w.n, sizeof(*w.v), win_cmp);
	for (i = 0, o = 0; i < w.n; i++)
		if (o == 0 || w.v[o - 1] != w.v[i])
			w.v[o++] = w.v[i];
	*ids = w.v;
	*n = o;
	return 0;
fail:
	free(w.v);
	return -1;
}

int
store_dirty_check(struct store *s, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int have = 0, rc;

	if ((st = store_prep(s, "SELECT count(*) FROM sqlite_master WHERE"
	    " type = 'trigger' AND name GLOB 'plan_dirty_*'", err, errlen)) == NULL)
		return -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		have = sqlite3_column_int(st, 0);
	else
		store_dberr(s, err, errlen, "reading the schema");
	store_done(s, st);
	if (rc != SQLITE_ROW)
		return -1;
	if (have >= STORE_DIRTY_NTRIG)
		return 0;
	/*
	 * A booking tool that made its tables again dropped our triggers
	 * with them: changes went unlogged, so plan the whole window.
	 */
	if (sqlite3_exec(s->db, STORE_DIRTY_SQL, NULL, NULL, NULL) != SQLITE_OK)
		return store_dberr(s, err, errlen, "restoring the change log");
	return 1;
}

int
store_dirty_any(struct store *s, const char *tbl, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = store_prep(s, "SELECT 1 FROM plan_taken WHERE tbl = ?1 LIMIT 1",
	    err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, tbl);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW && rc != SQLITE_DONE)
		store_dberr(s, err, errlen, "reading the change log");
	store_done(s, st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int
store_dirty_pending(struct store *s, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = store_prep(s, "SELECT 1 FROM plan_dirty LIMIT 1", err,
	    errlen)) == NULL)
		return -1;
	if ((rc = sqlite3_step(st)) != SQLITE_ROW && rc != SQLITE_DONE)
		store_dberr(s, err, errlen, "reading the change log");
	store_done(s, st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/*
 * The pass takes the change log at its start, in its first transaction:
 * what other programs log while its later transactions run stays in
 * plan_dirty for the next pass (emptying plan_dirty at the end would
 * lose it).  Taken rows stay in plan_taken until a pass completes
 * (store_dirty_done), so an interrupted pass leaves them to the next.
 * The window is saved now, not at the end, so that the triggers log what
 * changes inside it while the pass runs, the first pass included.
 */
int
store_dirty_take(struct store *s, const struct store_pass *p, char *err,
    size_t errlen)
{
	static const char *const key[] = { "plan.from", "plan.upto" };
	double v[] = { win_jd(p->win_lo - p->tz_slack),
	    win_jd(p->win_hi + p->tz_slack) };
	sqlite3_stmt *st;

	if ((st = store_prep(s, "INSERT OR IGNORE INTO plan_taken (tbl, row_id)"
	    " SELECT tbl, row_id FROM plan_dirty", err, errlen)) == NULL ||
	    store_run(s, st, "taking the change log", err, errlen) != 0 ||
	    (st = store_prep(s, "DELETE FROM plan_dirty", err, errlen)) == NULL ||
	    store_run(s, st, "taking the change log", err, errlen) != 0)
		return -1;
	for (size_t i = 0; i < 2; i++) {
		if ((st = store_prep(s, "INSERT INTO state (key, value) VALUES"
		    " (?1, ?2) ON CONFLICT (key) DO UPDATE SET value ="
		    " excluded.value", err, errlen)) == NULL)
			return -1;
		bind_text(st, 1, key[i]);
		sqlite3_bind_double(st, 2, v[i]);
		if (store_run(s, st, "saving the planned window", err, errlen) != 0)
			return -1;
	}
	return 0;
}

int
store_dirty_done(struct store *s, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "DELETE FROM plan_taken", err, errlen)) == NULL)
		return -1;
	return store_run(s, st, "clearing the change log", err, errlen);
}

void
store_release_memory(struct store *s)
{
	if (s != NULL && s->db != NULL)
		sqlite3_db_release_memory(s->db);
}
