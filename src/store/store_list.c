/*
 * store_list: the outbox as nudgectl outbox and report show it: messages
 * with their client's name, filtered, and per-client counts for a week.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"

/*
 * Settled messages first, the newest first (by when they were sent or
 * settled), then those still waiting, the next due first.
 */
int
store_outbox_list(struct store *s, const struct outbox_filter *f,
    struct outbox_row **out, size_t *n, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*n = 0;
	if ((st = store_prep(s, "SELECT m.id, m.purpose, m.channel, m.recipient,"
	    " m.due_at, m.status, m.attempts, m.last_error, m.sent_at,"
	    " m.client_id, l.name FROM messages m"
	    " LEFT JOIN clients l ON l.id = m.client_id"
	    " WHERE (?1 IS NULL OR m.status = ?1)"
	    " AND (?2 = 0 OR m.client_id = ?2)"
	    " AND (?3 IS NULL OR m.due_at >= ?3)"
	    " AND (?4 IS NULL OR m.due_at < ?4)"
	    " ORDER BY m.status IN ('pending', 'sending'),"
	    " CASE WHEN m.status IN ('pending', 'sending') THEN"
	    "  COALESCE(m.next_at, m.due_at) END ASC,"
	    " COALESCE(m.sent_at, m.updated_at, m.due_at) DESC, m.id DESC"
	    " LIMIT ?5", err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, f->status);
	sqlite3_bind_int64(st, 2, f->client_id);
	bind_time(st, 3, f->since);
	bind_time(st, 4, f->until);
	sqlite3_bind_int64(st, 5, f->limit > 0 ? f->limit : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct outbox_row *r;

		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		r = &(*out)[(*n)++];
		r->id = sqlite3_column_int64(st, 0);
		r->purpose = col_dup(st, 1);
		r->channel = col_dup(st, 2);
		r->recipient = col_dup(st, 3);
		r->due_at = col_dup(st, 4);
		r->status = col_dup(st, 5);
		r->attempts = sqlite3_column_int(st, 6);
		r->last_error = col_dup(st, 7);
		r->sent_at = col_dup(st, 8);
		r->client_id = sqlite3_column_int64(st, 9);
		r->client_name = col_dup(st, 10);
	}
	store_done(s, st);
	if (rc != SQLITE_DONE) {
		store_outbox_rows_free(*out, *n);
		*out = NULL;
		*n = 0;
		return store_dberr(s, err, errlen, "reading the outbox");
	}
	return 0;
}

void
store_outbox_rows_free(struct outbox_row *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].purpose);
		free(r[i].channel);
		free(r[i].recipient);
		free(r[i].due_at);
		free(r[i].status);
		free(r[i].last_error);
		free(r[i].sent_at);
		free(r[i].client_name);
	}
	free(r);
}

/* Messages to clients (not digests or tests) due in [from, until). */
int
store_report(struct store *s, time_t from, time_t until,
    struct report_row **out, size_t *n, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*n = 0;
	if ((st = store_prep(s, "SELECT m.client_id, l.name,"
	    " sum(m.status = 'sent'), sum(m.status = 'failed'),"
	    " sum(m.status = 'cancelled'), sum(m.status = 'skipped'),"
	    " sum(m.status IN ('pending', 'sending'))"
	    " FROM messages m LEFT JOIN clients l ON l.id = m.client_id"
	    " WHERE m.due_at >= ?1 AND m.due_at < ?2"
	    " AND m.purpose NOT IN ('alert', 'test')"
	    " GROUP BY m.client_id ORDER BY l.name, m.client_id", err,
	    errlen)) == NULL)
		return -1;
	bind_time(st, 1, from);
	bind_time(st, 2, until);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct report_row *r;

		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		r = &(*out)[(*n)++];
		r->client_id = sqlite3_column_int64(st, 0);
		r->name = col_dup(st, 1);
		r->sent = (long)sqlite3_column_int64(st, 2);
		r->failed = (long)sqlite3_column_int64(st, 3);
		r->cancelled = (long)sqlite3_column_int64(st, 4);
		r->skipped = (long)sqlite3_column_int64(st, 5);
		r->waiting = (long)sqlite3_column_int64(st, 6);
	}
	store_done(s, st);
	if (rc != SQLITE_DONE) {
		store_report_free(*out, *n);
		*out = NULL;
		*n = 0;
		return store_dberr(s, err, errlen, "reading the outbox");
	}
	return 0;
}

void
store_report_free(struct report_row *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(r[i].name);
	free(r);
}
