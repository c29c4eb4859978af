/*
 * plan_notice: change notices (purpose 'moved', issue 9), pure like the
 * rest of plan.
 *
 * A booked appointment whose start, mode, duration or link differs from
 * what a client was last sent (a reminder or an earlier notice) gets a
 * 'moved' notice for that client on each channel the last one went on,
 * when notify_move is on.  The row's rule is "moved-<hash of the new
 * details>" (after an earlier notice, of the details and that notice's
 * rule: plan_move_rule) and its appt_start the new start, so the dedupe
 * key allows one notice per state of the appointment and step.  A fresh
 * reminder that the move brought due at the notice's moment and the
 * notice do not both go (plan_notice_or_reminder).  A client who was
 * sent a cancellation after that reminder learns of the rebooking from
 * the fresh reminders instead.  Pending notices whose appointment
 * changed again are cancelled (plan.c, plan_stale) and planned afresh, or
 * come back when it changes back before they went.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/plan.h"
#include "policy/plan_int.h"
#include "base/util.h"

int
plan_for(const struct appt *a, long long client)
{
	return a->for_client == 0 || a->for_client == client;
}

/*
 * "MODE|MINUTES|URL", by hand: every planned row and every row a pass
 * compares gets one, and xasprintf's two vsnprintf calls were 4 % of a
 * first pass (issue 12).
 */
static char *
plan_join3(const char *mode, int minutes, const char *url)
{
	char num[24], *p, *out;
	size_t lm = strlen(mode), lu = strlen(url), ln = 0;
	unsigned long v = minutes < 0 ? 0UL - (unsigned long)minutes :
	    (unsigned long)minutes;

	do {
		num[sizeof(num) - 1 - ln++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	if (minutes < 0)
		num[sizeof(num) - 1 - ln++] = '-';
	out = p = xmalloc(lm + ln + lu + 3);
	memcpy(p, mode, lm);
	p += lm;
	*p++ = '|';
	memcpy(p, num + sizeof(num) - ln, ln);
	p += ln;
	*p++ = '|';
	memcpy(p, url, lu);
	p[lu] = '\0';
	return out;
}

char *
plan_detail(const struct conf *c, const struct appt *a)
{
	const char *url = "";

	if (a->mode == MODE_ONLINE)
		url = a->video_url != NULL && a->video_url[0] != '\0' ?
		    a->video_url : c->practice.video_url != NULL ?
		    c->practice.video_url : "";
	return plan_join3(appt_mode_name(a->mode), a->duration_min, url);
}

/* FNV-1a: a short, stable name for a detail string inside a rule key. */
static unsigned long
plan_hash(const char *s)
{
	unsigned long h = 2166136261UL;

	for (; *s != '\0'; s++)
		h = ((h ^ (unsigned char)*s) * 16777619UL) & 0xffffffffUL;
	return h;
}

/* a came later than b (sent_at, then id). */
static int
plan_later(const struct msg *a, const struct msg *b)
{
	return a->sent_at > b->sent_at || (a->sent_at == b->sent_at && a->id > b->id);
}

/*
 * The fresh reminders for the new time that would go with a notice on ch,
 * due by the moment it goes (at: now, or when quiet hours end): planned
 * in this pass, planned by an earlier pass and not gone yet, or revived
 * by this pass (moved back), unless this pass settles them otherwise.
 * How many; with skip, each is settled skipped for the notice.
 */
static size_t
plan_reminders_at(struct plan *p, const struct plan_slice *old, size_t from,
    const struct appt *a, long long client, enum chan ch, time_t at, int skip)
{
	static const char why[] = "the change notice that goes now gives the "
	    "new details";
	size_t nchg = p->nchg, k, n = 0;

	for (size_t j = from; j < p->nadd; j++) {
		if (p->add[j].client_id != client || p->add[j].channel != ch ||
		    p->add[j].purpose != PURPOSE_REMINDER ||
		    p->add[j].status != MSG_PENDING ||
		    p->add[j].due_at > at + PLAN_OVERDUE_GRACE)
			continue;
		n++;
		if (skip)
			plan_set(&p->add[j], MSG_SKIPPED, why);
	}
	for (size_t j = 0; j < old->n; j++) {
		const struct msg *o = old->m[j];

		if (o->client_id != client || o->channel != ch ||
		    o->purpose != PURPOSE_REMINDER ||
		    o->appt_start != a->starts_at ||
		    o->due_at > at + PLAN_OVERDUE_GRACE)
			continue;
		for (k = 0; k < nchg && p->chg[k].id != o->id; k++)
			;
		if (k == nchg && o->status == MSG_PENDING) {
			n++;
			if (skip)
				plan_change(p, o, MSG_PENDING, MSG_SKIPPED, why);
		} else if (k < nchg && p->chg[k].to == MSG_PENDING) {
			n++;
			if (skip) {	/* revived by this pass: skipped instead */
				p->chg[k].to = MSG_SKIPPED;
				free(p->chg[k].reason);
				p->chg[k].reason = xstrdup(why);
			}
		}
	}
	return n;
}

/*
 * A fresh reminder that a move brought due goes at the moment its notice
 * would: only one of the two goes.  By email, the notice, and the
 * reminder is skipped: it says what the client needs to know and a
 * reminder cannot, that the time they were given no longer holds.  By
 * SMS, the reminder, and no notice: its text is the shorter of the two
 * (a notice can run over max_segments where the reminder fits), and a
 * reminder that fails for good falls back to email (contract
 * "Fallback"), a notice does not.  1: the notice is not wanted.
 */
static int
plan_notice_or_reminder(struct plan *p, const struct conf *c,
    const struct plan_slice *old, size_t from, const struct appt *a,
    long long client, enum chan ch, time_t now)
{
	time_t at = plan_quiet(c, ch, now, now);

	if (ch == CHAN_SMS)
		return plan_reminders_at(p, old, from, a, client, ch, at, 0) > 0;
	plan_reminders_at(p, old, from, a, client, ch, at, 1);
	return 0;
}

/*
 * 1 when m is the last reminder or move notice sent to its client on its
 * channel, and no cancellation notice went after it: only that message
 * says what the client now believes, so only it is compared with the
 * appointment.
 */
static int
plan_move_latest(const struct plan_slice *old, const struct msg *m)
{
	for (size_t j = 0; j < old->n; j++) {
		const struct msg *o = old->m[j];

		if (o->client_id != m->client_id || o->channel != m->channel ||
		    o->status != MSG_SENT)
			continue;
		if ((o->purpose == PURPOSE_REMINDER ||
		    o->purpose == PURPOSE_MOVED) && plan_later(o, m))
			return 0;	/* judged when the loop reaches o */
		if (o->purpose == PURPOSE_CANCELLATION && !plan_later(m, o))
			return 0;
	}
	return 1;
}

/*
 * The rule of a notice that follows m, what the client last had: the new
 * details' hash after a reminder; after a notice, the hash of the details
 * and m's rule, so that moving there and back and there again (each
 * notice sent) makes a key of its own for each step, not the first
 * notice's key again.
 */
static void
plan_move_rule(const struct msg *m, const char *cur, char *rule, size_t len)
{
	size_t n;
	char *chain;

	if (m->purpose != PURPOSE_MOVED || m->rule == NULL) {
		snprintf(rule, len, "moved-%08lx", plan_hash(cur));
		return;
	}
	n = strlen(cur) + strlen(m->rule) + 2;
	chain = xmalloc(n);
	snprintf(chain, n, "%s<%s", cur, m->rule);
	snprintf(rule, len, "moved-%08lx", plan_hash(chain));
	free(chain);
}

/*
 * Is a notice for this state already planned after m (what the client
 * last had)?  1: yes, or its key is taken; 0: no.  A row with the key
 * that was cancelled because the appointment changed again, and now says
 * how things are once more (moved away and back before it went), is
 * returned in *revive instead: the key allows no other row.
 */
static int
plan_move_seen(const struct plan_slice *old, const struct plan *p,
    size_t first_new, const struct appt *a, const struct msg *last,
    const char *rule, const char *cur, const struct msg **revive)
{
	*revive = NULL;
	for (size_t j = 0; j < old->n; j++) {
		const struct msg *o = old->m[j];

		if (o->client_id != last->client_id || o->channel != last->channel ||
		    o->appt_start != a->starts_at)
			continue;
		if (plan_is(o->rule, rule)) {
			if (o->status == MSG_CANCELLED && o->purpose == PURPOSE_MOVED &&
			    (plan_is(o->last_error, "appointment changed again") ||
			    plan_revivable(o->last_error) ||
			    plan_notice_was_off(o)))
				*revive = o;
			return *revive == NULL;
		}
		/* one for this state after m, under a rule of an older make */
		if (o->purpose == PURPOSE_MOVED && o->id > last->id &&
		    o->status != MSG_CANCELLED && o->detail != NULL &&
		    strcmp(o->detail, cur) == 0)
			return 1;
	}
	for (size_t j = first_new; j < p->nadd; j++)
		if (p->add[j].client_id == last->client_id &&
		    p->add[j].channel == last->channel &&
		    plan_is(p->add[j].rule, rule))
			return 1;
	return 0;
}

/* The move notice row, due now (or when quiet hours end). */
static void
plan_move_add(const struct conf *c, const struct appt *a, long long client,
    enum chan ch, char *rcpt, const char *rule, const char *cur, time_t now,
    struct plan *p)
{
	struct msg *n = plan_add(p);

	n->purpose = PURPOSE_MOVED;
	n->appointment_id = a->id;
	n->client_id = client;
	n->channel = ch;
	n->recipient = rcpt;
	n->due_at = plan_quiet(c, ch, now, now);
	n->status = MSG_PENDING;
	n->rule = xstrdup(rule);
	n->appt_start = a->starts_at;
	n->detail = xstrdup(cur);
}

void
plan_moves(const struct conf *c, const struct snapshot *s,
    const struct appt *a, const struct kase *k, const struct plan_slice *old,
    size_t reminders_from, time_t now, struct plan *p)
{
	size_t first_new = p->nadd;
	char rule[24], why[160], *cur;

	if (!c->notify_move || a->cancelled || a->starts_at <= now)
		return;
	cur = plan_detail(c, a);
	for (size_t i = 0; i < old->n; i++) {
		const struct msg *m = old->m[i], *rev;
		const struct client *cl;
		char *rcpt = NULL;

		if (m->status != MSG_SENT || !(m->purpose == PURPOSE_REMINDER ||
		    m->purpose == PURPOSE_MOVED))
			continue;
		if (!plan_move_latest(old, m) || (m->appt_start == a->starts_at &&
		    (m->detail == NULL || strcmp(m->detail, cur) == 0)))
			continue;
		if ((cl = plan_client(s, m->client_id)) == NULL ||
		    !plan_for(a, cl->id) ||
		    plan_allowed(c, cl, k, m->channel, why, sizeof(why)) != 0)
			continue;
		plan_move_rule(m, cur, rule, sizeof(rule));
		if (plan_move_seen(old, p, first_new, a, m, rule, cur, &rev))
			continue;
		if (rev == NULL && (rcpt = plan_recipient(c, cl, m->channel,
		    why, sizeof(why))) == NULL)
			continue;
		if (plan_notice_or_reminder(p, c, old, reminders_from, a,
		    cl->id, m->channel, now)) {
			free(rcpt);
			continue;
		}
		if (rev != NULL)
			plan_change(p, rev, MSG_CANCELLED, MSG_PENDING, NULL);
		else
			plan_move_add(c, a, cl->id, m->channel, rcpt, rule, cur,
			    now, p);
	}
	free(cur);
}

int
plan_followup_moot(const struct msg *m, const struct appt *a,
    const time_t *starts, size_t n, char *why, size_t len)
{
	if (m->purpose != PURPOSE_FOLLOW_UP || a == NULL ||
	    !plan_is(m->template, "assessment_follow_up"))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (starts[i] > a->starts_at) {
			snprintf(why, len, "a later session is already booked: "
			    "no need to ask whether to continue");
			return 1;
		}
	return 0;
}
