/*
 * sms: text messages through Twilio, Vonage or a generic HTTP gateway.
 *
 * A batch runs on one curl multi handle with at most sms.concurrency easy
 * handles; each easy handle is reused for the next request, and the multi
 * handle keeps the connections alive between them.
 *
 * Duplicates are the costly mistake here: a client who gets the same text
 * twice stops trusting the practice's texts.  So the body goes up through
 * a read callback that records when every byte has been handed over, and
 * the seek callback refuses to rewind after that.  libcurl otherwise
 * resends a POST on a fresh connection when a reused one dies without an
 * answer, which may be after the provider queued the first one.  Any
 * failure without a status line once the whole body went up is
 * XFER_UNKNOWN; before that it is safe to try again later.
 *
 * Form values go through curl_easy_escape (RFC 3986 unreserved kept, all
 * else %XX, space as %20, which every form decoder reads as a space), and
 * JSON values through jansson, which also refuses text that is not UTF-8.
 * The generic body uses its own five-name substitution: tmpl.c knows only
 * the message names and would encode nothing.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "phone.h"
#include "sms.h"
#include "util.h"

#define SMS_RESP_MAX		(64 * 1024)
#define SMS_CONNECT_TIMEOUT	10L
#define SMS_IDLE_MAX		20L	/* seconds a kept connection may idle */
#define SMS_PROVIDER_TEXT	160	/* bytes of a provider's message kept */

/* ---- classification ------------------------------------------------------ */

/*
 * The tables.  First matching row wins.  http: exact status, or SMS_nXX
 * for a class; code: the provider's error code (Twilio "code", Vonage
 * messages[].status), SMS_ANY matches any or none.
 *
 * Twilio (201 + JSON, errors as JSON {code, message, status}):
 *   2xx   any          OK        ref = sid
 *   3xx   any          CHANNEL   redirect: sms.url is wrong, not followed
 *   any   20003        CHANNEL   authentication failed
 *   any   20005,30002  CHANNEL   account not active / suspended
 *   any   21212,21606, CHANNEL   sms.from invalid or not this account's:
 *         21660                  every message alike, like a refused MAIL FROM
 *   401, 403  any      CHANNEL
 *   429   any          TEMPFAIL  retry_after from Retry-After
 *   any   20429        TEMPFAIL  too many requests
 *   4xx   21610        PERMFAIL  unsubscribed = 1 (recipient sent STOP)
 *   4xx   any          PERMFAIL  21211 invalid To, 21614 not a mobile,
 *                                21408 region not enabled, 21617 too long
 *   5xx   any          TEMPFAIL  (retry_after when given)
 *   other              TEMPFAIL
 *
 * Vonage, HTTP first (a real answer is always 200):
 *   200   -            by the parts below
 *   3xx                CHANNEL   redirect
 *   401, 403           CHANNEL
 *   429                TEMPFAIL
 *   4xx                PERMFAIL
 *   5xx, other         TEMPFAIL
 * then every messages[i].status: all "0": OK, ref = the message-ids
 * joined with ','; some "0" and some not: PERMFAIL, partial = 1 (a partly
 * delivered text is never resent); none "0": the first part's status:
 *   1 throttled, 5 internal error, 10 too many binds        TEMPFAIL
 *   4 credentials, 8 account barred, 9 quota (no credit),
 *   11 HTTP not enabled, 14 bad signature, 15 invalid sender,
 *   32 signature/secret disallowed                          CHANNEL
 *   2, 3 missing/invalid parameters, 6 unroutable, 7 number barred,
 *   12 too long, 22 invalid network, 29 not whitelisted,
 *   33 number deactivated, any other                        PERMFAIL
 * A 200 whose JSON cannot be read, or has no parts: UNKNOWN (the text may
 * have gone).
 *
 * Generic: 2xx OK (ref = the id_field member, string or integer); 3xx
 * CHANNEL; 401/403 CHANNEL; 429 TEMPFAIL; other 4xx PERMFAIL; 5xx TEMPFAIL.
 */
#define SMS_ANY		(-1)
#define SMS_2XX		(-2)
#define SMS_3XX		(-3)
#define SMS_4XX		(-4)
#define SMS_5XX		(-5)

#define SMS_UNSUB	0x1

struct sms_rule {
	int			 http;
	long			 code;
	enum xfer_result	 res;
	int			 flags;
};

static const struct sms_rule twilio_rules[] = {
	{ SMS_2XX,	SMS_ANY,	XFER_OK,	0 },
	{ SMS_3XX,	SMS_ANY,	XFER_CHANNEL,	0 },
	{ SMS_ANY,	20003,		XFER_CHANNEL,	0 },
	{ SMS_ANY,	20005,		XFER_CHANNEL,	0 },
	{ SMS_ANY,	30002,		XFER_CHANNEL,	0 },
	{ SMS_ANY,	21212,		XFER_CHANNEL,	0 },
	{ SMS_ANY,	21606,		XFER_CHANNEL,	0 },
	{ SMS_ANY,	21660,		XFER_CHANNEL,	0 },
	{ 401,		SMS_ANY,	XFER_CHANNEL,	0 },
	{ 403,		SMS_ANY,	XFER_CHANNEL,	0 },
	{ 429,		SMS_ANY,	XFER_TEMPFAIL,	0 },
	{ SMS_ANY,	20429,		XFER_TEMPFAIL,	0 },
	{ SMS_4XX,	21610,		XFER_PERMFAIL,	SMS_UNSUB },
	{ SMS_4XX,	SMS_ANY,	XFER_PERMFAIL,	0 },
	{ SMS_ANY,	SMS_ANY,	XFER_TEMPFAIL,	0 },
};

/* Also the generic provider's table: the HTTP rows are the same. */
static const struct sms_rule http_rules[] = {
	{ SMS_2XX,	SMS_ANY,	XFER_OK,	0 },
	{ SMS_3XX,	SMS_ANY,	XFER_CHANNEL,	0 },
	{ 401,		SMS_ANY,	XFER_CHANNEL,	0 },
	{ 403,		SMS_ANY,	XFER_CHANNEL,	0 },
	{ 429,		SMS_ANY,	XFER_TEMPFAIL,	0 },
	{ SMS_4XX,	SMS_ANY,	XFER_PERMFAIL,	0 },
	{ SMS_ANY,	SMS_ANY,	XFER_TEMPFAIL,	0 },
};

static const struct sms_rule vonage_part_rules[] = {
	{ SMS_ANY,	0,		XFER_OK,	0 },
	{ SMS_ANY,	1,		XFER_TEMPFAIL,	0 },
	{ SMS_ANY,	5,		XFER_TEMPFAIL,	0 },
	{ SMS_ANY,	10,		XFER_TEMPFAIL,	0 },
	{ SMS_ANY,	4,		XFER_CHANNEL,	0 },
	{ SMS_ANY,	8,		XFER_CHANNEL,	0 },
	{ SMS_ANY,	9,		XFER_CHANNEL,	0 },
	{ SMS_ANY,	11,		XFER_CHANNEL,	0 },
	{ SMS_ANY,	14,		XFER_CHANNEL,	0 },
	{ SMS_ANY,	15,		XFER_CHANNEL,	0 },
	{ SMS_ANY,	32,		XFER_CHANNEL,	0 },
	{ SMS_ANY,	SMS_ANY,	XFER_PERMFAIL,	0 },
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const struct sms_rule *
sms_match(const struct sms_rule *t, size_t n, long http, long code)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (t[i].http != SMS_ANY && !(t[i].http < 0 ?
		    http / 100 == -t[i].http : http == t[i].http))
			continue;
		if (t[i].code != SMS_ANY && t[i].code != code)
			continue;
		return &t[i];
	}
	return &t[n - 1];
}

/* Printable ASCII only: ids and provider messages end up in logs. */
static void
sms_copy(char *dst, size_t dstlen, const char *src, size_t max)
{
	size_t i, o = 0;

	for (i = 0; src != NULL && src[i] != '\0' && i < max &&
	    o + 1 < dstlen; i++)
		dst[o++] = (unsigned char)src[i] < 0x20 ||
		    (unsigned char)src[i] >= 0x7f ? '?' : src[i];
	if (dstlen > 0)
		dst[o] = '\0';
}

static const char *
sms_jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A number given as a JSON number or a numeric string; SMS_ANY if neither. */
static long
sms_jcode(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	long n;

	if (json_is_integer(v))
		return (long)json_integer_value(v);
	if (json_is_string(v) && parse_long(json_string_value(v), 0,
	    999999, &n) == 0)
		return n;
	return SMS_ANY;
}

static void
sms_classify_twilio(long status, json_t *j, struct sms_req *r)
{
	const struct sms_rule *rule;
	char msg[SMS_PROVIDER_TEXT + 1];
	long code = sms_jcode(j, "code");

	rule = sms_match(twilio_rules, NELEM(twilio_rules), status, code);
	r->res = rule->res;
	r->unsubscribed = (rule->flags & SMS_UNSUB) != 0;
	if (r->res == XFER_OK) {
		sms_copy(r->ref, sizeof(r->ref), sms_jstr(j, "sid"), SIZE_MAX);
		if (r->ref[0] == '\0')
			snprintf(r->err, sizeof(r->err), "twilio: HTTP %ld "
			    "without a sid", status);
		return;
	}
	sms_copy(msg, sizeof(msg), sms_jstr(j, "message"), SMS_PROVIDER_TEXT);
	if (code != SMS_ANY)
		snprintf(r->err, sizeof(r->err), "twilio: HTTP %ld, code %ld%s%s",
		    status, code, msg[0] != '\0' ? ": " : "", msg);
	else
		snprintf(r->err, sizeof(r->err), "twilio: HTTP %ld%s", status,
		    status / 100 == 3 ? " (redirect not followed: check "
		    "sms.url)" : "");
}

static void
sms_classify_vonage(long status, json_t *j, struct sms_req *r)
{
	const struct sms_rule *rule, *first = NULL;
	json_t *parts, *p;
	const char *id, *ftext = NULL;
	size_t i, n, nok = 0, o;
	long code, fcode = SMS_ANY;
	char msg[SMS_PROVIDER_TEXT + 1];

	if (status != 200) {
		rule = sms_match(http_rules, NELEM(http_rules), status, SMS_ANY);
		r->res = rule->res == XFER_OK ? XFER_UNKNOWN : rule->res;
		snprintf(r->err, sizeof(r->err), "vonage: HTTP %ld%s", status,
		    status / 100 == 3 ? " (redirect not followed: check "
		    "sms.url)" : "");
		return;
	}
	parts = json_object_get(j, "messages");
	if ((n = json_array_size(parts)) == 0) {
		r->res = XFER_UNKNOWN;
		snprintf(r->err, sizeof(r->err), "vonage: HTTP 200 without a "
		    "readable answer; the text may have gone");
		return;
	}
	for (i = 0; i < n; i++) {
		p = json_array_get(parts, i);
		code = sms_jcode(p, "status");
		rule = sms_match(vonage_part_rules, NELEM(vonage_part_rules),
		    status, code);
		if (rule->res != XFER_OK || code != 0) {
			if (first == NULL) {
				first = rule;
				fcode = code;
				ftext = sms_jstr(p, "error-text");
			}
			continue;
		}
		nok++;
		/* Every accepted part's id, as many as fit. */
		if ((id = sms_jstr(p, "message-id")) != NULL &&
		    (o = strlen(r->ref)) + strlen(id) + 1 < sizeof(r->ref)) {
			if (o > 0)
				r->ref[o++] = ',';
			sms_copy(r->ref + o, sizeof(r->ref) - o, id, SIZE_MAX);
		}
	}
	if (first == NULL) {
		r->res = XFER_OK;
		return;
	}
	sms_copy(msg, sizeof(msg), ftext, SMS_PROVIDER_TEXT);
	if (nok > 0) {
		r->res = XFER_PERMFAIL;
		r->partial = 1;
		snprintf(r->err, sizeof(r->err), "vonage: %zu of %zu parts "
		    "accepted; not resending (part status %ld%s%s)", nok, n,
		    fcode, msg[0] != '\0' ? ": " : "", msg);
		return;
	}
	r->ref[0] = '\0';
	r->res = first->res;
	snprintf(r->err, sizeof(r->err), "vonage: status %ld%s%s", fcode,
	    msg[0] != '\0' ? ": " : "", msg);
}

static void
sms_classify_generic(long status, const char *id_field, json_t *j,
    struct sms_req *r)
{
	const struct sms_rule *rule;
	json_t *v;

	rule = sms_match(http_rules, NELEM(http_rules), status, SMS_ANY);
	r->res = rule->res;
	if (r->res != XFER_OK) {
		/* A gateway's own error text may quote the message: left out. */
		snprintf(r->err, sizeof(r->err), "gateway: HTTP %ld%s", status,
		    status / 100 == 3 ? " (redirect not followed: check "
		    "sms.url)" : "");
		return;
	}
	if (id_field == NULL || id_field[0] == '\0')
		return;
	v = json_object_get(j, id_field);
	if (json_is_string(v))
		sms_copy(r->ref, sizeof(r->ref), json_string_value(v), SIZE_MAX);
	else if (json_is_integer(v))
		snprintf(r->ref, sizeof(r->ref), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
	if (r->ref[0] == '\0')
		snprintf(r->err, sizeof(r->err), "gateway: HTTP %ld without "
		    "'%.40s' in the answer", status, id_field);
}

void
sms_classify(enum sms_provider prov, const char *id_field, long status,
    long retry_after, const char *body, size_t len, struct sms_req *r)
{
	json_t *j;

	r->ref[0] = '\0';
	r->err[0] = '\0';
	r->unsubscribed = 0;
	r->partial = 0;
	r->retry_after = 0;
	j = body != NULL ? json_loadb(body, len, 0, NULL) : NULL;
	if (prov == SMS_TWILIO)
		sms_classify_twilio(status, j, r);
	else if (prov == SMS_VONAGE)
		sms_classify_vonage(status, j, r);
	else
		sms_classify_generic(status, id_field, j, r);
	json_decref(j);
	if (r->res == XFER_TEMPFAIL)
		r->retry_after = retry_after;
}

long
sms_retry_after(const char *v, time_t now)
{
	char buf[64];
	size_t n;
	long secs;
	time_t t;

	if (v == NULL)
		return 0;
	v += strspn(v, " \t");
	n = strlen(v);
	while (n > 0 && strchr(" \t\r\n", v[n - 1]) != NULL)
		n--;
	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, v, n);
	buf[n] = '\0';
	if (strspn(buf, "0123456789") == n) {
		/* More digits than a long holds is still "a long time". */
		if (parse_long(buf, 0, LONG_MAX, &secs) == -1)
			secs = SMS_RETRY_AFTER_MAX;
	} else {
		/* curl_getdate reads all three HTTP-date forms; it is pure. */
		if (strchr(buf, ':') == NULL || (t = curl_getdate(buf, NULL)) == -1)
			return 0;
		secs = t > now ? (long)(t - now) : 0;
	}
	return secs > SMS_RETRY_AFTER_MAX ? SMS_RETRY_AFTER_MAX : secs;
}

/* ---- building requests --------------------------------------------------- */

int
sms_provider_parse(const char *s, enum sms_provider *out)
{
	if (s == NULL)
		return -1;
	if (strcmp(s, "twilio") == 0)
		*out = SMS_TWILIO;
	else if (strcmp(s, "vonage") == 0)
		*out = SMS_VONAGE;
	else if (strcmp(s, "generic") == 0)
		*out = SMS_GENERIC;
	else
		return -1;
	return 0;
}

char *
sms_form_escape(const char *s)
{
	char *e, *r;

	/* libcurl ignores the handle here (documented since 7.82). */
	if ((e = curl_easy_escape(NULL, s, (int)strlen(s))) == NULL) {
		fprintf(stderr, "nudged: out of memory\n");
		abort();
	}
	r = xstrdup(e);
	curl_free(e);
	return r;
}

char *
sms_json_escape(const char *s)
{
	json_t *j;
	char *d, *r;
	size_t n;

	if ((j = json_string(s)) == NULL)
		return NULL;		/* not UTF-8 */
	d = json_dumps(j, JSON_ENCODE_ANY);
	json_decref(j);
	if (d == NULL || (n = strlen(d)) < 2) {
		free(d);
		return NULL;
	}
	r = xstrndup(d + 1, n - 2);
	free(d);
	return r;
}

static char *
sms_encode(const char *v, enum sms_enc enc)
{
	if (v == NULL)
		v = "";
	if (enc == SMS_ENC_FORM)
		return sms_form_escape(v);
	if (enc == SMS_ENC_JSON)
		return sms_json_escape(v);
	return xstrdup(v);
}

char *
sms_render(const char *t, const struct sms_vars *vars, enum sms_enc enc)
{
	const struct {
		const char	*tag;
		const char	*val;
	} names[] = {
		{ "{{to}}", vars->to }, { "{{from}}", vars->from },
		{ "{{text}}", vars->text }, { "{{account}}", vars->account },
		{ "{{token}}", vars->token },
	};
	struct sbuf b = { 0 };
	const char *p;
	char *v;
	size_t i, tl;

	for (p = t; *p != '\0';) {
		for (i = 0; i < NELEM(names); i++)
			if (strncmp(p, names[i].tag, tl = strlen(names[i].tag)) == 0)
				break;
		if (i == NELEM(names)) {
			sbuf_addc(&b, *p++);
			continue;
		}
		if ((v = sms_encode(names[i].val, enc)) == NULL) {
			xfree_secret(sbuf_steal(&b));
			return NULL;
		}
		sbuf_add(&b, v);
		xfree_secret(v);
		p += tl;
	}
	return sbuf_steal(&b);
}

static void
sms_add_header(struct sms_http *h, char *line)
{
	h->headers = xrealloc(h->headers, (h->nheaders + 1) *
	    sizeof(*h->headers));
	h->headers[h->nheaders++] = line;
}

static void
sms_build_twilio(const struct conf *cf, const struct sms_req *r,
    struct sms_http *h)
{
	char *acct, *to, *from, *text;
	size_t n = strlen(cf->sms.url);

	while (n > 0 && cf->sms.url[n - 1] == '/')
		n--;
	acct = sms_form_escape(cf->sms.account);
	h->url = xasprintf("%.*s/2010-04-01/Accounts/%s/Messages.json",
	    (int)n, cf->sms.url, acct);
	free(acct);
	to = sms_form_escape(r->to);
	from = sms_form_escape(cf->sms.from);
	text = sms_form_escape(r->text);
	h->body = xasprintf("To=%s&From=%s&Body=%s", to, from, text);
	free(to);
	free(from);
	free(text);
	h->basic_auth = 1;
	sms_add_header(h, xstrdup("Content-Type: "
	    "application/x-www-form-urlencoded"));
}

static void
sms_build_vonage(const struct conf *cf, const struct sms_req *r,
    struct sms_http *h)
{
	char *key, *secret, *from, *text;
	const char *f = cf->sms.from;
	size_t n = strlen(cf->sms.url);

	while (n > 0 && cf->sms.url[n - 1] == '/')
		n--;
	h->url = xasprintf("%.*s/sms/json", (int)n, cf->sms.url);
	/* Vonage wants numbers, the sender's too, as digits without '+'. */
	if (f[0] == '+' && f[1] != '\0' && strspn(f + 1, "0123456789") ==
	    strlen(f + 1))
		f++;
	key = sms_form_escape(cf->sms.account);
	secret = sms_form_escape(cf->sms.token);
	from = sms_form_escape(f);
	text = sms_form_escape(r->text);
	h->body = xasprintf("api_key=%s&api_secret=%s&from=%s&to=%s&text=%s%s",
	    key, secret, from, r->to + 1, text,
	    sms_is_gsm7(r->text) ? "" : "&type=unicode");
	free(key);
	xfree_secret(secret);
	free(from);
	free(text);
	sms_add_header(h, xstrdup("Content-Type: "
	    "application/x-www-form-urlencoded"));
}

static int
sms_build_generic(const struct conf *cf, struct sms_req *r,
    struct sms_http *h)
{
	struct sms_vars v = { r->to, cf->sms.from, r->text, cf->sms.account,
	    cf->sms.token };
	struct sms_vars own = { r->to, "", r->text, "", "" };
	const char *ct = cf->sms.content_type != NULL ?
	    cf->sms.content_type : "application/x-www-form-urlencoded";
	char *line, *mine;
	size_t i;

	h->url = xstrdup(cf->sms.url);
	h->put = cf->sms.method != NULL && strcmp(cf->sms.method, "PUT") == 0;
	for (i = 0; i < cf->sms.nheaders; i++) {
		line = sms_render(cf->sms.headers[i], &v, SMS_ENC_RAW);
		if (strpbrk(line, "\r\n") == NULL) {
			sms_add_header(h, line);
			continue;
		}
		xfree_secret(line);
		/* From the message: this one only.  From the config: all. */
		mine = sms_render(cf->sms.headers[i], &own, SMS_ENC_RAW);
		r->res = strpbrk(mine, "\r\n") != NULL ? XFER_PERMFAIL :
		    XFER_CHANNEL;
		free(mine);
		snprintf(r->err, sizeof(r->err), "sms.headers[%zu]: a value "
		    "with CR or LF cannot go in a header", i);
		return -1;
	}
	sms_add_header(h, xasprintf("Content-Type: %s", ct));
	h->body = sms_render(cf->sms.body != NULL ? cf->sms.body : "", &v,
	    strncasecmp(ct, "application/json", 16) == 0 ? SMS_ENC_JSON :
	    SMS_ENC_FORM);
	if (h->body == NULL) {
		r->res = XFER_PERMFAIL;
		snprintf(r->err, sizeof(r->err), "a value cannot be encoded "
		    "as JSON (not UTF-8)");
		return -1;
	}
	return 0;
}

static int
sms_is_e164(const char *s)
{
	size_t n;

	if (s == NULL || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return 0;
	n = strlen(s + 1);
	return n >= 7 && n <= 15 && strspn(s + 1, "0123456789") == n;
}

int
sms_build(const struct conf *cf, enum sms_provider prov, struct sms_req *r,
    struct sms_http *h)
{
	json_t *j;

	memset(h, 0, sizeof(*h));
	r->res = XFER_CHANNEL;
	if (cf->sms.url == NULL || cf->sms.from == NULL ||
	    (prov != SMS_GENERIC && (cf->sms.account == NULL ||
	    cf->sms.token == NULL))) {
		snprintf(r->err, sizeof(r->err), "sms: url, from, account or "
		    "token missing from the config");
		return -1;
	}
	r->res = XFER_PERMFAIL;
	if (!sms_is_e164(r->to)) {
		snprintf(r->err, sizeof(r->err), "recipient is not an E.164 "
		    "number");
		return -1;
	}
	if (r->text == NULL || r->text[0] == '\0') {
		snprintf(r->err, sizeof(r->err), "empty text");
		return -1;
	}
	/* jansson's check: a provider would garble or refuse it anyway. */
	if ((j = json_string(r->text)) == NULL) {
		snprintf(r->err, sizeof(r->err), "text is not valid UTF-8");
		return -1;
	}
	json_decref(j);
	if (prov == SMS_TWILIO)
		sms_build_twilio(cf, r, h);
	else if (prov == SMS_VONAGE)
		sms_build_vonage(cf, r, h);
	else if (sms_build_generic(cf, r, h) == -1) {
		sms_http_free(h);
		return -1;
	}
	/* Any size: libcurl sends it from our buffer, never chunked. */
	sms_add_header(h, xstrdup("Expect:"));
	h->len = strlen(h->body);
	return 0;
}

void
sms_http_free(struct sms_http *h)
{
	size_t i;

	free(h->url);
	for (i = 0; i < h->nheaders; i++)
		xfree_secret(h->headers[i]);
	free(h->headers);
	if (h->body != NULL)
		xfree_secret(h->body);
	memset(h, 0, sizeof(*h));
}

/* ---- transport ----------------------------------------------------------- */

struct sms_slot {
	CURL			*c;
	struct curl_slist	*hdrs;
	struct sms_req		*req;
	struct sms_http		 http;
	size_t			 off;
	int			 sent_all;	/* the whole body went to libcurl */
	int			 too_large;
	struct sbuf		 resp;
	char			 errbuf[CURL_ERROR_SIZE];
};

struct sms_session {
	const struct conf	*conf;
	enum sms_provider	 prov;
	int			 prov_ok;
	CURLM			*multi;
	struct sms_slot		*slots;
	size_t			 nslots;
};

struct sms_session *
sms_open(const struct conf *cf)
{
	struct sms_session *s = xcalloc(1, sizeof(*s));

	s->conf = cf;
	s->prov_ok = sms_provider_parse(cf->sms.provider, &s->prov) == 0;
	return s;
}

static void
sms_slot_clear(struct sms_slot *sl)
{
	curl_slist_free_all(sl->hdrs);
	sl->hdrs = NULL;
	sms_http_free(&sl->http);
	if (sl->resp.s != NULL)
		explicit_bzero(sl->resp.s, sl->resp.cap);
	sbuf_free(&sl->resp);
	sl->req = NULL;
}

void
sms_close(struct sms_session *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nslots; i++) {
		if (s->slots[i].req != NULL)
			curl_multi_remove_handle(s->multi, s->slots[i].c);
		sms_slot_clear(&s->slots[i]);
		if (s->slots[i].c != NULL)
			curl_easy_cleanup(s->slots[i].c);
	}
	free(s->slots);
	if (s->multi != NULL)
		curl_multi_cleanup(s->multi);
	free(s);
}

static size_t
sms_read(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct sms_slot *sl = arg;
	size_t n = size * nmemb;

	if (n > sl->http.len - sl->off)
		n = sl->http.len - sl->off;
	memcpy(buf, sl->http.body + sl->off, n);
	sl->off += n;
	if (sl->off == sl->http.len)
		sl->sent_all = 1;
	return n;
}

/* libcurl rewinds to resend; never once the provider may have it all. */
static int
sms_seek(void *arg, curl_off_t off, int origin)
{
	struct sms_slot *sl = arg;

	if (sl->sent_all || origin != SEEK_SET || off != 0)
		return CURL_SEEKFUNC_FAIL;
	sl->off = 0;
	return CURL_SEEKFUNC_OK;
}

static size_t
sms_write(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct sms_slot *sl = arg;
	size_t n = size * nmemb;

	if (sl->resp.len + n > SMS_RESP_MAX) {
		sl->too_large = 1;
		return 0;
	}
	sbuf_addn(&sl->resp, buf, n);
	return n;
}

#define SMS_SET(opt, val) do {						\
	if ((rc = curl_easy_setopt(c, opt, val)) != CURLE_OK)		\
		goto fail;						\
} while (0)

/* The options every request of a session shares. */
static CURL *
sms_easy(struct sms_session *s, struct sms_slot *sl)
{
	const struct conf *cf = s->conf;
	long t = cf->sms.timeout > 0 ? cf->sms.timeout : 30;
	CURLcode rc;
	CURL *c;

	if ((c = curl_easy_init()) == NULL)
		return NULL;
	if ((rc = xfer_setup(c, cf->sms.ca_file, t, sl->errbuf)) != CURLE_OK)
		goto fail;
	/* One HTTP exchange: the whole of it within sms.timeout. */
	SMS_SET(CURLOPT_TIMEOUT, t);
	SMS_SET(CURLOPT_CONNECTTIMEOUT, t < SMS_CONNECT_TIMEOUT ? t :
	    SMS_CONNECT_TIMEOUT);
	SMS_SET(CURLOPT_MAXAGE_CONN, SMS_IDLE_MAX);
	SMS_SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SMS_SET(CURLOPT_USERAGENT, "nudged");
	if (s->prov == SMS_GENERIC && cf->sms.method != NULL &&
	    strcmp(cf->sms.method, "PUT") == 0)
		SMS_SET(CURLOPT_UPLOAD, 1L);
	else
		SMS_SET(CURLOPT_POST, 1L);
	SMS_SET(CURLOPT_READFUNCTION, sms_read);
	SMS_SET(CURLOPT_READDATA, sl);
	SMS_SET(CURLOPT_SEEKFUNCTION, sms_seek);
	SMS_SET(CURLOPT_SEEKDATA, sl);
	SMS_SET(CURLOPT_WRITEFUNCTION, sms_write);
	SMS_SET(CURLOPT_WRITEDATA, sl);
	if (s->prov == SMS_TWILIO) {
		SMS_SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SMS_SET(CURLOPT_USERNAME, cf->sms.account);
		SMS_SET(CURLOPT_PASSWORD, cf->sms.token);
	}
	return c;
fail:
	curl_easy_cleanup(c);
	return NULL;
}

/* 0: the request is under way; -1: it was settled without one. */
static int
sms_start(struct sms_session *s, struct sms_slot *sl, struct sms_req *r)
{
	CURL *c = sl->c;
	CURLcode rc;
	size_t i;

	if (sms_build(s->conf, s->prov, r, &sl->http) == -1)
		return -1;
	for (i = 0; i < sl->http.nheaders; i++)
		if ((sl->hdrs = curl_slist_append(sl->hdrs,
		    sl->http.headers[i])) == NULL)
			goto fail;
	sl->req = r;
	sl->off = 0;
	sl->sent_all = 0;
	sl->too_large = 0;
	sl->errbuf[0] = '\0';
	rc = curl_easy_setopt(c, CURLOPT_URL, sl->http.url);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl->hdrs);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c, sl->http.put ? CURLOPT_INFILESIZE_LARGE :
		    CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)sl->http.len);
	if (rc != CURLE_OK || curl_multi_add_handle(s->multi, c) != CURLM_OK)
		goto fail;
	return 0;
fail:
	r->res = XFER_TEMPFAIL;
	snprintf(r->err, sizeof(r->err), "libcurl refused the request");
	sms_slot_clear(sl);
	return -1;
}

/* An error text must not carry the message or the secret. */
static void
sms_guard_err(const struct conf *cf, struct sms_req *r)
{
	const char *tok = cf->sms.token;

	if ((r->text != NULL && strlen(r->text) >= 4 &&
	    strstr(r->err, r->text) != NULL) ||
	    (tok != NULL && strlen(tok) >= 4 && strstr(r->err, tok) != NULL))
		snprintf(r->err, sizeof(r->err), "%s (provider's words "
		    "withheld: they quote the message or the token)",
		    xfer_result_name(r->res));
}

static int
sms_trust_error(CURLcode rc)
{
	return rc == CURLE_PEER_FAILED_VERIFICATION ||
	    rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_ISSUER_ERROR ||
	    rc == CURLE_SSL_CRL_BADFILE || rc == CURLE_SSL_CERTPROBLEM ||
	    rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH;
}

static void
sms_finish(struct sms_session *s, struct sms_slot *sl, CURLcode rc)
{
	struct sms_req *r = sl->req;
	struct curl_header *h;
	const char *detail;
	long status = 0, ra = 0, reqsize = 0;

	curl_easy_getinfo(sl->c, CURLINFO_RESPONSE_CODE, &status);
	if (curl_easy_header(sl->c, "Retry-After", 0, CURLH_HEADER, -1,
	    &h) == CURLHE_OK)
		ra = sms_retry_after(h->value, time(NULL));
	curl_easy_getinfo(sl->c, CURLINFO_REQUEST_SIZE, &reqsize);
	if (sl->http.len == 0 && reqsize > 0)
		sl->sent_all = 1;
	detail = sl->errbuf[0] != '\0' ? sl->errbuf : curl_easy_strerror(rc);
	if (rc == CURLE_SEND_FAIL_REWIND)
		detail = "a kept connection closed without an answer";

	if (rc == CURLE_OK)
		sms_classify(s->prov, s->conf->sms.id_field, status, ra,
		    sbuf_str(&sl->resp), sl->resp.len, r);
	else if (status >= 300) {
		/* A verdict came, its body was cut short: the status decides. */
		sms_classify(s->prov, s->conf->sms.id_field, status, ra, NULL, 0,
		    r);
		if (sl->too_large && r->res != XFER_CHANNEL) {
			r->res = XFER_TEMPFAIL;
			snprintf(r->err, sizeof(r->err), "HTTP %ld: response "
			    "too large (over %d bytes)", status, SMS_RESP_MAX);
		}
	} else if (status >= 200 || sl->sent_all) {
		r->res = XFER_UNKNOWN;
		if (sl->too_large)
			snprintf(r->err, sizeof(r->err), "HTTP %ld: response "
			    "too large (over %d bytes); the provider may have "
			    "queued it", status, SMS_RESP_MAX);
		else
			snprintf(r->err, sizeof(r->err), "no answer after the "
			    "whole request was sent; the provider may have "
			    "queued it: %.200s", detail);
	} else {
		r->res = sms_trust_error(rc) || rc == CURLE_URL_MALFORMAT ||
		    rc == CURLE_UNSUPPORTED_PROTOCOL ? XFER_CHANNEL :
		    XFER_TEMPFAIL;
		snprintf(r->err, sizeof(r->err), "%s%s",
		    sms_trust_error(rc) ? "certificate not trusted: " : "",
		    detail);
	}
	sms_guard_err(s->conf, r);
}

static int
sms_setup(struct sms_session *s, size_t n)
{
	size_t i, want = (size_t)(s->conf->sms.concurrency > 0 ?
	    s->conf->sms.concurrency : 1);

	if (want > n)
		want = n;
	if (s->multi == NULL) {
		if ((s->multi = curl_multi_init()) == NULL)
			return -1;
		curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS,
		    (long)(s->conf->sms.concurrency > 0 ?
		    s->conf->sms.concurrency : 1));
	}
	if (want > s->nslots) {
		s->slots = xrealloc(s->slots, want * sizeof(*s->slots));
		memset(s->slots + s->nslots, 0, (want - s->nslots) *
		    sizeof(*s->slots));
		for (i = s->nslots; i < want; i++) {
			s->nslots = i + 1;
			if ((s->slots[i].c = sms_easy(s, &s->slots[i])) == NULL)
				return -1;
		}
	}
	return 0;
}

static void
sms_reset_out(struct sms_req *r)
{
	r->res = XFER_TEMPFAIL;
	r->ref[0] = '\0';
	r->err[0] = '\0';
	r->unsubscribed = 0;
	r->retry_after = 0;
	r->partial = 0;
}

void
sms_send_batch(struct sms_session *s, struct sms_req *reqs, size_t n)
{
	struct sms_slot *sl;
	CURLMsg *m;
	size_t i, next = 0, active = 0;
	int running, left;

	for (i = 0; i < n; i++)
		sms_reset_out(&reqs[i]);
	if (n == 0)
		return;
	if (!s->prov_ok || sms_setup(s, n) == -1) {
		for (i = 0; i < n; i++) {
			reqs[i].res = s->prov_ok ? XFER_TEMPFAIL : XFER_CHANNEL;
			snprintf(reqs[i].err, sizeof(reqs[i].err), "%s",
			    s->prov_ok ? "cannot initialise libcurl" :
			    "sms.provider is not twilio, vonage or generic");
		}
		return;
	}
	for (;;) {
		for (i = 0; i < s->nslots && next < n; i++) {
			if (s->slots[i].req != NULL)
				continue;
			if (sms_start(s, &s->slots[i], &reqs[next++]) == 0)
				active++;
		}
		if (active == 0 && next == n)
			break;
		if (curl_multi_perform(s->multi, &running) != CURLM_OK)
			break;
		while ((m = curl_multi_info_read(s->multi, &left)) != NULL) {
			if (m->msg != CURLMSG_DONE)
				continue;
			for (i = 0; i < s->nslots; i++)
				if (s->slots[i].c == m->easy_handle)
					break;
			if (i == s->nslots)
				continue;
			sl = &s->slots[i];
			/* m dies with remove_handle: read its result first. */
			sms_finish(s, sl, m->data.result);
			curl_multi_remove_handle(s->multi, sl->c);
			sms_slot_clear(sl);
			active--;
		}
		if (active > 0 && running > 0)
			curl_multi_poll(s->multi, NULL, 0, 1000, NULL);
		xfer_tick();
	}
	/* Only if the multi handle itself failed: settle what is left. */
	for (i = next; i < n; i++)
		snprintf(reqs[i].err, sizeof(reqs[i].err), "libcurl multi "
		    "handle failed before this request");
	for (i = 0; i < s->nslots; i++) {
		if ((sl = &s->slots[i])->req == NULL)
			continue;
		curl_multi_remove_handle(s->multi, sl->c);
		sl->req->res = sl->sent_all ? XFER_UNKNOWN : XFER_TEMPFAIL;
		snprintf(sl->req->err, sizeof(sl->req->err), "libcurl multi "
		    "handle failed");
		sms_slot_clear(sl);
	}
}
