/*
 * weekly: the practitioner's weekly summary (alerts.weekly, issue 14).
 * Pure: when the last weekly moment was, and the words of the summary
 * from counts the store gathered.  Clients and appointments appear by id
 * and date; case labels (which usually hold names) only with
 * alerts.names = true; skip reasons and pause reasons are scrubbed of
 * addresses and numbers.  So silence is never ambiguous: a practitioner
 * who gets no summary knows nudged is not running.
 */
#ifndef NUDGED_WEEKLY_H
#define NUDGED_WEEKLY_H

#include <time.h>

#include "conf/conf.h"
#include "model/model.h"

/* The latest alerts.weekly moment at or before now (local day and time). */
time_t	 weekly_slot(const struct conf *, time_t now);
/*
 * The weekly moment weeks weeks from slot (a weekly_slot): the same local
 * day of the week and time, so consecutive summaries' weeks meet across
 * the clock changes.
 */
time_t	 weekly_shift(const struct conf *, time_t slot, int weeks);
/* Subject and text for the week [from, to); caller frees both. */
void	 weekly_compose(const struct conf *, const struct week_stats *,
	    time_t from, time_t to, char **subject, char **text);

#endif
