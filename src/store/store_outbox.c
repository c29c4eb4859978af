/*
 * store_outbox: the messages table as a queue: inserting planned rows,
 * the status transitions (see store.h for the state machine), what is due
 * next, recovery after a crash, bad rows and the failure digest; and the
 * *_free() functions and client_first_name() of store.h's structs.
 */
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

/* -------------------------------------------------------------- outbox */

static int
valid_status(enum msg_status v)
{
	return (unsigned)v < MSG_STATUS_N;
}

/*
 * Text that outlives the statement's step (the caller's message, the
 * buffers below): SQLite need not copy it.  A first pass inserts ~90,000
 * rows (issue 12).
 */
static void
bind_text_kept(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static void
bind_time_kept(sqlite3_stmt *st, int i, time_t t, char buf[TZ_UTC_LEN])
{
	if (t == 0) {
		sqlite3_bind_null(st, i);
		return;
	}
	tz_format_utc(t, buf);
	sqlite3_bind_text(st, i, buf, -1, SQLITE_STATIC);
}

int
store_insert_msg(struct store *s, const struct msg *m, long long *id, char *err,
    size_t errlen)
{
	char due[TZ_UTC_LEN], sent[TZ_UTC_LEN], start[TZ_UTC_LEN], next[TZ_UTC_LEN];
	sqlite3_stmt *st;
	int rc;

	*id = 0;
	if ((unsigned)m->purpose >= PURPOSE_N || m->recipient == NULL ||
	    m->due_at == 0 || !valid_status(m->status)) {
		errf(err, errlen, "%s: message without purpose, recipient,"
		    " due time or valid status", s->path);
		return -1;
	}
	/*
	 * ON CONFLICT DO NOTHING, not INSERT OR IGNORE: only the dedupe keys
	 * may swallow a row; a NOT NULL violation must stay an error.
	 *
	 * The id: SQLite's next rowid (NULL), unless that would be one
	 * claimed since the upload marks were last removed (no AUTOINCREMENT:
	 * a row in flight that another program deleted gives its id back),
	 * then the one above them all: the deleted row's late outcome, and
	 * its upload mark, name no other row.
	 */
	if ((st = store_prep(s, "INSERT INTO messages (id, purpose,"
	    " appointment_id, homework_id, client_id, channel, recipient, due_at,"
	    " status, attempts, last_error, provider_ref, sent_at, rule,"
	    " appt_start, occurrence, template, next_at, created_at, recovered,"
	    " detail) VALUES (CASE WHEN ?20 >= COALESCE((SELECT max(id) FROM"
	    " messages), 0) THEN ?20 + 1 END, ?1, ?2,"
	    " ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
	    SQL_NOW ", ?18, ?19) ON CONFLICT DO NOTHING", err, errlen)) == NULL)
		return -1;
	/* 0 when nothing was claimed yet: max(id) >= 0 always, so NULL */
	sqlite3_bind_int64(st, 20, s->id_floor > 0 ? s->id_floor : -1);
	bind_text_kept(st, 1, msg_purpose_name(m->purpose));
	bind_id(st, 2, m->appointment_id);
	bind_id(st, 3, m->homework_id);
	bind_id(st, 4, m->client_id);
	bind_text_kept(st, 5, chan_name(m->channel));
	bind_text_kept(st, 6, m->recipient);
	bind_time_kept(st, 7, m->due_at, due);
	bind_text_kept(st, 8, msg_status_name(m->status));
	sqlite3_bind_int(st, 9, m->attempts);
	bind_text_kept(st, 10, m->last_error);
	bind_text_kept(st, 11, m->provider_ref);
	bind_time_kept(st, 12, m->sent_at, sent);
	bind_text_kept(st, 13, m->rule);
	bind_time_kept(st, 14, m->appt_start, start);
	bind_text_kept(st, 15, m->occurrence);
	bind_text_kept(st, 16, m->template);
	bind_time_kept(st, 17, m->next_at, next);
	sqlite3_bind_int(st, 18, m->recovered);
	bind_text_kept(st, 19, m->detail);
	if ((rc = sqlite3_step(st)) == SQLITE_DONE && sqlite3_changes(s->db) == 1)
		*id = sqlite3_last_insert_rowid(s->db);
	else if (rc != SQLITE_DONE)
		store_dberr(s, err, errlen, "inserting a message");
	/* store_done clears the bindings before the buffers go */
	store_done(s, st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_change_msg(struct store *s, const struct msg_change *c, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;

	if (!valid_status(c->to) || !valid_status(c->from)) {
		errf(err, errlen, "%s: message %lld: bad status change %s -> %s",
		    s->path, c->id, msg_status_name(c->from),
		    msg_status_name(c->to));
		return -1;
	}
	/* No row changed is fine: another process may have moved it first. */
	if ((st = store_prep(s, "UPDATE messages SET status = ?1, last_error = ?2,"
	    " due_at = COALESCE(?5, due_at), updated_at = " SQL_NOW
	    " WHERE id = ?3 AND status = ?4", err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, msg_status_name(c->to));
	bind_text(st, 2, c->reason);
	bind_time(st, 5, c->due);
	sqlite3_bind_int64(st, 3, c->id);
	bind_text(st, 4, msg_status_name(c->from));
	return store_run(s, st, "changing a message", err, errlen);
}

/* Run an UPDATE of exactly one message row; anything else is an error. */
static int
store_update_one(struct store *s, sqlite3_stmt *st, long long id,
    const char *what, char *err, size_t errlen)
{
	int rc = -1;

	if (sqlite3_step(st) != SQLITE_DONE)
		store_dberr(s, err, errlen, what);
	else if (sqlite3_changes(s->db) != 1)
		errf(err, errlen, "%s: %s: message %lld is gone or not in a"
		    " state that allows it", s->path, what, id);
	else
		rc = 0;
	store_done(s, st);
	return rc;
}

int
store_mark_sending(struct store *s, long long id, const char *recipient,
    const char *provider_ref, time_t now, char *err, size_t errlen)
{
	return store_mark_sending_with(s, id, recipient, provider_ref, NULL,
	    now, err, errlen);
}

/* One UPDATE for both: a row rewritten twice costs twice (issue 12). */
int
store_mark_sending_with(struct store *s, long long id, const char *recipient,
    const char *provider_ref, const char *detail, time_t now, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE messages SET status = 'sending',"
	    " attempts = attempts + 1, recipient = COALESCE(?1, recipient),"
	    " provider_ref = COALESCE(?2, provider_ref), claimed_at = ?3,"
	    " detail = COALESCE(?5, detail),"
	    " uploaded = 0, updated_at = " SQL_NOW
	    " WHERE id = ?4 AND status = 'pending'",
	    err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, recipient);
	bind_text(st, 2, provider_ref);
	bind_time(st, 3, now);
	sqlite3_bind_int64(st, 4, id);
	bind_text(st, 5, detail);
	/* never lent to a new row, even if deleted (store_insert_msg) */
	if (id > s->id_floor)
		s->id_floor = id;
	return store_update_one(s, st, id, "claiming", err, errlen);
}

/*
 * Outside any transaction (its own, committed before this returns): the
 * last of the message is about to go to the server.  From here on a crash
 * leaves an uncertain attempt; before it, the server cannot have accepted
 * the message (no final dot, an incomplete body).
 *
 * The mark is precise per message but costs no fsync (issue 12).
 * synchronous is a setting of the connection that may be changed between
 * transactions (SQLite refuses it inside one), so this one commit runs
 * with synchronous=NORMAL and the connection is back to FULL before the
 * next transaction begins (store_begin checks).  In WAL mode a NORMAL
 * commit is in the WAL file when COMMIT returns, only not synced: SQLite's
 * documentation of PRAGMA synchronous says a WAL database stays
 * consistent with NORMAL, a transaction committed so "might roll back
 * following a power loss or system crash", and "transactions are durable
 * across application crashes regardless of the synchronous setting".  So
 * a kill -9 never loses the mark; a power cut can, until the next FULL
 * commit (the outcome's record) syncs the WAL file and the mark with it.
 * A mark lost that way makes the row look never uploaded: after the power
 * cut it goes back to pending uncounted and is sent again, one duplicate
 * of a message that was in flight, as a crash costs anyway.  It never
 * goes the dangerous way: a mark can be lost, never invented, so recovery
 * never counts as "may have arrived" (and, the second time, fails) a
 * message whose upload did not begin.
 */
int
store_mark_uploaded(struct store *s, long long id, volatile sig_atomic_t *stop,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int was = s->relaxed, r;

	/*
	 * Not cached: the pragma takes effect when it is prepared.  Already
	 * NORMAL (the send loop's relaxed cycles: deliver_run.c): no switch
	 * either way, the connection is left as it was found.
	 */
	if (!s->dry && !was && sqlite3_get_autocommit(s->db)) {
		if (store_exec(s, "PRAGMA synchronous=NORMAL", err, errlen) != 0)
			return -1;
		s->relaxed = 1;
	}
	if ((st = store_prep(s, "UPDATE messages SET uploaded = 1"
	    " WHERE id = ?1 AND status = 'sending'", err, errlen)) == NULL)
		r = -1;
	else {
		sqlite3_bind_int64(st, 1, id);
		/* A stop request cuts a wait for another writer short. */
		s->stop = stop;
		r = store_update_one(s, st, id, "marking the upload", err,
		    errlen);
		s->stop = NULL;
	}
	/* On failure store_begin() tries again before the next transaction. */
	if (!was && s->relaxed &&
	    store_exec(s, "PRAGMA synchronous=FULL", NULL, 0) == 0)
		s->relaxed = 0;
	return r;
}

/*
 * The message cannot have been accepted (stopped before its upload was
 * complete): the claim is undone, the attempt not counted.
 */
int
store_unclaim(struct store *s, long long id, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE messages SET status = 'pending',"
	    " attempts = max(attempts - 1, 0), claimed_at = NULL,"
	    " uploaded = 0, updated_at = " SQL_NOW
	    " WHERE id = ?1 AND status = 'sending' AND uploaded = 0",
	    err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return store_update_one(s, st, id, "undoing a claim", err, errlen);
}

int
store_mark_sent(struct store *s, long long id, const char *provider_ref,
    time_t now, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE messages SET status = 'sent',"
	    " sent_at = ?1, provider_ref = COALESCE(?2, provider_ref),"
	    " last_error = NULL, next_at = NULL, updated_at = " SQL_NOW
	    " WHERE id = ?3 AND status = 'sending'", err, errlen)) == NULL)
		return -1;
	bind_time(st, 1, now);
	bind_text(st, 2, provider_ref);
	sqlite3_bind_int64(st, 3, id);
	return store_update_one(s, st, id, "marking sent", err, errlen);
}

/* Back to pending after a transient failure (or a paused channel). */
int
store_mark_retry(struct store *s, long long id, time_t next_at, const char *why,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE messages SET status = 'pending',"
	    " next_at = ?1, last_error = ?2, claimed_at = NULL, updated_at = "
	    SQL_NOW " WHERE id = ?3 AND status IN ('pending', 'sending')",
	    err, errlen)) == NULL)
		return -1;
	bind_time(st, 1, next_at);
	bind_text(st, 2, why);
	sqlite3_bind_int64(st, 3, id);
	return store_update_one(s, st, id, "marking for retry", err, errlen);
}

/*
 * An attempt whose outcome is unknown (the whole message went up, no
 * verdict came back): back to pending, counted in recovered like a crash,
 * so that a message is resent after an uncertain attempt at most once.
 */
int
store_mark_uncertain(struct store *s, long long id, time_t next_at,
    const char *why, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE messages SET status = 'pending',"
	    " next_at = ?1, last_error = ?2, claimed_at = NULL,"
	    " recovered = recovered + 1, updated_at = "
	    SQL_NOW " WHERE id = ?3 AND status IN ('pending', 'sending')",
	    err, errlen)) == NULL)
		return -1;
	bind_time(st, 1, next_at);
	bind_text(st, 2, why);
	sqlite3_bind_int64(st, 3, id);
	return store_update_one(s, st, id, "marking as uncertain", err, errlen);
}

/*
 * Held by quiet hours: the due time itself moves (contract: "its due time
 * becomes the end of quiet hours, and the rules above apply to it").
 */
int
store_mark_hold(struct store *s, long long id, time_t due, const char *why,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE messages SET status = 'pending',"
	    " due_at = ?1, next_at = NULL, last_error = ?2, claimed_at = NULL,"
	    " updated_at = " SQL_NOW " WHERE id = ?3 AND status IN ('pending',"
	    " 'sending')", err, errlen)) == NULL)
		return -1;
	bind_time(st, 1, due);
	bind_text(st, 2, why);
	sqlite3_bind_int64(st, 3, id);
	return store_update_one(s, st, id, "holding", err, errlen);
}

/* failed, skipped or cancelled: only from pending or sending, never after sent. */
int
store_mark_final(struct store *s, long long id, enum msg_status status,
    const char *why, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if (status != MSG_FAILED && status != MSG_SKIPPED &&
	    status != MSG_CANCELLED) {
		errf(err, errlen, "%s: message %lld: %s is not a final status",
		    s->path, id, msg_status_name(status));
		return -1;
	}
	if ((st = store_prep(s, "UPDATE messages SET status = ?1, last_error = ?2,"
	    " next_at = NULL, claimed_at = NULL, updated_at = " SQL_NOW
	    " WHERE id = ?3 AND status IN ('pending', 'sending')",
	    err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, msg_status_name(status));
	bind_text(st, 2, why);
	sqlite3_bind_int64(st, 3, id);
	return store_update_one(s, st, id, "marking final", err, errlen);
}

/* A client that no longer exists has no consent to withdraw: not an error. */
int
store_sms_unsubscribe(struct store *s, long long client_id, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;
	time_t now = time(NULL);

	/* consent_log (issue 14): earlier outside changes first, then ours. */
	if (store_consent_sync(s, now, STORE_HOW_OUTSIDE, STORE_HOW_FIRST, NULL,
	    err, errlen) != 0)
		return -1;
	if ((st = store_prep(s, "UPDATE clients SET sms_consent = 0 WHERE id = ?1",
	    err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, client_id);
	if (store_run(s, st, "withdrawing SMS consent", err, errlen) != 0)
		return -1;
	return store_consent_sync(s, now, "provider reply: recipient unsubscribed"
	    " (texted STOP; Twilio 21610)", STORE_HOW_FIRST, NULL, err, errlen);
}

/*
 * A row with a channel we do not know must not wedge the queue: not due.
 * Nor is one held by an unreadable row (STORE_NOT_HELD).
 */
#define DUE_WHERE " WHERE status = 'pending' AND due_at <= ?1" \
	" AND (next_at IS NULL OR next_at <= ?1) AND channel IN ('email', 'sms')" \
	STORE_NOT_HELD

/*
 * A due row nudged cannot read (a purpose or status it does not know,
 * written by hand): noted as a problem (nudgectl problems, the digest) and
 * passed over, never sent, so it cannot wedge the queue.
 */
static enum store_rc
next_due_bad(struct store *s, long long id, time_t now, char *err,
    size_t errlen)
{
	struct bad_row b = { xstrdup("messages"), id,
	    xstrdup("unknown purpose or status: not sent") };
	enum store_rc r = store_note_bad(s, &b, now, err, errlen);

	bad_row_free(&b);
	return r;
}

enum store_rc
store_next_due(struct store *s, time_t now, struct msg *m, char *err,
    size_t errlen)
{
	return store_next_due_upto(s, now, 0, m, err, errlen);
}

enum store_rc
store_next_due_upto(struct store *s, time_t now, long long upto,
    struct msg *m, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	enum store_rc r = STORE_GONE;
	int rc;

	memset(m, 0, sizeof(*m));
	if ((st = store_prep(s, "SELECT " MSG_COLS " FROM messages" DUE_WHERE
	    " ORDER BY due_at, id", err, errlen)) == NULL)
		return STORE_ERR;
	bind_time(st, 1, now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (store_read_msg(st, m) == 0) {
			/*
			 * The first due row or none: passing over one not yet
			 * judged would send later ones before it, and an
			 * overdue reminder could go too late.
			 */
			r = upto == 0 || (m->appointment_id != 0 &&
			    m->appointment_id <= upto && m->homework_id == 0) ?
			    STORE_FOUND : STORE_GONE;
			if (r == STORE_GONE)
				msg_free(m);
			break;
		}
		if (next_due_bad(s, m->id, now, err, errlen) == STORE_ERR) {
			r = STORE_ERR;
			break;
		}
	}
	if (r == STORE_GONE && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = store_dberr(s, err, errlen, "reading due messages");
	if (r != STORE_FOUND)
		memset(m, 0, sizeof(*m));
	store_done(s, st);
	return r;
}

/*
 * The count sql gives of the pending messages due by now (?1), whether
 * or not a retry is already scheduled; what says what it counts in an
 * error.  -1 on error.
 */
static long
count_due(struct store *s, time_t now, const char *sql, const char *what,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	long n = -1;

	if ((st = store_prep(s, sql, err, errlen)) == NULL)
		return -1;
	bind_time(st, 1, now);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(st, 0);
	else
		store_dberr(s, err, errlen, what);
	store_done(s, st);
	return n;
}

#define COUNT_DUE "SELECT count(*) FROM messages WHERE status = 'pending'" \
	" AND due_at <= ?1 AND channel IN ('email', 'sms')"

/* What --once reports as 75. */
long
store_count_due(struct store *s, time_t now, char *err, size_t errlen)
{
	return count_due(s, now, COUNT_DUE STORE_NOT_HELD,
	    "counting due messages", err, errlen);
}

long
store_count_held(struct store *s, time_t now, char *err, size_t errlen)
{
	return count_due(s, now, COUNT_DUE " AND" STORE_HELD_BY,
	    "counting held messages", err, errlen);
}

/* On a database error 0 too: the caller's loop wakes on its own timer. */
time_t
store_next_wake(struct store *s)
{
	sqlite3_stmt *st;
	time_t t = 0;

	if ((st = store_prep(s, "SELECT min(COALESCE(next_at, due_at)) FROM messages"
	    " WHERE status = 'pending'" STORE_NOT_HELD, NULL, 0)) == NULL)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		t = col_time(st, 0);
	store_done(s, st);
	return t;
}

int
store_held_list(struct store *s, time_t until, struct msg **out, size_t *n,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	struct msg m;
	int rc;

	*out = NULL;
	*n = 0;
	if ((st = store_prep(s, "SELECT " MSG_COLS " FROM messages WHERE status"
	    " = 'pending' AND due_at <= ?1 AND" STORE_HELD_BY " ORDER BY due_at,"
	    " id", err, errlen)) == NULL)
		return -1;
	bind_time(st, 1, until);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		/* one nudged cannot read is a problem of its own (next_due_bad) */
		if (store_read_msg(st, &m) != 0)
			continue;
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = m;
	}
	store_done(s, st);
	if (rc == SQLITE_DONE)
		return 0;
	store_dberr(s, err, errlen, "reading held messages");
	for (size_t i = 0; i < *n; i++)
		msg_free(&(*out)[i]);
	free(*out);
	*out = NULL;
	*n = 0;
	return -1;
}

/*
 * nudged runs as one service per database (systemd starts one), so at
 * start-up every row in 'sending' belongs to a process that is gone:
 * there is no live sender to wait for, and all of them are recovered.
 * nudgectl send-test never leaves its row in 'sending' across a restart
 * of the daemon in practice; if it did, it too is treated as interrupted.
 *
 * A row whose upload was not complete (uploaded = 0: killed while
 * connecting, greeting, logging in, or with the body half sent) cannot
 * have been accepted: it goes back to 'pending' with its attempt
 * uncounted, and is no uncertain attempt.  Only a row whose whole message
 * had been handed over may have arrived.
 */
int
store_recover(struct store *s, time_t now, struct store_recovery *r,
    char *err, size_t errlen)
{
	/* Parenthesised: each element is one statement split over lines. */
	static const char *const sql[] = {
		("UPDATE messages SET status = 'pending', attempts ="
		    " max(attempts - 1, 0), claimed_at = NULL, updated_at = ?1"
		    " WHERE status = 'sending' AND uploaded = 0"),
		("UPDATE messages SET status = 'failed', recovered = recovered + 1,"
		    " last_error = 'interrupted while sending, after an earlier"
		    " uncertain attempt: not resending (it may have arrived)',"
		    " claimed_at = NULL, next_at = NULL, updated_at = ?1"
		    " WHERE status = 'sending' AND recovered >= 1"),
		("UPDATE messages SET status = 'pending', recovered = recovered + 1,"
		    " claimed_at = NULL, updated_at = ?1 WHERE status = 'sending'"),
	};
	int *count[] = { &r->unstarted, &r->failed, &r->resent };
	/* not connected: store_begin says so */
	int own = s->db == NULL || sqlite3_get_autocommit(s->db), marked;

	memset(r, 0, sizeof(*r));
	if (own && store_begin(s, err, errlen) == -1)
		return -1;
	/* The send loop's marks are in DATABASE-inflight (store_inflight.c). */
	if (store_inflight_apply(s, &marked, err, errlen) != 0)
		goto fail;
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		sqlite3_stmt *st;

		if ((st = store_prep(s, sql[i], err, errlen)) == NULL)
			goto fail;
		bind_time(st, 1, now);
		if (store_run(s, st, "recovering messages", err, errlen) == -1)
			goto fail;
		*count[i] = sqlite3_changes(s->db);
	}
	if (own && store_commit(s, err, errlen) == -1)
		goto fail;
	/*
	 * Its marks are in the database now (durable: a FULL commit).  Left
	 * behind, the file would only be read again: no harm, so a failure
	 * to remove it is not one of recovery.
	 */
	if (own)
		(void)store_inflight_clear(s, NULL, 0);
	return 0;
fail:
	if (own)
		store_rollback(s);
	memset(r, 0, sizeof(*r));
	return -1;
}

/*
 * The pending messages a newly noted bad row holds get the reason: a
 * practitioner reading the outbox (or upcoming) sees why one waits.  0/-1.
 */
static int
note_bad_why(struct store *s, const struct bad_row *b, char *err,
    size_t errlen)
{
	static const char *const tbl[][2] = {
		{ "appointments", "UPDATE messages SET last_error = ?1 WHERE"
		    " status = 'pending' AND appointment_id = ?2" },
		{ "clients", "UPDATE messages SET last_error = ?1 WHERE"
		    " status = 'pending' AND client_id = ?2" },
		{ "homework", "UPDATE messages SET last_error = ?1 WHERE"
		    " status = 'pending' AND homework_id = ?2" },
	};
	sqlite3_stmt *st;
	char why[128];

	for (size_t i = 0; i < sizeof(tbl) / sizeof(tbl[0]); i++) {
		if (strcmp(b->table, tbl[i][0]) != 0)
			continue;
		if ((st = store_prep(s, tbl[i][1], err, errlen)) == NULL)
			return -1;
		snprintf(why, sizeof(why), STORE_HELD_WHY, b->table, b->id);
		bind_text(st, 1, why);
		sqlite3_bind_int64(st, 2, b->id);
		return store_run(s, st, "noting why messages are held", err,
		    errlen);
	}
	return 0;
}

enum store_rc
store_note_bad(struct store *s, const struct bad_row *b, time_t now, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;
	enum store_rc rc;

	if ((st = store_prep(s, "INSERT INTO problems (tbl, row_id, what,"
	    " first_seen) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
	    err, errlen)) == NULL)
		return STORE_ERR;
	bind_text(st, 1, b->table);
	sqlite3_bind_int64(st, 2, b->id);
	bind_text(st, 3, b->what);
	bind_time(st, 4, now);
	if (sqlite3_step(st) == SQLITE_DONE)
		rc = sqlite3_changes(s->db) == 1 ? STORE_NEW : STORE_OK;
	else
		rc = store_dberr(s, err, errlen, "noting a bad row");
	store_done(s, st);
	if (rc == STORE_NEW && note_bad_why(s, b, err, errlen) != 0)
		return STORE_ERR;
	return rc;
}

/*
 * Failed messages and bad rows the practitioner has not yet heard of.
 * Alerts and test messages are not themselves reported.
 */
int
store_alert_items(struct store *s, struct msg **msgs, size_t *nmsgs,
    struct bad_row **bad, size_t *nbad, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	*msgs = NULL;
	*bad = NULL;
	*nmsgs = *nbad = 0;
	if ((st = store_prep(s, "SELECT " MSG_COLS " FROM messages WHERE status ="
	    " 'failed' AND alerted = 0 AND purpose NOT IN ('alert', 'test')"
	    " ORDER BY id", err, errlen)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*msgs = xrealloc(*msgs, (*nmsgs + 1) * sizeof(**msgs));
		if (store_read_msg(st, &(*msgs)[*nmsgs]) == 0)
			(*nmsgs)++;
	}
	store_done(s, st);
	if (rc != SQLITE_DONE)
		return store_dberr(s, err, errlen, "reading failed messages");
	if ((st = store_prep(s, "SELECT tbl, row_id, what FROM problems WHERE"
	    " alerted = 0 ORDER BY tbl, row_id", err, errlen)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct bad_row *b;

		*bad = xrealloc(*bad, (*nbad + 1) * sizeof(**bad));
		b = &(*bad)[(*nbad)++];
		b->table = col_dup(st, 0);
		b->id = sqlite3_column_int64(st, 1);
		b->what = col_dup(st, 2);
	}
	store_done(s, st);
	if (rc != SQLITE_DONE)
		return store_dberr(s, err, errlen, "reading bad rows");
	return 0;
}

/* Mark what store_alert_items() returned as reported (same transaction). */
int
store_alert_done(struct store *s, char *err, size_t errlen)
{
	static const char *const sql[] = {
		"UPDATE messages SET alerted = 1 WHERE status = 'failed' AND"
		    " alerted = 0 AND purpose NOT IN ('alert', 'test')",
		"UPDATE problems SET alerted = 1 WHERE alerted = 0",
	};

	for (size_t i = 0; i < 2; i++) {
		sqlite3_stmt *st;
		int rc;

		if ((st = store_prep(s, sql[i], err, errlen)) == NULL)
			return -1;
		rc = sqlite3_step(st);
		store_done(s, st);
		if (rc != SQLITE_DONE)
			return store_dberr(s, err, errlen, "marking alerts");
	}
	return 0;
}

