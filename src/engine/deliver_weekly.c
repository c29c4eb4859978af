/*
 * deliver_weekly: the weekly summary after a pass, and nudgectl alert's
 * one-off mail; both go through dl_mail_practitioner(), the digest's path.
 *
 * At most once a week, across restarts: the state key weekly.last holds
 * the weekly moment (weekly_slot) already summarised, written in the
 * transaction that marks the mail 'sending'.  A failed send puts the old
 * value back and waits alerts.every (weekly.retry) before trying again,
 * so an SMTP server that is down does not get a try in every pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/deliver_int.h"
#include "base/log.h"
#include "store/store_privacy.h"
#include "base/tz.h"
#include "base/util.h"
#include "policy/weekly.h"

/* 1 when the summary for slot is still to be sent (state as it is now). */
static int
dl_weekly_due(struct dl *d, time_t slot, char **last, char **retry)
{
	time_t t;

	if (store_state_get(d->st, "weekly.last", last) < 0 ||
	    store_state_get(d->st, "weekly.retry", retry) < 0)
		return -1;
	return !((*last != NULL && tz_parse_utc(*last, &t) == 0 && t >= slot) ||
	    (*retry != NULL && tz_parse_utc(*retry, &t) == 0 && t > d->now));
}

/*
 * Inside the transaction, the summary due: the week's figures, the state
 * moved on to slot in the transaction that marks the mail 'sending' (so
 * a crash cannot send it twice), and put back (last) with a retry time
 * when it did not go.  Finishes the transaction: 0, or -1 (nothing open).
 */
static int
dl_weekly_send(struct dl *d, time_t slot, const char *last, char *err,
    size_t errlen)
{
	struct week_stats w;
	char *subject = NULL, *text = NULL;
	char stamp[TZ_UTC_LEN], next[TZ_UTC_LEN];
	enum xfer_result res;
	time_t from;
	int r = -1;

	memset(&w, 0, sizeof(w));
	/* from the last weekly moment to this one: 7 x 24 hours but for the
	 * weeks the clocks change */
	from = weekly_shift(d->c, slot, -1);
	if (store_week_stats(d->st, from, slot, weekly_shift(d->c, slot, 1),
	    &w, err, errlen) != 0)
		goto fail;
	weekly_compose(d->c, &w, from, slot, &subject, &text);
	tz_format_utc(slot, stamp);
	if (store_state_set(d->st, "weekly.last", stamp, err, errlen) != 0 ||
	    store_state_set(d->st, "weekly.retry", NULL, err, errlen) != 0)
		goto fail;
	if (dl_mail_practitioner(d, subject, text, "weekly summary", &res, err,
	    errlen) != 0)
		goto out;
	if (res != XFER_OK) {
		tz_format_utc(d->now + d->c->alerts_every, next);
		if (store_state_set(d->st, "weekly.last", last, err, errlen) != 0 ||
		    store_state_set(d->st, "weekly.retry", next, err, errlen) != 0)
			goto fail;
	}
	r = store_commit(d->st, err, errlen);
	goto out;
fail:
	store_rollback(d->st);
	r = -1;
out:
	week_stats_free(&w);
	free(subject);
	free(text);
	return r;
}

int
dl_weekly(struct dl *d, char *err, size_t errlen)
{
	char *last = NULL, *retry = NULL;
	time_t slot;
	int r;

	if (!d->c->weekly.on || !d->c->email.enabled || d->paused[CHAN_EMAIL] != 0)
		return 0;
	slot = weekly_slot(d->c, d->now);
	/* Every pass asks; only a due summary takes the write lock. */
	if ((r = dl_weekly_due(d, slot, &last, &retry)) <= 0) {
		if (r < 0)
			snprintf(err, errlen, "cannot read the weekly summary's state");
		goto out;
	}
	free(last);
	free(retry);
	last = retry = NULL;
	if (store_begin(d->st, err, errlen) != 0)
		return -1;
	/* again inside the transaction: another process may have sent it */
	if ((r = dl_weekly_due(d, slot, &last, &retry)) < 0) {
		snprintf(err, errlen, "cannot read the weekly summary's state");
		store_rollback(d->st);
	} else if (r == 0)
		r = store_commit(d->st, err, errlen);
	else
		r = dl_weekly_send(d, slot, last, err, errlen);
out:
	free(last);
	free(retry);
	return r;
}

int
deliver_notify(const struct conf *c, struct store *st, const char *subject,
    const char *text, time_t now, char *err, size_t errlen)
{
	struct deliver_stats stats;
	struct dl d = { .c = c, .st = st, .now = now, .stats = &stats };
	enum xfer_result res = XFER_PERMFAIL;
	char dberr[512];

	memset(&stats, 0, sizeof(stats));
	if (!c->email.enabled) {
		snprintf(err, errlen, "the email channel is off in the config");
		return XFER_CHANNEL;
	}
	/* The mail matters more than its outbox row: no database, no record. */
	if (d.st != NULL && store_begin(d.st, dberr, sizeof(dberr)) != 0) {
		log_warn("the alert is sent without an outbox row: %s", dberr);
		d.st = NULL;
	}
	if (dl_mail_practitioner(&d, subject, text, "alert", &res, err,
	    errlen) == 0 && d.st != NULL &&
	    store_commit(d.st, dberr, sizeof(dberr)) != 0)
		log_warn("the alert's outbox row was not saved: %s", dberr);
	if (d.ms != NULL)
		mail_close(d.ms);
	return res;
}
