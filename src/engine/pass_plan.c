/*
 * pass_plan: the plan step of a pass (issue 12): it costs the due window
 * and what changed, not the table.
 *
 * Rows are still planned eight days ahead (DELIVER_HORIZON: the outbox,
 * nudgectl status and the tests show them), but a pass only reads the
 * appointments that can need something new:
 *
 *   whole    no pass remembered (state plan.pass), another config or
 *            horizon (its fingerprint), the clock went back, the last
 *            pass is older than the horizon, or the change log's
 *            triggers were missing: every appointment from the follow-up
 *            look-back to now + horizon + the longest lead, and those of
 *            every pending row (a rule taken out may have had the
 *            longest lead).
 *   bands    otherwise, for each rule, the appointments whose message for
 *            that rule came inside the horizon since the last pass: starts
 *            in [last + horizon + before, now + horizon + before]; for a
 *            follow-up, [last + horizon - after - 1 day, now + horizon -
 *            after] (a duration is at most a day).  Quiet hours move a
 *            due time inside them to a minute before they begin: when
 *            that moment came inside the horizon, the whole stretch's
 *            appointments are read too.
 *   always   what another connection (or nudgectl) changed since the last
 *            pass (plan_dirty, kept by triggers), the appointments of
 *            pending rows overdue by more than PLAN_OVERDUE_GRACE (the
 *            overdue rules: a row due inside it was judged by the pass
 *            that planned it, and its claim re-checks it), unreadable
 *            rows, the active homework with its cases' sessions.  The
 *            consent record (issue 14) compares every client, so only a
 *            whole pass or a changed client runs it.
 *
 * Whatever a pass skips was planned by an earlier one and has not changed
 * since, so planning it again would add nothing.  The re-check at send
 * time stays the last word either way.
 *
 * Transactions (issue 12, item 3: the first pass over an imported diary
 * wrote ~90,000 rows holding the write lock for a second while booking
 * tools and nudgectl waited):
 *
 *   first    decide the scope; a whole pass forgets plan.pass; take the
 *            change log (plan_dirty -> plan_taken) and save the window
 *            the triggers log in (plan.from/plan.upto), so that what
 *            others change from now on is logged for the next pass; the
 *            ids to read.
 *   consent  when needed, PASS_PLAN_CLIENTS clients per transaction.
 *   chunks   PASS_PLAN_TXN appointments per transaction: read them
 *            afresh, plan, write; the homework, plan.pass and emptying
 *            plan_taken go with the last.
 *
 * Between two, the lock is left free about as long as it was held
 * (pass_plan_gap), so a waiting writer gets in; between two chunks the
 * delivery pass sends meanwhile (pass_plan_run_using).  Until the last commits,
 * the saved state is the one before the pass (plus the taken log), from
 * which the next pass does all of it again: after a crash, a SIGTERM
 * between chunks, or a lost relaxed commit.  Planning twice adds nothing
 * (the messages' dedupe keys).  A change another program makes between
 * two chunks is read by a later chunk, or by the next pass from the log.
 * Every appointment is planned whole in one chunk, so the overdue rules
 * (only the closest overdue reminder goes) see all its rows.  All but
 * the last transaction commit without waiting for the disk
 * (store_begin_relaxed): a power cut can only undo a tail of them.
 * Memory is bounded by PASS_PLAN_TXN appointments, not by the window,
 * except in the last transaction: the active homework goes there with
 * its cases' sessions from each homework's start on (store_snap.c), so
 * it grows with the homework in progress and their cases' bookings.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/pass_plan.h"
#include "base/log.h"
#include "base/tz.h"
#include "base/util.h"
#include "policy/plan.h"
#include "store/store_privacy.h"

#define PASS_PLAN_TXN		32		/* appointments per transaction */
#define PASS_PLAN_CLIENTS	512		/* clients per consent batch */
#define PASS_PLAN_GAP_MS	2.0		/* the lock left free, at least */
#define PASS_PLAN_VERSION	1		/* bump when what a pass plans changes */
#define PASS_PLAN_EVER		((time_t)253402300799)	/* 9999-12-31T23:59:59Z */
#define PASS_PLAN_MAXDUR	86400L		/* duration_min is at most 1440 */
#define PASS_PLAN_KEY		"plan.pass"
#define PASS_PLAN_QDAYS		9		/* local days a band can span (< horizon) */

/* How far back follow-ups look: appointments that already ended. */
static long
pass_plan_since(const struct conf *c)
{
	long back = 2L * 86400;

	for (size_t i = 0; i < c->nrules; i++)
		if (c->rules[i].after + 3L * 86400 > back)
			back = c->rules[i].after + 3L * 86400;
	return back;
}

/* The length of quiet hours (a due time inside moves before them), + a minute. */
static long
pass_plan_quiet(const struct conf *c, enum chan ch)
{
	int len;

	if (!conf_quiet_on(c, ch))
		return 0;
	len = (c->quiet.to - c->quiet.from + 1440) % 1440;
	return (long)(len == 0 ? 1440 : len) * 60 + 60;
}

/* The longest lead of any before-rule, quiet hours included. */
static long
pass_plan_lead(const struct conf *c)
{
	long lead = 0;

	for (size_t i = 0; i < c->nrules; i++) {
		long l = c->rules[i].before + pass_plan_quiet(c, c->rules[i].channel);

		if (l > lead)
			lead = l;
	}
	return lead;
}

static long
pass_plan_offset(time_t t)
{
	struct tm lt;
	long days;

	tz_to_local(t, &lt);
	days = tz_days_from_civil(lt.tm_year + 1900, lt.tm_mon + 1, lt.tm_mday);
	return days * 86400L + lt.tm_hour * 3600L + lt.tm_min * 60L + lt.tm_sec -
	    (long)t;
}

long
pass_plan_tz_slack(time_t now)
{
	long a = labs(pass_plan_offset(now));
	long b = labs(pass_plan_offset(now + 182L * 86400));

	/* the zone's offsets this year (summer and winter) */
	return a > b ? a : b;
}

static unsigned long
pass_plan_fnv(unsigned long h, const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		h = ((h ^ (unsigned char)*s) * 16777619UL) & 0xffffffffUL;
	return ((h ^ 0xff) * 16777619UL) & 0xffffffffUL;	/* a separator */
}

/*
 * What the plan depends on besides the data: when it changes (a reload,
 * a --once with another file), the next pass reads the whole window.
 */
static unsigned long
pass_plan_fingerprint(const struct conf *c, long horizon)
{
	char buf[256];
	unsigned long h = 2166136261UL;

	snprintf(buf, sizeof(buf), "v%d h%ld e%d s%d f%d l%ld n%d m%d"
	    " hw%d,%d,%d q%d,%d,%d,%d", PASS_PLAN_VERSION, horizon,
	    c->email.enabled, c->sms.enabled, c->sms.fallback_email,
	    c->late_limit, c->notify_cancellation,
	    c->notify_move, c->homework.at, c->homework.channels[CHAN_EMAIL],
	    c->homework.channels[CHAN_SMS], c->quiet.from, c->quiet.to,
	    c->quiet.channels[CHAN_EMAIL], c->quiet.channels[CHAN_SMS]);
	h = pass_plan_fnv(h, buf);
	h = pass_plan_fnv(h, c->practice.timezone);
	h = pass_plan_fnv(h, c->practice.video_url);
	h = pass_plan_fnv(h, c->sms.region);
	for (size_t i = 0; i < c->nrules; i++) {
		const struct conf_rule *r = &c->rules[i];

		snprintf(buf, sizeof(buf), "%s %d %zu", r->key, (int)r->channel,
		    r->nkinds);
		h = pass_plan_fnv(h, buf);
		h = pass_plan_fnv(h, r->template);
		for (size_t k = 0; k < r->nkinds; k++)
			h = pass_plan_fnv(h, appt_kind_name(r->kinds[k]));
	}
	return h;
}

/*
 * The last pass this database remembers, if it was planned the same way:
 * 1 with *last, 0 when the whole window must be read.
 */
static int
pass_plan_last(struct store *st, time_t now, long horizon, unsigned long fp,
    time_t *last)
{
	char *v = NULL, *sp, want[24];
	int ok;

	if (store_state_get(st, PASS_PLAN_KEY, &v) != STORE_FOUND)
		return 0;
	/* "TIME FINGERPRINT", as pass_plan_run writes it */
	snprintf(want, sizeof(want), "%08lx", fp);
	if ((sp = strchr(v, ' ')) != NULL)
		*sp++ = '\0';
	ok = sp != NULL && strcmp(sp, want) == 0 &&
	    tz_parse_utc(v, last) == 0 && *last <= now &&
	    now - *last < horizon - 86400;
	free(v);
	return ok;
}

/*
 * Quiet hours move a due time inside them to a minute before they begin:
 * when such a moment falls in (from, to], the messages due in that whole
 * stretch came inside the horizon too.  Their bands go to r (at most
 * PASS_PLAN_QDAYS); returns how many.
 */
static size_t
pass_plan_quiet_bands(const struct conf *c, enum chan ch, time_t from,
    time_t to, long lead, long lo, time_t (*r)[2])
{
	long len = pass_plan_quiet(c, ch);
	size_t n = 0;
	struct tm lt;
	int y, m, d;

	if (len == 0)
		return 0;
	tz_to_local(from, &lt);
	y = lt.tm_year + 1900;
	m = lt.tm_mon + 1;
	d = lt.tm_mday;
	tz_date_add_days(&y, &m, &d, -1);
	for (int k = 0; k < PASS_PLAN_QDAYS; k++, tz_date_add_days(&y, &m, &d, 1)) {
		time_t start;

		if (tz_local_to_utc(y, m, d, c->quiet.from / 60, c->quiet.from % 60,
		    0, &start) != 0 || start - 60 <= from)
			continue;
		if (start - 60 > to)
			break;
		/* an hour more for a clock change inside the stretch */
		r[n][0] = start + lead - lo;
		r[n][1] = start + len + 3600 + lead;
		n++;
	}
	return n;
}

/*
 * What this pass reads (store_pass_ids): p and its ranges (r, room for
 * nrules * (PASS_PLAN_QDAYS + 1) + 1 of them, the caller's).  0 or -1.
 */
static int
pass_plan_scope(const struct conf *c, struct store *st, time_t now,
    long horizon, int whole, unsigned long fp, struct store_pass *p,
    time_t (*r)[2], char *err, size_t errlen)
{
	time_t last = 0;
	int rc;

	memset(p, 0, sizeof(*p));
	p->ranges = (const time_t (*)[2])r;
	p->win_lo = now - pass_plan_since(c);
	p->win_hi = now + horizon + pass_plan_lead(c);
	/*
	 * Only overdue rows bring their appointment back (plan_overdue): one
	 * due inside the grace was judged by the pass that planned it, and
	 * the claim re-checks it.  A service's pass runs as rows fall due,
	 * and re-reading each due row's appointment was most of its plan.
	 */
	p->due_by = now - PLAN_OVERDUE_GRACE;
	p->tz_slack = pass_plan_tz_slack(now);
	if ((rc = store_dirty_check(st, err, errlen)) < 0)
		return -1;
	if (whole || rc == 1 || !pass_plan_last(st, now, horizon, fp, &last)) {
		r[0][0] = p->win_lo;
		r[0][1] = p->win_hi;
		p->nranges = 1;
		p->whole = 1;
		/*
		 * And every pending row's appointment: after a reload, one of a
		 * rule taken out (the longest lead, say) may lie beyond the
		 * window, and is cancelled now, not when it falls due.
		 */
		p->due_by = PASS_PLAN_EVER;
		return 0;
	}
	for (size_t i = 0; i < c->nrules; i++) {
		const struct conf_rule *u = &c->rules[i];
		/* due = start - lead: before-rules, or end + after (lead < 0) */
		long lead = u->before > 0 ? u->before : -u->after;
		long lo = u->before > 0 ? 0 : PASS_PLAN_MAXDUR;

		r[p->nranges][0] = last + horizon + lead - lo;
		r[p->nranges][1] = now + horizon + lead;
		p->nranges++;
		p->nranges += pass_plan_quiet_bands(c, u->channel, last + horizon,
		    now + horizon, lead, lo, r + p->nranges);
	}
	return 0;
}

/*
 * The unreadable rows this pass reported.  A bad client is in the
 * snapshot of every chunk that reads one of its appointments, a homework
 * case's session in its own chunk and the last: one row, reported once
 * (a dry run reports even known ones, so the problems table cannot tell).
 * Nearly always empty.
 */
struct pass_plan_seen {
	struct bad_row	*v;
	size_t		 n, cap;
};

/* 1 when b is new to this pass (now remembered), 0 when reported already. */
static int
pass_plan_seen_add(struct pass_plan_seen *s, const struct bad_row *b)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].id == b->id && strcmp(s->v[i].table, b->table) == 0 &&
		    strcmp(s->v[i].what, b->what) == 0)
			return 0;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n].table = xstrdup(b->table);
	s->v[s->n].id = b->id;
	s->v[s->n].what = xstrdup(b->what);
	s->n++;
	return 1;
}

static void
pass_plan_seen_free(struct pass_plan_seen *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].table);
		free(s->v[i].what);
	}
	free(s->v);
}

/* Write one chunk's plan; 0 or -1. */
static int
pass_plan_write(struct store *st, time_t now, int dry,
    const struct snapshot *snap, struct plan *p, struct pass_plan_seen *seen,
    struct pass_plan_stats *stats, char *err, size_t errlen)
{
	for (size_t i = 0; i < snap->nbad; i++) {
		enum store_rc r = store_note_bad(st, &snap->bad[i], now, err, errlen);

		if (r == STORE_ERR)
			return -1;
		if (!pass_plan_seen_add(seen, &snap->bad[i]))
			continue;
		stats->bad_rows++;
		if (r == STORE_NEW || dry)
			log_warn("skipping %s row %lld: %s", snap->bad[i].table,
			    snap->bad[i].id, snap->bad[i].what);
	}
	for (size_t i = 0; i < p->nadd; i++) {
		long long id = 0;
		char mask[64];

		if (store_insert_msg(st, &p->add[i], &id, err, errlen) != 0)
			return -1;
		if (id == 0)
			continue;
		stats->planned++;
		log_debug("msg=%lld planned purpose=%s channel=%s to=%s status=%s%s%s",
		    id, msg_purpose_name(p->add[i].purpose),
		    chan_name(p->add[i].channel),
		    log_mask(p->add[i].recipient, mask, sizeof(mask)),
		    msg_status_name(p->add[i].status),
		    p->add[i].last_error ? " why=" : "",
		    p->add[i].last_error ? p->add[i].last_error : "");
		if (p->add[i].status == MSG_SKIPPED)
			stats->skipped++;
	}
	for (size_t i = 0; i < p->nchg; i++) {
		if (store_change_msg(st, &p->chg[i], err, errlen) != 0)
			return -1;
		log_debug("msg=%lld %s -> %s%s%s", p->chg[i].id,
		    msg_status_name(p->chg[i].from), msg_status_name(p->chg[i].to),
		    p->chg[i].reason ? " why=" : "",
		    p->chg[i].reason ? p->chg[i].reason : "");
		if (p->chg[i].to == MSG_SKIPPED)
			stats->skipped++;
		else if (p->chg[i].to == MSG_CANCELLED)
			stats->cancelled++;
	}
	return 0;
}

/* Tests only (pass_plan_test_hook): the chunk size and a call between chunks. */
static size_t pass_plan_test_chunk;
static void (*pass_plan_test_between)(void *);
static void *pass_plan_test_arg;

void
pass_plan_test_hook(size_t chunk, void (*between)(void *), void *arg)
{
	pass_plan_test_chunk = chunk;
	pass_plan_test_between = between;
	pass_plan_test_arg = arg;
}

/*
 * After a transaction held the lock for ms: once the lock was held for
 * PASS_PLAN_GAP_MS or more since the last gap (*held), leave it free for
 * about as long.  SQLite queues nobody: a booking tool waiting for the
 * lock tries again after growing sleeps (its busy handler), and would
 * miss a gap of microseconds between two of ours.  A whole pass takes
 * about twice as long; a writer waits about one transaction.  A pass of
 * a few short transactions (the usual one) does not sleep at all.
 */
static void
pass_plan_gap(double *held, double ms, int dry, const struct pass_plan_use *use,
    long long upto)
{
	static unsigned long seed;
	struct timespec nap;

	/* A dry run holds the lock throughout (its outer transaction). */
	if (dry || pass_plan_test_chunk != 0)
		return;		/* the tests' hook stands in for the others */
	if ((*held += ms) < PASS_PLAN_GAP_MS)
		return;
	/*
	 * Between half and one and a half times as long, at random: a gap
	 * of a fixed period can fall between a waiting tool's tries every
	 * time (its sleeps grow to 25, 50, 100 ms).
	 */
	if (seed == 0) {
		clock_gettime(CLOCK_MONOTONIC, &nap);
		seed = (unsigned long)nap.tv_nsec | 1;
	}
	seed = (seed * 1103515245UL + 12345UL) & 0x7fffffffUL;
	ms = *held * (0.5 + (double)(seed >> 8) / (double)(0x7fffffffUL >> 8));
	*held = 0;
	if (ms < PASS_PLAN_GAP_MS)
		ms = PASS_PLAN_GAP_MS;
	if (use != NULL && use->gap != NULL) {
		use->gap(use->arg, ms, upto);
		return;
	}
	nap.tv_sec = (time_t)(ms / 1e3);
	nap.tv_nsec = (long)((ms - (double)nap.tv_sec * 1e3) * 1e6);
	nanosleep(&nap, NULL);
}

static double
pass_plan_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/*
 * The pass's last transaction: remember it (plan.pass) and forget the
 * change log it took.  Before this, the state left is the one from which
 * the next pass redoes the whole of this one.  0 or -1.
 */
static int
pass_plan_finish(struct store *st, time_t now, unsigned long fp, char *err,
    size_t errlen)
{
	char v[64], stamp[TZ_UTC_LEN];

	tz_format_utc(now, stamp);
	snprintf(v, sizeof(v), "%s %08lx", stamp, fp);
	if (store_state_set(st, PASS_PLAN_KEY, v, err, errlen) != 0)
		return -1;
	return store_dirty_done(st, err, errlen);
}

/*
 * Plan the chosen appointments PASS_PLAN_TXN at a time, each chunk in its
 * own transaction, so that nudgectl and booking tools get the lock in
 * between; the homework goes with the last chunk (it needs its cases'
 * sessions, which that snapshot reads), and so does pass_plan_finish.
 * Each chunk reads its appointments afresh: a change another program made
 * before it is planned as it is; one made after it is in the change log
 * for the next pass.  Planning twice adds nothing (the dedupe keys), so a
 * pass stopped between chunks (*stop, a crash) is simply done again.
 * 0 (with *done 1 when the pass completed) or -1.
 */
static int
pass_plan_chunks(const struct conf *c, struct store *st, time_t now,
    long horizon, int dry, unsigned long fp, const long long *ids, size_t n,
    volatile sig_atomic_t *stop, double *held, const struct pass_plan_use *use,
    struct pass_plan_seen *seen, struct pass_plan_stats *stats, int *done,
    char *err, size_t errlen)
{
	size_t at = 0, per = pass_plan_test_chunk ? pass_plan_test_chunk :
	    PASS_PLAN_TXN;
	double longest = 0;
	int chunks = 0;

	*done = 0;
	do {
		size_t k = n - at > per ? per : n - at;
		int last = at + k == n, w;
		struct snapshot snap;
		struct timespec t0;
		struct plan p;
		double ms;

		/* Lost to a power cut, a chunk is planned again (no plan.pass). */
		if ((last ? store_begin_or_stop(st, stop, err, errlen) :
		    store_begin_relaxed(st, stop, err, errlen)) != 0)
			return stop != NULL && *stop ? 0 : -1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (store_snapshot_ids(st, ids + at, k, last, &snap, err,
		    errlen) != 0) {
			store_rollback(st);
			return -1;
		}
		plan_run(c, &snap, now, horizon, &p);
		w = pass_plan_write(st, now, dry, &snap, &p, seen, stats, err,
		    errlen);
		plan_free(&p);
		snapshot_free(&snap);
		if (w != 0 || (last && pass_plan_finish(st, now, fp, err,
		    errlen) != 0)) {
			store_rollback(st);
			return -1;
		}
		if (store_commit(st, err, errlen) != 0)
			return -1;
		if ((ms = pass_plan_ms(&t0)) > longest)
			longest = ms;
		chunks++;
		at += k;
		if (last)
			break;
		pass_plan_gap(held, ms, dry, use, ids[at - 1]);
		if (pass_plan_test_between != NULL)
			pass_plan_test_between(pass_plan_test_arg);
		/* A stop between chunks: the next pass does all of it again. */
		if (stop != NULL && *stop)
			return 0;
	} while (at < n);
	*done = 1;
	log_debug("plan: %d transactions, the longest %.1f ms", chunks, longest);
	return 0;
}

/*
 * The pass's first transaction: what it reads (into sp, r, *ids), the
 * change log taken; *consent: whether to compare consent (issue 14: it
 * reads every client, so only when a client was added or changed, or on
 * a whole pass).  A whole pass first forgets the last one (plan.pass):
 * stopped half-way, it is followed by another whole one, not by bands
 * that would miss what it did not reach.  0 or -1.
 */
static int
pass_plan_start(const struct conf *c, struct store *st, time_t now,
    long horizon, int whole, unsigned long fp, struct store_pass *sp,
    time_t (*r)[2], long long **ids, size_t *n, int *consent, char *err,
    size_t errlen)
{
	if (pass_plan_scope(c, st, now, horizon, whole, fp, sp, r, err,
	    errlen) != 0 ||
	    (sp->whole && store_state_set(st, PASS_PLAN_KEY, NULL, err,
	    errlen) != 0) ||
	    store_dirty_take(st, sp, err, errlen) != 0)
		return -1;
	if ((*consent = sp->whole ? 1 : store_dirty_any(st, "c", err,
	    errlen)) < 0)
		return -1;
	return store_pass_ids(st, sp, ids, n, err, errlen);
}

/*
 * Consent changed by a booking tool since the last look (issue 14), a
 * batch of clients per transaction: the first look at an imported diary
 * logs every client.  Stopped half-way, the next pass compares again (the
 * change log keeps what this pass took).  0 (*stopped set when stopped)
 * or -1.
 */
static int
pass_plan_consent(struct store *st, time_t now, int dry,
    volatile sig_atomic_t *stop, double *held, int *stopped, char *err,
    size_t errlen)
{
	long long from = INT64_MIN;
	struct timespec t0;

	*stopped = 0;
	do {
		if (stop != NULL && *stop) {
			*stopped = 1;
			return 0;
		}
		if (store_begin_relaxed(st, stop, err, errlen) != 0) {
			*stopped = stop != NULL && *stop;
			return *stopped ? 0 : -1;
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (store_consent_sync_some(st, now, STORE_HOW_OUTSIDE,
		    STORE_HOW_FIRST, &from, PASS_PLAN_CLIENTS, err,
		    errlen) != 0) {
			store_rollback(st);
			return -1;
		}
		if (store_commit(st, err, errlen) != 0)
			return -1;
		pass_plan_gap(held, pass_plan_ms(&t0), dry, NULL, 0);
	} while (from != INT64_MIN);
	return 0;
}

int
pass_plan_run(const struct conf *c, struct store *st, time_t now, long horizon,
    int whole, int dry, volatile sig_atomic_t *stop, struct pass_plan_stats *stats,
    char *err, size_t errlen)
{
	return pass_plan_run_using(c, st, now, horizon, whole, dry, stop, NULL,
	    stats, err, errlen);
}

int
pass_plan_run_using(const struct conf *c, struct store *st, time_t now,
    long horizon, int whole, int dry, volatile sig_atomic_t *stop,
    const struct pass_plan_use *use, struct pass_plan_stats *stats,
    char *err, size_t errlen)
{
	unsigned long fp = pass_plan_fingerprint(c, horizon);
	time_t (*r)[2] = xcalloc(c->nrules * (PASS_PLAN_QDAYS + 1) + 1,
	    sizeof(*r));
	struct pass_plan_seen seen = { 0 };
	struct store_pass sp;
	long long *ids = NULL;
	size_t n = 0;
	int rc = -1, done = 0, consent = 0, stopped = 0;
	struct timespec t0, t1;
	double ms, held = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Lost to a power cut, it leaves the last pass's state, consistent. */
	if (store_begin_relaxed(st, stop, err, errlen) != 0) {
		free(r);
		return stop != NULL && *stop ? 0 : -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (pass_plan_start(c, st, now, horizon, whole, fp, &sp, r, &ids, &n,
	    &consent, err, errlen) != 0) {
		store_rollback(st);
		goto out;
	}
	if (store_commit(st, err, errlen) != 0)
		goto out;
	ms = pass_plan_ms(&t1);
	pass_plan_gap(&held, ms, dry, NULL, 0);
	if (consent && pass_plan_consent(st, now, dry, stop, &held, &stopped,
	    err, errlen) != 0)
		goto out;
	if (!stopped)
		rc = pass_plan_chunks(c, st, now, horizon, dry, fp, ids, n,
		    stop, &held, use, &seen, stats, &done, err, errlen);
	else
		rc = 0;
	if (rc == 0 && done)
		log_debug("plan: %zu appointments read (%s) in %.1f ms (the"
		    " first transaction %.1f ms)", n, sp.whole ? "the whole window"
		    : "bands and changes", pass_plan_ms(&t0), ms);
	else if (rc == 0)
		log_info("plan: stopped after part of the %zu appointments; the"
		    " next pass plans them all again", n);
out:
	pass_plan_seen_free(&seen);
	free(ids);
	free(r);
	return rc;
}
