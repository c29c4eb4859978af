/*
 * deliver_client: what one claimed message says to its client (issue 9):
 * the words (compose), the email around them with its calendar entry, the
 * SMS text and sender, and the checks made on the words' behalf just
 * before sending (an assessment follow-up made moot by a later booking).
 *
 * Discreet clients: From is email.discreet_from (else email.from's bare
 * address, without the display name that usually is the practitioner's),
 * Reply-To email.discreet_reply_to (else practice.email), the SMS sender
 * sms.discreet_from (else sms.from); their calendar entry names neither
 * practice nor practitioner (its ORGANIZER is that neutral address, with no
 * name), and shows the address only under practice.discreet_address, the
 * same switch as the text's "Where:" line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/deliver_int.h"
#include "base/ics.h"
#include "base/log.h"
#include "base/phone.h"
#include "policy/plan.h"
#include "base/util.h"

void
dl_compose(struct dl *d, struct dl_item *x)
{
	struct compose_in in = {
		.purpose = x->m.purpose,
		.template = plan_template(d->c, &x->m, x->has_a ? &x->a : NULL),
		.appt = x->has_a ? &x->a : NULL,
		.client = x->has_cl ? &x->cl : NULL,
		.partner = x->has_partner ? &x->partner : NULL,
		.hw = x->has_hw ? &x->hw : NULL,
		.now = x->when != 0 ? x->when : d->now,
		/* only what goes: the other channel's templates cost as much */
		.parts = x->m.channel == CHAN_EMAIL ? COMPOSE_EMAIL : COMPOSE_SMS,
	};
	time_t *starts = NULL;
	struct appt shown;
	size_t n = 0;
	char err[256];

	/*
	 * The case's booked sessions give next_date/next_time (the first one
	 * after the moment the message is due: for a reminder, usually its own
	 * appointment) and a homework prompt's day_number.
	 */
	if (x->has_k && dl_case_starts(d, x->k.id, &starts, &n) == 0) {
		for (size_t i = 0; i < n && in.next_session == 0; i++)
			if (starts[i] > x->m.due_at)
				in.next_session = starts[i];
		if (x->has_hw && x->m.occurrence != NULL)
			in.day_number = plan_day_number(d->c, &x->hw,
			    x->m.occurrence, starts, n);
	}
	free(starts);
	/* A change notice says what the client knew before. */
	if (x->m.purpose == PURPOSE_MOVED && x->has_a &&
	    store_told_start(d->st, x->a.id, x->m.client_id, x->a.starts_at,
	    x->m.detail, &in.old_start, err, sizeof(err)) != 0)
		in.old_start = 0;
	/*
	 * A cancellation names the time the client was told of, which is
	 * not the appointment's when it moved without a notice reaching them;
	 * but only while that time is still ahead: a notice cancelling a time
	 * already gone reads as a mistake, and the appointment cancelled is
	 * the one still to come (whoever moved it told the client somehow).
	 */
	if (x->m.purpose == PURPOSE_CANCELLATION && x->has_a &&
	    store_last_told(d->st, x->a.id, x->m.client_id, &x->told, err,
	    sizeof(err)) == 0 && x->told != 0 && x->told != x->a.starts_at &&
	    x->told > in.now) {
		shown = x->a;
		shown.starts_at = x->told;
		in.appt = &shown;
	} else
		x->told = 0;
	compose_msg(d->c, &in, &x->w);
}

/* The words, for comparing: the channel's part(s) only. */
static int
dl_same_words(const struct composed *a, const struct composed *b)
{
	const char *const pa[] = { a->subject, a->text, a->sms, a->sms_exact };
	const char *const pb[] = { b->subject, b->text, b->sms, b->sms_exact };

	for (size_t i = 0; i < sizeof(pa) / sizeof(pa[0]); i++)
		if ((pa[i] == NULL) != (pb[i] == NULL) ||
		    (pa[i] != NULL && strcmp(pa[i], pb[i]) != 0))
			return 0;
	return 1;
}

/*
 * Whether x's words depend on the partner (its template uses
 * {{partner_first_name}}, in a value or a section): rendered without a
 * partner and with a stand-in, compared.  Asked only when the partner's
 * row cannot be read (rare): such a message is held like one whose own
 * row cannot be read, while one that never names the partner goes.
 */
int
dl_partner_needed(struct dl *d, struct dl_item *x)
{
	static char name[] = "Partner Stand-in", first[] = "Partner";
	struct composed without;
	int same;

	x->has_partner = 0;
	dl_compose(d, x);
	without = x->w;
	memset(&x->w, 0, sizeof(x->w));
	memset(&x->partner, 0, sizeof(x->partner));
	x->partner.name = name;
	x->partner.first_name = first;
	x->has_partner = 1;
	dl_compose(d, x);
	same = dl_same_words(&without, &x->w);
	/* the stand-in's strings are not ours to free (dl_item_free) */
	memset(&x->partner, 0, sizeof(x->partner));
	x->has_partner = 0;
	composed_free(&x->w);
	composed_free(&without);
	memset(&x->w, 0, sizeof(x->w));
	x->told = 0;
	return !same;
}

int
dl_moot(struct dl *d, struct dl_item *x, char *why, size_t len)
{
	time_t *starts = NULL;
	size_t n = 0;
	int moot = 0;
	struct msg m;

	if (x->m.purpose != PURPOSE_FOLLOW_UP || !x->has_a || !x->has_k)
		return 0;
	/* judged by the group it goes with (dl_compose), not the planned one */
	m = x->m;
	m.template = (char *)plan_template(d->c, &x->m, &x->a);
	if (dl_case_starts(d, x->k.id, &starts, &n) == 0)
		moot = plan_followup_moot(&m, &x->a, starts, n, why, len);
	free(starts);
	return moot;
}

const char *
dl_sms_text(const struct dl_item *x)
{
	struct sms_count n;

	/* Simplified names save nothing in a text that is UCS-2 anyway. */
	if (x->w.sms_exact != NULL) {
		sms_count(x->w.sms, &n);
		if (n.ucs2)
			return x->w.sms_exact;
	}
	return x->w.sms;
}

const char *
dl_sms_from(const struct dl *d, const struct dl_item *x)
{
	if (x->has_cl && x->cl.discreet && d->c->sms.discreet_from != NULL)
		return d->c->sms.discreet_from;
	return NULL;
}

/* The calendar entry's summary: what kind of meeting, and with whom. */
static char *
dl_ics_summary(const struct dl *d, const struct dl_item *x, int discreet)
{
	const char *what = x->a.kind == KIND_CALL ? "Phone call" :
	    x->a.kind == KIND_ASSESSMENT ? "First appointment" :
	    "Appointment";

	if (discreet)
		return xstrdup(what);
	return xasprintf("%s with %s", what, d->c->practice.practitioner);
}

/* Where and how: the link, the address, or who calls whom. */
static void
dl_ics_place(const struct dl *d, const struct dl_item *x, int discreet,
    const char **location, char **description, const char **url)
{
	const struct conf *c = d->c;
	const char *link;

	*location = *url = NULL;
	*description = NULL;
	if (x->a.mode == MODE_ONLINE) {
		link = x->a.video_url != NULL && x->a.video_url[0] != '\0' ?
		    x->a.video_url : c->practice.video_url;
		if (link == NULL || link[0] == '\0')
			return;
		*url = link;
		*location = link;
		*description = c->practice.online_note != NULL ?
		    xasprintf("Join online: %s\n\n%s", link,
		    c->practice.online_note) :
		    xasprintf("Join online: %s", link);
	} else if (x->a.mode == MODE_PHONE) {
		*location = "By phone";
		if (c->practice.calls_client)
			*description = discreet ? xstrdup("You will be called.") :
			    xasprintf("%s will call you.", c->practice.practitioner);
		else if (c->practice.phone != NULL)
			*description = discreet ?
			    xasprintf("Please call %s.", c->practice.phone) :
			    xasprintf("Please call %s on %s.",
			    c->practice.practitioner, c->practice.phone);
		else
			*description = xstrdup("Please call us.");
	} else if (!discreet || c->practice.discreet_address) {
		*location = c->practice.address;
		if (c->practice.directions != NULL)
			*description = xstrdup(c->practice.directions);
	}
}

/* The text/calendar part for x, or NULL (none due, or it failed: logged). */
static char *
dl_ics(struct dl *d, struct dl_item *x, const char *from_addr)
{
	struct ics_event ev = { 0 };
	const char *dom;
	char *uid, *summary, *desc, *name, *org = NULL, *ical;
	char err[256];
	int discreet = x->has_cl && x->cl.discreet;

	if (!d->c->email.calendar || !x->has_a ||
	    (x->m.purpose != PURPOSE_REMINDER &&
	    x->m.purpose != PURPOSE_MOVED &&
	    x->m.purpose != PURPOSE_CANCELLATION))
		return NULL;
	dom = from_addr != NULL && strchr(from_addr, '@') != NULL ?
	    strchr(from_addr, '@') + 1 : "nudged.invalid";
	uid = ics_uid(x->a.id, d->inst, dom);
	summary = dl_ics_summary(d, x, discreet);
	name = x->has_cl ? compose_oneline(x->cl.name) : NULL;
	ev.uid = uid;
	ev.stamp = d->now;
	/* a cancellation's: the entry the client has (dl_compose) */
	ev.start = x->told != 0 ? x->told : x->a.starts_at;
	ev.duration_min = x->a.duration_min;
	ev.summary = summary;
	dl_ics_place(d, x, discreet, &ev.location, &desc, &ev.url);
	ev.description = desc;
	if (discreet) {
		/* a neutral organizer, and no name at all */
		org = mail_addr_of(d->c->email.discreet_reply_to != NULL ?
		    d->c->email.discreet_reply_to : d->c->email.discreet_from);
		ev.organizer = org != NULL ? org : from_addr;
	} else {
		ev.organizer = d->c->practice.email;
		ev.organizer_cn = d->c->practice.practitioner;
	}
	ev.attendee = x->rcpt;
	ev.attendee_cn = name;
	ev.cancel = x->m.purpose == PURPOSE_CANCELLATION;
	if ((ical = ics_format_memo(&d->ics, &ev, err, sizeof(err))) == NULL)
		log_warn("msg=%lld no calendar entry attached: %s", x->m.id, err);
	free(uid);
	free(summary);
	free(desc);
	free(name);
	free(org);
	return ical;
}

char *
dl_email(struct dl *d, struct dl_item *x, char *err, size_t errlen)
{
	struct mail_msg mm = { 0 };
	char *name = x->has_cl ? compose_oneline(x->cl.name) : NULL;
	char *from = mail_addr_of(d->c->email.from);
	char *ical, *html = NULL, *data;
	int discreet = x->has_cl && x->cl.discreet;

	ical = dl_ics(d, x, from);
	/*
	 * A discreet client's mail shows no name in From: the display name
	 * is usually the practitioner's.
	 */
	if (discreet && d->c->email.discreet_from != NULL)
		mm.from = d->c->email.discreet_from;
	else
		mm.from = discreet && from != NULL ? from : d->c->email.from;
	mm.to_name = name;
	mm.to_addr = x->rcpt;
	mm.reply_to = discreet && d->c->email.discreet_reply_to != NULL ?
	    d->c->email.discreet_reply_to : d->c->practice.email;
	mm.subject = x->w.subject;
	mm.text = x->w.text;
	if (d->c->email.html)
		mm.html = html = compose_html(x->w.text);
	mm.ics = ical;
	mm.message_id = x->msgid;
	mm.date = d->now;
	data = mail_format(&mm, err, errlen);
	free(name);
	free(from);
	free(ical);
	free(html);
	return data;
}
