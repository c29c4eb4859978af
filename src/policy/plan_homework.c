/*
 * plan_homework: the homework half of the planner, as pure functions: each
 * homework's schedule of prompts, which prompt an occurrence is, and the
 * rows planned or cancelled for it.  See plan.h; what it shares with
 * plan.c is in plan_int.h.
 *
 * Homework.  Occurrences fall every every_days days from starts_on, at
 * at_time (or homework.at) local wall-clock time, up to ends_on inclusive
 * or, without one, up to the case's next booked session (not included);
 * with neither, for PLAN_HW_OPEN days.  Session days carry no prompt and
 * are not counted in day_number; days lost to downtime are.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/plan.h"
#include "policy/plan_int.h"
#include "base/tz.h"
#include "base/util.h"

#define PLAN_HW_GONE	"no longer in the homework's schedule (a session was " \
			"booked or moved)"

struct plan_sched {
	long	 first, last;	/* local day numbers, inclusive */
	long	 step;
	int	 at;		/* minutes after local midnight */
	long	*busy;		/* local days with a booked session, ascending */
	size_t	 nbusy;
};

static long
plan_day(time_t t)
{
	struct tm lt;

	tz_to_local(t, &lt);
	return tz_days_from_civil(lt.tm_year + 1900, lt.tm_mon + 1, lt.tm_mday);
}

static int
plan_busy(const struct plan_sched *sc, long day)
{
	for (size_t i = 0; i < sc->nbusy; i++)
		if (sc->busy[i] == day)
			return 1;
	return 0;
}

/* starts: the case's booked sessions, ascending.  Free sc->busy after. */
static void
plan_schedule(const struct conf *c, const struct homework *h,
    const time_t *starts, size_t n, struct plan_sched *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->first = tz_days_from_civil(h->start_y, h->start_m, h->start_d);
	sc->step = h->every_days > 0 ? h->every_days : 1;
	sc->at = h->at >= 0 ? h->at : c->homework.at;
	sc->busy = xcalloc(n + 1, sizeof(*sc->busy));
	for (size_t i = 0; i < n; i++)
		sc->busy[sc->nbusy++] = plan_day(starts[i]);
	if (h->has_end) {
		sc->last = tz_days_from_civil(h->end_y, h->end_m, h->end_d);
		return;
	}
	(void)plan_hw_open_last(h, starts, n, &sc->last);
}

int
plan_hw_open_last(const struct homework *h, const time_t *starts, size_t n,
    long *last)
{
	long first = tz_days_from_civil(h->start_y, h->start_m, h->start_d);

	/*
	 * The next session is the first on a day after starts_on: homework is
	 * often set during a session, with starts_on that day (no prompt then).
	 */
	for (size_t i = 0; i < n; i++)
		if (plan_day(starts[i]) > first) {
			*last = plan_day(starts[i]) - 1;
			return 0;
		}
	*last = first + PLAN_HW_OPEN - 1;
	return 1;
}

/* The UTC instant of a local day number at sc->at. */
static time_t
plan_sched_at(const struct plan_sched *sc, long day)
{
	int y = 1970, m = 1, d = 1;
	time_t t = 0;

	tz_date_add_days(&y, &m, &d, day);
	(void)tz_local_to_utc(y, m, d, sc->at / 60, sc->at % 60, 0, &t);
	return t;
}

static long
plan_occ_day(const char *occ)
{
	int y, m, d;

	if (occ == NULL || tz_parse_date(occ, &y, &m, &d) != 0)
		return LONG_MIN;
	return tz_days_from_civil(y, m, d);
}

/* 1 when day is an occurrence of the schedule. */
static int
plan_sched_has(const struct plan_sched *sc, long day)
{
	return day >= sc->first && day <= sc->last &&
	    (day - sc->first) % sc->step == 0 && !plan_busy(sc, day);
}

int
plan_day_number(const struct conf *c, const struct homework *h,
    const char *occurrence, const time_t *starts, size_t n)
{
	struct plan_sched sc;
	long day = plan_occ_day(occurrence);
	int k = 0;

	plan_schedule(c, h, starts, n, &sc);
	for (long d = sc.first; d <= day && day != LONG_MIN; d += sc.step)
		if (!plan_busy(&sc, d))
			k++;
	free(sc.busy);
	return k;
}

time_t
plan_hw_next(const struct conf *c, const struct homework *h,
    const char *occurrence)
{
	struct plan_sched sc;
	long day = plan_occ_day(occurrence);
	time_t t;

	if (day == LONG_MIN)
		return 0;
	plan_schedule(c, h, NULL, 0, &sc);
	t = plan_sched_at(&sc, day + sc.step);
	free(sc.busy);
	return t;
}

/* The booked sessions of a case in the snapshot, ascending; caller frees. */
static time_t *
plan_sessions(const struct snapshot *s, long long case_id, size_t *n)
{
	time_t *t = xcalloc(s->nappts + 1, sizeof(*t));

	*n = 0;
	for (size_t i = 0; i < s->nappts; i++)
		if (s->appts[i].case_id == case_id && !s->appts[i].cancelled)
			t[(*n)++] = s->appts[i].starts_at;
	for (size_t i = 1; i < *n; i++)		/* few: insertion sort */
		for (size_t j = i; j > 0 && t[j - 1] > t[j]; j--) {
			time_t x = t[j];

			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	return t;
}

static int
plan_hw_key(const struct plan_slice *old, const struct plan *p, size_t first_new,
    long long hw, const char *occ, long long client, enum chan ch)
{
	for (size_t i = 0; i < old->n; i++) {
		const struct msg *m = old->m[i];

		if (m->homework_id == hw && m->client_id == client &&
		    m->channel == ch && plan_is(m->occurrence, occ))
			return 1;
	}
	for (size_t i = first_new; i < p->nadd; i++) {
		const struct msg *m = &p->add[i];

		if (m->homework_id == hw && m->client_id == client &&
		    m->channel == ch && plan_is(m->occurrence, occ))
			return 1;
	}
	return 0;
}

/*
 * A pending first prompt not yet due goes at the time its schedule gives
 * now: homework.at or the homework's at_time (or the quiet hours) may
 * have changed since it was planned, and the occurrence's key keeps
 * plan_hw_prompts from planning it again.  As plan_requiet: one already
 * due, or whose time now would be past, is left where it is.
 */
static void
plan_hw_retime(const struct conf *c, const struct plan_sched *sc,
    const struct msg *m, long day, time_t now, struct plan *p)
{
	time_t due;

	if (m->attempts != 0 || m->due_at <= now)
		return;
	due = plan_quiet(c, m->channel, plan_sched_at(sc, day), now);
	if (due != m->due_at && due > now)
		plan_retime(p, m, due);
}

/*
 * Pending prompts the schedule no longer has (a session moved) are
 * cancelled, the others follow its time; cancelled ones it has again
 * (moved back) come back.
 */
static void
plan_hw_resync(const struct conf *c, const struct plan_sched *sc,
    const struct plan_slice *old, time_t now, struct plan *p)
{
	for (size_t i = 0; i < old->n; i++) {
		const struct msg *m = old->m[i];
		long day = plan_occ_day(m->occurrence);
		int has = plan_sched_has(sc, day);

		if (m->status == MSG_PENDING && !has)
			plan_change(p, m, MSG_PENDING, MSG_CANCELLED,
			    PLAN_HW_GONE);
		else if (m->status == MSG_PENDING)
			plan_hw_retime(c, sc, m, day, now, p);
		else if (m->status == MSG_CANCELLED && has &&
		    plan_is(m->last_error, PLAN_HW_GONE) &&
		    m->due_at >= now - PLAN_HW_LATE)
			plan_change(p, m, MSG_CANCELLED, MSG_PENDING, NULL);
	}
}

/*
 * One occurrence's prompts: one per case member and homework channel the
 * member may be reached on, unless planned already (the key).
 */
static void
plan_hw_prompts(const struct conf *c, const struct snapshot *s,
    const struct homework *h, const struct kase *k,
    const struct plan_slice *old, size_t first_new, const char *occ,
    time_t t, time_t now, struct plan *p)
{
	char why[160];

	for (size_t i = 0; i < k->nmembers; i++) {
		const struct client *cl = plan_client(s, k->members[i]);

		for (int ch = 0; ch < CHAN_N && cl != NULL; ch++) {
			struct msg *nm;
			char *rcpt;

			if (!c->homework.channels[ch] ||
			    (cl->discreet && ch == CHAN_SMS) ||
			    plan_allowed(c, cl, k, (enum chan)ch, why,
			    sizeof(why)) != 0 ||
			    plan_hw_key(old, p, first_new, h->id, occ, cl->id,
			    (enum chan)ch) ||
			    (rcpt = plan_recipient(c, cl, (enum chan)ch, why,
			    sizeof(why))) == NULL)
				continue;
			nm = plan_add(p);
			nm->purpose = PURPOSE_HOMEWORK;
			nm->homework_id = h->id;
			nm->client_id = cl->id;
			nm->channel = (enum chan)ch;
			nm->recipient = rcpt;
			nm->due_at = plan_quiet(c, (enum chan)ch, t, now);
			nm->status = MSG_PENDING;
			nm->occurrence = xstrdup(occ);
		}
	}
}

static void
plan_homework(const struct conf *c, const struct snapshot *s,
    const struct homework *h, const struct plan_slice *old, time_t now,
    long horizon, struct plan *p)
{
	const struct kase *k = plan_case(s, h->case_id);
	struct plan_sched sc;
	size_t n, first_new = p->nadd;
	time_t *starts;

	if (k == NULL || k->closed || !h->active)
		return;
	starts = plan_sessions(s, h->case_id, &n);
	plan_schedule(c, h, starts, n, &sc);
	free(starts);
	plan_hw_resync(c, &sc, old, now, p);
	for (long day = sc.first; day <= sc.last; day += sc.step) {
		time_t t = plan_sched_at(&sc, day);
		char occ[16];
		int y = 1970, mo = 1, d = 1;

		if (t > now + horizon)
			break;
		if (t < now - PLAN_HW_LATE || plan_busy(&sc, day))
			continue;
		tz_date_add_days(&y, &mo, &d, day);
		snprintf(occ, sizeof(occ), "%04d-%02d-%02d", y, mo, d);
		plan_hw_prompts(c, s, h, k, old, first_new, occ, t, now, p);
	}
	free(sc.busy);
}

static int
plan_cmp_hwp(const void *a, const void *b)
{
	const struct msg *x = *(const struct msg *const *)a;
	const struct msg *y = *(const struct msg *const *)b;

	if (x->homework_id != y->homework_id)
		return (x->homework_id > y->homework_id) -
		    (x->homework_id < y->homework_id);
	return (x->id > y->id) - (x->id < y->id);
}

/* The messages of each homework, as slices of a sorted pointer array. */
void
plan_all_homework(const struct conf *c, const struct snapshot *s, time_t now,
    long horizon, struct plan *p)
{
	const struct msg **by = xcalloc(s->nmsgs + 1, sizeof(const struct msg *));
	size_t nby = 0, at = 0;

	for (size_t i = 0; i < s->nmsgs; i++)
		if (s->msgs[i].homework_id != 0)
			by[nby++] = &s->msgs[i];
	qsort(by, nby, sizeof(const struct msg *), plan_cmp_hwp);
	for (size_t i = 0; i < s->nhw; i++) {
		struct plan_slice old;

		while (at < nby && by[at]->homework_id < s->hw[i].id)
			at++;
		old.m = &by[at];
		for (old.n = 0; at + old.n < nby &&
		    by[at + old.n]->homework_id == s->hw[i].id; old.n++)
			;
		plan_homework(c, s, &s->hw[i], &old, now, horizon, p);
	}
	free(by);
}
