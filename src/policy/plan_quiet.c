/*
 * plan_quiet: quiet hours move a message's time (see plan_quiet.h).  Its
 * own module: the planner and the retry decision both use it.
 */
#include "policy/plan_quiet.h"
#include "base/tz.h"

time_t
plan_quiet(const struct conf *c, enum chan ch, time_t due, time_t now)
{
	struct tm lt;
	time_t start, end;
	int y, mo, d, m;

	tz_to_local(due, &lt);
	m = lt.tm_hour * 60 + lt.tm_min;
	if (!conf_quiet_at(c, ch, m))
		return due;
	/* The local date on which this stretch of quiet hours began. */
	y = lt.tm_year + 1900;
	mo = lt.tm_mon + 1;
	d = lt.tm_mday;
	if (c->quiet.from > c->quiet.to && m < c->quiet.to)
		tz_date_add_days(&y, &mo, &d, -1);
	if (tz_local_to_utc(y, mo, d, c->quiet.from / 60, c->quiet.from % 60, 0,
	    &start) != 0)
		return due;
	if (start - 60 >= now)
		return start - 60;
	/* Too late to go before: hold it to the end of quiet hours. */
	if (c->quiet.from > c->quiet.to)
		tz_date_add_days(&y, &mo, &d, 1);
	if (tz_local_to_utc(y, mo, d, c->quiet.to / 60, c->quiet.to % 60, 0,
	    &end) != 0)
		return due;
	return end;
}
