/*
 * deliver: one pass — plan, claim, re-check, render, send, record — the
 * single path every message takes, used by `nudged --once`, the service
 * loop, `nudged --dry-run`, and nudgectl's upcoming and send-test.
 */
#ifndef NUDGED_DELIVER_H
#define NUDGED_DELIVER_H

#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "conf/conf.h"
#include "store/store.h"

struct deliver_stats {
	int	 planned;	/* new rows */
	int	 sent;
	int	 failed;
	int	 skipped;
	int	 cancelled;
	int	 retry;		/* left pending after a transient failure */
	int	 bad_rows;	/* unreadable rows reported this pass */
	long	 pending_due;	/* due now and still pending at the end */
	long	 held_due;	/* due, but held by an unreadable row */
	int	 paused[CHAN_N];/* the channel is paused at the end */
};

/* Horizon of planning in the service and --once (seconds ahead of now). */
#define DELIVER_HORIZON	(8L * 86400)

/*
 * One full pass at now.  live: now is the clock's (not --now), so what
 * must hold at the moment a message goes (the appointment not started, no
 * quiet hours) is judged by the clock as the pass goes on.  dry: plan and
 * render, print what would be sent to out, write nothing, contact no
 * server.  stop (may be NULL) is polled between messages: when it becomes
 * non-zero the pass ends after the message in flight.  0, or -1 with err
 * on a database failure.
 */
int	 deliver_pass(const struct conf *, struct store *, time_t now, int live,
	    int dry, FILE *out, volatile sig_atomic_t *stop,
	    struct deliver_stats *, char *err, size_t);

/*
 * nudgectl upcoming: plan as of now (nothing written) and print every
 * message due in [now, until], rendered.  0 or -1.
 */
int	 deliver_upcoming(const struct conf *, struct store *, time_t now,
	    time_t until, FILE *out, char *err, size_t);

/*
 * nudgectl send-test: one real message to an email address or a phone
 * number through the matching channel, recorded as purpose 'test'.
 * Returns the transfer result; err says why on failure; -1 when its
 * outcome could not be recorded (err names the row and what happened).
 */
int	 deliver_test(const struct conf *, struct store *, const char *to,
	    time_t now, char *err, size_t);

/*
 * nudgectl alert: one email to practice.email through the digest's path,
 * recorded as purpose 'alert' when st is not NULL (it may be: the
 * database may be why the service failed).  Returns the transfer result;
 * err says why on failure.
 */
int	 deliver_notify(const struct conf *, struct store *, const char *subject,
	    const char *text, time_t now, char *err, size_t);

#endif
