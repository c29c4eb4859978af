#ifndef NUDGED_PLAN_QUIET_H
#define NUDGED_PLAN_QUIET_H

#include <time.h>

#include "conf/conf.h"

/*
 * A due time moved out of quiet hours for channel ch: one minute before they
 * begin, or, when that moment is before now, held to their end.
 */
time_t	 plan_quiet(const struct conf *, enum chan, time_t due, time_t now);
/* The earliest a message on ch may go: the end of the quiet hours now is in, or now. */
time_t	 plan_quiet_end(const struct conf *, enum chan, time_t now);

#endif
