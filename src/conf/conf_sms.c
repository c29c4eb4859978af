/*
 * conf_sms: the sms group.  Provider, url (https://, or http:// to a
 * loopback host only), account, sender, region and limits, the token
 * (through conf_secret.c), and for provider = "generic" the request
 * template: method, headers, content type and a body whose {{names}} are
 * checked here so a typo fails at load time, not at the first send.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "conf/conf_int.h"
#include "base/phone.h"
#include "base/util.h"

static const char *const sms_keys[] = { "discreet_from", "transliterate",
	"enabled", "provider", "url",
	"account", "token", "token_file", "from", "region", "ca_file",
	"max_segments", "concurrency", "fallback_email", "timeout", "method",
	"headers", "content_type", "body", "id_field", NULL };
static const char *const generic_keys[] = { "method", "headers",
	"content_type", "body", "id_field", NULL };
static const char *const body_names[] = { "to", "from", "text", "account",
	"token", NULL };

/* sms.url: https://, or http:// to this machine only (a test double). */
static int
loopback_url(const char *url)
{
	const char *h = url + strlen("http://"), *e, *at;
	struct in_addr in;
	char ip[16];
	size_t n;

	e = h + strcspn(h, "/?#");
	if ((at = memrchr(h, '@', (size_t)(e - h))) != NULL)
		h = at + 1;
	if (*h == '[')
		return strncmp(h, "[::1]", 5) == 0 &&
		    (h[5] == ':' || h + 5 == e);
	n = strcspn(h, ":/?#");
	if (n == strlen("localhost") && strncasecmp(h, "localhost", n) == 0)
		return 1;
	/* 127.0.0.0/8, in the dotted-quad form inet_pton() insists on */
	if (n < sizeof(ip) && strspn(h, "0123456789.") == n) {
		memcpy(ip, h, n);
		ip[n] = '\0';
		return inet_pton(AF_INET, ip, &in) == 1 &&
		    (ntohl(in.s_addr) >> 24) == 127;
	}
	return 0;
}

static int
body_check(const char *t, char *err, size_t errlen)
{
	const char *p, *e;
	char name[32];

	for (p = t; (p = strstr(p, "{{")) != NULL; p = e + 2) {
		if ((e = strstr(p + 2, "}}")) == NULL) {
			snprintf(err, errlen, "'{{' without a closing '}}'");
			return -1;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(e - p - 2), p + 2);
		if ((size_t)(e - p - 2) >= sizeof(name) ||
		    !str_in_list(name, body_names)) {
			snprintf(err, errlen, "unknown name {{%.*s}}: the names "
			    "are {{to}} {{from}} {{text}} {{account}} {{token}}",
			    (int)(e - p - 2), p + 2);
			return -1;
		}
	}
	return 0;
}

/*
 * A JSON body must be JSON once its {{names}} are filled in (issue 13:
 * `"to": {{to}}` passed the name check and then every SMS failed with
 * 400).  Each name becomes a sample value the way sms_render() fills it,
 * JSON-escaped string content without quotes, and the result must parse.
 * 0, or -1 with err.
 */
static int
body_json_check(const char *t, char *err, size_t errlen)
{
	struct sbuf b = { 0 };
	json_error_t je;
	const char *p, *e;
	json_t *j;

	/* body_check() has made sure every "{{" is closed. */
	for (p = t; (e = strstr(p, "{{")) != NULL && strstr(e, "}}") != NULL;
	    p = strstr(e, "}}") + 2) {
		sbuf_addn(&b, p, (size_t)(e - p));
		sbuf_add(&b, "x1");	/* plain: needs quotes around it */
	}
	sbuf_add(&b, p);
	j = json_loads(sbuf_str(&b), JSON_REJECT_DUPLICATES, &je);
	sbuf_free(&b);
	if (j != NULL) {
		json_decref(j);
		return 0;
	}
	snprintf(err, errlen, "with content_type \"application/json\" the "
	    "body must be JSON once its {{names}} are filled in, and it is not "
	    "(%.80s, at character %d); each {{name}} goes inside quotes, as in "
	    "\"to\": \"{{to}}\"", je.text, je.position);
	return -1;
}

static void
add_header(void *arg, const char *v)
{
	struct conf *c = arg;

	c->sms.headers = xrealloc(c->sms.headers,
	    (c->sms.nheaders + 1) * sizeof(*c->sms.headers));
	c->sms.headers[c->sms.nheaders++] = xstrdup(v);
}

static void
load_generic(struct conf_ld *ld, const config_setting_t *g, int generic)
{
	struct conf *c = ld->c;
	const char *ct = NULL;
	char err[320];
	size_t i, n;

	for (i = 0; generic_keys[i] != NULL; i++)
		if (!generic && conf_member(g, generic_keys[i]) != NULL)
			conf_err(ld, conf_member(g, generic_keys[i]), "'%s' is "
			    "only for provider = \"generic\"", generic_keys[i]);
	if (conf_get_str(ld, g, "method", &c->sms.method) == CONF_SET &&
	    strcmp(c->sms.method, "POST") != 0 &&
	    strcmp(c->sms.method, "PUT") != 0)
		conf_err(ld, conf_member(g, "method"), "'method' must be "
		    "\"POST\" or \"PUT\", not \"%s\"", c->sms.method);
	if (conf_get_strlist(ld, g, "headers", NULL, "[\"Authorization: Bearer "
	    "{{token}}\"]", add_header, c) == CONF_SET) {
		for (i = 0; i < c->sms.nheaders; i++) {
			const char *h = c->sms.headers[i];

			n = strcspn(h, ":");
			if (n == 0 || h[n] != ':' || !conf_one_line(h) ||
			    strcspn(h, " \t()<>@,;\\\"/[]?={}") < n)
				conf_err(ld, conf_member(g, "headers"),
				    "header \"%s\" must be one line "
				    "\"Name: value\"", h);
			else if (body_check(h, err, sizeof(err)) == -1)
				conf_err(ld, conf_member(g, "headers"),
				    "header \"%.*s\": %s", (int)n, h, err);
		}
	}
	if (conf_get_str(ld, g, "content_type", &c->sms.content_type) == CONF_SET) {
		ct = c->sms.content_type;
		n = strcspn(ct, "; ");
		if (!(n == 33 && strncasecmp(ct,
		    "application/x-www-form-urlencoded", n) == 0) &&
		    !(n == 16 && strncasecmp(ct, "application/json", n) == 0))
			conf_err(ld, conf_member(g, "content_type"),
			    "'content_type' must be "
			    "\"application/x-www-form-urlencoded\" or "
			    "\"application/json\" (body values are encoded for "
			    "it)");
	}
	if (conf_member(g, "body") != NULL &&
	    config_setting_type(conf_member(g, "body")) == CONFIG_TYPE_STRING) {
		c->sms.body = xstrdup(config_setting_get_string(
		    conf_member(g, "body")));
		if (body_check(c->sms.body, err, sizeof(err)) == -1 ||
		    (ct != NULL && strncasecmp(ct, "application/json", 16) == 0 &&
		    body_json_check(c->sms.body, err, sizeof(err)) == -1))
			conf_err(ld, conf_member(g, "body"), "sms.body: %s",
			    err);
	} else if (conf_member(g, "body") != NULL)
		conf_err(ld, conf_member(g, "body"), "'body' must be a string");
	else if (generic && c->sms.enabled)
		conf_missing(ld, "sms.body", "provider \"generic\"");
	conf_get_str(ld, g, "id_field", &c->sms.id_field);
}

/* Does the generic request use {{name}}?  Then its value is needed. */
static int
generic_uses(const struct conf *c, const char *tag)
{
	size_t i;

	if (c->sms.body != NULL && strstr(c->sms.body, tag) != NULL)
		return 1;
	for (i = 0; i < c->sms.nheaders; i++)
		if (strstr(c->sms.headers[i], tag) != NULL)
			return 1;
	return 0;
}

/* sms.provider: 1 when it is "generic". */
static int
load_provider(struct conf_ld *ld, const config_setting_t *g, int on)
{
	struct conf *c = ld->c;
	char *prov = NULL;
	enum conf_got r;
	int generic = 0;

	r = conf_get_str(ld, g, "provider", &prov);
	if (r == CONF_ABSENT && on)
		conf_missing(ld, "sms.provider", "sms is enabled");
	if (r == CONF_SET && strcmp(prov, "twilio") != 0 &&
	    strcmp(prov, "vonage") != 0 && strcmp(prov, "generic") != 0)
		conf_err(ld, conf_member(g, "provider"), "'provider' must be "
		    "\"twilio\", \"vonage\" or \"generic\", not \"%s\"", prov);
	else if (r == CONF_SET) {
		free(c->sms.provider);
		c->sms.provider = prov;
		prov = NULL;
		generic = strcmp(c->sms.provider, "generic") == 0;
	}
	free(prov);
	return generic;
}

/* sms.region: two letters, upper-cased, a region phone.c can dial. */
static void
load_region(struct conf_ld *ld, const config_setting_t *g)
{
	struct conf *c = ld->c;
	char *p;

	if (conf_get_str(ld, g, "region", &c->sms.region) != CONF_SET)
		return;
	p = c->sms.region;
	if (strlen(p) != 2 || !isalpha((unsigned char)p[0]) ||
	    !isalpha((unsigned char)p[1]))
		conf_err(ld, conf_member(g, "region"), "'region' must "
		    "be a two-letter country code such as \"GB\"");
	for (; *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	if (strlen(c->sms.region) == 2 &&
	    !phone_region_known(c->sms.region))
		conf_err(ld, conf_member(g, "region"), "region "
		    "\"%s\" is not one nudged knows how to dial; "
		    "write numbers with +country code, or use GB, IE, "
		    "US, CA, FR, DE, NL, ES or IT",
		    c->sms.region);
}

/*
 * sms.from, sms.discreet_from: Twilio and Vonage take a number in E.164
 * (Twilio refuses "07700 900000" with 21212, which pauses the channel) or
 * an alphanumeric sender id of at most 11 characters (the phone's
 * originator field), so a number however typed is rewritten in E.164 with
 * sms.region, and anything else is checked at load time, not at the first
 * send.  A generic gateway's sender is left as it is.
 */
void
conf_sms_sender(struct conf_ld *ld, const config_setting_t *g,
    const char *key, char **val)
{
	char e164[PHONE_E164_SIZE], why[160];
	const char *v = *val, *p;
	int letter = 0, odd = 0;

	if (v == NULL || g == NULL || ld->c->sms.provider == NULL ||
	    strcmp(ld->c->sms.provider, "generic") == 0)
		return;
	for (p = v; *p != '\0'; p++) {
		if (isalpha((unsigned char)*p))
			letter = 1;
		else if (!isdigit((unsigned char)*p) && *p != ' ')
			odd = 1;
	}
	if (letter) {
		if (odd || strlen(v) > 11 || v[0] == ' ' || v[strlen(v) - 1] == ' ')
			conf_err(ld, conf_member(g, key), "sms '%s' = \"%s\" is "
			    "neither a phone number nor a sender id (at most 11 "
			    "letters, digits and spaces, one a letter)", key, v);
		return;
	}
	/* a short code (UK five digits, US five or six) is sent as written */
	if (strspn(v, "0123456789") == strlen(v) && strlen(v) >= 3 &&
	    strlen(v) <= 8)
		return;
	if (phone_e164(v, ld->c->sms.region, e164, sizeof(e164), why,
	    sizeof(why)) != 0) {
		conf_err(ld, conf_member(g, key), "sms '%s' = \"%s\" is not a "
		    "number nudged can send from (%s)", key, v, why);
		return;
	}
	free(*val);
	*val = xstrdup(e164);
}

void
conf_load_sms(struct conf_ld *ld, const config_setting_t *root)
{
	struct conf *c = ld->c;
	config_setting_t *g = conf_sub(ld, root, "sms", sms_keys);
	enum conf_got r;
	int generic, on;

	if (g == NULL) {
		c->sms.enabled = 0;
		return;
	}
	conf_get_bool(ld, g, "enabled", &c->sms.enabled);
	on = c->sms.enabled;
	generic = load_provider(ld, g, on);
	load_generic(ld, g, generic);

	r = conf_get_str(ld, g, "url", &c->sms.url);
	if (r == CONF_ABSENT && on)
		conf_missing(ld, "sms.url", "sms is enabled");
	if (r == CONF_SET && !conf_has_scheme(c->sms.url, "https://") &&
	    !(conf_has_scheme(c->sms.url, "http://") &&
	    loopback_url(c->sms.url)))
		conf_err(ld, conf_member(g, "url"), "'url' must start with "
		    "https:// (plain http:// only for a loopback host such as "
		    "127.0.0.1 or localhost)");
	else if (r == CONF_SET)
		conf_no_blank(ld, g, "url", c->sms.url);
	if (conf_get_str(ld, g, "account", &c->sms.account) == CONF_ABSENT && on &&
	    (!generic || generic_uses(c, "{{account}}")))
		conf_missing(ld, "sms.account", generic ?
		    "sms.body uses {{account}}" : "sms is enabled");
	if (conf_get_str(ld, g, "from", &c->sms.from) == CONF_ABSENT && on)
		conf_missing(ld, "sms.from", "sms is enabled");
	load_region(ld, g);
	conf_sms_sender(ld, g, "from", &c->sms.from);
	if (conf_get_str(ld, g, "ca_file", &c->sms.ca_file) == CONF_SET)
		conf_readable(ld, g, "ca_file", c->sms.ca_file);
	conf_get_long(ld, g, "max_segments", 1, 10, &c->sms.max_segments);
	conf_get_long(ld, g, "concurrency", 1, 32, &c->sms.concurrency);
	conf_get_bool(ld, g, "fallback_email", &c->sms.fallback_email);
	conf_get_dur(ld, g, "timeout", &c->sms.timeout);
	conf_load_secret(ld, g, "sms", "token", "sms-token", on, &c->sms.token);
	if (on && c->sms.token == NULL && conf_member(g, "token_file") == NULL &&
	    (!generic || generic_uses(c, "{{token}}")))
		conf_warn(ld, g, "sms is enabled but no token is given (token, "
		    "token_file, or the credential sms-token): the provider "
		    "will refuse every message");
}
