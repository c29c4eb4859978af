/*
 * plan: the contract's delivery rules as pure functions.  See plan.h.
 * This file owns reminders and follow-ups, cancel and move, quiet hours,
 * withdrawn consent, the recheck before sending and retry delays; the
 * choice among overdue reminders is in plan_overdue.c, the homework
 * schedule in plan_homework.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/compose.h"
#include "base/address.h"
#include "base/phone.h"
#include "policy/plan.h"
#include "policy/retry.h"
#include "policy/plan_int.h"
#include "base/tz.h"
#include "base/util.h"


static int
plan_cmp_appt(const void *k, const void *e)
{
	long long id = *(const long long *)k, o = ((const struct appt *)e)->id;

	return (id > o) - (id < o);
}

static int
plan_cmp_hw(const void *k, const void *e)
{
	long long id = *(const long long *)k, o = ((const struct homework *)e)->id;

	return (id > o) - (id < o);
}

/* Called for every pending prompt: the snapshot's arrays are sorted by id. */
static const struct homework *
plan_hw(const struct snapshot *s, long long id)
{
	if (s->nhw == 0)	/* bsearch on a NULL array is undefined */
		return NULL;
	return bsearch(&id, s->hw, s->nhw, sizeof(*s->hw), plan_cmp_hw);
}


/* 1 when the client has something (valid or not) in the channel's field. */
static int
plan_has_address(const struct client *cl, enum chan ch)
{
	const char *v = ch == CHAN_SMS ? cl->phone : cl->email;

	if (v == NULL)
		return 0;
	while (*v == ' ' || *v == '\t')
		v++;
	return *v != '\0';
}

const char *
plan_template(const struct conf *c, const struct msg *m, const struct appt *a)
{
	const struct conf_rule *u;

	if ((m->purpose != PURPOSE_REMINDER && m->purpose != PURPOSE_FOLLOW_UP) ||
	    m->rule == NULL || a == NULL)
		return m->template;
	/* its own channel's rule, else the SMS rule it stands in for */
	if ((u = plan_rule_find(c, m->rule, m->channel, a->kind)) == NULL &&
	    m->channel == CHAN_EMAIL)
		u = plan_rule_find(c, m->rule, CHAN_SMS, a->kind);
	return u != NULL ? u->template : m->template;
}

static int
plan_has_key(const struct plan_slice *old, const struct plan *p, size_t first_new,
    time_t start, const char *rule, long long client, enum chan ch)
{
	for (size_t i = 0; i < old->n; i++) {
		const struct msg *m = old->m[i];

		if (m->appt_start == start && plan_is(m->rule, rule) &&
		    m->client_id == client && m->channel == ch)
			return 1;
	}
	for (size_t i = first_new; i < p->nadd; i++) {
		const struct msg *m = &p->add[i];

		if (m->appt_start == start && plan_is(m->rule, rule) &&
		    m->client_id == client && m->channel == ch)
			return 1;
	}
	return 0;
}

static void
plan_fill(const struct conf *c, struct msg *n, enum msg_purpose purpose,
    const struct appt *a, const struct client *cl, enum chan ch, char *rcpt,
    time_t due, const char *rule, const char *template)
{
	n->detail = plan_detail(c, a);
	n->purpose = purpose;
	n->appointment_id = a->id;
	n->client_id = cl->id;
	n->channel = ch;
	n->recipient = rcpt;
	n->due_at = due;
	n->status = MSG_PENDING;
	n->rule = xstrdup(rule);
	n->appt_start = a->starts_at;
	n->template = xstrdup(template);
}

/* A 'moved' notice that no longer says how things are: 1 with why. */
static int
plan_moved_stale(const struct conf *c, const struct msg *m,
    const struct appt *a, char *why, size_t len)
{
	char *cur;
	int stale;

	if (a->cancelled) {
		snprintf(why, len, "appointment cancelled");
		return 1;
	}
	cur = plan_detail(c, a);
	stale = m->appt_start != a->starts_at ||
	    (m->detail != NULL && strcmp(m->detail, cur) != 0);
	free(cur);
	if (stale)
		snprintf(why, len, "appointment changed again");
	return stale;
}

/*
 * A cancellation or change notice whose switch (notify_cancellation,
 * notify_move) the practitioner has turned off since it was planned: one
 * still pending (held by quiet hours, or waiting for a retry) does not go
 * either; turned on again, it comes back (plan_notices, plan_moves).
 * 1 with why.
 */
static int
plan_notice_off(const struct conf *c, const struct msg *m, char *why,
    size_t len)
{
	const char *off;

	if (m->purpose == PURPOSE_CANCELLATION && !c->notify_cancellation)
		off = PLAN_CANCEL_OFF;
	else if (m->purpose == PURPOSE_MOVED && !c->notify_move)
		off = PLAN_MOVE_OFF;
	else
		return 0;
	snprintf(why, len, "%s", off);
	return 1;
}

static int plan_quiet_now(const struct conf *, const struct msg *, time_t,
	    time_t *, char *, size_t);

/*
 * A pending first attempt's due time as its rule and the quiet hours give
 * it now, as plan_rules would plan it: quiet hours added, moved or taken
 * out since (or the appointment's length, for a follow-up) move it.  The
 * contract: inside quiet hours a message goes a minute before they begin,
 * never later; kept where it was, a reminder due inside new quiet hours
 * was held to their end, and then could be too late to go at all.  One
 * already due is left to the claim (held, or judged overdue).  One whose
 * rule's time has passed was held to the end of quiet hours (booked late,
 * or claimed while nudged was down): while its channel is quiet now it
 * stays there (moved back, it would be due at once, held again, on every
 * pass that reads its appointment); quiet hours taken out or ended
 * earlier, it is due at its rule's time, overdue, and goes now if
 * plan_overdue lets it, not at the end they no longer have.
 */
static void
plan_requiet(const struct conf *c, const struct appt *a, const struct msg *m,
    time_t now, struct plan *p)
{
	const struct conf_rule *u;
	time_t due, hold;
	char why[32];

	if (m->attempts != 0 || m->due_at <= now || m->rule == NULL ||
	    (u = plan_rule_find(c, m->rule, m->channel, a->kind)) == NULL)
		return;
	due = u->before > 0 ? a->starts_at - u->before :
	    a->starts_at + (time_t)a->duration_min * 60 + u->after;
	due = plan_quiet(c, m->channel, due, now);
	/*
	 * Released, it is due when the rule says, already past: plan_overdue
	 * judges it in this pass with the others (plan_due), so that of two
	 * held reminders only the closest goes.
	 */
	if (due <= now && plan_quiet_now(c, m, now, &hold, why, sizeof(why)))
		return;
	if (due != m->due_at)
		plan_retime(p, m, due);
}

/*
 * Pending rows whose appointment was cancelled, moved, or whose rule is
 * gone are cancelled.  A row cancelled for a cause that has gone again
 * (booked again, moved back, opted back in) comes back: the row is the one
 * message its key allows, ever.  Revived rows are returned in rev (their
 * lateness is judged with the rest by plan_overdue).
 */
static void
plan_stale(const struct conf *c, const struct snapshot *s, const struct appt *a,
    const struct kase *k, const struct plan_slice *old, time_t now,
    struct plan *p, struct plan_slice *rev)
{
	char why[160];

	rev->n = 0;
	for (size_t i = 0; i < old->n; i++) {
		const struct msg *m = old->m[i];
		const struct client *cl;
		int timed = m->purpose == PURPOSE_REMINDER ||
		    m->purpose == PURPOSE_FOLLOW_UP;

		if (m->status == MSG_PENDING) {
			if (timed && a->cancelled)
				plan_change(p, m, MSG_PENDING, MSG_CANCELLED,
				    "appointment cancelled");
			else if (timed && m->appt_start != a->starts_at)
				plan_change(p, m, MSG_PENDING, MSG_CANCELLED,
				    "appointment moved");
			else if (timed && m->attempts == 0 &&
			    !plan_rule_kept(c, m, a, old))
				plan_change(p, m, MSG_PENDING, MSG_CANCELLED,
				    plan_rule_gone(c, m));
			else if (plan_notice_off(c, m, why, sizeof(why)) ||
			    (m->purpose == PURPOSE_MOVED &&
			    plan_moved_stale(c, m, a, why, sizeof(why))))
				plan_change(p, m, MSG_PENDING, MSG_CANCELLED,
				    why);
			else if (m->purpose == PURPOSE_CANCELLATION &&
			    !a->cancelled)
				plan_change(p, m, MSG_PENDING, MSG_CANCELLED,
				    "appointment booked again");
			else if (timed && !plan_for(a, m->client_id))
				plan_change(p, m, MSG_PENDING, MSG_CANCELLED,
				    "the appointment is for another member");
			else if (timed)
				plan_requiet(c, a, m, now, p);
		} else if (m->status == MSG_CANCELLED && timed &&
		    !a->cancelled && m->appt_start == a->starts_at &&
		    (m->rule == NULL || plan_rule_kept(c, m, a, old)) &&
		    plan_revivable(m->last_error) && k != NULL &&
		    plan_for(a, m->client_id) &&
		    (m->purpose == PURPOSE_FOLLOW_UP || a->starts_at > now) &&
		    (cl = plan_client(s, m->client_id)) != NULL &&
		    plan_allowed(c, cl, k, m->channel, why, sizeof(why)) == 0) {
			plan_change(p, m, MSG_CANCELLED, MSG_PENDING, NULL);
			rev->m[rev->n++] = m;
		}
	}
}

/*
 * A reminder that may have reached its client: sent, or handed over with
 * its outcome not (yet) known (issue 13) — in 'sending', or with an
 * uncertain attempt behind it (recovered), whatever became of the row
 * since.  Such a client is told of a cancellation too.
 */
static int
plan_reached(const struct msg *m)
{
	return m->status == MSG_SENT || m->status == MSG_SENDING ||
	    m->recovered > 0;
}

/* A cancellation notice planned or sent after m (same client, channel). */
static int
plan_told_cancelled(const struct plan_slice *old, const struct msg *m)
{
	for (size_t j = 0; j < old->n; j++) {
		const struct msg *o = old->m[j];

		if (o->purpose == PURPOSE_CANCELLATION && o->id > m->id &&
		    o->client_id == m->client_id && o->channel == m->channel &&
		    o->status != MSG_CANCELLED)
			return 1;
	}
	return 0;
}

/*
 * The cancellation notice for m's client and channel that was cancelled
 * because notify_cancellation was off (plan_notice_off), not yet brought
 * back in this pass: turned on again, it goes after all (its key allows
 * no other row).  NULL: none.
 */
static const struct msg *
plan_off_notice(const struct plan_slice *old, const struct plan *p,
    time_t start, const struct msg *m)
{
	for (size_t j = 0; j < old->n; j++) {
		const struct msg *o = old->m[j];

		if (o->purpose != PURPOSE_CANCELLATION ||
		    o->status != MSG_CANCELLED || o->appt_start != start ||
		    o->client_id != m->client_id || o->channel != m->channel ||
		    !plan_notice_was_off(o))
			continue;
		for (size_t k = 0; k < p->nchg; k++)
			if (p->chg[k].id == o->id)
				return NULL;
		return o;
	}
	return NULL;
}

/*
 * A notice on each channel a reminder already went out on.  A reminder
 * for an earlier start (moved, then cancelled), or a move notice, told
 * the client of the appointment too: they are told it is cancelled,
 * unless a cancellation went to them after it.
 */
static void
plan_notices(const struct conf *c, const struct snapshot *s,
    const struct appt *a, const struct kase *k, const struct plan_slice *old,
    time_t now, struct plan *p)
{
	size_t first_new = p->nadd;
	char why[160];

	if (!a->cancelled || !c->notify_cancellation || a->starts_at <= now)
		return;
	for (size_t i = 0; i < old->n; i++) {
		const struct msg *m = old->m[i], *o;
		const struct client *cl;
		char *rcpt;

		if ((m->purpose != PURPOSE_REMINDER &&
		    m->purpose != PURPOSE_MOVED) || !plan_reached(m) ||
		    (m->appt_start != a->starts_at &&
		    plan_told_cancelled(old, m)))
			continue;
		if ((o = plan_off_notice(old, p, a->starts_at, m)) == NULL &&
		    plan_has_key(old, p, first_new, a->starts_at, "cancel",
		    m->client_id, m->channel))
			continue;
		if ((cl = plan_client(s, m->client_id)) == NULL ||
		    plan_allowed(c, cl, k, m->channel, why, sizeof(why)) != 0)
			continue;
		if (o != NULL) {
			plan_change(p, o, MSG_CANCELLED, MSG_PENDING, NULL);
			continue;
		}
		if ((rcpt = plan_recipient(c, cl, m->channel, why, sizeof(why))) == NULL)
			continue;
		plan_fill(c, plan_add(p), PURPOSE_CANCELLATION, a, cl, m->channel,
		    rcpt, now, "cancel", NULL);
	}
}

static void
plan_rules(const struct conf *c, const struct snapshot *s,
    const struct appt *a, const struct kase *k, const struct plan_slice *old,
    time_t now, long horizon, struct plan *p)
{
	size_t first_new = p->nadd;
	char why[160];

	for (size_t r = 0; r < c->nrules; r++) {
		const struct conf_rule *rule = &c->rules[r];
		time_t due;

		if (!plan_chan_on(c, rule->channel) ||
		    !plan_rule_applies(rule, a->kind))
			continue;
		due = rule->before > 0 ? a->starts_at - rule->before :
		    a->starts_at + (time_t)a->duration_min * 60 + rule->after;
		/* Nothing new for what has begun, or a follow-up long overdue. */
		if ((rule->before > 0 && a->starts_at <= now) ||
		    (rule->after > 0 && due < now - FOLLOW_UP_STALE))
			continue;
		due = plan_quiet(c, rule->channel, due, now);
		if (due > now + horizon)
			continue;
		for (size_t i = 0; i < k->nmembers; i++) {
			const struct client *cl = plan_client(s, k->members[i]);
			struct msg *n;
			char *rcpt;

			if (cl == NULL || !plan_for(a, cl->id) ||
			    plan_allowed(c, cl, k, rule->channel, why, sizeof(why)) != 0)
				continue;
			if (plan_has_key(old, p, first_new, a->starts_at, rule->key,
			    cl->id, rule->channel))
				continue;
			rcpt = plan_recipient(c, cl, rule->channel, why, sizeof(why));
			/*
			 * An address or phone that cannot be used still gets its
			 * reminder row: it fails with the reason when due (the
			 * practitioner's digest names it, and an SMS reminder falls
			 * back to email), instead of vanishing unnoticed.
			 */
			if (rcpt == NULL && rule->before > 0 &&
			    plan_has_address(cl, rule->channel))
				rcpt = compose_oneline(rule->channel == CHAN_SMS ?
				    cl->phone : cl->email);	/* recorded, never used */
			if (rcpt == NULL)
				continue;
			n = plan_add(p);
			plan_fill(c, n, rule->before > 0 ? PURPOSE_REMINDER :
			    PURPOSE_FOLLOW_UP,
			    a, cl, rule->channel, rcpt, due, rule->key,
			    rule->template);
			if (rule->before > 0 && retry_too_late(c, a->starts_at, due))
				plan_set(n, MSG_SKIPPED,
				    "it would go less than late_limit before"
				    " the appointment");
		}
	}
}

/*
 * Pending messages whose client opted out or withdrew consent, whose case
 * closed, or whose homework stopped: cancelled at once, not at send time.
 */
static void
plan_withdrawn(const struct conf *c, const struct snapshot *s, struct plan *p)
{
	char why[160];

	for (size_t i = 0; i < s->nmsgs; i++) {
		const struct msg *m = &s->msgs[i];
		const struct client *cl;
		const struct kase *k = NULL;

		if (m->status != MSG_PENDING || m->client_id == 0)
			continue;
		if (m->homework_id != 0) {
			const struct homework *h = plan_hw(s, m->homework_id);

			if (h == NULL) {
				plan_change(p, m, MSG_PENDING, MSG_CANCELLED,
				    "homework stopped");
				continue;
			}
			k = plan_case(s, h->case_id);
		} else if (m->appointment_id != 0 && s->nappts > 0) {
			const struct appt *a = bsearch(&m->appointment_id, s->appts,
			    s->nappts, sizeof(*s->appts), plan_cmp_appt);

			if (a != NULL)
				k = plan_case(s, a->case_id);
		}
		/* one taken out of the case is not in the snapshot's clients */
		if (k != NULL && !plan_member(k, m->client_id)) {
			plan_change(p, m, MSG_PENDING, MSG_CANCELLED,
			    "client no longer in the case");
			continue;
		}
		if ((cl = plan_client(s, m->client_id)) == NULL)
			continue;
		if (plan_allowed(c, cl, k, m->channel, why, sizeof(why)) != 0)
			plan_change(p, m, MSG_PENDING, MSG_CANCELLED, why);
	}
}

static int
plan_cmp_msgp(const void *a, const void *b)
{
	const struct msg *x = *(const struct msg *const *)a;
	const struct msg *y = *(const struct msg *const *)b;

	if (x->appointment_id != y->appointment_id)
		return (x->appointment_id > y->appointment_id) -
		    (x->appointment_id < y->appointment_id);
	return (x->id > y->id) - (x->id < y->id);
}

void
plan_run(const struct conf *c, const struct snapshot *s, time_t now,
    long horizon, struct plan *p)
{
	const struct msg **by, **revbuf = NULL;
	struct plan_slice rev = { 0 };
	size_t nby = 0, at = 0;
	time_t goes[CHAN_N];
	struct plan_appt pa = { .c = c, .s = s, .rev = &rev, .now = now,
	    .goes = goes };

	memset(p, 0, sizeof(*p));
	for (int ch = 0; ch < CHAN_N; ch++)
		goes[ch] = plan_quiet_end(c, (enum chan)ch, now);
	by = xcalloc(s->nmsgs + 1, sizeof(const struct msg *));
	for (size_t i = 0; i < s->nmsgs; i++)
		if (s->msgs[i].appointment_id != 0)
			by[nby++] = &s->msgs[i];
	qsort(by, nby, sizeof(const struct msg *), plan_cmp_msgp);

	for (size_t i = 0; i < s->nappts; i++) {
		const struct appt *a = &s->appts[i];
		const struct kase *k = plan_case(s, a->case_id);
		struct plan_slice old;
		size_t first_new, first_chg;

		while (at < nby && by[at]->appointment_id < a->id)
			at++;
		old.m = &by[at];
		for (old.n = 0; at + old.n < nby &&
		    by[at + old.n]->appointment_id == a->id; old.n++)
			;
		revbuf = xrealloc(revbuf, (old.n + 1) * sizeof(const struct msg *));
		rev.m = revbuf;
		first_chg = p->nchg;
		plan_stale(c, s, a, k, &old, now, p, &rev);
		if (k == NULL)
			continue;
		plan_notices(c, s, a, k, &old, now, p);
		if (a->cancelled || k->closed)
			continue;
		first_new = p->nadd;
		plan_rules(c, s, a, k, &old, now, horizon, p);
		pa.a = a;
		pa.k = k;
		pa.old = &old;
		pa.first_new = first_new;
		pa.first_chg = first_chg;
		plan_overdue(&pa, p);
		plan_moves(c, s, a, k, &old, first_new, now, p);
	}
	free(by);
	free(revbuf);
	plan_all_homework(c, s, now, horizon, p);
	plan_withdrawn(c, s, p);
}

void
plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->nadd; i++)
		msg_free(&p->add[i]);
	free(p->add);
	for (size_t i = 0; i < p->nchg; i++)
		free(p->chg[i].reason);
	free(p->chg);
	memset(p, 0, sizeof(*p));
}

/*
 * plan_recheck's checks, one per kind of fact a claimed message hangs on.
 * Each returns PLAN_SEND when its fact still lets the message go, or the
 * verdict (with why) that stops it; plan_recheck runs them in the
 * contract's order, so the first reason that applies is the one recorded.
 */

/* The appointment: gone, cancelled, moved, rebooked, or another member's. */
static enum plan_verdict
plan_recheck_appt(const struct conf *c, const struct msg *m,
    const struct appt *a, int timed, char *why, size_t len)
{
	if (a == NULL) {
		snprintf(why, len, "appointment no longer exists");
		return PLAN_CANCEL;
	}
	if (timed && a->cancelled) {
		snprintf(why, len, "appointment cancelled");
		return PLAN_CANCEL;
	}
	if (timed && a->starts_at != m->appt_start) {
		snprintf(why, len, "appointment moved");
		return PLAN_CANCEL;
	}
	/*
	 * As plan_stale: a pass reads a row's appointment again only once
	 * the row is overdue (pass_plan.c), and one far ahead lies beyond
	 * the window a reload's whole pass reads, so the rule may have gone
	 * with no pass to see it.
	 */
	if (timed && m->attempts == 0 && m->rule != NULL &&
	    !plan_rule_exists(c, m, a)) {
		snprintf(why, len, "%s", plan_rule_gone(c, m));
		return PLAN_CANCEL;
	}
	if (plan_notice_off(c, m, why, len))
		return PLAN_CANCEL;
	if (m->purpose == PURPOSE_CANCELLATION && !a->cancelled) {
		snprintf(why, len, "appointment booked again");
		return PLAN_CANCEL;
	}
	if (m->purpose == PURPOSE_MOVED && plan_moved_stale(c, m, a, why, len))
		return PLAN_CANCEL;
	if ((timed || m->purpose == PURPOSE_MOVED) &&
	    !plan_for(a, m->client_id)) {
		snprintf(why, len, "the appointment is for another member");
		return PLAN_CANCEL;
	}
	return PLAN_SEND;
}

/* The homework: stopped, its channel turned off, or the prompt missed. */
static enum plan_verdict
plan_recheck_hw(const struct conf *c, const struct msg *m,
    const struct client *cl, const struct homework *hw, time_t now,
    char *why, size_t len)
{
	if (hw == NULL || !hw->active) {
		snprintf(why, len, "homework stopped");
		return PLAN_CANCEL;
	}
	if (!c->homework.channels[m->channel] ||
	    (cl != NULL && cl->discreet && m->channel == CHAN_SMS)) {
		snprintf(why, len, "homework prompts no longer go by %s",
		    chan_name(m->channel));
		return PLAN_CANCEL;
	}
	if (now - m->due_at > PLAN_HW_LATE) {
		snprintf(why, len, "missed by more than %ld hours",
		    PLAN_HW_LATE / 3600);
		return m->attempts > 0 ? PLAN_FAIL : PLAN_SKIP;
	}
	return PLAN_SEND;
}

/* The client and case: gone, or consent withdrawn / opted out / closed. */
static enum plan_verdict
plan_recheck_client(const struct conf *c, const struct msg *m,
    const struct kase *k, const struct client *cl, char *why, size_t len)
{
	if (cl == NULL) {
		snprintf(why, len, "client no longer exists");
		return PLAN_CANCEL;
	}
	if ((m->appointment_id != 0 || m->homework_id != 0) && k == NULL) {
		snprintf(why, len, "case no longer exists");
		return PLAN_CANCEL;
	}
	if (plan_allowed(c, cl, k, m->channel, why, len) != 0)
		return PLAN_CANCEL;
	return PLAN_SEND;
}

/* 1 when a's appointment has started by now: *v says how it ends (why). */
static int
plan_started(const struct msg *m, const struct appt *a, time_t now,
    char *why, size_t len, enum plan_verdict *v)
{
	if (now < a->starts_at)
		return 0;
	snprintf(why, len, "the appointment has already started");
	*v = m->attempts > 0 ? PLAN_FAIL : PLAN_SKIP;
	return 1;
}

/* 1 when now is inside quiet hours on m's channel: held until *hold. */
static int
plan_quiet_now(const struct conf *c, const struct msg *m, time_t now,
    time_t *hold, char *why, size_t len)
{
	struct tm lt;

	if (!conf_quiet_on(c, m->channel))
		return 0;
	tz_to_local(now, &lt);
	if (!conf_quiet_at(c, m->channel, lt.tm_hour * 60 + lt.tm_min))
		return 0;
	/* not past them already (a to in the autumn repeat: plan_quiet) */
	if ((*hold = plan_quiet(c, m->channel, now, now + 1)) <= now)
		return 0;
	snprintf(why, len, "held: quiet hours");
	return 1;
}

/* Time before the appointment: already started, or within late_limit. */
static enum plan_verdict
plan_recheck_late(const struct conf *c, const struct msg *m,
    const struct appt *a, time_t now, char *why, size_t len)
{
	enum plan_verdict v;
	time_t at;

	if (plan_started(m, a, now, why, len, &v))
		return v;
	/*
	 * The contract's late_limit: a message is judged by its due
	 * time (or its retry's time), unless the pass reaches it late
	 * (overdue): then by the moment of the pass.
	 */
	at = m->next_at > m->due_at ? m->next_at : m->due_at;
	if (now - at > PLAN_OVERDUE_GRACE)
		at = now;
	if (m->purpose == PURPOSE_REMINDER &&
	    retry_too_late(c, a->starts_at, at)) {
		snprintf(why, len, "less than late_limit before the appointment");
		return m->attempts > 0 ? PLAN_FAIL : PLAN_SKIP;
	}
	return PLAN_SEND;
}

enum plan_verdict
plan_recheck(const struct conf *c, const struct msg *m, const struct appt *a,
    const struct kase *k, const struct client *cl, const struct homework *hw,
    time_t now, char **recipient, time_t *hold, char *why, size_t len)
{
	int timed = m->purpose == PURPOSE_REMINDER ||
	    m->purpose == PURPOSE_FOLLOW_UP;
	enum plan_verdict v;

	*recipient = NULL;
	if (m->appointment_id != 0 &&
	    (v = plan_recheck_appt(c, m, a, timed, why, len)) != PLAN_SEND)
		return v;
	if (m->homework_id != 0 &&
	    (v = plan_recheck_hw(c, m, cl, hw, now, why, len)) != PLAN_SEND)
		return v;
	if (m->client_id != 0 &&
	    (v = plan_recheck_client(c, m, k, cl, why, len)) != PLAN_SEND)
		return v;
	if (m->appointment_id != 0 && m->purpose != PURPOSE_FOLLOW_UP &&
	    (v = plan_recheck_late(c, m, a, now, why, len)) != PLAN_SEND)
		return v;
	if (plan_quiet_now(c, m, now, hold, why, len))
		return PLAN_HOLD;
	if (m->client_id == 0) {
		/* test and alert messages carry their own recipient */
		*recipient = xstrdup(m->recipient);
		return PLAN_SEND;
	}
	if ((*recipient = plan_recipient(c, cl, m->channel, why, len)) == NULL)
		return plan_has_address(cl, m->channel) ? PLAN_FAIL : PLAN_SKIP;
	return PLAN_SEND;
}

enum plan_verdict
plan_recheck_live(const struct conf *c, const struct msg *m,
    const struct appt *a, time_t live, time_t *hold, char *why, size_t len)
{
	enum plan_verdict v;

	/* a follow-up goes after its session, by design */
	if (a != NULL && m->purpose != PURPOSE_FOLLOW_UP &&
	    plan_started(m, a, live, why, len, &v))
		return v;
	return plan_quiet_now(c, m, live, hold, why, len) ? PLAN_HOLD :
	    PLAN_SEND;
}
