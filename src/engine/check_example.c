/*
 * check_example: --check-config warns when values of the shipped example
 * config are still in place (the practice would send from
 * mail.example.org, or sign with the example's phone number).  Example
 * domains (RFC 2606: example.org, .com, .net) never reach a real person,
 * and the example's own phone, address, names and SMS account are
 * compared as they ship.  A warning, not an error: a test setup may use
 * them on purpose.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "engine/check.h"
#include "base/util.h"

/* The shipped conf/nudged.conf's values that are not example domains. */
static const char *const check_shipped[] = {
	"Hughes Relationship Therapy", "Christian Hughes", "01384 000000",
	"1 High Street, Stourbridge DY8 1AA",
	"AC0123456789abcdef0123456789abcdef", "+447700900000", NULL
};

static int
check_example_domain(const char *v)
{
	static const char *const dom[] = { "example.org", "example.com",
	    "example.net", NULL };
	const char *p;

	for (size_t i = 0; dom[i] != NULL; i++)
		for (p = v; (p = strcasestr(p, dom[i])) != NULL; p++)
			/* the domain itself or a subdomain, not "myexample.org" */
			if (p == v || p[-1] == '@' || p[-1] == '.' ||
			    p[-1] == '/')
				return 1;
	return 0;
}

static void
check_one_value(struct sbuf *b, const char *key, const char *v)
{
	int hit = 0;

	if (v == NULL)
		return;
	hit = check_example_domain(v);
	for (size_t i = 0; !hit && check_shipped[i] != NULL; i++)
		hit = strcmp(v, check_shipped[i]) == 0;
	if (hit)
		sbuf_printf(b, "%s%s (\"%s\")", b->len ? ", " : "", key, v);
}

int
check_examples(const struct conf *c, FILE *out)
{
	struct sbuf b = { 0 };
	int n;

	check_one_value(&b, "practice.name", c->practice.name);
	check_one_value(&b, "practice.practitioner", c->practice.practitioner);
	check_one_value(&b, "practice.email", c->practice.email);
	check_one_value(&b, "practice.phone", c->practice.phone);
	check_one_value(&b, "practice.address", c->practice.address);
	check_one_value(&b, "practice.video_url", c->practice.video_url);
	if (c->email.enabled) {
		check_one_value(&b, "email.url", c->email.url);
		check_one_value(&b, "email.username", c->email.username);
		check_one_value(&b, "email.from", c->email.from);
	}
	if (c->sms.enabled) {
		check_one_value(&b, "sms.account", c->sms.account);
		check_one_value(&b, "sms.from", c->sms.from);
	}
	n = b.len > 0;
	if (n)
		fprintf(out, "%s: warning: values from the example config are "
		    "still in place: %s; replace them with the practice's own\n",
		    c->path, sbuf_str(&b));
	sbuf_free(&b);
	return n;
}
