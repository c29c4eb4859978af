/*
 * utf8_width: terminal columns, so nudgectl's tables line up with any
 * client's name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/utf8.h"

static void
test_width(void **state)
{
	(void)state;
	assert_int_equal(utf8_width(""), 0);
	assert_int_equal(utf8_width("Sam Taylor"), 10);
	assert_int_equal(utf8_width("Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m"), 12);
	/* e + combining diaeresis: one column */
	assert_int_equal(utf8_width("Zoe\xcc\x88"), 3);
	/* CJK: two columns each */
	assert_int_equal(utf8_width("\xe6\x9d\x8e\xe5\xb0\x8f\xe9\xbe\x8d"), 6);
	/* emoji: two */
	assert_int_equal(utf8_width("\xf0\x9f\x98\x80"), 2);
	/* broken sequences count one column per byte, never overrun */
	assert_int_equal(utf8_width("\xff\xfe"), 2);
	assert_int_equal(utf8_width("a\xe6\x9d"), 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_width),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
