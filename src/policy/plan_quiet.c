/*
 * plan_quiet: quiet hours move a message's time (see plan_quiet.h).  Its
 * own module: the planner and the retry decision both use it.
 */
#include "policy/plan_quiet.h"
#include "base/tz.h"

/* 1 when the local minute holding t is inside quiet hours on ch. */
static int
plan_quiet_in(const struct conf *c, enum chan ch, time_t t)
{
	struct tm lt;

	tz_to_local(t, &lt);
	return conf_quiet_at(c, ch, lt.tm_hour * 60 + lt.tm_min);
}

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
	/*
	 * A from that falls in the spring gap never shows on the clock: these
	 * quiet hours began when the clocks jumped past it, before the gap
	 * rule's "an hour later" (and perhaps after due).  Walk back to that
	 * jump: the gap's length in minutes; no step at all for any other
	 * from, whose minute before is never quiet.
	 */
	for (int i = 0; i < 1440 && plan_quiet_in(c, ch, start - 60); i++)
		start -= 60;
	if (c->quiet.from > c->quiet.to)
		tz_date_add_days(&y, &mo, &d, 1);
	if (tz_local_to_utc(y, mo, d, c->quiet.to / 60, c->quiet.to % 60, 0,
	    &end) != 0)
		return due;
	/* A to in the spring gap: they ended at the jump, as above. */
	for (int i = 0; i < 1440 && !plan_quiet_in(c, ch, end - 60); i++)
		end -= 60;
	/*
	 * A to the autumn change brings twice means its first occurrence:
	 * due in the repeated hour after it is past these quiet hours, though
	 * the clock reads inside them again.  Held "to the end", it would be
	 * held to a time already gone, due again at once, for ever.
	 */
	if (due >= end)
		return due;
	if (start - 60 >= now)
		return start - 60;
	/* Too late to go before: hold it to the end of quiet hours. */
	return end;
}

time_t
plan_quiet_end(const struct conf *c, enum chan ch, time_t now)
{
	time_t end = plan_quiet(c, ch, now, now + 1);

	return end > now ? end : now;
}
