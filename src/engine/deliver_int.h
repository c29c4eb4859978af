/*
 * deliver_int: what the pieces of one delivery pass share (deliver.c:
 * plan, claim, send; deliver_record.c: outcomes, fallback, pauses;
 * deliver_alert.c: the digest and test sends).  Private to them.
 */
#ifndef NUDGED_DELIVER_INT_H
#define NUDGED_DELIVER_INT_H

#include <stdio.h>
#include <time.h>

#include "base/ics.h"
#include "policy/compose.h"
#include "conf/conf.h"
#include "engine/deliver.h"
#include "transport/mail.h"
#include "transport/sms.h"
#include "store/store.h"
#include "transport/xfer.h"

#define DL_PAUSE_FIRST	300L		/* a refused channel rests 5 min, */
#define DL_PAUSE_MAX	(6L * 3600)	/* doubling each time, up to 6 h */

/*
 * deliver_claim.c: the rows read for the messages of one claim's
 * transaction, so that the next message of the same case (a couple's two,
 * claimed one after the other) reads them once: nothing can change them
 * before the commit (no other connection writes then, and a claim writes
 * only messages and problems).  Only rows read fine are kept.  on: set by
 * dl_claim_batch for its transaction; dl_reads_end() forgets them.
 */
struct dl_reads {
	int			 on;
	struct appt		 a;
	struct kase		 k;
	struct client		 cl[2];		/* the last two clients read */
	int			 has_a, has_k, has_cl[2], next_cl;
	long long		 starts_case;	/* 0: none kept */
	time_t			*starts;
	size_t			 nstarts;
};

struct dl {
	const struct conf	*c;
	struct store		*st;
	time_t			 now;
	int			 dry;
	FILE			*out;
	struct deliver_stats	*stats;
	struct mail_session	*ms;		/* opened at the first email */
	struct sms_session	*ss;		/* opened at the first SMS */
	time_t			 paused[CHAN_N];	/* refused in this pass: until */
	char			*paused_why[CHAN_N];	/* refused now or in a recent pass */
	time_t			 down[CHAN_N];	/* deliver_record.c: its server did not answer
						 * in this pass: the rest wait until then; 0 */
	char			*down_why[CHAN_N];
	int			 pause_count[CHAN_N];	/* refusals in a row, from state */
	time_t			 until;		/* upcoming: walk the outbox up to here */
	volatile sig_atomic_t		*stop;		/* service shutdown: claim nothing more */
	long long		 known;		/* preview: ids up to this are real rows */
	long long		 planned;	/* in the planner's gaps: its appointments up to
						 * this id are planned, only their rows are
						 * claimed; 0: the plan is written */
	double			 xfer_s;	/* deliver_run.c: the last exchange took; 0: none yet */
	double			 email_s;	/* the same, of email (dl_ahead) */
	double			 sms_s;		/* the same, of SMS (dl_loop_gap) */
	char			*inst;		/* state installation_id (calendar UIDs); NULL: none */
	int			 let_go;	/* deliver_run.c: an outcome left to recovery */
	int			 gate[CHAN_N];	/* deliver_run.c: paused, as the mail threads see it */
	int			 refused[CHAN_N];	/* deliver_run.c: CHANNEL outcomes not yet settled */
	int			 stalled;	/* deliver_run.c: the database refused a record just now */
	char			*unmarkable;	/* deliver_run.c: an upload mark failed (why): nothing more goes */
	struct ics_memo		 ics;		/* deliver_client.c: the last calendar entry */
	struct dl_reads		 reads;		/* deliver_claim.c: in a claim's transaction */
	long long		*held_shown;	/* upcoming: the held messages listed so far */
	size_t			 n_held_shown;
	double			 locked_s;	/* deliver_run.c: the cycles' transactions took */
	double			 t0;		/* the pass's start, monotonic (dl_clock) */
};

/* One claimed message with everything re-read for it, owned. */
struct dl_item {
	struct msg	 m;
	struct appt	 a;
	struct kase	 k;
	struct client	 cl;
	struct client	 partner;
	struct homework	 hw;
	int		 has_a, has_k, has_cl, has_partner, has_hw;
	struct composed	 w;
	char		*rcpt;		/* recipient now */
	char		*data;		/* email text or SMS text */
	char		*msgid;		/* email Message-ID */
	time_t		 when;		/* the moment it is judged at */
	time_t		 told;		/* a cancellation: the start its client was
					   told of (dl_compose); 0: a.starts_at */
	char		*bad;		/* dl_render failed: why; failed unsent */
	int		 uploaded;	/* its whole upload is recorded */
	int		 unmarked;	/* that record failed: not sent */
	int		 refused;	/* deliver_run.c: CHANNEL, not yet settled (dl->refused) */
	/* deliver_run.c: where its attempt stands */
	int		 state;		/* DL_CLAIMED, DL_DONE, DL_RECORDED */
	int		 unstarted;	/* the transport never began it */
	int		 unreachable;	/* its TEMPFAIL came before the server took
					 * anything of it (mail_req, sms_req) */
	size_t		 req;		/* its request in the batch's mail or sms array */
	double		 started;	/* its exchange began (monotonic) */
};

enum {
	DL_CLAIMED,		/* 'sending', handed to a transport */
	DL_DONE,		/* outcome known, not yet recorded */
	DL_RECORDED		/* recorded (or let go: see dl_row_moved) */
};

/*
 * Messages claimed in one transaction.  Two batches at most are claimed
 * at once (deliver_run.c: one sent while the one before is recorded), so
 * 2 * DL_BATCH is the most that can be in flight (handed to a server,
 * outcome not yet recorded), the most a crash can send twice: 32,
 * documented in nudged(8).
 */
#define DL_BATCH	16UL
/* An outcome waits at most this long for its record while others are sent. */
#define DL_FLUSH_MS	50

/* The upload hook's argument for one message outside the outbox loop (the digest). */
struct dl_one {
	struct store	*st;
	long long	 id;
};

void	 dl_item_free(struct dl_item *);

/* deliver.c: the next due row, inside the caller's open transaction. */
enum dl_claimed {
	DL_CLAIM_ERROR = -1,	/* err says why; the caller rolls back */
	DL_CLAIM_NONE = 0,	/* nothing due */
	DL_CLAIM_SEND,		/* claimed: send it */
	DL_CLAIM_SETTLED	/* settled without sending (skipped, held, ...) */
};
enum dl_claimed dl_claim_row(struct dl *, struct dl_item *, char *err, size_t);
/*
 * upcoming: list the held messages due at or before upto not listed yet
 * (d->held_shown), in due order, each with why it waits.  0 or -1.
 */
int	 dl_print_held(struct dl *, time_t upto, char *err, size_t);
/*
 * The bytes of a claimed message (x->data): no database, so outside the
 * claim's transaction.  0, or -1 with why when it can never go.
 */
int	 dl_render(struct dl *, struct dl_item *, char *why, size_t);
/*
 * deliver_run.c: claim, send and record in batches until nothing is due
 * (or stop).  0, or -1 with err on a database failure.
 */
int	 dl_run(struct dl *, volatile sig_atomic_t *stop, char *err, size_t);
/* deliver_claim.c: the monotonic clock in seconds; the pass's now moved on by its age. */
double	 dl_mono(void);
time_t	 dl_clock(const struct dl *);
/*
 * The same in parts, so that sending starts while the planner still
 * writes (deliver.c): open (NULL with err), then gap in each of the
 * planner's gaps (sends for about ms while the lock is free for ms, or
 * sleeps ms), then close: the rest, claiming only if claim, and the end;
 * it frees the loop.  0, or -1 with err.
 */
struct dl_loop;
struct dl_loop *dl_loop_open(struct dl *, char *err, size_t);
void	 dl_loop_gap(struct dl *, struct dl_loop *, double ms);
int	 dl_loop_close(struct dl *, struct dl_loop *, volatile sig_atomic_t *stop,
	    int claim, char *err, size_t);

/*
 * Record one attempt's outcome, inside a transaction: sent, retry,
 * failed (with the SMS fallback by email), or channel paused.  sr carries
 * the SMS extras (unsubscribed, retry_after, partial) or is NULL.
 */
int	 dl_record(struct dl *, struct dl_item *, enum xfer_result,
	    const char *ref, const char *why, const struct sms_req *sr,
	    char *err, size_t);
/* A message that can never go (before any try): failed, then fallback. */
int	 dl_fail(struct dl *, struct dl_item *, const char *why, char *err, size_t);
/*
 * A message of a channel paused in this pass: it waits for the pause's
 * end, or, when that would come less than late_limit before its
 * appointment, is given up now (then the fallback).  tried: 1 when the
 * refusal was its own attempt.  dl_pause_too_late says which.
 */
int	 dl_paused(struct dl *, struct dl_item *, const char *why, int tried,
	    char *err, size_t);
int	 dl_pause_too_late(const struct dl *, const struct dl_item *);
/*
 * A message of a channel whose server did not answer in this pass: it
 * waits for that retry's time without a try (no attempt counted), unless
 * that time is too late for it (a reminder's late_limit): then it is tried
 * now.  1 with x marked, 0 to go on with the claim, -1.
 */
int	 dl_down_wait(struct dl *, struct dl_item *, char *err, size_t);
/* Load and save the channels' pause state (kept across passes). */
int	 dl_pause_load(struct dl *, char *err, size_t);
/* deliver_reads.c: a claim's transaction ends, its rows are forgotten. */
void	 dl_reads_end(struct dl *);
/* store_get_* through the claim's reads (struct dl_reads); the same results. */
enum store_rc	 dl_get_appt(struct dl *, long long id, struct appt *, char *err,
	    size_t);
enum store_rc	 dl_get_case(struct dl *, long long id, struct kase *, char *err,
	    size_t);
enum store_rc	 dl_get_client(struct dl *, long long id, struct client *,
	    char *err, size_t);
/* store_case_sessions, through the claim's reads; caller frees *starts. */
int	 dl_case_starts(struct dl *, long long case_id, time_t **starts,
	    size_t *n);
/* deliver_client.c: the words, the email, the SMS text and sender (issue 9). */
void	 dl_compose(struct dl *, struct dl_item *);
/* 1 when x's words name the partner (asked when that row is unreadable). */
int	 dl_partner_needed(struct dl *, struct dl_item *);
/* The full email for x, or NULL with err (a permanent failure). */
char	*dl_email(struct dl *, struct dl_item *, char *err, size_t);
/* 1 with why when x no longer needs to go (a moot assessment follow-up). */
int	 dl_moot(struct dl *, struct dl_item *, char *why, size_t);
/* The SMS text to send (x->w.sms or, when UCS-2 anyway, sms_exact). */
const char *dl_sms_text(const struct dl_item *);
/* The SMS sender for x: sms.discreet_from for a discreet client, else NULL. */
const char *dl_sms_from(const struct dl *, const struct dl_item *);

/* The failure digest, after a pass.  -1: database error. */
int	 dl_alert(struct dl *, char *err, size_t);
/*
 * The send sequence (deliver_seq.c).  claim: row id pending -> sending and
 * commit the caller's open transaction (rolled back on failure).  record:
 * sent (res XFER_OK) or failed with why, in a new transaction committed
 * unless keep_open; retried while the database is busy.  0 or -1 with err.
 */
int	 dl_seq_claim(struct store *, long long id, const char *rcpt,
	    const char *ref, time_t now, char *err, size_t);
int	 dl_seq_record(struct store *, long long id, enum xfer_result,
	    const char *ref, const char *why, time_t now, int keep_open,
	    char *err, size_t);
/*
 * Mail practice.email (see deliver_alert.c): inside an open transaction,
 * which it commits; the outcome is recorded in a new one left open.
 * d->st may be NULL (nothing recorded).  0, or -1 on a database error.
 */
int	 dl_mail_practitioner(struct dl *, const char *subject, const char *text,
	    const char *what, enum xfer_result *res, char *err, size_t);
/* The weekly summary, when alerts.weekly says one is due (deliver_weekly.c). */
int	 dl_weekly(struct dl *, char *err, size_t);

#endif
