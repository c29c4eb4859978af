/*
 * store_cal: the database side of calendars (issue 10): what matching
 * reads (cases with their members' addresses, the appointments a source
 * booked), applying a sync's decisions, and each feed's state.
 *
 * Tables (nudged's own; see nudged-db(5)):
 *   appointments.source      NULL (typed with nudgectl or by a tool: never
 *                            touched here), 'feed:<name>' or 'import'
 *   appointments.source_uid  cal_event_key(): "UID" or
 *                            "UID;RECURRENCE-ID=YYYYMMDDTHHMMSSZ"
 *   calendar_feeds           per feed: ETag, Last-Modified, the last good
 *                            body (re-read on a 304, so the window still
 *                            moves on), last try/success/error
 *   calendar_missing         per (source, source_uid): good syncs in a row
 *                            the booked event was missing from
 *   calendar_unmatched       what the last sync of a source could not match
 *
 * All writes happen inside the caller's transaction (store_begin): a sync
 * or an import is applied whole or not at all.
 */
#ifndef NUDGED_STORE_CAL_H
#define NUDGED_STORE_CAL_H

#include <stddef.h>
#include <time.h>

#include "model/model.h"
#include "store/store.h"

struct store_feed {
	char	*etag;		/* NULL: none */
	char	*last_modified;
	char	*body;		/* the last good body, NUL-terminated; NULL: none */
	size_t	 len;
	time_t	 last_try;	/* 0: never */
	time_t	 last_ok;
	char	*last_error;	/* NULL after a good sync */
	int	 failures;	/* in a row */
};

struct store_unmatched {
	char	*source;
	char	*key;
	time_t	 start;
	char	*summary;
	char	*why;
};

int	 store_cal_cases(struct store *, struct cal_case **, size_t *, char *err,
	    size_t errlen);
/* The source's appointments, booked ones first (the newest row of a key wins). */
int	 store_cal_appts(struct store *, const char *source, struct cal_appt **,
	    size_t *, char *err, size_t errlen);
/*
 * Apply plan for source.  full: a whole feed (missing counts and the
 * unmatched list are replaced).  0 or -1.
 */
int	 store_cal_apply(struct store *, const char *source,
	    const struct cal_plan *, int full, time_t now, char *err,
	    size_t errlen);

/* STORE_FOUND, STORE_GONE (never synced), STORE_ERR.  Free with store_feed_free(). */
enum store_rc store_feed_get(struct store *, const char *name, struct store_feed *,
	    char *err, size_t errlen);
void	 store_feed_free(struct store_feed *);
/* Only the last try (0: never), without reading the body.  0 or -1. */
int	 store_feed_last_try(struct store *, const char *name, time_t *,
	    char *err, size_t errlen);
/* A good sync: validators and body replaced when body is not NULL. */
int	 store_feed_ok(struct store *, const char *name, const char *etag,
	    const char *last_modified, const char *body, size_t len, time_t now,
	    char *err, size_t errlen);
/* A failed sync: everything else is kept.  0 or -1. */
int	 store_feed_fail(struct store *, const char *name, const char *why,
	    time_t now, char *err, size_t errlen);
/*
 * The digest's problems of feed name (rows of table 'calendar' whose text
 * begins "feed <name>: "): exactly whats[] afterwards.  A problem already
 * noted stays as it is (reported once); one that went away is forgotten.
 */
int	 store_feed_problems(struct store *, const char *name,
	    char *const *whats, size_t n, time_t now, char *err, size_t errlen);
int	 store_unmatched_list(struct store *, struct store_unmatched **, size_t *,
	    char *err, size_t errlen);
void	 store_unmatched_free(struct store_unmatched *, size_t);

#endif
