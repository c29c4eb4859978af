/*
 * utf8_width: terminal columns, so nudgectl's tables line up with any
 * client's name; utf8_scrub: outside text made safe to print.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
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

static void
test_scrub(void **state)
{
	char *s;

	(void)state;
	assert_null(utf8_scrub(NULL));
	s = utf8_scrub("[Zo\xc3\xab & Alex] Session");
	assert_string_equal(s, "[Zo\xc3\xab & Alex] Session");
	free(s);
	/* bad bytes: U+FFFD each; escapes, tabs, C1: a space */
	s = utf8_scrub("a\xff\x1b[2J\tb\xc2\x9b" "c\x7f");
	assert_string_equal(s, "a\xef\xbf\xbd [2J b c ");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_width),
		cmocka_unit_test(test_scrub),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
