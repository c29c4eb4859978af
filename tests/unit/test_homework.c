/*
 * Homework occurrences (CONTRACT.md "Homework", "Time"): the schedule's
 * maths through plan.h only, on hand-built snapshots.  No database, no
 * clock.  Europe/London: 19:00 local is 19:00Z in winter, 18:00Z in summer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "policy/plan.h"
#include "store/store.h"
#include "base/tz.h"
#include "base/util.h"
#include "fixture.h"

#define H 3600L
#define D 86400L
#define MAXOCC 64

static struct conf cf;

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(fx_tz_london(), 0);
	fx_conf_practice(&cf);		/* no rules: homework only */
	cf.homework.at = 19 * 60;
	cf.homework.channels[CHAN_EMAIL] = 1;
	cf.homework.channels[CHAN_SMS] = 1;
	return 0;
}

/* A couple (clients 1, 2) in case 10, homework 50, up to four appointments. */
struct world {
	struct client	 cl[2];
	long long	 members[2];
	struct kase	 k;
	struct appt	 a[4];
	struct homework	 hw;
	struct msg	 m[256];
	struct snapshot	 s;
};

static void
date_of(const char *s, int *y, int *m, int *d)
{
	assert_int_equal(tz_parse_date(s, y, m, d), 0);
}

/* Homework from `from` to `to` (NULL: no end), every `every` days. */
static void
world(struct world *w, const char *from, const char *to, int every)
{
	memset(w, 0, sizeof(*w));
	w->cl[0] = (struct client){ .id = 1, .name = "Sam Taylor",
	    .email = "sam@example.org", .phone = "07700 900123",
	    .email_consent = 1, .sms_consent = 1 };
	w->cl[1] = (struct client){ .id = 2, .name = "Alex Morgan",
	    .email = "alex@example.org", .phone = "07700 900456",
	    .email_consent = 1, .sms_consent = 1 };
	w->members[0] = 1;
	w->members[1] = 2;
	w->k = (struct kase){ .id = 10, .label = "Sam & Alex",
	    .members = w->members, .nmembers = 2 };
	w->hw = (struct homework){ .id = 50, .case_id = 10,
	    .title = "Pause before replying", .prompt = "Breathe first.",
	    .every_days = every, .at = -1, .active = 1 };
	date_of(from, &w->hw.start_y, &w->hw.start_m, &w->hw.start_d);
	if (to != NULL) {
		w->hw.has_end = 1;
		date_of(to, &w->hw.end_y, &w->hw.end_m, &w->hw.end_d);
	}
	w->s.clients = w->cl;
	w->s.nclients = 2;
	w->s.cases = &w->k;
	w->s.ncases = 1;
	w->s.appts = w->a;
	w->s.hw = &w->hw;
	w->s.nhw = 1;
	w->s.msgs = w->m;
}

/* Appointments must stay sorted by id, as the store gives them. */
static void
book(struct world *w, const char *start, int cancelled)
{
	size_t i = w->s.nappts++;

	assert_true(i < 4);
	w->a[i] = (struct appt){ .id = 100 + (long long)i, .case_id = 10,
	    .starts_at = fx_utc(start), .duration_min = 60, .kind = KIND_SESSION,
	    .mode = MODE_IN_PERSON, .cancelled = cancelled };
}

/* The booked sessions, ascending, for plan_day_number. */
static size_t
sessions(const struct world *w, time_t *t)
{
	size_t n = 0;

	for (size_t i = 0; i < w->s.nappts; i++)
		if (!w->a[i].cancelled)
			t[n++] = w->a[i].starts_at;
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && t[j - 1] > t[j]; j--) {
			time_t x = t[j];

			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	return n;
}

static void
absorb(struct world *w, struct plan *p)
{
	for (size_t i = 0; i < p->nadd; i++) {
		struct msg *m = &w->m[w->s.nmsgs];

		assert_true(w->s.nmsgs < 256);
		*m = p->add[i];
		m->id = 1000 + (long long)w->s.nmsgs;
		w->s.nmsgs++;
	}
	free(p->add);
	p->add = NULL;
	p->nadd = 0;
}

static void
free_world(struct world *w)
{
	for (size_t i = 0; i < w->s.nmsgs; i++)
		msg_free(&w->m[i]);
}

static const struct msg *
row(const struct plan *p, const char *occ, long long client, enum chan ch)
{
	for (size_t i = 0; i < p->nadd; i++)
		if (p->add[i].client_id == client && p->add[i].channel == ch &&
		    p->add[i].occurrence != NULL &&
		    strcmp(p->add[i].occurrence, occ) == 0)
			return &p->add[i];
	return NULL;
}

/*
 * Plan and check: exactly the occurrences occ[] (NULL-terminated), each
 * due at due[] (UTC text), for both partners on both channels; day
 * numbers day1, day1 + 1, ... in order; plan_hw_next the following
 * occurrence where no session interrupts the schedule.
 */
static void
expect_from(struct world *w, time_t now, long horizon, const char *const *occ,
    const char *const *due, int day1)
{
	struct plan p;
	time_t st[4];
	size_t n, nocc = 0, nst = sessions(w, st);

	plan_run(&cf, &w->s, now, horizon, &p);
	while (occ[nocc] != NULL)
		nocc++;
	assert_int_equal(p.nadd, nocc * 4);
	assert_int_equal(p.nchg, 0);
	for (size_t i = 0; i < nocc; i++) {
		for (long long c = 1; c <= 2; c++)
			for (int ch = 0; ch < CHAN_N; ch++) {
				const struct msg *m = row(&p, occ[i], c, (enum chan)ch);

				if (m == NULL)
					fail_msg("no row for %s client %lld ch %d",
					    occ[i], c, ch);
				assert_string_equal(msg_purpose_name(m->purpose), "homework");
				assert_string_equal(msg_status_name(m->status), "pending");
				assert_int_equal(m->homework_id, 50);
				assert_int_equal(m->appointment_id, 0);
				assert_int_equal(m->due_at, fx_utc(due[i]));
			}
		assert_int_equal(plan_day_number(&cf, &w->hw, occ[i], st, nst),
		    (int)i + day1);
	}
	/* next of each but the last, where the schedule is every_days regular */
	for (n = 0; n + 1 < nocc; n++)
		if (w->s.nappts == 0)
			assert_int_equal(plan_hw_next(&cf, &w->hw, occ[n]),
			    fx_utc(due[n + 1]));
	plan_free(&p);
}

static void
expect(struct world *w, time_t now, long horizon, const char *const *occ,
    const char *const *due)
{
	expect_from(w, now, horizon, occ, due, 1);
}

static void
test_every_1_2_3_days(void **state)
{
	static const char *const o1[] = { "2026-11-04", "2026-11-05",
	    "2026-11-06", "2026-11-07", "2026-11-08", "2026-11-09", NULL };
	static const char *const d1[] = { "2026-11-04T19:00:00Z",
	    "2026-11-05T19:00:00Z", "2026-11-06T19:00:00Z",
	    "2026-11-07T19:00:00Z", "2026-11-08T19:00:00Z",
	    "2026-11-09T19:00:00Z" };
	static const char *const o2[] = { "2026-11-04", "2026-11-06",
	    "2026-11-08", NULL };
	static const char *const d2[] = { "2026-11-04T19:00:00Z",
	    "2026-11-06T19:00:00Z", "2026-11-08T19:00:00Z" };
	static const char *const o3[] = { "2026-11-04", "2026-11-07", NULL };
	static const char *const d3[] = { "2026-11-04T19:00:00Z",
	    "2026-11-07T19:00:00Z" };
	struct world w;
	time_t now = fx_utc("2026-11-04T08:00:00Z");

	(void)state;
	world(&w, "2026-11-04", "2026-11-09", 1);
	expect(&w, now, 30 * D, o1, d1);
	world(&w, "2026-11-04", "2026-11-09", 2);
	expect(&w, now, 30 * D, o2, d2);
	world(&w, "2026-11-04", "2026-11-09", 3);
	expect(&w, now, 30 * D, o3, d3);
	/* and plan_hw_next steps by every_days */
	assert_int_equal(plan_hw_next(&cf, &w.hw, "2026-11-07"),
	    fx_utc("2026-11-10T19:00:00Z"));
}

static void
test_month_and_year_ends(void **state)
{
	static const char *const o1[] = { "2026-01-30", "2026-01-31",
	    "2026-02-01", "2026-02-02", NULL };
	static const char *const d1[] = { "2026-01-30T19:00:00Z",
	    "2026-01-31T19:00:00Z", "2026-02-01T19:00:00Z",
	    "2026-02-02T19:00:00Z" };
	static const char *const o2[] = { "2026-12-30", "2027-01-01",
	    "2027-01-03", NULL };
	static const char *const d2[] = { "2026-12-30T19:00:00Z",
	    "2027-01-01T19:00:00Z", "2027-01-03T19:00:00Z" };
	static const char *const o3[] = { "2028-02-27", "2028-03-01", NULL };
	static const char *const d3[] = { "2028-02-27T19:00:00Z",
	    "2028-03-01T19:00:00Z" };
	struct world w;

	(void)state;
	world(&w, "2026-01-30", "2026-02-02", 1);
	expect(&w, fx_utc("2026-01-30T08:00:00Z"), 30 * D, o1, d1);
	world(&w, "2026-12-30", "2027-01-04", 2);
	expect(&w, fx_utc("2026-12-30T08:00:00Z"), 30 * D, o2, d2);
	/* 2028 is a leap year: 27 Feb + 3 days is 1 March */
	world(&w, "2028-02-27", "2028-03-02", 3);
	expect(&w, fx_utc("2028-02-27T08:00:00Z"), 30 * D, o3, d3);
	world(&w, "2026-01-31", NULL, 1);
	assert_int_equal(plan_hw_next(&cf, &w.hw, "2026-01-31"),
	    fx_utc("2026-02-01T19:00:00Z"));
	assert_int_equal(plan_hw_next(&cf, &w.hw, "2026-02-28"),
	    fx_utc("2026-03-01T19:00:00Z"));
}

static void
test_dst_wall_clock(void **state)
{
	/* Clocks go forward on Sunday 29 March 2026, back on 25 October. */
	static const char *const om[] = { "2026-03-27", "2026-03-28",
	    "2026-03-29", "2026-03-30", NULL };
	static const char *const dm[] = { "2026-03-27T19:00:00Z",
	    "2026-03-28T19:00:00Z", "2026-03-29T18:00:00Z",
	    "2026-03-30T18:00:00Z" };
	static const char *const oo[] = { "2026-10-23", "2026-10-24",
	    "2026-10-25", "2026-10-26", NULL };
	static const char *const doo[] = { "2026-10-23T18:00:00Z",
	    "2026-10-24T18:00:00Z", "2026-10-25T19:00:00Z",
	    "2026-10-26T19:00:00Z" };
	struct world w;

	(void)state;
	world(&w, "2026-03-27", "2026-03-30", 1);
	expect(&w, fx_utc("2026-03-27T08:00:00Z"), 30 * D, om, dm);
	world(&w, "2026-10-23", "2026-10-26", 1);
	expect(&w, fx_utc("2026-10-23T08:00:00Z"), 30 * D, oo, doo);
	/* A row's own at_time is wall-clock too. */
	world(&w, "2026-03-28", "2026-03-29", 1);
	w.hw.at = 7 * 60 + 30;
	{
		static const char *const o[] = { "2026-03-28", "2026-03-29", NULL };
		static const char *const d[] = { "2026-03-28T07:30:00Z",
		    "2026-03-29T06:30:00Z" };

		cf.quiet.channels[CHAN_SMS] = 0;	/* 07:30 is quiet on SMS */
		expect(&w, fx_utc("2026-03-28T06:00:00Z"), 30 * D, o, d);
		setup(state);
	}
}

static void
test_session_day_not_prompted_nor_counted(void **state)
{
	static const char *const o[] = { "2026-11-04", "2026-11-05",
	    "2026-11-07", "2026-11-08", NULL };
	static const char *const d[] = { "2026-11-04T19:00:00Z",
	    "2026-11-05T19:00:00Z", "2026-11-07T19:00:00Z",
	    "2026-11-08T19:00:00Z" };
	struct world w;
	time_t st[4];

	(void)state;
	world(&w, "2026-11-04", "2026-11-08", 1);
	book(&w, "2026-11-06T10:00:00Z", 0);
	expect(&w, fx_utc("2026-11-04T08:00:00Z"), 30 * D, o, d);

	/* A cancelled session frees its day again. */
	w.a[0].cancelled = 1;
	assert_int_equal(plan_day_number(&cf, &w.hw, "2026-11-07", st,
	    sessions(&w, st)), 4);

	/*
	 * The session's LOCAL day counts: 23:30Z on 6 July is 00:30 BST on
	 * the 7th, so the 6th is prompted and the 7th is not.
	 */
	world(&w, "2026-07-05", "2026-07-08", 1);
	book(&w, "2026-07-06T23:30:00Z", 0);
	{
		static const char *const o2[] = { "2026-07-05", "2026-07-06",
		    "2026-07-08", NULL };
		static const char *const d2[] = { "2026-07-05T18:00:00Z",
		    "2026-07-06T18:00:00Z", "2026-07-08T18:00:00Z" };

		expect(&w, fx_utc("2026-07-05T08:00:00Z"), 30 * D, o2, d2);
	}
}

static void
test_ends_on_inclusive(void **state)
{
	static const char *const o[] = { "2026-11-04", "2026-11-07",
	    "2026-11-10", NULL };
	static const char *const d[] = { "2026-11-04T19:00:00Z",
	    "2026-11-07T19:00:00Z", "2026-11-10T19:00:00Z" };
	static const char *const o1[] = { "2026-11-04", NULL };
	static const char *const d1[] = { "2026-11-04T19:00:00Z" };
	struct world w;

	(void)state;
	world(&w, "2026-11-04", "2026-11-10", 3);
	expect(&w, fx_utc("2026-11-04T08:00:00Z"), 30 * D, o, d);
	world(&w, "2026-11-04", "2026-11-09", 3);
	{
		static const char *const o2[] = { "2026-11-04", "2026-11-07", NULL };

		expect(&w, fx_utc("2026-11-04T08:00:00Z"), 30 * D, o2, d);
	}
	/* starts_on == ends_on: one prompt */
	world(&w, "2026-11-04", "2026-11-04", 1);
	expect(&w, fx_utc("2026-11-04T08:00:00Z"), 30 * D, o1, d1);
}

static void
test_until_next_session(void **state)
{
	static const char *const o[] = { "2026-11-04", "2026-11-05",
	    "2026-11-06", "2026-11-07", "2026-11-08", "2026-11-09", NULL };
	static const char *const d[] = { "2026-11-04T19:00:00Z",
	    "2026-11-05T19:00:00Z", "2026-11-06T19:00:00Z",
	    "2026-11-07T19:00:00Z", "2026-11-08T19:00:00Z",
	    "2026-11-09T19:00:00Z" };
	struct world w;

	(void)state;
	world(&w, "2026-11-04", NULL, 1);
	book(&w, "2026-11-03T10:00:00Z", 0);
	book(&w, "2026-11-10T10:00:00Z", 0);
	book(&w, "2026-11-17T10:00:00Z", 0);
	/* a cancelled session in between neither ends it nor blocks its day */
	book(&w, "2026-11-07T10:00:00Z", 1);
	expect(&w, fx_utc("2026-11-04T08:00:00Z"), 30 * D, o, d);

	/* Every 2 days up to, not including, the 10th. */
	world(&w, "2026-11-04", NULL, 2);
	book(&w, "2026-11-03T10:00:00Z", 0);
	book(&w, "2026-11-10T10:00:00Z", 0);
	{
		static const char *const o2[] = { "2026-11-04", "2026-11-06",
		    "2026-11-08", NULL };
		static const char *const d2[] = { "2026-11-04T19:00:00Z",
		    "2026-11-06T19:00:00Z", "2026-11-08T19:00:00Z" };

		expect(&w, fx_utc("2026-11-04T08:00:00Z"), 30 * D, o2, d2);
	}
}

static void
test_session_moved_earlier_cancels(void **state)
{
	struct world w;
	struct plan p;
	size_t cancelled = 0;

	(void)state;
	world(&w, "2026-11-04", NULL, 1);
	book(&w, "2026-11-03T10:00:00Z", 0);
	book(&w, "2026-11-10T10:00:00Z", 0);
	plan_run(&cf, &w.s, fx_utc("2026-11-04T08:00:00Z"), 8 * D, &p);
	assert_int_equal(p.nadd, 24);
	absorb(&w, &p);
	plan_free(&p);

	w.a[1].starts_at = fx_utc("2026-11-07T10:00:00Z");
	plan_run(&cf, &w.s, fx_utc("2026-11-04T09:00:00Z"), 8 * D, &p);
	assert_int_equal(p.nadd, 0);
	for (size_t i = 0; i < p.nchg; i++) {
		const struct msg *m = NULL;

		for (size_t j = 0; j < w.s.nmsgs; j++)
			if (w.m[j].id == p.chg[i].id)
				m = &w.m[j];
		assert_non_null(m);
		assert_string_equal(msg_status_name(p.chg[i].to), "cancelled");
		assert_true(strcmp(m->occurrence, "2026-11-07") >= 0);
		cancelled++;
	}
	assert_int_equal(cancelled, 12);	/* 7th, 8th, 9th x 2 x 2 */
	plan_free(&p);
	free_world(&w);
}

static void
test_missed_by_more_than_3h(void **state)
{
	static const char *const o[] = { "2026-11-04", "2026-11-05", NULL };
	static const char *const d[] = { "2026-11-04T19:00:00Z",
	    "2026-11-05T19:00:00Z" };
	static const char *const o2[] = { "2026-11-05", NULL };
	static const char *const d2[] = { "2026-11-05T19:00:00Z" };
	struct world w;
	struct msg m = { .id = 1, .purpose = PURPOSE_HOMEWORK, .homework_id = 50,
	    .client_id = 1, .channel = CHAN_EMAIL,
	    .recipient = "sam@example.org", .occurrence = "2026-11-04" };
	char *rcpt = NULL, why[128];
	time_t hold = 0;

	(void)state;
	world(&w, "2026-11-04", "2026-11-05", 1);
	/* Exactly 3 hours late: still planned (sent at once). */
	expect(&w, fx_utc("2026-11-04T22:00:00Z"), 30 * D, o, d);
	/* A second more: the 4th is lost, but still counted (the 5th is day 2). */
	expect_from(&w, fx_utc("2026-11-04T22:00:01Z"), 30 * D, o2, d2, 2);

	/* The same at send time. */
	m.due_at = fx_utc("2026-11-04T19:00:00Z");
	assert_int_equal(plan_recheck(&cf, &m, NULL, &w.k, &w.cl[0], &w.hw,
	    fx_utc("2026-11-04T21:59:00Z"), &rcpt, &hold, why, sizeof(why)),
	    PLAN_SEND);
	free(rcpt);
	assert_int_equal(plan_recheck(&cf, &m, NULL, &w.k, &w.cl[0], &w.hw,
	    fx_utc("2026-11-04T22:01:00Z"), &rcpt, &hold, why, sizeof(why)),
	    PLAN_SKIP);
	assert_null(rcpt);
	/* stopped, or the client now discreet on SMS: cancelled */
	w.hw.active = 0;
	assert_int_equal(plan_recheck(&cf, &m, NULL, &w.k, &w.cl[0], &w.hw,
	    m.due_at, &rcpt, &hold, why, sizeof(why)), PLAN_CANCEL);
	w.hw.active = 1;
	m.channel = CHAN_SMS;
	w.cl[0].discreet = 1;
	assert_int_equal(plan_recheck(&cf, &m, NULL, &w.k, &w.cl[0], &w.hw,
	    m.due_at, &rcpt, &hold, why, sizeof(why)), PLAN_CANCEL);
}

static void
test_discreet_and_consent(void **state)
{
	struct world w;
	struct plan p;

	(void)state;
	world(&w, "2026-11-04", "2026-11-04", 1);
	w.cl[1].discreet = 1;		/* email only */
	w.cl[0].sms_consent = 0;	/* no SMS */
	plan_run(&cf, &w.s, fx_utc("2026-11-04T08:00:00Z"), 8 * D, &p);
	assert_int_equal(p.nadd, 2);
	assert_non_null(row(&p, "2026-11-04", 1, CHAN_EMAIL));
	assert_non_null(row(&p, "2026-11-04", 2, CHAN_EMAIL));
	plan_free(&p);
	w.k.closed = 1;
	plan_run(&cf, &w.s, fx_utc("2026-11-04T08:00:00Z"), 8 * D, &p);
	assert_int_equal(p.nadd, 0);
	plan_free(&p);
}

static void
test_idempotent_and_stopped(void **state)
{
	struct world w;
	struct plan p;
	time_t now = fx_utc("2026-11-04T08:00:00Z");

	(void)state;
	world(&w, "2026-11-04", "2026-11-06", 1);
	plan_run(&cf, &w.s, now, 8 * D, &p);
	assert_int_equal(p.nadd, 12);
	absorb(&w, &p);
	plan_free(&p);
	plan_run(&cf, &w.s, now + H, 8 * D, &p);
	assert_int_equal(p.nadd, 0);
	assert_int_equal(p.nchg, 0);
	plan_free(&p);
	/* Stopped homework is not in the snapshot: its pending rows go. */
	w.s.nhw = 0;
	plan_run(&cf, &w.s, now + H, 8 * D, &p);
	assert_int_equal(p.nadd, 0);
	assert_int_equal(p.nchg, 12);
	for (size_t i = 0; i < p.nchg; i++)
		assert_string_equal(msg_status_name(p.chg[i].to), "cancelled");
	plan_free(&p);
	free_world(&w);
}

/*
 * Apply the plan's re-timings to the world's rows; how many there were.
 * Each moves a row to want's wall-clock minute of its own day (UTC in
 * November).
 */
static size_t
retime(struct world *w, const struct plan *p, int want)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nchg; i++) {
		const struct msg_change *c = &p->chg[i];

		if (c->due == 0)
			continue;
		assert_int_equal(c->to, MSG_PENDING);
		assert_int_equal(c->due % D, (time_t)want * 60);
		for (size_t j = 0; j < w->s.nmsgs; j++)
			if (w->m[j].id == c->id) {
				assert_int_equal(c->due / D, w->m[j].due_at / D);
				w->m[j].due_at = c->due;
			}
		n++;
	}
	return n;
}

/*
 * homework.at, or the homework's own at_time, changed after its prompts
 * were planned: the pending ones go at the new time (the occurrence's key
 * kept them from being planned again, so they went at the old one).  One
 * already due, or tried once, stays; planning again moves nothing.
 */
static void
test_prompt_time_changed(void **state)
{
	struct world w;
	struct plan p;
	time_t now = fx_utc("2026-11-04T08:00:00Z");

	(void)state;
	world(&w, "2026-11-04", "2026-11-06", 1);
	plan_run(&cf, &w.s, now, 8 * D, &p);
	assert_int_equal(p.nadd, 12);
	absorb(&w, &p);
	plan_free(&p);
	cf.homework.at = 20 * 60;
	plan_run(&cf, &w.s, now + H, 8 * D, &p);
	assert_int_equal(p.nadd, 0);
	assert_int_equal(retime(&w, &p, 20 * 60), 12);
	assert_int_equal(p.nchg, 12);
	plan_free(&p);
	plan_run(&cf, &w.s, now + H, 8 * D, &p);
	assert_int_equal(p.nchg, 0);
	plan_free(&p);
	/* the homework's own time wins over homework.at */
	w.hw.at = 18 * 60 + 30;
	w.m[11].attempts = 1;		/* waiting for a retry: stays */
	plan_run(&cf, &w.s, now + H, 8 * D, &p);
	assert_int_equal(retime(&w, &p, 18 * 60 + 30), 11);
	plan_free(&p);
	/* at 18:45 on the first day its prompts (18:30) are due: they stay */
	w.hw.at = 19 * 60;
	plan_run(&cf, &w.s, fx_utc("2026-11-04T18:45:00Z"), 8 * D, &p);
	assert_int_equal(retime(&w, &p, 19 * 60), 7);
	plan_free(&p);
	cf.homework.at = 19 * 60;
	free_world(&w);
}

static void
test_horizon(void **state)
{
	static const char *const o[] = { "2026-11-04", "2026-11-05", NULL };
	static const char *const d[] = { "2026-11-04T19:00:00Z",
	    "2026-11-05T19:00:00Z" };
	struct world w;

	(void)state;
	world(&w, "2026-11-04", "2026-11-30", 1);
	/* up to now + horizon, inclusive */
	expect(&w, fx_utc("2026-11-04T08:00:00Z"),
	    fx_utc("2026-11-05T19:00:00Z") - fx_utc("2026-11-04T08:00:00Z"), o, d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_every_1_2_3_days, setup),
		cmocka_unit_test_setup(test_month_and_year_ends, setup),
		cmocka_unit_test_setup(test_dst_wall_clock, setup),
		cmocka_unit_test_setup(test_session_day_not_prompted_nor_counted, setup),
		cmocka_unit_test_setup(test_ends_on_inclusive, setup),
		cmocka_unit_test_setup(test_until_next_session, setup),
		cmocka_unit_test_setup(test_session_moved_earlier_cancels, setup),
		cmocka_unit_test_setup(test_missed_by_more_than_3h, setup),
		cmocka_unit_test_setup(test_discreet_and_consent, setup),
		cmocka_unit_test_setup(test_idempotent_and_stopped, setup),
		cmocka_unit_test_setup(test_horizon, setup),
		cmocka_unit_test_setup(test_prompt_time_changed, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
