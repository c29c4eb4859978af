/*
 * feed_fetch: one calendar feed, fetched (issue 10).  https:// through
 * libcurl with the transports' settings (xfer_setup: certificates always
 * verified, timeouts), redirects to https only, a size cap, and a
 * conditional GET (If-None-Match / If-Modified-Since) so an unchanged feed
 * costs one 304.  A file path (or file://) is read from disk; its
 * modification time and size stand in for Last-Modified.
 *
 * Errors never quote the URL: it is a secret (Google's secret address).
 */
#ifndef NUDGED_FEED_FETCH_H
#define NUDGED_FEED_FETCH_H

#include <signal.h>
#include <stddef.h>

#define FEED_MAX_BYTES	(8L * 1024 * 1024)

enum feed_result {
	FEED_OK,	/* a new body */
	FEED_SAME,	/* 304 Not Modified (or an unchanged file) */
	FEED_FAIL,	/* anything else: err says why */
	FEED_STOPPED	/* given up because the service is stopping */
};

struct feed_got {
	char	*body;		/* NUL-terminated, len bytes; caller frees */
	size_t	 len;
	char	*etag;		/* NULL when the server sent none */
	char	*last_modified;
};

/* etag, last_modified: from the last good fetch, or NULL. */
enum feed_result feed_fetch(const char *url, const char *ca_file, long timeout_s,
	    const char *etag, const char *last_modified, struct feed_got *,
	    char *err, size_t errlen);
void	 feed_got_free(struct feed_got *);
/*
 * The service's stop flag: a fetch under way gives up (FEED_FAIL) soon
 * after it becomes non-zero, so SIGTERM is not kept waiting by a slow
 * calendar server.  NULL: never.
 */
void	 feed_set_stop(volatile sig_atomic_t *);

#endif
