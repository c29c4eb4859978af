/*
 * deliver: one pass over the outbox.  See deliver.h.
 *
 *   plan     BEGIN IMMEDIATE; snapshot; plan_run; insert/change; COMMIT
 *   claim    BEGIN IMMEDIATE; next due row; re-read appointment, case,
 *            client; plan_recheck; render; mark 'sending'; COMMIT
 *   send     outside any transaction (a slow server never holds the lock)
 *   record   BEGIN IMMEDIATE; sent | retry | failed; COMMIT
 *
 * A channel that refuses us as a whole (login, TLS trust) is paused for
 * the rest of the pass: its messages stay pending without further tries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "compose.h"
#include "deliver.h"
#include "log.h"
#include "mail.h"
#include "phone.h"
#include "plan.h"
#include "tz.h"
#include "util.h"
#include "xfer.h"

#define CHANNEL_PAUSE	300	/* seconds a refused channel rests */

struct dl {
	const struct conf	*c;
	struct store		*st;
	time_t			 now;
	int			 dry;
	FILE			*out;
	struct deliver_stats	*stats;
	struct mail_session	*ms;
	time_t			 paused[CHAN_N];
	char			*paused_why[CHAN_N];
	time_t			 until;		/* upcoming: walk the outbox up to here */
};

/* Everything re-read for one claimed message. */
struct dl_msg {
	struct msg	 m;
	struct appt	 a;
	struct kase	 k;
	struct client	 cl;
	struct client	 partner;
	struct homework	 hw;
	int		 has_a, has_k, has_cl, has_partner, has_hw;
};

static void
dl_msg_free(struct dl_msg *x)
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
	memset(x, 0, sizeof(*x));
}

static const char *
dl_mask(const char *rcpt, char *buf, size_t len)
{
	return log_mask(rcpt, buf, len);
}

static long
dl_since(const struct conf *c)
{
	long back = 2L * 86400;

	/* Follow-ups look back at appointments that already ended. */
	for (size_t i = 0; i < c->nrules; i++)
		if (c->rules[i].after + 2L * 86400 > back)
			back = c->rules[i].after + 2L * 86400 + 86400;
	return back;
}

static int
dl_plan(struct dl *d, long horizon, char *err, size_t errlen)
{
	struct snapshot snap;
	struct plan p;
	int rc = -1;

	if (store_begin(d->st, err, errlen) != 0)
		return -1;
	if (store_snapshot(d->st, d->now - dl_since(d->c), &snap, err, errlen) != 0) {
		store_rollback(d->st);
		return -1;
	}
	plan_run(d->c, &snap, d->now, horizon, &p);
	for (size_t i = 0; i < snap.nbad; i++) {
		int r = store_note_bad(d->st, &snap.bad[i], d->now, err, errlen);

		if (r < 0)
			goto out;
		d->stats->bad_rows++;
		if (r == 1 || d->dry)
			log_warn("skipping %s row %lld: %s", snap.bad[i].table,
			    snap.bad[i].id, snap.bad[i].what);
	}
	for (size_t i = 0; i < p.nadd; i++) {
		long long id = 0;
		char mask[64];

		if (store_insert_msg(d->st, &p.add[i], &id, err, errlen) != 0)
			goto out;
		if (id == 0)
			continue;
		d->stats->planned++;
		log_debug("msg=%lld planned purpose=%s channel=%s to=%s status=%s%s%s",
		    id, p.add[i].purpose, chan_name(p.add[i].channel),
		    dl_mask(p.add[i].recipient, mask, sizeof(mask)), p.add[i].status,
		    p.add[i].last_error ? " why=" : "",
		    p.add[i].last_error ? p.add[i].last_error : "");
		if (strcmp(p.add[i].status, "skipped") == 0)
			d->stats->skipped++;
	}
	for (size_t i = 0; i < p.nchg; i++) {
		if (store_change_msg(d->st, &p.chg[i], err, errlen) != 0)
			goto out;
		log_debug("msg=%lld %s -> %s%s%s", p.chg[i].id, p.chg[i].from,
		    p.chg[i].to, p.chg[i].reason ? " why=" : "",
		    p.chg[i].reason ? p.chg[i].reason : "");
		if (strcmp(p.chg[i].to, "skipped") == 0)
			d->stats->skipped++;
		else if (strcmp(p.chg[i].to, "cancelled") == 0)
			d->stats->cancelled++;
	}
	rc = store_commit(d->st, err, errlen);
out:
	if (rc != 0)
		store_rollback(d->st);
	plan_free(&p);
	snapshot_free(&snap);
	return rc;
}

/* Fresh reads inside the claiming transaction.  -1 on a database error. */
static int
dl_load(struct dl *d, struct dl_msg *x, char *err, size_t errlen)
{
	long long case_id = 0;
	int r;

	if (x->m.appointment_id != 0) {
		r = store_get_appt(d->st, x->m.appointment_id, &x->a, err, errlen);
		if (r < 0)
			return -1;
		x->has_a = r == 1;
		if (r == 1)
			case_id = x->a.case_id;
	}
	if (x->m.homework_id != 0) {
		r = store_get_homework(d->st, x->m.homework_id, &x->hw, err, errlen);
		if (r < 0)
			return -1;
		x->has_hw = r == 1;
		if (r == 1)
			case_id = x->hw.case_id;
	}
	if (case_id != 0) {
		if ((r = store_get_case(d->st, case_id, &x->k, err, errlen)) < 0)
			return -1;
		x->has_k = r == 1;
	}
	if (x->m.client_id != 0) {
		if ((r = store_get_client(d->st, x->m.client_id, &x->cl, err, errlen)) < 0)
			return -1;
		x->has_cl = r == 1;
	}
	if (x->has_k && x->k.nmembers == 2) {
		long long other = x->k.members[0] == x->m.client_id ?
		    x->k.members[1] : x->k.members[0];

		if ((r = store_get_client(d->st, other, &x->partner, err, errlen)) < 0)
			return -1;
		x->has_partner = r == 1;
	}
	return 0;
}

static void
dl_compose(struct dl *d, struct dl_msg *x, struct composed *out)
{
	struct compose_in in = {
		.purpose = x->m.purpose,
		.template = x->m.template,
		.appt = x->has_a ? &x->a : NULL,
		.client = x->has_cl ? &x->cl : NULL,
		.partner = x->has_partner ? &x->partner : NULL,
		.hw = x->has_hw ? &x->hw : NULL,
	};

	compose_msg(d->c, &in, out);
}

/* The full email for x, or NULL with err (a permanent failure). */
static char *
dl_email(struct dl *d, struct dl_msg *x, const char *rcpt,
    const struct composed *w, const char *msgid, char *err, size_t errlen)
{
	struct mail_msg mm = { 0 };
	struct mail_ics ics = { 0 };
	char *name = x->has_cl ? compose_oneline(x->cl.name) : NULL;
	char *from = mail_addr_of(d->c->email.from);
	char *ical = NULL, *uid = NULL, *data;
	const char *dom;

	if (d->c->email.calendar && x->has_a &&
	    (strcmp(x->m.purpose, "reminder") == 0 ||
	    strcmp(x->m.purpose, "cancellation") == 0)) {
		dom = from != NULL && strchr(from, '@') ? strchr(from, '@') + 1 :
		    "nudged.invalid";
		uid = xasprintf("appointment-%lld@%s", x->a.id, dom);
		ics.uid = uid;
		ics.start = x->a.starts_at;
		ics.duration_min = x->a.duration_min;
		ics.summary = x->cl.discreet ? "Appointment" : d->c->practice.name;
		ics.location = x->cl.discreet ? NULL :
		    strcmp(x->a.mode, "in_person") == 0 ? d->c->practice.address : NULL;
		ics.organizer = d->c->practice.email;
		ics.cancel = strcmp(x->m.purpose, "cancellation") == 0;
		ics.stamp = d->now;
		ical = mail_ics_format(&ics);
	}
	mm.from = d->c->email.from;
	mm.to_name = name;
	mm.to_addr = rcpt;
	mm.reply_to = d->c->practice.email;
	mm.subject = w->subject;
	mm.text = w->text;
	mm.ics = ical;
	mm.message_id = msgid;
	mm.date = d->now;
	data = mail_format(&mm, err, errlen);
	free(name);
	free(from);
	free(ical);
	free(uid);
	return data;
}

static void
dl_print(struct dl *d, const struct dl_msg *x, time_t when, const char *rcpt,
    const struct composed *w)
{
	char due[TZ_UTC_LEN], mask[64], date[64], hm[16];

	tz_format_utc(when, due);
	tz_format_date(when, date, sizeof(date));
	tz_format_time(when, hm, sizeof(hm));
	fprintf(d->out, "%s (%s %s) %s to %s%s%s: %s, msg=%lld\n", due, date, hm,
	    chan_name(x->m.channel), x->has_cl ? x->cl.name : "",
	    x->has_cl ? " " : "", dl_mask(rcpt, mask, sizeof(mask)), x->m.purpose,
	    x->m.id);
	if (x->m.channel == CHAN_EMAIL) {
		fprintf(d->out, "  Subject: %s\n", w->subject);
		for (const char *p = w->text; *p; ) {
			size_t n = strcspn(p, "\n");

			fprintf(d->out, "  | %.*s\n", (int)n, p);
			p += n + (p[n] == '\n');
		}
	} else
		fprintf(d->out, "  | %s\n", w->sms);
	fputc('\n', d->out);
}

/* Record the outcome of one attempt; inside a transaction. */
static int
dl_record(struct dl *d, struct dl_msg *x, enum xfer_result res,
    const char *ref, const char *why, char *err, size_t errlen)
{
	int attempt = x->m.attempts + 1;
	char mask[64], scrub[512], unknown[600], reason[700];
	time_t next;

	dl_mask(x->m.recipient, mask, sizeof(mask));
	log_scrub(why, scrub, sizeof(scrub));
	switch (res) {
	case XFER_OK:
		d->stats->sent++;
		log_info("msg=%lld purpose=%s channel=%s to=%s status=sent attempt=%d",
		    x->m.id, x->m.purpose, chan_name(x->m.channel), mask, attempt);
		return store_mark_sent(d->st, x->m.id, ref, d->now, err, errlen);
	case XFER_PERMFAIL:
		d->stats->failed++;
		log_warn("msg=%lld purpose=%s channel=%s to=%s status=failed "
		    "attempt=%d err=\"%s\"", x->m.id, x->m.purpose,
		    chan_name(x->m.channel), mask, attempt, scrub);
		return store_mark_final(d->st, x->m.id, "failed", why, err, errlen);
	case XFER_CHANNEL:
		d->paused[x->m.channel] = d->now + CHANNEL_PAUSE;
		free(d->paused_why[x->m.channel]);
		d->paused_why[x->m.channel] = xstrdup(why);
		d->stats->retry++;
		log_err("channel=%s refused: %s; its messages stay pending",
		    chan_name(x->m.channel), scrub);
		return store_mark_retry(d->st, x->m.id, d->now + CHANNEL_PAUSE, why,
		    err, errlen);
	case XFER_UNKNOWN:
		if (x->m.recovered > 0) {
			/* Already resent once after an uncertain attempt. */
			d->stats->failed++;
			snprintf(reason, sizeof(reason), "outcome unknown again, not "
			    "resending (it may have arrived): %.600s", why);
			log_warn("msg=%lld channel=%s to=%s status=failed attempt=%d "
			    "err=\"outcome unknown again\"", x->m.id,
			    chan_name(x->m.channel), mask, attempt);
			return store_mark_final(d->st, x->m.id, "failed", reason,
			    err, errlen);
		}
		snprintf(unknown, sizeof(unknown), "outcome unknown (%.500s); "
		    "resending once%s", why, x->m.channel == CHAN_EMAIL ?
		    " with the same Message-ID" : "");
		why = unknown;
		break;
	case XFER_TEMPFAIL:
		break;
	}
	/* Transient: retry later, unless tries or time have run out. */
	next = d->now + plan_retry_delay(d->c, attempt, (double)random() / RAND_MAX);
	next = plan_quiet(d->c, x->m.channel, next, next);
	if (attempt >= d->c->retry.attempts ||
	    (x->has_a && strcmp(x->m.purpose, "reminder") == 0 &&
	    x->a.starts_at - next < d->c->late_limit)) {
		d->stats->failed++;
		snprintf(reason, sizeof(reason), "gave up after %d attempt%s: %.600s",
		    attempt, attempt == 1 ? "" : "s", why);
		log_warn("msg=%lld purpose=%s channel=%s to=%s status=failed "
		    "attempt=%d err=\"gave up: %s\"", x->m.id, x->m.purpose,
		    chan_name(x->m.channel), mask, attempt, scrub);
		return store_mark_final(d->st, x->m.id, "failed", reason, err, errlen);
	}
	d->stats->retry++;
	if (res == XFER_UNKNOWN) {
		/* Soon, before the recipient's memory of it fades: one resend. */
		log_warn("msg=%lld purpose=%s channel=%s to=%s status=unknown "
		    "attempt=%d err=\"%s\"", x->m.id, x->m.purpose,
		    chan_name(x->m.channel), mask, attempt, scrub);
		return store_mark_uncertain(d->st, x->m.id, next, why, err, errlen);
	}
	{
		char when[TZ_UTC_LEN];

		tz_format_utc(next, when);
		log_warn("msg=%lld purpose=%s channel=%s to=%s status=tempfail "
		    "attempt=%d next=%s err=\"%s\"", x->m.id, x->m.purpose,
		    chan_name(x->m.channel), mask, attempt, when, scrub);
	}
	return store_mark_retry(d->st, x->m.id, next, why, err, errlen);
}

static enum xfer_result
dl_send(struct dl *d, struct dl_msg *x, const char *rcpt, const char *data,
    char *why, size_t whylen)
{
	if (x->m.channel == CHAN_EMAIL) {
		if (d->ms == NULL)
			d->ms = mail_open(d->c);
		return mail_send(d->ms, rcpt, data, why, whylen);
	}
	snprintf(why, whylen, "the SMS channel is not available in this build");
	return XFER_CHANNEL;
}

/*
 * Claim, re-check and send the next due message.  1: one handled, 0: none
 * left, -1: database error.
 */
static int
dl_next(struct dl *d, char *err, size_t errlen)
{
	struct dl_msg x;
	struct composed w = { 0 };
	enum plan_verdict v;
	enum xfer_result res;
	char *rcpt = NULL, *data = NULL, *msgid = NULL;
	char why[512] = "", fmterr[256];
	time_t hold = 0, when;
	int r;

	memset(&x, 0, sizeof(x));
	if (store_begin(d->st, err, errlen) != 0)
		return -1;
	if ((r = store_next_due(d->st, d->until ? d->until : d->now, &x.m, err,
	    errlen)) <= 0) {
		if (r == 0)
			r = store_commit(d->st, err, errlen) == 0 ? 0 : -1;
		else
			store_rollback(d->st);
		return r;
	}
	if (d->paused[x.m.channel] != 0) {
		r = store_mark_retry(d->st, x.m.id, d->paused[x.m.channel],
		    x.m.last_error ? x.m.last_error : "channel paused", err, errlen);
		d->stats->retry++;
		goto commit;
	}
	if (dl_load(d, &x, err, errlen) != 0)
		goto fail;
	/* upcoming judges each message at the moment it would go */
	when = d->now;
	if (d->until != 0) {
		when = x.m.due_at > when ? x.m.due_at : when;
		when = x.m.next_at > when ? x.m.next_at : when;
	}
	v = plan_recheck(d->c, &x.m, x.has_a ? &x.a : NULL, x.has_k ? &x.k : NULL,
	    x.has_cl ? &x.cl : NULL, x.has_hw ? &x.hw : NULL, when, &rcpt,
	    &hold, why, sizeof(why));
	if (v != PLAN_SEND) {
		static const char *const st[] = {
			[PLAN_CANCEL] = "cancelled", [PLAN_SKIP] = "skipped",
			[PLAN_FAIL] = "failed",
		};

		if (d->until == 0)
			log_info("msg=%lld purpose=%s channel=%s status=%s "
			    "why=\"%s\"", x.m.id, x.m.purpose,
			    chan_name(x.m.channel), v == PLAN_HOLD ? "held" : st[v],
			    why);
		if (v == PLAN_HOLD)
			r = store_mark_retry(d->st, x.m.id, hold, why, err, errlen);
		else
			r = store_mark_final(d->st, x.m.id, st[v], why, err, errlen);
		if (v == PLAN_CANCEL)
			d->stats->cancelled++;
		else if (v == PLAN_SKIP)
			d->stats->skipped++;
		else if (v == PLAN_FAIL)
			d->stats->failed++;
		goto commit;
	}
	dl_compose(d, &x, &w);
	if (x.m.channel == CHAN_EMAIL) {
		char *from = mail_addr_of(d->c->email.from);

		msgid = x.m.provider_ref != NULL ? xstrdup(x.m.provider_ref) :
		    mail_message_id(from ? from : "nudged@nudged.invalid", x.m.id);
		free(from);
		data = dl_email(d, &x, rcpt, &w, msgid, fmterr, sizeof(fmterr));
		if (data == NULL) {
			x.m.attempts = 0;
			r = dl_record(d, &x, XFER_PERMFAIL, NULL, fmterr, err, errlen);
			goto commit;
		}
	} else
		data = xstrdup(w.sms);
	if (d->dry) {
		dl_print(d, &x, when, rcpt, &w);
		d->stats->sent++;
		/* Inside the dry run's rolled-back transaction: only to move on. */
		r = store_mark_sending(d->st, x.m.id, rcpt, msgid, d->now, err, errlen);
		if (r == 0)
			r = store_mark_sent(d->st, x.m.id, msgid, d->now, err, errlen);
		goto commit;
	}
	if (store_mark_sending(d->st, x.m.id, rcpt, msgid, d->now, err, errlen) != 0 ||
	    store_commit(d->st, err, errlen) != 0)
		goto fail;

	free(x.m.recipient);
	x.m.recipient = xstrdup(rcpt);
	why[0] = '\0';
	res = dl_send(d, &x, rcpt, data, why, sizeof(why));

	if (store_begin(d->st, err, errlen) != 0) {
		/* The row stays 'sending': start-up recovery resolves it. */
		r = -1;
		goto out;
	}
	r = dl_record(d, &x, res, msgid, why, err, errlen);
commit:
	if (r == 0 && store_commit(d->st, err, errlen) == 0) {
		r = 1;
		goto out;
	}
fail:
	store_rollback(d->st);
	r = -1;
out:
	composed_free(&w);
	free(rcpt);
	free(data);
	free(msgid);
	dl_msg_free(&x);
	return r;
}

/* Send the digest a pass owes the practitioner, if any.  -1: database error. */
static int
dl_alert(struct dl *d, char *err, size_t errlen)
{
	struct alert_in in = { 0 };
	struct msg *failed = NULL, m = { 0 };
	struct bad_row *bad = NULL;
	struct mail_msg mm = { 0 };
	struct composed w = { 0 };
	struct compose_in ci = { .purpose = "alert" };
	size_t nf = 0, nb = 0;
	char *lasts = NULL, *summary = NULL, *from = NULL, *msgid = NULL;
	char *data = NULL, stamp[TZ_UTC_LEN], why[512] = "", mask[64];
	long long id = 0;
	time_t last = 0;
	enum xfer_result res;
	int r = -1;

	if (store_begin(d->st, err, errlen) != 0)
		return -1;
	if (store_alert_items(d->st, &failed, &nf, &bad, &nb, err, errlen) != 0 ||
	    store_state_get(d->st, "alert.last", &lasts) < 0)
		goto fail;
	in.failed = failed;
	in.nfailed = nf;
	in.bad = bad;
	in.nbad = nb;
	for (int ch = 0; ch < CHAN_N; ch++)
		in.paused[ch] = d->paused_why[ch];
	if (lasts == NULL || tz_parse_utc(lasts, &last) != 0)
		last = 0;
	if (!alert_due(d->c, &in, last, d->now)) {
		r = store_commit(d->st, err, errlen);
		goto out;
	}
	tz_format_utc(d->now, stamp);
	if (store_state_set(d->st, "alert.last", stamp, err, errlen) != 0)
		goto fail;
	log_mask(d->c->practice.email, mask, sizeof(mask));
	if (!d->c->email.enabled || d->paused[CHAN_EMAIL] != 0) {
		log_err("failure digest for %s not sent: the email channel is %s; "
		    "%zu failed message%s, %zu unreadable row%s", mask,
		    d->c->email.enabled ? "refused" : "off", nf, nf == 1 ? "" : "s",
		    nb, nb == 1 ? "" : "s");
		r = store_commit(d->st, err, errlen);
		goto out;
	}
	summary = alert_summary(&in);
	ci.summary = summary;
	compose_msg(d->c, &ci, &w);
	m.purpose = "alert";
	m.channel = CHAN_EMAIL;
	m.recipient = d->c->practice.email;
	m.due_at = d->now;
	m.status = "pending";
	if (store_insert_msg(d->st, &m, &id, err, errlen) != 0)
		goto fail;
	from = mail_addr_of(d->c->email.from);
	msgid = mail_message_id(from ? from : "nudged@nudged.invalid", id);
	mm.from = d->c->email.from;
	mm.to_name = d->c->practice.practitioner;
	mm.to_addr = d->c->practice.email;
	mm.reply_to = d->c->practice.email;
	mm.subject = w.subject;
	mm.text = w.text;
	mm.message_id = msgid;
	mm.date = d->now;
	if ((data = mail_format(&mm, why, sizeof(why))) == NULL) {
		log_err("failure digest for %s not sent: %s", mask, why);
		if (store_mark_final(d->st, id, "failed", why, err, errlen) != 0)
			goto fail;
		r = store_commit(d->st, err, errlen);
		goto out;
	}
	if (store_mark_sending(d->st, id, mm.to_addr, msgid, d->now, err,
	    errlen) != 0 || store_commit(d->st, err, errlen) != 0)
		goto fail;
	if (d->ms == NULL)
		d->ms = mail_open(d->c);
	res = mail_send(d->ms, mm.to_addr, data, why, sizeof(why));
	if (store_begin(d->st, err, errlen) != 0)
		goto out;
	if (res == XFER_OK) {
		log_info("msg=%lld purpose=alert channel=email to=%s status=sent "
		    "(%zu failed message%s, %zu unreadable row%s)", id, mask, nf,
		    nf == 1 ? "" : "s", nb, nb == 1 ? "" : "s");
		if (store_mark_sent(d->st, id, msgid, d->now, err, errlen) != 0 ||
		    store_alert_done(d->st, err, errlen) != 0)
			goto fail;
	} else {
		char scrub[512];

		log_err("msg=%lld failure digest for %s could not be sent: %s", id,
		    mask, log_scrub(why, scrub, sizeof(scrub)));
		if (store_mark_final(d->st, id, "failed", why, err, errlen) != 0)
			goto fail;
	}
	r = store_commit(d->st, err, errlen);
	goto out;
fail:
	store_rollback(d->st);
	r = -1;
out:
	for (size_t i = 0; i < nf; i++)
		msg_free(&failed[i]);
	free(failed);
	for (size_t i = 0; i < nb; i++)
		bad_row_free(&bad[i]);
	free(bad);
	free(lasts);
	free(summary);
	composed_free(&w);
	free(from);
	free(msgid);
	free(data);
	return r;
}

int
deliver_pass(const struct conf *c, struct store *st, time_t now, int dry,
    FILE *out, volatile int *stop, struct deliver_stats *stats,
    char *err, size_t errlen)
{
	struct dl d = { .c = c, .st = st, .now = now, .dry = dry, .out = out,
	    .stats = stats };
	int r = 0;

	memset(stats, 0, sizeof(*stats));
	if (dry && store_dry_begin(st, err, errlen) != 0)
		return -1;
	if (dl_plan(&d, DELIVER_HORIZON, err, errlen) != 0)
		r = -1;
	while (r == 0 && (stop == NULL || !*stop)) {
		int n = dl_next(&d, err, errlen);

		if (n < 0)
			r = -1;
		if (n <= 0)
			break;
	}
	if (r == 0 && !dry && dl_alert(&d, err, errlen) != 0)
		r = -1;
	if (d.ms != NULL)
		mail_close(d.ms);
	for (int ch = 0; ch < CHAN_N; ch++)
		free(d.paused_why[ch]);
	if (r == 0) {
		long n = store_count_due(st, now, err, errlen);

		if (n < 0)
			r = -1;
		else
			stats->pending_due = n;
	}
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
	int r = 0, n;

	memset(&stats, 0, sizeof(stats));
	if (store_dry_begin(st, err, errlen) != 0)
		return -1;
	if (dl_plan(&d, until - now, err, errlen) != 0)
		r = -1;
	/*
	 * Walk the outbox up to until: each message is judged and rendered as
	 * at its due time; the rollback below forgets it all.
	 */
	d.until = until;
	while (r == 0 && (n = dl_next(&d, err, errlen)) > 0)
		;
	if (r == 0 && n < 0)
		r = -1;
	store_dry_end(st);
	if (r == 0 && stats.sent == 0)
		fprintf(out, "nothing to send until then\n");
	return r;
}

int
deliver_test(const struct conf *c, struct store *st, const char *to,
    time_t now, char *err, size_t errlen)
{
	struct msg m = { 0 };
	struct mail_msg mm = { 0 };
	struct deliver_stats stats;
	struct dl d = { .c = c, .st = st, .now = now, .stats = &stats };
	char why[512] = "", *from, *msgid, *data, *text;
	long long id = 0;
	enum xfer_result res;

	memset(&stats, 0, sizeof(stats));
	if (strchr(to, '@') == NULL) {
		snprintf(err, errlen, "SMS is not available in this build");
		return XFER_CHANNEL;
	}
	if (!c->email.enabled) {
		snprintf(err, errlen, "the email channel is off in the config");
		return XFER_CHANNEL;
	}
	if (!mail_addr_valid(to)) {
		snprintf(err, errlen, "not a valid email address");
		return XFER_PERMFAIL;
	}
	m.purpose = "test";
	m.channel = CHAN_EMAIL;
	m.recipient = (char *)to;
	m.due_at = now;
	m.status = "pending";
	if (store_begin(st, err, errlen) != 0 ||
	    store_insert_msg(st, &m, &id, err, errlen) != 0) {
		store_rollback(st);
		return XFER_TEMPFAIL;
	}
	from = mail_addr_of(c->email.from);
	msgid = mail_message_id(from ? from : "nudged@nudged.invalid", id);
	free(from);
	text = xasprintf("This is a test message from nudged for %s.\n\n"
	    "If you can read it, email reminders will reach clients.\n",
	    c->practice.name);
	mm.from = c->email.from;
	mm.to_addr = to;
	mm.reply_to = c->practice.email;
	mm.subject = "nudged test message";
	mm.text = text;
	mm.message_id = msgid;
	mm.date = now;
	data = mail_format(&mm, why, sizeof(why));
	if (data == NULL || store_mark_sending(st, id, to, msgid, now, err, errlen) != 0 ||
	    store_commit(st, err, errlen) != 0) {
		if (data == NULL)
			snprintf(err, errlen, "%s", why);
		store_rollback(st);
		free(text);
		free(msgid);
		free(data);
		return data == NULL ? XFER_PERMFAIL : XFER_TEMPFAIL;
	}
	d.ms = mail_open(c);
	res = mail_send(d.ms, to, data, why, sizeof(why));
	mail_close(d.ms);
	if (store_begin(st, err, errlen) == 0) {
		int r = res == XFER_OK ?
		    store_mark_sent(st, id, msgid, now, err, errlen) :
		    store_mark_final(st, id, "failed", why, err, errlen);

		if (r == 0)
			store_commit(st, err, errlen);
		else
			store_rollback(st);
	}
	if (res != XFER_OK)
		snprintf(err, errlen, "%s", why);
	free(text);
	free(msgid);
	free(data);
	return res;
}
