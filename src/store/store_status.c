/*
 * store_status: what nudgectl status and problems read: the outbox's
 * counts, the unreadable rows, the delivering process's lock, and the
 * last pass that nudged recorded (state key "pass.last").
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_int.h"

static int
status_count(struct store *s, const char *sql, time_t since, long *n,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = store_prep(s, sql, err, errlen)) == NULL)
		return -1;
	if (since != 0)
		bind_time(st, 1, since);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*n = (long)sqlite3_column_int64(st, 0);
	store_done(s, st);
	return rc == SQLITE_ROW ? 0 : store_dberr(s, err, errlen,
	    "reading the outbox");
}

/*
 * Per channel: what waits and when the next try is.  A held message is
 * not tried at its due time but at the first pass after its row is fixed:
 * it is counted (held_chan), never the next try, so that status names no
 * time at which nothing will be tried.
 */
static int
status_channels(struct store *s, struct store_status *out, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = store_prep(s, "SELECT channel, count(*), sum(held), "
	    "min(CASE WHEN NOT held THEN COALESCE(next_at, due_at) END) FROM "
	    "(SELECT channel, next_at, due_at," STORE_HELD_BY " AS held FROM "
	    "messages WHERE status = 'pending') GROUP BY channel", err,
	    errlen)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		enum chan ch = CHAN_EMAIL;
		time_t t;

		/* anything but "sms" counts as email, as the sender reads it */
		(void)chan_parse(col_str(st, 0), &ch);
		/* += : so an unknown channel's group adds to email's, not replaces it */
		out->waiting_chan[ch] += (long)sqlite3_column_int64(st, 1);
		out->held_chan[ch] += (long)sqlite3_column_int64(st, 2);
		t = col_time(st, 3);		/* 0: only held ones */
		if (t != 0 && (out->next_try[ch] == 0 || t < out->next_try[ch]))
			out->next_try[ch] = t;
	}
	store_done(s, st);
	if (rc != SQLITE_DONE)
		return store_dberr(s, err, errlen, "reading the outbox");
	return 0;
}

int
store_status_read(struct store *s, time_t since, struct store_status *out,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if (status_count(s, "SELECT count(*) FROM messages WHERE status IN "
	    "('pending', 'sending')", 0, &out->waiting, err, errlen) != 0 ||
	    status_count(s, "SELECT count(*) FROM messages WHERE status = "
	    "'failed' AND purpose NOT IN ('alert', 'test') AND "
	    "COALESCE(updated_at, due_at) >= ?1", since, &out->failed_since,
	    err, errlen) != 0 ||
	    status_count(s, "SELECT count(*) FROM messages WHERE status = "
	    "'sent' AND sent_at >= ?1", since, &out->sent_since, err,
	    errlen) != 0 ||
	    status_count(s, "SELECT count(*) FROM messages WHERE status = "
	    "'failed' AND alerted = 0 AND purpose NOT IN ('alert', 'test')", 0,
	    &out->failed_unreported, err, errlen) != 0 ||
	    /* calendar feeds' problems are not rows: nudgectl status shows them apart */
	    status_count(s, "SELECT count(*) FROM problems WHERE tbl <>"
	    " 'calendar'", 0, &out->bad_rows, err, errlen) != 0 ||
	    status_count(s, "SELECT count(*) FROM problems WHERE alerted = 0"
	    " AND tbl <> 'calendar'", 0, &out->bad_unreported, err, errlen) != 0)
		return -1;
	/* Held by an unreadable row: waiting, but not the next to go. */
	if (status_count(s, "SELECT count(*) FROM messages WHERE status ="
	    " 'pending' AND" STORE_HELD_BY, 0, &out->held, err, errlen) != 0)
		return -1;
	/* The next message due, and when each channel's next try is. */
	if ((st = store_prep(s, "SELECT id, channel, due_at, "
	    "COALESCE(next_at, due_at) FROM messages WHERE status = 'pending' "
	    STORE_NOT_HELD " ORDER BY COALESCE(next_at, due_at), id LIMIT 1", err,
	    errlen)) == NULL)
		return -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		out->next_id = sqlite3_column_int64(st, 0);
		/* anything but "sms" counts as email, as the sender reads it */
		if (chan_parse(col_str(st, 1), &out->next_chan) == -1)
			out->next_chan = CHAN_EMAIL;
		out->next_at = col_time(st, 3);
	}
	store_done(s, st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_dberr(s, err, errlen, "reading the outbox");
	return status_channels(s, out, err, errlen);
}

int
store_problems(struct store *s, struct store_problem **out, size_t *n,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*n = 0;
	if ((st = store_prep(s, "SELECT tbl, row_id, what, first_seen, alerted "
	    "FROM problems WHERE tbl <> 'calendar' ORDER BY first_seen, tbl,"
	    " row_id", err,
	    errlen)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_problem *p;

		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		p = &(*out)[(*n)++];
		p->table = col_dup(st, 0);
		p->id = sqlite3_column_int64(st, 1);
		p->what = col_dup(st, 2);
		p->first_seen = col_time(st, 3);
		p->reported = sqlite3_column_int(st, 4) != 0;
	}
	store_done(s, st);
	if (rc != SQLITE_DONE)
		return store_dberr(s, err, errlen, "reading the problems");
	return 0;
}

void
store_problems_free(struct store_problem *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].table);
		free(p[i].what);
	}
	free(p);
}

/*
 * The delivering nudged holds an flock on the database file itself (see
 * store_lock()); /proc/locks says whether one is held, and by whom,
 * without opening the file (issue 13).
 */
enum store_rc
store_lock_holder(const char *path, long *pid)
{
	struct stat st;
	long p;

	*pid = 0;
	if (stat(path, &st) == -1)
		return errno == ENOENT ? STORE_OK : STORE_ERR;
	if ((p = store_flock_pid(st.st_dev, st.st_ino)) < 0)
		return STORE_ERR;
	*pid = p;
	return p > 0 ? STORE_HELD : STORE_OK;
}

long long
store_last_msg_id(struct store *s)
{
	sqlite3_stmt *st;
	long long id = 0;

	if ((st = store_prep(s, "SELECT max(id) FROM messages", NULL, 0)) == NULL)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	store_done(s, st);
	return id;
}
