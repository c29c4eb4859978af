/*
 * sms: text messages through an HTTP API with libcurl: Twilio, Vonage, or
 * a generic gateway described in the config.
 *
 * One request per message; up to sms.concurrency requests in flight at
 * once (curl multi), connections kept alive across a batch.  Redirects are
 * never followed (credentials must not go elsewhere), responses are capped
 * in size, and connect, total and low-speed timeouts are set.  Certificates
 * are always verified; plain http:// only for loopback hosts.
 *
 * Every answer is classified by one table per provider (see sms_req.c):
 *   XFER_OK        accepted; ref holds the provider's id
 *   XFER_PERMFAIL  this message can never go (invalid number, unsubscribed
 *                  recipient: unsubscribed is set, other 4xx)
 *   XFER_TEMPFAIL  try later (5xx, 429 with retry_after, throttled,
 *                  timeouts and connection errors before the request was sent)
 *   XFER_UNKNOWN   the connection closed after the whole request went up and
 *                  no answer came: the provider may have queued it
 *   XFER_CHANNEL   the account, not the message (401/403, suspended, bad
 *                  credentials): pause the channel
 */
#ifndef NUDGED_SMS_H
#define NUDGED_SMS_H

#include <stddef.h>
#include <time.h>

#include "conf/conf.h"
#include "transport/xfer.h"

struct sms_req {
	/* in */
	const char	*to;		/* E.164, already validated */
	const char	*text;		/* UTF-8 */
	const char	*from;		/* sender; NULL: sms.from */
	/* out */
	enum xfer_result res;
	char		 ref[128];	/* provider's message id */
	char		 err[320];	/* why, for last_error (no message text) */
	int		 unsubscribed;	/* the recipient opted out at the provider */
	long		 retry_after;	/* seconds the provider asked us to wait, 0: none */
	int		 partial;	/* a multi-part text partly accepted */
	int		 began;		/* its body started to go up */
	int		 unreachable;	/* TEMPFAIL before any of the request went,
					 * no answer (no connection or TLS in time) */
};

struct sms_session;

/* Nothing connects until the first batch.  Never NULL. */
struct sms_session *sms_open(const struct conf *);
/*
 * Send n requests, up to sms.concurrency at a time; fills each one's
 * outputs and calls hooks->done for each as soon as it is settled (hooks
 * may be NULL; see xfer.h).  Once xfer_stopping(), or when hooks->go says
 * no, a request not yet started is settled TEMPFAIL "not sent" with
 * began = 0.
 */
void	 sms_send_batch(struct sms_session *, struct sms_req *, size_t n,
	    const struct xfer_hooks *hooks);
/*
 * The same in steps, on the caller's thread, so that the round trips
 * overlap its own work: start sends what the slots take and returns;
 * step moves the batch on without waiting (1 while it is under way); finish
 * waits for the rest, calling hooks->idle meanwhile.  Every hook runs
 * inside one of these calls.  One batch at a time.
 */
void	 sms_batch_start(struct sms_session *, struct sms_req *, size_t n,
	    const struct xfer_hooks *hooks);
int	 sms_batch_step(struct sms_session *);
void	 sms_batch_finish(struct sms_session *);
void	 sms_close(struct sms_session *);

/*
 * The pure half, exposed for the unit tests: no I/O, no clock, no logging.
 */
enum sms_provider {
	SMS_TWILIO,
	SMS_VONAGE,
	SMS_GENERIC
};

/* "twilio" | "vonage" | "generic": 0, or -1. */
int	 sms_provider_parse(const char *, enum sms_provider *);

/* One HTTP request, ready for libcurl.  Content-Type is in headers. */
struct sms_http {
	char		*url;
	int		 put;		/* PUT instead of POST (generic only) */
	char		**headers;	/* "Name: value" */
	size_t		 nheaders;
	char		*body;		/* may hold the token: wiped when freed */
	size_t		 len;
	int		 basic_auth;	/* account:token as HTTP Basic (Twilio) */
};

/*
 * Build the request for r->to and r->text.  0, or -1 with r->res and
 * r->err set when the message can never go like this (PERMFAIL) or the
 * config cannot send anything (CHANNEL).
 */
int	 sms_build(const struct conf *, enum sms_provider, struct sms_req *r,
	    struct sms_http *);
void	 sms_http_free(struct sms_http *);

/* application/x-www-form-urlencoded value (curl_easy_escape); caller frees. */
char	*sms_form_escape(const char *);
/* RFC 8259 string contents without the quotes; NULL if not UTF-8. */
char	*sms_json_escape(const char *);

enum sms_enc {
	SMS_ENC_RAW,			/* as they are (headers) */
	SMS_ENC_FORM,
	SMS_ENC_JSON
};

struct sms_vars {
	const char	*to, *from, *text, *account, *token;
};

/*
 * Substitute {{to}} {{from}} {{text}} {{account}} {{token}} in tmpl, each
 * value encoded by enc; any other {{...}} is copied as it is (conf.c has
 * refused those already).  NULL when a value cannot be encoded.
 */
char	*sms_render(const char *tmpl, const struct sms_vars *, enum sms_enc);

/*
 * Retry-After (delta-seconds or an HTTP-date) as seconds from now; 0 when
 * absent, unreadable or already past; at most SMS_RETRY_AFTER_MAX.
 */
#define SMS_RETRY_AFTER_MAX	86400L
long	 sms_retry_after(const char *value, time_t now);

/*
 * Classify one complete HTTP answer (status, body) by the provider's
 * table; fills r->res, ref, err, unsubscribed, partial, retry_after (from
 * the retry_after argument, for TEMPFAIL only).  id_field: generic only.
 */
void	 sms_classify(enum sms_provider, const char *id_field, long status,
	    long retry_after, const char *body, size_t len, struct sms_req *r);

#endif
