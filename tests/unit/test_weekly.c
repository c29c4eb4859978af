/*
 * weekly: when the last weekly moment was (local day and time, across the
 * clock changes), and that the summary names cases only when asked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "store/store_privacy.h"
#include "base/tz.h"
#include "policy/weekly.h"
#include "fixture.h"

static struct conf cf;

static void
check_slot(const char *now, const char *want)
{
	char got[TZ_UTC_LEN];

	tz_format_utc(weekly_slot(&cf, fx_utc(now)), got);
	assert_string_equal(got, want);
}

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(fx_tz_london(), 0);
	memset(&cf, 0, sizeof(cf));
	cf.weekly.on = 1;
	cf.weekly.wday = 5;		/* Friday */
	cf.weekly.minute = 16 * 60;
	return 0;
}

static void
test_slot(void **state)
{
	(void)state;
	/* Friday 4 December 2026 (GMT): before, at and after 16:00 */
	check_slot("2026-12-04T15:59:59Z", "2026-11-27T16:00:00Z");
	check_slot("2026-12-04T16:00:00Z", "2026-12-04T16:00:00Z");
	check_slot("2026-12-05T09:00:00Z", "2026-12-04T16:00:00Z");
	check_slot("2026-12-11T15:00:00Z", "2026-12-04T16:00:00Z");
	/* summer time: Friday 16:00 BST is 15:00 UTC */
	check_slot("2026-07-03T15:30:00Z", "2026-07-03T15:00:00Z");
	/* the week the clocks go forward (Sunday 29 March 2026) */
	check_slot("2026-04-01T12:00:00Z", "2026-03-27T16:00:00Z");
	check_slot("2026-04-03T15:00:00Z", "2026-04-03T15:00:00Z");
	/* a time in the spring gap means the same wall time an hour later */
	cf.weekly.wday = 0;
	cf.weekly.minute = 90;		/* Sun 01:30 */
	check_slot("2026-03-29T12:00:00Z", "2026-03-29T01:30:00Z");
}

static void
check_shift(const char *slot, int weeks, const char *want)
{
	char got[TZ_UTC_LEN];

	tz_format_utc(weekly_shift(&cf, fx_utc(slot), weeks), got);
	assert_string_equal(got, want);
}

static void
test_shift(void **state)
{
	(void)state;
	/* a week without a clock change: 7 x 24 hours */
	check_shift("2026-12-04T16:00:00Z", -1, "2026-11-27T16:00:00Z");
	check_shift("2026-12-04T16:00:00Z", 1, "2026-12-11T16:00:00Z");
	/* spring 2027: Fri 26 March 16:00 GMT, Fri 2 April 16:00 BST */
	check_shift("2027-04-02T15:00:00Z", -1, "2027-03-26T16:00:00Z");
	check_shift("2027-03-26T16:00:00Z", 1, "2027-04-02T15:00:00Z");
	/* autumn 2027: Fri 29 October 16:00 BST, Fri 5 November 16:00 GMT */
	check_shift("2027-11-05T16:00:00Z", -1, "2027-10-29T15:00:00Z");
	check_shift("2027-10-29T15:00:00Z", 1, "2027-11-05T16:00:00Z");
	/* over the year end */
	check_shift("2027-01-01T16:00:00Z", -1, "2026-12-25T16:00:00Z");
}

static void
test_compose_names(void **state)
{
	struct week_session s = { 12, 3, 0, (char *)"Sam & Alex" };
	struct week_reason why = { (char *)"no SMS consent for +447700900123", 2 };
	struct week_stats w = { 0 };
	char *subject, *text;

	(void)state;
	s.starts_at = fx_utc("2026-12-08T10:00:00Z");
	w.sent = 5;
	w.skipped = 2;
	w.skips = &why;
	w.nskips = 1;
	w.next = &s;
	w.nnext = 1;
	weekly_compose(&cf, &w, fx_utc("2026-11-27T16:00:00Z"),
	    fx_utc("2026-12-04T16:00:00Z"), &subject, &text);
	assert_string_equal(subject,
	    "nudged: weekly summary to Friday 4 December 2026");
	assert_non_null(strstr(text, "- sent: 5\n"));
	assert_non_null(strstr(text, "appointment 12, case 3, Tuesday 8 December "
	    "2026 at 10:00\n"));
	assert_null(strstr(text, "Sam"));
	assert_null(strstr(text, "900123"));	/* reasons are scrubbed */
	free(subject);
	free(text);
	cf.weekly.names = 1;
	weekly_compose(&cf, &w, fx_utc("2026-11-27T16:00:00Z"),
	    fx_utc("2026-12-04T16:00:00Z"), &subject, &text);
	assert_non_null(strstr(text, "at 10:00 (Sam & Alex)\n"));
	free(subject);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_slot, setup),
		cmocka_unit_test_setup(test_shift, setup),
		cmocka_unit_test_setup(test_compose_names, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
