/*
 * util_test_timing: the test-only $NUDGED_TEST_TIMING can shorten a fixed
 * period, never lengthen it, and anything malformed leaves the default.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "base/util.h"

static void
test_unset_keeps_defaults(void **state)
{
	(void)state;
	unsetenv("NUDGED_TEST_TIMING");
	assert_int_equal(util_test_timing("busy_ms", 10000), 10000);
	assert_int_equal(util_test_timing("rescan", 120), 120);
}

static void
test_keys_read(void **state)
{
	(void)state;
	setenv("NUDGED_TEST_TIMING", "busy_ms=500,lock_wait=3,rescan=2", 1);
	assert_int_equal(util_test_timing("busy_ms", 10000), 500);
	assert_int_equal(util_test_timing("lock_wait", 30), 3);
	assert_int_equal(util_test_timing("rescan", 120), 2);
	/* a key that is only a prefix of another is not it */
	assert_int_equal(util_test_timing("busy", 7), 7);
	assert_int_equal(util_test_timing("lock", 30), 30);
	unsetenv("NUDGED_TEST_TIMING");
}

static void
test_only_shorter(void **state)
{
	(void)state;
	/* longer than the default, zero, negative, junk: the default */
	setenv("NUDGED_TEST_TIMING", "rescan=999,busy_ms=0,lock_wait=-1", 1);
	assert_int_equal(util_test_timing("rescan", 120), 120);
	assert_int_equal(util_test_timing("busy_ms", 10000), 10000);
	assert_int_equal(util_test_timing("lock_wait", 30), 30);
	setenv("NUDGED_TEST_TIMING", "rescan=2x,,busy_ms=,=3,lock_wait=30", 1);
	assert_int_equal(util_test_timing("rescan", 120), 120);
	assert_int_equal(util_test_timing("busy_ms", 10000), 10000);
	assert_int_equal(util_test_timing("lock_wait", 30), 30);
	setenv("NUDGED_TEST_TIMING",
	    "rescan=00000000000000000000000000000000001", 1);
	assert_int_equal(util_test_timing("rescan", 120), 120);
	unsetenv("NUDGED_TEST_TIMING");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unset_keeps_defaults),
		cmocka_unit_test(test_keys_read),
		cmocka_unit_test(test_only_shorter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
