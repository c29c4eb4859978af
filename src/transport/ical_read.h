/*
 * ical_read: an iCalendar text (RFC 5545) -> the appointments it holds, as
 * plain event records over a window.  Pure: no clock, no files, no logging
 * (but libical itself is opened at the first call: base/ical_dl.h);
 * parsing and recurrence expansion are libical's (icalparser,
 * icalrecur_iterator), never a parser of our own.
 *
 * What becomes a record (see also man nudgectl, "CALENDARS"):
 *   - every VEVENT with a DATE-TIME DTSTART, each instance of a recurring
 *     one (RRULE, RDATE) whose start falls in [from, to);
 *   - an instance removed by EXDATE, or a STATUS:CANCELLED event or
 *     override, becomes a record with status CAL_CANCELLED (so an
 *     appointment booked from it earlier is cancelled);
 *   - a RECURRENCE-ID override replaces the instance it names;
 *   - all-day events (DTSTART;VALUE=DATE) and TRANSP:TRANSPARENT blocks
 *     (free time) are ignored; attendees with PARTSTAT=DECLINED are left
 *     out of the record's attendees.
 * Times: 'Z' is UTC; TZID is an IANA name (also behind a prefix, as in
 * "/mozilla.org/20070129_1/Europe/London"), a Windows zone name as Outlook
 * writes it ("GMT Standard Time", "(UTC+00:00) Dublin, Edinburgh, Lisbon,
 * London"; the table is in ical_read.c), or else the file's VTIMEZONE;
 * a floating time (no TZID, no Z) is the practice's zone: the zone chosen
 * with tz_set(), converted by tz_local_to_utc() with the contract's gap and
 * repeat rules.
 *
 * Identity: uid is the UID; rid is "" for a single event and, for each
 * instance of a series, its original start in UTC ("20261203T100000Z"),
 * the same whether or not an override moved it: so a moved instance keeps
 * its identity.  cal_event_key() joins them into the source_uid stored in
 * appointments ("UID" or "UID;RECURRENCE-ID=20261203T100000Z").
 *
 * A problem with one event (no UID, an unknown zone, a rule that cannot be
 * expanded) does not stop the others: the event is listed in bad[] with
 * the reason, and callers decide (an import refuses the file, a feed keeps
 * that UID's appointments as they are).  A text that is not a calendar, or
 * that is cut short (no final END:VCALENDAR), is an error: -1 with err.
 */
#ifndef NUDGED_ICAL_READ_H
#define NUDGED_ICAL_READ_H

#include <stddef.h>
#include <time.h>

#include "model/model.h"


/*
 * Parse text (len bytes, need not be NUL-terminated) into out: instances
 * starting in [from, to).  zone: the practice's zone name (as given to
 * tz_set()); video_url: practice.video_url, whose host counts as a meeting
 * link (may be NULL).  0, or -1 with err (out is then empty).
 */
int	 ical_read(const char *text, size_t len, const char *zone,
	    const char *video_url, time_t from, time_t to,
	    struct cal_events *out, char *err, size_t errlen);


/* Helpers the CSV reader shares. */
void	 cal_event_add(struct cal_events *, const struct cal_event *);
void	 cal_bad_add(struct cal_events *, const char *uid, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	 cal_attendee_add(struct cal_event *, const char *email);

#endif
