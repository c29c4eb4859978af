/*
 * plan_util: the small helpers plan.c, plan_homework.c and plan_notice.c
 * share (lookups in the snapshot, consent and channel checks, the
 * recipient, adding and changing rows).  Their own file so the planner's
 * calls go one way: plan.c -> plan_homework.c / plan_notice.c -> here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/address.h"
#include "base/phone.h"
#include "policy/plan.h"
#include "policy/plan_int.h"
#include "base/util.h"

int
plan_is(const char *a, const char *b)
{
	return a != NULL && strcmp(a, b) == 0;
}

static int
plan_cmp_client(const void *k, const void *e)
{
	long long id = *(const long long *)k, o = ((const struct client *)e)->id;

	return (id > o) - (id < o);
}

static int
plan_cmp_case(const void *k, const void *e)
{
	long long id = *(const long long *)k, o = ((const struct kase *)e)->id;

	return (id > o) - (id < o);
}

const struct client *
plan_client(const struct snapshot *s, long long id)
{
	return bsearch(&id, s->clients, s->nclients, sizeof(*s->clients),
	    plan_cmp_client);
}

const struct kase *
plan_case(const struct snapshot *s, long long id)
{
	return bsearch(&id, s->cases, s->ncases, sizeof(*s->cases),
	    plan_cmp_case);
}

int
plan_chan_on(const struct conf *c, enum chan ch)
{
	return ch == CHAN_EMAIL ? c->email.enabled : c->sms.enabled;
}

/* Why a row was cancelled, when that cause can go away again. */
int
plan_revivable(const char *why)
{
	static const char *const causes[] = {
		"appointment cancelled", "appointment moved", "client opted out",
		"case closed", "no consent to email", "no consent to SMS",
		"client no longer in the case",
		"the appointment is for another member",
		PLAN_RULE_GONE, PLAN_RULE_KIND,
		"the email channel is off", "the sms channel is off", NULL
	};

	for (size_t i = 0; why != NULL && causes[i] != NULL; i++)
		if (strcmp(why, causes[i]) == 0)
			return 1;
	return 0;
}

int
plan_notice_was_off(const struct msg *m)
{
	return m->status == MSG_CANCELLED &&
	    ((m->purpose == PURPOSE_CANCELLATION &&
	    plan_is(m->last_error, PLAN_CANCEL_OFF)) ||
	    (m->purpose == PURPOSE_MOVED && plan_is(m->last_error, PLAN_MOVE_OFF)));
}

int
plan_member(const struct kase *k, long long client)
{
	for (size_t i = 0; i < k->nmembers; i++)
		if (k->members[i] == client)
			return 1;
	return 0;
}

/* May this client receive anything on ch now?  0, or -1 with why. */
int
plan_allowed(const struct conf *c, const struct client *cl,
    const struct kase *k, enum chan ch, char *why, size_t len)
{
	if (cl->opted_out)
		snprintf(why, len, "client opted out");
	/*
	 * A partner taken out of the case (case_members) gets nothing more
	 * about its appointments or homework: rows planned while they were
	 * in it are cancelled, by the pass or at send time.
	 */
	else if (k != NULL && !plan_member(k, cl->id))
		snprintf(why, len, "client no longer in the case");
	else if (k != NULL && k->closed)
		snprintf(why, len, "case closed");
	else if (!plan_chan_on(c, ch))
		snprintf(why, len, "the %s channel is off", chan_name(ch));
	else if (ch == CHAN_EMAIL && !cl->email_consent)
		snprintf(why, len, "no consent to email");
	else if (ch == CHAN_SMS && !cl->sms_consent)
		snprintf(why, len, "no consent to SMS");
	else
		return 0;
	return -1;
}

/* A copy without leading and trailing spaces and tabs; NULL in, NULL out. */
char *
plan_recipient(const struct conf *c, const struct client *cl, enum chan ch,
    char *why, size_t len)
{
	char num[32], perr[160], *addr;

	if (ch == CHAN_EMAIL) {
		/*
		 * Blanks around an address typed into a form are not part of
		 * it; anything else odd (a line break) makes it invalid.
		 */
		if ((addr = str_trim(cl->email)) == NULL || addr[0] == '\0') {
			free(addr);
			snprintf(why, len, "no email address");
			return NULL;
		}
		if (!address_valid(addr)) {
			free(addr);
			snprintf(why, len, "invalid email address");
			return NULL;
		}
		return addr;
	}
	if (cl->phone == NULL || cl->phone[0] == '\0') {
		snprintf(why, len, "no phone number");
		return NULL;
	}
	if (phone_e164(cl->phone, c->sms.region, num, sizeof(num), perr,
	    sizeof(perr)) != 0 || phone_sms_capable(num, perr, sizeof(perr)) != 0) {
		snprintf(why, len, "%s", perr);
		return NULL;
	}
	return xstrdup(num);
}

struct msg *
plan_add(struct plan *p)
{
	p->add = xrealloc(p->add, (p->nadd + 1) * sizeof(*p->add));
	memset(&p->add[p->nadd], 0, sizeof(*p->add));
	return &p->add[p->nadd++];
}

void
plan_set(struct msg *n, enum msg_status status, const char *why)
{
	n->status = status;
	free(n->last_error);
	n->last_error = xstrdup(why);
}

void
plan_change(struct plan *p, const struct msg *m, enum msg_status from,
    enum msg_status to, const char *reason)
{
	struct msg_change *ch;

	p->chg = xrealloc(p->chg, (p->nchg + 1) * sizeof(*p->chg));
	ch = &p->chg[p->nchg++];
	ch->id = m->id;
	ch->from = from;
	ch->to = to;
	ch->reason = xstrdup(reason);
	ch->due = 0;
}

void
plan_retime(struct plan *p, const struct msg *m, time_t due)
{
	/* the row's last_error stays: only its time moves */
	plan_change(p, m, MSG_PENDING, MSG_PENDING, m->last_error);
	p->chg[p->nchg - 1].due = due;
}
