/*
 * deliver_run: the send loop with group commit (issue 12), pipelined.
 *
 * A cycle is one transaction: BEGIN IMMEDIATE; record the outcomes of the
 * batch sent before that are not yet recorded; claim the next batch (up
 * to DL_BATCH due rows, see dl_claim_row); COMMIT.  The claimed batch is
 * then rendered outside any transaction (dl_render: the .ics and MIME,
 * most of a message's CPU), and sent: its email over email.connections
 * SMTP connections in the mail session's threads, its SMS from here with
 * sms.concurrency requests in flight.  The next cycle, the batch's SMS
 * and the next batch's rendering run here while the mail threads carry
 * the batch's email (dl_turn), and the SMS move on between two renderings
 * (sms_batch_step), so the outbox's bookkeeping and the rendering overlap
 * the SMTP and HTTP round trips instead of adding to them.  Once
 * rendered, the next batch's email is handed to the connections behind
 * the batch's last exchanges, so a connection goes on from one batch to
 * the next without waiting for this thread.  The next cycle waits until
 * what is left of the batch would take less than DL_AHEAD_S at the pace
 * of the last email (dl_ahead): against a fast server it overlaps the
 * whole batch, behind a slow one only its last exchanges, so that the
 * next claim is still fresh when its batch starts (DL_FRESH_S).
 *
 * Only this thread uses the database connection: the mail threads'
 * hooks touch memory and the upload marks' file (store_inflight.c), no
 * more.  What they share with this thread (the items' states, the
 * batch's flags, the gate) is under the mail session's lock, taken for
 * a moment and never across a transaction (dl_hold), so no exchange
 * waits between a body and its final dot, or between two messages, for
 * the bookkeeping.  The cycle commits with synchronous=NORMAL and
 * store_sync() then makes it durable in a thread of its own (dl_sync),
 * so neither a mail thread nor the rendering waits for the disk; the
 * next turn waits for it before anything more goes up or is recorded.
 *
 * While a batch is being sent, an outcome is kept in memory; when one has
 * waited DL_FLUSH_MS, or an exchange took longer than that (a slow
 * server), and the transports are about to wait for their servers, what
 * is done is recorded in one transaction of its own (a slow answer never
 * holds the others' records back).  A record the database refuses then
 * (locked, full) is kept, nothing more of the batch is started, and it is
 * tried again at the next cycle;
 * if the cycle's transaction fails too, each outcome goes through dl_keep,
 * which retries with backoff, claiming nothing meanwhile, until it is
 * recorded or nudged is told to stop (issue 13: an outcome is never
 * forgotten).
 *
 * The pipeline can start before the plan is written (dl_loop_gap): the
 * planner leaves the lock free between two chunks about as long as it
 * held it, and turns run meanwhile against servers that answer quickly;
 * the free time grows by what their own transactions hold, so the lock
 * is free half the time as before, and a booking tool waits no longer.
 * A turn ends when its batch is sent, so behind a slow server the
 * planner would wait a batch each time: there the gaps are slept and the
 * plan comes first, as before.  The gaps claim only rows of
 * appointments the chunks before planned (d->planned): a later chunk may
 * still skip another's due rows (only the closest overdue reminder
 * goes), which the claim's re-check does not judge; and they stop at
 * the first due row that is not one of those (store_next_due_upto), so
 * nothing goes before a row due earlier that the plan has yet to judge:
 * an overdue reminder is never held back behind the catch-up's later
 * ones.
 *
 * The duplicate bound: a crash can resend only a row in 'sending' whose
 * attempt is marked (store_recover), that is a message handed whole to its
 * server whose outcome was not yet recorded.  Two batches at most are
 * claimed at once (the one being sent, and the one before it until its
 * outcomes are recorded, or the next one, claimed, then started behind
 * the last exchanges of the one being sent), so a
 * crash, or a power cut before store_sync() returns, costs at most
 * 2 * DL_BATCH duplicates, each sent twice, never three times (a second
 * uncertain interruption fails it).
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/deliver_int.h"
#include "base/log.h"
#include "base/util.h"

#define DL_KEEP_FIRST_MS	100	/* an unrecorded outcome: retry after */
#define DL_KEEP_MAX_MS		5000	/* doubling up to */
#define DL_KEEP_ONCE_S		120	/* --once gives up after (no stop flag) */
#define DL_FRESH_S		1.0	/* a claim's re-read is trusted this long */
#define DL_AHEAD_S		0.1	/* the next claim waits for less than this of cur */

struct dl_batch;

static void	 dl_hold(struct dl *, int);

/*
 * The hooks' argument: the batch and the transport's channel.  With email
 * under way in the mail session's threads (this batch's or the next
 * one's) while this thread sends SMS, the mark, go and done hooks run
 * under the mail session's lock: the mail session takes it for the
 * email's, the SMS side's take it here (dl_side_lock).  idle runs here
 * without it and takes it only around what it shares (dl_idle).
 */
struct dl_side {
	struct dl_batch	*b;
	enum chan	 chan;
};

struct dl_batch {
	struct dl	*d;
	struct dl_item	 x[DL_BATCH];
	size_t		 n;
	struct mail_req	 mr[DL_BATCH];	/* the email of the batch, in order */
	size_t		 em[DL_BATCH];	/* mr[k] is x[em[k]] */
	size_t		 nem;
	struct sms_req	 sr[DL_BATCH];	/* its SMS */
	size_t		 sm[DL_BATCH];
	size_t		 nsm;
	struct dl_side	 se, ss;		/* the hooks' arguments, email and SMS */
	struct xfer_mark me, ms;
	struct xfer_hooks he, hs;
	int		 started;	/* its email is on the mail session */
	double		 first_done;	/* oldest outcome not recorded; 0: none */
	double		 claimed;	/* its claim committed (monotonic) */
	long long	 dv;		/* data_version at its claim (dl_start) */
};

/* Sleep ms, in short naps that keep the watchdog fed and see a stop. */
static void
dl_nap(struct dl *d, long ms)
{
	struct timespec nap = { 0, 50L * 1000 * 1000 };

	for (long t = 0; t < ms; t += 50) {
		if (d->stop != NULL && *d->stop)
			return;
		nanosleep(&nap, NULL);
		xfer_tick();
	}
}

static void
dl_batch_free(struct dl_batch *b)
{
	dl_hold(b->d, 1);
	for (size_t i = 0; i < b->n; i++)
		if (b->x[i].refused)	/* never settled: holds no more */
			b->d->refused[b->x[i].m.channel]--;
	dl_hold(b->d, 0);
	for (size_t i = 0; i < b->n; i++)
		dl_item_free(&b->x[i]);
	b->n = b->nem = b->nsm = 0;
	b->first_done = 0;
	b->claimed = 0;
	b->started = 0;
}

/* What the transport said about item i. */
static void
dl_outcome(struct dl_batch *b, size_t i, enum xfer_result *res,
    const char **ref, const char **why, const struct sms_req **sr)
{
	struct dl_item *x = &b->x[i];

	if (x->bad != NULL) {
		*res = XFER_PERMFAIL;
		*ref = NULL;
		*why = x->bad;
		*sr = NULL;
	} else if (x->m.channel == CHAN_EMAIL) {
		*res = b->mr[x->req].res;
		*ref = x->msgid;
		*why = b->mr[x->req].err;
		*sr = NULL;
	} else {
		*res = b->sr[x->req].res;
		*ref = b->sr[x->req].ref;
		*why = b->sr[x->req].err;
		*sr = &b->sr[x->req];
	}
}

/*
 * What this thread shares with the mail threads: the items' states and
 * flags, the batch's first_done, the refusals, the timings, the gate and
 * stalled.  Never held across database work (the mail threads never touch
 * the database), so no exchange waits for a transaction.
 */
static void
dl_hold(struct dl *d, int on)
{
	if (d->ms == NULL)
		return;		/* no mail thread was ever started */
	if (on)
		mail_lock(d->ms);
	else
		mail_unlock(d->ms);
}

/* The pauses as dl_go sees them, after a record transaction (not held). */
static void
dl_gate(struct dl *d)
{
	dl_hold(d, 1);
	for (int ch = 0; ch < CHAN_N; ch++)
		d->gate[ch] = d->paused[ch] != 0;
	d->stalled = 0;		/* every outcome so far is recorded */
	dl_hold(d, 0);
}

/* The items whose outcome is known and not recorded.  Their count. */
static size_t
dl_done_list(struct dl_batch *b, size_t *idx)
{
	size_t n = 0;

	dl_hold(b->d, 1);
	for (size_t i = 0; i < b->n; i++)
		if (b->x[i].state == DL_DONE)
			idx[n++] = i;
	dl_hold(b->d, 0);
	return n;
}

/*
 * Items idx[0..n) are recorded: so marked, and the batch's oldest
 * unrecorded outcome is now one that came in meanwhile, if any.
 */
static void
dl_settled(struct dl_batch *b, const size_t *idx, size_t n)
{
	size_t i;

	dl_hold(b->d, 1);
	for (i = 0; i < n; i++) {
		struct dl_item *x = &b->x[idx[i]];

		x->state = DL_RECORDED;
		/* its pause, if recorded, is in the gate now (dl_gate first) */
		if (x->refused) {
			x->refused = 0;
			b->d->refused[x->m.channel]--;
		}
	}
	for (i = 0; i < b->n && b->x[i].state != DL_DONE; i++)
		;
	if (n > 0)
		b->first_done = i < b->n ? dl_mono() : 0;
	dl_hold(b->d, 0);
}

/*
 * Item i's outcome into the outbox, inside an open transaction: unclaim
 * (nothing went up), retry at the end of a pause its channel took during
 * the batch (never started), or dl_record.
 */
static int
dl_record_item(struct dl_batch *b, size_t i, char *err, size_t errlen)
{
	struct dl *d = b->d;
	struct dl_item *x = &b->x[i];
	const struct sms_req *sr;
	const char *ref, *why;
	enum xfer_result res;

	/* It could not be rendered: it never went, failed as before a try. */
	if (x->bad != NULL)
		return store_unclaim(d->st, x->m.id, err, errlen) != 0 ? -1 :
		    dl_fail(d, x, x->bad, err, errlen);
	dl_outcome(b, i, &res, &ref, &why, &sr);
	x->unreachable = res == XFER_TEMPFAIL && (x->m.channel == CHAN_EMAIL ?
	    b->mr[x->req].unreachable : b->sr[x->req].unreachable);
	if (x->unstarted && d->paused[x->m.channel] != 0)
		return store_unclaim(d->st, x->m.id, err, errlen) != 0 ? -1 :
		    dl_paused(d, x, d->paused_why[x->m.channel] ?
		    d->paused_why[x->m.channel] : "channel paused", 0, err,
		    errlen);
	/* Stopped before it all went up: undo the claim, count no attempt. */
	if (res == XFER_TEMPFAIL && !x->uploaded && !d->dry &&
	    (x->unmarked || x->unstarted || xfer_stopping()))
		return store_unclaim(d->st, x->m.id, err, errlen);
	return dl_record(d, x, res, ref, why, sr, err, errlen);
}

/*
 * What a record transaction changes in memory (counts, pauses, a server
 * found down, and their reasons): saved before it, put back when it does
 * not commit, so the next try starts clean.
 */
struct dl_undo {
	struct deliver_stats	 stats;
	time_t			 paused[CHAN_N];
	int			 count[CHAN_N];
	char			*why[CHAN_N];
	time_t			 down[CHAN_N];
	char			*down_why[CHAN_N];
};

static void
dl_undo_save(const struct dl *d, struct dl_undo *u)
{
	u->stats = *d->stats;
	memcpy(u->paused, d->paused, sizeof(u->paused));
	memcpy(u->count, d->pause_count, sizeof(u->count));
	memcpy(u->down, d->down, sizeof(u->down));
	for (int ch = 0; ch < CHAN_N; ch++) {
		u->why[ch] = d->paused_why[ch] ? xstrdup(d->paused_why[ch]) : NULL;
		u->down_why[ch] = d->down_why[ch] ? xstrdup(d->down_why[ch]) :
		    NULL;
	}
}

/* Put it back (u's strings move to d), or with apply = 0 only free u. */
static void
dl_undo_end(struct dl *d, struct dl_undo *u, int apply)
{
	if (apply) {
		*d->stats = u->stats;
		memcpy(d->paused, u->paused, sizeof(u->paused));
		memcpy(d->pause_count, u->count, sizeof(u->count));
		memcpy(d->down, u->down, sizeof(u->down));
	}
	for (int ch = 0; ch < CHAN_N; ch++) {
		if (apply) {
			free(d->paused_why[ch]);
			d->paused_why[ch] = u->why[ch];
			free(d->down_why[ch]);
			d->down_why[ch] = u->down_why[ch];
		} else {
			free(u->why[ch]);
			free(u->down_why[ch]);
		}
		u->why[ch] = NULL;
		u->down_why[ch] = NULL;
	}
}

/*
 * Record items idx[0..n) in one transaction.  The in-memory side effects
 * of a try that did not commit (counts, pauses) are undone so the next
 * try starts clean.  0 or -1.
 */
static int
dl_record_tx(struct dl_batch *b, const size_t *idx, size_t n, int nowait,
    char *err, size_t errlen)
{
	/* Set for good: store_begin_or_stop() then tries once, no waiting. */
	static volatile sig_atomic_t dl_no_wait = 1;
	struct dl *d = b->d;
	struct dl_undo u;
	size_t k;

	if (store_begin_or_stop(d->st, nowait ? &dl_no_wait : d->stop, err,
	    errlen) != 0)
		return -1;
	dl_undo_save(d, &u);
	for (k = 0; k < n; k++)
		if (dl_record_item(b, idx[k], err, errlen) != 0)
			break;
	if (k == n && store_commit(d->st, err, errlen) == 0) {
		dl_undo_end(d, &u, 0);
		dl_gate(d);
		dl_settled(b, idx, n);
		return 0;
	}
	store_rollback(d->st);
	dl_undo_end(d, &u, 1);
	return -1;
}

/*
 * The row is no longer ours to record (deleted, or changed from 'sending'
 * by another program): retrying would never end.  1 when so (logged).
 */
static int
dl_row_moved(struct dl *d, struct dl_item *x, enum xfer_result res)
{
	struct msg m;
	char err[256];
	int r, moved;

	if ((r = store_get_msg(d->st, x->m.id, &m, err, sizeof(err))) < 0)
		return 0;		/* the database itself: keep trying */
	moved = r == 0 || m.status != MSG_SENDING;
	if (moved)
		log_warn("msg=%lld was %s by another program while in flight; "
		    "its outcome (%s) is not recorded", x->m.id, r == 0 ?
		    "deleted" : "changed", xfer_result_name(res));
	msg_free(&m);
	return moved;
}

/*
 * Keep item i's outcome until it is durably recorded (issue 13): a
 * database locked by another writer for longer than our wait, or a full
 * disk, must not leave the row 'sending' (resent after a restart: a
 * duplicate; not counted as reminded: no cancellation notice).  Retry with
 * backoff, claiming nothing meanwhile; a stop request gets one last try,
 * then the row is left to start-up recovery.  --once gives up after
 * DL_KEEP_ONCE_S.  0, or -1 with err.
 */
static int
dl_keep(struct dl_batch *b, size_t i, char *err, size_t errlen)
{
	struct dl *d = b->d;
	struct dl_item *x = &b->x[i];
	double start = dl_mono(), said = 0;
	long wait = DL_KEEP_FIRST_MS;
	const struct sms_req *sr;
	const char *ref, *why;
	enum xfer_result res;
	int last = 0;

	dl_outcome(b, i, &res, &ref, &why, &sr);
	for (;;) {
		if (dl_record_tx(b, &i, 1, 0, err, errlen) == 0) {
			if (said != 0)
				log_info("msg=%lld outcome (%s) recorded after "
				    "%.0f s", x->m.id, xfer_result_name(res),
				    dl_mono() - start);
			return 0;
		}
		if (dl_row_moved(d, x, res)) {
			dl_settled(b, &i, 1);
			return 0;
		}
		if (last || (d->stop == NULL &&
		    dl_mono() - start >= DL_KEEP_ONCE_S))
			break;
		if (said == 0 || dl_mono() - said >= 60) {
			log_err("msg=%lld cannot record its outcome (%s) yet: %s; "
			    "trying again, sending nothing else meanwhile",
			    x->m.id, xfer_result_name(res), err);
			said = dl_mono();
		}
		/* Nothing new starts meanwhile (dl_go; dl_gate lifts it). */
		dl_hold(d, 1);
		d->stalled = 1;
		dl_hold(d, 0);
		dl_nap(d, wait);
		wait = wait * 2 > DL_KEEP_MAX_MS ? DL_KEEP_MAX_MS : wait * 2;
		last = d->stop != NULL && *d->stop;
	}
	log_err("msg=%lld outcome (%s) not recorded: %s; the row stays "
	    "'sending' until the next start", x->m.id, xfer_result_name(res),
	    err);
	dl_settled(b, &i, 1);		/* let go: start-up recovery has it */
	d->let_go = 1;			/* and its mark, if it has one */
	return -1;
}

/*
 * Record what is done.  nowait (during the sends): one try without
 * waiting for another writer; refused, it stays for later (-1).
 * Otherwise each outcome the group transaction could not take is kept
 * (dl_keep).
 */
static int
dl_flush(struct dl_batch *b, int nowait, char *err, size_t errlen)
{
	size_t idx[DL_BATCH], n = dl_done_list(b, idx);
	int r = 0;

	if (n == 0 || dl_record_tx(b, idx, n, nowait, err, errlen) == 0)
		return 0;
	if (nowait)
		return -1;
	for (size_t k = 0; k < n; k++)
		if (dl_keep(b, idx[k], err, errlen) != 0)
			r = -1;
	return r;
}

/* ---- the transports' hooks -------------------------------------------- */


static struct dl_item *
dl_item_of(struct dl_side *sd, size_t i)
{
	struct dl_batch *b = sd->b;

	return &b->x[sd->chan == CHAN_EMAIL ? b->em[i] : b->sm[i]];
}

/* The SMS side's hooks run here: locked against the mail threads'. */
static void
dl_side_lock(struct dl_side *sd, int on)
{
	if (sd->chan != CHAN_EMAIL)
		dl_hold(sd->b->d, on);
}

/*
 * Request i is about to go up whole: marked first, in the attempt its
 * claim counted (store_inflight.c: one write, no database, so the mail
 * threads never wait for the cycle's transaction between a body and its
 * final dot).
 */
static int
dl_upload(void *arg, size_t i)
{
	struct dl_side *sd = arg;
	struct dl *d = sd->b->d;
	struct dl_item *x = dl_item_of(sd, i);
	char err[256];
	int r = 0;

	if (d->dry)
		return 0;
	dl_side_lock(sd, 1);
	if (d->unmarkable != NULL || store_inflight_mark(d->st, x->m.id,
	    x->m.attempts + 1, err, sizeof(err)) != 0) {
		/*
		 * The file will not take the next mark either (a full disk):
		 * nothing more starts (dl_go) and nothing more is claimed
		 * (dl_run, which says why once), or the pass would claim,
		 * refuse and unclaim the same rows for ever.
		 */
		if (d->unmarkable == NULL)
			d->unmarkable = xasprintf("msg=%lld not sent: its upload "
			    "cannot be recorded: %s", x->m.id, err);
		x->unmarked = 1;
		r = -1;
	} else
		x->uploaded = 1;
	dl_side_lock(sd, 0);
	return r;
}

/*
 * Whether to start request i: not when its channel refused the login a
 * moment ago, nor while the database refuses the records of what is done
 * (nothing more goes out whose outcome could not be kept either), nor
 * when its claim is more than DL_FRESH_S old: the contract's re-read
 * "just before a message goes" was made at the claim, and behind a slow
 * server a booking tool may since have cancelled, moved or withdrawn
 * consent.  Such a row is unclaimed, untried, and the next cycle claims
 * it again with a fresh re-read.  No claim time: its sync failed (dl_turn).
 */
static int
dl_go(void *arg, size_t i)
{
	struct dl_side *sd = arg;
	struct dl_batch *b = sd->b;
	struct dl_item *x = dl_item_of(sd, i);
	int go;

	dl_side_lock(sd, 1);
	go = !b->d->refused[sd->chan] && !b->d->gate[sd->chan] &&
	    !b->d->stalled && b->d->unmarkable == NULL && (b->d->dry || (b->claimed != 0 &&
	    dl_mono() - b->claimed <= DL_FRESH_S));
	if (!go)
		x->unstarted = 1;
	else
		x->started = dl_mono();
	dl_side_lock(sd, 0);
	return go;
}

/*
 * Outcome i is in: kept for the next record.  The waiting thread is woken
 * (1) only when its idle hook has something to decide: the first outcome
 * since the last record (it sets the DL_FLUSH_MS timer), or one whose
 * exchange took longer than that (recorded at once).
 */
static int
dl_done(void *arg, size_t i)
{
	struct dl_side *sd = arg;
	struct dl_batch *b = sd->b;
	struct dl_item *x = dl_item_of(sd, i);
	enum xfer_result res = sd->chan == CHAN_EMAIL ? b->mr[i].res :
	    b->sr[i].res;
	int began = sd->chan == CHAN_EMAIL ? b->mr[i].began : b->sr[i].began;
	double now = dl_mono();
	int wake;

	dl_side_lock(sd, 1);
	x->state = DL_DONE;
	wake = b->first_done == 0 || (x->started != 0 &&
	    (now - x->started) * 1000 >= DL_FLUSH_MS);
	if (x->started != 0)
		b->d->xfer_s = now - x->started;
	if (x->started != 0 && sd->chan == CHAN_EMAIL)
		b->d->email_s = b->d->xfer_s;
	else if (x->started != 0)
		b->d->sms_s = b->d->xfer_s;
	/*
	 * Every batch, not only this one, until its record puts the pause in
	 * the gate (dl_settled): the next batch's email may already be on the
	 * connections.  Not for longer: a refusal whose row moved meanwhile
	 * records no pause, and rows held back without one would be unclaimed
	 * and claimed again for ever.
	 */
	if (res == XFER_CHANNEL && !x->refused) {
		x->refused = 1;
		b->d->refused[sd->chan]++;
	}
	if (!began && res == XFER_TEMPFAIL && xfer_stopping())
		x->unstarted = 1;
	if (b->first_done == 0)
		b->first_done = now;
	dl_side_lock(sd, 0);
	return wake;
}

/*
 * The transports are about to wait for their servers: record what is
 * done when it has waited DL_FLUSH_MS, or at once when an exchange takes
 * longer than that (a slow server: a commit per outcome costs little
 * beside it, and keeps what a crash can duplicate to what is really in
 * flight).  The exchange's own time decides, not the time between
 * outcomes, which our commits would lengthen: on a loaded machine that
 * would turn every outcome into a commit of its own.  Outcomes of fast
 * exchanges wait for the next cycle's commit.
 */
static long
dl_idle(void *arg)
{
	struct dl_side *sd = arg;
	struct dl_batch *b = sd->b;
	struct dl *d = b->d;
	double gap, age, first;
	char err[256];
	int refused;

	/* Called without the lock, from this thread only (mail_wait lets it go). */
	dl_hold(d, 1);
	gap = d->xfer_s * 1000;
	first = b->first_done;
	dl_hold(d, 0);
	if (first == 0)
		return 1000;
	age = (dl_mono() - first) * 1000;
	if (age < DL_FLUSH_MS && gap > 0 && gap < DL_FLUSH_MS)
		return DL_FLUSH_MS - (long)age;
	/*
	 * One try: waiting here for another writer would stall the transfers
	 * in flight.  Refused, nothing new starts (dl_go) until it works.
	 */
	refused = dl_flush(b, 1, err, sizeof(err)) != 0;
	dl_hold(d, 1);
	d->stalled = refused;
	dl_hold(d, 0);
	return refused ? DL_FLUSH_MS : 1000;
}

/* The batch's requests: its email for the mail session, its SMS. */
static void
dl_requests(struct dl *d, struct dl_batch *b)
{
	b->nem = b->nsm = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct dl_item *x = &b->x[i];

		if (x->state != DL_CLAIMED)
			continue;	/* could not be rendered (x->bad) */
		if (x->m.channel == CHAN_EMAIL) {
			memset(&b->mr[b->nem], 0, sizeof(b->mr[0]));
			b->mr[b->nem].to = x->rcpt;
			b->mr[b->nem].data = x->data;
			x->req = b->nem;
			b->em[b->nem++] = i;
		} else {
			memset(&b->sr[b->nsm], 0, sizeof(b->sr[0]));
			b->sr[b->nsm].to = x->rcpt;
			b->sr[b->nsm].text = x->data;
			b->sr[b->nsm].from = dl_sms_from(d, x);
			x->req = b->nsm;
			b->sm[b->nsm++] = i;
		}
	}
}

/*
 * Start the batch: its email in the mail session's threads (one per
 * connection), which go on while this thread runs the next cycle, sends
 * this batch's SMS (dl_send_sms) and renders the next batch (dl_turn).
 * Outcomes stay in b.
 */
static void
dl_send_start(struct dl *d, struct dl_batch *b)
{
	dl_requests(d, b);
	b->se = (struct dl_side){ b, CHAN_EMAIL };
	b->ss = (struct dl_side){ b, CHAN_SMS };
	b->me = (struct xfer_mark){ dl_upload, &b->se };
	b->ms = (struct xfer_mark){ dl_upload, &b->ss };
	b->he = (struct xfer_hooks){ &b->me, dl_go, dl_done, dl_idle, &b->se };
	b->hs = (struct xfer_hooks){ &b->ms, dl_go, dl_done, dl_idle, &b->ss };
	if (b->nem > 0 && d->ms == NULL)
		d->ms = mail_open(d->c);
	if (b->nsm > 0 && d->ss == NULL)
		d->ss = sms_open(d->c);
	if (b->nem > 0)
		mail_batch_start(d->ms, b->mr, b->nem, &b->he, 1);
	b->started = 1;
}

/* The batch's SMS: started (sms_batch_start), then finished if wait. */
static void
dl_send_sms(struct dl *d, struct dl_batch *b, int wait)
{
	if (b->nsm == 0)
		return;
	sms_batch_start(d->ss, b->sr, b->nsm, &b->hs);
	if (wait)
		sms_batch_finish(d->ss);
}

/* Wait for the batch's email, recording what is done meanwhile (dl_idle). */
static void
dl_send_wait(struct dl *d, struct dl_batch *b)
{
	if (b->nem > 0)
		mail_batch_wait(d->ms);
}

/*
 * The same until all but `left` emails of the batch have been taken by a
 * connection (started, or settled unstarted by dl_go).
 */
static void
dl_send_taken(struct dl *d, struct dl_batch *b, size_t left)
{
	if (b->nem > left)
		mail_batch_wait_taken(d->ms, left);
}

/*
 * The claimed messages' bytes, outside any transaction and without the
 * session's lock (dl_render reads no database).  One that cannot be
 * rendered is done: the next cycle fails it (dl_record_item).  Between
 * two, cur's SMS move on (sms_batch_step: no wait), so their round trips
 * pass while this thread renders.
 */
static void
dl_render_batch(struct dl *d, struct dl_batch *b, struct dl_batch *cur)
{
	char why[512];

	for (size_t i = 0; i < b->n; i++) {
		struct dl_item *x = &b->x[i];

		if (cur->nsm > 0)
			(void)sms_batch_step(d->ss);
		if (x->state != DL_CLAIMED || x->data != NULL)
			continue;
		why[0] = '\0';
		if (dl_render(d, x, why, sizeof(why)) != 0) {
			x->bad = xstrdup(why[0] != '\0' ? why : "cannot be rendered");
			x->state = DL_DONE;
		}
	}
}

/*
 * Claim up to DL_BATCH messages into b inside the open transaction.
 * *more: rows may still be due (the batch is full, or rows were settled).
 * A run of rows settled without sending also ends a batch at 4 * DL_BATCH
 * rows, so one transaction never holds the lock for a whole backlog.
 */
static int
dl_claim_rows(struct dl *d, struct dl_batch *b, int *more, char *err,
    size_t errlen)
{
	size_t seen = 0;

	*more = 0;
	/* inside the claim's transaction: no other writer can commit now */
	b->dv = store_data_version(d->st);
	while (b->n < DL_BATCH) {
		struct dl_item *x = &b->x[b->n];
		enum dl_claimed r;

		if (seen++ >= 4 * DL_BATCH) {
			*more = 1;
			return 0;
		}
		r = dl_claim_row(d, x, err, errlen);
		if (r == DL_CLAIM_SEND) {
			x->state = DL_CLAIMED;
			b->n++;
			continue;
		}
		dl_item_free(x);
		if (r == DL_CLAIM_ERROR)
			return -1;
		if (r == DL_CLAIM_NONE)
			return 0;
		*more = 1;	/* settled: there may be more behind it */
	}
	*more = 1;
	return 0;
}

/* dl_claim_rows, sharing the rows read between its messages (dl_reads). */
static int
dl_claim_batch(struct dl *d, struct dl_batch *b, int *more, char *err,
    size_t errlen)
{
	int rc;

	d->reads.on = 1;
	rc = dl_claim_rows(d, b, more, err, errlen);
	dl_reads_end(d);
	return rc;
}

/* Claim a batch in a transaction of its own.  0 or -1. */
static int
dl_claim_alone(struct dl *d, struct dl_batch *b, int *more, char *err,
    size_t errlen)
{
	struct deliver_stats s0 = *d->stats;

	/* relaxed: dl_run syncs it (store_sync) with the lock let go */
	if (store_begin_relaxed(d->st, d->stop, err, errlen) != 0)
		return d->stop != NULL && *d->stop ? 0 : -1;
	if (dl_claim_batch(d, b, more, err, errlen) == 0 &&
	    store_commit(d->st, err, errlen) == 0)
		return 0;
	store_rollback(d->st);
	*d->stats = s0;
	dl_batch_free(b);
	*more = 0;
	return -1;
}

/*
 * One cycle: record what `sent` left unrecorded and what is done of `cur`
 * (the batch on the connections: above all what dl_go left unstarted, so
 * that it is claimed again before any later row), and claim the next
 * batch into `next`, in one transaction.  When that transaction fails,
 * sent's records go on their own (kept until they work; cur's wait for
 * dl_idle or the next cycle) and the claim is tried alone.  0 or -1.
 */
static int
dl_cycle(struct dl *d, struct dl_batch *sent, struct dl_batch *cur,
    struct dl_batch *next, int claim, int *more, char *err, size_t errlen)
{
	size_t idx[DL_BATCH], ci[DL_BATCH], n = dl_done_list(sent, idx), m, k;
	struct dl_undo u;
	int r = 0, ok = 1;

	*more = 0;
	if (!claim)
		return n == 0 ? 0 : dl_flush(sent, 0, err, errlen);
	/* cur's emails may be under way meanwhile: only its done ones */
	if ((m = dl_done_list(cur, ci)) == 0 && n == 0)
		return dl_claim_alone(d, next, more, err, errlen);
	if (store_begin_relaxed(d->st, d->stop, err, errlen) != 0)
		goto alone;
	dl_undo_save(d, &u);
	for (k = 0; ok && k < n; k++)
		ok = dl_record_item(sent, idx[k], err, errlen) == 0;
	for (k = 0; ok && k < m; k++)
		ok = dl_record_item(cur, ci[k], err, errlen) == 0;
	if (ok && dl_claim_batch(d, next, more, err, errlen) == 0 &&
	    store_commit(d->st, err, errlen) == 0) {
		dl_undo_end(d, &u, 0);
		dl_gate(d);
		dl_settled(sent, idx, n);
		dl_settled(cur, ci, m);
		return 0;
	}
	store_rollback(d->st);
	dl_undo_end(d, &u, 1);
	dl_batch_free(next);
alone:
	/* Outcomes not kept (--once gave up): nothing new is claimed. */
	if (dl_flush(sent, 0, err, errlen) != 0) {
		*more = 0;
		return -1;
	}
	if (d->stop != NULL && *d->stop) {
		*more = 0;
		return r;
	}
	if (dl_claim_alone(d, next, more, err, errlen) != 0)
		r = -1;
	return r;
}

/*
 * A cycle's commit made durable (store_sync) in a thread of its own, so
 * the disk's wait overlaps the rendering and the last exchanges of the
 * batch on the connections; the next turn waits for it before anything
 * more goes up, which keeps what a power cut can cost to the two batches
 * of the bound.
 */
struct dl_sync {
	struct store	*st;
	pthread_t	 th;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 thread;	/* th runs, for the pass's life */
	int		 want;		/* a sync asked for, not done yet */
	int		 quit;
	int		 rc;
	char		 err[256];
};

/*
 * The syncing thread: kept for the pass, not started per cycle (a new
 * thread waits for a CPU, and this one's work is a system call).
 */
static void *
dl_sync_main(void *arg)
{
	struct dl_sync *s = arg;
	char err[sizeof(s->err)];
	int rc;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->want && !s->quit)
			pthread_cond_wait(&s->cv, &s->mu);
		if (!s->want)
			break;
		pthread_mutex_unlock(&s->mu);
		rc = store_sync(s->st, err, sizeof(err));
		pthread_mutex_lock(&s->mu);
		if ((s->rc = rc) != 0)
			snprintf(s->err, sizeof(s->err), "%s", err);
		s->want = 0;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void
dl_sync_init(struct dl_sync *s, struct store *st)
{
	memset(s, 0, sizeof(*s));
	s->st = st;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
}

/* Start it; right here when no thread starts. */
static void
dl_sync_start(struct dl_sync *s)
{
	sigset_t all, old;

	if (!s->thread) {
		/* Signals stay with the main thread (the daemon's flags). */
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		s->thread = pthread_create(&s->th, NULL, dl_sync_main, s) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (!s->thread) {
		s->rc = store_sync(s->st, s->err, sizeof(s->err));
		return;
	}
	pthread_mutex_lock(&s->mu);
	s->want = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Wait for it: 0, or -1 with err (committed, not known to be on the disk). */
static int
dl_sync_end(struct dl_sync *s, char *err, size_t errlen)
{
	int rc;

	pthread_mutex_lock(&s->mu);
	while (s->want)
		pthread_cond_wait(&s->cv, &s->mu);
	if ((rc = s->rc) != 0)
		snprintf(err, errlen, "%s", s->err);
	s->rc = 0;
	pthread_mutex_unlock(&s->mu);
	return rc == 0 ? 0 : -1;
}

/* The thread ends (after dl_sync_end). */
static void
dl_sync_stop(struct dl_sync *s)
{
	if (s->thread) {
		pthread_mutex_lock(&s->mu);
		s->quit = 1;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->th, NULL);
	}
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
}

/*
 * How many of cur's emails may still wait for a connection when the next
 * batch is claimed: as many as go in DL_AHEAD_S at the pace of the last
 * email exchange.  Against a fast server that is the whole batch, so the cycle
 * and the rendering overlap its exchanges; behind a slow one (0.1 s a
 * message) none, so the claim is at most an exchange or two old when its
 * batch starts, never stale (DL_FRESH_S: every row of it would be undone
 * and claimed again behind later rows).  None before an exchange was timed.
 */
static size_t
dl_ahead(struct dl *d)
{
	double x, k;

	dl_hold(d, 1);
	x = d->email_s;
	dl_hold(d, 0);
	if (x <= 0)
		return 0;
	k = DL_AHEAD_S / x;
	return k >= (double)DL_BATCH ? DL_BATCH : (size_t)k;
}

/*
 * b's claim is durable (the last cycle's sync done), then its email goes
 * to the connections.  A sync that failed: committed, only not known to
 * be on the disk; claim no more, and send none of b, whose claim a power
 * cut could undo after its messages went.  A claim time of 0 is refused
 * by dl_go: every row of it is settled unstarted, and the next cycle
 * undoes its claim, no attempt counted.  0 or -1.
 */
static int
dl_start(struct dl *d, struct dl_sync *sy, struct dl_batch *b, int *more,
    char *err, size_t errlen)
{
	int r = 0;

	if (dl_sync_end(sy, err, errlen) != 0) {
		b->claimed = 0;
		*more = 0;
		r = -1;
	} else if (b->n > 0 && b->dv >= 0 && store_data_version(d->st) == b->dv)
		/*
		 * No other program has written since the claim read its rows:
		 * the re-read is as good as one made now.  Behind a disk whose
		 * sync takes longer than DL_FRESH_S, every batch would
		 * otherwise be stale before it starts, undone and claimed
		 * again, for ever.
		 */
		b->claimed = dl_mono();
	dl_send_start(d, b);
	return r;
}

/*
 * One turn of the pipeline: cur's email on the connections (started at
 * the end of the turn before, or now); its SMS; once all but dl_ahead()
 * of cur's emails are on a connection, record done (and what is done of
 * cur) and claim next (the cycle), its sync started; render next; then
 * next's email handed to the connections behind cur's last exchanges, so
 * that a connection goes from one batch to the next without waiting for
 * this thread; wait for cur's email.  0 or -1.
 */
static int
dl_turn(struct dl *d, struct dl_sync *sy, struct dl_batch *done,
    struct dl_batch *cur, struct dl_batch *next, int claim, int *more,
    char *err, size_t errlen)
{
	long long changes = store_changes(d->st);
	int r = 0, early;
	size_t ahead;
	double t;

	if (!cur->started && dl_start(d, sy, cur, more, err, errlen) != 0)
		r = -1;
	/*
	 * Behind a slow email server the cycle waits for the batch's emails
	 * to be taken (dl_send_taken): its SMS go first, whole, as they would
	 * alone.  Else they go after the cycle (which may wait for another
	 * writer: no SMS is left unread meanwhile), while the next batch is
	 * rendered, and the rest of them after it.
	 */
	ahead = dl_ahead(d);
	early = cur->nem > ahead;
	if (early)
		dl_send_sms(d, cur, 1);
	dl_send_taken(d, cur, ahead);
	t = dl_mono();
	if (dl_cycle(d, done, cur, next, claim && r == 0, more, err,
	    errlen) != 0)
		r = -1;
	d->locked_s += dl_mono() - t;
	next->claimed = dl_mono();
	/* a cycle that found nothing to do (a planner's gap) costs no fsync */
	if (store_changes(d->st) != changes && !d->dry)
		dl_sync_start(sy);
	if (!early)
		dl_send_sms(d, cur, 0);
	dl_render_batch(d, next, cur);
	/*
	 * next's email goes once at most dl_ahead() of cur's wait for a
	 * connection, as at the start of a turn, so its claim is as fresh
	 * when its exchanges begin (DL_FRESH_S).  Two batches are then on
	 * the connections: the bound (deliver_int.h) holds, as done's
	 * outcomes are all recorded.
	 */
	if (next->n > 0) {
		dl_send_taken(d, cur, dl_ahead(d));
		if (dl_start(d, sy, next, more, err, errlen) != 0)
			r = -1;
	}
	if (cur->nsm > 0)
		sms_batch_finish(d->ss);
	dl_send_wait(d, cur);
	return r;
}

/* An upload mark failed in this pass (dl_upload). */
static int
dl_unmarkable(struct dl *d)
{
	int r;

	dl_hold(d, 1);
	r = d->unmarkable != NULL;
	dl_hold(d, 0);
	return r;
}

/*
 * The pass's end: its last sync waited for; every outcome recorded and on
 * the disk, no row of this pass is 'sending' and the marks would only be
 * read again, so they go; else they stay for recovery.  A mark that
 * could not be written is said here, once.
 */
static int
dl_run_end(struct dl *d, struct dl_sync *sy, int r, char *err, size_t errlen)
{
	if (dl_sync_end(sy, err, errlen) != 0)
		r = -1;
	else if (dl_unmarkable(d)) {
		/* every row it held back is pending again, no attempt counted */
		snprintf(err, errlen, "%s; nothing more is sent until it can "
		    "be written", d->unmarkable);
		r = -1;
	} else if (r == 0 && !d->let_go && !d->dry)
		(void)store_inflight_clear(d->st, NULL, 0);
	free(d->unmarkable);
	d->unmarkable = NULL;
	return r;
}

/*
 * The pipeline between turns: what dl_run, and the planner's gaps before
 * it (dl_loop_gap), carry from one turn to the next.
 */
struct dl_loop {
	/* done: sent, outcomes being recorded; cur: being sent; next: claimed */
	struct dl_batch	*done, *cur, *next;
	struct dl_sync	 sy;
	int		 r;		/* a turn failed: err says why */
	int		 more;		/* rows may still be due */
	char		 err[512];
};

/* One turn, then the batches move on.  0 once the pipeline is empty. */
static int
dl_loop_turn(struct dl *d, struct dl_loop *l, volatile sig_atomic_t *stop,
    int may_claim)
{
	/* A batch's outcomes can make new messages due (an SMS
	 * reminder's fallback email): claiming goes on after it. */
	int claim = may_claim && (l->more || l->done->n > 0) && l->r == 0 &&
	    (stop == NULL || !*stop) && !dl_unmarkable(d);
	struct dl_batch *t;

	if (dl_turn(d, &l->sy, l->done, l->cur, l->next, claim, &l->more,
	    l->err, sizeof(l->err)) != 0)
		l->r = -1;
	dl_batch_free(l->done);
	t = l->done;
	l->done = l->cur;
	l->cur = l->next;
	l->next = t;
	/* In flight once claimed: what has not started when a stop comes
	 * is settled unstarted and unclaimed by the next cycle. */
	return !(l->cur->n == 0 && l->done->n == 0 && (!l->more || l->r != 0 ||
	    (stop != NULL && *stop)));
}

struct dl_loop *
dl_loop_open(struct dl *d, char *err, size_t errlen)
{
	struct dl_loop *l;

	/* nothing claimed without a place for the marks */
	if (!d->dry && store_inflight_open(d->st, err, errlen) != 0)
		return NULL;
	l = xcalloc(1, sizeof(*l));
	l->done = xcalloc(1, sizeof(*l->done));
	l->cur = xcalloc(1, sizeof(*l->cur));
	l->next = xcalloc(1, sizeof(*l->next));
	l->done->d = l->cur->d = l->next->d = d;
	dl_sync_init(&l->sy, d->st);
	dl_gate(d);
	return l;
}

/*
 * Whether a turn would end soon: it ends when cur's exchanges are done,
 * so only while each channel cur uses was fast last time.  Behind a slow
 * server a turn would hold the planner, and what it has not yet written,
 * for a whole batch; that happens once at most, with the first batch (a
 * channel not yet timed), which would have held everything behind it
 * anyway.
 */
static int
dl_loop_quick(struct dl *d, const struct dl_loop *l)
{
	double e, m;

	dl_hold(d, 1);
	e = d->email_s;
	m = d->sms_s;
	dl_hold(d, 0);
	return (l->cur->nem == 0 || e * 1000 < DL_FLUSH_MS) &&
	    (l->cur->nsm == 0 || m * 1000 < DL_FLUSH_MS);
}

void
dl_loop_gap(struct dl *d, struct dl_loop *l, double ms)
{
	struct timespec nap;
	double t0 = dl_mono(), spent;

	/* what the planner's last chunk wrote may be due */
	l->more = 1;
	d->locked_s = 0;
	while (l->r == 0 && (dl_mono() - t0) * 1000 < ms &&
	    dl_loop_quick(d, l) && dl_loop_turn(d, l, d->stop, 1))
		;
	/*
	 * The turns' own transactions held the lock too: the lock stays free
	 * as long as the planner and they held it, so a booking tool's chance
	 * of it is what the planner alone left.
	 */
	ms += 2 * d->locked_s * 1000;
	spent = (dl_mono() - t0) * 1000;
	if (spent >= ms)
		return;
	ms -= spent;
	nap.tv_sec = (time_t)(ms / 1e3);
	nap.tv_nsec = (long)((ms - (double)nap.tv_sec * 1e3) * 1e6);
	nanosleep(&nap, NULL);
}

int
dl_loop_close(struct dl *d, struct dl_loop *l, volatile sig_atomic_t *stop,
    int claim, char *err, size_t errlen)
{
	int r;

	l->more = 1;
	while (dl_loop_turn(d, l, stop, claim))
		;
	r = l->r;
	if (r != 0)
		snprintf(err, errlen, "%s", l->err);
	r = dl_run_end(d, &l->sy, r, err, errlen);
	dl_sync_stop(&l->sy);
	dl_batch_free(l->done);
	dl_batch_free(l->cur);
	dl_batch_free(l->next);
	free(l->done);
	free(l->cur);
	free(l->next);
	free(l);
	return r;
}

int
dl_run(struct dl *d, volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	struct dl_loop *l = dl_loop_open(d, err, errlen);

	return l == NULL ? -1 : dl_loop_close(d, l, stop, 1, err, errlen);
}
