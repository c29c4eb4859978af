/*
 * Unit tests for the pure half of sms.c: the classification tables, the
 * request builders and their encodings, Retry-After.  Form bodies are read
 * back with the decoder below, JSON bodies with jansson's parser, so a test
 * checks what a provider would read, not the encoder's own output.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "transport/sms.h"
#include "base/util.h"

#define EMOJI	"\xf0\x9f\x98\x80"	/* U+1F600 */
#define TRICKY	"a+b & c=d 50% caf\xc3\xa9 " EMOJI

/* ---- an independent form decoder ----------------------------------------- */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The decoded value of name in an x-www-form-urlencoded body, or NULL. */
static char *
form_get(const char *body, const char *name)
{
	const char *p = body, *amp, *eq;
	struct sbuf v = { 0 };
	size_t nl = strlen(name);

	for (; p != NULL && *p != '\0'; p = amp != NULL ? amp + 1 : NULL) {
		amp = strchr(p, '&');
		eq = strchr(p, '=');
		if (eq == NULL || (amp != NULL && eq > amp))
			continue;
		if ((size_t)(eq - p) != nl || strncmp(p, name, nl) != 0)
			continue;
		for (p = eq + 1; *p != '\0' && *p != '&'; p++) {
			/* Only unreserved characters may appear unescaped. */
			if (*p == '%') {
				assert_true(hexval(p[1]) >= 0 && hexval(p[2]) >= 0);
				sbuf_addc(&v, (char)(hexval(p[1]) * 16 + hexval(p[2])));
				p += 2;
			} else if (*p == '+')
				sbuf_addc(&v, ' ');
			else {
				assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789-._~", *p));
				sbuf_addc(&v, *p);
			}
		}
		return sbuf_steal(&v);
	}
	return NULL;
}

static void
assert_form(const char *body, const char *name, const char *want)
{
	char *got = form_get(body, name);

	if (want == NULL) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static const char *
header_of(const struct sms_http *h, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < h->nheaders; i++)
		if (strncasecmp(h->headers[i], name, n) == 0 &&
		    h->headers[i][n] == ':')
			return h->headers[i] + n + 1 + (h->headers[i][n + 1] == ' ');
	return NULL;
}

/* ---- a hand-filled config ------------------------------------------------ */

static struct conf cf;

static void
conf_for(const char *provider)
{
	memset(&cf, 0, sizeof(cf));
	cf.sms.enabled = 1;
	cf.sms.provider = (char *)provider;
	cf.sms.url = (char *)"https://api.example.com/";
	cf.sms.account = (char *)"AC0123456789abcdef0123456789abcdef";
	cf.sms.token = (char *)"s3cr3t&=+";
	cf.sms.from = (char *)"+447700900000";
	cf.sms.concurrency = 4;
	cf.sms.timeout = 30;
	cf.sms.method = (char *)"POST";
	cf.sms.content_type = (char *)"application/x-www-form-urlencoded";
}

static void
req_init(struct sms_req *r, const char *to, const char *text)
{
	memset(r, 0, sizeof(*r));
	r->to = to;
	r->text = text;
}

/* ---- classification ------------------------------------------------------ */

struct ccase {
	enum sms_provider	 prov;
	long			 status;
	const char		*body;
	enum xfer_result	 res;
	int			 unsub;
	int			 partial;
	const char		*ref;		/* NULL: don't care */
	const char		*err_has;	/* NULL: don't care */
};

#define TW_ERR(st, code) "{\"code\": " #code ", \"message\": \"m" #code \
	"\", \"more_info\": \"https://x\", \"status\": " #st "}"
#define VO1(st) "{\"message-count\": \"1\", \"messages\": [{\"to\": " \
	"\"447700900123\", \"status\": \"" #st "\", \"error-text\": \"e" #st "\"}]}"

static const struct ccase ccases[] = {
	/* Twilio */
	{ SMS_TWILIO, 201, "{\"sid\": \"SM0123\", \"status\": \"queued\"}",
	    XFER_OK, 0, 0, "SM0123", NULL },
	/* issue 13: a 2xx we cannot read may or may not have been queued */
	{ SMS_TWILIO, 201, "not json", XFER_UNKNOWN, 0, 0, "", "cannot be read" },
	{ SMS_TWILIO, 200, "[\"SM1\"]", XFER_UNKNOWN, 0, 0, "", "cannot be read" },
	{ SMS_TWILIO, 201, "{\"status\": \"queued\"}", XFER_OK, 0, 0, "",
	    "without a sid" },
	/* transport audit: a 2xx that is an error answer is never 'sent' */
	{ SMS_TWILIO, 200, TW_ERR(400, 21211), XFER_PERMFAIL, 0, 0, "",
	    "HTTP 200, code 21211: m21211" },
	{ SMS_TWILIO, 200, TW_ERR(429, 20429), XFER_TEMPFAIL, 0, 0, "", NULL },
	{ SMS_TWILIO, 200, TW_ERR(401, 20003), XFER_CHANNEL, 0, 0, "", NULL },
	{ SMS_TWILIO, 201, TW_ERR(400, 21610), XFER_PERMFAIL, 1, 0, "", NULL },
	{ SMS_TWILIO, 200, "{\"code\": 21614}", XFER_PERMFAIL, 0, 0, "", "21614" },
	{ SMS_TWILIO, 201, "{\"sid\": \"SM9\", \"status\": \"failed\", "
	    "\"error_code\": 30008, \"error_message\": \"Unknown error\"}",
	    XFER_PERMFAIL, 0, 0, NULL, "code 30008: Unknown error" },
	{ SMS_TWILIO, 201, "{\"sid\": \"SM9\", \"status\": \"undelivered\"}",
	    XFER_PERMFAIL, 0, 0, NULL, "the message failed" },
	{ SMS_TWILIO, 400, TW_ERR(400, 21211), XFER_PERMFAIL, 0, 0, "", "21211: m21211" },
	{ SMS_TWILIO, 400, TW_ERR(400, 21614), XFER_PERMFAIL, 0, 0, NULL, "21614" },
	{ SMS_TWILIO, 400, TW_ERR(400, 21408), XFER_PERMFAIL, 0, 0, NULL, "21408" },
	{ SMS_TWILIO, 400, TW_ERR(400, 21610), XFER_PERMFAIL, 1, 0, NULL, "21610" },
	{ SMS_TWILIO, 400, TW_ERR(400, 21617), XFER_PERMFAIL, 0, 0, NULL, NULL },
	{ SMS_TWILIO, 404, TW_ERR(404, 20404), XFER_PERMFAIL, 0, 0, NULL, NULL },
	{ SMS_TWILIO, 400, "<html>", XFER_PERMFAIL, 0, 0, NULL, "HTTP 400" },
	{ SMS_TWILIO, 401, TW_ERR(401, 20003), XFER_CHANNEL, 0, 0, NULL, "20003" },
	{ SMS_TWILIO, 401, "", XFER_CHANNEL, 0, 0, NULL, NULL },
	{ SMS_TWILIO, 403, "{}", XFER_CHANNEL, 0, 0, NULL, NULL },
	{ SMS_TWILIO, 400, TW_ERR(400, 20003), XFER_CHANNEL, 0, 0, NULL, NULL },
	{ SMS_TWILIO, 403, TW_ERR(403, 20005), XFER_CHANNEL, 0, 0, NULL, NULL },
	{ SMS_TWILIO, 400, TW_ERR(400, 30002), XFER_CHANNEL, 0, 0, NULL, NULL },
	{ SMS_TWILIO, 400, TW_ERR(400, 21606), XFER_CHANNEL, 0, 0, NULL, NULL },
	{ SMS_TWILIO, 429, TW_ERR(429, 20429), XFER_TEMPFAIL, 0, 0, NULL, NULL },
	{ SMS_TWILIO, 500, TW_ERR(500, 20500), XFER_TEMPFAIL, 0, 0, NULL, NULL },
	{ SMS_TWILIO, 503, "", XFER_TEMPFAIL, 0, 0, NULL, NULL },
	{ SMS_TWILIO, 302, "", XFER_CHANNEL, 0, 0, NULL, "redirect" },
	/* Vonage: parts */
	{ SMS_VONAGE, 200, "{\"message-count\": \"2\", \"messages\": ["
	    "{\"status\": \"0\", \"message-id\": \"ID1\"},"
	    "{\"status\": \"0\", \"message-id\": \"ID2\"}]}",
	    XFER_OK, 0, 0, "ID1,ID2", NULL },
	{ SMS_VONAGE, 200, VO1(1), XFER_TEMPFAIL, 0, 0, "", "status 1: e1" },
	{ SMS_VONAGE, 200, VO1(2), XFER_PERMFAIL, 0, 0, NULL, NULL },
	{ SMS_VONAGE, 200, VO1(3), XFER_PERMFAIL, 0, 0, NULL, NULL },
	{ SMS_VONAGE, 200, VO1(4), XFER_CHANNEL, 0, 0, NULL, "e4" },
	{ SMS_VONAGE, 200, VO1(5), XFER_TEMPFAIL, 0, 0, NULL, NULL },
	{ SMS_VONAGE, 200, VO1(6), XFER_PERMFAIL, 0, 0, NULL, NULL },
	{ SMS_VONAGE, 200, VO1(8), XFER_CHANNEL, 0, 0, NULL, NULL },
	{ SMS_VONAGE, 200, VO1(9), XFER_CHANNEL, 0, 0, NULL, NULL },
	{ SMS_VONAGE, 200, VO1(15), XFER_CHANNEL, 0, 0, NULL, NULL },
	{ SMS_VONAGE, 200, VO1(29), XFER_PERMFAIL, 0, 0, NULL, NULL },
	{ SMS_VONAGE, 200, VO1(99), XFER_PERMFAIL, 0, 0, NULL, NULL },
	{ SMS_VONAGE, 200, "{\"message-count\": \"3\", \"messages\": ["
	    "{\"status\": \"0\", \"message-id\": \"A\"},"
	    "{\"status\": \"5\", \"error-text\": \"Internal Error\"},"
	    "{\"status\": \"0\", \"message-id\": \"C\"}]}",
	    XFER_PERMFAIL, 0, 1, "A,C", "2 of 3 parts accepted; not resending" },
	{ SMS_VONAGE, 200, "{\"message-count\": \"2\", \"messages\": ["
	    "{\"status\": \"1\"}, {\"status\": \"1\"}]}",
	    XFER_TEMPFAIL, 0, 0, "", NULL },
	{ SMS_VONAGE, 200, "{\"messages\": []}", XFER_UNKNOWN, 0, 0, NULL, NULL },
	{ SMS_VONAGE, 200, "garbage", XFER_UNKNOWN, 0, 0, NULL, NULL },
	{ SMS_VONAGE, 401, "", XFER_CHANNEL, 0, 0, NULL, "HTTP 401" },
	{ SMS_VONAGE, 429, "", XFER_TEMPFAIL, 0, 0, NULL, NULL },
	{ SMS_VONAGE, 500, "<html>", XFER_TEMPFAIL, 0, 0, NULL, NULL },
	{ SMS_VONAGE, 400, "", XFER_PERMFAIL, 0, 0, NULL, NULL },
	{ SMS_VONAGE, 204, "", XFER_UNKNOWN, 0, 0, NULL, NULL },
	/* generic (id_field "id") */
	{ SMS_GENERIC, 200, "{\"id\": \"abc\"}", XFER_OK, 0, 0, "abc", NULL },
	{ SMS_GENERIC, 202, "{\"id\": 12345678901}", XFER_OK, 0, 0, "12345678901", NULL },
	{ SMS_GENERIC, 201, "{\"other\": 1}", XFER_OK, 0, 0, "", "without 'id'" },
	{ SMS_GENERIC, 200, "OK", XFER_OK, 0, 0, "", NULL },
	{ SMS_GENERIC, 401, "", XFER_CHANNEL, 0, 0, NULL, NULL },
	{ SMS_GENERIC, 403, "", XFER_CHANNEL, 0, 0, NULL, NULL },
	{ SMS_GENERIC, 429, "", XFER_TEMPFAIL, 0, 0, NULL, NULL },
	{ SMS_GENERIC, 400, "{\"error\": \"the text was: hello\"}", XFER_PERMFAIL,
	    0, 0, NULL, "gateway: HTTP 400" },
	{ SMS_GENERIC, 422, "", XFER_PERMFAIL, 0, 0, NULL, NULL },
	{ SMS_GENERIC, 502, "", XFER_TEMPFAIL, 0, 0, NULL, NULL },
	{ SMS_GENERIC, 301, "", XFER_CHANNEL, 0, 0, NULL, NULL },
};

static void
test_classify_table(void **state)
{
	const struct ccase *c;
	struct sms_req r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ccases) / sizeof(ccases[0]); i++) {
		c = &ccases[i];
		req_init(&r, "+447700900123", "hello");
		r.unsubscribed = 7;	/* must be overwritten */
		sms_classify(c->prov, "id", c->status, 0, c->body,
		    strlen(c->body), &r);
		if (r.res != c->res || r.unsubscribed != c->unsub ||
		    r.partial != c->partial)
			fail_msg("case %zu (provider %d, HTTP %ld): got %s unsub %d "
			    "partial %d, err \"%s\"", i, c->prov, c->status,
			    xfer_result_name(r.res), r.unsubscribed, r.partial,
			    r.err);
		if (c->ref != NULL)
			assert_string_equal(r.ref, c->ref);
		if (c->err_has != NULL && strstr(r.err, c->err_has) == NULL)
			fail_msg("case %zu: err \"%s\" lacks \"%s\"", i, r.err,
			    c->err_has);
		if (r.res != XFER_OK && c->err_has == NULL)
			assert_true(r.err[0] != '\0');
		/* A gateway's words may quote the message: never in err. */
		assert_null(strstr(r.err, "hello"));
	}
}

static void
test_classify_retry_after_only_for_tempfail(void **state)
{
	struct sms_req r;

	(void)state;
	req_init(&r, "+447700900123", "x");
	sms_classify(SMS_TWILIO, NULL, 429, 30, "", 0, &r);
	assert_int_equal(r.res, XFER_TEMPFAIL);
	assert_int_equal(r.retry_after, 30);
	sms_classify(SMS_GENERIC, NULL, 503, 12, "", 0, &r);
	assert_int_equal(r.retry_after, 12);
	sms_classify(SMS_TWILIO, NULL, 400, 30, TW_ERR(400, 21211),
	    strlen(TW_ERR(400, 21211)), &r);
	assert_int_equal(r.res, XFER_PERMFAIL);
	assert_int_equal(r.retry_after, 0);
}

static void
test_classify_long_ids_fit(void **state)
{
	struct sms_req r;
	struct sbuf b = { 0 };
	int i;

	(void)state;
	/* 10 parts of 20-char ids: the ref keeps whole ids only, < 128. */
	sbuf_add(&b, "{\"messages\": [");
	for (i = 0; i < 10; i++)
		sbuf_printf(&b, "%s{\"status\": \"0\", \"message-id\": "
		    "\"%020d\"}", i ? "," : "", i);
	sbuf_add(&b, "]}");
	req_init(&r, "+447700900123", "x");
	sms_classify(SMS_VONAGE, NULL, 200, 0, b.s, b.len, &r);
	assert_int_equal(r.res, XFER_OK);
	assert_true(strlen(r.ref) < sizeof(r.ref));
	assert_int_equal(strlen(r.ref) % 21, 20);
	assert_memory_equal(r.ref, "00000000000000000000,", 21);
	sbuf_free(&b);
	/* A sid with control bytes never reaches the log raw. */
	sms_classify(SMS_TWILIO, NULL, 201, 0, "{\"sid\": \"SM\\n1\"}", 16, &r);
	assert_string_equal(r.ref, "SM?1");
}

/* ---- Retry-After --------------------------------------------------------- */

static void
test_retry_after(void **state)
{
	time_t now = 1796292000;	/* Thu, 03 Dec 2026 10:00:00 GMT */

	(void)state;
	assert_int_equal(sms_retry_after(NULL, now), 0);
	assert_int_equal(sms_retry_after("", now), 0);
	assert_int_equal(sms_retry_after("120", now), 120);
	assert_int_equal(sms_retry_after("  7\r\n", now), 7);
	assert_int_equal(sms_retry_after("0", now), 0);
	assert_int_equal(sms_retry_after("99999999999999999999999", now),
	    SMS_RETRY_AFTER_MAX);
	assert_int_equal(sms_retry_after("864000", now), SMS_RETRY_AFTER_MAX);
	assert_int_equal(sms_retry_after("Thu, 03 Dec 2026 10:01:30 GMT", now), 90);
	assert_int_equal(sms_retry_after("Thursday, 03-Dec-26 10:00:05 GMT", now), 5);
	assert_int_equal(sms_retry_after("Thu Dec  3 10:02:00 2026", now), 120);
	assert_int_equal(sms_retry_after("Thu, 03 Dec 2026 09:00:00 GMT", now), 0);
	assert_int_equal(sms_retry_after("-5", now), 0);
	assert_int_equal(sms_retry_after("1.5", now), 0);
	assert_int_equal(sms_retry_after("soon", now), 0);
	assert_int_equal(sms_retry_after("12 seconds", now), 0);
	assert_int_equal(sms_retry_after("Thu, 99 Foo 2026 10:00:00 GMT", now), 0);
}

/* ---- building: Twilio ---------------------------------------------------- */

static void
test_twilio_build(void **state)
{
	struct sms_http h;
	struct sms_req r;

	(void)state;
	conf_for("twilio");
	req_init(&r, "+447700900123", TRICKY);
	assert_int_equal(sms_build(&cf, SMS_TWILIO, &r, &h), 0);
	assert_string_equal(h.url, "https://api.example.com/2010-04-01/Accounts/"
	    "AC0123456789abcdef0123456789abcdef/Messages.json");
	assert_int_equal(h.basic_auth, 1);
	assert_int_equal(h.put, 0);
	assert_string_equal(header_of(&h, "Content-Type"),
	    "application/x-www-form-urlencoded");
	assert_non_null(header_of(&h, "Expect"));
	assert_form(h.body, "To", "+447700900123");
	assert_form(h.body, "From", "+447700900000");
	assert_form(h.body, "Body", TRICKY);
	/* The raw encoding: '+' must not stay '+' (a form decoder reads ' '). */
	assert_non_null(strstr(h.body, "To=%2B447700900123&"));
	assert_non_null(strstr(h.body, "Body=a%2Bb%20%26%20c%3Dd%2050%25%20caf%C3%A9%20"
	    "%F0%9F%98%80"));
	assert_int_equal(h.len, strlen(h.body));
	/* The token goes as Basic auth, never in the body or a header. */
	assert_null(strstr(h.body, "s3cr3t"));
	assert_null(header_of(&h, "Authorization"));
	sms_http_free(&h);
}

static void
test_build_refusals(void **state)
{
	struct sms_http h;
	struct sms_req r;

	(void)state;
	conf_for("twilio");
	req_init(&r, "07700900123", "hi");
	assert_int_equal(sms_build(&cf, SMS_TWILIO, &r, &h), -1);
	assert_int_equal(r.res, XFER_PERMFAIL);
	req_init(&r, "+44770090012a", "hi");
	assert_int_equal(sms_build(&cf, SMS_TWILIO, &r, &h), -1);
	req_init(&r, "+447700900123", "");
	assert_int_equal(sms_build(&cf, SMS_VONAGE, &r, &h), -1);
	assert_int_equal(r.res, XFER_PERMFAIL);
	req_init(&r, "+447700900123", "bad \xc3\x28 utf8");
	assert_int_equal(sms_build(&cf, SMS_GENERIC, &r, &h), -1);
	assert_int_equal(r.res, XFER_PERMFAIL);
	assert_non_null(strstr(r.err, "UTF-8"));
	cf.sms.token = NULL;
	req_init(&r, "+447700900123", "hi");
	assert_int_equal(sms_build(&cf, SMS_TWILIO, &r, &h), -1);
	assert_int_equal(r.res, XFER_CHANNEL);
}

/* ---- building: Vonage ---------------------------------------------------- */

static void
test_vonage_build(void **state)
{
	struct sms_http h;
	struct sms_req r;

	(void)state;
	conf_for("vonage");
	cf.sms.url = (char *)"https://rest.nexmo.com";
	req_init(&r, "+447700900123", "See you at 14:00 {ok} \xe2\x82\xac");
	assert_int_equal(sms_build(&cf, SMS_VONAGE, &r, &h), 0);
	assert_string_equal(h.url, "https://rest.nexmo.com/sms/json");
	assert_int_equal(h.basic_auth, 0);
	assert_form(h.body, "to", "447700900123");
	assert_form(h.body, "from", "447700900000");
	assert_form(h.body, "api_key", "AC0123456789abcdef0123456789abcdef");
	assert_form(h.body, "api_secret", "s3cr3t&=+");
	assert_form(h.body, "text", "See you at 14:00 {ok} \xe2\x82\xac");
	assert_form(h.body, "type", NULL);	/* euro and braces are GSM-7 */
	sms_http_free(&h);

	cf.sms.from = (char *)"Practice";
	req_init(&r, "+15005550006", "Caf\xc3\xa9 " EMOJI);
	assert_int_equal(sms_build(&cf, SMS_VONAGE, &r, &h), 0);
	assert_form(h.body, "to", "15005550006");
	assert_form(h.body, "from", "Practice");
	assert_form(h.body, "type", "unicode");
	assert_form(h.body, "text", "Caf\xc3\xa9 " EMOJI);
	sms_http_free(&h);

	/* e-acute is GSM-7; a-acute is not. */
	req_init(&r, "+447700900123", "Caf\xc3\xa9");
	assert_int_equal(sms_build(&cf, SMS_VONAGE, &r, &h), 0);
	assert_form(h.body, "type", NULL);
	sms_http_free(&h);
	req_init(&r, "+447700900123", "\xc3\xa1");
	assert_int_equal(sms_build(&cf, SMS_VONAGE, &r, &h), 0);
	assert_form(h.body, "type", "unicode");
	sms_http_free(&h);
}

/* ---- building: generic --------------------------------------------------- */

#define NASTY	"He said \"hi\" \\ back\nline2\ttab " EMOJI " & x=y+z"

static void
test_generic_json(void **state)
{
	char *hdrs[] = { (char *)"Authorization: Bearer {{token}}",
	    (char *)"X-Account: {{account}}" };
	json_error_t je;
	struct sms_http h;
	struct sms_req r;
	json_t *j;

	(void)state;
	conf_for("generic");
	cf.sms.url = (char *)"https://gw.example.com/v1/messages?x=1";
	cf.sms.method = (char *)"PUT";
	cf.sms.token = (char *)"tok\"en";
	cf.sms.headers = hdrs;
	cf.sms.nheaders = 2;
	cf.sms.content_type = (char *)"application/json; charset=utf-8";
	cf.sms.body = (char *)"{\"to\": \"{{to}}\", \"from\": \"{{from}}\", "
	    "\"text\": \"{{text}}\", \"key\": \"{{token}}\", \"n\": 1}";
	req_init(&r, "+447700900123", NASTY);
	assert_int_equal(sms_build(&cf, SMS_GENERIC, &r, &h), 0);
	assert_string_equal(h.url, cf.sms.url);
	assert_int_equal(h.put, 1);
	assert_int_equal(h.basic_auth, 0);
	assert_string_equal(header_of(&h, "Authorization"), "Bearer tok\"en");
	assert_string_equal(header_of(&h, "X-Account"),
	    "AC0123456789abcdef0123456789abcdef");
	assert_string_equal(header_of(&h, "Content-Type"),
	    "application/json; charset=utf-8");
	j = json_loads(h.body, 0, &je);
	if (j == NULL)
		fail_msg("body is not JSON: %s: %s", je.text, h.body);
	assert_string_equal(json_string_value(json_object_get(j, "text")), NASTY);
	assert_string_equal(json_string_value(json_object_get(j, "to")),
	    "+447700900123");
	assert_string_equal(json_string_value(json_object_get(j, "key")), "tok\"en");
	assert_int_equal(json_integer_value(json_object_get(j, "n")), 1);
	json_decref(j);
	sms_http_free(&h);
}

static void
test_generic_form(void **state)
{
	struct sms_http h;
	struct sms_req r;

	(void)state;
	conf_for("generic");
	cf.sms.url = (char *)"http://127.0.0.1:8080/send";
	cf.sms.body = (char *)"to={{to}}&msg={{text}}&user={{account}}&"
	    "pass={{token}}&keep={{unknown}}";
	req_init(&r, "+447700900123", NASTY);
	assert_int_equal(sms_build(&cf, SMS_GENERIC, &r, &h), 0);
	assert_int_equal(h.put, 0);
	assert_string_equal(header_of(&h, "Content-Type"),
	    "application/x-www-form-urlencoded");
	assert_form(h.body, "to", "+447700900123");
	assert_form(h.body, "msg", NASTY);
	assert_form(h.body, "pass", "s3cr3t&=+");
	assert_non_null(strstr(h.body, "&keep={{unknown}}"));
	sms_http_free(&h);
}

static void
test_generic_header_crlf(void **state)
{
	char *hdrs[] = { (char *)"X-Text: {{text}}" };
	char *hdrs2[] = { (char *)"Authorization: Bearer {{token}}" };
	struct sms_http h;
	struct sms_req r;

	(void)state;
	conf_for("generic");
	cf.sms.body = (char *)"to={{to}}";
	cf.sms.headers = hdrs;
	cf.sms.nheaders = 1;
	req_init(&r, "+447700900123", "one line");
	assert_int_equal(sms_build(&cf, SMS_GENERIC, &r, &h), 0);
	assert_string_equal(header_of(&h, "X-Text"), "one line");
	sms_http_free(&h);
	req_init(&r, "+447700900123", "two\r\nX-Evil: 1");
	assert_int_equal(sms_build(&cf, SMS_GENERIC, &r, &h), -1);
	assert_int_equal(r.res, XFER_PERMFAIL);
	assert_null(strstr(r.err, "Evil"));
	req_init(&r, "+447700900123", "bare\nLF");
	assert_int_equal(sms_build(&cf, SMS_GENERIC, &r, &h), -1);
	assert_int_equal(r.res, XFER_PERMFAIL);
	/* From the config: every message alike, so the channel. */
	cf.sms.headers = hdrs2;
	cf.sms.token = (char *)"tok\nen";
	req_init(&r, "+447700900123", "fine");
	assert_int_equal(sms_build(&cf, SMS_GENERIC, &r, &h), -1);
	assert_int_equal(r.res, XFER_CHANNEL);
	assert_null(strstr(r.err, "tok"));
}

static void
test_render_and_escapes(void **state)
{
	struct sms_vars v = { "+1", "F", "a\"b\\c\n\x01", "A", "T" };
	char *s;

	(void)state;
	s = sms_render("{{to}}|{{from}}|{{text}}|{{account}}|{{token}}|{{x}}|{{",
	    &v, SMS_ENC_JSON);
	assert_string_equal(s, "+1|F|a\\\"b\\\\c\\n\\u0001|A|T|{{x}}|{{");
	free(s);
	s = sms_render("{{text}}", &v, SMS_ENC_RAW);
	assert_string_equal(s, v.text);
	free(s);
	v.text = "\xff";
	assert_null(sms_render("{{text}}", &v, SMS_ENC_JSON));
	s = sms_form_escape("a b+c/~");
	assert_string_equal(s, "a%20b%2Bc%2F~");
	free(s);
	s = sms_json_escape("/" EMOJI);
	assert_string_equal(s, "/" EMOJI);
	free(s);
}

static void
test_provider_parse(void **state)
{
	enum sms_provider p;

	(void)state;
	assert_int_equal(sms_provider_parse("twilio", &p), 0);
	assert_int_equal(p, SMS_TWILIO);
	assert_int_equal(sms_provider_parse("vonage", &p), 0);
	assert_int_equal(p, SMS_VONAGE);
	assert_int_equal(sms_provider_parse("generic", &p), 0);
	assert_int_equal(p, SMS_GENERIC);
	assert_int_equal(sms_provider_parse("Twilio", &p), -1);
	assert_int_equal(sms_provider_parse(NULL, &p), -1);
}

/* A session whose provider is wrong settles every request without I/O. */
static void
test_session_bad_provider(void **state)
{
	struct sms_session *s;
	struct sms_req r[2];

	(void)state;
	conf_for("nope");
	req_init(&r[0], "+447700900123", "a");
	req_init(&r[1], "+447700900124", "b");
	s = sms_open(&cf);
	sms_send_batch(s, r, 2, NULL);
	assert_int_equal(r[0].res, XFER_CHANNEL);
	assert_int_equal(r[1].res, XFER_CHANNEL);
	sms_send_batch(s, r, 0, NULL);
	sms_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify_table),
		cmocka_unit_test(test_classify_retry_after_only_for_tempfail),
		cmocka_unit_test(test_classify_long_ids_fit),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_twilio_build),
		cmocka_unit_test(test_build_refusals),
		cmocka_unit_test(test_vonage_build),
		cmocka_unit_test(test_generic_json),
		cmocka_unit_test(test_generic_form),
		cmocka_unit_test(test_generic_header_crlf),
		cmocka_unit_test(test_render_and_escapes),
		cmocka_unit_test(test_provider_parse),
		cmocka_unit_test(test_session_bad_provider),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
