/*
 * log: the privacy rule.  Recipients are masked, and addresses and phone
 * numbers inside free text (a server's reply) are masked however written.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base/log.h"

static void
test_mask(void **state)
{
	char b[64];

	(void)state;
	assert_string_equal(log_mask("sam@example.org", b, sizeof(b)),
	    "s***@example.org");
	assert_string_equal(log_mask("+447700900123", b, sizeof(b)),
	    "+44******123");
	assert_string_equal(log_mask("+15551234567", b, sizeof(b)),
	    "+15******567");
	assert_string_equal(log_mask("12345", b, sizeof(b)), "******");
	assert_string_equal(log_mask(NULL, b, sizeof(b)), "-");
}

static void
test_scrub(void **state)
{
	static const char *const leaks[] = {
		"550 5.1.1 <sam.taylor@example.org>: Recipient address rejected",
		"21211 The 'To' number +447700900123 is not a valid phone number",
		"invalid number '07700 900123'",
		"invalid number 07700-900-123",
		"invalid number 07700.900.123",
		"invalid number +44 (0)7700 900123",
		"invalid number (07700) 900/123",
		/* an address a server quotes inside a URL (transport audit) */
		"450 4.2.0 Greylisted, see https://x.example/?to=sam.taylor%40example.org",
		"450 4.2.0 see https://x.example/?rcpt=sam.taylor%40example.org&x=1",
	};
	char b[256];

	(void)state;
	for (size_t i = 0; i < sizeof(leaks) / sizeof(leaks[0]); i++) {
		log_scrub(leaks[i], b, sizeof(b));
		assert_null(strstr(b, "sam.taylor"));
		assert_null(strstr(b, "7700"));
		assert_null(strstr(b, "900"));
	}
	/* what is not personal stays readable */
	assert_string_equal(log_scrub("451 4.3.0 try again\r\nlater", b, sizeof(b)),
	    "451 4.3.0 try again  later");
	log_scrub("550 5.1.1 <sam.taylor@example.org>", b, sizeof(b));
	assert_non_null(strstr(b, "s***@example.org"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_scrub),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
