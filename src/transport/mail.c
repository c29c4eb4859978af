/*
 * mail: SMTP delivery through libcurl, and Message-IDs.
 *
 * One easy handle per session, so libcurl keeps one connection for a
 * batch.  libcurl's own error codes are too coarse for SMTP (every
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
#include <signal.h>
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
#include "base/util.h"

char *
mail_message_id(const char *from_addr, long long msg_id)
{
	unsigned char r[16];
	char hex[33], *addr;
	const char *domain = "nudged.invalid";
	size_t got = 0, i;
	ssize_t n;
	char *id;

	while (got < sizeof(r)) {
		n = getrandom(r + got, sizeof(r) - got, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got < sizeof(r)) {
		/* No getrandom(): the clock and pid, unique with the row id. */
		struct timespec ts;
		uint64_t a, b;

		clock_gettime(CLOCK_REALTIME, &ts);
		a = (uint64_t)ts.tv_sec;
		b = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
		memcpy(r, &a, sizeof(a));
		memcpy(r + 8, &b, sizeof(b));
	}
	for (i = 0; i < sizeof(r); i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
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

static const char *const mail_phase_names[] = {
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

/*
 * One SMTP connection: its easy handle (which keeps the connection open
 * between messages) and the exchange under way on it.  With
 * email.connections > 1 each runs in a thread of its own: libcurl's SMTP
 * waits for the reply to the final dot without returning, even under a
 * multi handle, so only threads let N messages wait for their verdicts at
 * once.  The threads never call the caller's hooks (xfer.h) concurrently:
 * every hook runs under the session's lock, so the engine above stays
 * single-threaded in effect (its database connection included).
 */
struct mail_conn {
	struct mail_session	*s;
	CURL			*curl;
	pthread_t		 th;
	char			 errbuf[CURL_ERROR_SIZE];
	struct mail_req		*req;		/* the message under way */
	size_t			 idx;		/* req's index in the batch */
	/* The exchange under way. */
	const char		*data;
	size_t			 len;
	size_t			 off;
	enum mail_phase		 phase;
	int			 reply;		/* last complete reply, 0: none */
	int			 in_reply;	/* inside a multi-line reply */
	int			 quitting;	/* replies no longer count */
	char			 text[512];	/* that reply, one line */
	char			 cur[512];	/* the reply being read */
	int			 began;		/* the body started to go up */
	int			 refused;	/* mark said no: no final dot sent */
};

struct mail_session {
	const struct conf	*conf;
	struct mail_conn	*conns;
	size_t			 nconns;
	char			*url;		/* email.url with the EHLO name */
	pthread_mutex_t		 lock;		/* hooks, the batch's queue, socks */
	pthread_cond_t		 cond;		/* a message settled, a thread ended */
	/* the batch under way */
	const struct xfer_hooks	*hooks;
	struct mail_req		*reqs;
	size_t			 n;
	size_t			 next;		/* the next request to start */
	size_t			 workers;	/* threads still running */
	const char		*from;		/* "<addr>", NULL: not valid */
	int			 threaded;
	/* every socket libcurl opened for us and has not closed (a stop shuts them) */
	curl_socket_t		*socks;
	size_t			 nsocks;
};

struct mail_session *
mail_open(const struct conf *conf)
{
	struct mail_session *s = xcalloc(1, sizeof(*s));

	s->conf = conf;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	return s;
}

void
mail_close(struct mail_session *s)
{
	size_t i;

	if (s == NULL)
		return;
	/*
	 * Stopping: no polite QUIT that a silent server could hold up for
	 * email.timeout; the connections are simply dropped.
	 */
	if (xfer_stopping())
		for (i = 0; i < s->nsocks; i++)
			shutdown(s->socks[i], SHUT_RDWR);
	/* QUIT on each connection still open (bounded by email.timeout) */
	for (i = 0; i < s->nconns; i++)
		if (s->conns[i].curl != NULL)
			curl_easy_cleanup(s->conns[i].curl);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->conns);
	free(s->socks);
	free(s->url);
	free(s);
}

/* libcurl's socket hooks: the session knows its open sockets. */
static curl_socket_t
mail_socket_open(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct mail_session *s = arg;
	curl_socket_t fd;

	(void)purpose;
	fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	if (fd == CURL_SOCKET_BAD)
		return fd;
	pthread_mutex_lock(&s->lock);
	s->socks = xrealloc(s->socks, (s->nsocks + 1) * sizeof(*s->socks));
	s->socks[s->nsocks++] = fd;
	pthread_mutex_unlock(&s->lock);
	return fd;
}

static int
mail_socket_close(void *arg, curl_socket_t fd)
{
	struct mail_session *s = arg;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nsocks; i++)
		if (s->socks[i] == fd) {
			s->socks[i] = s->socks[--s->nsocks];
			break;
		}
	pthread_mutex_unlock(&s->lock);
	return close(fd);
}

static void
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
		if (!s->in_reply)
			snprintf(s->cur, sizeof(s->cur), "%.3s", line);
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


static int
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

static size_t
mail_read(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct mail_conn *s = arg;
	const struct xfer_mark *mark = s->s->hooks != NULL ?
	    s->s->hooks->mark : NULL;
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

#define MAIL_SET(opt, val) do {						\
	if ((rc = curl_easy_setopt(c, opt, val)) != CURLE_OK)		\
		goto fail;						\
} while (0)

/* One connection's easy handle.  0, or -1 with err. */
static int
mail_conn_setup(struct mail_session *s, struct mail_conn *k, char *err,
    size_t errlen)
{
	const struct conf *cf = s->conf;
	CURLcode rc;
	CURL *c;

	k->s = s;
	if ((c = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return -1;
	}
	if ((rc = xfer_setup(c, cf->email.ca_file, cf->email.timeout,
	    k->errbuf, &k->began)) != CURLE_OK)
		goto fail;
	MAIL_SET(CURLOPT_URL, s->url);
	MAIL_SET(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	/* _TRY would fall back to plain text without a word; never use it. */
	MAIL_SET(CURLOPT_USE_SSL, cf->email.tls_required ?
	    (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE);
	if (cf->email.username != NULL) {
		MAIL_SET(CURLOPT_USERNAME, cf->email.username);
		MAIL_SET(CURLOPT_PASSWORD, cf->email.password != NULL ?
		    cf->email.password : "");
	}
	MAIL_SET(CURLOPT_UPLOAD, 1L);
	MAIL_SET(CURLOPT_READFUNCTION, mail_read);
	MAIL_SET(CURLOPT_READDATA, k);
	/* VERBOSE is what makes libcurl call the debug hook; nothing prints. */
	MAIL_SET(CURLOPT_DEBUGFUNCTION, mail_debug);
	MAIL_SET(CURLOPT_DEBUGDATA, k);
	MAIL_SET(CURLOPT_VERBOSE, 1L);
	MAIL_SET(CURLOPT_OPENSOCKETFUNCTION, mail_socket_open);
	MAIL_SET(CURLOPT_OPENSOCKETDATA, s);
	MAIL_SET(CURLOPT_CLOSESOCKETFUNCTION, mail_socket_close);
	MAIL_SET(CURLOPT_CLOSESOCKETDATA, s);
	k->curl = c;
	return 0;
fail:
	snprintf(err, errlen, "libcurl refused an SMTP option: %s",
	    curl_easy_strerror(rc));
	curl_easy_cleanup(c);
	return -1;
}

/* min(email.connections, n) easy handles, made once.  0 or -1. */
static int
mail_setup(struct mail_session *s, size_t n, char *err, size_t errlen)
{
	long max = s->conf->email.connections > 0 ?
	    s->conf->email.connections : 1;
	size_t want = (size_t)max < n ? (size_t)max : n;

	if (s->url == NULL)
		s->url = mail_url(s->conf->email.url, s->conf->email.helo,
		    s->conf->email.from);
	if (want > s->nconns) {
		s->conns = xrealloc(s->conns, want * sizeof(*s->conns));
		memset(s->conns + s->nconns, 0, (want - s->nconns) *
		    sizeof(*s->conns));
		while (s->nconns < want) {
			if (mail_conn_setup(s, &s->conns[s->nconns], err,
			    errlen) != 0)
				return s->nconns > 0 ? 0 : -1;
			s->nconns++;
		}
	}
	return 0;
}

/* One attempt on k: perform, then classify what was seen. */
static enum xfer_result
mail_attempt(struct mail_conn *k, struct mail_req *r, int *reused)
{
	struct curl_slist *rl;
	long nconn = 1;
	enum xfer_result res;
	char *to;
	CURLcode rc;

	to = xasprintf("<%s>", r->to);
	rl = curl_slist_append(NULL, to);
	free(to);
	if (rl == NULL) {
		snprintf(r->err, sizeof(r->err), "out of memory");
		return XFER_TEMPFAIL;
	}
	k->req = r;
	k->data = r->data;
	k->len = strlen(r->data);
	k->off = 0;
	k->phase = MAIL_PHASE_CONNECT;
	k->quitting = 0;
	k->began = 0;
	k->refused = 0;
	k->errbuf[0] = '\0';
	r->err[0] = '\0';
	mail_reset_reply(k);
	if ((rc = curl_easy_setopt(k->curl, CURLOPT_MAIL_FROM, k->s->from)) ==
	    CURLE_OK && (rc = curl_easy_setopt(k->curl, CURLOPT_MAIL_RCPT,
	    rl)) == CURLE_OK)
		rc = curl_easy_perform(k->curl);
	curl_easy_setopt(k->curl, CURLOPT_MAIL_RCPT, NULL);
	curl_slist_free_all(rl);
	curl_easy_getinfo(k->curl, CURLINFO_NUM_CONNECTS, &nconn);
	*reused = nconn == 0;

	res = mail_classify(rc, k->phase, k->reply);
	if (res == XFER_OK)
		return res;
	if (k->refused) {
		snprintf(r->err, sizeof(r->err), "not sent: the upload could "
		    "not be recorded");
		return XFER_TEMPFAIL;
	}
	if (rc == CURLE_ABORTED_BY_CALLBACK && !k->began) {
		snprintf(r->err, sizeof(r->err), "not sent: stopping (during "
		    "%s)", mail_phase_names[k->phase]);
		return XFER_TEMPFAIL;
	}
	if (k->reply >= 400)
		snprintf(r->err, sizeof(r->err), "%s%.400s (after %s)",
		    res == XFER_CHANNEL && k->phase == MAIL_PHASE_AUTH ?
		    "login refused: " : "", k->text, mail_phase_names[k->phase]);
	else if (res == XFER_UNKNOWN)
		snprintf(r->err, sizeof(r->err), "no reply after the whole "
		    "message was sent, the server may have accepted it: %s",
		    k->errbuf[0] != '\0' ? k->errbuf : curl_easy_strerror(rc));
	else
		snprintf(r->err, sizeof(r->err), "%s%s: %s",
		    rc == CURLE_USE_SSL_FAILED ? "server does not offer "
		    "STARTTLS, during " : "", mail_phase_names[k->phase],
		    k->errbuf[0] != '\0' ? k->errbuf : curl_easy_strerror(rc));
	return res;
}

/* Settled before any connection: what can be told from the request alone. */
static int
mail_check(struct mail_req *r, const char *from)
{
	/* libcurl sends these strings to the server as they are. */
	if (!address_valid(r->to)) {
		snprintf(r->err, sizeof(r->err), "recipient address is not valid");
		r->res = XFER_PERMFAIL;
	} else if (from == NULL) {
		snprintf(r->err, sizeof(r->err), "email.from has no valid address");
		r->res = XFER_CHANNEL;
	} else if (r->data == NULL || r->data[0] == '\0') {
		snprintf(r->err, sizeof(r->err), "empty message");
		r->res = XFER_PERMFAIL;
	} else
		return 0;
	return -1;
}

/*
 * One connection's share of the batch: take the next message, send it,
 * report it, until none is left.  Called with the lock held; returns with
 * it held.  The lock is let go only around the exchange itself.
 */
static void
mail_work(struct mail_conn *k)
{
	struct mail_session *s = k->s;
	const struct xfer_hooks *h = s->hooks;
	struct mail_req *r;
	int reused = 0;

	while (s->next < s->n) {
		k->idx = s->next++;
		r = &s->reqs[k->idx];
		if (mail_check(r, s->from) == 0) {
			/* Stopping: what has not started stays for the next start. */
			if (xfer_stopping() || (h != NULL && h->go != NULL &&
			    !h->go(h->arg, k->idx)))
				snprintf(r->err, sizeof(r->err), "%s",
				    xfer_stopping() ? "not sent: stopping" :
				    "not sent");
			else {
				pthread_mutex_unlock(&s->lock);
				r->res = mail_attempt(k, r, &reused);
				/*
				 * A kept connection the server closed while
				 * idle fails on MAIL FROM with no reply;
				 * nothing reached the server, so once more
				 * afresh.
				 */
				if (r->res == XFER_TEMPFAIL && reused &&
				    k->reply == 0 && !k->refused &&
				    k->phase <= MAIL_PHASE_MAIL && !xfer_stopping())
					r->res = mail_attempt(k, r, &reused);
				pthread_mutex_lock(&s->lock);
			}
		}
		if (h != NULL && h->done != NULL)
			h->done(h->arg, k->idx);
		k->req = NULL;
		/* one connection: the caller may record what is done now */
		if (!s->threaded)
			(void)xfer_idle(h);
		pthread_cond_signal(&s->cond);
	}
}

static void *
mail_thread(void *arg)
{
	struct mail_conn *k = arg;
	struct mail_session *s = k->s;

	pthread_mutex_lock(&s->lock);
	mail_work(k);
	s->workers--;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Wait for the threads, letting the caller record what is done (idle). */
static void
mail_wait(struct mail_session *s)
{
	while (s->workers > 0) {
		long ms = xfer_idle(s->hooks);
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += ms / 1000;
		until.tv_nsec += (ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (s->workers > 0)
			pthread_cond_timedwait(&s->cond, &s->lock, &until);
		xfer_tick();
	}
}

/* Run the batch on nconns connections, in threads when more than one. */
static void
mail_run(struct mail_session *s)
{
	sigset_t all, old;
	size_t i, started = 0;

	pthread_mutex_lock(&s->lock);
	s->threaded = s->nconns > 1 && s->n > 1;
	if (s->threaded) {
		/* Signals stay with the main thread (the daemon's flags). */
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		for (i = 0; i < s->nconns; i++) {
			if (pthread_create(&s->conns[i].th, NULL, mail_thread,
			    &s->conns[i]) != 0)
				break;
			s->workers++;
			started++;
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (started == 0) {
		/* one connection (or no thread could start): right here */
		s->threaded = 0;
		mail_work(&s->conns[0]);
	} else
		mail_wait(s);
	pthread_mutex_unlock(&s->lock);
	for (i = 0; i < started; i++)
		pthread_join(s->conns[i].th, NULL);
}

void
mail_send_batch(struct mail_session *s, struct mail_req *reqs, size_t n,
    const struct xfer_hooks *h)
{
	char *faddr, *from = NULL, err[256];
	size_t i;

	for (i = 0; i < n; i++) {
		reqs[i].res = XFER_TEMPFAIL;
		reqs[i].err[0] = '\0';
		reqs[i].began = 0;
	}
	if (n == 0)
		return;
	if ((faddr = mail_addr_of(s->conf->email.from)) != NULL)
		from = xasprintf("<%s>", faddr);
	free(faddr);
	if (mail_setup(s, n, err, sizeof(err)) != 0) {
		for (i = 0; i < n; i++) {
			if (mail_check(&reqs[i], from) == 0) {
				reqs[i].res = XFER_CHANNEL;
				snprintf(reqs[i].err, sizeof(reqs[i].err), "%s",
				    err);
			}
			if (h != NULL && h->done != NULL)
				h->done(h->arg, i);
		}
		free(from);
		return;
	}
	s->hooks = h;
	s->reqs = reqs;
	s->n = n;
	s->next = 0;
	s->from = from;
	mail_run(s);
	s->hooks = NULL;
	s->reqs = NULL;
	s->n = 0;
	s->from = NULL;
	free(from);
}

enum xfer_result
mail_send(struct mail_session *s, const char *rcpt, const char *data,
    const struct xfer_mark *mark, char *err, size_t errlen)
{
	struct mail_req r = { .to = rcpt, .data = data };
	struct xfer_hooks h = { .mark = mark };

	mail_send_batch(s, &r, 1, &h);
	snprintf(err, errlen, "%s", r.err);
	return r.res;
}
