/*
 * store_privacy: the SQL of data care (issue 14): the consent record,
 * subject access export, erasure, retention and the weekly summary's
 * counts.  Private to the store like store.h's functions; callers never
 * see SQLite.
 *
 * Consent record.  consent_log (client_id, what, old_value, new_value,
 * changed_at, how) gets a row for every change of email_consent,
 * sms_consent, opted_out (opted_out_at set or not) and discreet, values
 * 0/1 (old_value NULL: the first time nudged saw the client).  Changes are
 * found by comparing the clients table with consent_seen, nudged's copy of
 * the last values it recorded, so a change made by any program is caught:
 * nudgectl and the STOP handling call store_consent_sync() right after
 * their own change (with their own "how"), and every pass calls it to pick
 * up what booking tools wrote (how: "changed outside nudged").  A change
 * made by another program is stamped with the time nudged noticed it.
 */
#ifndef NUDGED_STORE_PRIVACY_H
#define NUDGED_STORE_PRIVACY_H

#include <stddef.h>
#include <time.h>

#include "store/store.h"

/* "how" for changes found by a pass: another program wrote the row. */
#define STORE_HOW_OUTSIDE	"changed outside nudged (seen by nudged)"
#define STORE_HOW_FIRST		"first seen by nudged"

/*
 * Inside a transaction: log every consent value that differs from
 * consent_seen (how_changed; how_new for a client seen for the first
 * time) and bring consent_seen up to date.  *logged (may be NULL) gets the
 * number of rows added.  0 or -1.
 */
int	 store_consent_sync(struct store *, time_t now, const char *how_changed,
	    const char *how_new, int *logged, char *err, size_t);
/*
 * The same for a batch (issue 12: a pass over a large imported diary
 * records its first look a transaction per batch): the clients from id
 * *from (INT64_MIN: the first) on, at most max of them; *from becomes the
 * next batch's first id, or INT64_MIN once the last batch is done (which
 * also forgets deleted clients).  Inside a transaction.  0 or -1.
 */
int	 store_consent_sync_some(struct store *, time_t now,
	    const char *how_changed, const char *how_new, long long *from,
	    int max, char *err, size_t);

/* One row handed to a store_rows() callback: column names and text values. */
struct store_row {
	const char		*section;
	int			 ncols;
	const char *const	*names;
	const char *const	*values;	/* NULL for SQL NULL */
	const int		*numeric;	/* 1: an INTEGER or REAL value */
};

typedef void (*store_row_fn)(void *arg, const struct store_row *);

/*
 * Subject access export: every row held about the client, section by
 * section ("client", "cases", "partners" (the other member's name only),
 * "appointments", "homework", "messages", "consent_log", "problems"),
 * inside one read transaction.  An appointment booked for the partner
 * alone (appointments.for_client, when that column exists) is left out.
 * STORE_FOUND done, STORE_GONE no such client, STORE_ERR.
 */
enum store_rc store_export(struct store *, long long client_id, store_row_fn, void *,
	    char *err, size_t);

/* The consent history of one client, oldest first ("consent_log" rows). */
int	 store_consent_history(struct store *, long long client_id, store_row_fn,
	    void *, char *err, size_t);

struct forget_stats {
	int	 cancelled;	/* pending messages cancelled */
	int	 scrubbed;	/* outbox rows stripped of contact details */
	int	 cases;		/* cases left (the client removed from them) */
	int	 replaced;	/* other values that quoted the client, replaced */
};

/*
 * Erasure, inside the caller's transaction: pending messages cancelled,
 * the client's outbox rows stripped of recipient, provider reference and
 * error text, the client removed from every case (a couple's case becomes
 * the partner's alone and is relabelled with the partner's name; a case
 * left with nobody is closed and labelled "case N"), the clients row
 * anonymised and opted out, and every text value of every other table
 * that contains one of the strings in scrub (name, address, phone as typed
 * and in E.164) replaced by "[forgotten]" (the whole value when it differs
 * only in letter case); a calendar feed's cached body that contains one
 * is dropped (the next fetch is a full one).  The clients table itself is
 * not searched: a partner may share an address.  STORE_OK done, STORE_HELD (nothing
 * done) while a message to this client is being sent ('sending'),
 * STORE_ERR.
 */
enum store_rc store_forget(struct store *, long long client_id, time_t now,
	    const char *const *scrub, size_t nscrub, struct forget_stats *,
	    char *err, size_t);

/*
 * After erasure, outside any transaction: VACUUM (no freed page keeps old
 * bytes) and a TRUNCATE checkpoint (the -wal file emptied).  STORE_OK
 * done, STORE_HELD vacuumed but another connection kept the checkpoint
 * from finishing, STORE_ERR.
 */
enum store_rc store_vacuum(struct store *, char *err, size_t);

struct retain_counts {
	long	 messages;	/* outbox rows reduced */
	long	 appointments;	/* appointments reduced (video_url removed) */
	long	 homework;	/* homework reduced (title and prompt removed) */
};

/*
 * Retention, inside a transaction: outbox rows settled before msg_cutoff
 * lose recipient (set to ''), provider_ref, last_error and, when their
 * appointment started before msg_cutoff too, detail (its video link); with
 * appt_cutoff != 0, appointments that started before it lose video_url
 * (their messages' detail too) and
 * homework that ended (or stopped) before it loses title and prompt (set
 * to '').  Rows already reduced are not counted again.  dry: count only.
 * 0 or -1.
 */
int	 store_retain(struct store *, time_t msg_cutoff, time_t appt_cutoff,
	    int dry, struct retain_counts *, char *err, size_t);


int	 store_week_stats(struct store *, time_t from, time_t to, time_t next_to,
	    struct week_stats *, char *err, size_t);

#endif
