/*
 * mail: SMTP delivery through libcurl (the dialogue and its verdicts;
 * sessions, connections and threads are in mail_session.c), and
 * Message-IDs.
 *
 * libcurl's own error codes are too coarse for SMTP (every
 * refused RCPT is CURLE_SEND_ERROR, a refused final dot is
 * CURLE_WEIRD_SERVER_REPLY, and CURLINFO_RESPONSE_CODE keeps an old 250
 * after a drop), so the session watches the dialogue itself: the debug
 * callback sees each command going out and each reply coming in, and the
 * read callback knows when the whole message has gone up.  mail_classify()
 * turns that into a result, by the table above mail_rules[].
 *
 * The message itself is built in mime.c.
 */
#include <sys/random.h>
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "transport/mail.h"
#include "transport/mail_int.h"
#include "base/util.h"

/*
 * n random bytes from a per-thread pool filled 256 bytes at a time: a
 * getrandom() per Message-ID was one system call in thirty per email.
 * 0, or -1 when the kernel has none to give.
 *
 * A process forked from one that drew would hand out the bytes its
 * parent had left, as would every other process forked after it: the
 * same Message-IDs' random parts, pass after pass, once the service had
 * run a pass itself (fork refused, cmd/daemon.c).  The forking thread's
 * pool, the only one the child has, is emptied in the child.
 */
static _Thread_local unsigned char mail_pool[256];
static _Thread_local size_t mail_left;
static pthread_once_t mail_pool_once = PTHREAD_ONCE_INIT;

static void
mail_pool_forked(void)
{
	explicit_bzero(mail_pool, sizeof(mail_pool));
	mail_left = 0;
}

static void
mail_pool_init(void)
{
	(void)pthread_atfork(NULL, NULL, mail_pool_forked);
}

static int
mail_random(unsigned char *r, size_t n)
{
	ssize_t k;

	(void)pthread_once(&mail_pool_once, mail_pool_init);
	while (mail_left < n) {
		k = getrandom(mail_pool, sizeof(mail_pool), 0);
		if (k == -1 && errno == EINTR)
			continue;
		if (k < (ssize_t)sizeof(mail_pool))
			return -1;
		mail_left = sizeof(mail_pool);
	}
	/* each byte is handed out once, then forgotten */
	memcpy(r, mail_pool + sizeof(mail_pool) - mail_left, n);
	explicit_bzero(mail_pool + sizeof(mail_pool) - mail_left, n);
	mail_left -= n;
	return 0;
}

char *
mail_message_id(const char *from_addr, long long msg_id)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char r[16];
	char hex[33], *addr;
	const char *domain = "nudged.invalid";
	size_t i;
	char *id;

	if (mail_random(r, sizeof(r)) != 0) {
		/* No getrandom(): the clock and pid, unique with the row id. */
		struct timespec ts;
		uint64_t a, b;

		clock_gettime(CLOCK_REALTIME, &ts);
		a = (uint64_t)ts.tv_sec;
		b = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
		memcpy(r, &a, sizeof(a));
		memcpy(r + 8, &b, sizeof(b));
	}
	for (i = 0; i < sizeof(r); i++) {
		hex[2 * i] = digits[r[i] >> 4];
		hex[2 * i + 1] = digits[r[i] & 0xf];
	}
	hex[2 * sizeof(r)] = '\0';
	addr = mail_addr_of(from_addr);
	if (addr != NULL)
		domain = strchr(addr, '@') + 1;
	id = xasprintf("%s.%lld@%s", hex, msg_id, domain);
	free(addr);
	return id;
}

/* ---- delivery --------------------------------------------------------- */

/*
 * The classification table.  First matching row wins.  "reply" is the
 * last complete reply the server sent to the command of that phase (0:
 * none came, e.g. the connection dropped); "4xx"/"5xx" match a class.
 *
 *  libcurl code                 phase          reply  result    why
 *  ---------------------------  -------------  -----  --------  -----------------------------
 *  CURLE_OK                     any            any    OK        250 after the final dot
 *  any                          any            530    CHANNEL   AUTH or STARTTLS required first
 *  any                          RCPT           5xx    PERMFAIL  this recipient is refused
 *  any                          DATA/BODY/DOT  5xx    PERMFAIL  this message is refused
 *  any                          other          5xx    CHANNEL   greeting, EHLO, STARTTLS, AUTH
 *                                                               (535) or MAIL FROM: refused
 *                                                               for every message alike
 *  any                          any            4xx    TEMPFAIL  421, 450, 451, 452, 454
 *  LOGIN_DENIED, AUTH_ERROR     any            -      CHANNEL   credentials refused
 *  PEER_FAILED_VERIFICATION,    any            -      CHANNEL   certificate not trusted
 *   SSL_CACERT_BADFILE,
 *   SSL_ISSUER_ERROR,
 *   SSL_CRL_BADFILE,
 *   SSL_CERTPROBLEM,
 *   SSL_PINNEDPUBKEYNOTMATCH
 *  USE_SSL_FAILED               any            -      CHANNEL   no STARTTLS on offer (or
 *                                                               stripped on the way)
 *  UNSUPPORTED_PROTOCOL,        any            -      CHANNEL   email.url is wrong
 *   URL_MALFORMAT,
 *   COULDNT_RESOLVE_HOST
 *  any other                    DOT            -      UNKNOWN   everything went up, no verdict:
 *                                                               the server may have it
 *  any other                    before DOT     -      TEMPFAIL  connect, timeout, reset, and
 *                                                               SSL_CONNECT_ERROR (35): a
 *                                                               handshake cut short is as
 *                                                               transient as any reset, and
 *                                                               the contract counts TLS
 *                                                               failure as transient
 *
 * A refused MAIL FROM is CHANNEL, not PERMFAIL: the sender is the same for
 * every message, so failing each one would empty the outbox for a config
 * problem.  A host that does not resolve is a config error on loopback
 * and LAN relays alike; DNS outages surface as COULDNT_CONNECT elsewhere.
 */
#define MAIL_ANY	(-1)
#define MAIL_4XX	(-4)
#define MAIL_5XX	(-5)

static const struct mail_rule {
	int			 curlcode;
	int			 phase;
	int			 reply;
	enum xfer_result	 result;
} mail_rules[] = {
	{ CURLE_OK,			MAIL_ANY,		MAIL_ANY, XFER_OK },
	{ MAIL_ANY,			MAIL_ANY,		530,	XFER_CHANNEL },
	{ MAIL_ANY,			MAIL_PHASE_RCPT,	MAIL_5XX, XFER_PERMFAIL },
	{ MAIL_ANY,			MAIL_PHASE_DATA,	MAIL_5XX, XFER_PERMFAIL },
	{ MAIL_ANY,			MAIL_PHASE_BODY,	MAIL_5XX, XFER_PERMFAIL },
	{ MAIL_ANY,			MAIL_PHASE_DOT,		MAIL_5XX, XFER_PERMFAIL },
	{ MAIL_ANY,			MAIL_ANY,		MAIL_5XX, XFER_CHANNEL },
	{ MAIL_ANY,			MAIL_ANY,		MAIL_4XX, XFER_TEMPFAIL },
	{ CURLE_LOGIN_DENIED,		MAIL_ANY,		MAIL_ANY, XFER_CHANNEL },
	{ CURLE_AUTH_ERROR,		MAIL_ANY,		MAIL_ANY, XFER_CHANNEL },
	{ CURLE_PEER_FAILED_VERIFICATION, MAIL_ANY,		MAIL_ANY, XFER_CHANNEL },
	{ CURLE_SSL_CACERT_BADFILE,	MAIL_ANY,		MAIL_ANY, XFER_CHANNEL },
	{ CURLE_SSL_ISSUER_ERROR,	MAIL_ANY,		MAIL_ANY, XFER_CHANNEL },
	{ CURLE_SSL_CRL_BADFILE,	MAIL_ANY,		MAIL_ANY, XFER_CHANNEL },
	{ CURLE_SSL_CERTPROBLEM,	MAIL_ANY,		MAIL_ANY, XFER_CHANNEL },
	{ CURLE_SSL_PINNEDPUBKEYNOTMATCH, MAIL_ANY,		MAIL_ANY, XFER_CHANNEL },
	{ CURLE_USE_SSL_FAILED,		MAIL_ANY,		MAIL_ANY, XFER_CHANNEL },
	{ CURLE_UNSUPPORTED_PROTOCOL,	MAIL_ANY,		MAIL_ANY, XFER_CHANNEL },
	{ CURLE_URL_MALFORMAT,		MAIL_ANY,		MAIL_ANY, XFER_CHANNEL },
	{ CURLE_COULDNT_RESOLVE_HOST,	MAIL_ANY,		MAIL_ANY, XFER_CHANNEL },
	{ MAIL_ANY,			MAIL_PHASE_DOT,		MAIL_ANY, XFER_UNKNOWN },
	{ MAIL_ANY,			MAIL_ANY,		MAIL_ANY, XFER_TEMPFAIL },
};

static int
mail_rule_reply(int want, int reply)
{
	if (want == MAIL_ANY)
		return 1;
	if (want == MAIL_4XX || want == MAIL_5XX)
		return reply / 100 == -want;
	return reply == want;
}

enum xfer_result
mail_classify(int curlcode, enum mail_phase phase, int reply)
{
	const struct mail_rule *r;
	size_t i;

	for (i = 0; i < sizeof(mail_rules) / sizeof(mail_rules[0]); i++) {
		r = &mail_rules[i];
		if ((r->curlcode == MAIL_ANY || r->curlcode == curlcode) &&
		    (r->phase == MAIL_ANY || r->phase == (int)phase) &&
		    mail_rule_reply(r->reply, reply))
			return r->result;
	}
	return XFER_TEMPFAIL;
}

const char *const mail_phase_names[] = {
	[MAIL_PHASE_CONNECT] = "connect",
	[MAIL_PHASE_EHLO] = "EHLO",
	[MAIL_PHASE_STARTTLS] = "STARTTLS",
	[MAIL_PHASE_AUTH] = "AUTH",
	[MAIL_PHASE_MAIL] = "MAIL FROM",
	[MAIL_PHASE_RCPT] = "RCPT TO",
	[MAIL_PHASE_DATA] = "DATA",
	[MAIL_PHASE_BODY] = "message upload",
	[MAIL_PHASE_DOT] = "end of data",
};

void
mail_reset_reply(struct mail_conn *s)
{
	s->reply = 0;
	s->in_reply = 0;
	s->text[0] = '\0';
	s->cur[0] = '\0';
}

/* A command went out: the phase is its verb.  Its arguments are not kept. */
static void
mail_saw_command(struct mail_conn *s, const char *d, size_t n)
{
	static const struct {
		const char	*verb;
		enum mail_phase	 phase;
	} verbs[] = {
		{ "EHLO ", MAIL_PHASE_EHLO }, { "HELO ", MAIL_PHASE_EHLO },
		{ "STARTTLS\r", MAIL_PHASE_STARTTLS },
		{ "AUTH ", MAIL_PHASE_AUTH },
		{ "MAIL FROM:", MAIL_PHASE_MAIL },
		{ "RCPT TO:", MAIL_PHASE_RCPT },
		{ "DATA\r", MAIL_PHASE_DATA },
	};
	size_t i, vl;

	/* libcurl says QUIT after a failure; "221 Bye" is not the verdict. */
	if (n >= 4 && strncasecmp(d, "QUIT", 4) == 0) {
		s->quitting = 1;
		return;
	}
	/* Anything else (an AUTH continuation) stays in its phase. */
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		vl = strlen(verbs[i].verb);
		if (n >= vl && strncasecmp(d, verbs[i].verb, vl) == 0) {
			s->phase = verbs[i].phase;
			break;
		}
	}
	mail_reset_reply(s);
}

/* Reply lines: "250-..." continues, "250 ..." ends a reply. */
static void
mail_saw_reply(struct mail_conn *s, const char *d, size_t n)
{
	size_t i, len, eol;
	const char *line;

	for (; n > 0 && !s->quitting; d += eol, n -= eol) {
		for (eol = 0; eol < n && d[eol] != '\n'; eol++)
			;
		line = d;
		len = eol;
		if (eol < n)
			eol++;
		while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
			len--;
		if (len < 3 || line[0] < '2' || line[0] > '5' ||
		    line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9')
			continue;
		/* the code: three digits (checked above), copied without a printf */
		if (!s->in_reply) {
			memcpy(s->cur, line, 3);
			s->cur[3] = '\0';
		}
		/* One line of text, whatever the server put in it. */
		if (len > 4) {
			size_t o = strlen(s->cur);

			for (i = 4; i < len && o + 2 < sizeof(s->cur); i++) {
				if (i == 4)
					s->cur[o++] = ' ';
				s->cur[o++] = (unsigned char)line[i] < 0x20 ||
				    line[i] == 0x7f ? ' ' : line[i];
			}
			s->cur[o] = '\0';
		}
		s->in_reply = len > 3 && line[3] == '-';
		if (!s->in_reply) {
			/*
			 * A reply is complete: its code and text go together.
			 * The last line's code decides (as libcurl's does); a
			 * server that changes it within one reply, or leaves
			 * the next one unfinished, must not make the logged
			 * text say another (both found by fuzz_smtp).
			 */
			s->reply = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
			    (line[2] - '0');
			memcpy(s->cur, line, 3);
			memcpy(s->text, s->cur, sizeof(s->text));
		}
	}
}

int
mail_reply_parse(const char *data, size_t n, int by_line, char *text,
    size_t textlen)
{
	struct mail_conn s;
	const char *nl;
	size_t off, k;

	/*
	 * The parser as mail_debug drives it: libcurl hands over whole reply
	 * lines, one or several at a time.
	 */
	memset(&s, 0, sizeof(s));
	for (off = 0; off < n; off += k) {
		nl = by_line ? memchr(data + off, '\n', n - off) : NULL;
		k = nl != NULL ? (size_t)(nl - (data + off)) + 1 : n - off;
		mail_saw_reply(&s, data + off, k);
	}
	if (textlen > 0)
		snprintf(text, textlen, "%s", s.text);
	return s.reply;
}

/*
 * Say QUIT on a connection whose login was just refused.  libcurl drops
 * such a connection without a word (its connect phase failed, so it counts
 * the connection as dead), which servers log as a client that vanished
 * mid-dialogue and some count towards blocking it.  The connection is
 * about to be closed anyway: the QUIT goes through the same TLS session
 * (or the plain socket) just before libcurl's own close_notify.  Only
 * libcurl's OpenSSL backend hands us a session we can write to; with
 * another backend nothing is said, as before.
 */
static void
mail_quit_now(CURL *c)
{
	struct curl_tlssessioninfo *tls = NULL;
	curl_socket_t fd = CURL_SOCKET_BAD;
	static const char quit[] = "QUIT\r\n";

	if (curl_easy_getinfo(c, CURLINFO_TLS_SSL_PTR, &tls) == CURLE_OK &&
	    tls != NULL && tls->backend == CURLSSLBACKEND_OPENSSL &&
	    tls->internals != NULL) {
		(void)SSL_write(tls->internals, quit, (int)sizeof(quit) - 1);
		return;
	}
	if ((tls == NULL || tls->backend == CURLSSLBACKEND_NONE ||
	    tls->internals == NULL) &&
	    curl_easy_getinfo(c, CURLINFO_ACTIVESOCKET, &fd) == CURLE_OK &&
	    fd != CURL_SOCKET_BAD)
		(void)send(fd, quit, sizeof(quit) - 1, MSG_NOSIGNAL);
}


int
mail_debug(CURL *c, curl_infotype type, char *d, size_t n, void *arg)
{
	struct mail_conn *s = arg;

	/* Only the dialogue; message data and TLS records are never looked at. */
	if (type == CURLINFO_HEADER_OUT)
		mail_saw_command(s, d, n);
	else if (type == CURLINFO_HEADER_IN) {
		mail_saw_reply(s, d, n);
		/* 535: these credentials are refused; libcurl gives up now */
		if (s->phase == MAIL_PHASE_AUTH && s->reply == 535 &&
		    !s->in_reply && !s->quitting) {
			s->quitting = 1;
			mail_quit_now(c);
		}
	}
	return 0;
}

size_t
mail_read(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct mail_conn *s = arg;
	const struct xfer_mark *mark = s->hooks != NULL ? s->hooks->mark : NULL;
	size_t n = size * nmemb;
	int no;

	if (s->phase < MAIL_PHASE_BODY) {
		s->phase = MAIL_PHASE_BODY;
		mail_reset_reply(s);
	}
	s->began = 1;
	s->req->began = 1;
	if (n > s->len - s->off)
		n = s->len - s->off;
	if (n == 0 && s->phase < MAIL_PHASE_DOT) {
		/*
		 * libcurl sends the final dot next: from then on the server
		 * may accept.  Durably noted first, or the message is dropped.
		 */
		if (mark != NULL && mark->fn != NULL) {
			pthread_mutex_lock(&s->s->lock);
			no = mark->fn(mark->arg, s->idx) != 0;
			pthread_mutex_unlock(&s->s->lock);
			if (no) {
				s->refused = 1;
				return CURL_READFUNC_ABORT;
			}
		}
		s->phase = MAIL_PHASE_DOT;
	}
	memcpy(buf, s->data + s->off, n);
	s->off += n;
	return n;
}

char *
mail_url(const char *url, const char *helo, const char *from)
{
	const char *auth = strstr(url, "://"), *path;
	char *addr, *u;

	if (auth == NULL)
		return xstrdup(url);
	path = strchr(auth + 3, '/');
	/*
	 * libcurl says EHLO with the URL's path, and "localhost" without one
	 * (a name many servers count against a sender): email.helo, else a
	 * name already in the URL, else the domain of the From address.
	 */
	if (helo == NULL && path != NULL && path[1] != '\0')
		return xstrdup(url);
	if (helo == NULL) {
		if ((addr = mail_addr_of(from)) == NULL)
			return xstrdup(url);
		u = xasprintf("%.*s/%s", (int)(path != NULL ? path - url :
		    (ptrdiff_t)strlen(url)), url, strchr(addr, '@') + 1);
		free(addr);
		return u;
	}
	return xasprintf("%.*s/%s", (int)(path != NULL ? path - url :
	    (ptrdiff_t)strlen(url)), url, helo);
}
