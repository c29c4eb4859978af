/*
 * plan_overdue: late booking and downtime, the contract's choice among a
 * client's overdue reminders for one appointment and channel (see
 * plan_int.h).  Of the overdue first attempts only the one closest to the
 * appointment goes, and only while the appointment is still late_limit
 * away; the rest are skipped.  The choice is made when a pass reaches the
 * rows, with what the pass has already changed (plan_due), and undone for
 * a row skipped in favour of a closer one that will not go after all.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/plan.h"
#include "policy/plan_int.h"
#include "policy/retry.h"
#include "base/util.h"

/*
 * m's status and due time once p's changes (from on: this appointment's)
 * are made, as the store makes them: in order, each only from the status
 * it names.  A row cancelled in this pass (its rule gone, the appointment
 * for another member) is no longer pending.
 */
static enum msg_status
plan_due(const struct plan *p, size_t from, const struct msg *m, time_t *due)
{
	enum msg_status st = m->status;

	*due = m->due_at;
	for (size_t k = from; k < p->nchg; k++) {
		if (p->chg[k].id != m->id || p->chg[k].from != st)
			continue;
		st = p->chg[k].to;
		if (st == MSG_PENDING && p->chg[k].due != 0)
			*due = p->chg[k].due;
	}
	return st;
}

struct plan_cand {
	long long	 client;
	enum chan	 ch;
	long		 before;
	int		 overdue;
	int		 revive;	/* old: skipped as superseded, may come back */
	int		 dead;		/* new: planned skipped (too late), never goes */
	const struct msg *old;	/* an existing row, or */
	struct msg	*new;	/* a row planned in this pass */
};

#define PLAN_SUPERSEDED	"overdue, superseded by a reminder closer to the appointment"

static void
plan_skip(struct plan *p, struct plan_cand *x, const char *why)
{
	if (x->revive)
		return;		/* skipped already: it stays so */
	if (x->new != NULL)
		plan_set(x->new, MSG_SKIPPED, why);
	else
		plan_change(p, x->old, MSG_PENDING, MSG_SKIPPED, why);
}

/*
 * A reminder closer to the appointment than m (same client and channel)
 * that went, may have gone, or is still to go later than goes: m, skipped
 * for one like it, stays skipped.  Cancelled and skipped rows never go;
 * pending ones due by goes are candidates, judged with m.  Rows planned
 * in this pass (from first_new on: a closer rule added) count too.
 */
static int
plan_closer_alive(const struct plan_appt *pa, const struct plan *p,
    const struct msg *m, long before)
{
	const struct plan_slice *old = pa->old;
	time_t goes = pa->goes[m->channel];

	for (size_t j = pa->first_new; j < p->nadd; j++) {
		const struct msg *o = &p->add[j];

		if (o->purpose == PURPOSE_REMINDER &&
		    o->client_id == m->client_id && o->channel == m->channel &&
		    o->appt_start == m->appt_start &&
		    plan_rule_before(o->rule) < before &&
		    o->status == MSG_PENDING && o->due_at > goes)
			return 1;
	}
	for (size_t j = 0; j < old->n; j++) {
		const struct msg *o = old->m[j];
		enum msg_status st;
		time_t due;

		if (o == m || o->purpose != PURPOSE_REMINDER ||
		    o->client_id != m->client_id || o->channel != m->channel ||
		    o->appt_start != m->appt_start ||
		    plan_rule_before(o->rule) >= before)
			continue;
		st = plan_due(p, pa->first_chg, o, &due);
		if (o->recovered > 0 || st == MSG_SENT || st == MSG_SENDING ||
		    st == MSG_FAILED ||
		    (st == MSG_PENDING && (o->attempts != 0 || due > goes)))
			return 1;
	}
	return 0;
}

/*
 * An old reminder skipped as superseded, whose closer rivals have all
 * been cancelled since (their rule taken out, the appointment's kind
 * changed) or are judged again now: it takes part in choosing once more,
 * and comes back if it is the closest (CONTRACT.md "Late booking and
 * downtime": the closest one goes; a skip decided while the closer one was
 * held to the end of quiet hours must not leave the client with none).
 */
static int
plan_superseded_back(const struct plan_appt *pa, const struct plan *p,
    const struct msg *m)
{
	const struct client *cl;
	char why[160];

	return m->status == MSG_SKIPPED && m->purpose == PURPOSE_REMINDER &&
	    m->attempts == 0 && m->recovered == 0 &&
	    plan_is(m->last_error, PLAN_SUPERSEDED) &&
	    plan_due(p, pa->first_chg, m, &(time_t){ 0 }) == MSG_SKIPPED &&
	    pa->k != NULL && plan_for(pa->a, m->client_id) &&
	    plan_rule_kept(pa->c, m, pa->a, pa->old) &&
	    (cl = plan_client(pa->s, m->client_id)) != NULL &&
	    plan_allowed(pa->c, cl, pa->k, m->channel, why, sizeof(why)) == 0 &&
	    !plan_closer_alive(pa, p, m, plan_rule_before(m->rule));
}

/*
 * The overdue pass's candidates: the appointment's pending first attempts
 * due by the time they can go, goes[channel]: now, or inside quiet hours
 * their end (old rows, rows revived this pass, rows planned this pass).
 * An overdue reminder is held to that end (CONTRACT.md "Quiet hours":
 * "the rules above apply to that due time"), so one closer to the
 * appointment due by then goes in its place, not beside it.  An old row's
 * due time is the one this pass's re-timing gave it, if any (changes from
 * first_chg on: plan_due).  A follow-up takes no part in choosing: it is
 * skipped here on its own once stale.  Returns the reminders (caller
 * frees), their count in *n.
 */
static struct plan_cand *
plan_overdue_cands(const struct plan_appt *pa, struct plan *p, size_t *n)
{
	const struct plan_slice *old = pa->old, *rev = pa->rev;
	const struct appt *a = pa->a;
	const time_t *goes = pa->goes;
	time_t now = pa->now;
	size_t first_new = pa->first_new, nold = old->n + rev->n;
	struct plan_cand *x = NULL;

	*n = 0;
	for (size_t i = 0; i < nold + (p->nadd - first_new); i++) {
		const struct msg *m = i < old->n ? old->m[i] : i < nold ?
		    rev->m[i - old->n] : &p->add[first_new + i - nold];
		struct plan_cand one = { .client = m->client_id,
		    .ch = m->channel, .old = i < nold ? m : NULL,
		    .new = i < nold ? NULL : (struct msg *)m };
		time_t due = m->due_at;
		/*
		 * An old row pending still after this pass's changes; one
		 * brought back from cancelled in this pass is in rev, and is
		 * judged there only (twice, it would supersede itself).
		 */
		int pending = i >= old->n || (m->status == MSG_PENDING &&
		    plan_due(p, pa->first_chg, m, &due) == MSG_PENDING);

		if (!pending && i < old->n && !a->cancelled &&
		    m->appt_start == a->starts_at &&
		    now > m->due_at + PLAN_OVERDUE_GRACE &&
		    plan_superseded_back(pa, p, m))
			pending = one.revive = 1;
		if (!pending || m->attempts != 0 ||
		    m->appt_start != a->starts_at || a->cancelled ||
		    due > goes[m->channel])
			continue;
		if (m->purpose == PURPOSE_FOLLOW_UP) {
			if (now > due + PLAN_OVERDUE_GRACE &&
			    now - due > FOLLOW_UP_STALE)
				plan_skip(p, &one, "too late for a follow-up");
			continue;
		}
		if (m->purpose != PURPOSE_REMINDER)
			continue;
		one.before = plan_rule_before(m->rule);
		one.dead = i >= nold && m->status != MSG_PENDING;
		one.overdue = now > due + PLAN_OVERDUE_GRACE;
		x = xrealloc(x, (*n + 1) * sizeof(*x));
		x[(*n)++] = one;
	}
	return x;
}

void
plan_overdue(const struct plan_appt *pa, struct plan *p)
{
	const struct appt *a = pa->a;
	time_t now = pa->now;
	size_t n;
	struct plan_cand *x = plan_overdue_cands(pa, p, &n);

	/*
	 * Rows due now (or when quiet hours end) take part in choosing the
	 * closest one (a 3h reminder due this minute beats an overdue 48h
	 * one), but only overdue rows are ever skipped here.
	 */
	for (size_t i = 0; i < n; i++) {
		size_t best = i;

		if (!x[i].overdue)
			continue;
		if (retry_too_late(pa->c, a->starts_at, now)) {
			plan_skip(p, &x[i], a->starts_at <= now ?
			    "overdue, and the appointment has already started" :
			    "overdue, and the appointment is less than "
			    "late_limit away");
			continue;
		}
		/* one that never goes supersedes nothing */
		for (size_t j = 0; j < n; j++)
			if (!x[j].dead &&
			    x[j].client == x[i].client && x[j].ch == x[i].ch &&
			    (x[j].before < x[best].before ||
			    (j < best && x[j].before == x[best].before)))
				best = j;
		if (best != i)
			plan_skip(p, &x[i], PLAN_SUPERSEDED);
		else if (x[i].revive)
			plan_change(p, x[i].old, MSG_SKIPPED, MSG_PENDING, NULL);
	}
	free(x);
}
