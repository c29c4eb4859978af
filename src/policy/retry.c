/*
 * retry: the one retry, give-up and late_limit decision.  See retry.h.
 */
#include "policy/retry.h"
#include "policy/plan_quiet.h"

long
retry_delay(const struct conf *c, int attempt, double rnd)
{
	double base = (double)c->retry.first, jitter;

	for (int i = 1; i < attempt && base < (double)c->retry.max; i++)
		base *= 2;
	if (base > (double)c->retry.max)
		base = (double)c->retry.max;
	/* Up to a quarter more, so retries from one outage do not align. */
	jitter = base * 0.25 * rnd;
	if (base + jitter > (double)c->retry.max)
		return (long)(base - jitter) > c->retry.first ?
		    (long)(base - jitter) : c->retry.first;
	return (long)(base + jitter);
}

int
retry_too_late(const struct conf *c, time_t start, time_t at)
{
	return start - at < c->late_limit;
}

enum retry_verdict
retry_decide(const struct conf *c, const struct retry_in *in, time_t now,
    time_t *next)
{
	time_t t = now + retry_delay(c, in->attempt, in->rnd);

	if (in->retry_after > 0 && now + in->retry_after > t)
		t = now + in->retry_after;
	*next = t = plan_quiet(c, in->channel, t, t);
	if (in->attempt >= c->retry.attempts)
		return RETRY_ATTEMPTS;
	if (in->appt_start != 0 && retry_too_late(c, in->appt_start, t))
		return RETRY_LATE;
	if (in->hw_next != 0 && in->hw_next <= t)
		return RETRY_SUPERSEDED;
	return RETRY_AGAIN;
}
