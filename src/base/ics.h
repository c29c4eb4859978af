/*
 * ics: the calendar entry attached to appointment emails (RFC 5545, with
 * the iTIP methods of RFC 5546), written and checked with libical.
 *
 * One event per appointment, its UID stable for the appointment's life:
 * "appointment-<id>-<installation>@<domain>" (ics_uid), where the
 * installation id is made once per database, so a recreated database, or
 * two practices sending from one mail domain, never overwrite each other's
 * events in a client's calendar.
 *
 *   METHOD:PUBLISH   a reminder or a change notice: the event as it is now
 *                    (no ATTENDEE: RFC 5546 3.2.1 forbids it)
 *   METHOD:CANCEL    a cancellation notice: STATUS:CANCELLED and the
 *                    ATTENDEE being removed (RFC 5546 3.2.5)
 *
 * SEQUENCE grows with the time of writing (ics_sequence), so a later
 * notice (a move, then a cancellation) always supersedes what a calendar
 * holds.  Times are UTC.  The object passes libical's iTIP restriction
 * check before it is returned, and is folded at 75 octets between whole
 * UTF-8 characters (libical's own folding may run a line to 76 or more).
 * Text from data may hold anything: control characters become spaces (line
 * breaks are kept in DESCRIPTION only) and invalid UTF-8 becomes U+FFFD.
 */
#ifndef NUDGED_ICS_H
#define NUDGED_ICS_H

#include <stddef.h>
#include <time.h>

struct ics_event {
	const char	*uid;
	time_t		 stamp;		/* when it is written (DTSTAMP, SEQUENCE) */
	time_t		 start;
	int		 duration_min;
	const char	*summary;	/* UTF-8 */
	const char	*location;	/* may be NULL */
	const char	*description;	/* may be NULL; line breaks kept */
	const char	*url;		/* may be NULL */
	const char	*organizer;	/* bare address, required */
	const char	*organizer_cn;	/* display name, NULL: none */
	const char	*attendee;	/* bare address: required with cancel */
	const char	*attendee_cn;	/* NULL: none */
	int		 cancel;	/* METHOD:CANCEL instead of PUBLISH */
};

/* The text/calendar object, CRLF line ends; caller frees.  NULL + err. */
char	*ics_format(const struct ics_event *, char *err, size_t errlen);

/*
 * The last entry written and its text (ics_format_memo).  The two partners
 * of a couple are sent the same entry for their appointment, and libical's
 * writer is the largest part of an email's CPU (issue 12).  Caller-owned:
 * zeroed to start, ics_memo_free at the end.
 */
struct ics_memo {
	struct ics_event ev;		/* its strings owned */
	char		*text;		/* NULL: nothing yet */
};

/* ics_format, or a copy of memo's text when e is the entry it holds. */
char	*ics_format_memo(struct ics_memo *, const struct ics_event *,
	    char *err, size_t errlen);
void	 ics_memo_free(struct ics_memo *);

/* SEQUENCE for an object written at stamp: minutes since 2020. */
long	 ics_sequence(time_t stamp);

/* "appointment-<id>-<installation>@<domain>"; caller frees. */
char	*ics_uid(long long appt_id, const char *installation, const char *domain);

#endif
