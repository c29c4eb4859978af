/*
 * deliver_record: what one attempt's outcome does to the outbox.
 *
 *   OK        sent (the provider's id or the Message-ID kept)
 *   PERMFAIL  failed with the reason; an SMS reminder falls back to email
 *   TEMPFAIL  pending with next_at = now + growing delay (or Retry-After),
 *             until retry.attempts tries, or until a retry would come
 *             less than late_limit before the appointment: then failed
 *   UNKNOWN   resent once (same Message-ID for email); a second uncertain
 *             outcome fails it: it may have arrived
 *   CHANNEL   pending; the channel pauses (5 min, doubling to 6 h) and the
 *             practitioner's digest names it until it works again
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "engine/deliver_int.h"
#include "base/log.h"
#include "policy/plan.h"
#include "policy/retry.h"
#include "base/tz.h"
#include "base/util.h"

static const char *const dl_pause_key[CHAN_N] = { "pause.email", "pause.sms" };

int
dl_pause_load(struct dl *d, char *err, size_t errlen)
{
	for (int ch = 0; ch < CHAN_N; ch++) {
		char *v = NULL, *why = NULL;
		long n;

		if (store_state_get(d->st, dl_pause_key[ch], &v) < 0) {
			snprintf(err, errlen, "cannot read the channels' state");
			return -1;
		}
		if (v == NULL)
			continue;
		/* "COUNT REASON" */
		why = strchr(v, ' ');
		if (why != NULL)
			*why++ = '\0';
		if (parse_long(v, 1, 1000, &n) == 0) {
			d->pause_count[ch] = (int)n;
			d->paused_why[ch] = xstrdup(why ? why : "refused");
		}
		free(v);
	}
	return 0;
}

static int
dl_pause(struct dl *d, enum chan ch, const char *why, char *err, size_t errlen)
{
	long delay = DL_PAUSE_FIRST;
	char *v;
	int r;

	d->pause_count[ch]++;
	for (int i = 1; i < d->pause_count[ch] && delay < DL_PAUSE_MAX; i++)
		delay *= 2;
	if (delay > DL_PAUSE_MAX)
		delay = DL_PAUSE_MAX;
	d->paused[ch] = d->now + delay;
	free(d->paused_why[ch]);
	d->paused_why[ch] = xstrdup(why);
	v = xasprintf("%d %s", d->pause_count[ch], why);
	r = d->dry ? 0 : store_state_set(d->st, dl_pause_key[ch], v, err, errlen);
	free(v);
	return r;
}

static int
dl_unpause(struct dl *d, enum chan ch, char *err, size_t errlen)
{
	if (d->pause_count[ch] == 0)
		return 0;
	d->pause_count[ch] = 0;
	free(d->paused_why[ch]);
	d->paused_why[ch] = NULL;
	log_info("channel=%s works again", chan_name(ch));
	return store_state_set(d->st, dl_pause_key[ch], NULL, err, errlen);
}

/*
 * The retry jitter's draw in [0, 1): from getrandom(), so two daemons (or
 * two starts) do not retry in step.  32 bits over 2^32 never reach 1.  If
 * the kernel has no entropy to give yet, the middle of the range: a
 * jitter still bounded, only less spread.
 */
static double
dl_jitter(void)
{
	uint32_t u;

	if (getrandom(&u, sizeof(u), GRND_NONBLOCK) != (ssize_t)sizeof(u))
		return 0.5;
	return (double)u / 4294967296.0;
}

/*
 * An SMS reminder that failed for good goes by email in the same pass
 * (contract "Fallback").  Returns the new message's id, 0 when no fallback
 * applies or an email for the same rule exists already, -1 on error.
 */
static long long
dl_fallback(struct dl *d, const struct dl_item *x, char *err, size_t errlen)
{
	struct msg m = { 0 };
	long long id = 0;
	char *addr;

	if (!d->c->sms.fallback_email || !d->c->email.enabled ||
	    x->m.channel != CHAN_SMS || x->m.purpose != PURPOSE_REMINDER ||
	    !x->has_cl || !x->has_a || x->a.cancelled ||
	    x->a.starts_at != x->m.appt_start ||
	    retry_too_late(d->c, x->a.starts_at, d->now) ||
	    (x->has_k && x->k.closed) || x->cl.opted_out ||
	    !x->cl.email_consent)
		return 0;
	if ((addr = compose_oneline(x->cl.email)) == NULL || !address_valid(addr)) {
		free(addr);
		return 0;
	}
	m.purpose = PURPOSE_REMINDER;
	m.appointment_id = x->m.appointment_id;
	m.client_id = x->m.client_id;
	m.channel = CHAN_EMAIL;
	m.recipient = addr;
	m.due_at = d->now;
	m.status = MSG_PENDING;
	m.rule = x->m.rule;
	m.appt_start = x->m.appt_start;
	m.template = x->m.template;
	if (store_insert_msg(d->st, &m, &id, err, errlen) != 0)
		id = -1;
	else if (id != 0)
		log_info("msg=%lld fallback: the reminder goes by email as msg=%lld",
		    x->m.id, id);
	free(addr);
	return id;
}

/* Failed for good: the reason, plus what was done about it. */
static int
dl_failed(struct dl *d, struct dl_item *x, const char *why,
    const struct sms_req *sr, int tried, char *err, size_t errlen)
{
	char reason[900], mask[64], scrub[512];
	long long fb = 0;
	size_t len;

	snprintf(reason, sizeof(reason), "%.600s", why);
	if (sr != NULL && sr->unsubscribed && x->m.client_id != 0) {
		if (store_sms_unsubscribe(d->st, x->m.client_id, err, errlen) != 0)
			return -1;
		dl_reads_end(d);	/* a client row changed (none kept now) */
		len = strlen(reason);
		snprintf(reason + len, sizeof(reason) - len, "; the client "
		    "unsubscribed at the provider, so their SMS consent is now off");
	}
	if ((sr == NULL || !sr->partial) &&
	    (fb = dl_fallback(d, x, err, errlen)) < 0)
		return -1;
	if (fb > 0) {
		len = strlen(reason);
		snprintf(reason + len, sizeof(reason) - len, "; sent by email "
		    "instead (message %lld)", fb);
	}
	d->stats->failed++;
	log_warn("msg=%lld purpose=%s channel=%s to=%s status=failed attempt=%d "
	    "err=\"%s\"", x->m.id, msg_purpose_name(x->m.purpose),
	    chan_name(x->m.channel),
	    log_mask(x->m.recipient, mask, sizeof(mask)), x->m.attempts + tried,
	    log_scrub(reason, scrub, sizeof(scrub)));
	return store_mark_final(d->st, x->m.id, MSG_FAILED, reason, err,
	    errlen);
}

int
dl_fail(struct dl *d, struct dl_item *x, const char *why, char *err,
    size_t errlen)
{
	/* Nothing was tried: attempts stays as it is (0 for a new message). */
	return dl_failed(d, x, why, NULL, 0, err, errlen);
}

/* OK: sent; a channel paused by an earlier refusal works again. */
static int
dl_record_sent(struct dl *d, struct dl_item *x, const char *ref,
    const char *mask, int attempt, char *err, size_t errlen)
{
	d->stats->sent++;
	log_info("msg=%lld purpose=%s channel=%s to=%s status=sent attempt=%d",
	    x->m.id, msg_purpose_name(x->m.purpose),
	    chan_name(x->m.channel), mask, attempt);
	if (dl_unpause(d, x->m.channel, err, errlen) != 0)
		return -1;
	/*
	 * Its server took a message: it is not down (one connection of
	 * several refused at its greeting, a server back within the pass).
	 */
	d->down[x->m.channel] = 0;
	free(d->down_why[x->m.channel]);
	d->down_why[x->m.channel] = NULL;
	return store_mark_sent(d->st, x->m.id, ref, d->now, err, errlen);
}

/* 1 when x is a reminder that may not wait until at (late_limit). */
static int
dl_late_at(const struct dl *d, const struct dl_item *x, time_t at)
{
	return x->m.purpose == PURPOSE_REMINDER && x->m.appt_start != 0 &&
	    retry_too_late(d->c, x->m.appt_start, at);
}

int
dl_pause_too_late(const struct dl *d, const struct dl_item *x)
{
	return d->paused[x->m.channel] != 0 &&
	    dl_late_at(d, x, d->paused[x->m.channel]);
}

/*
 * The contract's late_limit rule for retries holds for a pause too: a
 * reminder whose next try would come after its last moment is given up
 * while the fallback email may still go, not when nothing can go any more.
 */
int
dl_paused(struct dl *d, struct dl_item *x, const char *why, int tried,
    char *err, size_t errlen)
{
	char reason[800];

	if (!dl_pause_too_late(d, x)) {
		d->stats->retry++;
		return store_mark_retry(d->st, x->m.id, d->paused[x->m.channel],
		    why, err, errlen);
	}
	snprintf(reason, sizeof(reason), "gave up: the %s channel is refused "
	    "and its next try would come less than late_limit before the "
	    "appointment: %.600s", chan_name(x->m.channel), why);
	return dl_failed(d, x, reason, NULL, tried, err, errlen);
}

/* CHANNEL: the message stays pending until the channel's pause ends. */
static int
dl_record_refused(struct dl *d, struct dl_item *x, const char *why,
    const char *scrub, char *err, size_t errlen)
{
	char when[TZ_UTC_LEN];
	enum chan ch = x->m.channel;
	int first = d->paused[ch] == 0;

	/*
	 * A batch refused as a whole is one refusal, one pause, one line:
	 * the rest of it (a missing libcurl refuses every message) repeats
	 * the same words, which each row's last_error keeps anyway.
	 */
	if (first && dl_pause(d, ch, why, err, errlen) != 0)
		return -1;
	tz_format_utc(d->paused[ch], when);
	if (first || d->paused_why[ch] == NULL ||
	    strcmp(d->paused_why[ch], why) != 0)
		log_err("channel=%s refused: %s; its messages stay pending, "
		    "next try %s", chan_name(ch), scrub, when);
	return dl_paused(d, x, why, 1, err, errlen);
}

/*
 * No connection to the channel's server for an attempt (none, or no
 * answer to the greeting, STARTTLS or login in time): every other message
 * would wait as long, one after the other, and a pass behind a silent
 * server would take that many timeouts.  (A refusal, such as a 454 to
 * STARTTLS on one connection of four, is not this: the others may work.)
 * The rest of the pass's messages on it wait for a first retry instead
 * (dl_down_wait): one timeout a pass.  Not a pause: nothing refused us,
 * and the next pass tries again.
 */
static void
dl_down(struct dl *d, enum chan ch, time_t until, const char *why)
{
	char when[TZ_UTC_LEN], scrub[512];

	if (d->down[ch] != 0)
		return;
	d->down[ch] = until;
	log_scrub(why, scrub, sizeof(scrub));
	free(d->down_why[ch]);
	d->down_why[ch] = xasprintf("not tried: no connection to the %s "
	    "server for another message in this pass (%s)", chan_name(ch),
	    scrub);
	tz_format_utc(until, when);
	log_warn("channel=%s: no usable connection to the server; this pass's "
	    "other messages on it wait until %s", chan_name(ch), when);
}

int
dl_down_wait(struct dl *d, struct dl_item *x, char *err, size_t errlen)
{
	time_t until = d->down[x->m.channel];

	if (until <= d->now || dl_late_at(d, x, until))
		return 0;
	d->stats->retry++;
	return store_mark_retry(d->st, x->m.id, until,
	    d->down_why[x->m.channel], err, errlen) == 0 ? 1 : -1;
}

/*
 * Until when the pass's other messages wait for a server that gave no
 * connection: a first retry's time (retry.first, out of quiet hours), or
 * this message's own retry if sooner.  Never its own backoff alone: it
 * may be at its 7th try (an hour away, or past the end of quiet hours),
 * and messages that never had a try would go that late once the server
 * is back.
 */
static time_t
dl_down_until(const struct dl *d, const struct retry_in *ri, time_t next)
{
	struct retry_in first = { 0 };
	time_t t;

	first.channel = ri->channel;
	first.attempt = 1;
	first.rnd = ri->rnd;
	(void)retry_decide(d->c, &first, d->now, &t);
	return t < next ? t : next;
}

/*
 * TEMPFAIL or a first UNKNOWN: retry later, unless tries or time have run
 * out (retry_decide's verdict, whose reason the failure then records).
 */
static int
dl_record_retry(struct dl *d, struct dl_item *x, enum xfer_result res,
    const char *why, const struct sms_req *sr, const char *mask,
    const char *scrub, int attempt, char *err, size_t errlen)
{
	char reason[800], when[TZ_UTC_LEN];
	struct retry_in ri = { 0 };
	time_t next;

	ri.channel = x->m.channel;
	ri.attempt = attempt;
	ri.rnd = dl_jitter();
	ri.retry_after = sr != NULL ? sr->retry_after : 0;
	ri.appt_start = x->has_a && x->m.purpose == PURPOSE_REMINDER ?
	    x->a.starts_at : 0;
	ri.hw_next = x->has_hw ? plan_hw_next(d->c, &x->hw, x->m.occurrence) : 0;
	switch (retry_decide(d->c, &ri, d->now, &next)) {
	case RETRY_AGAIN:
		break;
	case RETRY_ATTEMPTS:
		snprintf(reason, sizeof(reason), "gave up after %d attempts: %.600s",
		    attempt, why);
		return dl_failed(d, x, reason, NULL, 1, err, errlen);
	case RETRY_LATE:
		snprintf(reason, sizeof(reason), "gave up: a retry would come less "
		    "than late_limit before the appointment: %.600s", why);
		return dl_failed(d, x, reason, NULL, 1, err, errlen);
	case RETRY_SUPERSEDED:
		snprintf(reason, sizeof(reason), "gave up: the next prompt of this "
		    "homework comes first: %.600s", why);
		return dl_failed(d, x, reason, NULL, 1, err, errlen);
	}
	d->stats->retry++;
	tz_format_utc(next, when);
	log_warn("msg=%lld purpose=%s channel=%s to=%s status=%s attempt=%d "
	    "next=%s err=\"%s\"", x->m.id, msg_purpose_name(x->m.purpose),
	    chan_name(x->m.channel),
	    mask, res == XFER_UNKNOWN ? "unknown" : "tempfail", attempt, when,
	    scrub);
	if (x->unreachable)
		dl_down(d, x->m.channel, dl_down_until(d, &ri, next), why);
	if (res == XFER_UNKNOWN)
		return store_mark_uncertain(d->st, x->m.id, next, why, err, errlen);
	return store_mark_retry(d->st, x->m.id, next, why, err, errlen);
}

int
dl_record(struct dl *d, struct dl_item *x, enum xfer_result res,
    const char *ref, const char *why, const struct sms_req *sr, char *err,
    size_t errlen)
{
	int attempt = x->m.attempts + 1;
	char mask[64], scrub[512], unknown[700], reason[800];

	log_mask(x->m.recipient, mask, sizeof(mask));
	log_scrub(why, scrub, sizeof(scrub));
	switch (res) {
	case XFER_OK:
		return dl_record_sent(d, x, ref, mask, attempt, err, errlen);
	case XFER_PERMFAIL:
		return dl_failed(d, x, why, sr, 1, err, errlen);
	case XFER_CHANNEL:
		return dl_record_refused(d, x, why, scrub, err, errlen);
	case XFER_UNKNOWN:
		if (x->m.recovered > 0) {
			snprintf(reason, sizeof(reason), "outcome unknown again, not "
			    "resending (it may have arrived): %.600s", why);
			return dl_failed(d, x, reason, NULL, 1, err, errlen);
		}
		snprintf(unknown, sizeof(unknown), "outcome unknown (%.500s); "
		    "resending once%s", why, x->m.channel == CHAN_EMAIL ?
		    " with the same Message-ID" : "");
		why = unknown;
		break;
	case XFER_TEMPFAIL:
		break;
	}
	return dl_record_retry(d, x, res, why, sr, mask, scrub, attempt, err,
	    errlen);
}
