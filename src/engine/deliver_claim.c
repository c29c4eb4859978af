/*
 * deliver_claim: one due message claimed inside the batch's transaction
 * (see deliver_run.c): read fresh, re-checked against the data as it is
 * now (plan_recheck), composed and marked 'sending', or settled
 * without sending (held, skipped, cancelled, failed); --dry-run and
 * nudgectl upcoming print it instead.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/deliver_int.h"
#include "base/log.h"
#include "base/phone.h"
#include "policy/plan.h"
#include "base/tz.h"
#include "base/util.h"

void
dl_item_free(struct dl_item *x)
{
	msg_free(&x->m);
	if (x->has_a)
		appt_free(&x->a);
	if (x->has_k)
		kase_free(&x->k);
	if (x->has_cl)
		client_free(&x->cl);
	if (x->has_partner)
		client_free(&x->partner);
	if (x->has_hw)
		homework_free(&x->hw);
	composed_free(&x->w);
	free(x->rcpt);
	free(x->data);
	free(x->msgid);
	free(x->bad);
	memset(x, 0, sizeof(*x));
}
/*
 * The first row a claimed message hangs on that exists but cannot be
 * read (a booking tool's bad value): the message is held for it, never
 * cancelled as if the row were gone (dl_hold).
 */
struct dl_unread {
	const char	*table;		/* NULL: none */
	long long	 id;
	char		 what[256];
};

/* r from a store_get_* of table's row id; err holds why when unreadable. */
static int
dl_got(enum store_rc r, const char *table, long long id, struct dl_unread *u,
    char *err)
{
	if (r == STORE_UNREADABLE && u->table == NULL) {
		u->table = table;
		u->id = id;
		snprintf(u->what, sizeof(u->what), "%s", err);
	}
	return r == STORE_FOUND;
}

/* Fresh reads inside the claiming transaction.  -1 on a database error. */
static int
dl_load(struct dl *d, struct dl_item *x, struct dl_unread *u,
    struct dl_unread *pu, char *err, size_t errlen)
{
	long long case_id = 0;
	int r;

	if (x->m.appointment_id != 0) {
		r = dl_get_appt(d, x->m.appointment_id, &x->a, err, errlen);
		if (r < 0)
			return -1;
		x->has_a = dl_got(r, "appointments", x->m.appointment_id, u, err);
		if (x->has_a)
			case_id = x->a.case_id;
	}
	if (x->m.homework_id != 0) {
		r = store_get_homework(d->st, x->m.homework_id, &x->hw, err, errlen);
		if (r < 0)
			return -1;
		x->has_hw = dl_got(r, "homework", x->m.homework_id, u, err);
		if (x->has_hw)
			case_id = x->hw.case_id;
	}
	if (case_id != 0) {
		if ((r = dl_get_case(d, case_id, &x->k, err, errlen)) < 0)
			return -1;
		x->has_k = r == 1;
	}
	if (x->m.client_id != 0) {
		if ((r = dl_get_client(d, x->m.client_id, &x->cl, err, errlen)) < 0)
			return -1;
		x->has_cl = dl_got(r, "clients", x->m.client_id, u, err);
	}
	/* An unreadable partner (pu) holds only words that name them (dl_fresh). */
	if (x->has_k && x->k.nmembers == 2) {
		long long other = x->k.members[0] == x->m.client_id ?
		    x->k.members[1] : x->k.members[0];

		if ((r = dl_get_client(d, other, &x->partner, err, errlen)) < 0)
			return -1;
		x->has_partner = dl_got(r, "clients", other, pu, err);
	}
	err[0] = '\0';
	return 0;
}

/*
 * A message whose row went bad after the plan step read it (the plan step
 * reports rows bad before it): the row is reported like the plan step's
 * (problems, so the digest and nudgectl problems name it; the log once),
 * and the message stays pending, held by that problem (STORE_NOT_HELD):
 * not claimed again in this pass, due again once a pass reads the row
 * fine, cancelled by the re-check if the row is deleted.  0 or -1.
 */
static int
dl_hold(struct dl *d, struct dl_item *x, const struct dl_unread *u,
    char *err, size_t errlen)
{
	struct bad_row b = { (char *)u->table, u->id, (char *)u->what };
	enum store_rc r = store_note_bad(d->st, &b, d->now, err, errlen);
	char why[128];

	if (r == STORE_ERR)
		return -1;
	if (r == STORE_NEW || d->dry) {
		d->stats->bad_rows++;
		log_warn("skipping %s row %lld: %s", u->table, u->id, u->what);
	}
	snprintf(why, sizeof(why), STORE_HELD_WHY, u->table, u->id);
	if (d->until == 0)
		log_info("msg=%lld purpose=%s channel=%s status=held why=\"%s\"",
		    x->m.id, msg_purpose_name(x->m.purpose),
		    chan_name(x->m.channel), why);
	return store_mark_retry(d->st, x->m.id, x->m.next_at, why, err, errlen);
}

/* dl_load, then dl_hold when a row is unreadable: 0 loaded, 1 held, -1. */
static int
dl_fresh(struct dl *d, struct dl_item *x, char *err, size_t errlen)
{
	struct dl_unread u = { 0 }, pu = { 0 };

	if (dl_load(d, x, &u, &pu, err, errlen) != 0)
		return -1;
	/* {{partner_first_name}} would render empty: held as for its own rows */
	if (u.table == NULL && pu.table != NULL && dl_partner_needed(d, x))
		u = pu;
	if (u.table == NULL)
		return 0;
	return dl_hold(d, x, &u, err, errlen) == 0 ? 1 : -1;
}

static void
dl_print(struct dl *d, const struct dl_item *x)
{
	char due[TZ_UTC_LEN], mask[64], date[64], hm[16];

	tz_format_utc(x->when, due);
	tz_format_date(x->when, date, sizeof(date));
	tz_format_time(x->when, hm, sizeof(hm));
	fprintf(d->out, "%s (%s %s) %s to %s%s%s: %s", due, date, hm,
	    chan_name(x->m.channel), x->has_cl ? x->cl.name : "",
	    x->has_cl ? " " : "", log_mask(x->rcpt, mask, sizeof(mask)),
	    msg_purpose_name(x->m.purpose));
	/* A row planned only in the preview's private copy has no real id yet. */
	if (x->m.id <= d->known)
		fprintf(d->out, ", msg=%lld\n", x->m.id);
	else
		fprintf(d->out, ", not yet in the outbox\n");
	if (x->m.channel == CHAN_EMAIL)
		fprintf(d->out, "  Subject: %s\n", x->w.subject);
	/* an SMS may hold line breaks too (after a link) */
	for (const char *p = x->m.channel == CHAN_EMAIL ? x->w.text : x->data;
	    *p; ) {
		size_t n = strcspn(p, "\n");

		fprintf(d->out, "  | %.*s\n", (int)n, p);
		p += n + (p[n] == '\n');
	}
	if (x->m.channel == CHAN_SMS) {
		struct sms_count n;

		/* what it costs: the count the provider bills */
		sms_count(x->data, &n);
		fprintf(d->out, "  (%d SMS segment%s, %s)\n", n.segments,
		    n.segments == 1 ? "" : "s", n.ucs2 ? "UCS-2" : "GSM-7");
	}
	fputc('\n', d->out);
}

/* 1 when upcoming has listed held message id already. */
static int
dl_held_shown(const struct dl *d, long long id)
{
	for (size_t i = 0; i < d->n_held_shown; i++)
		if (d->held_shown[i] == id)
			return 1;
	return 0;
}

/*
 * upcoming lists the messages an unreadable row holds too, where their due
 * time puts them among the others (a practitioner reads the list as a
 * timeline), with the reason and without text: the row they need cannot
 * be read.  Asked again before each listed message, not read once: the
 * walk itself may hold more (a row that went bad after its plan step).
 */
int
dl_print_held(struct dl *d, time_t upto, char *err, size_t errlen)
{
	char due[TZ_UTC_LEN], mask[64], date[64], hm[16];
	struct msg *v;
	size_t n;

	if (store_held_list(d->st, upto, &v, &n, err, errlen) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct msg *m = &v[i];
		const char *why = m->last_error != NULL &&
		    strncmp(m->last_error, "held: ", 6) == 0 ?
		    m->last_error + 6 : "a row it needs cannot be read";

		if (!dl_held_shown(d, m->id)) {
			d->held_shown = xrealloc(d->held_shown,
			    (d->n_held_shown + 1) * sizeof(*d->held_shown));
			d->held_shown[d->n_held_shown++] = m->id;
			tz_format_utc(m->due_at, due);
			tz_format_date(m->due_at, date, sizeof(date));
			tz_format_time(m->due_at, hm, sizeof(hm));
			fprintf(d->out, "%s (%s %s) %s to %s: %s, msg=%lld\n",
			    due, date, hm, chan_name(m->channel),
			    log_mask(m->recipient, mask, sizeof(mask)),
			    msg_purpose_name(m->purpose), m->id);
			fprintf(d->out, "  HELD: %s; it goes at the first pass "
			    "after the row is fixed (see nudgectl problems)\n\n",
			    why);
		}
		msg_free(&v[i]);
	}
	free(v);
	return 0;
}

/*
 * A message the re-check will not send: held, failed (with the fallback),
 * cancelled or skipped, inside the claim's transaction.  0 or -1.
 */
static int
dl_settle(struct dl *d, struct dl_item *x, enum plan_verdict v,
    const char *why, time_t hold, char *err, size_t errlen)
{
	static const char *const verdict[] = {
		[PLAN_CANCEL] = "cancelled", [PLAN_SKIP] = "skipped",
		[PLAN_FAIL] = "failed", [PLAN_HOLD] = "held",
	};
	char scrub[600];

	assert(v != PLAN_SEND);
	/* failures are logged by dl_fail, with the fallback taken */
	if (d->until == 0 && v != PLAN_FAIL)
		log_info("msg=%lld purpose=%s channel=%s status=%s why=\"%s\"",
		    x->m.id, msg_purpose_name(x->m.purpose),
		    chan_name(x->m.channel), verdict[v],
		    log_scrub(why, scrub, sizeof(scrub)));
	if (v == PLAN_CANCEL)
		d->stats->cancelled++;
	else if (v == PLAN_SKIP)
		d->stats->skipped++;
	if (v == PLAN_HOLD)
		return store_mark_hold(d->st, x->m.id, hold, why, err, errlen);
	if (v == PLAN_FAIL)
		return dl_fail(d, x, why, err, errlen);
	return store_mark_final(d->st, x->m.id,
	    v == PLAN_CANCEL ? MSG_CANCELLED : MSG_SKIPPED, why, err, errlen);
}

/* The monotonic clock, in seconds (deliver_run.c times its exchanges by it). */
double
dl_mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/*
 * The pass's now moved on by the time the pass has taken (a live pass's
 * clock; --now stands still).  Whole seconds, as every time nudged stores.
 */
time_t
dl_clock(const struct dl *d)
{
	return d->t0 == 0 ? d->now : d->now + (time_t)(dl_mono() - d->t0);
}

/* The re-check against fresh data, at the moment the message would go. */
static enum plan_verdict
dl_recheck(struct dl *d, struct dl_item *x, time_t *hold, char *why,
    size_t whylen)
{
	enum plan_verdict v;

	/* upcoming judges each message at the moment it would go */
	x->when = d->now;
	if (d->until != 0) {
		x->when = x->m.due_at > x->when ? x->m.due_at : x->when;
		x->when = x->m.next_at > x->when ? x->m.next_at : x->when;
	}
	v = plan_recheck(d->c, &x->m, x->has_a ? &x->a : NULL,
	    x->has_k ? &x->k : NULL, x->has_cl ? &x->cl : NULL,
	    x->has_hw ? &x->hw : NULL, x->when, &x->rcpt, hold, why, whylen);
	/*
	 * The contract judges lateness at the pass's start; but a pass
	 * behind a slow server may send for hours, and no message may go
	 * after its appointment began or inside quiet hours, whenever the
	 * pass started.
	 */
	if (v == PLAN_SEND && d->t0 != 0 && (v = plan_recheck_live(d->c,
	    &x->m, x->has_a ? &x->a : NULL, dl_clock(d), hold, why,
	    whylen)) != PLAN_SEND) {
		free(x->rcpt);
		x->rcpt = NULL;
	}
	/* Sendable, but pointless now (dl_moot): skipped like the planner's. */
	if (v == PLAN_SEND && dl_moot(d, x, why, whylen))
		return PLAN_SKIP;
	return v;
}

/* --dry-run and upcoming: print it, and mark it only to move on. */
static int
dl_dry(struct dl *d, struct dl_item *x, char *err, size_t errlen)
{
	/* upcoming: the held ones due by then go before it, in due order */
	if (d->until != 0 && dl_print_held(d, x->when, err, errlen) != 0)
		return -1;
	dl_print(d, x);
	d->stats->sent++;
	/* Inside the dry run's rolled-back transaction: only to move on. */
	if (store_mark_sending(d->st, x->m.id, x->rcpt, x->msgid, d->now, err,
	    errlen) != 0)
		return -1;
	return store_mark_sent(d->st, x->m.id, x->msgid, d->now, err, errlen);
}

/*
 * The bytes that go: the email (its Message-ID was given at the claim)
 * or the SMS text.  0, or -1 with why when it can never go.  No database:
 * deliver_run.c renders a batch outside the claim's transaction, while
 * the batch before it is being sent.
 */
int
dl_render(struct dl *d, struct dl_item *x, char *why, size_t whylen)
{
	struct sms_count n;

	if (x->m.channel == CHAN_EMAIL) {
		x->data = dl_email(d, x, why, whylen);
		return x->data != NULL ? 0 : -1;
	}
	sms_count(dl_sms_text(x), &n);
	if (n.segments > d->c->sms.max_segments) {
		snprintf(why, whylen, "the text is %d segments long (%s), over "
		    "max_segments = %ld", n.segments, n.ucs2 ? "UCS-2" : "GSM-7",
		    d->c->sms.max_segments);
		return -1;
	}
	x->data = xstrdup(dl_sms_text(x));
	return 0;
}

/*
 * A due message of a channel that cannot take it in this pass waits
 * without a try: 1 when so marked, 0 to claim it, -1.
 */
static int
dl_wait(struct dl *d, struct dl_item *x, char *err, size_t errlen)
{
	/*
	 * The channel refused us in this pass: no more tries for now.  Too
	 * late to wait: claimed, held back unstarted, given up (dl_paused).
	 */
	if (d->paused[x->m.channel] != 0 && !dl_pause_too_late(d, x)) {
		d->stats->retry++;
		return store_mark_retry(d->st, x->m.id, d->paused[x->m.channel],
		    x->m.last_error ? x->m.last_error : "channel paused", err,
		    errlen) == 0 ? 1 : -1;
	}
	/* Its server gave no connection in this pass (dl_down_wait). */
	return dl_down_wait(d, x, err, errlen);
}

/*
 * Claim the next due message inside the caller's open transaction (the
 * batch's, see deliver_run.c): re-check it, compose it, mark it 'sending'
 * (dl_render makes its bytes after the commit), or settle it without
 * sending (a preview renders and prints it here).  x is filled in every case (free it with
 * dl_item_free).  On DL_CLAIM_ERROR the caller rolls the transaction back.
 */
enum dl_claimed
dl_claim_row(struct dl *d, struct dl_item *x, char *err, size_t errlen)
{
	enum plan_verdict v;
	char why[512] = "";
	time_t hold = 0;
	enum store_rc due;
	char *det;
	int r;

	memset(x, 0, sizeof(*x));
	due = store_next_due_upto(d->st, d->until ? d->until : d->now,
	    d->planned, &x->m, err, errlen);
	if (due != STORE_FOUND)
		return due == STORE_GONE ? DL_CLAIM_NONE : DL_CLAIM_ERROR;
	if ((r = dl_wait(d, x, err, errlen)) != 0 ||
	    (r = dl_fresh(d, x, err, errlen)) != 0)
		return r < 0 ? DL_CLAIM_ERROR : DL_CLAIM_SETTLED;
	if ((v = dl_recheck(d, x, &hold, why, sizeof(why))) != PLAN_SEND) {
		r = dl_settle(d, x, v, why, hold, err, errlen);
		goto settled;
	}
	dl_compose(d, x);
	/* the details it goes out with: a later change is noticed (plan_moves) */
	det = x->has_a ? plan_detail(d->c, &x->a) : NULL;
	/* kept across resends: a server that saw it once sees the same id */
	if (x->m.channel == CHAN_EMAIL)
		x->msgid = x->m.provider_ref != NULL ?
		    xstrdup(x->m.provider_ref) :
		    mail_message_id(d->c->email.from, x->m.id);
	if (d->dry) {
		r = det != NULL ? store_msg_set_detail(d->st, x->m.id, det, err,
		    errlen) : 0;
		free(det);
		if (r != 0)
			return DL_CLAIM_ERROR;
		if (dl_render(d, x, why, sizeof(why)) != 0)
			r = dl_fail(d, x, why, err, errlen);
		else
			r = dl_dry(d, x, err, errlen);
		goto settled;
	}
	r = store_mark_sending_with(d->st, x->m.id, x->rcpt, x->msgid, det,
	    d->now, err, errlen);
	free(det);
	if (r != 0)
		return DL_CLAIM_ERROR;
	free(x->m.recipient);
	x->m.recipient = xstrdup(x->rcpt);
	return DL_CLAIM_SEND;
settled:
	return r == 0 ? DL_CLAIM_SETTLED : DL_CLAIM_ERROR;
}
