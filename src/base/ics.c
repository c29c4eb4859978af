/*
 * ics: calendar entries with libical.  See ics.h.
 *
 * libical builds the object (its TEXT escaping of , ; \ and line breaks,
 * parameter quoting, the property grammar) and checks it against the iTIP
 * restrictions for its METHOD.  Its serializer is then unfolded and folded
 * again here, because it may leave a line over the 75 octets RFC 5545 3.1
 * asks for when the line holds multi-byte characters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libical/ical.h>

#include "base/ical_dl.h"
#include "base/ics.h"
#include "base/utf8.h"
#include "base/util.h"

#define ICS_FOLD	75
#define ICS_EPOCH	1577836800	/* 2020-01-01T00:00:00Z */

long
ics_sequence(time_t stamp)
{
	return stamp > ICS_EPOCH ? (long)((stamp - ICS_EPOCH) / 60) : 0L;
}

char *
ics_uid(long long appt_id, const char *installation, const char *domain)
{
	return xasprintf("appointment-%lld-%s@%s", appt_id,
	    installation != NULL && installation[0] != '\0' ? installation : "0",
	    domain != NULL && domain[0] != '\0' ? domain : "nudged.invalid");
}

/*
 * A clean copy: valid UTF-8, no control characters (C0, DEL, C1) except
 * line breaks when lines is set (as "\n"); for a parameter value (param)
 * no DQUOTE either, which a quoted parameter cannot hold.
 */
static char *
ics_clean(const char *s, int lines, int param)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	const unsigned char *run = NULL;
	struct sbuf b = { 0 };
	size_t n;

	/* what goes as it is is appended a run at a time (issue 12) */
	while (*p != '\0') {
		n = utf8_len(p);
		if (n != 0 && !(lines && (*p == '\r' || *p == '\n')) &&
		    !(n == 1 && (*p < 0x20 || *p == 0x7f || (param && *p == '"'))) &&
		    !(n == 2 && p[0] == 0xc2 && p[1] < 0xa0)) {
			if (run == NULL)
				run = p;
			p += n;
			continue;
		}
		if (run != NULL)
			sbuf_addn(&b, (const char *)run, (size_t)(p - run));
		run = NULL;
		if (lines && (*p == '\r' || *p == '\n')) {
			p += (p[0] == '\r' && p[1] == '\n') ? 2 : 1;
			sbuf_addc(&b, '\n');
		} else if (n == 0) {
			sbuf_add(&b, "\xef\xbf\xbd");
			p++;
		} else {
			sbuf_addc(&b, ' ');
			p += n;
		}
	}
	if (run != NULL)
		sbuf_addn(&b, (const char *)run, (size_t)(p - run));
	return sbuf_steal(&b);
}

/* Unfold libical's lines and fold them again at 75 octets, whole characters. */
static char *
ics_refold(const char *in)
{
	struct sbuf b = { 0 }, line = { 0 };
	const char *p = in;

	while (*p != '\0') {
		size_t n = strcspn(p, "\r\n");

		sbuf_addn(&line, p, n);
		p += n;
		p += (p[0] == '\r' && p[1] == '\n') ? 2 : (*p != '\0');
		if (*p == ' ' || *p == '\t') {	/* a continuation */
			p++;
			continue;
		}
		{
			const unsigned char *l = (const unsigned char *)sbuf_str(&line);
			size_t len = line.len, max = ICS_FOLD, cut;

			while (len > max) {
				cut = utf8_floor(l, max);
				sbuf_addn(&b, (const char *)l, cut);
				sbuf_add(&b, "\r\n ");
				l += cut;
				len -= cut;
				max = ICS_FOLD - 1;
			}
			sbuf_addn(&b, (const char *)l, len);
			sbuf_add(&b, "\r\n");
		}
		line.len = 0;
		if (line.s != NULL)
			line.s[0] = '\0';
	}
	sbuf_free(&line);
	return sbuf_steal(&b);
}

static void
ics_add_text(icalcomponent *ev, icalproperty *(*make)(const char *),
    const char *v, int lines)
{
	char *c;

	if (v == NULL || v[0] == '\0')
		return;
	c = ics_clean(v, lines, 0);
	icalcomponent_add_property(ev, make(c));
	free(c);
}

/* ORGANIZER or ATTENDEE: mailto: the address, with a CN when given. */
static void
ics_add_person(icalcomponent *ev, icalproperty *(*make)(const char *),
    const char *addr, const char *cn)
{
	icalproperty *p;
	char *a, *v;

	a = ics_clean(addr, 0, 1);
	v = xasprintf("mailto:%s", a);
	p = make(v);
	if (cn != NULL && cn[0] != '\0') {
		char *c = ics_clean(cn, 0, 1);

		icalproperty_add_parameter(p, icalparameter_new_cn(c));
		free(c);
	}
	icalcomponent_add_property(ev, p);
	free(v);
	free(a);
}

/* The first complaint libical's restriction check left in the object. */
static void
ics_restriction_error(icalcomponent *cal, char *err, size_t errlen)
{
	icalcomponent *ev = icalcomponent_get_first_component(cal,
	    ICAL_VEVENT_COMPONENT);
	icalproperty *p = NULL;

	if (ev != NULL)
		p = icalcomponent_get_first_property(ev, ICAL_XLICERROR_PROPERTY);
	if (p == NULL)
		p = icalcomponent_get_first_property(cal, ICAL_XLICERROR_PROPERTY);
	snprintf(err, errlen, "calendar entry not valid: %s", p != NULL ?
	    icalproperty_get_xlicerror(p) : "iTIP restrictions not met");
}

/*
 * icalrestriction_check() was two thirds of the instructions of sending
 * an email with its entry (callgrind, issue 12): it counts each kind of
 * property libical knows for each rule of the method.  Its verdict
 * depends only on which properties the entry holds, in what number, and
 * on the values of METHOD and STATUS, all set here by cancel; so the
 * shape (cancel and the kinds of the event's properties, in order) is the
 * key.  A shape that passed once passes again: the few seen are kept for
 * the process's life.  One that failed is checked every time (for its
 * error text).
 */
#define ICS_SHAPES	16
#define ICS_SHAPE_LEN	32

struct ics_shape {
	size_t		 n;
	unsigned short	 k[ICS_SHAPE_LEN];
};

static struct ics_shape ics_passed[ICS_SHAPES];
static size_t ics_npassed;

/* 0, or -1 when the event has too many properties to be a key. */
static int
ics_shape_of(icalcomponent *ev, int cancel, struct ics_shape *sh)
{
	icalproperty *p;

	sh->n = 0;
	sh->k[sh->n++] = cancel ? 1 : 0;
	for (p = icalcomponent_get_first_property(ev, ICAL_ANY_PROPERTY);
	    p != NULL; p = icalcomponent_get_next_property(ev, ICAL_ANY_PROPERTY)) {
		if (sh->n == ICS_SHAPE_LEN)
			return -1;
		sh->k[sh->n++] = (unsigned short)icalproperty_isa(p);
	}
	return 0;
}

static int
ics_restriction_ok(icalcomponent *cal, icalcomponent *ev, int cancel)
{
	struct ics_shape sh;
	int known;

	known = ics_shape_of(ev, cancel, &sh) == 0;
	for (size_t i = 0; known && i < ics_npassed; i++)
		if (ics_passed[i].n == sh.n && memcmp(ics_passed[i].k, sh.k,
		    sh.n * sizeof(sh.k[0])) == 0)
			return 1;
	if (!icalrestriction_check(cal))
		return 0;
	if (known && ics_npassed < ICS_SHAPES)
		ics_passed[ics_npassed++] = sh;
	return 1;
}

/* The VEVENT of e: its properties, one per field. */
static icalcomponent *
ics_vevent(const struct ics_event *e)
{
	icaltimezone *utc = icaltimezone_get_utc_timezone();
	icalcomponent *ev = icalcomponent_new(ICAL_VEVENT_COMPONENT);
	char *uid = ics_clean(e->uid, 0, 1);

	icalcomponent_add_property(ev, icalproperty_new_uid(uid));
	free(uid);
	icalcomponent_add_property(ev, icalproperty_new_sequence(
	    (int)ics_sequence(e->stamp)));
	icalcomponent_add_property(ev, icalproperty_new_dtstamp(
	    icaltime_from_timet_with_zone(e->stamp, 0, utc)));
	icalcomponent_add_property(ev, icalproperty_new_dtstart(
	    icaltime_from_timet_with_zone(e->start, 0, utc)));
	icalcomponent_add_property(ev, icalproperty_new_dtend(
	    icaltime_from_timet_with_zone(e->start +
	    (time_t)e->duration_min * 60, 0, utc)));
	ics_add_text(ev, icalproperty_new_summary,
	    e->summary != NULL && e->summary[0] != '\0' ? e->summary :
	    "Appointment", 0);
	ics_add_text(ev, icalproperty_new_location, e->location, 0);
	ics_add_text(ev, icalproperty_new_description, e->description, 1);
	if (e->url != NULL && e->url[0] != '\0') {
		char *u = ics_clean(e->url, 0, 1);

		/* a URI value: no spaces, which ics_clean may have made */
		if (strchr(u, ' ') == NULL)
			icalcomponent_add_property(ev, icalproperty_new_url(u));
		free(u);
	}
	ics_add_person(ev, icalproperty_new_organizer, e->organizer,
	    e->organizer_cn);
	if (e->cancel)
		ics_add_person(ev, icalproperty_new_attendee, e->attendee,
		    e->attendee_cn);
	icalcomponent_add_property(ev, icalproperty_new_status(e->cancel ?
	    ICAL_STATUS_CANCELLED : ICAL_STATUS_CONFIRMED));
	icalcomponent_add_property(ev, icalproperty_new_transp(ICAL_TRANSP_OPAQUE));
	return ev;
}

char *
ics_format(const struct ics_event *e, char *err, size_t errlen)
{
	icalcomponent *cal, *ev;
	char *raw, *out;

	if (e->uid == NULL || e->organizer == NULL ||
	    (e->cancel && e->attendee == NULL)) {
		snprintf(err, errlen, "calendar entry lacks %s", e->uid == NULL ?
		    "a UID" : e->organizer == NULL ? "an organizer" :
		    "the attendee a cancellation names");
		return NULL;
	}
	/* libical is opened here, at the first entry (ical_dl.h) */
	if (ical_dl_load(err, errlen) != 0)
		return NULL;
	cal = icalcomponent_new(ICAL_VCALENDAR_COMPONENT);
	icalcomponent_add_property(cal, icalproperty_new_prodid(
	    "-//nudged//nudged appointment reminders//EN"));
	icalcomponent_add_property(cal, icalproperty_new_version("2.0"));
	icalcomponent_add_property(cal, icalproperty_new_calscale("GREGORIAN"));
	/*
	 * PUBLISH, not REQUEST: a reminder informs, it does not ask the
	 * client to accept or decline (and no reply reaches nudged).
	 */
	icalcomponent_add_property(cal, icalproperty_new_method(e->cancel ?
	    ICAL_METHOD_CANCEL : ICAL_METHOD_PUBLISH));
	ev = ics_vevent(e);
	icalcomponent_add_component(cal, ev);
	if (!ics_restriction_ok(cal, ev, e->cancel)) {
		ics_restriction_error(cal, err, errlen);
		icalcomponent_free(cal);
		return NULL;
	}
	raw = icalcomponent_as_ical_string_r(cal);
	icalcomponent_free(cal);
	if (raw == NULL) {
		snprintf(err, errlen, "calendar entry could not be written");
		return NULL;
	}
	out = ics_refold(raw);
	free(raw);
	return out;
}

static int
ics_same_str(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/*
 * Every field that ics_format writes, compared: the attendee only in a
 * cancellation (PUBLISH names none), so both partners share one entry.
 */
static int
ics_same(const struct ics_event *a, const struct ics_event *b)
{
	return a->stamp == b->stamp && a->start == b->start &&
	    a->duration_min == b->duration_min && a->cancel == b->cancel &&
	    ics_same_str(a->uid, b->uid) &&
	    ics_same_str(a->summary, b->summary) &&
	    ics_same_str(a->location, b->location) &&
	    ics_same_str(a->description, b->description) &&
	    ics_same_str(a->url, b->url) &&
	    ics_same_str(a->organizer, b->organizer) &&
	    ics_same_str(a->organizer_cn, b->organizer_cn) &&
	    (!a->cancel || (ics_same_str(a->attendee, b->attendee) &&
	    ics_same_str(a->attendee_cn, b->attendee_cn)));
}

static char *
ics_dup(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

char *
ics_format_memo(struct ics_memo *m, const struct ics_event *e, char *err,
    size_t errlen)
{
	char *text;

	if (m->text != NULL && ics_same(&m->ev, e))
		return xstrdup(m->text);
	if ((text = ics_format(e, err, errlen)) == NULL)
		return NULL;
	ics_memo_free(m);
	m->ev = *e;
	m->ev.uid = ics_dup(e->uid);
	m->ev.summary = ics_dup(e->summary);
	m->ev.location = ics_dup(e->location);
	m->ev.description = ics_dup(e->description);
	m->ev.url = ics_dup(e->url);
	m->ev.organizer = ics_dup(e->organizer);
	m->ev.organizer_cn = ics_dup(e->organizer_cn);
	m->ev.attendee = ics_dup(e->attendee);
	m->ev.attendee_cn = ics_dup(e->attendee_cn);
	m->text = xstrdup(text);
	return text;
}

void
ics_memo_free(struct ics_memo *m)
{
	/* the strings are the memo's own copies (ics_format_memo) */
	free((char *)m->ev.uid);
	free((char *)m->ev.summary);
	free((char *)m->ev.location);
	free((char *)m->ev.description);
	free((char *)m->ev.url);
	free((char *)m->ev.organizer);
	free((char *)m->ev.organizer_cn);
	free((char *)m->ev.attendee);
	free((char *)m->ev.attendee_cn);
	free(m->text);
	memset(m, 0, sizeof(*m));
}
