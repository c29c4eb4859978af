/*
 * mail_int.h: private to mail*.c.  A session and its connections (see
 * mail_session.c), and the dialogue watcher mail.c gives libcurl.
 */
#ifndef NUDGED_MAIL_INT_H
#define NUDGED_MAIL_INT_H

#include <pthread.h>
#include <stddef.h>

#include <curl/curl.h>

#include "transport/mail.h"

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
	CURLU			*uh;		/* its URL, parsed once (NULL: CURLOPT_URL) */
	pthread_t		 th;		/* its thread, once started (mail_spawn) */
	char			 errbuf[CURL_ERROR_SIZE];
	struct mail_req		*req;		/* the message under way */
	size_t			 idx;		/* req's index in its batch */
	const struct xfer_hooks	*hooks;		/* req's batch's (NULL: none) */
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

/*
 * A batch handed over (mail_batch_start) and not yet ended
 * (mail_batch_wait).  Two at most: the caller hands over the next one
 * while the connections still carry the last exchanges of the one
 * before, so a connection goes from one to the next without waiting for
 * the caller to see the first one end.
 */
struct mail_batch {
	const struct xfer_hooks	*hooks;
	struct mail_req		*reqs;
	size_t			 n;
	size_t			 next;		/* the next request to take */
	size_t			 open;		/* requests not yet settled */
};

struct mail_session {
	const struct conf	*conf;
	struct mail_conn	*conns;
	size_t			 nconns;
	char			*url;		/* email.url with the EHLO name */
	pthread_mutex_t		 lock;		/* hooks, the batch's queue, socks */
	pthread_cond_t		 cond;		/* a message settled, a thread is through */
	pthread_cond_t		 work;		/* a new batch (gen), or closing */
	/* the batches under way: q[first % 2], then q[(first + 1) % 2] */
	struct mail_batch	 q[2];
	size_t			 first;
	size_t			 nq;
	int			 wait_taken;	/* the caller waits for the newest's next + wait_left >= n */
	size_t			 wait_left;
	char			*from;		/* "<addr>", NULL: not valid */
	int			 threaded;	/* the batches run in threads */
	size_t			 nthreads;	/* conns[0..nthreads) have a thread */
	int			 closing;	/* mail_close: the threads end */
	/* every socket libcurl opened for us and has not closed (a stop shuts them) */
	curl_socket_t		*socks;
	size_t			 nsocks;
};

/* mail.c: the phase names for error texts, and libcurl's callbacks */
extern const char *const mail_phase_names[];
void	 mail_reset_reply(struct mail_conn *);
/* CURLOPT_DEBUGFUNCTION: watches the commands and replies (arg: the conn) */
int	 mail_debug(CURL *, curl_infotype, char *, size_t, void *);
/* CURLOPT_READFUNCTION: the message, and the upload mark before its end */
size_t	 mail_read(char *, size_t, size_t, void *);

#endif
