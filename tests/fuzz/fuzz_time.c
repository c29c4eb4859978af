/*
 * libFuzzer target: the time parsers on arbitrary bytes (tz.h), in the
 * practice's usual zone.  Besides memory errors it checks what each
 * parser promises: whatever tz_parse_utc accepts prints back identically,
 * tz_parse_any agrees with tz_parse_utc on the 'Z' form, dates are real
 * dates, HH:MM gives 0..1439, and a duration survives dur_format and a
 * second dur_parse unchanged.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/tz.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fail(const char *what, const char *in)
{
	fprintf(stderr, "fuzz_time: %s (input \"%s\")\n", what, in);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	char *s, buf[TZ_UTC_LEN], again[TZ_UTC_LEN], text[64];
	time_t t, t2;
	long secs, secs2;
	int y, mon, day, mins;
	struct tm tm;

	if (!ready) {
		char err[128];

		if (tz_set("Europe/London", err, sizeof(err)) != 0) {
			fprintf(stderr, "fuzz_time: %s\n", err);
			abort();
		}
		ready = 1;
	}
	/* Exactly size bytes and a NUL: ASan sees any read past the end. */
	s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';

	if (tz_parse_utc(s, &t) == 0) {
		tz_format_utc(t, buf);
		if (strcmp(buf, s) != 0)
			fail("tz_parse_utc accepted what it does not print back", s);
		if (tz_parse_any(s, &t2) != 0 || t2 != t)
			fail("tz_parse_any disagrees with tz_parse_utc", s);
	}
	if (tz_parse_any(s, &t) == 0) {
		tz_format_utc(t, buf);
		if (tz_parse_utc(buf, &t2) != 0 || t2 != t)
			fail("tz_format_utc output not accepted back", s);
		tz_to_local(t, &tm);
		tz_format_date(t, text, sizeof(text));
		tz_format_time(t, text, sizeof(text));
		tz_format_local_date(t, text, sizeof(text));
		if (tz_parse_date(text, &y, &mon, &day) != 0)
			fail("tz_format_local_date output not a date", s);
		if (tz_local_to_utc(y, mon, day, tm.tm_hour, tm.tm_min,
		    tm.tm_sec, &t2) != 0)
			fail("tz_local_to_utc refused a local time of a real instant", s);
	}
	if (tz_parse_date(s, &y, &mon, &day) == 0) {
		if (mon < 1 || mon > 12 || day < 1 || day > 31)
			fail("tz_parse_date gave an impossible date", s);
		tz_date_add_days(&y, &mon, &day, 400);
		(void)tz_days_from_civil(y, mon, day);
	}
	if (tz_parse_hhmm(s, &mins) == 0 && (mins < 0 || mins > 23 * 60 + 59))
		fail("tz_parse_hhmm out of range", s);
	if (dur_parse(s, &secs) == 0) {
		if (secs <= 0 || secs > 366L * 86400)
			fail("dur_parse out of range", s);
		dur_format(secs, again, sizeof(again));
		if (dur_parse(again, &secs2) != 0 || secs2 != secs)
			fail("dur_format output does not parse back", s);
	}
	free(s);
	return 0;
}
