/*
 * deliver: one pass over the outbox.  See deliver.h.
 *
 *   plan     BEGIN IMMEDIATE; snapshot; plan_run; insert/change; COMMIT
 *   claim    a batch (deliver_run.c), in one transaction: BEGIN IMMEDIATE;
 *            record the previous batch's outcomes not yet recorded; then
 *            up to DL_BATCH due rows, each: re-read appointment, case,
 *            client; plan_recheck; compose; mark 'sending' (or settle it
 *            without sending: skipped, held, ...); COMMIT (relaxed, then
 *            synced with the lock let go); render the batch; all of it
 *            while the batch before is being sent
 *   send     outside any transaction (a slow server never holds the lock):
 *            the batch's email over email.connections SMTP connections,
 *            its SMS with sms.concurrency requests in flight
 *   upload   just before the last of the message goes (the SMTP final
 *            dot, the end of an HTTP body): uploaded = 1, committed with
 *            synchronous=NORMAL (no fsync; see store_mark_uploaded); no
 *            record: the transfer is aborted, the server cannot accept
 *   record   sent | retry | failed, many outcomes in one transaction:
 *            with the next claim, or on their own when an outcome has
 *            waited DL_FLUSH_MS while other transfers are under way
 *
 * So a crash can cost at most the messages in flight (handed to a
 * server, outcome not yet recorded): at most 2 * DL_BATCH, each resent
 * once.
 *
 * A message is never marked sent before the server or provider accepted
 * it, and always marked 'sending' (committed) before it is handed over.
 * An outcome is never forgotten: when the database is locked or full at
 * the moment it is recorded, recording is retried (claiming nothing new)
 * until it works or nudged is told to stop; a stop gets one more try.
 * A transfer stopped before its message was all handed over undoes its
 * claim.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/deliver_int.h"
#include "engine/pass_plan.h"
#include "base/log.h"
#include "policy/plan.h"
#include "store/store_privacy.h"
#include "base/tz.h"
#include "base/util.h"


/* The planner's gap, spent sending (dl_loop_gap). */
struct dl_gap {
	struct dl	*d;
	struct dl_loop	*l;
};

static void
dl_gap(void *arg, double ms, long long upto)
{
	struct dl_gap *g = arg;

	/* only what the plan has judged: a later chunk may skip the rest */
	g->d->planned = upto > 0 ? upto : -1;
	dl_loop_gap(g->d, g->l, ms);
	g->d->planned = 0;
}

/*
 * The plan step (issue 12: what it reads, pass_plan.c).  With l, the
 * planner's gaps between two chunks send what the chunks before made due.
 */
static int
dl_plan(struct dl *d, long horizon, struct dl_loop *l, char *err,
    size_t errlen)
{
	struct pass_plan_stats n = { 0 };
	struct dl_gap g = { d, l };
	struct pass_plan_use use = { dl_gap, &g };
	int r;

	r = pass_plan_run_using(d->c, d->st, d->now, horizon, d->until != 0,
	    d->dry, d->stop, l != NULL ? &use : NULL, &n, err, errlen);
	d->stats->planned += n.planned;
	d->stats->skipped += n.skipped;
	d->stats->cancelled += n.cancelled;
	d->stats->bad_rows += n.bad_rows;
	return r;
}

/*
 * Plan, then send; the sending begins in the plan's gaps.  A large plan
 * (an imported diary, a catch-up after an outage) is written in chunks
 * with the lock left free between them, and what the first chunks made
 * due goes meanwhile, in due order up to the first due row a later chunk
 * has yet to judge.  A row a later chunk adds, due earlier, goes behind
 * what went before it: each is still judged at its own claim.  A plan that failed
 * sends nothing more; what is under way finishes and is recorded.  0 or
 * -1.
 */
static int
dl_plan_send(struct dl *d, volatile sig_atomic_t *stop, char *err,
    size_t errlen)
{
	struct dl_loop *l;
	char why[256];
	size_t k;

	if (d->dry)
		return dl_plan(d, DELIVER_HORIZON, NULL, err, errlen) != 0 ||
		    dl_run(d, stop, err, errlen) != 0 ? -1 : 0;
	if ((l = dl_loop_open(d, err, errlen)) == NULL) {
		/* nothing goes, but the plan's cancellations and problems do */
		if (dl_plan(d, DELIVER_HORIZON, NULL, why, sizeof(why)) != 0 &&
		    (k = strlen(err)) + 2 < errlen)
			snprintf(err + k, errlen - k, "; %s", why);
		return -1;
	}
	if (dl_plan(d, DELIVER_HORIZON, l, err, errlen) == 0)
		return dl_loop_close(d, l, stop, 1, err, errlen);
	if (dl_loop_close(d, l, stop, 0, why, sizeof(why)) != 0 &&
	    (k = strlen(err)) + 2 < errlen)
		snprintf(err + k, errlen - k, "; %s", why);
	return -1;
}

/*
 * For nudgectl status: when the last pass ran and what it did, as
 * "TIME planned sent failed skipped cancelled pending" (state pass.last).
 */
static int
dl_note_pass(struct dl *d, char *err, size_t errlen)
{
	const struct deliver_stats *x = d->stats;
	char stamp[TZ_UTC_LEN], v[160];

	tz_format_utc(d->now, stamp);
	snprintf(v, sizeof(v), "%s %d %d %d %d %d %ld", stamp, x->planned,
	    x->sent, x->failed, x->skipped, x->cancelled, x->pending_due);
	/* Waiting for a lock another process holds must not delay a stop. */
	if (store_begin_or_stop(d->st, d->stop, err, errlen) != 0)
		return -1;
	if (store_state_set(d->st, "pass.last", v, err, errlen) != 0) {
		store_rollback(d->st);
		return -1;
	}
	return store_commit(d->st, err, errlen);
}

/*
 * What rendering reads from the database, read once: deliver_run.c
 * renders a batch outside any transaction, while another thread may be
 * using the connection.
 */
static void
dl_render_state(struct dl *d)
{
	if (store_state_get(d->st, "installation_id", &d->inst) != 1) {
		free(d->inst);
		d->inst = NULL;
	}
}

static void
dl_close(struct dl *d)
{
	if (d->ms != NULL)
		mail_close(d->ms);
	if (d->ss != NULL)
		sms_close(d->ss);
	for (int ch = 0; ch < CHAN_N; ch++) {
		free(d->paused_why[ch]);
		free(d->down_why[ch]);
	}
	free(d->inst);
	free(d->held_shown);
	ics_memo_free(&d->ics);
}

int
deliver_pass(const struct conf *c, struct store *st, time_t now, int live,
    int dry, FILE *out, volatile sig_atomic_t *stop,
    struct deliver_stats *stats, char *err, size_t errlen)
{
	struct dl d = { .c = c, .st = st, .now = now, .dry = dry, .out = out,
	    .stats = stats, .stop = stop, .t0 = live && !dry ? dl_mono() : 0 };
	char why[256];
	int r = 0;
	long n;

	memset(stats, 0, sizeof(*stats));
	if (dry && store_dry_begin(st, err, errlen) != 0)
		return -1;
	d.known = dry ? store_last_msg_id(st) : 0;
	dl_render_state(&d);
	/* A stop aborts a transfer whose message has not begun to go up. */
	xfer_set_stop(stop);
	if (dl_pause_load(&d, err, errlen) != 0 ||
	    dl_plan_send(&d, stop, err, errlen) != 0)
		r = -1;
	if (r == 0 && !dry && (stop == NULL || !*stop) &&
	    (dl_alert(&d, err, errlen) != 0 || dl_weekly(&d, err, errlen) != 0))
		r = -1;
	/* also when stopped: what waits is --once's exit status */
	if (r == 0) {
		if ((n = store_count_due(st, now, err, errlen)) < 0 ||
		    (stats->held_due = store_count_held(st, now, err,
		    errlen)) < 0)
			r = -1;
		else
			stats->pending_due = n;
	}
	for (int ch = 0; ch < CHAN_N; ch++)
		stats->paused[ch] = d.paused_why[ch] != NULL;
	/* Only for nudgectl status: a pass is not failed for want of it. */
	if (r == 0 && !dry && (stop == NULL || !*stop) &&
	    dl_note_pass(&d, why, sizeof(why)) != 0)
		log_debug("last pass not recorded: %s", why);
	dl_close(&d);
	xfer_set_stop(NULL);
	if (dry)
		store_dry_end(st);
	return r;
}

int
deliver_upcoming(const struct conf *c, struct store *st, time_t now,
    time_t until, FILE *out, char *err, size_t errlen)
{
	struct deliver_stats stats;
	struct dl d = { .c = c, .st = st, .now = now, .dry = 1, .out = out,
	    .stats = &stats };
	size_t n_held;
	int r = 0;

	memset(&stats, 0, sizeof(stats));
	if (store_dry_begin(st, err, errlen) != 0)
		return -1;
	d.known = store_last_msg_id(st);
	dl_render_state(&d);
	/*
	 * Walk the outbox up to until: each message is judged and rendered as
	 * at its due time; the rollback below forgets it all.
	 */
	d.until = until;
	if (dl_plan(&d, until - now, NULL, err, errlen) != 0)
		r = -1;
	if (r == 0)
		r = dl_run(&d, NULL, err, errlen);
	/*
	 * The held ones due after the last message the walk listed (each
	 * listed message brought those due before it: dl_print_held); in the
	 * copy, so rows its plan step found bad count.
	 */
	if (r == 0 && dl_print_held(&d, until, err, errlen) != 0)
		r = -1;
	n_held = d.n_held_shown;
	dl_close(&d);
	store_dry_end(st);
	if (r == 0 && stats.sent == 0 && n_held == 0) {
		char day[64], at[16];

		tz_format_date(until, day, sizeof(day));
		tz_format_time(until, at, sizeof(at));
		fprintf(out, "nothing to send until %s at %s\n", day, at);
	}
	return r;
}
