/*
 * plan_rule: which configured rule a message row belongs to (see
 * plan_int.h).  A rule is known in the outbox by its lead ("b172800",
 * "a86400") and its channel, for the appointment kinds it covers; an email
 * standing in for a failed SMS carries that SMS rule's key.  Pure.
 */
#include <string.h>

#include "policy/plan.h"
#include "policy/plan_int.h"
#include "base/util.h"

long
plan_rule_before(const char *key)
{
	long v;

	if (key == NULL || key[0] != 'b' || parse_long(key + 1, 1, 366L * 86400, &v) != 0)
		return -1;
	return v;
}

int
plan_rule_applies(const struct conf_rule *r, enum appt_kind kind)
{
	if (r->kinds == NULL)
		return 1;
	for (size_t i = 0; i < r->nkinds; i++)
		if (r->kinds[i] == kind)
			return 1;
	return 0;
}

const struct conf_rule *
plan_rule_find(const struct conf *c, const char *key, enum chan ch,
    enum appt_kind kind)
{
	for (size_t i = 0; i < c->nrules; i++)
		if (c->rules[i].channel == ch &&
		    strcmp(c->rules[i].key, key) == 0 &&
		    plan_rule_applies(&c->rules[i], kind))
			return &c->rules[i];
	return NULL;
}

static int
plan_rule_on(const struct conf *c, const char *key, enum chan ch,
    enum appt_kind kind)
{
	return plan_rule_find(c, key, ch, kind) != NULL;
}

/*
 * m's rule is still in the config: its lead on its channel (nudged.conf(5):
 * a rule is known by both), for a's kind (a rule whose kinds were narrowed
 * is gone for the others).  An email row may also stand in for a failed
 * SMS (dl_fallback gives it that SMS rule's key), which the row itself
 * does not say: with fallback_email on, an SMS rule of its lead keeps it
 * too.  plan_rule_kept, which has the appointment's rows, tells the two
 * apart.
 */
int
plan_rule_exists(const struct conf *c, const struct msg *m,
    const struct appt *a)
{
	return m->rule != NULL &&
	    (plan_rule_on(c, m->rule, m->channel, a->kind) ||
	    (m->channel == CHAN_EMAIL && c->sms.fallback_email &&
	    plan_rule_on(c, m->rule, CHAN_SMS, a->kind)));
}

/*
 * Why m's rule does not keep it: its lead and channel are still a rule
 * for other kinds (the appointment's kind changed, or the rule's kinds
 * were narrowed), or not at all.  Both causes can go again (plan_revivable).
 * A fallback email whose SMS rule was narrowed reads "gone": the row does
 * not say it stood in for an SMS (plan_rule_exists).
 */
const char *
plan_rule_gone(const struct conf *c, const struct msg *m)
{
	for (size_t i = 0; m->rule != NULL && i < c->nrules; i++)
		if (strcmp(c->rules[i].key, m->rule) == 0 &&
		    c->rules[i].channel == m->channel)
			return PLAN_RULE_KIND;
	return PLAN_RULE_GONE;
}

/*
 * plan_rule_exists, but an email row that only an SMS rule keeps must
 * be that rule's fallback: its SMS row (same client, start and rule)
 * failed.  Else it is an email rule's row, and that rule is gone.
 */
int
plan_rule_kept(const struct conf *c, const struct msg *m,
    const struct appt *a, const struct plan_slice *old)
{
	if (!plan_rule_exists(c, m, a))
		return 0;
	if (m->channel != CHAN_EMAIL ||
	    plan_rule_on(c, m->rule, CHAN_EMAIL, a->kind))
		return 1;
	for (size_t j = 0; j < old->n; j++) {
		const struct msg *o = old->m[j];

		if (o->channel == CHAN_SMS && o->status == MSG_FAILED &&
		    o->client_id == m->client_id &&
		    o->appt_start == m->appt_start && o->rule != NULL &&
		    strcmp(o->rule, m->rule) == 0)
			return 1;
	}
	return 0;
}
