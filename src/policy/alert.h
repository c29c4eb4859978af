/*
 * alert: the practitioner's failure digest.  Pure: it turns failed
 * messages, unreadable rows and paused channels into the lines of the
 * {{summary}}, naming clients and appointments by id and date, never
 * quoting a message's text (and with addresses and numbers in server
 * replies masked), and decides when a digest may go.
 *
 * Timing (contract "Failure alerts"): a digest goes in the pass where a
 * problem first appears, then at most one per alerts.every while problems
 * remain; a paused channel is named in each.
 */
#ifndef NUDGED_ALERT_H
#define NUDGED_ALERT_H

#include <stddef.h>
#include <time.h>

#include "conf/conf.h"
#include "model/model.h"

struct alert_in {
	const struct msg	*failed;	/* failed messages not yet reported */
	size_t			 nfailed;
	const struct bad_row	*bad;		/* unreadable rows not yet reported */
	size_t			 nbad;
	const char		*paused[CHAN_N];/* why a channel is paused, or NULL */
};

/* 1 when a digest should go now, given the last one's time (0: never). */
int	 alert_due(const struct conf *, const struct alert_in *, time_t last,
	    time_t now);
/* The {{summary}} lines; caller frees. */
char	*alert_summary(const struct alert_in *);

#endif
