/*
 * cal_match: calendar events + the practice's cases + the appointments a
 * source booked earlier -> what to do.  Pure: no clock, no database.
 *
 * Matching an event to a case is explicit, never guessed:
 *   - "label": the summary holds a case's label in square brackets,
 *     "[Taylor & Morgan] Session" (case ignored, spaces trimmed);
 *   - "attendee": an attendee's email equals a member's email (either
 *     partner of a couple will do; the practice's own address is skipped);
 *   - a CSV 'case' column names the label outright.
 * A label that names a case wins; then attendees.  Several cases, none,
 * or only a closed one: the event is unmatched (listed, never booked).
 *
 * Kind and mode of a new appointment:
 *   kind  'assessment' when the summary says "assessment"; 'call' when it
 *         says "call" (a word) and lasts at most 30 minutes; else 'session'
 *   mode  'online' with that video_url when the event carries a meeting
 *         link; else 'phone' for a call, or when the location is a phone
 *         number or says "phone"; else 'in_person'
 *
 * Decisions for an event whose key (cal_event_key) a previous sync booked:
 *   cancelled in the calendar          -> CANCEL (if still booked)
 *   another start                      -> MOVE (reminders are re-planned)
 *   cancelled here, back at a new time -> REBOOK (a new row; at the
 *                                         same time it stays cancelled:
 *                                         it may have been cancelled with
 *                                         nudgectl)
 *   other duration, mode or link       -> UPDATE
 *   now matching no case, an attendee
 *   declined                           -> CANCEL
 *   now matching no case otherwise     -> UNMATCHED (kept: a client's
 *                                         address changed in nudged, the
 *                                         label left the summary), after
 *                                         the MOVE or UPDATE it still makes
 *   matching another case              -> UNMATCHED (left as it is)
 * An event after the window (cal_event.beyond) only moves (or cancels) an
 * appointment booked from it: a session moved months ahead is not gone.
 * A new instance of a series on the same local day (same case) as a
 * booked instance the calendar no longer has is that instance moved: the
 * series was moved as a whole, which changes every RECURRENCE-ID (MOVE,
 * and the appointment takes the new key); so is one of the series Google's
 * "this and following events" carries it on as (UID "x_R<start>@d").  Local days come from the zone
 * chosen with tz_set().
 * A booked appointment of the source that starts in [now, until) and whose
 * key is in no event: MISSING, or CANCEL once it was missing from the
 * previous good sync too (misses counts them; full syncs only: a one-off
 * import never cancels what it does not mention).  Keys of events that
 * could not be read (cal_events.bad) are never counted missing.
 *
 * One event is one appointment, whichever way it came in: a feed is given
 * the appointments an import booked (other = 1) and takes over those its
 * events name (never counting the rest missing); an import is given the
 * feeds' appointments and leaves those its events name alone (KEEP).  A
 * feed is given the other feeds' appointments too (other = 2: the same
 * invitation in the practitioner's calendar and a shared one) and leaves
 * those its events name to the feed that booked them (KEEP); one that
 * was cancelled (in that feed, or with nudgectl) stays cancelled unless
 * this feed has it at another time (then this one books it).  The feed
 * takes one over (its decisions carry the appt_id) when it cancels it, or
 * when the feed that booked it found it missing (moved from that calendar
 * to this one).
 */
#ifndef NUDGED_CAL_MATCH_H
#define NUDGED_CAL_MATCH_H

#include <stddef.h>
#include <time.h>

#include "model/model.h"


struct cal_match_opts {
	int		 by_label;
	int		 by_attendee;
	const char	*practice_email;	/* never matched as a client */
	const char	*video_url;		/* practice.video_url */
	int		 full;		/* a whole feed: count missing events */
	time_t		 now, until;	/* the window for missing events */
};

/* Decide for every event and every appointment of the source.  Never fails. */
void	 cal_match(const struct cal_events *, const struct cal_case *, size_t,
	    const struct cal_appt *, size_t, const struct cal_match_opts *,
	    struct cal_plan *);



#endif
