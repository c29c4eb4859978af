/*
 * store_int.h: private to store*.c.  The connection, the column lists the
 * row readers expect, and the helpers the pieces of the store share.
 */
#ifndef NUDGED_STORE_INT_H
#define NUDGED_STORE_INT_H

#include <signal.h>
#include <sys/types.h>

#include <stddef.h>
#include <time.h>

#include <sqlite3.h>

#include "store/store.h"
#include "base/tz.h"
#include "base/util.h"

/*
 * Prepared statements live as long as the connection (store_prep): the
 * store runs a few dozen distinct SQL texts, and preparing them again on
 * every call was half of the instructions of a whole pass.
 */
#define STORE_NCACHE	64

struct store_stmt {
	const char	*sql;		/* the key: the caller's string literal */
	sqlite3_stmt	*st;
	int		 inuse;		/* handed out, store_done() not yet called */
};

struct store {
	sqlite3	*db;
	char	*path;
	int	 dry;		/* inside store_dry_begin(): begin/commit are savepoints */
	volatile sig_atomic_t *stop;	/* during store_begin_or_stop(): give up when set */
	struct store_stmt cache[STORE_NCACHE];
	size_t	 ncache;
	time_t	 now_at;	/* store_now_fn: now_text is this second's ("": none yet) */
	char	 now_text[TZ_UTC_LEN];
	int	 lockfd;	/* store_lock(): held until store_close(); -1: none */
	int	 relaxed;	/* synchronous=NORMAL for one commit (store_mark_uploaded) */
	int	 walfd;		/* store_sync(): the -wal file, opened at its first call; -1 */
	int	 inflightfd;	/* store_inflight_open(): DATABASE-inflight; -1 */
	long long id_floor;	/* the highest message id claimed since the
				 * last store_inflight_clear(): new rows go
				 * above it (store_insert_msg) */
};

/* store_inflight.c: in recovery's transaction, the marks a crash left. */
int	 store_inflight_apply(struct store *, int *applied, char *err, size_t);

#define MSG_COLS "id, purpose, appointment_id, homework_id, client_id, channel," \
	" recipient, due_at, status, attempts, last_error, provider_ref, sent_at," \
	" rule, appt_start, occurrence, template, next_at, recovered, detail"
#define CLIENT_COLS "id, name, first_name, email, phone, email_consent," \
	" sms_consent, discreet, opted_out_at IS NOT NULL"
#define APPT_COLS "id, case_id, starts_at, duration_min, kind, mode, video_url," \
	" status, for_client"
#define HW_COLS "id, case_id, title, prompt, starts_on, ends_on, every_days," \
	" at_time, active"
/*
 * The moment a row is written (created_at, updated_at): the wall clock,
 * by a function of our own (store_now_fn) that formats it once a second.
 * SQLite's strftime('now') was a sixth of each outbox UPDATE (issue 12).
 */
#define SQL_NOW "nudged_now()"

/*
 * A pending message whose appointment, client or homework row is noted
 * as unreadable (problems) and still exists is held; so is one whose
 * words name the partner whose client row it is (the send loop held it:
 * last_error is STORE_HELD_WHY for that row, the same text) while that
 * partner is still in the message's case.  Held: not due, not
 * counted as waiting (--once exits 0: "reported and skipped"), not a
 * reason to wake.  It is never cancelled for it: the plan step forgets
 * the problem once the row reads fine (store_snap.c), and the message is
 * due again at once; a row deleted meanwhile no longer holds it, and the
 * re-check at send time cancels it.  Used after a WHERE on messages.
 */
#define STORE_NOT_HELD " AND NOT" STORE_HELD_BY
/* The condition itself, true for a held message (nudgectl upcoming, status). */
#define STORE_HELD_BY " EXISTS (SELECT 1 FROM problems p WHERE" \
	" (p.tbl = 'appointments' AND p.row_id = messages.appointment_id" \
	" AND EXISTS (SELECT 1 FROM appointments x WHERE x.id = p.row_id))" \
	" OR (p.tbl = 'clients' AND p.row_id = messages.client_id" \
	" AND EXISTS (SELECT 1 FROM clients x WHERE x.id = p.row_id))" \
	" OR (p.tbl = 'homework' AND p.row_id = messages.homework_id" \
	" AND EXISTS (SELECT 1 FROM homework x WHERE x.id = p.row_id))" \
	" OR (p.tbl = 'clients' AND messages.last_error = 'held: clients row '" \
	" || p.row_id || ' cannot be read'" \
	" AND EXISTS (SELECT 1 FROM clients x WHERE x.id = p.row_id)" \
	" AND EXISTS (SELECT 1 FROM case_members cm WHERE cm.client_id =" \
	" p.row_id AND cm.case_id IN (SELECT case_id FROM appointments WHERE" \
	" id = messages.appointment_id UNION ALL SELECT case_id FROM homework" \
	" WHERE id = messages.homework_id))))"

/*
 * Issue 12 (store_window.c): the change log a pass reads instead of the
 * whole table.  Triggers, so that every writer's change is seen: a booking
 * tool's, nudgectl's, a calendar sync's.  An inserted or updated
 * appointment is logged when it starts inside the window the last pass
 * read (state plan.from .. plan.upto, julianday() numbers: beyond it the
 * coming passes read it anyway; before any pass, the first reads all),
 * when its start is unreadable, or when it has messages (moved or
 * cancelled after a reminder: the notices).  An added or updated client
 * (its consent, for consent_log too), an updated case,
 * or a case whose members change, is logged by id: its appointments in
 * the window are planned again (once a pass has been: plan.upto).  Deletions need nothing: the re-check at
 * send time cancels what a deleted row leaves.
 */
#define STORE_DIRTY_NTRIG	7
/* Before the first pass there is nothing to log: that pass reads it all. */
#define STORE_DIRTY_ON	"EXISTS (SELECT 1 FROM state WHERE key = 'plan.upto')"
#define STORE_DIRTY_APPT(when, what) \
	"CREATE TRIGGER IF NOT EXISTS plan_dirty_appt_" what " AFTER " when \
	" ON appointments WHEN julianday(NEW.starts_at) IS NULL OR" \
	" julianday(NEW.starts_at) BETWEEN (SELECT CAST(value AS REAL) FROM" \
	" state WHERE key = 'plan.from') AND (SELECT CAST(value AS REAL)" \
	" FROM state WHERE key = 'plan.upto') OR EXISTS (SELECT 1 FROM" \
	" messages WHERE appointment_id = NEW.id) BEGIN INSERT OR IGNORE" \
	" INTO plan_dirty VALUES ('a', NEW.id); END;"
#define STORE_DIRTY_SQL \
	"CREATE TABLE IF NOT EXISTS plan_dirty (tbl TEXT NOT NULL," \
	" row_id INTEGER NOT NULL, PRIMARY KEY (tbl, row_id)) WITHOUT ROWID;" \
	STORE_DIRTY_APPT("INSERT", "ins") \
	STORE_DIRTY_APPT("UPDATE", "upd") \
	"CREATE TRIGGER IF NOT EXISTS plan_dirty_client_ins AFTER INSERT ON" \
	" clients WHEN " STORE_DIRTY_ON " BEGIN INSERT OR IGNORE INTO plan_dirty" \
	" VALUES ('c', NEW.id); END;" \
	"CREATE TRIGGER IF NOT EXISTS plan_dirty_client_upd AFTER UPDATE ON" \
	" clients WHEN " STORE_DIRTY_ON " BEGIN INSERT OR IGNORE INTO plan_dirty VALUES" \
	" ('c', NEW.id); END;" \
	"CREATE TRIGGER IF NOT EXISTS plan_dirty_case_upd AFTER UPDATE ON" \
	" cases WHEN " STORE_DIRTY_ON " BEGIN INSERT OR IGNORE INTO plan_dirty VALUES" \
	" ('k', NEW.id); END;" \
	"CREATE TRIGGER IF NOT EXISTS plan_dirty_member_ins AFTER INSERT ON" \
	" case_members WHEN " STORE_DIRTY_ON " BEGIN INSERT OR IGNORE INTO plan_dirty VALUES" \
	" ('k', NEW.case_id); END;" \
	"CREATE TRIGGER IF NOT EXISTS plan_dirty_member_del AFTER DELETE ON" \
	" case_members WHEN " STORE_DIRTY_ON " BEGIN INSERT OR IGNORE INTO plan_dirty VALUES" \
	" ('k', OLD.case_id); END;"

#define CASE_SQL "SELECT label, closed_at IS NOT NULL FROM cases WHERE id = ?1"
#define MEMBERS_SQL "SELECT client_id FROM case_members WHERE case_id = ?1" \
	" ORDER BY client_id"

/* store.c: errors, statements, small helpers */
/* Who holds an flock on the file (dev, ino): pid, 0 nobody, -1 unknown. */
long		 store_flock_pid(dev_t, ino_t);
int		 store_dberr(struct store *, char *err, size_t errlen,
		    const char *what);
/*
 * sql: a string literal (or static table): the cache is keyed by its
 * address.  store_done() hands the statement back.
 */
sqlite3_stmt	*store_prep(struct store *, const char *sql, char *err,
		    size_t errlen);
void		 store_done(struct store *, sqlite3_stmt *);
int		 store_run(struct store *, sqlite3_stmt *, const char *what,
		    char *err, size_t errlen);
int		 store_exec(struct store *, const char *sql, char *err,
		    size_t errlen);
/* Step a read of one row: its enum store_rc (err set on STORE_ERR). */
int		 store_step_one(struct store *, sqlite3_stmt *, const char *what,
		    char *err, size_t errlen);
/* Room for row n of a growing array (its capacity in *cap), zeroed. */
void		*store_grow(void *, size_t n, size_t *cap, size_t size);
/* One row of a SELECT into a record: 0, or -1 with why (unreadable). */
typedef int	 store_fill_fn(sqlite3_stmt *, void *rec, char *why,
		    size_t whylen);
enum store_rc	 store_read_id(struct store *s, const char *sql, long long id,
		    store_fill_fn *fill, void *rec, const char *what, char *err,
		    size_t errlen);
void		*store_read_list(struct store *s, sqlite3_stmt *st, size_t size,
		    store_fill_fn *fill, size_t *n, int *rc, const char *what,
		    char *err, size_t errlen);

/* store_read.c: one row of a SELECT of the *_COLS above into a struct */
int		 store_read_client(sqlite3_stmt *, struct client *, char *why,
		    size_t whylen);
int		 store_read_appt(sqlite3_stmt *, struct appt *, char *why,
		    size_t whylen);
int		 store_read_homework(sqlite3_stmt *, struct homework *,
		    char *why, size_t whylen);
int		 store_read_msg(sqlite3_stmt *, struct msg *);
enum store_rc	 store_load_case(struct store *, sqlite3_stmt *cst,
		    sqlite3_stmt *mst, long long id, struct kase *, char *err,
		    size_t errlen);

static inline void
bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

static inline void
bind_id(sqlite3_stmt *st, int i, long long v)
{
	if (v == 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

static inline void
bind_time(sqlite3_stmt *st, int i, time_t t)
{
	char buf[TZ_UTC_LEN];

	if (t == 0) {
		sqlite3_bind_null(st, i);
		return;
	}
	tz_format_utc(t, buf);
	sqlite3_bind_text(st, i, buf, -1, SQLITE_TRANSIENT);
}

static inline const char *
col_str(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static inline char *
col_dup(sqlite3_stmt *st, int i)
{
	return xstrdup(col_str(st, i));
}

/* One of our own time columns; a value we did not write reads as 0. */
static inline time_t
col_time(sqlite3_stmt *st, int i)
{
	const char *v = col_str(st, i);
	time_t t;

	if (v == NULL || (tz_parse_utc(v, &t) == -1 && tz_parse_any(v, &t) == -1))
		return 0;
	return t;
}

#endif
