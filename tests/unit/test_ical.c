/*
 * Unit tests for ical_read and csv_read: the fixtures in tests/fixtures/cal
 * (written from RFC 5545 and the vendors' documented output) and small
 * texts inline.  Expected instants are worked out by hand: Europe/London
 * is BST (UTC+1) until 02:00 on Sunday 25 October 2026, GMT after.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cal_link.h"
#include "transport/csv_read.h"
#include "transport/ical_read.h"
#include "base/tz.h"
#include "base/util.h"
#include "fixture.h"

#define FIX	"tests/fixtures/cal/"

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s (run from the repository root)", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = xmalloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		fail_msg("cannot read %s", path);
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

static void
read_file(const char *name, struct cal_events *ev)
{
	char err[256] = "", path[256];
	size_t len;
	char *text;

	snprintf(path, sizeof(path), FIX "%s", name);
	text = slurp(path, &len);
	if (ical_read(text, len, "Europe/London", "https://meet.example.org/hughes",
	    fx_utc("2026-10-01T00:00:00Z"), fx_utc("2027-01-01T00:00:00Z"), ev, err,
	    sizeof(err)) != 0)
		fail_msg("%s: %s", name, err);
	free(text);
}

static const struct cal_event *
find(const struct cal_events *ev, const char *uid, const char *rid)
{
	for (size_t i = 0; i < ev->n; i++)
		if (strcmp(ev->v[i].uid, uid) == 0 &&
		    strcmp(ev->v[i].rid, rid) == 0)
			return &ev->v[i];
	fail_msg("no event %s %s", uid, rid);
	return NULL;
}

static void
assert_start(const struct cal_event *e, const char *want)
{
	char buf[TZ_UTC_LEN];

	tz_format_utc(e->start, buf);
	assert_string_equal(buf, want);
}

static int
setup(void **state)
{
	char err[128];

	(void)state;
	return tz_set("Europe/London", err, sizeof(err));
}

/* Google: a weekly series with an EXDATE, a moved and a cancelled instance. */
static void
test_google_series(void **state)
{
	struct cal_events ev;
	const struct cal_event *e;

	(void)state;
	read_file("google.ics", &ev);
	e = find(&ev, "series-taylor@google.com", "20261006T090000Z");
	assert_start(e, "2026-10-06T09:00:00Z");	/* 10:00 BST */
	assert_int_equal(e->duration_min, 50);
	assert_int_equal(e->status, CAL_BOOKED);
	assert_string_equal(e->url, "https://meet.google.com/abc-defg-hij");
	assert_int_equal(e->nattendees, 2);
	/* folded CN, upper-case address: unfolded and lower-cased */
	assert_string_equal(e->attendees[0], "sam.taylor@example.org");
	/* the override keeps the instance's identity, at its new time */
	e = find(&ev, "series-taylor@google.com", "20261013T090000Z");
	assert_start(e, "2026-10-15T15:00:00Z");
	assert_string_equal(e->summary, "Session (moved)");
	/* EXDATE: the instance is there, cancelled */
	e = find(&ev, "series-taylor@google.com", "20261020T090000Z");
	assert_int_equal(e->status, CAL_CANCELLED);
	/* STATUS:CANCELLED override, after the clock change (10:00 GMT) */
	e = find(&ev, "series-taylor@google.com", "20261027T100000Z");
	assert_int_equal(e->status, CAL_CANCELLED);
	assert_start(e, "2026-10-27T10:00:00Z");
	/* COUNT=6: the last two, in GMT */
	assert_start(find(&ev, "series-taylor@google.com", "20261103T100000Z"),
	    "2026-11-03T10:00:00Z");
	find(&ev, "series-taylor@google.com", "20261110T100000Z");
	assert_int_equal(ev.nbad, 0);
	cal_events_free(&ev);
}

/* Non-ASCII folded summary; all-day and free-time events ignored; declined. */
static void
test_google_other(void **state)
{
	struct cal_events ev;
	const struct cal_event *e;

	(void)state;
	read_file("google.ics", &ev);
	e = find(&ev, "assess-1@google.com", "");
	assert_string_equal(e->summary, "[Zoë & Łukasz] Assessment — première "
	    "séance, à l’étage, près de la fenêtre");
	assert_string_equal(e->location, "1 High Street, Stourbridge");
	assert_int_equal(e->duration_min, 90);
	assert_null(e->url);
	for (size_t i = 0; i < ev.n; i++) {
		assert_string_not_equal(ev.v[i].uid, "holiday@google.com");
		assert_string_not_equal(ev.v[i].uid, "lunch@google.com");
	}
	e = find(&ev, "declined@google.com", "");
	assert_int_equal(e->nattendees, 1);
	assert_string_equal(e->attendees[0], "robin@example.org");
	assert_int_equal(ev.n, 8);
	cal_events_free(&ev);
}

/* Outlook: Windows zone names, the display-name form, a custom VTIMEZONE. */
static void
test_outlook_zones(void **state)
{
	struct cal_events ev;
	const struct cal_event *e;

	(void)state;
	read_file("outlook.ics", &ev);
	e = find(&ev, "040000008200E00074C5B7101A82E00800000000B0F1A3E2C4D6DC0100"
	    "00000000000000100000003AB1C9D0C6E3E54D9A2B7B5D7E0E0F0A", "");
	assert_start(e, "2026-11-02T18:00:00Z");
	assert_int_equal(e->duration_min, 75);
	assert_string_equal(e->url, "https://teams.microsoft.com/l/meetup-join/"
	    "19%3ameeting_abc%40thread.v2/0");
	assert_start(find(&ev, "outlook-display-name-1", ""), "2026-11-03T18:00:00Z");
	assert_start(find(&ev, "outlook-berlin-1", ""), "2026-11-04T09:00:00Z");
	assert_start(find(&ev, "outlook-custom-1", ""), "2026-11-05T08:00:00Z");
	/* an unknown zone: that event is reported, the others stand */
	assert_int_equal(ev.nbad, 1);
	assert_string_equal(ev.bad[0].uid, "outlook-unknown-1");
	assert_non_null(strstr(ev.bad[0].what, "Atlantis Standard Time"));
	cal_events_free(&ev);
}

/* Apple: floating time = the practice's clock; DURATION; prefixed TZID. */
static void
test_apple(void **state)
{
	struct cal_events ev;

	(void)state;
	read_file("apple.ics", &ev);
	assert_start(find(&ev, "8F0E4C1A-1B2C-4D3E-9F00-0A1B2C3D4E5F", ""),
	    "2026-11-10T14:30:00Z");
	assert_int_equal(find(&ev, "apple-utc-1", "")->duration_min, 90);
	assert_start(find(&ev, "apple-lightning-1", ""), "2026-11-12T09:00:00Z");
	cal_events_free(&ev);
}

/* The floating time follows the practice's zone, whatever it is. */
static void
test_floating_other_zone(void **state)
{
	static const char t[] = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:f\r\n"
	    "DTSTART:20261110T143000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
	struct cal_events ev;
	char err[128];

	(void)state;
	assert_int_equal(tz_set("America/New_York", err, sizeof(err)), 0);
	assert_int_equal(ical_read(t, strlen(t), "America/New_York", NULL,
	    fx_utc("2026-10-01T00:00:00Z"), fx_utc("2027-01-01T00:00:00Z"), &ev, err,
	    sizeof(err)), 0);
	assert_int_equal(ev.n, 1);
	assert_start(&ev.v[0], "2026-11-10T19:30:00Z");
	cal_events_free(&ev);
	assert_int_equal(fx_tz_london(), 0);
}

/* cal.com and Calendly: the video link in LOCATION, a booking page in URL. */
static void
test_booking_exports(void **state)
{
	struct cal_events ev;
	const struct cal_event *e;

	(void)state;
	read_file("calcom.ics", &ev);
	e = find(&ev, "kq3r7hUYnBf1r4x9CAL", "");
	assert_string_equal(e->url, "https://zoom.us/j/98765432100?pwd=abcdef");
	assert_int_equal(e->duration_min, 15);
	assert_string_equal(e->attendees[0], "robin@example.org");
	e = find(&ev, "calendly-5b3a9f1e", "");
	assert_int_equal(e->status, CAL_CANCELLED);
	assert_null(e->url);
	cal_events_free(&ev);
}

/* A series keeps its wall time across the October change; a moved event. */
static void
test_dst(void **state)
{
	struct cal_events a, b;

	(void)state;
	read_file("dst-before.ics", &a);
	read_file("dst-after.ics", &b);
	assert_start(find(&a, "weekly-dst", "20261020T090000Z"), "2026-10-20T09:00:00Z");
	assert_start(find(&a, "weekly-dst", "20261027T100000Z"), "2026-10-27T10:00:00Z");
	assert_start(find(&a, "moved-dst", ""), "2026-10-24T09:00:00Z");
	assert_start(find(&b, "moved-dst", ""), "2026-10-26T10:00:00Z");
	cal_events_free(&a);
	cal_events_free(&b);
}

/* Only instances inside [from, to) come out. */
static void
test_window(void **state)
{
	char err[256] = "", *text;
	struct cal_events ev;
	size_t len;

	(void)state;
	text = slurp(FIX "google.ics", &len);
	assert_int_equal(ical_read(text, len, "Europe/London", NULL,
	    fx_utc("2026-10-21T00:00:00Z"), fx_utc("2026-11-04T00:00:00Z"), &ev, err,
	    sizeof(err)), 0);
	assert_int_equal(ev.n, 2);	/* the cancelled 27th and the 3rd */
	cal_events_free(&ev);
	free(text);
}

/* A body cut short is refused whole, not read as a calendar with fewer events. */
static void
test_truncated(void **state)
{
	char err[256] = "", *text;
	struct cal_events ev;
	size_t len;

	(void)state;
	text = slurp(FIX "google.ics", &len);
	assert_int_equal(ical_read(text, len / 2, "Europe/London", NULL,
	    fx_utc("2026-10-01T00:00:00Z"), fx_utc("2027-01-01T00:00:00Z"), &ev, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "cut short"));
	assert_int_equal(ev.n, 0);
	assert_int_equal(ical_read("<html>", 6, "Europe/London", NULL, 0,
	    fx_utc("2027-01-01T00:00:00Z"), &ev, err, sizeof(err)), -1);
	free(text);
}

static void
test_bad_events(void **state)
{
	static const char t[] = "BEGIN:VCALENDAR\r\n"
	    "BEGIN:VEVENT\r\nDTSTART:20261110T143000Z\r\nEND:VEVENT\r\n"
	    "BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20261110T143000Z\r\n"
	    "RRULE:FREQ=MINUTELY\r\nEND:VEVENT\r\n"
	    "BEGIN:VEVENT\r\nUID:y\r\nDTSTART:bogus\r\nEND:VEVENT\r\n"
	    "END:VCALENDAR\r\n";
	struct cal_events ev;
	char err[128];

	(void)state;
	assert_int_equal(ical_read(t, strlen(t), "Europe/London", NULL,
	    fx_utc("2026-10-01T00:00:00Z"), fx_utc("2027-01-01T00:00:00Z"), &ev, err,
	    sizeof(err)), 0);
	assert_int_equal(ev.n, 0);
	assert_int_equal(ev.nbad, 3);
	assert_non_null(strstr(ev.bad[0].what, "no UID"));
	assert_non_null(strstr(ev.bad[1].what, "more often than daily"));
	assert_string_equal(ev.bad[2].uid, "y");
	cal_events_free(&ev);
}

static void
test_meeting_url(void **state)
{
	(void)state;
	assert_true(cal_link_is_meeting("https://us02web.zoom.us/j/1", NULL));
	assert_true(cal_link_is_meeting("https://meet.google.com/a", NULL));
	assert_false(cal_link_is_meeting("https://evilzoom.us/j/1", NULL));
	assert_false(cal_link_is_meeting("http://zoom.us/j/1", NULL));
	assert_false(cal_link_is_meeting("https://cal.com/booking/x", NULL));
	assert_true(cal_link_is_meeting("https://meet.example.org/x",
	    "https://meet.example.org/hughes"));
}

/* ---------------------------------------------------------------- CSV */

#define BOOKING_MAP "uid=Booking ID,start=Start Date & Time,end=End Date & " \
	"Time,email=Invitee Email,summary=Event Type Name,location=Notes," \
	"status=Canceled"

static int
csv(const char *text, const char *map, struct cal_events *ev, char *err,
    size_t errlen)
{
	return csv_read(text, strlen(text), map, NULL, fx_utc("2026-10-01T00:00:00Z"),
	    fx_utc("2027-01-01T00:00:00Z"), ev, err, errlen);
}

static void
test_csv_booking(void **state)
{
	struct cal_events ev;
	char err[256] = "", *text;
	size_t len;

	(void)state;
	text = slurp(FIX "booking.csv", &len);
	if (csv(text, BOOKING_MAP, &ev, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(ev.n, 3);
	assert_string_equal(ev.v[0].uid, "b-101");
	assert_start(&ev.v[0], "2026-11-20T10:00:00Z");
	assert_int_equal(ev.v[0].duration_min, 50);
	assert_string_equal(ev.v[0].location, "Room 2, upstairs");
	assert_start(&ev.v[1], "2026-11-21T14:30:00Z");
	assert_int_equal(ev.v[1].duration_min, 90);
	assert_string_equal(ev.v[1].location, "said \"hello\"\nthen left");
	assert_int_equal(ev.v[1].line, 3);
	assert_int_equal(ev.v[2].status, CAL_CANCELLED);
	assert_int_equal(ev.v[2].line, 5);	/* after a record of two lines */
	cal_events_free(&ev);
	free(text);
}

static void
test_csv_default_layout(void **state)
{
	struct cal_events ev;
	char err[256] = "";

	(void)state;
	assert_int_equal(csv("start,duration,case,email\n"
	    "2026-11-20 10:00,90,Sam & Alex,\n"
	    "2026-11-21 10:00,,,a@example.org; b@example.org\n", NULL, &ev, err,
	    sizeof(err)), 0);
	assert_int_equal(ev.n, 2);
	assert_string_equal(ev.v[0].case_label, "Sam & Alex");
	assert_string_equal(ev.v[0].uid, "csv:2026-11-20 10:00:Sam & Alex");
	assert_int_equal(ev.v[1].nattendees, 2);
	assert_int_equal(ev.v[1].duration_min, 60);
	cal_events_free(&ev);
}

static void
test_csv_errors(void **state)
{
	struct cal_events ev;
	char err[256] = "";

	(void)state;
	assert_int_equal(csv("start,email\n2026-11-20 10:00,\"a@example.org\n",
	    NULL, &ev, err, sizeof(err)), -1);
	assert_string_equal(err, "line 2: a quoted field is not closed");
	assert_int_equal(csv("start,email\n2026-11-20 10:00,a@example.org\n"
	    "next tuesday,b@example.org\n", NULL, &ev, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 3: start 'next tuesday'"));
	assert_int_equal(ev.n, 0);
	assert_int_equal(csv("start,email\n2026-11-20 10:00,a\"b@x.org\n", NULL,
	    &ev, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 2: a stray"));
	assert_int_equal(csv("when,who\n", NULL, &ev, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no 'start' column"));
	assert_int_equal(csv("start,email\n", "start=Begins", &ev, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "no column 'Begins'"));
	assert_int_equal(csv("start,email,status\n2026-11-20 10:00,a@x.org,maybe\n",
	    NULL, &ev, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 2: status 'maybe'"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_google_series),
		cmocka_unit_test(test_google_other),
		cmocka_unit_test(test_outlook_zones),
		cmocka_unit_test(test_apple),
		cmocka_unit_test(test_floating_other_zone),
		cmocka_unit_test(test_booking_exports),
		cmocka_unit_test(test_dst),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bad_events),
		cmocka_unit_test(test_meeting_url),
		cmocka_unit_test(test_csv_booking),
		cmocka_unit_test(test_csv_default_layout),
		cmocka_unit_test(test_csv_errors),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
