/*
 * sms_req: the pure half of sms, no I/O, no clock, no logging: provider
 * names, the request builders, form and JSON escaping, the generic body
 * renderer, Retry-After, and the per-provider classification tables.
 * sms.c carries the requests built here and hands the answers back.
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

#include "base/phone.h"
#include "transport/sms.h"
#include "base/util.h"

#define SMS_PROVIDER_TEXT	160	/* bytes of a provider's message kept */

/* ---- classification ------------------------------------------------------ */

/*
 * The tables.  First matching row wins.  http: exact status, or SMS_nXX
 * for a class; code: the provider's error code (Twilio "code", Vonage
 * messages[].status), SMS_ANY matches any or none.
 *
 * Twilio (201 + JSON, errors as JSON {code, message, status}):
 *   2xx   any          OK        ref = sid; UNKNOWN when the answer is not
 *                                a JSON object (the text may have gone);
 *                                an error object (code, no sid) or a
 *                                message "failed"/"undelivered" at once
 *                                goes by the rows below with its own
 *                                status (400 when none): never OK
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

/*
 * A 2xx that is an error answer all the same: Twilio's error shape
 * ({code, message, status}, no sid), as a proxy or an edge of the API
 * may send with 200, or a message resource that failed at once
 * (status "failed" or "undelivered" with an error_code).  Neither text
 * will arrive: judged as the error its code and own status say, never
 * recorded as sent.  *status becomes that status (400 when it gives
 * none), *code the error code, *msg its words.
 */
static int
sms_twilio_refusal(json_t *j, long *status, long *code, const char **msg)
{
	const char *st = sms_jstr(j, "status");
	long own;

	if (*status / 100 != 2 || !json_is_object(j))
		return 0;
	if (sms_jstr(j, "sid") == NULL && *code != SMS_ANY) {
		own = sms_jcode(j, "status");
		*status = own >= 400 && own <= 599 ? own : 400;
		return 1;
	}
	if (st == NULL || (strcmp(st, "failed") != 0 &&
	    strcmp(st, "undelivered") != 0))
		return 0;
	*code = sms_jcode(j, "error_code");
	*msg = sms_jstr(j, "error_message");
	*status = 400;
	return 1;
}

static void
sms_classify_twilio(long status, json_t *j, struct sms_req *r)
{
	const struct sms_rule *rule;
	char msg[SMS_PROVIDER_TEXT + 1];
	long code = sms_jcode(j, "code"), http = status;
	const char *words = sms_jstr(j, "message");

	(void)sms_twilio_refusal(j, &status, &code, &words);
	rule = sms_match(twilio_rules, NELEM(twilio_rules), status, code);
	r->res = rule->res;
	r->unsubscribed = (rule->flags & SMS_UNSUB) != 0;
	if (r->res == XFER_OK && !json_is_object(j)) {
		/* Accepted or not, we cannot tell: resent once at most. */
		r->res = XFER_UNKNOWN;
		snprintf(r->err, sizeof(r->err), "twilio: HTTP %ld with an "
		    "answer that cannot be read; the text may have gone", status);
		return;
	}
	if (r->res == XFER_OK) {
		sms_copy(r->ref, sizeof(r->ref), sms_jstr(j, "sid"), SIZE_MAX);
		if (r->ref[0] == '\0')
			snprintf(r->err, sizeof(r->err), "twilio: HTTP %ld "
			    "without a sid", status);
		return;
	}
	sms_copy(msg, sizeof(msg), words, SMS_PROVIDER_TEXT);
	if (code != SMS_ANY)
		snprintf(r->err, sizeof(r->err), "twilio: HTTP %ld, code %ld%s%s",
		    http, code, msg[0] != '\0' ? ": " : "", msg);
	else
		snprintf(r->err, sizeof(r->err), "twilio: HTTP %ld%s", http,
		    http / 100 == 3 ? " (redirect not followed: check "
		    "sms.url)" : http / 100 == 2 ? ", the message failed" : "");
}

/* A refused part of a Vonage answer: the first one's rule, code, text. */
struct vonage_refusal {
	const struct sms_rule	*rule;
	long			 code;
	const char		*text;
};

/*
 * Each part of a Vonage answer: accepted parts' ids into r->ref (as many
 * as fit), the first refused part into f.  Returns how many were accepted.
 */
static size_t
vonage_parts(long status, json_t *parts, size_t n, struct sms_req *r,
    struct vonage_refusal *f)
{
	const struct sms_rule *rule;
	const char *id;
	json_t *p;
	size_t i, o, nok = 0;
	long code;

	for (i = 0; i < n; i++) {
		p = json_array_get(parts, i);
		code = sms_jcode(p, "status");
		rule = sms_match(vonage_part_rules, NELEM(vonage_part_rules),
		    status, code);
		if (rule->res != XFER_OK || code != 0) {
			if (f->rule == NULL)
				*f = (struct vonage_refusal){ rule, code,
				    sms_jstr(p, "error-text") };
			continue;
		}
		nok++;
		if ((id = sms_jstr(p, "message-id")) != NULL &&
		    (o = strlen(r->ref)) + strlen(id) + 1 < sizeof(r->ref)) {
			if (o > 0)
				r->ref[o++] = ',';
			sms_copy(r->ref + o, sizeof(r->ref) - o, id, SIZE_MAX);
		}
	}
	return nok;
}

static void
sms_classify_vonage(long status, json_t *j, struct sms_req *r)
{
	struct vonage_refusal first = { NULL, SMS_ANY, NULL };
	const struct sms_rule *rule;
	json_t *parts;
	size_t n, nok;
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
	nok = vonage_parts(status, parts, n, r, &first);
	if (first.rule == NULL) {
		r->res = XFER_OK;
		return;
	}
	sms_copy(msg, sizeof(msg), first.text, SMS_PROVIDER_TEXT);
	if (nok > 0) {
		r->res = XFER_PERMFAIL;
		r->partial = 1;
		snprintf(r->err, sizeof(r->err), "vonage: %zu of %zu parts "
		    "accepted; not resending (part status %ld%s%s)", nok, n,
		    first.code, msg[0] != '\0' ? ": " : "", msg);
		return;
	}
	r->ref[0] = '\0';
	r->res = first.rule->res;
	snprintf(r->err, sizeof(r->err), "vonage: status %ld%s%s", first.code,
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
	if ((e = curl_easy_escape(NULL, s, (int)strlen(s))) == NULL)
		xoom();
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
	from = sms_form_escape(r->from != NULL ? r->from : cf->sms.from);
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
	const char *f = r->from != NULL ? r->from : cf->sms.from;
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
	struct sms_vars v = { r->to, r->from != NULL ? r->from : cf->sms.from,
	    r->text, cf->sms.account, cf->sms.token };
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
