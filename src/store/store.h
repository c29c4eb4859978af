/*
 * store: the SQLite database: schema, migrations, reads and the outbox.
 *
 * The database is shared with booking tools and nudgectl, which may write
 * the contract's tables at any time.  So: WAL, a busy timeout, foreign keys
 * on, synchronous=FULL (a lost "sent" mark after a power cut would mean a
 * duplicate text to a client), prepared statements only, and every
 * read-then-write transaction begins IMMEDIATE (a deferred one fails at
 * once under WAL if another process committed in between).
 *
 * Schema versions live in PRAGMA user_version.  Version 0 with the
 * contract's tables already present (made by a booking tool) is adopted;
 * a database newer than this code is refused.
 *
 * Outbox states (messages.status):
 *
 *   pending --claim--> sending --accepted--> sent
 *      ^                  |----permanent----> failed
 *      |----transient-----|   (next_at set, attempts counted)
 *   pending/sending --> skipped | cancelled  (rules, or re-check at send time)
 *
 * A row is marked 'sending' in a committed transaction before it is handed
 * to a server, and 'sent' after.  store_recover() at start-up deals with
 * rows a crash left in 'sending': see there.
 *
 * Transactions are the caller's: store_begin()/store_commit() bracket the
 * write functions below.  Within store_dry_begin()/store_dry_end() (nudged
 * --dry-run, nudgectl upcoming) begin/commit become savepoints inside one
 * outer transaction that is rolled back at the end, so nothing is written.
 *
 * Ownership: every struct filled by a store_* function owns its strings;
 * free with the matching *_free().  Times are time_t UTC; 0 means NULL.
 */
#ifndef NUDGED_STORE_H
#define NUDGED_STORE_H

#include <signal.h>
#include <stddef.h>
#include <time.h>

#include "conf/conf.h"
#include "model/model.h"

struct sqlite3;
struct store;

#define STORE_SCHEMA_VERSION	7

/*
 * The store's outcomes, for the functions with more than "0 or -1" (each
 * says which of these it returns).  -1 is always the error, so a caller
 * that only tells success from failure may keep testing "< 0".
 */
enum store_rc {
	STORE_ERR = -1,		/* failed; err says why */
	STORE_OK = 0,		/* done */
	STORE_GONE = 0,		/* no such row, or none that matches */
	STORE_FOUND = 1,	/* the row is there (read into the record) */
	STORE_HELD = 1,		/* not done, nothing changed: another process
				 * holds what it needs; try again later */
	STORE_REFUSED = 1,	/* not done: a rule says no (why says which) */
	STORE_NEW = 1,		/* store_note_bad: a problem not known before */
	STORE_UNREADABLE = 2	/* store_get_*: the row is there but cannot be
				 * read (err says why) */
};





/* Open (creating and migrating as needed).  NULL with err on failure. */
struct store	*store_open(const char *path, char *err, size_t errlen);
void		 store_close(struct store *);
/* A private in-memory copy of the database, for previews.  NULL with err. */
struct store	*store_open_copy(const char *path, char *err, size_t errlen);
/*
 * Become the one delivering process for this database (an flock on the
 * database file itself, whatever path, symlink or hard link named it,
 * until store_close).  STORE_OK, STORE_HELD when another holds it (err
 * says which pid), STORE_ERR.
 */
enum store_rc	 store_lock(struct store *, char *err, size_t errlen);
struct sqlite3	*store_db(struct store *);	/* for the unit tests' own statements */

int	 store_begin(struct store *, char *err, size_t);	/* BEGIN IMMEDIATE */
int	 store_commit(struct store *, char *err, size_t);
/* store_begin() that gives up (-1) as soon as *stop becomes non-zero. */
int	 store_begin_or_stop(struct store *, volatile sig_atomic_t *stop, char *err, size_t);
/*
 * Issue 12: store_begin_or_stop() for a transaction whose commit need not
 * wait for the disk (synchronous=NORMAL): a power cut may undo it, but
 * WAL keeps the order, so never without undoing every later one too.  For
 * work that is done again when lost (a pass's chunks, before the
 * transaction that remembers the pass).  The next store_begin() is
 * durable again.
 */
int	 store_begin_relaxed(struct store *, volatile sig_atomic_t *stop,
	    char *err, size_t);
/*
 * Every commit so far made durable (as a synchronous=FULL commit is),
 * without holding any lock: may run while another thread uses the
 * connection (the send loop's relaxed cycles).  0, or -1 with err.
 */
int	 store_sync(struct store *, char *err, size_t);
void	 store_rollback(struct store *);
int	 store_dry_begin(struct store *, char *err, size_t);
void	 store_dry_end(struct store *);

/*
 * Read what planning needs (see struct snapshot). 0 or -1.  It also
 * forgets noted problems (store_note_bad) whose rows now read fine, so a
 * row that breaks again is reported again: call it inside the pass's
 * transaction.
 */
int	 store_snapshot(struct store *, time_t since, struct snapshot *,
	    char *err, size_t);

/*
 * Issue 12 (store_window.c): a pass reads the appointments it needs, not
 * the table.  store_pass_ids: sorted, unique ids of the appointments
 * starting inside any of ranges (inclusive), plus those the change log
 * names (changed appointments; inside [win_lo, win_hi] those of changed
 * clients and cases), those with pending rows due by due_by, and those
 * whose start SQLite cannot read.  Bare local times compare as UTC, so
 * every bound is widened by tz_slack seconds.  *ids: caller frees.
 * store_snapshot_ids: the snapshot of those appointments (homework: also
 * the active homework and its cases' sessions, and pending prompts of
 * stopped homework).  store_dirty_check: 1 when the change log's triggers
 * were missing (restored: plan the whole window), 0, -1.
 * store_dirty_take: in the pass's first transaction, move the change log
 * (plan_dirty) to the pass's own list (plan_taken, which store_pass_ids
 * and store_dirty_any read) and keep p's window [win_lo, win_hi], inside
 * which the triggers log an appointment that is inserted or updated from
 * now on; store_dirty_done, in the pass's last transaction, forgets the
 * taken list once all of it is planned.
 */
struct store_pass {
	const time_t	(*ranges)[2];
	size_t		 nranges;
	time_t		 win_lo, win_hi;
	time_t		 due_by;
	long		 tz_slack;
	int		 whole;		/* ranges are the window: no band */
};
int	 store_pass_ids(struct store *, const struct store_pass *,
	    long long **ids, size_t *n, char *err, size_t);
int	 store_snapshot_ids(struct store *, const long long *ids, size_t n,
	    int homework, struct snapshot *, char *err, size_t);
int	 store_dirty_check(struct store *, char *err, size_t);
/* 1 when the change log names a row of tbl ("a", "c", "k"), 0, -1. */
int	 store_dirty_any(struct store *, const char *tbl, char *err, size_t);
int	 store_dirty_take(struct store *, const struct store_pass *,
	    char *err, size_t);
int	 store_dirty_done(struct store *, char *err, size_t);
/* Hand SQLite's page cache back to the allocator (between passes). */
void	 store_release_memory(struct store *);

/*
 * Inside a transaction: insert new rows (INSERT OR IGNORE on the dedupe
 * keys, so planning twice is harmless) and apply changes.  0 or -1.
 */
int	 store_insert_msg(struct store *, const struct msg *, long long *id,
	    char *err, size_t);
int	 store_change_msg(struct store *, const struct msg_change *,
	    char *err, size_t);

/*
 * Inside a transaction: the next pending message due at or before now
 * (and whose next_at has come), oldest first, not held by an unreadable
 * appointment, client or homework row (a problem noted: store_int.h,
 * STORE_NOT_HELD).  STORE_FOUND, STORE_GONE (none), STORE_ERR.  A row it
 * cannot read is noted (store_note_bad) and passed over.
 */
enum store_rc	 store_next_due(struct store *, time_t now, struct msg *, char *err,
	    size_t);
/*
 * The same, but STORE_GONE when the first due row is not one of an
 * appointment up to id upto (a homework prompt, a test or an alert, or a
 * later appointment's); 0: any row.  A pass sending in its planner's gaps
 * claims only what its plan has judged, and never before a row due
 * earlier (deliver_run.c).
 */
enum store_rc	 store_next_due_upto(struct store *, time_t now, long long upto,
	    struct msg *, char *err, size_t);
/* How many rows store_next_due() would still find. -1 on error. */
long	 store_count_due(struct store *, time_t now, char *err, size_t);
/* Pending messages due by now that an unreadable row holds; -1 on error. */
long	 store_count_held(struct store *, time_t now, char *err, size_t);
/*
 * The pending messages due at or before until that an unreadable row
 * holds (STORE_NOT_HELD), oldest first, last_error saying which row
 * (STORE_HELD_WHY); caller frees each.  0 or -1.
 */
int	 store_held_list(struct store *, time_t until, struct msg **, size_t *,
	    char *err, size_t);
/* Earliest due_at/next_at among pending rows not held; 0 when none (or on error). */
time_t	 store_next_wake(struct store *);

/*
 * Fresh reads for the re-check at send time: STORE_FOUND, STORE_GONE,
 * STORE_UNREADABLE, STORE_ERR.
 */
enum store_rc store_get_appt(struct store *, long long id, struct appt *,
	    char *err, size_t);
enum store_rc store_get_client(struct store *, long long id, struct client *,
	    char *err, size_t);
enum store_rc store_get_case(struct store *, long long id, struct kase *,
	    char *err, size_t);
enum store_rc store_get_homework(struct store *, long long id,
	    struct homework *, char *err, size_t);
enum store_rc store_get_msg(struct store *, long long id, struct msg *,
	    char *err, size_t);

/*
 * Outbox transitions, inside a transaction. 0, or -1 when the row is gone
 * or not in a state the transition allows:
 *   mark_sending  pending -> sending (attempts + 1; recipient and
 *                 provider_ref replaced when not NULL)
 *   mark_sent     sending -> sent (provider_ref replaced when not NULL)
 *   mark_retry    pending|sending -> pending, next attempt at next_at
 *   mark_final    pending|sending -> failed|skipped|cancelled
 */
int	 store_mark_sending(struct store *, long long id, const char *recipient,
	    const char *provider_ref, time_t now, char *err, size_t);
/* The same, with the details it goes out with (store_msg_set_detail; NULL: kept). */
int	 store_mark_sending_with(struct store *, long long id,
	    const char *recipient, const char *provider_ref, const char *detail,
	    time_t now, char *err, size_t);
int	 store_mark_sent(struct store *, long long id, const char *provider_ref,
	    time_t now, char *err, size_t);
/*
 * Outside a transaction (committed at once): the last of a 'sending'
 * message is about to go to the server (from then on it may arrive).
 * 0 or -1 (then do not send it).
 */
int	 store_mark_uploaded(struct store *, long long id, volatile sig_atomic_t *stop,
	    char *err, size_t);
/* sending -> pending, attempt uncounted: it cannot have arrived (a stop). */
int	 store_unclaim(struct store *, long long id, char *err, size_t);
int	 store_mark_retry(struct store *, long long id, time_t next_at,
	    const char *why, char *err, size_t);
/* Quiet hours: pending with due_at moved to due. */
int	 store_mark_hold(struct store *, long long id, time_t due, const char *why,
	    char *err, size_t);
/* Unknown outcome: pending again, recovered + 1 (see store_recover). */
int	 store_mark_uncertain(struct store *, long long id, time_t next_at,
	    const char *why, char *err, size_t);
int	 store_mark_final(struct store *, long long id, enum msg_status,
	    const char *why, char *err, size_t);
/* Withdraw SMS consent (Twilio 21610); a client that is gone is no error. */
int	 store_sms_unsubscribe(struct store *, long long client_id, char *err, size_t);

/*
 * Start-up after a crash (in its own transaction unless one is open):
 * rows left in 'sending' by a process that is gone.  One whose upload was
 * not complete goes back to 'pending', its attempt uncounted (unstarted).
 * One whose whole message went up goes back to 'pending' once (recovered = 1;
 * email keeps its Message-ID, so a receiving server can tell a duplicate:
 * resent); found in 'sending' after an uncertain attempt already, it is
 * 'failed' (it may have arrived: failed).  0 or -1.
 */
struct store_recovery {
	int	 unstarted;
	int	 resent;
	int	 failed;
};
int	 store_recover(struct store *, time_t now, struct store_recovery *,
	    char *err, size_t);

/*
 * The send loop's upload marks (store_inflight.c), outside the database:
 * open DATABASE-inflight before the first mark (a memory copy has none);
 * mark: one record for the row and its attempt (attempts as the claim
 * left it), from any thread, without the connection; clear: the pass
 * recorded every outcome, the file goes.  store_recover() reads what a
 * crash left.  0, or -1 with err.
 */
int	 store_inflight_open(struct store *, char *err, size_t);
int	 store_inflight_mark(struct store *, long long id, int attempt,
	    char *err, size_t);
int	 store_inflight_clear(struct store *, char *err, size_t);
void	 store_inflight_close(struct store *);

/*
 * Remember a bad row: STORE_NEW (report it), STORE_OK when already
 * known, STORE_ERR.  Bad rows that become readable are forgotten.  A new
 * appointment, client or homework row also gives the pending messages it
 * holds (STORE_NOT_HELD) their last_error, STORE_HELD_WHY: the same
 * reason whether the plan step or the send loop met the row first.
 */
#define STORE_HELD_WHY	"held: %s row %lld cannot be read"
enum store_rc	 store_note_bad(struct store *, const struct bad_row *, time_t now,
	    char *err, size_t);

/* Start times of a case's booked appointments, ascending; caller frees. 0 or -1. */
int	 store_case_sessions(struct store *, long long case_id, time_t **starts,
	    size_t *n);

/*
 * Change notices (store_notice.c).  set_detail: the appointment details a
 * message goes out with (plan_detail).  told_start: the start time of the
 * last reminder or notice a client was sent for the appointment as it was
 * before (another start, or other details); 0 when none.  0 or -1.
 */
int	 store_msg_set_detail(struct store *, long long id, const char *detail,
	    char *err, size_t);
int	 store_told_start(struct store *, long long appt_id, long long client_id,
	    time_t start, const char *detail, time_t *told, char *err, size_t);
/*
 * The start time the client was last told of, whatever it was: that of
 * the last reminder or move notice sent to them for the appointment (or
 * that may have reached them: an uncertain attempt), on any channel; 0
 * when none.  What a cancellation notice names.  0 or -1.
 */
int	 store_last_told(struct store *, long long appt_id, long long client_id,
	    time_t *told, char *err, size_t);

/*
 * The service runs each pass in a child process (daemon.c), and an SQLite
 * connection must not cross a fork: store_disconnect() closes the
 * connection and keeps the rest (the path, the deliverer's lock);
 * store_reconnect() opens it again (0, or -1 with err: still
 * disconnected, and every query fails cleanly with "not connected").
 */
void	 store_disconnect(struct store *);
int	 store_reconnect(struct store *, char *err, size_t);
/* 1 when another program's change is logged and not yet planned, 0, -1. */
int	 store_dirty_pending(struct store *, char *err, size_t);

/* PRAGMA data_version: changes when another connection commits. -1 on error. */
long long store_data_version(struct store *);
/* Rows this connection has changed since it opened (to tell a write from none). */
long long store_changes(struct store *);

/*
 * The failure digest: failed messages (not alerts or tests) and bad rows
 * not yet reported, and marking them reported.  Inside a transaction.
 */
int	 store_alert_items(struct store *, struct msg **, size_t *,
	    struct bad_row **, size_t *, char *err, size_t);
int	 store_alert_done(struct store *, char *err, size_t);

/*
 * Small key/value state (last alert time, channel pauses).  get:
 * STORE_FOUND with *value (caller frees), STORE_GONE when unset,
 * STORE_ERR.  set: NULL deletes.
 */
enum store_rc store_state_get(struct store *, const char *key, char **value);
int	 store_state_set(struct store *, const char *key, const char *value,
	    char *err, size_t);

/*
 * store_perm.c: the files' modes (the database, -wal and -shm 0660, the
 * folder setgid 2770; see there).  store_perm_create: make a missing
 * database file 0660 (0 or -1 with err).  store_perm_repair: put back
 * 0660 and the folder's group on the files this user owns; returns how
 * many were changed, described in msg, for a warning.  store_perm_explain:
 * 1 with msg naming the file and the problem when this user lacks a
 * permission it needs, else 0.  store_perm_mkdir: create the database's
 * missing folder (2770, in group `group`; owned by the user of that name
 * when root): STORE_NEW created (msg says so), STORE_OK it exists,
 * STORE_ERR msg says why not.
 */
int	 store_perm_create(const char *path, char *err, size_t errlen);
int	 store_perm_repair(const char *path, char *msg, size_t msglen);
int	 store_perm_explain(const char *path, char *msg, size_t msglen);
enum store_rc store_perm_mkdir(const char *path, const char *group, char *msg,
	    size_t msglen);
/* Root's nudgectl init: the new files to the service's user (0, -1 msg). */
int	 store_perm_give(const char *path, const char *user, char *msg,
	    size_t msglen);
/*
 * store_status.c, for nudgectl status and problems.  Times 0: none.
 */
struct store_status {
	long		 waiting;		/* pending or sending */
	long		 held;			/* pending, held by an unreadable row */
	long		 waiting_chan[CHAN_N];	/* pending, per channel */
	long		 held_chan[CHAN_N];	/* of those, held by an unreadable row */
	time_t		 next_try[CHAN_N];	/* earliest due/next try, per channel,
						   of those not held; 0: none */
	long long	 next_id;		/* the next pending message not held; 0: none */
	enum chan	 next_chan;
	time_t		 next_at;
	long		 sent_since, failed_since;	/* since the time given */
	long		 failed_unreported;	/* failed, not yet in a digest */
	long		 bad_rows, bad_unreported;	/* unreadable rows now */
};
struct store_problem {
	char		*table;
	long long	 id;
	char		*what;
	time_t		 first_seen;
	int		 reported;		/* named in a digest already */
};
int	 store_status_read(struct store *, time_t since, struct store_status *,
	    char *err, size_t);
int	 store_problems(struct store *, struct store_problem **, size_t *,
	    char *err, size_t);
void	 store_problems_free(struct store_problem *, size_t);
/* Is a nudged delivering from the database (its lock held)?  STORE_HELD
 * yes, with *pid when known (else 0), STORE_OK no, STORE_ERR cannot tell. */
enum store_rc store_lock_holder(const char *path, long *pid);
/* The highest message id (0: none or an error): previews tell real rows. */
long long store_last_msg_id(struct store *);

/*
 * store_list.c, for nudgectl outbox and report.  Rows own their strings
 * (times as stored, text); free with the matching *_free().
 */
struct outbox_filter {
	const char	*status;	/* NULL: any */
	long long	 client_id;	/* 0: any */
	time_t		 since, until;	/* due_at in [since, until); 0: open */
	long		 limit;		/* 0: all */
};
struct outbox_row {
	long long	 id, client_id;
	char		*purpose, *channel, *recipient, *due_at, *status;
	char		*last_error, *sent_at, *client_name;
	int		 attempts;
};
struct report_row {
	long long	 client_id;	/* 0: none */
	char		*name;		/* NULL: client gone or none */
	long		 sent, failed, cancelled, skipped, waiting;
};
int	 store_outbox_list(struct store *, const struct outbox_filter *,
	    struct outbox_row **, size_t *, char *err, size_t);
void	 store_outbox_rows_free(struct outbox_row *, size_t);
int	 store_report(struct store *, time_t from, time_t until,
	    struct report_row **, size_t *, char *err, size_t);
void	 store_report_free(struct report_row *, size_t);

/*
 * store_ctl.c, behind nudgectl's warnings and undo commands (inside the
 * caller's transaction; see there).  store_overlap and store_case_clash:
 * STORE_FOUND (hit filled), STORE_GONE, STORE_ERR.
 */
struct appt_hit {
	long long	 id, case_id;
	time_t		 starts_at;
	char		 label[128];
};
int	 store_client_lookalike(struct store *, const char *name,
	    const char *email, long long skip, long long *same_name,
	    long long *same_email, char *err, size_t);
enum store_rc store_overlap(struct store *, long long not_case, long long skip,
	    time_t start, long dur_min, struct appt_hit *, char *err, size_t);
int	 store_case_future(struct store *, long long case_id, time_t now,
	    int cancel, long *n, time_t *first, char *err, size_t);
int	 store_case_reopen(struct store *, long long case_id, char *err,
	    size_t);
/* STORE_OK, STORE_REFUSED (why says why: see store_ctl.c), STORE_ERR. */
enum store_rc store_client_delete(struct store *, long long id, char *why,
	    size_t whylen, char *err, size_t);

/*
 * store_people.c and store_diary.c: nudgectl's reads and writes of the
 * contract's tables, rows as stored (model.h's *_row).  Writes go inside
 * the caller's transaction.  A read of one row by id (store_*_row,
 * store_case_member) returns STORE_FOUND, STORE_GONE or STORE_ERR; the
 * others 0 or -1 with err.  Lists are by id, or by start
 * for appointments; the caller frees them with *_rows_free().
 */
enum store_rc store_client_row(struct store *, long long id, struct client_row *,
	    char *err, size_t);
int	 store_client_rows(struct store *, struct client_row **, size_t *,
	    char *err, size_t);
/* c's id is ignored; the new one in *id. */
int	 store_client_add(struct store *, const struct client_row *,
	    long long *id, char *err, size_t);
/* Every column but opted_out_at, from c (by c->id). */
int	 store_client_update(struct store *, const struct client_row *,
	    char *err, size_t);
/* opted_out_at = at; 0 clears it (opted in again). */
int	 store_client_opt_out(struct store *, long long id, time_t at,
	    char *err, size_t);
/* The cases a client is a member of. */
int	 store_client_cases(struct store *, long long client_id,
	    struct case_row **, size_t *, char *err, size_t);
enum store_rc store_case_row(struct store *, long long id, struct case_row *,
	    char *err, size_t);
/* Every case, with its members' ids and names. */
int	 store_case_rows(struct store *, struct case_row **, size_t *,
	    char *err, size_t);
int	 store_case_add(struct store *, const char *label,
	    const long long *clients, size_t n, long long *id, char *err,
	    size_t);
int	 store_case_close(struct store *, long long id, time_t at, char *err,
	    size_t);
/* Is client_id a member of case_id: STORE_FOUND, STORE_GONE, STORE_ERR. */
enum store_rc store_case_member(struct store *, long long case_id,
	    long long client_id, char *err, size_t);

enum store_rc store_appt_row(struct store *, long long id, struct appt_row *,
	    char *err, size_t);
/* Appointments of case_id (0: every case), by start time. */
int	 store_appt_rows(struct store *, long long case_id, struct appt_row **,
	    size_t *, char *err, size_t);
/*
 * A booked appointment of case_id other than skip that overlaps
 * [start, start + dur minutes): STORE_FOUND with hit, STORE_GONE none,
 * STORE_ERR.  store_overlap: the same for other cases.
 */
enum store_rc store_case_clash(struct store *, long long case_id, long long skip,
	    time_t start, long dur_min, struct appt_hit *, char *err, size_t);
/* Book a (its status 'booked'; a->id ignored); the new id in *id. */
int	 store_appt_add(struct store *, const struct appt *a, long long *id,
	    char *err, size_t);
int	 store_appt_cancel(struct store *, long long id, char *err, size_t);
int	 store_appt_move(struct store *, long long id, time_t start, char *err,
	    size_t);
/* nudgectl edit: what to change (NULL and 0: unchanged). */
struct appt_change {
	int		 set_mode;	/* mode given */
	enum appt_mode	 mode;		/* other than online: the link goes too */
	const char	*video_url;
	long		 duration_min;
	long long	 for_client;
	int		 everyone;	/* for_client back to NULL */
};
int	 store_appt_change(struct store *, long long id,
	    const struct appt_change *, char *err, size_t);

enum store_rc store_homework_row(struct store *, long long id, struct homework_row *,
	    char *err, size_t);
/* Homework of case_id (0: every case). */
int	 store_homework_rows(struct store *, long long case_id,
	    struct homework_row **, size_t *, char *err, size_t);
/* h's case, title, prompt, dates, every_days and at (-1: none). */
int	 store_homework_add(struct store *, const struct homework *h,
	    long long *id, char *err, size_t);
int	 store_homework_stop(struct store *, long long id, char *err, size_t);

/* The schema version (PRAGMA user_version): 0, or -1 with err. */
int	 store_user_version(struct store *, long *v, char *err, size_t);

/* The connection's last error, a permission problem explained. */
const char *store_errmsg(struct store *, char *buf, size_t len);


#endif
