/*
 * xfer: what every transport shares: the outcome of one delivery attempt
 * and libcurl set-up that must be the same everywhere (certificates always
 * verified, no redirects, timeouts, the progress hook that keeps the
 * systemd watchdog fed during a long exchange).
 */
#ifndef NUDGED_XFER_H
#define NUDGED_XFER_H

#include <curl/curl.h>

enum xfer_result {
	XFER_OK,		/* accepted by the server or provider */
	XFER_TEMPFAIL,		/* try again later (4xx, connection, timeout before the end) */
	XFER_PERMFAIL,		/* this message can never go (5xx, invalid recipient) */
	XFER_UNKNOWN,		/* everything went up, no verdict came back: it may have arrived */
	XFER_CHANNEL		/* the channel itself is refused (auth, TLS trust, no STARTTLS) */
};

const char *xfer_result_name(enum xfer_result);	/* "ok", "tempfail", ... */

/* Called (at most about once a second) while a transfer is under way. */
void	 xfer_set_tick(void (*)(void));
void	 xfer_tick(void);

/*
 * The settings every transport's easy handle gets: peer and host always
 * verified (ca_file, when not NULL, replaces the system CAs), TLS 1.2 at
 * least, no redirects, no signals, connect timeout timeout_s, a stall of
 * timeout_s aborts, 4 * timeout_s caps the whole exchange, and the tick
 * hook.  errbuf (CURL_ERROR_SIZE) receives libcurl's detail.  CURLE_OK or
 * the first option libcurl refused.
 */
CURLcode xfer_setup(CURL *, const char *ca_file, long timeout_s, char *errbuf);

#endif
