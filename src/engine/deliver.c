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


/* The plan step (issue 12: what it reads, pass_plan.c). */
static int
dl_plan(struct dl *d, long horizon, char *err, size_t errlen)
{
	struct pass_plan_stats n = { 0 };
	int r;

	r = pass_plan_run(d->c, d->st, d->now, horizon, d->until != 0, d->dry,
	    d->stop, &n, err, errlen);
	d->stats->planned += n.planned;
	d->stats->skipped += n.skipped;
	d->stats->cancelled += n.cancelled;
	d->stats->bad_rows += n.bad_rows;
	return r;
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
	for (int ch = 0; ch < CHAN_N; ch++)
		free(d->paused_why[ch]);
	free(d->inst);
	ics_memo_free(&d->ics);
}

int
deliver_pass(const struct conf *c, struct store *st, time_t now, int dry,
    FILE *out, volatile sig_atomic_t *stop, struct deliver_stats *stats,
    char *err, size_t errlen)
{
	struct dl d = { .c = c, .st = st, .now = now, .dry = dry, .out = out,
	    .stats = stats, .stop = stop };
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
	    dl_plan(&d, DELIVER_HORIZON, err, errlen) != 0 ||
	    dl_run(&d, stop, err, errlen) != 0)
		r = -1;
	if (r == 0 && !dry && (stop == NULL || !*stop) &&
	    (dl_alert(&d, err, errlen) != 0 || dl_weekly(&d, err, errlen) != 0))
		r = -1;
	if (r == 0 && (stop == NULL || !*stop)) {
		if ((n = store_count_due(st, now, err, errlen)) < 0)
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

/*
 * upcoming: the messages an unreadable row holds are listed too, as any
 * pending message (they are not rendered: the row they need cannot be
 * read), with the reason, so that a practitioner sees what waits and why.
 * The number listed, or -1.
 */
static long
dl_print_held(struct dl *d, time_t until, char *err, size_t errlen)
{
	char due[TZ_UTC_LEN], mask[64], date[64], hm[16];
	struct msg *v;
	size_t n;

	if (store_held_list(d->st, until, &v, &n, err, errlen) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct msg *m = &v[i];
		const char *why = m->last_error != NULL &&
		    strncmp(m->last_error, "held: ", 6) == 0 ?
		    m->last_error + 6 : "a row it needs cannot be read";

		tz_format_utc(m->due_at, due);
		tz_format_date(m->due_at, date, sizeof(date));
		tz_format_time(m->due_at, hm, sizeof(hm));
		fprintf(d->out, "%s (%s %s) %s to %s: %s, msg=%lld\n", due, date,
		    hm, chan_name(m->channel), log_mask(m->recipient, mask,
		    sizeof(mask)), msg_purpose_name(m->purpose), m->id);
		fprintf(d->out, "  HELD: %s; it goes at the first pass after "
		    "the row is fixed (see nudgectl problems)\n\n", why);
		msg_free(&v[i]);
	}
	free(v);
	return (long)n;
}

int
deliver_upcoming(const struct conf *c, struct store *st, time_t now,
    time_t until, FILE *out, char *err, size_t errlen)
{
	long held = 0;
	struct deliver_stats stats;
	struct dl d = { .c = c, .st = st, .now = now, .dry = 1, .out = out,
	    .stats = &stats };
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
	if (dl_plan(&d, until - now, err, errlen) != 0)
		r = -1;
	if (r == 0)
		r = dl_run(&d, NULL, err, errlen);
	/* after the walk, in the copy: rows its plan step found bad count */
	if (r == 0 && (held = dl_print_held(&d, until, err, errlen)) < 0)
		r = -1;
	dl_close(&d);
	store_dry_end(st);
	if (r == 0 && stats.sent == 0 && held == 0)
		fprintf(out, "nothing to send until then\n");
	return r;
}
