/*
 * retry: after a transient failure, try again when, or give up why.
 * Pure: `now`, the attempt and the random draw come in, nothing is read
 * or logged here (the engine records and logs the verdict).
 *
 * The rules, in the order they apply:
 *   1. the delay doubles from retry.first per attempt, capped at retry.max,
 *      plus up to a quarter more (jitter, so retries from one outage do
 *      not align; kept under the cap); a server's Retry-After wins when
 *      longer; quiet hours move it on;
 *   2. after retry.attempts attempts: give up (RETRY_ATTEMPTS);
 *   3. a reminder whose retry would come less than late_limit before the
 *      appointment: give up (RETRY_LATE), never send late;
 *   4. homework whose next prompt comes first: give up (RETRY_SUPERSEDED).
 */
#ifndef NUDGED_RETRY_H
#define NUDGED_RETRY_H

#include <time.h>

#include "conf/conf.h"

enum retry_verdict {
	RETRY_AGAIN = 0,	/* pending again, at *next */
	RETRY_ATTEMPTS,		/* gave up: retry.attempts used */
	RETRY_LATE,		/* gave up: the retry would be too late */
	RETRY_SUPERSEDED	/* gave up: the next homework prompt comes first */
};

struct retry_in {
	enum chan	 channel;
	int		 attempt;	/* this attempt, 1 for the first */
	double		 rnd;		/* a draw in [0, 1) */
	long		 retry_after;	/* the server's wish in seconds; 0: none */
	time_t		 appt_start;	/* a reminder's appointment; 0: not one */
	time_t		 hw_next;	/* homework's next prompt; 0: none */
};

/* The delay before attempt + 1 (rule 1 without Retry-After and quiet hours). */
long	 retry_delay(const struct conf *, int attempt, double rnd);
/* The verdict, and *next when RETRY_AGAIN (set in every case). */
enum retry_verdict retry_decide(const struct conf *, const struct retry_in *,
	    time_t now, time_t *next);
/* The contract's late_limit rule: is `at` less than late_limit before start? */
int	 retry_too_late(const struct conf *, time_t start, time_t at);

#endif
