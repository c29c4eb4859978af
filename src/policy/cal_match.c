/*
 * cal_match: events -> book/move/cancel/unmatched decisions.  See
 * cal_match.h for the rules.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/cal_match.h"
#include "base/tz.h"
#include "base/util.h"

static struct cal_dec *
cal_add(struct cal_plan *p, enum cal_act act, const struct cal_event *ev,
    const char *key)
{
	struct cal_dec *d;

	p->v = xrealloc(p->v, (p->n + 1) * sizeof(*p->v));
	d = &p->v[p->n++];
	memset(d, 0, sizeof(*d));
	d->act = act;
	d->ev = ev;
	d->key = xstrdup(key);
	return d;
}

/* ------------------------------------------------------------ words */

/* 1 when word occurs in s on word boundaries, case ignored. */
static int
cal_has_word(const char *s, const char *word)
{
	size_t n = strlen(word);
	const char *p;

	for (p = s; s != NULL && (p = strcasestr(p, word)) != NULL; p++) {
		if ((p == s || !isalnum((unsigned char)p[-1])) &&
		    !isalnum((unsigned char)p[n]))
			return 1;
	}
	return 0;
}

static int
cal_is_phone(const char *loc)
{
	int digits = 0;

	if (loc == NULL)
		return 0;
	if (cal_has_word(loc, "phone") || cal_has_word(loc, "telephone"))
		return 1;
	for (const char *p = loc; *p != '\0'; p++) {
		if (isdigit((unsigned char)*p))
			digits++;
		else if (strchr("+-() .", *p) == NULL)
			return 0;
	}
	return digits >= 7;
}

static void
cal_kind_mode(const struct cal_event *e, const struct cal_match_opts *o,
    struct cal_dec *d)
{
	(void)o;
	if (e->summary != NULL && strcasestr(e->summary, "assessment") != NULL)
		d->kind = KIND_ASSESSMENT;
	else if (cal_has_word(e->summary, "call") && e->duration_min <= 30)
		d->kind = KIND_CALL;
	else
		d->kind = KIND_SESSION;
	free(d->video_url);
	d->video_url = NULL;
	if (e->url != NULL) {
		d->mode = MODE_ONLINE;
		d->video_url = xstrdup(e->url);
	} else if (d->kind == KIND_CALL || cal_is_phone(e->location))
		d->mode = MODE_PHONE;
	else
		d->mode = MODE_IN_PERSON;
	d->start = e->start;
	d->duration_min = e->duration_min;
}

/* ----------------------------------------------------------- matching */

/* The text inside the first [...] of the summary, trimmed; caller frees. */
static char *
cal_bracket(const char *s)
{
	const char *a, *b;

	if (s == NULL || (a = strchr(s, '[')) == NULL ||
	    (b = strchr(a + 1, ']')) == NULL)
		return NULL;
	for (a++; a < b && isspace((unsigned char)*a); a++)
		;
	while (b > a && isspace((unsigned char)b[-1]))
		b--;
	return b > a ? xstrndup(a, (size_t)(b - a)) : NULL;
}

/* What looking for an event's case found (cal_by_label, cal_by_attendee). */
enum cal_hit {
	CAL_HIT_NONE,		/* no case */
	CAL_HIT_ONE,		/* exactly one open case: *id */
	CAL_HIT_CLOSED,		/* only closed ones */
	CAL_HIT_SEVERAL		/* more than one open case */
};

/* The open case labelled label (letter case aside). */
static enum cal_hit
cal_by_label(const char *label, const struct cal_case *cs, size_t n,
    long long *id)
{
	int found = 0, closed = 0;

	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(cs[i].label, label) != 0)
			continue;
		if (cs[i].closed) {
			closed = 1;
			continue;
		}
		if (found)
			return CAL_HIT_SEVERAL;
		found = 1;
		*id = cs[i].id;
	}
	return found ? CAL_HIT_ONE : closed ? CAL_HIT_CLOSED : CAL_HIT_NONE;
}

static int
cal_case_has(const struct cal_case *c, const char *email)
{
	for (size_t i = 0; i < c->nemails; i++)
		if (strcasecmp(c->emails[i], email) == 0)
			return 1;
	return 0;
}

/* The same from the attendees (which: the several cases' ids). */
static enum cal_hit
cal_by_attendee(const struct cal_event *e, const struct cal_case *cs, size_t n,
    const char *practice, long long *id, struct sbuf *which)
{
	int found = 0, closed = 0;

	for (size_t i = 0; i < n; i++) {
		int hit = 0;

		for (size_t j = 0; j < e->nattendees && !hit; j++)
			hit = (practice == NULL ||
			    strcasecmp(e->attendees[j], practice) != 0) &&
			    cal_case_has(&cs[i], e->attendees[j]);
		if (!hit)
			continue;
		if (cs[i].closed) {
			closed = 1;
			continue;
		}
		sbuf_printf(which, "%s%lld", found ? ", " : "", cs[i].id);
		found++;
		*id = cs[i].id;
	}
	return found == 1 ? CAL_HIT_ONE : found > 1 ? CAL_HIT_SEVERAL :
	    closed ? CAL_HIT_CLOSED : CAL_HIT_NONE;
}

/* The event's case: 0 with *id, or -1 with *why (caller frees). */
static int
cal_find_case(const struct cal_event *e, const struct cal_case *cs, size_t n,
    const struct cal_match_opts *o, long long *id, char **why)
{
	struct sbuf which = { 0 };
	char *label = NULL;
	enum cal_hit r = CAL_HIT_NONE, ra = CAL_HIT_NONE;

	*why = NULL;
	if (e->case_label != NULL)
		label = xstrdup(e->case_label);
	else if (o->by_label)
		label = cal_bracket(e->summary);
	if (label != NULL &&
	    (r = cal_by_label(label, cs, n, id)) == CAL_HIT_ONE)
		goto found;
	if (e->case_label == NULL && o->by_attendee &&
	    (ra = cal_by_attendee(e, cs, n, o->practice_email, id,
	    &which)) == CAL_HIT_ONE)
		goto found;
	if (r == CAL_HIT_CLOSED)
		*why = xasprintf("case '%s' is closed", label);
	else if (r == CAL_HIT_SEVERAL)
		*why = xasprintf("several cases are labelled '%s'", label);
	else if (ra == CAL_HIT_SEVERAL)
		*why = xasprintf("attendees belong to several cases (%s): put "
		    "[case label] in the summary", sbuf_str(&which));
	else if (ra == CAL_HIT_CLOSED)
		*why = xasprintf("the attendee's case is closed");
	else if (label != NULL)
		*why = xasprintf("no case labelled '%s'", label);
	else if (e->case_label == NULL && o->by_attendee && e->nattendees > 0)
		*why = xasprintf("no client has an attendee's email address");
	else
		*why = xasprintf("no [case label] in the summary%s",
		    o->by_attendee && e->case_label == NULL ?
		    " and no attendee" : "");
	free(label);
	sbuf_free(&which);
	return -1;
found:
	free(label);
	sbuf_free(&which);
	return 0;
}

static const struct cal_appt *
cal_appt_by_key(const struct cal_appt *as, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (as[i].key != NULL && strcmp(as[i].key, key) == 0)
			return &as[i];
	return NULL;
}

static int
cal_str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Cancel appointment a (why: the reason, which it takes). */
static void
cal_cancel(struct cal_plan *p, const struct cal_event *e, const char *key,
    const struct cal_appt *a, char *why)
{
	struct cal_dec *d = cal_add(p, CAL_CANCEL, e, key);

	d->appt_id = a->id;
	d->case_id = a->case_id;
	d->start = a->start;
	d->why = why;
}

/* Event e matched case id: book, move, rebook, update or keep a. */
static void
cal_decide(struct cal_plan *p, const struct cal_event *e, const char *key,
    const struct cal_appt *a, long long id, const struct cal_match_opts *o)
{
	struct cal_dec *d, tmp = { 0 };
	enum cal_act act = CAL_KEEP;

	cal_kind_mode(e, o, &tmp);
	if (a == NULL)
		act = CAL_BOOK;
	else if (a->cancelled)	/* at the same time: stays cancelled */
		act = a->start == e->start ? CAL_KEEP : CAL_REBOOK;
	else if (a->start != e->start)
		act = CAL_MOVE;
	else if (a->duration_min != e->duration_min ||
	    a->mode != tmp.mode ||
	    !cal_str_eq(a->video_url, tmp.video_url))
		act = CAL_UPDATE;
	d = cal_add(p, act, e, key);
	d->appt_id = a != NULL ? a->id : 0;
	d->old_start = a != NULL ? a->start : 0;
	d->case_id = id;
	d->kind = tmp.kind;
	d->mode = tmp.mode;
	d->video_url = tmp.video_url;
	d->start = tmp.start;
	d->duration_min = tmp.duration_min;
}

/*
 * The same event in two feeds: the feed that booked *a keeps it (1, KEEP,
 * with no appt_id: nothing to take over).  Cancelled there or with
 * nudgectl, at this time, it stays cancelled: this feed's copy may only be
 * older.  Back at a new time, this feed books it (0, *a NULL).  0, and
 * this feed takes it over (store_cal_apply), when it cancels it (a
 * calendar's cancellation is no glitch; the other feed may lag, or be
 * gone from the config) and when the other feed found it missing (the
 * event moved from that calendar to this one).  0 too when *a is not
 * another feed's.
 */
static int
cal_other_feed(struct cal_plan *p, const struct cal_event *e, const char *key,
    const struct cal_appt **a)
{
	struct cal_dec *d;

	if (*a == NULL || (*a)->other != 2)
		return 0;
	if ((*a)->cancelled && (*a)->start != e->start) {
		*a = NULL;
		return 0;
	}
	if (!(*a)->cancelled && (e->status == CAL_CANCELLED ||
	    (*a)->misses >= 1))
		return 0;
	d = cal_add(p, CAL_KEEP, e, key);
	d->start = e->start;
	return 1;
}

/*
 * Event e no longer matches the case of a, which is kept: a changed address
 * or summary is no cancellation.  It is the same event (one key), so it
 * still moves or updates a; and it is listed as unmatched.
 */
static void
cal_kept(struct cal_plan *p, const struct cal_event *e, const char *key,
    const struct cal_appt *a, const char *why, const struct cal_match_opts *o)
{
	struct cal_dec *d;

	cal_decide(p, e, key, a, a->case_id, o);
	d = cal_add(p, CAL_UNMATCHED, e, key);
	d->start = e->start;
	d->appt_id = a->id;
	d->why = xasprintf("booked as appointment %lld, but no longer matches "
	    "its case (%s): kept as it is", a->id, why);
}

static void
cal_one(const struct cal_event *e, const struct cal_case *cs, size_t ncs,
    const struct cal_appt *as, size_t nas, const struct cal_match_opts *o,
    struct cal_plan *p)
{
	char *key = cal_event_key(e), *why = NULL;
	const struct cal_appt *a = cal_appt_by_key(as, nas, key);
	struct cal_dec *d;
	long long id = 0;

	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].key, key) == 0)
			goto out;	/* the same UID twice: the first counts */
	if (e->beyond && (a == NULL || a->cancelled))
		goto out;	/* booked once it comes into the window */
	if (cal_other_feed(p, e, key, &a))
		goto out;
	if (a != NULL && a->other && !o->full) {
		/* a feed's appointment: the feed keeps it up to date */
		d = cal_add(p, CAL_KEEP, e, key);
		d->appt_id = a->id;
		d->start = e->start;
	} else if (e->status == CAL_CANCELLED) {
		if (a != NULL && !a->cancelled)
			cal_cancel(p, e, key, a,
			    xstrdup("cancelled in the calendar"));
	} else if (cal_find_case(e, cs, ncs, o, &id, &why) != 0) {
		if (a != NULL && !a->cancelled && e->declined > 0)
			cal_cancel(p, e, key, a, xasprintf("declined: no longer "
			    "matches its case: %s", why));
		else if (a != NULL && !a->cancelled)
			cal_kept(p, e, key, a, why, o);
		else if (a == NULL) {
			d = cal_add(p, CAL_UNMATCHED, e, key);
			d->start = e->start;
			d->why = why;
			why = NULL;
		}
	} else if (a != NULL && a->case_id != id) {
		d = cal_add(p, CAL_UNMATCHED, e, key);
		d->start = e->start;
		d->appt_id = a->id;
		d->why = xasprintf("booked as appointment %lld for case %lld, but "
		    "now matches case %lld: change it with nudgectl", a->id,
		    a->case_id, id);
	} else
		cal_decide(p, e, key, a, id, o);
out:
	free(why);
	free(key);
}

/* 1 when key belongs to an event that could not be read. */
static int
cal_key_bad(const struct cal_events *ev, const char *key)
{
	for (size_t i = 0; i < ev->nbad; i++) {
		size_t n = strlen(ev->bad[i].uid);

		if (n > 0 && strncmp(key, ev->bad[i].uid, n) == 0 &&
		    (key[n] == '\0' || key[n] == ';'))
			return 1;
	}
	return 0;
}

static int
cal_key_seen(const struct cal_events *ev, const char *key)
{
	for (size_t i = 0; i < ev->n; i++) {
		size_t n = strlen(ev->v[i].uid);
		const char *rid = ev->v[i].rid;

		if (strncmp(key, ev->v[i].uid, n) != 0)
			continue;
		if (rid[0] == '\0' ? key[n] == '\0' :
		    strncmp(key + n, ";RECURRENCE-ID=", 15) == 0 &&
		    strcmp(key + n + 15, rid) == 0)
			return 1;
	}
	return 0;
}

static int
cal_same_day(time_t a, time_t b)
{
	struct tm ta, tb;

	tz_to_local(a, &ta);
	tz_to_local(b, &tb);
	return ta.tm_year == tb.tm_year && ta.tm_yday == tb.tm_yday;
}

/*
 * Google Calendar's "this and following events" ends the series (UNTIL)
 * and carries the rest on as a new one whose UID is the old one with
 * "_R" and the first new start before the "@": "abc@google.com" becomes
 * "abc_R20261215T100000@google.com".  1 when uid is that of a series
 * carried on from the series whose UID is the first n bytes of key.
 */
static int
cal_split_at(const char *uid, const char *key, size_t n, size_t base,
    size_t local)
{
	size_t stamp;

	if (base == 0 || strncmp(uid, key, base) != 0 ||
	    strncmp(uid + base, "_R", 2) != 0)
		return 0;
	uid += base + 2;
	stamp = strspn(uid, "0123456789TZ");
	return stamp >= 8 && strlen(uid + stamp) == n - local &&
	    strncmp(uid + stamp, key + local, n - local) == 0;
}

/*
 * The same, also when key's series was itself carried on ("abc_R1@d"):
 * split again, Google builds the new UID from the base ("abc_R2@d"), or
 * adds to it ("abc_R1_R2@d").
 */
static int
cal_split_of(const char *uid, const char *key, size_t n)
{
	const char *at = memchr(key, '@', n);
	size_t local = at != NULL ? (size_t)(at - key) : n, base;

	if (cal_split_at(uid, key, n, local, local))
		return 1;
	for (base = local; base >= 2; base--)
		if (key[base - 2] == '_' && key[base - 1] == 'R')
			break;
	return base >= 2 && local - base >= 8 &&
	    strspn(key + base, "0123456789TZ") == local - base &&
	    cal_split_at(uid, key, n, base - 2, local);
}

/* 1 when the appointment's key is an instance of series uid, or of the one uid carries on. */
static int
cal_same_series(const char *key, const char *uid)
{
	const char *rid = strstr(key, ";RECURRENCE-ID=");
	size_t n = strlen(uid);

	if (rid == NULL)
		return 0;
	if ((size_t)(rid - key) == n && strncmp(key, uid, n) == 0)
		return 1;
	return cal_split_of(uid, key, (size_t)(rid - key));
}

/*
 * A series moved as a whole ("all events" at 11:00 instead of 10:00)
 * gives every instance a new RECURRENCE-ID: a new instance of the same
 * UID on the same local day as a booked one the calendar no longer has,
 * for the same case, moves it (and takes its key) instead of booking a
 * second appointment and cancelling the first.  So does an instance of
 * the series Google carries on after "this and following events"
 * (cal_split_of).  paired[] marks the appointments so used.
 */
static void
cal_pair_series(const struct cal_events *ev, const struct cal_appt *as,
    size_t nas, struct cal_plan *p, char *paired)
{
	for (size_t i = 0; i < p->n; i++) {
		struct cal_dec *d = &p->v[i];

		if (d->act != CAL_BOOK || d->ev == NULL || d->ev->rid[0] == '\0')
			continue;
		for (size_t j = 0; j < nas; j++) {
			const struct cal_appt *a = &as[j];

			if (paired[j] || a->cancelled || a->other || a->key == NULL ||
			    a->case_id != d->case_id ||
			    !cal_same_series(a->key, d->ev->uid) ||
			    cal_key_seen(ev, a->key) || !cal_same_day(a->start, d->start))
				continue;
			paired[j] = 1;
			d->act = a->start == d->start ? CAL_UPDATE : CAL_MOVE;
			d->appt_id = a->id;
			d->old_start = a->start;
			break;
		}
	}
}

void
cal_match(const struct cal_events *ev, const struct cal_case *cs, size_t ncs,
    const struct cal_appt *as, size_t nas, const struct cal_match_opts *o,
    struct cal_plan *p)
{
	struct cal_dec *d;
	char *paired = xcalloc(nas + 1, 1);

	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < ev->n; i++)
		cal_one(&ev->v[i], cs, ncs, as, nas, o, p);
	cal_pair_series(ev, as, nas, p, paired);
	for (size_t i = 0; o->full && i < nas; i++) {
		const struct cal_appt *a = &as[i];

		if (paired[i] || a->cancelled || a->other || a->key == NULL ||
		    a->start < o->now ||
		    a->start >= o->until || cal_key_seen(ev, a->key) ||
		    cal_key_bad(ev, a->key))
			continue;
		d = cal_add(p, a->misses >= 1 ? CAL_CANCEL : CAL_MISSING, NULL,
		    a->key);
		d->appt_id = a->id;
		d->case_id = a->case_id;
		d->start = a->start;
		d->why = xstrdup(a->misses >= 1 ? "gone from the calendar (missing "
		    "from two fetches in a row)" : "missing from the calendar "
		    "(cancelled if still missing at the next fetch)");
	}
	free(paired);
}
