/*
 * libFuzzer target: sms_classify and sms_retry_after (sms.h), the parsers
 * of what an SMS provider answers.
 *
 * Input: byte 0 picks the provider (twilio, vonage, generic), bytes 1-2
 * the HTTP status (100..599), the rest is the answer's body; the body is
 * also read as a Retry-After value.
 *
 * Besides memory errors: the result is one of the five, ref and err are
 * NUL-terminated printable ASCII (they reach logs and the database), a
 * Retry-After is kept only for TEMPFAIL, unsubscribed only for a
 * permanent failure, a 2xx from Twilio or a generic gateway is accepted
 * or unknown, never a failure (a text that may have gone must not be
 * retried as if it had not; Vonage says per part inside its 200), unless
 * Twilio's body says the text did not go (no sid, or a message "failed"
 * or "undelivered" at once), and Retry-After is within
 * 0..SMS_RETRY_AFTER_MAX.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "transport/sms.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fail(const char *what, const struct sms_req *r)
{
	fprintf(stderr, "fuzz_sms: %s (res %d, ref \"%s\", err \"%s\")\n", what,
	    r->res, r->ref, r->err);
	abort();
}

static void
printable(const char *s, size_t cap, const char *what, const struct sms_req *r)
{
	size_t i;

	for (i = 0; i < cap && s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			fail(what, r);
	if (i == cap)
		fail(what, r);
}

/* A Twilio body saying that the text did not go (sms_req.c's table). */
static int
twilio_not_gone(const char *body, size_t n)
{
	json_t *j = json_loadb(body, n, 0, NULL);
	const char *st;
	int r = 0;

	if (json_is_object(j)) {
		st = json_string_value(json_object_get(j, "status"));
		r = !json_is_string(json_object_get(j, "sid")) || (st != NULL &&
		    (strcmp(st, "failed") == 0 || strcmp(st, "undelivered") == 0));
	}
	json_decref(j);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum sms_provider prov[] = { SMS_TWILIO, SMS_VONAGE,
	    SMS_GENERIC };
	struct sms_req r;
	long status, ra;
	char *body;
	size_t n;

	if (size < 3)
		return 0;
	status = 100 + (long)((data[1] << 8 | data[2]) % 500);
	n = size - 3;
	body = malloc(n + 1);
	if (body == NULL)
		return 0;
	memcpy(body, data + 3, n);
	body[n] = '\0';

	memset(&r, 0, sizeof(r));
	r.to = "+447700900123";
	r.text = "hello";
	sms_classify(prov[data[0] % 3], data[0] & 4 ? "id" : NULL, status, 30,
	    body, n, &r);
	if (r.res != XFER_OK && r.res != XFER_TEMPFAIL && r.res != XFER_PERMFAIL &&
	    r.res != XFER_UNKNOWN && r.res != XFER_CHANNEL)
		fail("result out of range", &r);
	printable(r.ref, sizeof(r.ref), "ref not printable ASCII", &r);
	printable(r.err, sizeof(r.err), "err not printable ASCII", &r);
	if (r.retry_after != 0 && r.res != XFER_TEMPFAIL)
		fail("retry_after without TEMPFAIL", &r);
	if (r.unsubscribed && r.res != XFER_PERMFAIL)
		fail("unsubscribed without PERMFAIL", &r);
	/* Vonage says per part, inside a 200, whether each went. */
	if (prov[data[0] % 3] != SMS_VONAGE && status / 100 == 2 &&
	    r.res != XFER_OK && r.res != XFER_UNKNOWN &&
	    !(prov[data[0] % 3] == SMS_TWILIO && twilio_not_gone(body, n)))
		fail("a 2xx answer retried or failed", &r);

	ra = sms_retry_after(body, 1700000000);
	if (ra < 0 || ra > SMS_RETRY_AFTER_MAX)
		fail("retry-after out of range", &r);
	free(body);
	return 0;
}
