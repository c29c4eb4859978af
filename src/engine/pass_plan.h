/*
 * pass_plan: the plan step of a delivery pass (issue 12).  See
 * pass_plan.c.
 */
#ifndef NUDGED_PASS_PLAN_H
#define NUDGED_PASS_PLAN_H

#include <signal.h>
#include <stddef.h>
#include <time.h>

#include "conf/conf.h"
#include "store/store.h"

/* What a plan step did, for the pass's counts (deliver_stats). */
struct pass_plan_stats {
	int	 planned;	/* new rows */
	int	 skipped;	/* planned skipped, or pending -> skipped */
	int	 cancelled;	/* pending -> cancelled */
	int	 bad_rows;	/* unreadable rows reported */
};

/*
 * In short transactions (a few dozen appointments each, the lock left
 * free between them): read what may need planning, plan every message due
 * up to now + horizon (and cancel or skip what the rules no longer allow),
 * write it, and in the last one remember the pass (state plan.pass) so
 * that the next one reads only what is new.  whole: read the whole window
 * whatever the last pass was (nudgectl upcoming).  dry: report every bad
 * row (the caller's outer transaction rolls it all back).  stop: give up
 * waiting for the lock, or stop between two transactions; the next pass
 * then does all of it again.  Counts are added to stats.  0, or -1 with
 * err (what was committed before stays: planning again adds nothing).
 */
int	 pass_plan_run(const struct conf *, struct store *, time_t now,
	    long horizon, int whole, int dry, volatile sig_atomic_t *stop,
	    struct pass_plan_stats *, char *err, size_t);

/*
 * The same, with the lock's free time between two chunks given to
 * use->gap(use->arg, ms) instead of slept (not the first transaction's,
 * nor the consent batches': nothing is sent before consent is compared):
 * gap must leave the lock free about ms in all, and may take it for
 * moments of its own (deliver.c sends meanwhile, dl_loop_gap).  upto:
 * the appointments up to this id are planned (the chunks go in id
 * order); a later chunk may still skip or cancel another's due rows
 * (the overdue rules, a rule gone from the config).
 */
struct pass_plan_use {
	void	(*gap)(void *arg, double ms, long long upto);
	void	*arg;
};
int	 pass_plan_run_using(const struct conf *, struct store *, time_t now,
	    long horizon, int whole, int dry, volatile sig_atomic_t *stop,
	    const struct pass_plan_use *, struct pass_plan_stats *, char *err,
	    size_t);

/*
 * Tests only: plan chunk appointments per transaction (0: the default)
 * and call between(arg) after each chunk's commit but the last.
 */
void	 pass_plan_test_hook(size_t chunk, void (*between)(void *), void *arg);

/* The seconds of the practice's clock a bare local start time may be off UTC by. */
long	 pass_plan_tz_slack(time_t now);

#endif
