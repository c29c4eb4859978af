/*
 * mail: email messages (RFC 5322 / MIME) and their delivery over SMTP with
 * libcurl.
 *
 * mail_format() is pure: it builds the whole message from data it
 * validates itself.  No CR or LF from data ever reaches a header (a value
 * containing one is refused, not cleaned), non-ASCII header text is RFC
 * 2047 encoded, the body is UTF-8 quoted-printable so no line exceeds 998
 * octets, and every message carries Date, Message-ID, From, To (with the
 * client's name), Reply-To, Subject, MIME-Version and
 * "Auto-Submitted: auto-generated".  With an .ics it becomes
 * multipart/mixed with a text/calendar part.
 *
 * mail_send() delivers one message to exactly one recipient;
 * mail_send_batch() many, over up to email.connections SMTP connections
 * in parallel (one curl multi handle), each kept open across the batch.  smtp:// requires STARTTLS
 * (CURLUSESSL_ALL; never _TRY, which silently falls back to plain text)
 * unless tls = "none"; smtps:// is implicit TLS; certificates are always
 * verified.  Addresses are validated here before any connection, because
 * libcurl passes CR/LF in MAIL FROM / RCPT TO straight to the server.
 *
 * Results (see mail.c for the table): 2xx after the final dot: OK.  4xx,
 * connection or TLS failure before the end: TEMPFAIL.  5xx on MAIL, RCPT
 * or DATA: PERMFAIL with the server's reply in err.  The connection lost
 * or timed out after the whole message went up: UNKNOWN.  Login refused,
 * certificate not trusted, STARTTLS not offered: CHANNEL.
 *
 * The pure half (addresses, mail_format) is in mime.c;
 * Message-IDs and delivery are in mail.c.
 */
#ifndef NUDGED_MAIL_H
#define NUDGED_MAIL_H

#include <stddef.h>
#include <time.h>

#include "base/address.h"
#include "conf/conf.h"
#include "transport/xfer.h"

struct mail_msg {
	const char	*from;		/* "Name <addr>" or "addr" (email.from) */
	const char	*to_name;	/* client's full name; may be NULL */
	const char	*to_addr;
	const char	*reply_to;	/* practice.email */
	const char	*subject;	/* UTF-8 */
	const char	*text;		/* UTF-8 plain text body */
	const char	*html;		/* optional HTML alternative, NULL */
	const char	*ics;		/* optional text/calendar attachment, NULL */
	const char	*message_id;	/* without <> */
	time_t		 date;
};


/* The bare address inside "Name <addr>" or "addr"; caller frees; NULL if invalid. */
char	*mail_addr_of(const char *from);
/*
 * The URL libcurl gets: url with the EHLO name as its path (libcurl takes
 * it from there): helo, else a path url already has, else the domain of
 * from ("Name <addr>").  Caller frees.
 */
char	*mail_url(const char *url, const char *helo, const char *from);
/* A new unique Message-ID (without <>) in the domain of from_addr; caller frees. */
char	*mail_message_id(const char *from_addr, long long msg_id);

/* The full message text with CRLF line ends; caller frees; NULL + err on bad data. */
char	*mail_format(const struct mail_msg *, char *err, size_t errlen);

/*
 * How far one SMTP exchange got: the last command libcurl sent (BODY: the
 * message is going up; DOT: all of it went up, the verdict is awaited).
 */
enum mail_phase {
	MAIL_PHASE_CONNECT,	/* connecting, TLS for smtps://, greeting */
	MAIL_PHASE_EHLO,
	MAIL_PHASE_STARTTLS,
	MAIL_PHASE_AUTH,
	MAIL_PHASE_MAIL,
	MAIL_PHASE_RCPT,
	MAIL_PHASE_DATA,
	MAIL_PHASE_BODY,
	MAIL_PHASE_DOT
};

/*
 * The classification table (pure): libcurl's code, the phase reached and
 * the last reply code the server sent in that phase (0: none).
 */
enum xfer_result mail_classify(int curlcode, enum mail_phase, int reply);
/*
 * The reply reader, pure, for the fuzzer and tests: a server's reply
 * bytes (fed at once, or one line at a time as libcurl may) give the code
 * of the last complete reply (0: none) and its text on one line, control
 * characters blanked.
 */
int	 mail_reply_parse(const char *data, size_t n, int by_line, char *text,
	    size_t textlen);

struct mail_session;
/* Nothing connects until the first send. Never NULL. */
struct mail_session *mail_open(const struct conf *);
/*
 * mark (may be NULL) is told just before the body goes up (see xfer.h);
 * a refusal from it, or a stop before that moment, is TEMPFAIL with
 * nothing of the message sent.
 */
enum xfer_result mail_send(struct mail_session *, const char *rcpt,
	    const char *data, const struct xfer_mark *mark, char *err,
	    size_t errlen);
/* One message of a batch. */
struct mail_req {
	/* in */
	const char	*to;		/* the bare address */
	const char	*data;		/* the whole message (mail_format) */
	/* out */
	enum xfer_result res;
	char		 err[512];	/* why, for last_error (no message text) */
	int		 began;		/* its body started to go up */
	/*
	 * TEMPFAIL before the message itself began, with no answer at all (no
	 * connection, or none to the greeting, EHLO, STARTTLS or login in
	 * time): the server's trouble, not this message's, and the next would
	 * wait as long.
	 */
	int		 unreachable;
};
/*
 * Send n messages, up to email.connections at a time; fills each one's
 * outputs and calls hooks->done for each as soon as it is settled (hooks
 * may be NULL; see xfer.h: mark is called with the request's index).
 * Once xfer_stopping(), or when hooks->go says no, a message not yet
 * started is settled TEMPFAIL "not sent" with began = 0.
 */
void	 mail_send_batch(struct mail_session *, struct mail_req *, size_t n,
	    const struct xfer_hooks *hooks);
/*
 * The same in two halves, so the caller can do something else meanwhile
 * (send the batch's SMS): with background set the messages go in threads
 * (one per connection) and start returns at once; wait ends the oldest
 * batch started, calling its hooks->idle while it waits.  Two batches
 * may be under way: the connections take the second's messages as soon
 * as the first's are all taken (a third start first ends the oldest).
 * mark, go and done are called with
 * the session locked (mail_lock), idle without it (it runs on the
 * caller's thread): a caller that touches what its hooks touch from
 * elsewhere during the batch, idle included, takes the same lock.
 */
void	 mail_batch_start(struct mail_session *, struct mail_req *, size_t n,
	    const struct xfer_hooks *hooks, int background);
void	 mail_batch_wait(struct mail_session *);
/*
 * Wait (calling hooks->idle meanwhile) until all but left messages of the
 * batch started last have been taken by a connection, its hooks->go asked:
 * with left 0, what is left of the batch is at most one exchange per
 * connection.
 */
void	 mail_batch_wait_taken(struct mail_session *, size_t left);
void	 mail_lock(struct mail_session *);
void	 mail_unlock(struct mail_session *);
void	 mail_close(struct mail_session *);

#endif
