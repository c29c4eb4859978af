/*
 * curl_floor: what libcurl alone reaches on this machine, the floor under
 * nudged's transports (issue 12's "machine's limits" for the stack the
 * project must use).  No database, no templates, no checks: one easy handle
 * (so one connection, kept open), the same bytes again and again.
 *
 *   curl_floor smtp URL COUNT BYTES     COUNT emails of BYTES bytes
 *   curl_floor http URL COUNT           COUNT form POSTs like a Twilio send
 *
 * Prints the wall seconds on stdout; exit 1 on the first failed transfer.
 * nudged's own figures are read against it in tests/bench/run.py: what is
 * left between the two is nudged's work per message, what is left between
 * this and smtp-source is libcurl's (four round trips per email, no
 * PIPELINING, a poll per step of its state machine).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

struct floor_body {
	const char	*p;
	size_t		 len, off;
};

static size_t
floor_read(char *buf, size_t size, size_t n, void *arg)
{
	struct floor_body *b = arg;
	size_t k = size * n;

	if (k > b->len - b->off)
		k = b->len - b->off;
	memcpy(buf, b->p + b->off, k);
	b->off += k;
	return k;
}

static size_t
floor_sink(char *buf, size_t size, size_t n, void *arg)
{
	(void)buf;
	(void)arg;
	return size * n;
}

/* A message of about `bytes` bytes: headers, then lines of 72 'x'. */
static char *
floor_message(size_t bytes, size_t *len)
{
	static const char head[] =
	    "From: appointments@example.org\r\nTo: client@example.org\r\n"
	    "Subject: bench\r\nMessage-ID: <bench@example.org>\r\n\r\n";
	char *m;
	size_t off;

	if (bytes < sizeof(head) + 80)
		bytes = sizeof(head) + 80;
	if ((m = malloc(bytes + 1)) == NULL)
		return NULL;
	memcpy(m, head, sizeof(head) - 1);
	for (off = sizeof(head) - 1; off + 74 <= bytes; off += 74) {
		memset(m + off, 'x', 72);
		memcpy(m + off + 72, "\r\n", 2);
	}
	m[off] = '\0';
	*len = off;
	return m;
}

static double
floor_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	struct curl_slist *rcpt = NULL;
	struct floor_body b = { NULL, 0, 0 };
	char *msg = NULL, *url;
	long count, i;
	int smtp;
	double t0;
	CURL *c;

	if (argc < 4 || (strcmp(argv[1], "smtp") != 0 &&
	    strcmp(argv[1], "http") != 0) || (argv[1][0] == 's' && argc != 5)) {
		fprintf(stderr, "usage: curl_floor smtp URL COUNT BYTES | "
		    "http URL COUNT\n");
		return 2;
	}
	smtp = argv[1][0] == 's';
	url = argv[2];
	count = strtol(argv[3], NULL, 10);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    (c = curl_easy_init()) == NULL)
		return 1;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (smtp) {
		if ((msg = floor_message((size_t)strtoul(argv[4], NULL, 10),
		    &b.len)) == NULL)
			return 1;
		b.p = msg;
		rcpt = curl_slist_append(NULL, "<client@example.org>");
		curl_easy_setopt(c, CURLOPT_MAIL_FROM, "<appointments@example.org>");
		curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, floor_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &b);
		curl_easy_setopt(c, CURLOPT_INFILESIZE, (long)b.len);
	} else {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS,
		    "To=%2B447700900123&From=%2B447700900000&Body=Hi%20Sam%2C%20a"
		    "%20reminder%20of%20your%20appointment%20on%20Tuesday.");
		curl_easy_setopt(c, CURLOPT_USERPWD, "AC0123:token");
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, floor_sink);
	}
	t0 = floor_now();
	for (i = 0; i < count; i++) {
		b.off = 0;
		if (curl_easy_perform(c) != CURLE_OK) {
			fprintf(stderr, "curl_floor: transfer %ld failed\n", i);
			return 1;
		}
	}
	printf("%.4f\n", floor_now() - t0);
	curl_easy_cleanup(c);
	curl_slist_free_all(rcpt);
	free(msg);
	curl_global_cleanup();
	return 0;
}
