/*
 * libFuzzer target: the template language (tmpl.h).  The input is a
 * template; tmpl_check must never crash or leave err empty on refusal;
 * a template it accepts renders with the sample values, with a few values
 * of its own (empty, NULL, and one holding braces), and with none.  Text
 * without "{{" renders as it is.  The same text also goes through
 * tmpl_check_names with a small list, as a generic SMS body would.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/tmpl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_tmpl: %s\n", what);
	abort();
}

static void
render(const char *text, const struct tmpl_var *v, size_t n)
{
	char *out;

	if ((out = tmpl_render(text, v, n)) == NULL)
		fail("tmpl_render returned NULL");
	if (strstr(text, "{{") == NULL && strcmp(out, text) != 0)
		fail("text without tags changed by rendering");
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const sms_names[] = { "to", "from", "text",
	    "account", "token", NULL };
	const struct tmpl_var mine[] = {
		{ "first_name", "Sam" },
		{ "name", "" },
		{ "video_url", NULL },
		{ "date", "{{#date}}{{/date}}" },
		{ "partner_first_name", "Al\xc3\xa9x" },
	};
	const struct tmpl_var *sample;
	size_t nsample;
	char err[256], *s;

	s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';

	err[0] = '\0';
	if (tmpl_check(s, err, sizeof(err)) == 0) {
		sample = tmpl_sample(&nsample);
		render(s, sample, nsample);
		render(s, mine, sizeof(mine) / sizeof(mine[0]));
		render(s, NULL, 0);
	} else {
		if (err[0] == '\0')
			fail("tmpl_check refused without a reason");
		/* Promised: an invalid text still renders. */
		render(s, NULL, 0);
	}
	err[0] = '\0';
	if (tmpl_check_names(s, sms_names, err, sizeof(err)) != 0 &&
	    err[0] == '\0')
		fail("tmpl_check_names refused without a reason");
	free(s);
	return 0;
}
