/*
 * Private to plan*.c: what plan.c (appointments, quiet hours, recheck),
 * plan_overdue.c (late booking and downtime), plan_homework.c (the
 * homework schedule) and plan_notice.c share; the shared helpers are in
 * plan_util.c.  Pure, like all of plan.
 */
#ifndef NUDGED_PLAN_INT_H
#define NUDGED_PLAN_INT_H

#include <stddef.h>
#include <time.h>

#include "conf/conf.h"
#include "policy/plan.h"
#include "model/model.h"

/* A homework prompt missed by more than this is not sent. */
#define PLAN_HW_LATE	(3L * 3600)

/* Why a reminder's rule no longer keeps it (plan.c plan_rule_gone). */
#define PLAN_RULE_GONE	"its rule is no longer in the config"
#define PLAN_RULE_KIND	"its rule does not cover this kind of appointment"

/* Why a pending notice did not go (plan.c plan_notice_off). */
#define PLAN_CANCEL_OFF	"notify_cancellation is off"
#define PLAN_MOVE_OFF	"notify_move is off"

/* A follow-up later than this is pointless. */
#define FOLLOW_UP_STALE	(2L * 86400)

/* Messages of one appointment or homework: a slice of pointers into the snapshot. */
struct plan_slice {
	const struct msg **m;
	size_t		 n;
};

/* One appointment's turn in plan_run, as plan_overdue needs it. */
struct plan_appt {
	const struct conf	*c;
	const struct snapshot	*s;
	const struct appt	*a;
	const struct kase	*k;
	const struct plan_slice	*old;	/* its rows as the pass found them */
	const struct plan_slice	*rev;	/* those plan_stale brought back */
	size_t			 first_new;	/* its rows planned now: p->add[first_new..] */
	size_t			 first_chg;	/* its changes: p->chg[first_chg..] */
	time_t			 now;
	const time_t		*goes;	/* per channel: the earliest a message may go */
};

/*
 * plan_overdue.c: late booking and downtime.  Of a client's overdue
 * reminders for one appointment and channel only the closest goes (rows
 * due by goes[channel], the end of quiet hours now is in, are rivals).
 */
void	 plan_overdue(const struct plan_appt *, struct plan *);
/* plan_rule.c: which configured rule a message row belongs to. */
/* Rule r covers appointments of this kind. */
int	 plan_rule_applies(const struct conf_rule *r, enum appt_kind);
/* The rule of that lead (key) on that channel for that kind, or NULL. */
const struct conf_rule *plan_rule_find(const struct conf *, const char *key,
	    enum chan, enum appt_kind);
/* m's rule (or, for an email, the SMS rule it may stand in for) is in the config for a's kind. */
int	 plan_rule_exists(const struct conf *, const struct msg *m,
	    const struct appt *a);
/*
 * plan_rule_exists, and an email row that only an SMS rule keeps must
 * stand in for that rule's failed SMS (old: a's rows).
 */
int	 plan_rule_kept(const struct conf *, const struct msg *m,
	    const struct appt *a, const struct plan_slice *old);
/* Why m's rule does not keep it: PLAN_RULE_KIND or PLAN_RULE_GONE. */
const char *plan_rule_gone(const struct conf *, const struct msg *m);

/* a and b equal; a may be NULL. */
int	 plan_is(const char *a, const char *b);

/* Lookups by id in the snapshot (sorted by id); NULL: not there. */
const struct client *plan_client(const struct snapshot *, long long id);
const struct kase *plan_case(const struct snapshot *, long long id);

/* Is channel ch enabled in the config? */
int	 plan_chan_on(const struct conf *, enum chan);
/* 1 when a row cancelled for why may come back once why has gone. */
int	 plan_revivable(const char *why);
/* 1 when notice m was cancelled because its switch was off: it comes back. */
int	 plan_notice_was_off(const struct msg *m);
/* 1 when client is a member of case k. */
int	 plan_member(const struct kase *, long long client);
/* May this client receive anything on ch now?  0, or -1 with why. */
int	 plan_allowed(const struct conf *, const struct client *,
	    const struct kase *, enum chan, char *why, size_t);

/* A fresh zeroed row at the end of p->add. */
struct msg *plan_add(struct plan *);
/* A row planned in this pass settled as status, with why (copied). */
void	 plan_set(struct msg *, enum msg_status, const char *why);
/* A pending row's due time moved (quiet hours changed since it was planned). */
void	 plan_retime(struct plan *, const struct msg *, time_t due);
/* A status change of m, from -> to, with reason (copied; may be NULL). */
void	 plan_change(struct plan *, const struct msg *, enum msg_status from,
	    enum msg_status to, const char *reason);

/* plan_notice.c: 'moved' notices for an appointment (see there). */
void	 plan_moves(const struct conf *, const struct snapshot *,
	    const struct appt *, const struct kase *, const struct plan_slice *,
	    size_t first_new, time_t now, struct plan *);
/* 1 when the appointment is for this client (for_client NULL: everyone). */
int	 plan_for(const struct appt *, long long client);

/* Plan or cancel the prompts of every homework in the snapshot. */
void	 plan_all_homework(const struct conf *, const struct snapshot *,
	    time_t now, long horizon, struct plan *);

#endif
