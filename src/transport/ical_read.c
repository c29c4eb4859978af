/*
 * ical_read: iCalendar text -> event records.  See ical_read.h.
 *
 * libical parses (icalparser) and expands rules (icalrecur_iterator).  A
 * rule is expanded on the event's own wall clock, as RFC 5545 says it
 * must be ("every Tuesday at 10:00" stays 10:00 across a clock change),
 * and each wall time is then turned into UTC with the event's zone: the
 * practice's zone through tz_local_to_utc(), any other through libical's
 * copy of the tz database or the file's own VTIMEZONE.
 *
 * Identity of instances: rid is the instance's original start in UTC, so
 * a RECURRENCE-ID override (which names that original start) and the
 * master's instance map to the same record key.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libical/ical.h>

#include "base/cal_link.h"
#include "base/ical_dl.h"
#include "transport/ical_read.h"
#include "base/tz.h"
#include "base/utf8.h"
#include "base/util.h"

/* Instances looked at per rule before giving up (daily for ~270 years). */
#define ICAL_MAX_STEPS	100000
/* Longer events are blocks (holidays, conferences), not appointments. */
#define ICAL_MAX_MIN	(24L * 60)

/*
 * Windows zone names, as Outlook and Exchange write them in TZID (both
 * the standard name and the display name of older versions), for the
 * zones a practice is likely to meet.  From the Unicode CLDR
 * windowsZones mapping, territory "001".  A name not here still works
 * when the file carries its VTIMEZONE, as Outlook's files do.
 */
static const struct {
	const char	*win;
	const char	*iana;
} ical_win_zones[] = {
	{ "GMT Standard Time", "Europe/London" },
	{ "(UTC+00:00) Dublin, Edinburgh, Lisbon, London", "Europe/London" },
	{ "(UTC) Dublin, Edinburgh, Lisbon, London", "Europe/London" },
	{ "(GMT) Greenwich Mean Time : Dublin, Edinburgh, Lisbon, London",
	  "Europe/London" },
	{ "Greenwich Standard Time", "Atlantic/Reykjavik" },
	{ "UTC", "UTC" },
	{ "Coordinated Universal Time", "UTC" },
	{ "W. Europe Standard Time", "Europe/Berlin" },
	{ "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna",
	  "Europe/Berlin" },
	{ "Romance Standard Time", "Europe/Paris" },
	{ "(UTC+01:00) Brussels, Copenhagen, Madrid, Paris", "Europe/Paris" },
	{ "Central Europe Standard Time", "Europe/Budapest" },
	{ "Central European Standard Time", "Europe/Warsaw" },
	{ "E. Europe Standard Time", "Europe/Chisinau" },
	{ "FLE Standard Time", "Europe/Kiev" },
	{ "GTB Standard Time", "Europe/Bucharest" },
	{ "Eastern Standard Time", "America/New_York" },
	{ "Central Standard Time", "America/Chicago" },
	{ "Mountain Standard Time", "America/Denver" },
	{ "Pacific Standard Time", "America/Los_Angeles" },
	{ "Atlantic Standard Time", "America/Halifax" },
	{ "India Standard Time", "Asia/Kolkata" },
	{ "China Standard Time", "Asia/Shanghai" },
	{ "Tokyo Standard Time", "Asia/Tokyo" },
	{ "AUS Eastern Standard Time", "Australia/Sydney" },
	{ "New Zealand Standard Time", "Pacific/Auckland" },
	{ "South Africa Standard Time", "Africa/Johannesburg" },
};

/* Properties that hold a conference link outright. */
static const char *const ical_conf_props[] = {
	"CONFERENCE", "X-GOOGLE-CONFERENCE", "X-MICROSOFT-SKYPETEAMSMEETINGURL",
	"X-MICROSOFT-ONLINEMEETINGCONFLINK", NULL
};

enum zkind { Z_UTC, Z_LOCAL, Z_ICAL };

struct zref {
	enum zkind	 kind;
	icaltimezone	*z;		/* Z_ICAL */
};

/* An override's (UID, original start): the master skips that instance. */
struct ovr {
	const char	*uid;
	time_t		 rid;
};

struct rd {
	icalcomponent	*cal;
	struct cal_events *out;
	const char	*zone;		/* the practice's zone name */
	const char	*video_url;
	time_t		 from, to;
	struct ovr	*ovr;
	size_t		 novr;
};

/* ---------------------------------------------------------- records */

void
cal_event_add(struct cal_events *o, const struct cal_event *e)
{
	o->v = xrealloc(o->v, (o->n + 1) * sizeof(*o->v));
	o->v[o->n++] = *e;
}

void
cal_bad_add(struct cal_events *o, const char *uid, const char *fmt, ...)
{
	struct sbuf b = { 0 };
	va_list ap;

	va_start(ap, fmt);
	sbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	o->bad = xrealloc(o->bad, (o->nbad + 1) * sizeof(*o->bad));
	o->bad[o->nbad].uid = xstrdup(uid != NULL ? uid : "");
	o->bad[o->nbad].what = sbuf_steal(&b);
	o->nbad++;
}

void
cal_attendee_add(struct cal_event *e, const char *email)
{
	char *a = xstrdup(email);

	for (char *p = a; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	e->attendees = xrealloc(e->attendees, (e->nattendees + 1) *
	    sizeof(*e->attendees));
	e->attendees[e->nattendees++] = a;
}

/* ------------------------------------------------------------- links */

static char *
ical_meeting_link(struct rd *r, icalcomponent *ev)
{
	icalproperty *p;
	char *u;

	for (p = icalcomponent_get_first_property(ev, ICAL_ANY_PROPERTY);
	    p != NULL; p = icalcomponent_get_next_property(ev, ICAL_ANY_PROPERTY)) {
		const char *name = icalproperty_get_property_name(p);
		const char *v = icalproperty_get_value_as_string(p);

		for (size_t i = 0; name != NULL && ical_conf_props[i]; i++)
			if (strcasecmp(name, ical_conf_props[i]) == 0 &&
			    v != NULL && strncasecmp(v, "https://", 8) == 0 &&
			    strpbrk(v, " \t\r\n") == NULL)
				return xstrdup(v);
	}
	if ((p = icalcomponent_get_first_property(ev, ICAL_URL_PROPERTY)) != NULL &&
	    (u = cal_link_in_text(icalproperty_get_value_as_string(p),
	    r->video_url)) != NULL)
		return u;
	if ((u = cal_link_in_text(icalcomponent_get_location(ev), r->video_url)) != NULL)
		return u;
	return cal_link_in_text(icalcomponent_get_description(ev), r->video_url);
}

/* ------------------------------------------------------------- zones */

static const char *
ical_iana(const char *tzid)
{
	const char *p;

	for (size_t i = 0; i < sizeof(ical_win_zones) / sizeof(ical_win_zones[0]); i++)
		if (strcasecmp(tzid, ical_win_zones[i].win) == 0)
			return ical_win_zones[i].iana;
	if (strcasecmp(tzid, "GMT") == 0 || strcasecmp(tzid, "Etc/UTC") == 0 ||
	    strcasecmp(tzid, "Z") == 0)
		return "UTC";
	/* an IANA name, possibly behind a vendor prefix (Lightning, Citadel) */
	if (*tzid != '\0' && icaltimezone_get_builtin_timezone(tzid) != NULL)
		return tzid;
	for (p = strchr(tzid, '/'); p != NULL; p = strchr(p + 1, '/')) {
		if (strchr(p + 1, '/') == NULL)
			break;	/* "London" alone is no zone */
		if (icaltimezone_get_builtin_timezone(p + 1) != NULL)
			return p + 1;
	}
	return NULL;
}

static int
ical_zone(struct rd *r, icalproperty *prop, struct icaltimetype t,
    struct zref *z, const char **tzid_out)
{
	icalparameter *par;
	const char *tzid = NULL, *iana;

	*tzid_out = NULL;
	if (icaltime_is_utc(t)) {
		z->kind = Z_UTC;
		return 0;
	}
	if (prop != NULL && (par = icalproperty_get_first_parameter(prop,
	    ICAL_TZID_PARAMETER)) != NULL)
		tzid = icalparameter_get_tzid(par);
	if (tzid == NULL || *tzid == '\0') {
		z->kind = Z_LOCAL;	/* floating: the practice's clock */
		return 0;
	}
	*tzid_out = tzid;
	if ((iana = ical_iana(tzid)) != NULL) {
		if (strcmp(iana, "UTC") == 0) {
			z->kind = Z_UTC;
			return 0;
		}
		if (r->zone != NULL && strcmp(iana, r->zone) == 0) {
			z->kind = Z_LOCAL;
			return 0;
		}
		if ((z->z = icaltimezone_get_builtin_timezone(iana)) != NULL) {
			z->kind = Z_ICAL;
			return 0;
		}
	}
	if ((z->z = icalcomponent_get_timezone(r->cal, tzid)) != NULL) {
		z->kind = Z_ICAL;
		return 0;
	}
	return -1;
}

static int
ical_to_utc(const struct zref *z, struct icaltimetype t, time_t *out)
{
	if (t.year < 1900 || t.year > 2200 || icaltime_is_date(t))
		return -1;
	switch (z->kind) {
	case Z_UTC:
		t.zone = NULL;
		t.is_daylight = 0;
		*out = icaltime_as_timet_with_zone(t, icaltimezone_get_utc_timezone());
		return 0;
	case Z_LOCAL:
		return tz_local_to_utc(t.year, t.month, t.day, t.hour, t.minute,
		    t.second, out);
	case Z_ICAL:
		t.zone = NULL;
		*out = icaltime_as_timet_with_zone(t, z->z);
		return 0;
	}
	return -1;
}

/* A DATE-TIME property (DTSTART, DTEND, RECURRENCE-ID, EXDATE) in UTC. */
static int
ical_prop_utc(struct rd *r, icalproperty *p, struct icaltimetype t, time_t *out,
    char *why, size_t whylen)
{
	struct zref z = { Z_UTC, NULL };
	const char *tzid;

	if (ical_zone(r, p, t, &z, &tzid) != 0) {
		snprintf(why, whylen, "unknown time zone TZID=%s", tzid);
		return -1;
	}
	if (ical_to_utc(&z, t, out) != 0) {
		snprintf(why, whylen, "%s is not a usable date and time",
		    icaltime_as_ical_string(t));
		return -1;
	}
	return 0;
}

static void
ical_rid_str(time_t t, char buf[TZ_UTC_LEN])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, TZ_UTC_LEN, "%Y%m%dT%H%M%SZ", &tm) == 0)
		snprintf(buf, TZ_UTC_LEN, "0");
}

/* ------------------------------------------------------------ events */

/* The fields every instance of ev shares. */
static void
ical_base(struct rd *r, icalcomponent *ev, const char *uid, int minutes,
    struct cal_event *e)
{
	icalproperty *p;

	memset(e, 0, sizeof(*e));
	e->uid = xstrdup(uid);
	e->duration_min = minutes;
	/* printed by nudgectl and kept: no terminal escape, no bad UTF-8 */
	e->summary = utf8_scrub(icalcomponent_get_summary(ev));
	e->location = xstrdup(icalcomponent_get_location(ev));
	e->url = ical_meeting_link(r, ev);
	e->status = icalcomponent_get_status(ev) == ICAL_STATUS_CANCELLED ?
	    CAL_CANCELLED : CAL_BOOKED;
	for (p = icalcomponent_get_first_property(ev, ICAL_ATTENDEE_PROPERTY);
	    p != NULL; p = icalcomponent_get_next_property(ev,
	    ICAL_ATTENDEE_PROPERTY)) {
		icalparameter *ps = icalproperty_get_first_parameter(p,
		    ICAL_PARTSTAT_PARAMETER);
		const char *v;

		if (ps != NULL &&
		    icalparameter_get_partstat(ps) == ICAL_PARTSTAT_DECLINED) {
			e->declined++;
			continue;
		}
		v = icalproperty_get_attendee(p);
		if (v != NULL && strncasecmp(v, "mailto:", 7) == 0 &&
		    strchr(v + 7, '@') != NULL)
			cal_attendee_add(e, v + 7);
	}
}

static void
ical_emit(struct rd *r, const struct cal_event *base, time_t start,
    time_t rid, int cancelled)
{
	struct cal_event e = *base;

	e.uid = xstrdup(base->uid);
	e.summary = xstrdup(base->summary);
	e.location = xstrdup(base->location);
	e.url = xstrdup(base->url);
	e.attendees = NULL;
	e.nattendees = 0;
	for (size_t i = 0; i < base->nattendees; i++)
		cal_attendee_add(&e, base->attendees[i]);
	if (rid != 0) {
		char buf[TZ_UTC_LEN];

		ical_rid_str(rid, buf);
		e.rid = xstrdup(buf);
	} else
		e.rid = xstrdup("");
	e.start = start;
	if (cancelled)
		e.status = CAL_CANCELLED;
	cal_event_add(r->out, &e);
}

static int
ical_overridden(const struct rd *r, const char *uid, time_t rid)
{
	for (size_t i = 0; i < r->novr; i++)
		if (r->ovr[i].rid == rid && strcmp(r->ovr[i].uid, uid) == 0)
			return 1;
	return 0;
}

/* EXDATEs of ev: instants, and dates for DATE-valued ones (wall dates). */
struct exd {
	time_t		*t;
	size_t		 nt;
	struct icaltimetype *d;
	size_t		 nd;
};

static int
ical_exdates(struct rd *r, icalcomponent *ev, struct exd *x, char *why,
    size_t whylen)
{
	icalproperty *p;
	struct icaltimetype t;
	time_t u;

	for (p = icalcomponent_get_first_property(ev, ICAL_EXDATE_PROPERTY);
	    p != NULL; p = icalcomponent_get_next_property(ev,
	    ICAL_EXDATE_PROPERTY)) {
		t = icalproperty_get_exdate(p);
		if (icaltime_is_null_time(t))
			continue;
		if (icaltime_is_date(t)) {
			x->d = xrealloc(x->d, (x->nd + 1) * sizeof(*x->d));
			x->d[x->nd++] = t;
			continue;
		}
		if (ical_prop_utc(r, p, t, &u, why, whylen) != 0)
			return -1;
		x->t = xrealloc(x->t, (x->nt + 1) * sizeof(*x->t));
		x->t[x->nt++] = u;
	}
	return 0;
}

static int
ical_excluded(const struct exd *x, struct icaltimetype wall, time_t u)
{
	for (size_t i = 0; i < x->nt; i++)
		if (x->t[i] == u)
			return 1;
	for (size_t i = 0; i < x->nd; i++)
		if (x->d[i].year == wall.year && x->d[i].month == wall.month &&
		    x->d[i].day == wall.day)
			return 1;
	return 0;
}

static void
ical_instance(struct rd *r, const struct cal_event *base, const struct exd *x,
    struct icaltimetype wall, time_t u)
{
	if (u < r->from || u >= r->to || ical_overridden(r, base->uid, u))
		return;
	ical_emit(r, base, u, u, ical_excluded(x, wall, u));
}

/* Every instance of a recurring master in the window. */
static int
ical_expand(struct rd *r, icalcomponent *ev, const struct cal_event *base,
    struct icaltimetype dt, const struct zref *z, char *why, size_t whylen)
{
	struct exd x = { 0 };
	icalproperty *p;
	icalrecur_iterator *it;
	struct icalrecurrencetype rec;
	struct icaltimetype n;
	time_t u;
	long steps;
	int rc = -1;

	if (ical_exdates(r, ev, &x, why, whylen) != 0)
		goto out;
	for (p = icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY);
	    p != NULL; p = icalcomponent_get_next_property(ev, ICAL_RRULE_PROPERTY)) {
		rec = icalproperty_get_rrule(p);
		if (rec.freq == ICAL_NO_RECURRENCE || rec.freq == ICAL_SECONDLY_RECURRENCE ||
		    rec.freq == ICAL_MINUTELY_RECURRENCE ||
		    rec.freq == ICAL_HOURLY_RECURRENCE) {
			snprintf(why, whylen, "RRULE repeats more often than daily");
			goto out;
		}
		if ((it = icalrecur_iterator_new(rec, dt)) == NULL) {
			snprintf(why, whylen, "RRULE cannot be expanded");
			goto out;
		}
		for (steps = 0;; steps++) {
			n = icalrecur_iterator_next(it);
			if (icaltime_is_null_time(n))
				break;
			if (steps >= ICAL_MAX_STEPS) {
				icalrecur_iterator_free(it);
				snprintf(why, whylen, "RRULE has too many "
				    "instances before the window");
				goto out;
			}
			if (ical_to_utc(z, n, &u) != 0)
				continue;
			if (u >= r->to)
				break;
			ical_instance(r, base, &x, n, u);
		}
		icalrecur_iterator_free(it);
	}
	for (p = icalcomponent_get_first_property(ev, ICAL_RDATE_PROPERTY);
	    p != NULL; p = icalcomponent_get_next_property(ev, ICAL_RDATE_PROPERTY)) {
		struct icaldatetimeperiodtype rd = icalproperty_get_rdate(p);

		if (icaltime_is_null_time(rd.time) || icaltime_is_date(rd.time))
			continue;	/* periods and dates: not appointments */
		if (ical_prop_utc(r, p, rd.time, &u, why, whylen) != 0)
			goto out;
		ical_instance(r, base, &x, rd.time, u);
	}
	rc = 0;
out:
	free(x.t);
	free(x.d);
	return rc;
}

static int
ical_transparent(icalcomponent *ev)
{
	icalproperty *p = icalcomponent_get_first_property(ev, ICAL_TRANSP_PROPERTY);

	return p != NULL && icalproperty_get_transp(p) == ICAL_TRANSP_TRANSPARENT;
}

/* Minutes from DTEND or DURATION; 60 when neither is given. -1: ignore it. */
static int
ical_minutes(struct rd *r, icalcomponent *ev, time_t start, char *why,
    size_t whylen)
{
	icalproperty *p;
	time_t end;
	long m;

	if ((p = icalcomponent_get_first_property(ev, ICAL_DTEND_PROPERTY)) != NULL) {
		struct icaltimetype t = icalproperty_get_dtend(p);

		if (ical_prop_utc(r, p, t, &end, why, whylen) != 0)
			return -2;
		m = (long)(end - start) / 60;
	} else if ((p = icalcomponent_get_first_property(ev,
	    ICAL_DURATION_PROPERTY)) != NULL) {
		struct icaldurationtype d = icalproperty_get_duration(p);

		m = (long)icaldurationtype_as_int(d) / 60;
	} else
		return 60;
	if (m > ICAL_MAX_MIN)
		return -1;
	return m < 1 ? 60 : (int)m;
}

/* A recurring event's instances in the window: all of them, or none. */
static void
ical_series(struct rd *r, icalcomponent *ev, const struct cal_event *base,
    struct icaltimetype dt, const struct zref *z, const char *uid)
{
	size_t before = r->out->n;
	char why[256];

	if (ical_expand(r, ev, base, dt, z, why, sizeof(why)) == 0)
		return;
	/* none of a half-expanded series: all or nothing */
	for (size_t i = before; i < r->out->n; i++)
		cal_event_free(&r->out->v[i]);
	r->out->n = before;
	cal_bad_add(r->out, uid, "event %s: %s", uid, why);
}

/* An override's RECURRENCE-ID in UTC; -1 when unusable (reported). */
static int
ical_rid(struct rd *r, icalproperty *rp, const char *uid, time_t *rid)
{
	char why[256];

	if (ical_prop_utc(r, rp, icalproperty_get_recurrenceid(rp), rid, why,
	    sizeof(why)) == 0)
		return 0;
	cal_bad_add(r->out, uid, "event %s: RECURRENCE-ID: %s", uid, why);
	return -1;
}

static void
ical_event(struct rd *r, icalcomponent *ev)
{
	struct cal_event base;
	struct zref z = { Z_UTC, NULL };
	icalproperty *ds, *rp;
	struct icaltimetype dt;
	const char *uid = icalcomponent_get_uid(ev), *tzid;
	char why[256];
	time_t start, rid = 0;
	int minutes;

	if ((ds = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY)) == NULL) {
		cal_bad_add(r->out, uid, "event %s has no usable DTSTART",
		    uid ? uid : "without a UID");
		return;
	}
	dt = icalproperty_get_dtstart(ds);
	if (icaltime_is_date(dt) || ical_transparent(ev))
		return;		/* all-day, or free time: not an appointment */
	if (uid == NULL || *uid == '\0') {
		cal_bad_add(r->out, "", "an event starting %s has no UID",
		    icaltime_as_ical_string(dt));
		return;
	}
	if (ical_zone(r, ds, dt, &z, &tzid) != 0) {
		cal_bad_add(r->out, uid, "event %s: unknown time zone TZID=%s",
		    uid, tzid);
		return;
	}
	if (ical_to_utc(&z, dt, &start) != 0) {
		cal_bad_add(r->out, uid, "event %s: DTSTART %s is not a usable "
		    "date and time", uid, icaltime_as_ical_string(dt));
		return;
	}
	if ((minutes = ical_minutes(r, ev, start, why, sizeof(why))) == -1)
		return;		/* longer than a day: a block */
	if (minutes < 0) {
		cal_bad_add(r->out, uid, "event %s: DTEND: %s", uid, why);
		return;
	}
	rp = icalcomponent_get_first_property(ev, ICAL_RECURRENCEID_PROPERTY);
	if (rp != NULL && ical_rid(r, rp, uid, &rid) != 0)
		return;
	ical_base(r, ev, uid, minutes, &base);
	if (rp != NULL) {
		/* an override: shown when it, or the instance it replaces, is in the window */
		if ((start >= r->from && start < r->to) ||
		    (rid >= r->from && rid < r->to))
			ical_emit(r, &base, start, rid, 0);
	} else if (icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY) != NULL ||
	    icalcomponent_get_first_property(ev, ICAL_RDATE_PROPERTY) != NULL)
		ical_series(r, ev, &base, dt, &z, uid);
	else if (start >= r->from) {
		/* after the window: a booked session moved far ahead, not gone */
		base.beyond = start >= r->to;
		ical_emit(r, &base, start, 0, 0);
	}
	cal_event_free(&base);
}

/* First pass: which instances of which series have overrides. */
static void
ical_overrides(struct rd *r, icalcomponent *cal)
{
	icalcomponent *ev;
	const char *uid;
	char why[128];
	time_t rid;

	for (ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
	    ev != NULL; ev = icalcomponent_get_next_component(cal,
	    ICAL_VEVENT_COMPONENT)) {
		icalproperty *rp;

		if ((rp = icalcomponent_get_first_property(ev,
		    ICAL_RECURRENCEID_PROPERTY)) == NULL ||
		    (uid = icalcomponent_get_uid(ev)) == NULL)
			continue;
		if (ical_prop_utc(r, rp, icalproperty_get_recurrenceid(rp), &rid,
		    why, sizeof(why)) != 0)
			continue;	/* reported with the event */
		r->ovr = xrealloc(r->ovr, (r->novr + 1) * sizeof(*r->ovr));
		r->ovr[r->novr].uid = uid;
		r->ovr[r->novr++].rid = rid;
	}
}

static void
ical_calendar(struct rd *r, icalcomponent *cal)
{
	icalcomponent *ev;

	r->cal = cal;
	ical_overrides(r, cal);
	for (ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
	    ev != NULL; ev = icalcomponent_get_next_component(cal,
	    ICAL_VEVENT_COMPONENT)) {
		r->out->nall++;
		ical_event(r, ev);
	}
	free(r->ovr);
	r->ovr = NULL;
	r->novr = 0;
}

/*
 * A body cut short (a dropped connection, a full disk on the server) can
 * still parse, with the last events missing, and missing events cancel
 * appointments: so the text must begin and end like a whole calendar.
 */
static int
ical_whole(const char *t, size_t len)
{
	static const char head[] = "BEGIN:VCALENDAR", tail[] = "END:VCALENDAR";
	size_t i = 0;

	if (len >= 3 && memcmp(t, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && isspace((unsigned char)t[i]))
		i++;
	while (len > i && isspace((unsigned char)t[len - 1]))
		len--;
	return len - i >= sizeof(head) - 1 + sizeof(tail) - 1 &&
	    strncasecmp(t + i, head, sizeof(head) - 1) == 0 &&
	    strncasecmp(t + len - (sizeof(tail) - 1), tail, sizeof(tail) - 1) == 0;
}

int
ical_read(const char *text, size_t len, const char *zone, const char *video_url,
    time_t from, time_t to, struct cal_events *out, char *err, size_t errlen)
{
	struct rd r = { 0 };
	icalcomponent *root;
	char *copy;

	memset(out, 0, sizeof(*out));
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errlen, "not an iCalendar file: it holds a NUL byte");
		return -1;
	}
	if (!ical_whole(text, len)) {
		snprintf(err, errlen, "not a whole iCalendar file: it must begin "
		    "with BEGIN:VCALENDAR and end with END:VCALENDAR (cut short?)");
		return -1;
	}
	/* libical is opened here, at the first calendar read (ical_dl.h) */
	if (ical_dl_load(err, errlen) != 0)
		return -1;
	icalerror_set_errors_are_fatal(0);
	copy = xstrndup(text, len);
	root = icalparser_parse_string(copy);
	free(copy);
	if (root == NULL) {
		snprintf(err, errlen, "not an iCalendar file: %s",
		    icalerror_strerror(icalerrno));
		return -1;
	}
	r.out = out;
	r.zone = zone;
	r.video_url = video_url;
	r.from = from;
	r.to = to;
	if (icalcomponent_isa(root) == ICAL_VCALENDAR_COMPONENT)
		ical_calendar(&r, root);
	else
		for (icalcomponent *c = icalcomponent_get_first_component(root,
		    ICAL_VCALENDAR_COMPONENT); c != NULL;
		    c = icalcomponent_get_next_component(root,
		    ICAL_VCALENDAR_COMPONENT))
			ical_calendar(&r, c);
	icalcomponent_free(root);
	return 0;
}
