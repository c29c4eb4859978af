/*
 * libFuzzer target: phone_e164 (region GB) and sms_count on arbitrary
 * bytes (phone.h).  Checks beyond memory errors: an accepted number is
 * '+' and 7..15 digits, masks cleanly and is a fixed point (normalising
 * the E.164 form again gives the same number); an error message is never
 * empty; segment counts agree with the units and the alphabet.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/phone.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_phone: %s\n", what);
	abort();
}

static void
check_number(const char *s)
{
	char out[PHONE_E164_SIZE], again[PHONE_E164_SIZE], mask[PHONE_MASK_SIZE];
	char err[256];
	size_t n, i;

	err[0] = '\0';
	if (phone_e164(s, "GB", out, sizeof(out), err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			fail("phone_e164 refused without a reason");
		return;
	}
	n = strlen(out);
	if (out[0] != '+' || n < 8 || n > 16)
		fail("phone_e164 result is not + and 7..15 digits");
	for (i = 1; i < n; i++)
		if (out[i] < '0' || out[i] > '9')
			fail("phone_e164 result has a non-digit");
	if (phone_e164(out, "GB", again, sizeof(again), err, sizeof(err)) != 0 ||
	    strcmp(out, again) != 0)
		fail("phone_e164 is not a fixed point on its own result");
	if (phone_mask(out, mask, sizeof(mask)) != 0 || strlen(mask) != 12)
		fail("phone_mask refused an E.164 number");
	(void)phone_sms_capable(out, err, sizeof(err));
}

static void
check_count(const char *s)
{
	struct sms_count c;

	sms_count(s, &c);
	if (c.units < 0 || c.segments < 0)
		fail("negative sms count");
	if ((s[0] == '\0') != (c.segments == 0))
		fail("0 segments if and only if the text is empty");
	if (s[0] != '\0' && c.ucs2 == sms_is_gsm7(s))
		fail("sms_count alphabet disagrees with sms_is_gsm7");
	if (c.units == INT_MAX)
		return;
	if (c.segments == 1 && c.units > (c.ucs2 ? 70 : 160))
		fail("one segment holding too much");
	if (c.segments > 1 && (c.units <= (c.ucs2 ? 70 : 160) ||
	    (long)c.segments * (c.ucs2 ? 67 : 153) < c.units))
		fail("segment count too small for the units");
	/* Every part but the last is full, or one short for a split pair. */
	if (c.segments > 1 &&
	    (long)(c.segments - 1) * (c.ucs2 ? 66 : 152) >= c.units)
		fail("segment count too large for the units");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	check_number(s);
	check_count(s);
	free(s);
	return 0;
}
