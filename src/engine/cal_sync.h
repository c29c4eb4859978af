/*
 * cal_sync: calendars into appointments (issue 10) — the engine that
 * joins the readers (ical_read, csv_read), the matcher (cal_match), the
 * store (store_cal) and the fetcher (feed_fetch).
 *
 * A feed sync: fetch (outside any transaction) -> parse -> match -> apply
 * the decisions and the feed's new state in ONE transaction.  A failing
 * feed (an error, a timeout, a non-200 answer, a body cut short or not a
 * calendar) changes no appointment: the last good state stays, the
 * failure is recorded in calendar_feeds and in the practitioner's digest
 * (a 'calendar' problem row), and the caller logs it.  A 304 re-reads the
 * last good body, so the window still moves on and missing events are
 * still counted.
 *
 * An import applies one file the same way (source 'import'), but a file
 * with any event it cannot read is refused whole, and it never cancels
 * what it does not mention.
 */
#ifndef NUDGED_CAL_SYNC_H
#define NUDGED_CAL_SYNC_H

#include <time.h>

#include "conf/conf.h"
#include "store/store.h"
#include "base/util.h"

/* How many of each decision (enum cal_act) a sync or import made. */
struct cal_counts {
	int	 n[8];
	int	 bad;		/* events that could not be read (reported) */
	int	 not_modified;	/* the feed answered 304 */
};

enum cal_sync_result {
	CAL_SYNC_OK,
	CAL_SYNC_FAILED,	/* the feed failed: nothing changed, err says why */
	CAL_SYNC_DBERR		/* the database failed: err says why */
};

/*
 * Sync one feed at now.  out (may be NULL) gets one line per decision.
 * err gets the failure.
 */
enum cal_sync_result cal_sync_feed(const struct conf *, const struct conf_feed *,
	    struct store *, time_t now, struct sbuf *out, struct cal_counts *,
	    char *err, size_t errlen);

/*
 * The service: sync every feed whose `every` has passed since its last
 * try, logging each outcome.  Returns the earliest time a feed is due
 * next (0: no feeds).
 */
time_t	 cal_sync_due(const struct conf *, struct store *, time_t now);

/*
 * nudgectl import: path is .ics or .csv (by its name, else its first
 * line); map: --columns for CSV (may be NULL).  dry: decide and print,
 * write nothing.  CAL_SYNC_OK; CAL_SYNC_FAILED with err for a file that
 * cannot be read or parsed (nothing written); CAL_SYNC_DBERR with err for
 * a database failure.
 */
enum cal_sync_result cal_import(const struct conf *, struct store *, const char *path,
	    const char *map, int dry, time_t now, struct sbuf *out,
	    struct cal_counts *, char *err, size_t errlen);

/* "3 booked, 1 moved, 0 cancelled, 2 unmatched" */
void	 cal_counts_line(const struct cal_counts *, struct sbuf *);

#endif
