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
 * Every answer is classified by one table per provider (see sms.c):
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

#include "conf.h"
#include "xfer.h"

struct sms_req {
	/* in */
	const char	*to;		/* E.164, already validated */
	const char	*text;		/* UTF-8 */
	/* out */
	enum xfer_result res;
	char		 ref[128];	/* provider's message id */
	char		 err[320];	/* why, for last_error (no message text) */
	int		 unsubscribed;	/* the recipient opted out at the provider */
	long		 retry_after;	/* seconds the provider asked us to wait, 0: none */
	int		 partial;	/* a multi-part text partly accepted */
};

struct sms_session;

/* Nothing connects until the first batch.  Never NULL. */
struct sms_session *sms_open(const struct conf *);
/* Send n requests, up to sms.concurrency at a time; fills each one's outputs. */
void	 sms_send_batch(struct sms_session *, struct sms_req *, size_t n);
void	 sms_close(struct sms_session *);

#endif
