/*
 * xfer: what every transport shares: the outcome of one delivery attempt
 * and libcurl set-up that must be the same everywhere (certificates always
 * verified, no redirects, timeouts, the progress hook that keeps the
 * systemd watchdog fed during a long exchange).
 */
#ifndef NUDGED_XFER_H
#define NUDGED_XFER_H

#include <signal.h>
#include <stddef.h>

#include <curl/curl.h>

enum xfer_result {
	XFER_OK,		/* accepted by the server or provider */
	XFER_TEMPFAIL,		/* try again later (4xx, connection, timeout before the end) */
	XFER_PERMFAIL,		/* this message can never go (5xx, invalid recipient) */
	XFER_UNKNOWN,		/* everything went up, no verdict came back: it may have arrived */
	XFER_CHANNEL		/* the channel itself is refused (auth, TLS trust, no STARTTLS) */
};

const char *xfer_result_name(enum xfer_result);	/* "ok", "tempfail", ... */

/*
 * libcurl's process-wide set-up, done by the transports before their
 * first handle, on the caller's thread before any thread of their own (a
 * no-op after that): opens libcurl and libssl (xfer_dl.h) and initialises
 * them.  0, or -1 with err ("cannot load libcurl.so.4: ...").  The end at
 * exit: xfer_global_cleanup.
 */
int	 xfer_global_init(char *err, size_t errlen);
void	 xfer_global_cleanup(void);
/* 1 once xfer_global_init() has opened libcurl in this process. */
int	 xfer_loaded(void);

/* Called (at most about once a second) while a transfer is under way. */
void	 xfer_set_tick(void (*)(void));
void	 xfer_tick(void);

/*
 * A stop request (the service's SIGTERM flag; NULL: none).  A transfer
 * whose message has not begun to go up is aborted at once (nothing of it
 * reached the server); one whose upload has begun gets XFER_STOP_GRACE_MS
 * from the stop request to hear its verdict, then it is aborted too (an
 * unknown outcome).  libcurl looks in about once a second, so the service
 * still exits within the 5 s systemd is promised.
 * xfer_stop_requested() notes the moment (async-signal-safe).
 */
#define XFER_STOP_GRACE_MS	3000
void	 xfer_set_stop(volatile sig_atomic_t *);
void	 xfer_stop_requested(void);
int	 xfer_stopping(void);

/*
 * How a transport tells its caller that a message is about to go up
 * whole: fn is called once, just before the last of it is handed to
 * libcurl (before SMTP's final dot, with the last bytes of an HTTP body);
 * non-zero from it aborts the transfer, and the server, holding at most
 * part of the message, cannot accept it.  Until then a crash or a stop
 * cannot cause a duplicate.
 */
struct xfer_mark {
	int	(*fn)(void *arg, size_t i);	/* i: the request's index in a batch */
	void	*arg;
};

/*
 * What the caller of a batch (mail_send_batch, sms_send_batch) hears;
 * any member may be NULL.
 *   mark  before request i's last bytes go up (above)
 *   go    request i is next: 0 settles it unstarted (TEMPFAIL, began 0,
 *         "not sent"), e.g. its channel was refused a moment ago
 *   done  request i is settled (its outputs filled): the caller may
 *         record it (or keep it for a group commit); non-zero when it
 *         wants its idle hook soon (a transport that runs the batch in
 *         threads wakes the waiting caller for it, and only then: a
 *         wake-up per message would cost the connection a context
 *         switch per message)
 *   idle  the transport is about to wait for its servers: the caller may
 *         record what is done; returns the longest wait in ms before idle
 *         is called again (the transport waits at most 1000 ms anyway)
 */
struct xfer_hooks {
	const struct xfer_mark	*mark;
	int			(*go)(void *arg, size_t i);
	int			(*done)(void *arg, size_t i);
	long			(*idle)(void *arg);
	void			*arg;
};

/* The wait before hooks->idle is due again (1000 ms without one). */
long	 xfer_idle(const struct xfer_hooks *);

/*
 * The settings every transport's easy handle gets: peer and host always
 * verified (ca_file, when not NULL, replaces the system CAs), TLS 1.2 at
 * least, no redirects, no signals, connect timeout timeout_s, a stall of
 * timeout_s aborts, every wait for a server's reply (SMTP's QUIT
 * included) is bounded by timeout_s, 4 * timeout_s caps the whole
 * exchange, and the progress hook (tick, and the stop rule above, with
 * *began non-zero once the upload began).  errbuf (CURL_ERROR_SIZE)
 * receives libcurl's detail.  CURLE_OK or the first option refused.
 */
CURLcode xfer_setup(CURL *, const char *ca_file, long timeout_s, char *errbuf,
	    const int *began);

#endif
