/*
 * xfer: what every libcurl transport shares.  The tick hook is the one
 * piece of global state here: the daemon sets it once (to feed the systemd
 * watchdog) and libcurl's progress callback calls it during long
 * exchanges, rate-limited so a fast transfer does not flood it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include <curl/curl.h>

#include "transport/xfer.h"
#include "transport/xfer_dl.h"

/*
 * The thread the daemon runs on: only it feeds the watchdog (mail's
 * connection threads call the progress hook too).  It is the thread that
 * first initialises libcurl: transports call xfer_global_init before
 * they start any thread of their own.
 */
static pthread_t xfer_main;
static int xfer_main_set;
/*
 * Issue 12: libcurl (and OpenSSL under it) is opened and initialised at
 * the first transfer, not at start: an idle service that has nothing due
 * maps neither (transport/xfer_dl.c).
 */
static int xfer_ready;

int
xfer_global_init(char *err, size_t errlen)
{
	if (xfer_ready)
		return 0;
	xfer_main = pthread_self();
	xfer_main_set = 1;
	if (xfer_dl_load(err, errlen) != 0)
		return -1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return -1;
	}
	xfer_ready = 1;
	return 0;
}

int
xfer_loaded(void)
{
	return xfer_ready;
}

void
xfer_global_cleanup(void)
{
	if (!xfer_ready)
		return;
	curl_global_cleanup();
	xfer_ready = 0;
}

static void	(*xfer_hook)(void);
static struct timespec xfer_last;
static volatile sig_atomic_t *xfer_stop;
/*
 * When the stop came (monotonic ms; 0: not yet known): set by the signal
 * handler or by the first connection thread that sees the stop, read by
 * all of them.  Lock-free, so a signal handler may store it.
 */
static _Atomic long long xfer_stop_ms;
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2,
    "xfer_stop_ms is stored from a signal handler");

static const char *const xfer_names[] = {
	[XFER_OK] = "ok",
	[XFER_TEMPFAIL] = "tempfail",
	[XFER_PERMFAIL] = "permfail",
	[XFER_UNKNOWN] = "unknown",
	[XFER_CHANNEL] = "channel",
};

const char *
xfer_result_name(enum xfer_result r)
{
	if ((unsigned)r >= sizeof(xfer_names) / sizeof(xfer_names[0]))
		return "invalid";
	return xfer_names[r];
}

void
xfer_set_tick(void (*fn)(void))
{
	xfer_hook = fn;
	xfer_last.tv_sec = 0;
	xfer_last.tv_nsec = 0;
}

void
xfer_tick(void)
{
	struct timespec now;

	if (xfer_hook == NULL ||
	    (xfer_main_set && !pthread_equal(pthread_self(), xfer_main)))
		return;
	if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
		return;
	/* libcurl calls back many times a second; the watchdog needs one. */
	if (xfer_last.tv_sec != 0 && now.tv_sec - xfer_last.tv_sec < 1)
		return;
	xfer_last = now;
	xfer_hook();
}

long
xfer_idle(const struct xfer_hooks *h)
{
	long ms;

	if (h == NULL || h->idle == NULL)
		return 1000;
	ms = h->idle(h->arg);
	return ms < 0 ? 0 : ms > 1000 ? 1000 : ms;
}

static long long
xfer_mono_ms(void)
{
	struct timespec t;

	if (clock_gettime(CLOCK_MONOTONIC, &t) == -1)
		return 0;
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void
xfer_set_stop(volatile sig_atomic_t *stop)
{
	xfer_stop = stop;
}

/* From a signal handler: clock_gettime is async-signal-safe. */
void
xfer_stop_requested(void)
{
	xfer_stop_ms = xfer_mono_ms();
}

/*
 * Read by the mail session's threads while the signal handler may set it
 * on the main thread: an atomic load (the handler stores atomically), so
 * that the flag is shared without a data race (ThreadSanitizer).
 */
int
xfer_stopping(void)
{
	return xfer_stop != NULL && __atomic_load_n(xfer_stop, __ATOMIC_RELAXED);
}

/* libcurl calls this about once a second even while nothing moves. */
static int
xfer_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	const int *began = arg;
	long long now, unset = 0;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	xfer_tick();
	if (!xfer_stopping())
		return 0;
	/* Nothing of the message went up yet: stopping costs nothing. */
	if (began == NULL || !*began)
		return 1;
	if ((now = xfer_mono_ms()) == 0)
		return 1;
	/* the first thread to see the stop starts the grace period */
	atomic_compare_exchange_strong(&xfer_stop_ms, &unset, now);
	return now - atomic_load(&xfer_stop_ms) >= XFER_STOP_GRACE_MS;
}

#define XFER_SET(opt, val) do {						\
	if ((rc = curl_easy_setopt(c, opt, val)) != CURLE_OK)		\
		return rc;						\
} while (0)

CURLcode
xfer_setup(CURL *c, const char *ca_file, long timeout_s, char *errbuf,
    const int *began)
{
	CURLcode rc;

	if (timeout_s <= 0)
		timeout_s = 30;
	errbuf[0] = '\0';
	XFER_SET(CURLOPT_ERRORBUFFER, errbuf);
	/* Timeouts without SIGALRM: the daemon owns its signals. */
	XFER_SET(CURLOPT_NOSIGNAL, 1L);
	XFER_SET(CURLOPT_SSL_VERIFYPEER, 1L);
	XFER_SET(CURLOPT_SSL_VERIFYHOST, 2L);
	XFER_SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (ca_file != NULL && ca_file[0] != '\0')
		XFER_SET(CURLOPT_CAINFO, ca_file);
	XFER_SET(CURLOPT_FOLLOWLOCATION, 0L);
	XFER_SET(CURLOPT_CONNECTTIMEOUT, timeout_s);
	/*
	 * A server silent for timeout_s is stalled; the hard cap leaves room
	 * for connect, TLS, AUTH and a slow final reply, each within the limit.
	 */
	XFER_SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	XFER_SET(CURLOPT_LOW_SPEED_TIME, timeout_s);
	XFER_SET(CURLOPT_TIMEOUT, 4 * timeout_s);
	/*
	 * libcurl's own wait for an SMTP reply is 120 s, QUIT included (and
	 * QUIT runs outside CURLOPT_TIMEOUT, at cleanup): bound it too.
	 */
	XFER_SET(CURLOPT_SERVER_RESPONSE_TIMEOUT, timeout_s);
	XFER_SET(CURLOPT_XFERINFOFUNCTION, xfer_progress);
	XFER_SET(CURLOPT_XFERINFODATA, (void *)began);
	XFER_SET(CURLOPT_NOPROGRESS, 0L);
	return CURLE_OK;
}
