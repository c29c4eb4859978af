/*
 * plan: the contract's rules, as pure functions of the config, a snapshot
 * of the database and "now".  No clock, no I/O: what goes out, when, and
 * what must be cancelled or skipped.
 *
 * plan_run() turns reminder and follow-up rules into message rows:
 *  - every member of a case gets their own row per rule and channel, under
 *    their own consent, opt-out and discreet flags; a client who may not
 *    receive it (no consent, no address, opted out, case closed) gets no row;
 *  - due = start - before (follow-ups: end + after), moved earlier out of
 *    quiet hours, or held to their end when that moment has passed;
 *  - late booking and downtime: of several overdue rows for one
 *    appointment, client and channel only the one with the smallest
 *    before goes, and only while the appointment is at least late_limit
 *    away; the rest are skipped with a reason;
 *  - cancel and move: pending rows for an old start time or a cancelled
 *    appointment are cancelled, fresh rows planned for the new time, and a
 *    cancellation notice goes on each channel a reminder already went on.
 * Rows are keyed (appointment, start, rule, client, channel), so planning
 * again adds nothing.
 *
 * plan_recheck() is the same rules applied to one claimed row just before
 * it is sent, with freshly read data.
 */
#ifndef NUDGED_PLAN_H
#define NUDGED_PLAN_H

#include <stddef.h>
#include <time.h>

#include "conf/conf.h"
#include "policy/plan_quiet.h"
#include "model/model.h"

/* A pass is "late" for a message when it starts this long after its due time. */
#define PLAN_OVERDUE_GRACE	60

struct plan {
	struct msg	*add;		/* rows to insert (id 0); owned */
	size_t		 nadd;
	struct msg_change *chg;		/* status changes; owned */
	size_t		 nchg;
};

/* Plan messages due up to now + horizon seconds. Pure; never fails. */
void	 plan_run(const struct conf *, const struct snapshot *, time_t now,
	    long horizon, struct plan *);
void	 plan_free(struct plan *);

/*
 * The template group m's words come from now: its rule's in the config as
 * it is (a rule's template may have changed since m was planned; for an
 * email standing in for a failed SMS, that SMS rule's), else the one m
 * was planned with (messages.template).  a: m's appointment, or NULL.
 */
const char *plan_template(const struct conf *, const struct msg *m,
	    const struct appt *a);

/* The recipient for channel ch as the client's data stands now; caller frees; NULL: none. */
char	*plan_recipient(const struct conf *, const struct client *, enum chan,
	    char *why, size_t);

enum plan_verdict {
	PLAN_SEND,
	PLAN_CANCEL,	/* data changed: cancelled with why */
	PLAN_SKIP,	/* too late or not allowed now: skipped with why */
	PLAN_FAIL,	/* can never go: failed with why */
	PLAN_HOLD	/* not now (quiet hours): back to pending until *hold */
};

/*
 * Re-check one claimed message against fresh data (NULL: row gone).
 * *recipient receives the address to use now (caller frees) on PLAN_SEND.
 */
enum plan_verdict plan_recheck(const struct conf *, const struct msg *,
	    const struct appt *, const struct kase *, const struct client *,
	    const struct homework *, time_t now, char **recipient,
	    time_t *hold, char *why, size_t);
/*
 * What must hold at the moment a message goes, whenever its pass began:
 * its appointment (a, or NULL) has not started, and its channel is not in
 * quiet hours (PLAN_HOLD until *hold).  live: the clock now.
 */
enum plan_verdict plan_recheck_live(const struct conf *, const struct msg *,
	    const struct appt *, time_t live, time_t *hold, char *why, size_t);

/*
 * Homework: which prompt of its schedule an occurrence ("YYYY-MM-DD") is,
 * from 1, session days not counted (starts: the case's booked sessions,
 * ascending); and when the prompt after it would go (0: unknown).
 */
/* Days homework without ends_on lasts when no session follows its start. */
#define PLAN_HW_OPEN	28
/*
 * The last local day number (tz_days_from_civil) of homework h as if it
 * had no ends_on: the day before the case's first session on a day after
 * its start (starts: booked sessions, ascending), else PLAN_HW_OPEN days
 * on.  1 when no session ends it, else 0.
 */
int	 plan_hw_open_last(const struct homework *, const time_t *starts,
	    size_t n, long *last);
int	 plan_day_number(const struct conf *, const struct homework *,
	    const char *occurrence, const time_t *starts, size_t n);
time_t	 plan_hw_next(const struct conf *, const struct homework *,
	    const char *occurrence);

/*
 * What a change notice compares (issue 9): an appointment's mode, duration
 * and effective link as one string, "online|50|https://...".  Caller frees.
 */
char	*plan_detail(const struct conf *, const struct appt *);

/*
 * An assessment follow-up ("decide whether to continue") is moot when the
 * case already has a later session booked: starts are the case's booked
 * appointments.  1 with why, or 0.
 */
int	 plan_followup_moot(const struct msg *, const struct appt *,
	    const time_t *starts, size_t n, char *why, size_t);

/* before seconds of a rule key "b172800" (-1 for other keys). */
long	 plan_rule_before(const char *key);

#endif
