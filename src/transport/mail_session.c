/*
 * mail_session: sessions and their SMTP connections (email.connections),
 * the threads that carry a batch, and one attempt: perform, classify.
 * The dialogue itself is watched in mail.c.
 */
#include <sys/socket.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "transport/mail.h"
#include "transport/mail_int.h"
#include "base/util.h"

struct mail_session *
mail_open(const struct conf *conf)
{
	struct mail_session *s = xcalloc(1, sizeof(*s));

	s->conf = conf;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	pthread_cond_init(&s->work, NULL);
	return s;
}

void
mail_close(struct mail_session *s)
{
	size_t i;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->closing = 1;
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->lock);
	for (i = 0; i < s->nthreads; i++)
		pthread_join(s->conns[i].th, NULL);
	/*
	 * Stopping: no polite QUIT that a silent server could hold up for
	 * email.timeout; the connections are simply dropped.
	 */
	if (xfer_stopping())
		for (i = 0; i < s->nsocks; i++)
			shutdown(s->socks[i], SHUT_RDWR);
	/* QUIT on each connection still open (bounded by email.timeout) */
	for (i = 0; i < s->nconns; i++) {
		if (s->conns[i].curl != NULL)
			curl_easy_cleanup(s->conns[i].curl);
		/* after the handle: libcurl reads it until then */
		curl_url_cleanup(s->conns[i].uh);
	}
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->conns);
	free(s->socks);
	free(s->from);
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

#define MAIL_SET(opt, val) do {						\
	if ((rc = curl_easy_setopt(c, opt, val)) != CURLE_OK)		\
		goto fail;						\
} while (0)

/*
 * The URL, parsed here once, not by libcurl at each message: from a URL
 * string libcurl parses it and prints it back whole at every transfer,
 * 14k instructions an email on a kept connection, 13% of the mail
 * thread's (issue 12, callgrind, libcurl 7.88: 101k -> 87k).  The flags
 * are the ones libcurl itself parses CURLOPT_URL with.  A URL it refuses
 * goes in as a string, as before: the first message fails on it the same
 * way.
 */
static CURLcode
mail_conn_url(struct mail_conn *k, CURL *c)
{
	k->uh = curl_url();
	if (k->uh != NULL && curl_url_set(k->uh, CURLUPART_URL, k->s->url,
	    CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK)
		return curl_easy_setopt(c, CURLOPT_CURLU, k->uh);
	curl_url_cleanup(k->uh);
	k->uh = NULL;
	return curl_easy_setopt(c, CURLOPT_URL, k->s->url);
}

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
	if ((rc = mail_conn_url(k, c)) != CURLE_OK)
		goto fail;
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
	curl_url_cleanup(k->uh);
	k->uh = NULL;
	return -1;
}

/*
 * min(email.connections, n) easy handles, made once.  The array has room
 * for email.connections from the first call and never moves: each
 * handle's callbacks (READDATA, DEBUGDATA) hold its element's address, so
 * a batch that needs more connections than the one before must not
 * reallocate it under them.  0 or -1.
 */
static int
mail_setup(struct mail_session *s, size_t n, char *err, size_t errlen)
{
	long max = s->conf->email.connections > 0 ?
	    s->conf->email.connections : 1;
	size_t want = (size_t)max < n ? (size_t)max : n;

	/* here, on the caller's thread, before any connection thread */
	if (xfer_global_init(err, errlen) != 0)
		return -1;
	if (s->url == NULL)
		s->url = mail_url(s->conf->email.url, s->conf->email.helo,
		    s->conf->email.from);
	if (s->conns == NULL)
		s->conns = xcalloc((size_t)max, sizeof(*s->conns));
	while (s->nconns < want) {
		if (mail_conn_setup(s, &s->conns[s->nconns], err, errlen) != 0)
			return s->nconns > 0 ? 0 : -1;
		s->nconns++;
	}
	return 0;
}

/* A failed attempt's words for last_error, and its result. */
static enum xfer_result
mail_why(struct mail_conn *k, struct mail_req *r, CURLcode rc,
    enum xfer_result res)
{
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
	/* no answer at all, as opposed to a refusal (a 454 to STARTTLS) */
	r->unreachable = res == XFER_TEMPFAIL && k->phase < MAIL_PHASE_MAIL &&
	    k->reply == 0 && (rc == CURLE_OPERATION_TIMEDOUT ||
	    rc == CURLE_COULDNT_CONNECT);
	return res == XFER_OK ? res : mail_why(k, r, rc, res);
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
 * Whether to try a message once more at once, on a fresh connection: a
 * kept connection failed at MAIL FROM, so nothing of the message reached
 * the server.  Either the server had closed it while it idled (no reply at
 * all), or it closes it now with a 421, as a server that takes only so
 * many messages a connection does (Exim's smtp_accept_max_per_connection).
 */
static int
mail_again(const struct mail_conn *k, const struct mail_req *r, int reused)
{
	return r->res == XFER_TEMPFAIL && reused && !k->refused &&
	    (k->reply == 0 || k->reply == 421) &&
	    k->phase <= MAIL_PHASE_MAIL && !xfer_stopping();
}

/*
 * The caller's idle hook, called with the lock held and run without it:
 * the caller records outcomes then (its database), and takes the lock
 * itself for what it shares with the hooks (mail_lock), so that no
 * exchange waits for its transaction.
 */
static long
mail_idle(struct mail_session *s, const struct xfer_hooks *h)
{
	long ms;

	pthread_mutex_unlock(&s->lock);
	ms = xfer_idle(h);
	pthread_mutex_lock(&s->lock);
	return ms;
}

/* The oldest batch under way with a request not yet taken, or NULL. */
static struct mail_batch *
mail_next_batch(struct mail_session *s)
{
	for (size_t i = 0; i < s->nq; i++) {
		struct mail_batch *b = &s->q[(s->first + i) % 2];

		if (b->next < b->n)
			return b;
	}
	return NULL;
}

/* Whether all but left requests of b have been taken. */
static int
mail_taken(const struct mail_batch *b, size_t left)
{
	return b->next + left >= b->n;
}

/*
 * One connection's share of the batches: take the next message, send it,
 * report it, until none is left.  Called with the lock held; returns with
 * it held.  The lock is let go only around the exchange itself.
 */
static void
mail_work(struct mail_conn *k)
{
	struct mail_session *s = k->s;
	struct mail_batch *b;
	struct mail_req *r;
	int reused = 0, wake;

	while ((b = mail_next_batch(s)) != NULL) {
		const struct xfer_hooks *h = b->hooks;

		k->hooks = h;
		k->idx = b->next++;
		/* the moment the waiter asked for (mail_batch_wait_taken) */
		if (s->wait_taken && mail_taken(&s->q[(s->first + s->nq - 1) % 2],
		    s->wait_left))
			pthread_cond_signal(&s->cond);
		r = &b->reqs[k->idx];
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
				/* libcurl closes the one that failed */
				if (mail_again(k, r, reused))
					r->res = mail_attempt(k, r, &reused);
				pthread_mutex_lock(&s->lock);
			}
		}
		wake = h != NULL && h->done != NULL && h->done(h->arg, k->idx);
		k->req = NULL;
		k->hooks = NULL;
		/* the batch is over: its waiter goes on */
		if (--b->open == 0)
			wake = 1;
		/* one connection: the caller may record what is done now */
		if (!s->threaded)
			mail_idle(s, h);
		else if (wake)
			pthread_cond_signal(&s->cond);
	}
}

/*
 * A connection's thread, for the session's life: it carries its share of
 * each batch handed over, then waits for the next one.  Kept, not
 * started per batch: a new thread waits for a CPU before its first
 * command, and the connection idled that long between every two batches.
 */
static void *
mail_thread(void *arg)
{
	struct mail_conn *k = arg;
	struct mail_session *s = k->s;

	pthread_mutex_lock(&s->lock);
	while (!s->closing) {
		if (mail_next_batch(s) == NULL)
			pthread_cond_wait(&s->work, &s->lock);
		else
			mail_work(k);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/*
 * Wait for the threads to settle b, letting the caller record what is
 * done (b's idle hook); with taken set, only until all but left of its
 * requests have been taken.
 */
static void
mail_wait(struct mail_session *s, struct mail_batch *b, int taken,
    size_t left)
{
	s->wait_taken = taken;
	s->wait_left = left;
	while (b->open > 0 && !(taken && mail_taken(b, left))) {
		long ms = mail_idle(s, b->hooks);
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += ms / 1000;
		until.tv_nsec += (ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (b->open > 0 && !(taken && mail_taken(b, left)))
			pthread_cond_timedwait(&s->cond, &s->lock, &until);
		xfer_tick();
	}
	s->wait_taken = 0;
}

void
mail_lock(struct mail_session *s)
{
	pthread_mutex_lock(&s->lock);
}

void
mail_unlock(struct mail_session *s)
{
	pthread_mutex_unlock(&s->lock);
}

/*
 * Start the threads the connections do not have yet and wake those
 * waiting for a batch (called with the lock held): how many there are.
 */
static size_t
mail_spawn(struct mail_session *s)
{
	sigset_t all, old;

	/* Signals stay with the main thread (the daemon's flags). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	while (s->nthreads < s->nconns) {
		struct mail_conn *k = &s->conns[s->nthreads];

		if (pthread_create(&k->th, NULL, mail_thread, k) != 0)
			break;
		s->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (s->nthreads > 0)
		pthread_cond_broadcast(&s->work);
	return s->nthreads;
}

/* End the oldest batch under way (called with the lock held). */
static void
mail_end_oldest(struct mail_session *s)
{
	struct mail_batch *b = &s->q[s->first % 2];

	if (s->nq == 0)
		return;
	if (s->threaded)
		mail_wait(s, b, 0, 0);
	memset(b, 0, sizeof(*b));
	s->first++;
	s->nq--;
}

void
mail_batch_start(struct mail_session *s, struct mail_req *reqs, size_t n,
    const struct xfer_hooks *h, int background)
{
	struct mail_batch *b;
	char *faddr, err[256];
	size_t i;

	for (i = 0; i < n; i++) {
		reqs[i].res = XFER_TEMPFAIL;
		reqs[i].err[0] = '\0';
		reqs[i].began = 0;
		reqs[i].unreachable = 0;
	}
	if (n == 0)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->nq == 2)
		mail_end_oldest(s);	/* two at most (mail_batch) */
	/* not while a batch is under way: its threads read it */
	if (s->nq == 0) {
		free(s->from);
		s->from = NULL;
		if ((faddr = mail_addr_of(s->conf->email.from)) != NULL)
			s->from = xasprintf("<%s>", faddr);
		free(faddr);
	}
	if (mail_setup(s, n, err, sizeof(err)) != 0) {
		for (i = 0; i < n; i++) {
			if (mail_check(&reqs[i], s->from) == 0) {
				reqs[i].res = XFER_CHANNEL;
				snprintf(reqs[i].err, sizeof(reqs[i].err), "%s",
				    err);
			}
			if (h != NULL && h->done != NULL)
				(void)h->done(h->arg, i);
		}
		pthread_mutex_unlock(&s->lock);
		return;
	}
	b = &s->q[(s->first + s->nq++) % 2];
	*b = (struct mail_batch){ h, reqs, n, 0, n };
	/*
	 * Once the connections have threads they carry every batch: the one
	 * before may still be on them.
	 */
	if (s->nthreads > 0 || background || (s->nconns > 1 && n > 1))
		s->threaded = mail_spawn(s) > 0;
	/* one connection (or no thread could start): right here */
	if (!s->threaded)
		mail_work(&s->conns[0]);
	pthread_mutex_unlock(&s->lock);
}

void
mail_batch_wait(struct mail_session *s)
{
	pthread_mutex_lock(&s->lock);
	mail_end_oldest(s);
	pthread_mutex_unlock(&s->lock);
}

void
mail_batch_wait_taken(struct mail_session *s, size_t left)
{
	pthread_mutex_lock(&s->lock);
	if (s->threaded && s->nq > 0)
		mail_wait(s, &s->q[(s->first + s->nq - 1) % 2], 1, left);
	pthread_mutex_unlock(&s->lock);
}

void
mail_send_batch(struct mail_session *s, struct mail_req *reqs, size_t n,
    const struct xfer_hooks *h)
{
	mail_batch_start(s, reqs, n, h, 0);
	mail_batch_wait(s);
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
