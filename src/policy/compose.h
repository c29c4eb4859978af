/*
 * compose: the words of one message.  Picks the template group the
 * contract names for a message (purpose, appointment kind, the rule's
 * template, discreet clients), fills the template values from fresh data
 * and renders subject, text and SMS.  Pure: "now" and data come in.
 *
 * In SMS a link always ends its line: a space after a URL becomes a line
 * break, so the link is never run into the next sentence.  With
 * sms.transliterate the names in SMS are simplified to GSM-7 (translit.h);
 * sms_exact keeps them as they are, for the sender to use when the text is
 * UCS-2 anyway.
 *
 * Values taken from data (names, URLs) are cut at the first CR or LF and
 * other control characters become spaces before they reach a template; the
 * rendered subject is one line: no line break from data can reach a header.
 */
#ifndef NUDGED_COMPOSE_H
#define NUDGED_COMPOSE_H

#include <stddef.h>
#include <time.h>

#include "conf/conf.h"
#include "model/model.h"

struct compose_in {
	enum msg_purpose	 purpose;
	const char		*template;	/* the rule's template group, or NULL */
	const struct appt	*appt;		/* may be NULL */
	const struct client	*client;	/* may be NULL (test, alert) */
	const struct client	*partner;	/* the other member of a couple, or NULL */
	const struct homework	*hw;		/* may be NULL */
	time_t			 next_session;	/* the case's next booked session, 0: none */
	int			 day_number;	/* homework: which prompt, from 1 */
	const char		*summary;	/* alert digest lines, or NULL */
	time_t			 now;		/* the moment it goes: when_relative */
	time_t			 old_start;	/* 'moved': the start the client knew, 0: same */
	unsigned		 parts;		/* COMPOSE_EMAIL | COMPOSE_SMS; 0: both */
};

/* What compose_msg renders: a message going out needs only its channel's. */
#define COMPOSE_EMAIL	0x1u	/* subject and text */
#define COMPOSE_SMS	0x2u	/* sms (and sms_exact) */

struct composed {
	char	*group;		/* the template group used */
	char	*subject;	/* one line; NULL when not asked for (parts) */
	char	*text;		/* likewise */
	char	*sms;		/* names transliterated (sms.transliterate);
				   NULL when not asked for */
	char	*sms_exact;	/* names as they are; NULL: the same as sms */
};

/* Render; never fails for a valid conf.  Free with composed_free(). */
void	 compose_msg(const struct conf *, const struct compose_in *,
	    struct composed *);
void	 composed_free(struct composed *);

/* The template group for a message, per the contract's fallbacks; caller frees. */
char	*compose_group(const struct conf *, enum msg_purpose,
	    const char *kind, const char *template, int discreet);

/*
 * The first line of s as clean one-line UTF-8: controls as spaces, blanks
 * squeezed and trimmed, invalid bytes as U+FFFD; caller frees.
 */
char	*compose_oneline(const char *);

/* An HTML rendering of a plain-text message (escaped, links made); caller frees. */
char	*compose_html(const char *text);

#endif
