/*
 * deliver_alert: the practitioner's failure digest after a pass, and
 * nudgectl's test sends.  Both are recorded in the outbox (purpose
 * 'alert' and 'test') like any message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/alert.h"
#include "engine/deliver_int.h"
#include "base/log.h"
#include "base/phone.h"
#include "base/tz.h"
#include "base/util.h"

/* Record the upload of the one message (struct dl_one) before its end of data. */
static int
dl_mark_one(void *arg, size_t i)
{
	struct dl_one *o = arg;
	char err[256];

	(void)i;
	if (store_mark_uploaded(o->st, o->id, NULL, err, sizeof(err)) != 0) {
		log_err("msg=%lld not sent: its upload cannot be recorded: %s",
		    o->id, err);
		return -1;
	}
	return 0;
}

/*
 * Mail the practitioner through the pass's SMTP session: the one path of
 * the failure digest, the weekly summary and the service-failed alert.
 * Called inside an open transaction (so that state the caller set there,
 * such as the time of the last digest, is committed with the claim): an
 * outbox row (purpose 'alert') is inserted and marked 'sending', that is
 * committed, the mail goes, and the outcome is recorded in a new
 * transaction left open for the caller to finish.  With no store (nudgectl
 * alert when the database cannot be opened) the mail just goes.  *res: the
 * transfer's result.  0, or -1 on a database error (nothing left open).
 */
/* The practitioner's outbox row (purpose 'alert'), due now; its id in *id. */
static int
dl_practitioner_row(struct dl *d, long long *id, char *err, size_t errlen)
{
	struct msg m = { 0 };

	m.purpose = PURPOSE_ALERT;
	m.channel = CHAN_EMAIL;
	m.recipient = d->c->practice.email;
	m.due_at = d->now;
	m.status = MSG_PENDING;
	return store_insert_msg(d->st, &m, id, err, errlen);
}

/*
 * The transfer, logged by message id with the address masked; with a
 * store, the upload is recorded before the end of data (dl_mark_one).
 * The outcome in *res, its reason in why (and err when it failed).
 */
static void
dl_practitioner_send(struct dl *d, long long id, const char *to,
    const char *data, const char *what, const char *mask,
    enum xfer_result *res, char *why, size_t whylen, char *err, size_t errlen)
{
	struct dl_one one = { 0 };
	struct xfer_mark mark = { dl_mark_one, &one };
	char scrub[512];

	if (d->ms == NULL)
		d->ms = mail_open(d->c);
	one.st = d->st;
	one.id = id;
	*res = mail_send(d->ms, to, data, d->st != NULL ? &mark : NULL, why,
	    whylen);
	if (*res == XFER_OK)
		log_info("msg=%lld purpose=alert channel=email to=%s status=sent "
		    "(%s)", id, mask, what);
	else {
		log_err("msg=%lld %s for %s could not be sent: %s", id, what, mask,
		    log_scrub(why, scrub, sizeof(scrub)));
		snprintf(err, errlen, "%s", why);
	}
}

int
dl_mail_practitioner(struct dl *d, const char *subject, const char *text,
    const char *what, enum xfer_result *res, char *err, size_t errlen)
{
	struct mail_msg mm = { 0 };
	char *msgid = NULL, *data = NULL, why[512] = "", mask[64];
	long long id = 0;
	int r = -1;

	*res = XFER_PERMFAIL;
	log_mask(d->c->practice.email, mask, sizeof(mask));
	if (d->st != NULL && dl_practitioner_row(d, &id, err, errlen) != 0)
		goto fail;
	msgid = mail_message_id(d->c->email.from, id);
	mm.from = d->c->email.from;
	mm.to_name = d->c->practice.practitioner;
	mm.to_addr = d->c->practice.email;
	mm.reply_to = d->c->practice.email;
	mm.subject = subject;
	mm.text = text;
	mm.message_id = msgid;
	mm.date = d->now;
	if ((data = mail_format(&mm, why, sizeof(why))) == NULL) {
		log_err("%s for %s not sent: %s", what, mask, why);
		if (d->st != NULL && store_mark_final(d->st, id, MSG_FAILED, why,
		    err, errlen) != 0)
			goto fail;
		r = 0;
		goto out;
	}
	if (d->st != NULL && dl_seq_claim(d->st, id, mm.to_addr, msgid, d->now,
	    err, errlen) != 0)
		goto out;
	dl_practitioner_send(d, id, mm.to_addr, data, what, mask, res, why,
	    sizeof(why), err, errlen);
	if (d->st != NULL && dl_seq_record(d->st, id, *res, msgid, why, d->now, 1,
	    err, errlen) != 0)
		goto out;
	r = 0;
	goto out;
fail:
	if (d->st != NULL)
		store_rollback(d->st);
out:
	free(msgid);
	free(data);
	return r;
}

/*
 * Compose and mail the digest inside dl_alert's transaction, then finish
 * that transaction: the failures are marked reported only once the digest
 * went, so a digest that could not go names them again next time.
 * 0, or -1 (nothing left open).
 */
static int
dl_alert_send(struct dl *d, const struct alert_in *in, char *err,
    size_t errlen)
{
	struct composed w = { 0 };
	struct compose_in ci = { .purpose = PURPOSE_ALERT, .parts = COMPOSE_EMAIL };
	char *summary = alert_summary(in), what[128];
	size_t nf = in->nfailed, nb = in->nbad;
	enum xfer_result res;
	int r = -1;

	ci.summary = summary;
	compose_msg(d->c, &ci, &w);
	snprintf(what, sizeof(what), "failure digest: %zu failed message%s, %zu "
	    "unreadable row%s", nf, nf == 1 ? "" : "s", nb, nb == 1 ? "" : "s");
	if (dl_mail_practitioner(d, w.subject, w.text, what, &res, err,
	    errlen) != 0)
		goto out;
	if (res == XFER_OK && store_alert_done(d->st, err, errlen) != 0)
		store_rollback(d->st);
	else
		r = store_commit(d->st, err, errlen);
out:
	free(summary);
	composed_free(&w);
	return r;
}

int
dl_alert(struct dl *d, char *err, size_t errlen)
{
	struct alert_in in = { 0 };
	struct msg *failed = NULL;
	struct bad_row *bad = NULL;
	size_t nf = 0, nb = 0;
	char *lasts = NULL, stamp[TZ_UTC_LEN], mask[64];
	time_t last = 0;
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
	r = dl_alert_send(d, &in, err, errlen);
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
	return r;
}

/* Claim-send-record for a test message to an email address. */
static enum xfer_result
dl_test_email(const struct conf *c, const char *to, long long id, time_t now,
    char **ref, char *why, size_t whylen)
{
	struct mail_msg mm = { 0 };
	struct mail_session *ms;
	enum xfer_result res;
	char *text, *data;

	*ref = mail_message_id(c->email.from, id);
	text = xasprintf("This is a test message from nudged for %s.\n\n"
	    "If you can read it, email reminders will reach clients.\n",
	    c->practice.name);
	mm.from = c->email.from;
	mm.to_addr = to;
	mm.reply_to = c->practice.email;
	mm.subject = "nudged test message";
	mm.text = text;
	mm.message_id = *ref;
	mm.date = now;
	data = mail_format(&mm, why, whylen);
	free(text);
	if (data == NULL)
		return XFER_PERMFAIL;
	ms = mail_open(c);
	res = mail_send(ms, to, data, NULL, why, whylen);
	mail_close(ms);
	free(data);
	return res;
}

static enum xfer_result
dl_test_sms(const struct conf *c, const char *to, char **ref, char *why,
    size_t whylen)
{
	struct sms_req req = { 0 };
	struct sms_session *ss;
	char *text = xasprintf("Test message from nudged: texts will reach "
	    "clients.");

	req.to = to;
	req.text = text;
	ss = sms_open(c);
	sms_send_batch(ss, &req, 1, NULL);
	sms_close(ss);
	free(text);
	snprintf(why, whylen, "%s", req.err);
	*ref = req.res == XFER_OK ? xstrdup(req.ref) : NULL;
	return req.res;
}

int
deliver_test(const struct conf *c, struct store *st, const char *to,
    time_t now, char *err, size_t errlen)
{
	struct msg m = { 0 };
	enum xfer_result res;
	char why[512] = "", num[32], *ref = NULL;
	long long id = 0;
	int email = strchr(to, '@') != NULL;

	m.channel = email ? CHAN_EMAIL : CHAN_SMS;
	if (!(email ? c->email.enabled : c->sms.enabled)) {
		snprintf(err, errlen, "the %s channel is off in the config",
		    chan_name(m.channel));
		return XFER_CHANNEL;
	}
	if (email && !address_valid(to)) {
		snprintf(err, errlen, "not a valid email address");
		return XFER_PERMFAIL;
	}
	if (!email && (phone_e164(to, c->sms.region, num, sizeof(num), err,
	    errlen) != 0 || phone_sms_capable(num, err, errlen) != 0))
		return XFER_PERMFAIL;
	m.purpose = PURPOSE_TEST;
	m.recipient = email ? (char *)to : num;
	m.due_at = now;
	m.status = MSG_PENDING;
	if (store_begin(st, err, errlen) != 0)
		return XFER_TEMPFAIL;
	if (store_insert_msg(st, &m, &id, err, errlen) != 0) {
		store_rollback(st);
		return XFER_TEMPFAIL;
	}
	if (dl_seq_claim(st, id, m.recipient, NULL, now, err, errlen) != 0)
		return XFER_TEMPFAIL;
	res = email ? dl_test_email(c, to, id, now, &ref, why, sizeof(why)) :
	    dl_test_sms(c, num, &ref, why, sizeof(why));
	if (dl_seq_record(st, id, res, ref, why, now, 0, err, errlen) != 0) {
		free(ref);
		return -1;	/* err names the row */
	}
	if (res != XFER_OK)
		snprintf(err, errlen, "%s", why);
	free(ref);
	return res;
}
