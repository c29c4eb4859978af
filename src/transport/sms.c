/*
 * sms: the transport for text messages through Twilio, Vonage or a generic
 * HTTP gateway.  The requests are built and the answers classified in
 * sms_req.c; this file only carries them.
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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "transport/sms.h"
#include "base/util.h"

#define SMS_RESP_MAX		65536
#define SMS_CONNECT_TIMEOUT	10L
#define SMS_IDLE_MAX		20L	/* seconds a kept connection may idle */

struct sms_slot {
	CURL			*c;
	struct curl_slist	*hdrs;
	struct sms_req		*req;
	struct sms_http		 http;
	size_t			 off;
	size_t			 idx;		/* req's index in the batch */
	const struct xfer_hooks	*hooks;
	int			 began;		/* the body started to go up */
	int			 refused;	/* the mark said no: body not complete */
	int			 marked;	/* the mark said yes */
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
	/* the batch under way (sms_batch_start .. sms_batch_finish) */
	struct sms_req		*reqs;
	size_t			 n, next, active;
	const struct xfer_hooks	*hooks;
	int			 running;	/* libcurl's count after the last step */
	int			 on;
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

	sl->began = 1;
	sl->req->began = 1;
	if (n > sl->http.len - sl->off)
		n = sl->http.len - sl->off;
	if (n > 0 && sl->off + n == sl->http.len && !sl->marked) {
		const struct xfer_mark *mk = sl->hooks != NULL ?
		    sl->hooks->mark : NULL;

		/*
		 * The body's last bytes: from then on the provider may queue
		 * the text.  Durably noted first, or the request is dropped.
		 */
		if (mk != NULL && mk->fn != NULL && mk->fn(mk->arg, sl->idx) != 0) {
			sl->refused = 1;
			return CURL_READFUNC_ABORT;
		}
		sl->marked = 1;
	}
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
	if (curl_easy_setopt(c, opt, val) != CURLE_OK)			\
		goto fail;						\
} while (0)

/* The options every request of a session shares. */
static CURL *
sms_easy(struct sms_session *s, struct sms_slot *sl)
{
	const struct conf *cf = s->conf;
	long t = cf->sms.timeout > 0 ? cf->sms.timeout : 30;
	CURL *c;

	/* libcurl is up: sms_setup made the multi handle first */
	if ((c = curl_easy_init()) == NULL)
		return NULL;
	if (xfer_setup(c, cf->sms.ca_file, t, sl->errbuf, &sl->began) !=
	    CURLE_OK)
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
	sl->began = 0;
	sl->refused = 0;
	sl->marked = 0;
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

/* No answer and not the whole request sent: it did not go. */
static void
sms_unsent(struct sms_req *r, CURLcode rc, long reqsize, const char *detail)
{
	r->res = sms_trust_error(rc) || rc == CURLE_URL_MALFORMAT ||
	    rc == CURLE_UNSUPPORTED_PROTOCOL ? XFER_CHANNEL : XFER_TEMPFAIL;
	/* nothing of it went, and no answer: the provider's trouble */
	r->unreachable = r->res == XFER_TEMPFAIL && reqsize == 0 &&
	    (rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_COULDNT_CONNECT);
	snprintf(r->err, sizeof(r->err), "%s%s",
	    sms_trust_error(rc) ? "certificate not trusted: " : "", detail);
}

static void
sms_finish(struct sms_session *s, struct sms_slot *sl, CURLcode rc)
{
	struct sms_req *r = sl->req;
	struct curl_header *h;
	const char *detail;
	long status = 0, ra = 0, reqsize = 0;

	if (r == NULL)
		return;

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

	if (sl->refused) {
		r->res = XFER_TEMPFAIL;
		snprintf(r->err, sizeof(r->err), "not sent: the upload could "
		    "not be recorded");
	} else if (rc == CURLE_ABORTED_BY_CALLBACK && !sl->began) {
		r->res = XFER_TEMPFAIL;
		snprintf(r->err, sizeof(r->err), "not sent: stopping");
	} else if (rc == CURLE_OK)
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
	} else
		sms_unsent(r, rc, reqsize, detail);
	sms_guard_err(s->conf, r);
}

/*
 * The multi handle and min(sms.concurrency, n) slots.  The slots' array
 * has room for sms.concurrency from the first call and never moves: each
 * easy handle's callbacks (READDATA, WRITEDATA, SEEKDATA, the progress
 * hook's `began`) and its error buffer hold its slot's address, so a
 * batch that needs more slots than the one before must not reallocate it
 * under them.  XFER_OK;
 * XFER_CHANNEL when libcurl cannot be loaded (no SMS can go: the
 * messages stay pending); XFER_TEMPFAIL when no handle can be made.
 */
static enum xfer_result
sms_setup(struct sms_session *s, size_t n, char *err, size_t errlen)
{
	size_t max = (size_t)(s->conf->sms.concurrency > 0 ?
	    s->conf->sms.concurrency : 1), want = max < n ? max : n;

	snprintf(err, errlen, "cannot initialise libcurl");
	if (s->multi == NULL) {
		if (xfer_global_init(err, errlen) != 0)
			return XFER_CHANNEL;
		if ((s->multi = curl_multi_init()) == NULL)
			return XFER_TEMPFAIL;
		curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS,
		    (long)(s->conf->sms.concurrency > 0 ?
		    s->conf->sms.concurrency : 1));
	}
	if (s->slots == NULL)
		s->slots = xcalloc(max, sizeof(*s->slots));
	/* a slot counts once its handle is made: one that failed is retried */
	while (s->nslots < want) {
		if ((s->slots[s->nslots].c = sms_easy(s,
		    &s->slots[s->nslots])) == NULL)
			return s->nslots > 0 ? XFER_OK : XFER_TEMPFAIL;
		s->nslots++;
	}
	return XFER_OK;
}

static void
sms_reset_out(struct sms_req *r)
{
	r->began = 0;
	r->unreachable = 0;
	r->res = XFER_TEMPFAIL;
	r->ref[0] = '\0';
	r->err[0] = '\0';
	r->unsubscribed = 0;
	r->retry_after = 0;
	r->partial = 0;
}

/* Request i is settled: the caller may record it now. */
static void
sms_done(const struct xfer_hooks *h, size_t i)
{
	if (h != NULL && h->done != NULL)
		(void)h->done(h->arg, i);	/* the caller's own thread */
}

/* Start requests from *next in the free slots; returns how many started. */
static size_t
sms_fill(struct sms_session *s, struct sms_req *reqs, size_t n, size_t *next,
    const struct xfer_hooks *h)
{
	size_t i, idx, started = 0;

	for (i = 0; i < s->nslots && *next < n; i++) {
		if (s->slots[i].req != NULL)
			continue;
		idx = (*next)++;
		/* Stopping: what has not started stays for the next start. */
		if (xfer_stopping() || (h != NULL && h->go != NULL &&
		    !h->go(h->arg, idx))) {
			snprintf(reqs[idx].err, sizeof(reqs[idx].err),
			    xfer_stopping() ? "not sent: stopping" : "not sent");
			sms_done(h, idx);
			continue;
		}
		s->slots[i].idx = idx;
		s->slots[i].hooks = h;
		if (sms_start(s, &s->slots[i], &reqs[idx]) == 0)
			started++;
		else
			sms_done(h, idx);
	}
	return started;
}

/* Settle the requests libcurl has finished; returns how many. */
static size_t
sms_reap(struct sms_session *s, const struct xfer_hooks *h)
{
	struct sms_slot *sl;
	CURLMsg *m;
	size_t i, idx, done = 0;
	int left;

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
		idx = sl->idx;
		sms_slot_clear(sl);
		done++;
		/*
		 * Reported as it completes, not after the batch's slowest
		 * request: the caller may record it at once.
		 */
		sms_done(h, idx);
	}
	return done;
}

/* Only if the multi handle itself failed: settle what is left. */
static void
sms_abandon(struct sms_session *s, struct sms_req *reqs, size_t n,
    size_t next, const struct xfer_hooks *h)
{
	struct sms_slot *sl;
	size_t i, idx;

	for (i = next; i < n; i++) {
		snprintf(reqs[i].err, sizeof(reqs[i].err), "libcurl multi "
		    "handle failed before this request");
		sms_done(h, i);
	}
	for (i = 0; i < s->nslots; i++) {
		if ((sl = &s->slots[i])->req == NULL)
			continue;
		curl_multi_remove_handle(s->multi, sl->c);
		sl->req->res = sl->sent_all ? XFER_UNKNOWN : XFER_TEMPFAIL;
		snprintf(sl->req->err, sizeof(sl->req->err), "libcurl multi "
		    "handle failed");
		idx = sl->idx;
		sms_slot_clear(sl);
		sms_done(h, idx);
	}
}

void
sms_batch_start(struct sms_session *s, struct sms_req *reqs, size_t n,
    const struct xfer_hooks *h)
{
	enum xfer_result res = XFER_CHANNEL;
	char why[sizeof(reqs->err)] =
	    "sms.provider is not twilio, vonage or generic";
	size_t i;

	s->on = 0;
	for (i = 0; i < n; i++)
		sms_reset_out(&reqs[i]);
	if (n == 0)
		return;
	if (s->prov_ok)
		res = sms_setup(s, n, why, sizeof(why));
	if (res != XFER_OK) {
		for (i = 0; i < n; i++) {
			reqs[i].res = res;
			snprintf(reqs[i].err, sizeof(reqs[i].err), "%s", why);
			sms_done(h, i);
		}
		return;
	}
	s->reqs = reqs;
	s->n = n;
	s->next = s->active = 0;
	s->hooks = h;
	s->running = 0;
	s->on = 1;
	(void)sms_batch_step(s);
}

int
sms_batch_step(struct sms_session *s)
{
	if (!s->on)
		return 0;
	s->active += sms_fill(s, s->reqs, s->n, &s->next, s->hooks);
	if (s->active == 0 && s->next == s->n) {
		s->on = 0;
		return 0;
	}
	if (curl_multi_perform(s->multi, &s->running) != CURLM_OK) {
		sms_abandon(s, s->reqs, s->n, s->next, s->hooks);
		s->on = 0;
		return 0;
	}
	s->active -= sms_reap(s, s->hooks);
	return 1;
}

void
sms_batch_finish(struct sms_session *s)
{
	while (sms_batch_step(s)) {
		if (s->active > 0 && s->running > 0)
			curl_multi_poll(s->multi, NULL, 0,
			    (int)xfer_idle(s->hooks), NULL);
		xfer_tick();
	}
}

void
sms_send_batch(struct sms_session *s, struct sms_req *reqs, size_t n,
    const struct xfer_hooks *h)
{
	sms_batch_start(s, reqs, n, h);
	sms_batch_finish(s);
}
