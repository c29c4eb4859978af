/*
 * Unit tests for tz: these are the contract's time rules, so the expected
 * instants are written out by hand from the published zone transitions
 * (zdump), and the broader checks compare against independent oracles
 * (timegm/gmtime_r, a naive day-by-day calendar, localtime_r read-back).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/tz.h"
#include "fixture.h"

static void
use_zone(const char *name)
{
	char err[256] = "";

	if (tz_set(name, err, sizeof(err)) != 0)
		fail_msg("tz_set(%s): %s", name, err);
}

static int
setup_london(void **state)
{
	(void)state;
	use_zone("Europe/London");
	return 0;
}

static void
assert_utc(time_t t, const char *want)
{
	char buf[TZ_UTC_LEN];

	tz_format_utc(t, buf);
	assert_string_equal(buf, want);
}

static void
assert_local(int y, int mo, int d, int h, int mi, int s, const char *want)
{
	time_t t = -1;

	assert_int_equal(tz_local_to_utc(y, mo, d, h, mi, s, &t), 0);
	assert_utc(t, want);
}

static void
assert_date(time_t t, const char *want)
{
	char buf[64];

	tz_format_date(t, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void
assert_time(time_t t, const char *want)
{
	char buf[16];

	tz_format_time(t, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

/* --- UTC parsing and formatting -------------------------------------- */

static void
test_parse_utc_known(void **state)
{
	time_t t;

	(void)state;
	assert_int_equal(tz_parse_utc("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(tz_parse_utc("2000-03-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 951868800);
	assert_int_equal(tz_parse_utc("2026-03-29T01:00:00Z", &t), 0);
	assert_int_equal(t, 1774746000);
	assert_int_equal(tz_parse_utc("1969-12-31T23:59:59Z", &t), 0);
	assert_int_equal(t, -1);
	assert_int_equal(tz_parse_utc("2028-02-29T12:00:00Z", &t), 0);
	assert_int_equal(tz_parse_utc("2000-02-29T12:00:00Z", &t), 0);
}

/* Parse and format agree with glibc's timegm/gmtime_r over centuries. */
static void
test_utc_against_libc(void **state)
{
	char want[TZ_UTC_LEN], got[TZ_UTC_LEN];
	struct tm tm;
	time_t t, back;
	long long x;

	(void)state;
	/* 1800..2400, stepping by an odd number of seconds to hit all
	 * hours, minutes and seconds. */
	for (x = -5364662400LL; x < 13569465600LL; x += 7777777LL) {
		t = (time_t)x;
		assert_non_null(gmtime_r(&t, &tm));
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
		tz_format_utc(t, got);
		assert_string_equal(got, want);
		assert_int_equal(tz_parse_utc(got, &back), 0);
		assert_int_equal(back, t);
	}
}

static void
test_parse_utc_bad(void **state)
{
	static const char *bad[] = {
		"", "2026-03-29", "2026-03-29T10:00Z", "2026-03-29T10:00:00",
		"2026-03-29 10:00:00Z", "2026-03-29t10:00:00Z",
		"2026-03-29T10:00:00z", "2026-03-29T10:00:00+00:00",
		"2026-03-29T10:00:00ZZ", "2026-03-29T10:00:00Z ",
		" 2026-03-29T10:00:00Z", "2026-02-30T10:00:00Z",
		"2026-02-29T10:00:00Z", "2100-02-29T10:00:00Z",
		"2026-13-01T10:00:00Z", "2026-00-01T10:00:00Z",
		"2026-01-00T10:00:00Z", "2026-04-31T10:00:00Z",
		"2026-01-32T10:00:00Z", "2026-03-29T25:00:00Z",
		"2026-03-29T24:00:00Z", "2026-03-29T10:60:00Z",
		"2026-03-29T10:00:60Z", "2026-03-29T10:00:61Z",
		"0000-01-01T00:00:00Z", "+026-03-29T10:00:00Z",
		"2026-3-29T10:00:00Z0", "2026/03/29T10:00:00Z",
		"2026-03-29T1:00:00ZZ", "2026-03-29T10:0a:00Z",
		"2026-03-29T10:00:00.5Z",
	};
	size_t i;
	time_t t = 12345;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (tz_parse_utc(bad[i], &t) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(t, 12345);
	}
	assert_int_equal(tz_parse_utc(NULL, &t), -1);
}

static void
test_parse_any(void **state)
{
	time_t t;

	(void)state;
	/* Z: the same instant as the strict form. */
	assert_int_equal(tz_parse_any("2026-07-01T12:00:00Z", &t), 0);
	assert_utc(t, "2026-07-01T12:00:00Z");
	assert_int_equal(tz_parse_any("2026-07-01 12:00:00Z", &t), 0);
	assert_utc(t, "2026-07-01T12:00:00Z");
	assert_int_equal(tz_parse_any("2026-07-01T12:00Z", &t), 0);
	assert_utc(t, "2026-07-01T12:00:00Z");
	/* Offsets: local = UTC + offset. */
	assert_int_equal(tz_parse_any("2026-07-01T13:00:00+01:00", &t), 0);
	assert_utc(t, "2026-07-01T12:00:00Z");
	assert_int_equal(tz_parse_any("2026-07-01T07:30:00-04:30", &t), 0);
	assert_utc(t, "2026-07-01T12:00:00Z");
	assert_int_equal(tz_parse_any("2026-01-01T00:30:00+05:45", &t), 0);
	assert_utc(t, "2025-12-31T18:45:00Z");
	assert_int_equal(tz_parse_any("2026-07-01T12:00:00-00:00", &t), 0);
	assert_utc(t, "2026-07-01T12:00:00Z");
	assert_int_equal(tz_parse_any("2026-07-01T14:00:00+14:00", &t), 0);
	assert_utc(t, "2026-07-01T00:00:00Z");
	assert_int_equal(tz_parse_any("2026-07-01 12:00-12:00", &t), 0);
	assert_utc(t, "2026-07-02T00:00:00Z");
	/* Bare: the practice's local time (London: BST in July, GMT in
	 * January). */
	assert_int_equal(tz_parse_any("2026-07-01T12:00:00", &t), 0);
	assert_utc(t, "2026-07-01T11:00:00Z");
	assert_int_equal(tz_parse_any("2026-07-01T12:00", &t), 0);
	assert_utc(t, "2026-07-01T11:00:00Z");
	assert_int_equal(tz_parse_any("2026-07-01 12:00:30", &t), 0);
	assert_utc(t, "2026-07-01T11:00:30Z");
	assert_int_equal(tz_parse_any("2026-01-15T09:15", &t), 0);
	assert_utc(t, "2026-01-15T09:15:00Z");
	/* The gap and the repeat through the same rules. */
	assert_int_equal(tz_parse_any("2026-03-29T01:30", &t), 0);
	assert_utc(t, "2026-03-29T01:30:00Z");
	assert_int_equal(tz_parse_any("2026-10-25 01:30:00", &t), 0);
	assert_utc(t, "2026-10-25T00:30:00Z");
}

static void
test_parse_any_bad(void **state)
{
	static const char *bad[] = {
		"", "2026-07-01", "2026-07-01T", "2026-07-01T12",
		"2026-07-01T12:0", "2026-07-01T12:00:", "2026-07-01T12:00:0",
		"2026-07-01X12:00", "2026-07-01  12:00", "2026-07-01t12:00",
		"2026-07-01T12:00 ", " 2026-07-01T12:00", "2026-07-01T12:00Zx",
		"2026-07-01T12:00:00z", "2026-07-01T12:00:00+1:00",
		"2026-07-01T12:00:00+0100", "2026-07-01T12:00:00+01",
		"2026-07-01T12:00:00+01:00:00", "2026-07-01T12:00:00+15:00",
		"2026-07-01T12:00:00-14:30", "2026-07-01T12:00:00+01:60",
		"2026-07-01T12:00:00 +01:00", "2026-07-01T12:00:00.000Z",
		"2026-02-30T12:00", "2026-13-01T12:00", "2026-07-01T25:00",
		"2026-07-01T24:00", "2026-07-01T12:60", "2026-07-01T12:00:60",
		"2026-07-01T12:00:00Z\n", "2026-07-01T12:00garbage",
		"26-07-01T12:00", "2026-7-1T12:00",
	};
	size_t i;
	time_t t = 777;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (tz_parse_any(bad[i], &t) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(t, 777);
	}
	assert_int_equal(tz_parse_any(NULL, &t), -1);
}

/* --- Europe/London across the 2026 changes ---------------------------- */

static void
test_london_plain(void **state)
{
	(void)state;
	assert_local(2026, 1, 15, 14, 0, 0, "2026-01-15T14:00:00Z");
	assert_local(2026, 7, 1, 14, 0, 0, "2026-07-01T13:00:00Z");
	assert_local(2026, 12, 31, 23, 59, 59, "2026-12-31T23:59:59Z");
	assert_local(2027, 1, 1, 0, 0, 0, "2027-01-01T00:00:00Z");
	/* Just either side of each change. */
	assert_local(2026, 3, 29, 0, 59, 59, "2026-03-29T00:59:59Z");
	assert_local(2026, 3, 29, 2, 0, 0, "2026-03-29T01:00:00Z");
	assert_local(2026, 10, 25, 0, 59, 59, "2026-10-24T23:59:59Z");
	assert_local(2026, 10, 25, 2, 0, 0, "2026-10-25T02:00:00Z");
}

static void
test_london_spring_gap(void **state)
{
	time_t t;

	(void)state;
	/* 01:00-01:59 on 29 March 2026 never happens: it means 02:xx BST. */
	assert_local(2026, 3, 29, 1, 30, 0, "2026-03-29T01:30:00Z");
	assert_local(2026, 3, 29, 1, 0, 0, "2026-03-29T01:00:00Z");
	assert_local(2026, 3, 29, 1, 59, 59, "2026-03-29T01:59:59Z");
	assert_int_equal(tz_local_to_utc(2026, 3, 29, 1, 30, 0, &t), 0);
	assert_time(t, "02:30");
	assert_date(t, "Sunday 29 March 2026");
}

static void
test_london_autumn_repeat(void **state)
{
	time_t t;

	(void)state;
	/* 01:00-01:59 on 25 October 2026 happens twice: the first, BST. */
	assert_local(2026, 10, 25, 1, 30, 0, "2026-10-25T00:30:00Z");
	assert_local(2026, 10, 25, 1, 0, 0, "2026-10-25T00:00:00Z");
	assert_local(2026, 10, 25, 1, 59, 59, "2026-10-25T00:59:59Z");
	/* The second pass really exists, one hour later, same wall time. */
	t = fx_utc("2026-10-25T01:30:00Z");
	assert_time(t, "01:30");
	assert_int_equal(tz_local_to_utc(2026, 10, 25, 1, 30, 0, &t), 0);
	assert_time(t, "01:30");
}

/* The contract's own example: before/after are elapsed time. */
static void
test_london_24h_before(void **state)
{
	time_t appt, rem;
	char buf[32];

	(void)state;
	assert_int_equal(tz_local_to_utc(2026, 3, 29, 10, 0, 0, &appt), 0);
	assert_utc(appt, "2026-03-29T09:00:00Z");
	assert_date(appt, "Sunday 29 March 2026");
	assert_time(appt, "10:00");
	rem = appt - 24 * 3600;
	assert_utc(rem, "2026-03-28T09:00:00Z");
	assert_date(rem, "Saturday 28 March 2026");
	assert_time(rem, "09:00");
	tz_format_local_date(rem, buf, sizeof(buf));
	assert_string_equal(buf, "2026-03-28");
	/* Wall-clock times (homework) stay put: 19:00 is 19:00 both days. */
	assert_local(2026, 3, 28, 19, 0, 0, "2026-03-28T19:00:00Z");
	assert_local(2026, 3, 29, 19, 0, 0, "2026-03-29T18:00:00Z");
	assert_local(2026, 10, 24, 19, 0, 0, "2026-10-24T18:00:00Z");
	assert_local(2026, 10, 25, 19, 0, 0, "2026-10-25T19:00:00Z");
}

/*
 * Every quarter hour of 2026 in London: the answer reads back as the asked
 * wall time and nothing earlier does, or (the gap) it is that wall time
 * shifted by exactly the hour the clocks skipped.
 */
static void
test_london_whole_year(void **state)
{
	struct tm tm;
	time_t t, earlier;
	int y = 2026, mo = 1, d = 1, min, gaps = 0;

	(void)state;
	while (y == 2026) {
		for (min = 0; min < 24 * 60; min += 15) {
			assert_int_equal(tz_local_to_utc(y, mo, d, min / 60,
			    min % 60, 0, &t), 0);
			tz_to_local(t, &tm);
			if (tm.tm_hour * 60 + tm.tm_min == min) {
				assert_int_equal(tm.tm_year + 1900, y);
				assert_int_equal(tm.tm_mon + 1, mo);
				assert_int_equal(tm.tm_mday, d);
				earlier = t - 3600;
				tz_to_local(earlier, &tm);
				assert_false(tm.tm_mday == d &&
				    tm.tm_hour * 60 + tm.tm_min == min);
			} else {
				assert_int_equal(mo, 3);
				assert_int_equal(d, 29);
				assert_int_equal(tm.tm_hour * 60 + tm.tm_min,
				    min + 60);
				gaps++;
			}
		}
		tz_date_add_days(&y, &mo, &d, 1);
	}
	assert_int_equal(gaps, 4);
}

static void
test_format_london(void **state)
{
	char buf[64];
	time_t t;

	(void)state;
	/* GMT: 3 December 2026 14:00 local is 14:00Z. */
	t = fx_utc("2026-12-03T14:00:00Z");
	assert_date(t, "Thursday 3 December 2026");
	assert_time(t, "14:00");
	tz_format_local_date(t, buf, sizeof(buf));
	assert_string_equal(buf, "2026-12-03");
	/* BST: 23:30Z on 14 July is already the 15th in London. */
	t = fx_utc("2026-07-14T23:30:00Z");
	assert_date(t, "Wednesday 15 July 2026");
	assert_time(t, "00:30");
	tz_format_local_date(t, buf, sizeof(buf));
	assert_string_equal(buf, "2026-07-15");
	/* Every weekday and month name, from the tables. */
	assert_date(fx_utc("2026-01-05T12:00:00Z"), "Monday 5 January 2026");
	assert_date(fx_utc("2026-02-10T12:00:00Z"), "Tuesday 10 February 2026");
	assert_date(fx_utc("2026-04-30T12:00:00Z"), "Thursday 30 April 2026");
	assert_date(fx_utc("2026-05-01T12:00:00Z"), "Friday 1 May 2026");
	assert_date(fx_utc("2026-06-06T12:00:00Z"), "Saturday 6 June 2026");
	assert_date(fx_utc("2026-08-16T12:00:00Z"), "Sunday 16 August 2026");
	assert_date(fx_utc("2026-09-01T12:00:00Z"), "Tuesday 1 September 2026");
	assert_date(fx_utc("2026-10-31T12:00:00Z"), "Saturday 31 October 2026");
	assert_date(fx_utc("2026-11-11T12:00:00Z"), "Wednesday 11 November 2026");
	assert_date(fx_utc("2026-03-29T12:00:00Z"), "Sunday 29 March 2026");
	/* Short buffers truncate, never overflow. */
	tz_format_date(t, buf, 5);
	assert_string_equal(buf, "Wedn");
	tz_format_time(t, buf, 3);
	assert_string_equal(buf, "00");
}

/* --- other zones: the zone is honoured, not assumed ------------------- */

static void
test_new_york(void **state)
{
	time_t t;

	(void)state;
	use_zone("America/New_York");
	assert_local(2026, 1, 15, 14, 0, 0, "2026-01-15T19:00:00Z");
	assert_local(2026, 7, 1, 14, 0, 0, "2026-07-01T18:00:00Z");
	/* Spring gap 02:00 -> 03:00 EST -> EDT on 8 March. */
	assert_local(2026, 3, 8, 2, 30, 0, "2026-03-08T07:30:00Z");
	/* Autumn repeat 01:00-01:59 on 1 November: first is EDT. */
	assert_local(2026, 11, 1, 1, 30, 0, "2026-11-01T05:30:00Z");
	/* London's changes mean nothing here. */
	assert_local(2026, 3, 29, 1, 30, 0, "2026-03-29T05:30:00Z");
	t = fx_utc("2026-12-03T03:00:00Z");
	assert_date(t, "Wednesday 2 December 2026");
	assert_time(t, "22:00");
	assert_int_equal(tz_parse_any("2026-07-01T14:00", &t), 0);
	assert_utc(t, "2026-07-01T18:00:00Z");
	/* Back to London: the same instant reads differently. */
	use_zone("Europe/London");
	t = fx_utc("2026-12-03T03:00:00Z");
	assert_date(t, "Thursday 3 December 2026");
	assert_time(t, "03:00");
}

static void
test_southern_and_odd_zones(void **state)
{
	(void)state;
	/* Sydney: DST ends 5 April (03:00 AEDT -> 02:00 AEST), starts
	 * 4 October (02:00 AEST -> 03:00 AEDT). */
	use_zone("Australia/Sydney");
	assert_local(2026, 4, 5, 2, 30, 0, "2026-04-04T15:30:00Z");
	assert_local(2026, 10, 4, 2, 30, 0, "2026-10-03T16:30:00Z");
	/* Lord Howe moves by half an hour: the gap is 30 minutes long. */
	use_zone("Australia/Lord_Howe");
	assert_local(2026, 10, 4, 2, 15, 0, "2026-10-03T15:45:00Z");
	assert_local(2026, 4, 5, 1, 45, 0, "2026-04-04T14:45:00Z");
	/* Samoa skipped 30 December 2011 entirely (-10 -> +14). */
	use_zone("Pacific/Apia");
	assert_local(2011, 12, 30, 12, 0, 0, "2011-12-30T22:00:00Z");
	assert_local(2011, 12, 31, 12, 0, 0, "2011-12-30T22:00:00Z");
	assert_local(2011, 12, 29, 12, 0, 0, "2011-12-29T22:00:00Z");
	use_zone("Etc/UTC");
	assert_local(2026, 3, 29, 1, 30, 0, "2026-03-29T01:30:00Z");
	use_zone("Europe/London");
}

static void
test_local_to_utc_bad(void **state)
{
	static const int bad[][6] = {
		{ 2026, 0, 1, 0, 0, 0 }, { 2026, 13, 1, 0, 0, 0 },
		{ 2026, 2, 29, 0, 0, 0 }, { 2026, 4, 31, 0, 0, 0 },
		{ 2026, 1, 0, 0, 0, 0 }, { 2026, 1, 32, 0, 0, 0 },
		{ 2026, 1, 1, 24, 0, 0 }, { 2026, 1, 1, -1, 0, 0 },
		{ 2026, 1, 1, 0, 60, 0 }, { 2026, 1, 1, 0, -1, 0 },
		{ 2026, 1, 1, 0, 0, 60 }, { 2026, 1, 1, 0, 0, -1 },
		{ 1900, 2, 29, 0, 0, 0 }, { 0, 1, 1, 0, 0, 0 },
		{ 10000, 1, 1, 0, 0, 0 },
	};
	size_t i;
	time_t t = 99;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (tz_local_to_utc(bad[i][0], bad[i][1], bad[i][2],
		    bad[i][3], bad[i][4], bad[i][5], &t) != -1)
			fail_msg("accepted row %zu", i);
		assert_int_equal(t, 99);
	}
	assert_local(2028, 2, 29, 12, 0, 0, "2028-02-29T12:00:00Z");
}

/* --- zone names ------------------------------------------------------- */

static void
test_tz_set_bad(void **state)
{
	static const char *bad[] = {
		"", "Europe/Lodnon", "Europe", "Europe/", "/Europe/London",
		"../etc/passwd", "Europe/../Europe/London", "Europe/./London",
		"Europe/London ", " Europe/London", "Europe\\London",
		"europe/london\n", "zone.tab", "leapseconds", "tzdata.zi",
		"right/Europe/London", "/etc/localtime", "Europe//London/",
		"Europe/London/", "Mars/Olympus_Mons",
	};
	char err[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (tz_set(bad[i], err, sizeof(err)) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_true(strstr(err, "time zone") != NULL);
		assert_int_equal(tz_valid(bad[i]), 0);
	}
	assert_int_equal(tz_set("Europe/Lodnon", err, sizeof(err)), -1);
	assert_string_equal(err, "unknown time zone \"Europe/Lodnon\"");
	/* A control character is not echoed into a log line. */
	assert_int_equal(tz_set("Europe/Lon\033[2Jdon", err, sizeof(err)), -1);
	assert_null(strchr(err, '\033'));
	assert_int_equal(tz_set(NULL, err, sizeof(err)), -1);
	assert_int_equal(tz_valid(NULL), 0);
	/* No error buffer is fine too. */
	assert_int_equal(tz_set("Nowhere/Atall", NULL, 0), -1);
	/* A failed tz_set leaves the previous zone in force. */
	assert_time(fx_utc("2026-07-01T12:00:00Z"), "13:00");
}

static void
test_tz_valid(void **state)
{
	(void)state;
	assert_int_equal(tz_valid("Europe/London"), 1);
	assert_int_equal(tz_valid("America/New_York"), 1);
	assert_int_equal(tz_valid("Etc/GMT+5"), 1);
	assert_int_equal(tz_valid("Etc/GMT-14"), 1);
	assert_int_equal(tz_valid("UTC"), 1);
	assert_int_equal(tz_valid("America/Argentina/Buenos_Aires"), 1);
	assert_int_equal(tz_valid("Europe/Lodnon"), 0);
	assert_int_equal(tz_valid("America"), 0);
}

static void
write_file(const char *path, const void *data, size_t len)
{
	FILE *f;

	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* $TZDIR is honoured, and a file must really be TZif to count. */
static void
test_tzdir(void **state)
{
	static const char *names[] = { "Fake", "Short", "Empty", "Zone" };
	char dir[] = "/tmp/test_tz.XXXXXX", path[256], err[128];
	char *data;
	FILE *f;
	size_t i;
	long len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/Test", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/Test/Fake", dir);
	write_file(path, "TZjf not a zone\n", 16);
	snprintf(path, sizeof(path), "%s/Test/Short", dir);
	write_file(path, "TZ", 2);
	snprintf(path, sizeof(path), "%s/Test/Empty", dir);
	write_file(path, "", 0);

	assert_non_null(f = fopen("/usr/share/zoneinfo/America/New_York",
	    "rb"));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	assert_true((len = ftell(f)) > 4);
	rewind(f);
	data = malloc((size_t)len);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	snprintf(path, sizeof(path), "%s/Test/Zone", dir);
	write_file(path, data, (size_t)len);
	free(data);

	assert_int_equal(setenv("TZDIR", dir, 1), 0);
	assert_int_equal(tz_valid("Test/Fake"), 0);
	assert_int_equal(tz_valid("Test/Short"), 0);
	assert_int_equal(tz_valid("Test/Empty"), 0);
	assert_int_equal(tz_valid("Test"), 0);
	assert_int_equal(tz_valid("Europe/London"), 0);
	assert_int_equal(tz_set("Test/Fake", err, sizeof(err)), -1);
	assert_string_equal(err, "unknown time zone \"Test/Fake\"");
	assert_int_equal(tz_valid("Test/Zone"), 1);
	assert_int_equal(tz_set("Test/Zone", err, sizeof(err)), 0);
	/* It is New York's data under another name. */
	assert_time(fx_utc("2026-07-01T12:00:00Z"), "08:00");
	assert_local(2026, 11, 1, 1, 30, 0, "2026-11-01T05:30:00Z");
	assert_int_equal(unsetenv("TZDIR"), 0);

	use_zone("Europe/London");
	assert_time(fx_utc("2026-07-01T12:00:00Z"), "13:00");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/Test/%s", dir, names[i]);
		assert_int_equal(unlink(path), 0);
	}
	snprintf(path, sizeof(path), "%s/Test", dir);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* --- civil dates ------------------------------------------------------ */

static void
test_days_from_civil(void **state)
{
	(void)state;
	assert_int_equal(tz_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(tz_days_from_civil(1970, 1, 2), 1);
	assert_int_equal(tz_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(tz_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(tz_days_from_civil(2026, 3, 29), 20541);
	assert_int_equal(tz_days_from_civil(1600, 1, 1), -135140);
	assert_int_equal(tz_days_from_civil(1, 1, 1), -719162);
}

static int
naive_mdays(int y, int m)
{
	static const int md[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return md[m - 1];
}

/* Walk 1599..2401 one day at a time with a naive calendar. */
static void
test_civil_walk(void **state)
{
	int y = 1599, m = 12, d = 31, ay, am, ad;
	long n = tz_days_from_civil(y, m, d);

	(void)state;
	while (y < 2401) {
		if (++d > naive_mdays(y, m)) {
			d = 1;
			if (++m > 12) {
				m = 1;
				y++;
			}
		}
		n++;
		assert_int_equal(tz_days_from_civil(y, m, d), n);
		ay = 1970, am = 1, ad = 1;
		tz_date_add_days(&ay, &am, &ad, n);
		assert_int_equal(ay, y);
		assert_int_equal(am, m);
		assert_int_equal(ad, d);
	}
}

static void
assert_add(int y, int m, int d, long n, int wy, int wm, int wd)
{
	tz_date_add_days(&y, &m, &d, n);
	assert_int_equal(y, wy);
	assert_int_equal(m, wm);
	assert_int_equal(d, wd);
}

static void
test_date_add(void **state)
{
	(void)state;
	assert_add(2028, 2, 28, 1, 2028, 2, 29);
	assert_add(2028, 2, 29, 1, 2028, 3, 1);
	assert_add(2026, 2, 28, 1, 2026, 3, 1);
	assert_add(2100, 2, 28, 1, 2100, 3, 1);
	assert_add(2000, 2, 28, 1, 2000, 2, 29);
	assert_add(2026, 12, 31, 1, 2027, 1, 1);
	assert_add(2027, 1, 1, -1, 2026, 12, 31);
	assert_add(2026, 3, 1, -1, 2026, 2, 28);
	assert_add(2028, 3, 1, -1, 2028, 2, 29);
	assert_add(2026, 1, 31, 1, 2026, 2, 1);
	assert_add(2026, 4, 30, 1, 2026, 5, 1);
	assert_add(2026, 3, 28, 7, 2026, 4, 4);
	assert_add(2026, 1, 1, 365, 2027, 1, 1);
	assert_add(2028, 1, 1, 365, 2028, 12, 31);
	assert_add(2026, 6, 15, 0, 2026, 6, 15);
	assert_add(2026, 6, 15, -3650, 2016, 6, 17);
	/* Out-of-range fields are normalised. */
	assert_add(2026, 1, 32, 0, 2026, 2, 1);
	assert_add(2026, 13, 1, 0, 2027, 1, 1);
	assert_add(2026, 0, 1, 0, 2025, 12, 1);
	assert_add(2026, 3, 0, 0, 2026, 2, 28);
}

static void
test_parse_date_hhmm(void **state)
{
	static const char *baddates[] = {
		"", "2026-02-30", "2026-13-01", "2026-00-10", "2026-1-01",
		"2026-01-1", "2026-01-01 ", "2026-01-01T", "20260101",
		"2026/01/01", "0000-01-01", "2027-02-29", "-026-01-01",
	};
	static const char *badtimes[] = {
		"", "24:00", "25:00", "12:60", "9:30", "09:3", "09:30 ",
		"0930", "09-30", "09:30:00", "-1:00", "aa:bb",
	};
	int y, m, d, min;
	size_t i;

	(void)state;
	assert_int_equal(tz_parse_date("2026-12-03", &y, &m, &d), 0);
	assert_int_equal(y, 2026);
	assert_int_equal(m, 12);
	assert_int_equal(d, 3);
	assert_int_equal(tz_parse_date("2028-02-29", &y, &m, &d), 0);
	assert_int_equal(d, 29);
	for (i = 0; i < sizeof(baddates) / sizeof(baddates[0]); i++)
		if (tz_parse_date(baddates[i], &y, &m, &d) != -1)
			fail_msg("accepted date \"%s\"", baddates[i]);
	assert_int_equal(tz_parse_date(NULL, &y, &m, &d), -1);

	assert_int_equal(tz_parse_hhmm("00:00", &min), 0);
	assert_int_equal(min, 0);
	assert_int_equal(tz_parse_hhmm("19:00", &min), 0);
	assert_int_equal(min, 1140);
	assert_int_equal(tz_parse_hhmm("23:59", &min), 0);
	assert_int_equal(min, 1439);
	for (i = 0; i < sizeof(badtimes) / sizeof(badtimes[0]); i++)
		if (tz_parse_hhmm(badtimes[i], &min) != -1)
			fail_msg("accepted time \"%s\"", badtimes[i]);
	assert_int_equal(tz_parse_hhmm(NULL, &min), -1);
}

/* --- durations -------------------------------------------------------- */

static void
assert_dur(const char *s, long want)
{
	long got = -1;

	if (dur_parse(s, &got) != 0)
		fail_msg("rejected \"%s\"", s);
	assert_int_equal(got, want);
}

static void
test_dur_parse_good(void **state)
{
	(void)state;
	assert_dur("90m", 5400);
	assert_dur("48h", 172800);
	assert_dur("2d", 172800);
	assert_dur("1h30m", 5400);
	assert_dur("45s", 45);
	assert_dur("1d12h", 129600);
	assert_dur("1d2h3m4s", 93784);
	assert_dur("1d4s", 86404);
	assert_dur("1s", 1);
	assert_dur("30s", 30);
	assert_dur("366d", 31622400);
	assert_dur("8784h", 31622400);
	assert_dur("365d23h59m60s", 31622400);
	assert_dur("31622400s", 31622400);
	assert_dur("0d1s", 1);
	assert_dur("007m", 420);
}

static void
test_dur_parse_bad(void **state)
{
	static const char *bad[] = {
		"", "30", "0", "m", "h30m", "-5m", "+5m", "5 m", " 5m", "5m ",
		"5m\n", "30m1h", "1h1h", "1m1m", "1s1m", "1h2d", "0s", "0d0h",
		"0m", "367d", "366d1s", "8785h", "31622401s",
		"99999999999999999999999999d", "9223372036854775807s",
		"9223372036854775808s", "5x", "5M", "5H", "1.5h", "1h30",
		"5mm", "1h 30m", "1h,30m", "1w", "5min", "1e3s", "0x10s",
		"1d-1h", "\3775m",
	};
	size_t i;
	long v = 4242;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (dur_parse(bad[i], &v) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(v, 4242);
	}
	assert_int_equal(dur_parse(NULL, &v), -1);
}

static void
assert_fmt(long s, const char *want)
{
	char buf[32];

	dur_format(s, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void
test_dur_format(void **state)
{
	char buf[4];
	long s, back;

	(void)state;
	assert_fmt(172800, "2d");
	assert_fmt(5400, "1h30m");
	assert_fmt(45, "45s");
	assert_fmt(60, "1m");
	assert_fmt(3600, "1h");
	assert_fmt(86400, "1d");
	assert_fmt(129600, "1d12h");
	assert_fmt(93784, "1d2h3m4s");
	assert_fmt(86404, "1d4s");
	assert_fmt(31622400, "366d");
	assert_fmt(0, "0s");
	assert_fmt(-90, "-1m30s");
	dur_format(93784, buf, sizeof(buf));
	assert_string_equal(buf, "1d2");
	/* Every format parses back to itself, up to the maximum. */
	for (s = 1; s <= 31622400; s += (s < 200000 ? 1 : 977)) {
		char b[32];

		dur_format(s, b, sizeof(b));
		assert_int_equal(dur_parse(b, &back), 0);
		assert_int_equal(back, s);
	}
	assert_fmt(31622400, "366d");
}

/* Issue 8: a date of the right shape that does not exist says why. */
static void
test_impossible(void **state)
{
	char why[128];

	(void)state;
	assert_int_equal(tz_impossible("2026-02-30", "9999-99-99", why,
	    sizeof(why)), 1);
	assert_string_equal(why, "February 2026 has 28 days");
	assert_int_equal(tz_impossible("2028-02-30", "9999-99-99", why,
	    sizeof(why)), 1);
	assert_string_equal(why, "February 2028 has 29 days");
	assert_int_equal(tz_impossible("2026-12-32T10:00:00Z",
	    "9999-99-99T99:99:99Z", why, sizeof(why)), 1);
	assert_string_equal(why, "December 2026 has 31 days");
	assert_int_equal(tz_impossible("2026-13-01", "9999-99-99", why,
	    sizeof(why)), 1);
	assert_string_equal(why, "there is no month 13");
	assert_int_equal(tz_impossible("2026-12-01T24:00:00Z",
	    "9999-99-99T99:99:99Z", why, sizeof(why)), 1);
	assert_string_equal(why, "24:00:00 is not a time of day");
	assert_int_equal(tz_impossible("2026-12-01 10:61", "9999-99-99 99:99",
	    why, sizeof(why)), 1);
	assert_string_equal(why, "10:61 is not a time of day");
	/* the wrong shape is not "impossible" */
	assert_int_equal(tz_impossible("2026-2-3", "9999-99-99", why,
	    sizeof(why)), 0);
	assert_int_equal(tz_impossible("2026-12-01 10:00", "9999-99-99", why,
	    sizeof(why)), 0);
	assert_int_equal(tz_impossible(NULL, "9999-99-99", why, sizeof(why)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_utc_known),
		cmocka_unit_test(test_utc_against_libc),
		cmocka_unit_test(test_parse_utc_bad),
		cmocka_unit_test_setup(test_parse_any, setup_london),
		cmocka_unit_test_setup(test_parse_any_bad, setup_london),
		cmocka_unit_test_setup(test_london_plain, setup_london),
		cmocka_unit_test_setup(test_london_spring_gap, setup_london),
		cmocka_unit_test_setup(test_london_autumn_repeat, setup_london),
		cmocka_unit_test_setup(test_london_24h_before, setup_london),
		cmocka_unit_test_setup(test_london_whole_year, setup_london),
		cmocka_unit_test_setup(test_format_london, setup_london),
		cmocka_unit_test_setup(test_new_york, setup_london),
		cmocka_unit_test_setup(test_southern_and_odd_zones,
		    setup_london),
		cmocka_unit_test_setup(test_local_to_utc_bad, setup_london),
		cmocka_unit_test_setup(test_tz_set_bad, setup_london),
		cmocka_unit_test(test_tz_valid),
		cmocka_unit_test(test_tzdir),
		cmocka_unit_test(test_days_from_civil),
		cmocka_unit_test(test_civil_walk),
		cmocka_unit_test(test_date_add),
		cmocka_unit_test(test_parse_date_hhmm),
		cmocka_unit_test(test_dur_parse_good),
		cmocka_unit_test(test_dur_parse_bad),
		cmocka_unit_test(test_dur_format),
		cmocka_unit_test(test_impossible),
	};

	/* The process must not inherit a zone or zone directory. */
	unsetenv("TZDIR");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
