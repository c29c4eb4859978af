/*
 * feed_fetch: fetch one calendar feed.  See feed_fetch.h.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "transport/feed_fetch.h"
#include "base/util.h"
#include "transport/xfer.h"

static volatile sig_atomic_t *feed_stop;

void
feed_set_stop(volatile sig_atomic_t *stop)
{
	feed_stop = stop;
}

/* Keeps the watchdog fed, and ends the transfer when the service stops. */
static int
feed_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	(void)arg;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	xfer_tick();
	return feed_stop != NULL && *feed_stop;
}

struct feed_buf {
	struct sbuf	 body;
	int		 too_big;
	char		*etag;
	char		*last_modified;
};

void
feed_got_free(struct feed_got *g)
{
	free(g->body);
	free(g->etag);
	free(g->last_modified);
	memset(g, 0, sizeof(*g));
}

static size_t
feed_write(char *p, size_t size, size_t n, void *arg)
{
	struct feed_buf *b = arg;

	if (b->body.len + size * n > (size_t)FEED_MAX_BYTES) {
		b->too_big = 1;
		return 0;	/* libcurl stops with CURLE_WRITE_ERROR */
	}
	sbuf_addn(&b->body, p, size * n);
	return size * n;
}

/* "Name: value\r\n" -> a copy of value when the name matches. */
static char *
feed_header_value(const char *p, size_t n, const char *name)
{
	size_t k = strlen(name);

	if (n <= k + 1 || strncasecmp(p, name, k) != 0 || p[k] != ':')
		return NULL;
	p += k + 1;
	n -= k + 1;
	while (n > 0 && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n > 0 && isspace((unsigned char)p[n - 1]))
		n--;
	return n > 0 && n < 512 ? xstrndup(p, n) : NULL;
}

static size_t
feed_header(char *p, size_t size, size_t n, void *arg)
{
	struct feed_buf *b = arg;
	char *v;

	/* a redirect's headers come first: the last response's win */
	if ((v = feed_header_value(p, size * n, "ETag")) != NULL) {
		free(b->etag);
		b->etag = v;
	} else if ((v = feed_header_value(p, size * n, "Last-Modified")) != NULL) {
		free(b->last_modified);
		b->last_modified = v;
	}
	return size * n;
}

static enum feed_result
feed_file(const char *path, const char *last_modified, struct feed_got *g,
    char *err, size_t errlen)
{
	struct stat st;
	struct sbuf b = { 0 };
	char stamp[96], buf[8192];
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return FEED_FAIL;
	}
	snprintf(stamp, sizeof(stamp), "file %lld.%09ld %lld",
	    (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
	    (long long)st.st_size);
	if (last_modified != NULL && strcmp(last_modified, stamp) == 0) {
		close(fd);
		return FEED_SAME;
	}
	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 || b.len + (size_t)r > (size_t)FEED_MAX_BYTES) {
			snprintf(err, errlen, "cannot read %s: %s", path, r == -1 ?
			    strerror(errno) : "larger than the 8 MiB limit");
			close(fd);
			sbuf_free(&b);
			return FEED_FAIL;
		}
		sbuf_addn(&b, buf, (size_t)r);
	}
	close(fd);
	g->len = b.len;
	g->body = sbuf_steal(&b);
	g->last_modified = xstrdup(stamp);
	return FEED_OK;
}

#define FEED_SET(opt, val) do {						\
	if (rc == CURLE_OK)						\
		rc = curl_easy_setopt(c, opt, val);			\
} while (0)

/* The conditional request's headers (none without a validator). */
static struct curl_slist *
feed_headers(const char *etag, const char *last_modified)
{
	struct curl_slist *hdrs = NULL;
	char *h;

	if (etag != NULL) {
		h = xasprintf("If-None-Match: %s", etag);
		hdrs = curl_slist_append(hdrs, h);
		free(h);
	}
	if (last_modified != NULL && strncmp(last_modified, "file ", 5) != 0) {
		h = xasprintf("If-Modified-Since: %s", last_modified);
		hdrs = curl_slist_append(hdrs, h);
		free(h);
	}
	return hdrs;
}

/* Every option of the transfer; the first failure's code. */
static CURLcode
feed_setup(CURL *c, const char *url, const char *ca_file, long timeout_s,
    char *ebuf, struct feed_buf *b, struct curl_slist *hdrs)
{
	CURLcode rc = xfer_setup(c, ca_file, timeout_s, ebuf, NULL);

	FEED_SET(CURLOPT_URL, url);
	FEED_SET(CURLOPT_FOLLOWLOCATION, 1L);
	FEED_SET(CURLOPT_MAXREDIRS, 5L);
	FEED_SET(CURLOPT_PROTOCOLS_STR, "https");
	FEED_SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	FEED_SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)FEED_MAX_BYTES);
	FEED_SET(CURLOPT_ACCEPT_ENCODING, "");	/* gzip, as servers like */
	FEED_SET(CURLOPT_WRITEFUNCTION, feed_write);
	FEED_SET(CURLOPT_WRITEDATA, b);
	FEED_SET(CURLOPT_HEADERFUNCTION, feed_header);
	FEED_SET(CURLOPT_HEADERDATA, b);
	FEED_SET(CURLOPT_USERAGENT, "nudged calendar feed");
	FEED_SET(CURLOPT_XFERINFOFUNCTION, feed_progress);
	FEED_SET(CURLOPT_HTTPHEADER, hdrs);
	return rc;
}

/* What the finished transfer (rc, HTTP code) means; g takes the body. */
static enum feed_result
feed_outcome(CURLcode rc, long code, struct feed_buf *b, const char *ebuf,
    struct feed_got *g, char *err, size_t errlen)
{
	if (rc == CURLE_ABORTED_BY_CALLBACK && feed_stop != NULL && *feed_stop) {
		snprintf(err, errlen, "stopping");
		return FEED_STOPPED;
	}
	if (rc != CURLE_OK) {
		/* a body cut short (CURLE_PARTIAL_FILE) lands here too */
		snprintf(err, errlen, "%s%s%s", b->too_big || rc ==
		    CURLE_FILESIZE_EXCEEDED ? "larger than the 8 MiB limit" :
		    curl_easy_strerror(rc), ebuf[0] && !b->too_big ? ": " : "",
		    b->too_big ? "" : ebuf);
		return FEED_FAIL;
	}
	if (code == 304)
		return FEED_SAME;
	if (code != 200) {
		snprintf(err, errlen, "the server answered HTTP %ld", code);
		return FEED_FAIL;
	}
	g->len = b->body.len;
	g->body = sbuf_steal(&b->body);
	g->etag = b->etag;
	g->last_modified = b->last_modified;
	b->etag = b->last_modified = NULL;
	return FEED_OK;
}

enum feed_result
feed_fetch(const char *url, const char *ca_file, long timeout_s,
    const char *etag, const char *last_modified, struct feed_got *g,
    char *err, size_t errlen)
{
	struct feed_buf b = { { 0 }, 0, NULL, NULL };
	struct curl_slist *hdrs;
	char ebuf[CURL_ERROR_SIZE] = "";
	enum feed_result res = FEED_FAIL;
	long code = 0;
	CURLcode rc;
	CURL *c;

	memset(g, 0, sizeof(*g));
	if (url[0] == '/')
		return feed_file(url, last_modified, g, err, errlen);
	if (strncasecmp(url, "file://", 7) == 0)
		return feed_file(url + 7, last_modified, g, err, errlen);
	if (xfer_global_init(err, errlen) != 0)
		return FEED_FAIL;
	if ((c = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "cannot start libcurl");
		return FEED_FAIL;
	}
	hdrs = feed_headers(etag, last_modified);
	if ((rc = feed_setup(c, url, ca_file, timeout_s, ebuf, &b,
	    hdrs)) != CURLE_OK)
		snprintf(err, errlen, "cannot set up the transfer: %s",
		    curl_easy_strerror(rc));
	else {
		rc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		res = feed_outcome(rc, code, &b, ebuf, g, err, errlen);
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	sbuf_free(&b.body);
	free(b.etag);
	free(b.last_modified);
	return res;
}
