/*
 * retry_decide: the one retry / give-up / late_limit decision, on a
 * table of cases (policy/retry.h).  No clock, no database.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "conf/conf.h"
#include "policy/retry.h"
#include "base/tz.h"
#include "fixture.h"

#define H 3600L

static struct conf cf;

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(fx_tz_london(), 0);
	fx_conf_practice(&cf);
	return 0;
}

struct rcase {
	const char		*name;
	const char		*now;
	enum chan		 ch;
	int			 attempt;
	double			 rnd;
	long			 retry_after;
	long			 appt_in;	/* appointment at now + this; 0: none */
	long			 hw_in;		/* next homework prompt at now + this; 0 */
	enum retry_verdict	 want;
	long			 want_in;	/* next - now; -1: see want_at */
	const char		*want_at;
};

static const struct rcase cases[] = {
	{ "first retry after retry.first", "2026-12-03T10:00:00Z", CHAN_EMAIL,
	  1, 0.0, 0, 0, 0, RETRY_AGAIN, 60, NULL },
	{ "doubles per attempt", "2026-12-03T10:00:00Z", CHAN_EMAIL,
	  3, 0.0, 0, 0, 0, RETRY_AGAIN, 240, NULL },
	{ "jitter adds under a quarter", "2026-12-03T10:00:00Z", CHAN_EMAIL,
	  1, 0.999999, 0, 0, 0, RETRY_AGAIN, 74, NULL },
	{ "capped at retry.max, jitter taken off", "2026-12-03T10:00:00Z",
	  CHAN_EMAIL, 7, 0.99, 0, 0, 0, RETRY_AGAIN, 2709, NULL },
	{ "capped at retry.max without jitter", "2026-12-03T10:00:00Z",
	  CHAN_EMAIL, 7, 0.0, 0, 0, 0, RETRY_AGAIN, 3600, NULL },
	{ "a longer Retry-After wins", "2026-12-03T10:00:00Z", CHAN_SMS,
	  1, 0.0, 600, 0, 0, RETRY_AGAIN, 600, NULL },
	{ "a shorter Retry-After does not", "2026-12-03T10:00:00Z", CHAN_SMS,
	  1, 0.0, 30, 0, 0, RETRY_AGAIN, 60, NULL },
	{ "gives up after retry.attempts", "2026-12-03T10:00:00Z", CHAN_EMAIL,
	  8, 0.0, 0, 0, 0, RETRY_ATTEMPTS, 3600, NULL },
	{ "attempts count before late_limit", "2026-12-03T10:00:00Z",
	  CHAN_EMAIL, 8, 0.0, 0, H, 0, RETRY_ATTEMPTS, 3600, NULL },
	{ "a retry under late_limit before the appointment: late",
	  "2026-12-03T10:00:00Z", CHAN_EMAIL, 1, 0.0, 0, H + 30, 0,
	  RETRY_LATE, 60, NULL },
	{ "exactly late_limit before is still in time", "2026-12-03T10:00:00Z",
	  CHAN_EMAIL, 1, 0.0, 0, H + 60, 0, RETRY_AGAIN, 60, NULL },
	{ "homework: the next prompt at the retry supersedes it",
	  "2026-12-03T10:00:00Z", CHAN_EMAIL, 1, 0.0, 0, 0, 60,
	  RETRY_SUPERSEDED, 60, NULL },
	{ "homework: the next prompt after the retry", "2026-12-03T10:00:00Z",
	  CHAN_EMAIL, 1, 0.0, 0, 0, 61, RETRY_AGAIN, 60, NULL },
	{ "SMS retry in quiet hours held to their end", "2026-12-03T20:59:30Z",
	  CHAN_SMS, 1, 0.0, 0, 0, 0, RETRY_AGAIN, -1, "2026-12-04T08:00:00Z" },
	{ "email ignores SMS quiet hours", "2026-12-03T20:59:30Z", CHAN_EMAIL,
	  1, 0.0, 0, 0, 0, RETRY_AGAIN, 60, NULL },
	{ "quiet hours can push a reminder's retry too late",
	  "2026-12-03T20:59:30Z", CHAN_SMS, 1, 0.0, 0, 11 * H, 0, RETRY_LATE,
	  -1, "2026-12-04T08:00:00Z" },
};

static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rcase *c = &cases[i];
		time_t now = fx_utc(c->now), next = 0, want;
		struct retry_in in = { 0 };
		enum retry_verdict v;

		in.channel = c->ch;
		in.attempt = c->attempt;
		in.rnd = c->rnd;
		in.retry_after = c->retry_after;
		in.appt_start = c->appt_in ? now + c->appt_in : 0;
		in.hw_next = c->hw_in ? now + c->hw_in : 0;
		v = retry_decide(&cf, &in, now, &next);
		want = c->want_in >= 0 ? now + c->want_in : fx_utc(c->want_at);
		if (v != c->want || next != want)
			fail_msg("%s: verdict %d next now%+lld, want %d now%+lld",
			    c->name, (int)v, (long long)(next - now), (int)c->want,
			    (long long)(want - now));
	}
}

/* Whatever the draw in [0, 1), the delay stays in [first, max]. */
static void
test_delay_bounds(void **state)
{
	static const double draws[] = { 0.0, 0.25, 0.5, 0.999999999 };

	(void)state;
	for (int a = 1; a <= 12; a++)
		for (size_t i = 0; i < sizeof(draws) / sizeof(draws[0]); i++) {
			long d = retry_delay(&cf, a, draws[i]);

			assert_true(d >= cf.retry.first);
			assert_true(d <= cf.retry.max);
		}
}

static void
test_too_late(void **state)
{
	(void)state;
	assert_true(retry_too_late(&cf, 10 * H, 9 * H + 1));
	assert_false(retry_too_late(&cf, 10 * H, 9 * H));
	assert_true(retry_too_late(&cf, 10 * H, 11 * H));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_table, setup),
		cmocka_unit_test_setup(test_delay_bounds, setup),
		cmocka_unit_test_setup(test_too_late, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
