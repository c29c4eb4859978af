/*
 * weekly: the weekly summary's timing and words.  See weekly.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/tz.h"
#include "base/util.h"
#include "policy/weekly.h"

/* 0 Sunday .. 6 Saturday; 1970-01-01 was a Thursday. */
static int
weekday(int y, int m, int d)
{
	long w = (tz_days_from_civil(y, m, d) + 4) % 7;

	return (int)(w < 0 ? w + 7 : w);
}

time_t
weekly_slot(const struct conf *c, time_t now)
{
	struct tm tm;
	time_t t;

	tz_to_local(now, &tm);
	/* Today, or one of the seven days before: the last one not after now. */
	for (int back = 0; back <= 7; back++) {
		int y = tm.tm_year + 1900, m = tm.tm_mon + 1, d = tm.tm_mday;

		tz_date_add_days(&y, &m, &d, -back);
		if (weekday(y, m, d) != c->weekly.wday)
			continue;
		if (tz_local_to_utc(y, m, d, c->weekly.minute / 60,
		    c->weekly.minute % 60, 0, &t) == 0 && t <= now)
			return t;
	}
	return now;	/* not reached: a week always holds the day */
}

time_t
weekly_shift(const struct conf *c, time_t slot, int weeks)
{
	struct tm tm;
	time_t t;
	int y, m, d;

	tz_to_local(slot, &tm);
	y = tm.tm_year + 1900;
	m = tm.tm_mon + 1;
	d = tm.tm_mday;
	tz_date_add_days(&y, &m, &d, 7L * weeks);
	/* The same wall time, so a week that holds a clock change is 7 days
	 * and an hour long, or an hour short, and the weeks meet. */
	if (tz_local_to_utc(y, m, d, c->weekly.minute / 60,
	    c->weekly.minute % 60, 0, &t) != 0)
		return slot + 7L * 86400 * weeks;
	return t;
}

static void
when(time_t t, char *buf, size_t len)
{
	char date[64], hm[16];

	tz_format_date(t, date, sizeof(date));
	tz_format_time(t, hm, sizeof(hm));
	snprintf(buf, len, "%s at %s", date, hm);
}

void
weekly_compose(const struct conf *c, const struct week_stats *w, time_t from,
    time_t to, char **subject, char **text)
{
	struct sbuf b = { 0 };
	char d1[64], d2[64], at[96], why[512];

	tz_format_date(from, d1, sizeof(d1));
	tz_format_date(to, d2, sizeof(d2));
	*subject = xasprintf("nudged: weekly summary to %s", d2);
	sbuf_printf(&b, "Hello,\n\nnudged is running. For messages due from %s "
	    "to %s:\n\n", d1, d2);
	sbuf_printf(&b, "- sent: %ld\n- failed: %ld\n- cancelled: %ld\n"
	    "- skipped: %ld\n", w->sent, w->failed, w->cancelled, w->skipped);
	for (size_t i = 0; i < w->nskips; i++)
		sbuf_printf(&b, "    %ld skipped: %s\n", w->skips[i].n,
		    log_scrub(w->skips[i].reason, why, sizeof(why)));
	for (size_t i = 0; i < w->nfailed_ids; i++) {
		when(w->failed_due[i], at, sizeof(at));
		sbuf_printf(&b, "    failed: message %lld, due %s\n",
		    w->failed_ids[i], at);
	}
	sbuf_printf(&b, "- rows of booking data that could not be read: %ld\n",
	    w->unreadable);
	for (int ch = 0; ch < 2; ch++) {
		const char *p = w->paused[ch] ? strchr(w->paused[ch], ' ') : NULL;

		if (w->paused[ch] != NULL)
			sbuf_printf(&b, "- the %s channel is paused now: %s\n",
			    chan_name((enum chan)ch),
			    log_scrub(p ? p + 1 : "refused", why, sizeof(why)));
	}
	if (w->paused[0] == NULL && w->paused[1] == NULL)
		sbuf_add(&b, "- channel pauses now: none\n");
	sbuf_printf(&b, "\nSessions booked in the coming week: %zu\n", w->nnext);
	for (size_t i = 0; i < w->nnext; i++) {
		when(w->next[i].starts_at, at, sizeof(at));
		sbuf_printf(&b, "- appointment %lld, case %lld, %s", w->next[i].id,
		    w->next[i].case_id, at);
		if (c->weekly.names && w->next[i].label != NULL) {
			char *l = xstrdup(w->next[i].label);

			/* a label is data: one line, whatever a tool wrote */
			for (char *p = l; *p; p++)
				if ((unsigned char)*p < 0x20 || *p == 0x7f)
					*p = ' ';
			sbuf_printf(&b, " (%s)", l);
			free(l);
		}
		sbuf_addc(&b, '\n');
	}
	sbuf_add(&b, "\nDetails: nudgectl outbox; this summary comes every "
	    "week (alerts.weekly).\n");
	*text = sbuf_steal(&b);
}
