/*
 * libFuzzer target: the SMTP reply reader and classifier (mail.h:
 * mail_reply_parse, mail_classify) on what a hostile server may send.
 *
 * Input: byte 0 odd: the bytes arrive one line at a time (as libcurl may
 * hand them over), byte 1 libcurl's result code, byte 2 the phase, the
 * rest the server's bytes.
 *
 * Besides memory errors: the code is 0 or 200..599; the text (it reaches
 * logs and last_error) is one line without control characters and starts
 * with the code; the result is one of the five; the reply is the same
 * whether the lines arrive together or one by one; and libcurl's OK is
 * never anything but OK.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/mail.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fail(const char *what, const char *text)
{
	fprintf(stderr, "fuzz_smtp: %s (text \"%s\")\n", what, text);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[512], whole[512];
	enum xfer_result r;
	char *buf;
	size_t n, i;
	int code, code2;

	if (size < 3)
		return 0;
	n = size - 3;
	if ((buf = malloc(n + 1)) == NULL)
		return 0;
	memcpy(buf, data + 3, n);
	buf[n] = '\0';
	code = mail_reply_parse(buf, n, data[0] & 1, text, sizeof(text));
	code2 = mail_reply_parse(buf, n, 0, whole, sizeof(whole));
	free(buf);
	if (code != 0 && (code < 200 || code > 599))
		fail("reply code out of range", text);
	if (code != code2 || strcmp(text, whole) != 0)
		fail("the reply depends on how the bytes arrived", text);
	for (i = 0; text[i] != '\0'; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			fail("control character in the reply text", text);
	if (code != 0) {
		char want[4];

		snprintf(want, sizeof(want), "%d", code);
		if (strncmp(text, want, 3) != 0)
			fail("text does not start with its code", text);
	}
	r = mail_classify(data[1] % 100, (enum mail_phase)(data[2] % 9), code);
	if (r != XFER_OK && r != XFER_TEMPFAIL && r != XFER_PERMFAIL &&
	    r != XFER_UNKNOWN && r != XFER_CHANNEL)
		fail("result out of range", text);
	if (data[1] % 100 == 0 && r != XFER_OK)
		fail("libcurl's OK is not OK", text);
	return 0;
}
