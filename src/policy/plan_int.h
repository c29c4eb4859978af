/*
 * Private to plan*.c: what plan.c (appointments, quiet hours, recheck),
 * plan_homework.c (the homework schedule) and plan_notice.c share; the
 * shared helpers are in plan_util.c.  Pure, like all of plan.
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

/* Messages of one appointment or homework: a slice of pointers into the snapshot. */
struct plan_slice {
	const struct msg **m;
	size_t		 n;
};

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
