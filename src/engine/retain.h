/*
 * retain: how long nudged keeps personal data (privacy.keep_messages,
 * privacy.keep_appointments; issue 14).  Outbox rows settled longer ago
 * than keep_messages are reduced to what statistics need (status,
 * purpose, channel, ids, dates): recipient becomes '' (the contract's
 * column is NOT NULL), provider_ref and last_error NULL.  Appointments
 * that started longer ago than keep_appointments lose video_url, and
 * homework that ended that long ago loses title and prompt ('').
 *
 * Runs in every `nudged --once` and once a day in the service (state key
 * retain.last); with --dry-run it only says what it would remove.  The
 * counts go to the log.
 */
#ifndef NUDGED_RETAIN_H
#define NUDGED_RETAIN_H

#include <stdio.h>
#include <time.h>

#include "conf/conf.h"
#include "store/store.h"

/*
 * One run at now.  dry: count only and print the counts to out (the
 * store is a private copy then).  0, or -1 with err on a database error.
 */
int	 retain_run(const struct conf *, struct store *, time_t now, int dry,
	    FILE *out, char *err, size_t);
/* The service: retain_run() when the last run is a day old (or never ran). */
int	 retain_daily(const struct conf *, struct store *, time_t now,
	    char *err, size_t);

#endif
