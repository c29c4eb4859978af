/*
 * The planner's rules (CONTRACT.md "Behaviour every test relies on"),
 * checked on hand-built snapshots: no database, no clock.
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
#include "policy/retry.h"
#include "store/store.h"
#include "base/tz.h"
#include "base/util.h"
#include "fixture.h"

#define H 3600L
#define D 86400L

static struct conf_rule rules[4];
static struct conf cf;

static void
rule(size_t i, long before, long after, enum chan ch)
{
	memset(&rules[i], 0, sizeof(rules[i]));
	rules[i].before = before;
	rules[i].after = after;
	rules[i].channel = ch;
	snprintf(rules[i].key, sizeof(rules[i].key), "%c%ld", before ? 'b' : 'a',
	    before ? before : after);
}

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(fx_tz_london(), 0);
	fx_conf_practice(&cf);
	rule(0, 48 * H, 0, CHAN_EMAIL);
	rule(1, 3 * H, 0, CHAN_SMS);
	cf.rules = rules;
	cf.nrules = 2;
	cf.notify_cancellation = 1;
	return 0;
}

/* A couple (clients 1, 2) in case 10, and one appointment 100. */
struct world {
	struct client	 cl[3];
	long long	 members[2];
	struct kase	 k;
	struct appt	 a;
	struct msg	 m[16];
	struct snapshot	 s;
};

static void
world(struct world *w, const char *start)
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
	w->a = (struct appt){ .id = 100, .case_id = 10, .starts_at = fx_utc(start),
	    .duration_min = 60, .kind = KIND_SESSION, .mode = MODE_IN_PERSON };
	w->s.clients = w->cl;
	w->s.nclients = 2;
	w->s.cases = &w->k;
	w->s.ncases = 1;
	w->s.appts = &w->a;
	w->s.nappts = 1;
	w->s.msgs = w->m;
}

/* Turn what a plan added into existing rows, as the store would. */
static void
absorb(struct world *w, const struct plan *p)
{
	for (size_t i = 0; i < p->nadd; i++) {
		struct msg *m = &w->m[w->s.nmsgs];

		*m = p->add[i];
		m->id = 1000 + (long long)w->s.nmsgs;
		w->s.nmsgs++;
	}
	/* the strings now belong to w->m; plan_free must not free them */
	free(((struct plan *)p)->add);
	((struct plan *)p)->add = NULL;
	((struct plan *)p)->nadd = 0;
}

static void
free_world(struct world *w)
{
	for (size_t i = 0; i < w->s.nmsgs; i++)
		msg_free(&w->m[i]);
}

static size_t
count(const struct plan *p, const char *status, enum chan ch)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nadd; i++)
		if (strcmp(msg_status_name(p->add[i].status), status) == 0 && p->add[i].channel == ch)
			n++;
	return n;
}

static void
test_couple_each_partner(void **state)
{
	struct world w;
	struct plan p;

	(void)state;
	world(&w, "2026-12-03T14:00:00Z");
	plan_run(&cf, &w.s, fx_utc("2026-11-30T09:00:00Z"), 8 * D, &p);
	assert_int_equal(p.nadd, 4);
	assert_int_equal(count(&p, "pending", CHAN_EMAIL), 2);
	assert_int_equal(count(&p, "pending", CHAN_SMS), 2);
	for (size_t i = 0; i < p.nadd; i++) {
		const struct msg *m = &p.add[i];

		assert_string_equal(msg_purpose_name(m->purpose), "reminder");
		if (m->channel == CHAN_EMAIL) {
			assert_int_equal(m->due_at, fx_utc("2026-12-01T14:00:00Z"));
			assert_string_equal(m->recipient, m->client_id == 1 ?
			    "sam@example.org" : "alex@example.org");
		} else {
			assert_int_equal(m->due_at, fx_utc("2026-12-03T11:00:00Z"));
			assert_string_equal(m->recipient, m->client_id == 1 ?
			    "+447700900123" : "+447700900456");
		}
	}
	plan_free(&p);
}

static void
test_idempotent(void **state)
{
	struct world w;
	struct plan p;
	time_t now = fx_utc("2026-11-30T09:00:00Z");

	(void)state;
	world(&w, "2026-12-03T14:00:00Z");
	plan_run(&cf, &w.s, now, 8 * D, &p);
	absorb(&w, &p);
	plan_free(&p);
	plan_run(&cf, &w.s, now, 8 * D, &p);
	assert_int_equal(p.nadd, 0);
	assert_int_equal(p.nchg, 0);
	plan_free(&p);
	free_world(&w);
}

static void
test_consent_and_optout(void **state)
{
	struct world w;
	struct plan p;

	(void)state;
	world(&w, "2026-12-03T14:00:00Z");
	w.cl[0].sms_consent = 0;	/* Sam: email only */
	w.cl[1].opted_out = 1;		/* Alex: nothing */
	plan_run(&cf, &w.s, fx_utc("2026-11-30T09:00:00Z"), 8 * D, &p);
	assert_int_equal(p.nadd, 1);
	assert_int_equal(p.add[0].client_id, 1);
	assert_int_equal(p.add[0].channel, CHAN_EMAIL);
	plan_free(&p);

	w.cl[1].opted_out = 0;
	w.cl[1].phone = NULL;		/* one partner's missing phone blocks nothing */
	plan_run(&cf, &w.s, fx_utc("2026-11-30T09:00:00Z"), 8 * D, &p);
	assert_int_equal(count(&p, "pending", CHAN_EMAIL), 2);
	assert_int_equal(count(&p, "pending", CHAN_SMS), 0);
	plan_free(&p);

	w.k.closed = 1;
	plan_run(&cf, &w.s, fx_utc("2026-11-30T09:00:00Z"), 8 * D, &p);
	assert_int_equal(p.nadd, 0);
	plan_free(&p);
}

static void
test_landline_gets_no_sms(void **state)
{
	struct world w;
	struct plan p;

	(void)state;
	world(&w, "2026-12-03T14:00:00Z");
	w.cl[0].phone = "01384 000000";
	plan_run(&cf, &w.s, fx_utc("2026-11-30T09:00:00Z"), 8 * D, &p);
	/* The row exists so that it fails with a reason and falls back to email. */
	assert_int_equal(count(&p, "pending", CHAN_SMS), 2);
	for (size_t i = 0; i < p.nadd; i++)
		if (p.add[i].channel == CHAN_SMS && p.add[i].client_id == 1)
			assert_string_equal(p.add[i].recipient, "01384 000000");
	plan_free(&p);
	{
		struct msg m = { .id = 1, .purpose = PURPOSE_REMINDER,
		    .appointment_id = 100, .client_id = 1, .channel = CHAN_SMS,
		    .recipient = "01384 000000", .rule = "b10800",
		    .appt_start = w.a.starts_at, .due_at = w.a.starts_at - 3 * H };
		char *rcpt = NULL, why[160];
		time_t hold = 0;

		assert_int_equal(plan_recheck(&cf, &m, &w.a, &w.k, &w.cl[0], NULL,
		    m.due_at, &rcpt, &hold, why, sizeof(why)), PLAN_FAIL);
		assert_non_null(strstr(why, "landline"));
		w.cl[0].phone = NULL;	/* no phone at all: skipped, nothing to fall back from */
		assert_int_equal(plan_recheck(&cf, &m, &w.a, &w.k, &w.cl[0], NULL,
		    m.due_at, &rcpt, &hold, why, sizeof(why)), PLAN_SKIP);
	}
}

/*
 * A pass over w after its appointment's kind changed: both email rows
 * change from -> to (why: the reason, NULL none), applied to w.
 */
static void
kind_changed(struct world *w, enum msg_status from, enum msg_status to,
    const char *why)
{
	struct plan p;

	plan_run(&cf, &w->s, fx_utc("2026-11-30T10:00:00Z"), 8 * D, &p);
	assert_int_equal(p.nadd, 0);
	assert_int_equal(p.nchg, 2);
	for (size_t i = 0; i < p.nchg; i++) {
		assert_int_equal(p.chg[i].from, from);
		assert_int_equal(p.chg[i].to, to);
		if (why == NULL)
			assert_null(p.chg[i].reason);
		else
			assert_string_equal(p.chg[i].reason, why);
		for (size_t j = 0; j < w->s.nmsgs; j++)
			if (w->m[j].id == p.chg[i].id) {
				w->m[j].status = to;
				free(w->m[j].last_error);
				w->m[j].last_error = why ? xstrdup(why) : NULL;
			}
	}
	plan_free(&p);
}

static void
test_kinds_limit_rules(void **state)
{
	struct world w;
	struct plan p;
	enum appt_kind kinds[] = { KIND_ASSESSMENT };

	(void)state;
	world(&w, "2026-12-03T14:00:00Z");
	rules[0].kinds = kinds;
	rules[0].nkinds = 1;
	plan_run(&cf, &w.s, fx_utc("2026-11-30T09:00:00Z"), 8 * D, &p);
	assert_int_equal(count(&p, "pending", CHAN_EMAIL), 0);
	plan_free(&p);
	w.a.kind = KIND_ASSESSMENT;
	plan_run(&cf, &w.s, fx_utc("2026-11-30T09:00:00Z"), 8 * D, &p);
	assert_int_equal(count(&p, "pending", CHAN_EMAIL), 2);
	absorb(&w, &p);
	plan_free(&p);
	/*
	 * Booked as a session after all: the rule is still in the config,
	 * for assessments, and the reason says so; as an assessment again,
	 * the rows come back.
	 */
	w.a.kind = KIND_SESSION;
	kind_changed(&w, MSG_PENDING, MSG_CANCELLED,
	    "its rule does not cover this kind of appointment");
	w.a.kind = KIND_ASSESSMENT;
	kind_changed(&w, MSG_CANCELLED, MSG_PENDING, NULL);
	free_world(&w);
	rules[0].kinds = NULL;
	rules[0].nkinds = 0;
}

static void
test_late_booking_closest_goes(void **state)
{
	struct world w;
	struct plan p;

	(void)state;
	/* 48h, 24h and 3h email rules; booked 10h ahead. */
	rule(0, 48 * H, 0, CHAN_EMAIL);
	rule(1, 24 * H, 0, CHAN_EMAIL);
	rule(2, 3 * H, 0, CHAN_EMAIL);
	cf.nrules = 3;
	world(&w, "2026-12-03T14:00:00Z");
	w.s.nclients = 1;
	w.k.nmembers = 1;
	plan_run(&cf, &w.s, fx_utc("2026-12-03T04:00:00Z"), 8 * D, &p);
	assert_int_equal(p.nadd, 3);
	for (size_t i = 0; i < p.nadd; i++) {
		const char *want = strcmp(p.add[i].rule, "b86400") == 0 ? "pending" :
		    "skipped";

		if (strcmp(p.add[i].rule, "b10800") == 0)
			want = "pending";	/* not yet due */
		assert_string_equal(msg_status_name(p.add[i].status), want);
	}
	plan_free(&p);
	setup(state);
}

/*
 * Booked at 22:00 on Wednesday for Thursday 10:00, SMS 48h and 3h, quiet
 * 21:00-08:00: the 48h one is overdue and held to 08:00, when the 3h one
 * (07:00, too late for 20:59) goes too.  CONTRACT.md "Quiet hours": the
 * late booking rules apply to that due time, so only the closer one goes;
 * before, the client got both at 08:00.  Out of quiet hours, as before.
 */
static void
test_late_booking_in_quiet_hours_closest_goes(void **state)
{
	struct world w;
	struct plan p;

	(void)state;
	rule(0, 48 * H, 0, CHAN_SMS);
	rule(1, 3 * H, 0, CHAN_SMS);
	world(&w, "2026-12-03T10:00:00Z");
	w.s.nclients = 1;
	w.k.nmembers = 1;
	plan_run(&cf, &w.s, fx_utc("2026-12-02T22:00:00Z"), 8 * D, &p);
	assert_int_equal(p.nadd, 2);
	for (size_t i = 0; i < p.nadd; i++) {
		if (strcmp(p.add[i].rule, "b172800") == 0) {
			assert_string_equal(msg_status_name(p.add[i].status),
			    "skipped");
			assert_string_equal(p.add[i].last_error, "overdue, "
			    "superseded by a reminder closer to the appointment");
			continue;
		}
		assert_string_equal(msg_status_name(p.add[i].status), "pending");
		assert_int_equal(p.add[i].due_at, fx_utc("2026-12-03T08:00:00Z"));
	}
	plan_free(&p);
	/* booked at 20:00: the 48h one goes now, the 3h one at 20:59 */
	plan_run(&cf, &w.s, fx_utc("2026-12-02T20:00:00Z"), 8 * D, &p);
	assert_int_equal(count(&p, "pending", CHAN_SMS), 2);
	plan_free(&p);
	setup(state);
}

static void
test_too_late_all_skipped(void **state)
{
	struct world w;
	struct plan p;

	(void)state;
	world(&w, "2026-12-03T14:00:00Z");
	plan_run(&cf, &w.s, fx_utc("2026-12-03T13:30:00Z"), 8 * D, &p);
	assert_int_equal(p.nadd, 4);
	assert_int_equal(count(&p, "skipped", CHAN_EMAIL), 2);
	assert_int_equal(count(&p, "skipped", CHAN_SMS), 2);
	for (size_t i = 0; i < p.nadd; i++)
		assert_string_equal(p.add[i].last_error, "overdue, and the "
		    "appointment is less than late_limit away");
	plan_free(&p);
	/*
	 * Planned days ahead, then nudged was down until after the start: the
	 * rows still pending are skipped, and the reason says it began.
	 */
	world(&w, "2026-12-03T14:00:00Z");
	plan_run(&cf, &w.s, fx_utc("2026-11-28T09:00:00Z"), 8 * D, &p);
	absorb(&w, &p);
	plan_free(&p);
	plan_run(&cf, &w.s, fx_utc("2026-12-03T14:10:00Z"), 8 * D, &p);
	assert_int_equal(p.nchg, 4);
	for (size_t i = 0; i < p.nchg; i++) {
		assert_int_equal(p.chg[i].to, MSG_SKIPPED);
		assert_string_equal(p.chg[i].reason, "overdue, and the "
		    "appointment has already started");
	}
	plan_free(&p);
	free_world(&w);
}

static void
test_overdue_within_grace_not_skipped(void **state)
{
	struct world w;
	struct plan p;

	(void)state;
	world(&w, "2026-12-03T14:00:00Z");
	/* 59 s after the 3h SMS is due: not overdue. */
	plan_run(&cf, &w.s, fx_utc("2026-12-03T11:00:59Z"), 8 * D, &p);
	assert_int_equal(count(&p, "pending", CHAN_SMS), 2);
	/* the 48h email is long overdue but it is the only email: it goes */
	assert_int_equal(count(&p, "pending", CHAN_EMAIL), 2);
	plan_free(&p);
}

/* A pending first attempt of rule on ch for client c, as a reload leaves it. */
static struct msg *
left(struct world *w, long long c, enum chan ch, const char *rule)
{
	struct msg *m = &w->m[w->s.nmsgs];

	*m = (struct msg){ .id = 2000 + (long long)w->s.nmsgs,
	    .purpose = PURPOSE_REMINDER, .appointment_id = w->a.id,
	    .client_id = c, .channel = ch, .status = MSG_PENDING,
	    .recipient = xstrdup(ch == CHAN_SMS ? "+447700900123" :
	    "sam@example.org"), .rule = xstrdup(rule),
	    .appt_start = w->a.starts_at, .due_at = w->a.starts_at - 3 * H };
	w->s.nmsgs++;
	return m;
}

/* Whether the plan cancels row id because its rule left the config. */
static int
gone(const struct plan *p, long long id)
{
	for (size_t i = 0; i < p->nchg; i++)
		if (p->chg[i].id == id && p->chg[i].to == MSG_CANCELLED &&
		    strcmp(p->chg[i].reason, "its rule is no longer in the "
		    "config") == 0)
			return 1;
	return 0;
}

/*
 * A rule is its lead and its channel (nudged.conf(5)): with rules 48h
 * email and 3h SMS, a 48h SMS row is a rule's that is gone, and an email
 * row of the 3h lead is kept only as a failed 3h SMS's fallback
 * (dl_fallback gives it that rule's key), while fallback_email is on.
 */
static void
test_rule_gone_by_channel(void **state)
{
	struct world w;
	struct plan p;
	time_t now = fx_utc("2026-12-01T09:00:00Z");
	long long sms48, fb, email3;

	(void)state;
	world(&w, "2026-12-03T14:00:00Z");
	plan_run(&cf, &w.s, now, 8 * D, &p);
	absorb(&w, &p);
	plan_free(&p);
	for (size_t i = 0; i < w.s.nmsgs; i++)
		if (w.m[i].channel == CHAN_SMS && w.m[i].client_id == 1)
			w.m[i].status = MSG_FAILED;	/* its fallback below */
	sms48 = left(&w, 1, CHAN_SMS, "b172800")->id;
	fb = left(&w, 1, CHAN_EMAIL, "b10800")->id;
	email3 = left(&w, 2, CHAN_EMAIL, "b10800")->id;
	cf.sms.fallback_email = 1;
	plan_run(&cf, &w.s, now, 8 * D, &p);
	assert_true(gone(&p, sms48));
	assert_false(gone(&p, fb));
	assert_true(gone(&p, email3));
	plan_free(&p);
	cf.sms.fallback_email = 0;
	plan_run(&cf, &w.s, now, 8 * D, &p);
	assert_true(gone(&p, fb));
	plan_free(&p);
	free_world(&w);
}

/* The due times the plan moves, and to what: how many, each *due. */
static size_t
retimed(const struct plan *p, time_t *due)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nchg; i++)
		if (p->chg[i].due != 0) {
			assert_int_equal(p->chg[i].to, MSG_PENDING);
			*due = p->chg[i].due;
			n++;
		}
	return n;
}

/*
 * Quiet hours added after a reminder was planned: it goes a minute before
 * they begin, as if planned under them, not held to their end (then too
 * close to an 08:30 appointment to go at all).  Planning again moves
 * nothing; nor does it move a row already held to their end.
 */
static void
test_quiet_hours_added_move_pending(void **state)
{
	struct world w;
	struct plan p;
	time_t due = 0;

	(void)state;
	world(&w, "2026-12-03T08:30:00Z");	/* the 3h SMS: 05:30 */
	cf.quiet.channels[CHAN_SMS] = 0;
	plan_run(&cf, &w.s, fx_utc("2026-12-01T09:00:00Z"), 8 * D, &p);
	absorb(&w, &p);
	plan_free(&p);
	cf.quiet.channels[CHAN_SMS] = 1;
	plan_run(&cf, &w.s, fx_utc("2026-12-02T12:30:00Z"), 8 * D, &p);
	assert_int_equal(retimed(&p, &due), 2);
	assert_int_equal(due, fx_utc("2026-12-02T20:59:00Z"));
	plan_free(&p);
	for (size_t i = 0; i < w.s.nmsgs; i++)
		if (w.m[i].channel == CHAN_SMS)
			w.m[i].due_at = due;
	plan_run(&cf, &w.s, fx_utc("2026-12-02T12:31:00Z"), 8 * D, &p);
	assert_int_equal(retimed(&p, &due), 0);
	plan_free(&p);
	/* planned after 20:59: held to 08:00, and left there */
	for (size_t i = 0; i < w.s.nmsgs; i++)
		if (w.m[i].channel == CHAN_SMS)
			w.m[i].due_at = fx_utc("2026-12-03T08:00:00Z");
	plan_run(&cf, &w.s, fx_utc("2026-12-02T22:00:00Z"), 8 * D, &p);
	assert_int_equal(retimed(&p, &due), 0);
	plan_free(&p);
	free_world(&w);
}

/*
 * A row the claim held for quiet hours (store_mark_hold: its due time is
 * their end, CONTRACT.md "Quiet hours") stays held: its rule's time, 20:00
 * (nudged was down then), is past, and moving it back there made it due
 * again at once, for the claim to hold it again: every pass that read the
 * appointment changed the row twice ("planning any number of times
 * changes nothing that is already planned").
 */
static void
test_requiet_leaves_claim_held_row(void **state)
{
	struct world w;
	struct plan p;
	time_t due = 0;

	(void)state;
	world(&w, "2026-12-03T10:00:00Z");
	rule(1, 14 * H, 0, CHAN_SMS);		/* 20:00 Wednesday */
	plan_run(&cf, &w.s, fx_utc("2026-12-01T09:00:00Z"), 8 * D, &p);
	absorb(&w, &p);
	plan_free(&p);
	for (size_t i = 0; i < w.s.nmsgs; i++)
		if (w.m[i].channel == CHAN_SMS) {
			assert_int_equal(w.m[i].due_at,
			    fx_utc("2026-12-02T20:00:00Z"));
			/* claimed at 22:00 (down till then): held to 08:00 */
			w.m[i].due_at = fx_utc("2026-12-03T08:00:00Z");
		}
	plan_run(&cf, &w.s, fx_utc("2026-12-02T22:10:00Z"), 8 * D, &p);
	assert_int_equal(retimed(&p, &due), 0);
	plan_free(&p);
	/*
	 * Quiet hours now end at 07:00: at 07:30 the hold to 08:00 is for
	 * hours no longer quiet, and the rows are due at their rule's time,
	 * overdue (plan_overdue lets each go: one per client); taken out
	 * altogether at 23:00, likewise.
	 */
	cf.quiet.to = 7 * 60;
	plan_run(&cf, &w.s, fx_utc("2026-12-03T06:30:00Z"), 8 * D, &p);
	assert_int_equal(retimed(&p, &due), 0);
	plan_free(&p);
	plan_run(&cf, &w.s, fx_utc("2026-12-03T07:30:00Z"), 8 * D, &p);
	assert_int_equal(retimed(&p, &due), 2);
	assert_int_equal(p.nchg, 2);
	assert_int_equal(due, fx_utc("2026-12-02T20:00:00Z"));
	plan_free(&p);
	cf.quiet.to = 8 * 60;
	cf.quiet.channels[CHAN_SMS] = 0;
	plan_run(&cf, &w.s, fx_utc("2026-12-02T23:00:00Z"), 8 * D, &p);
	assert_int_equal(retimed(&p, &due), 2);
	assert_int_equal(p.nchg, 2);
	assert_int_equal(due, fx_utc("2026-12-02T20:00:00Z"));
	plan_free(&p);
	cf.quiet.channels[CHAN_SMS] = 1;
	free_world(&w);
}

/*
 * Sam alone, one appointment at start, SMS rules of lead far (rule 0) and
 * near (rule 1), planned at planned and absorbed into w.  *far_id and
 * *near_id (may be NULL) get the two rows' ids.
 */
static void
sms_pair(struct world *w, const char *start, long far, long near,
    const char *planned, long long *far_id, long long *near_id)
{
	struct plan p;

	rule(0, far, 0, CHAN_SMS);
	rule(1, near, 0, CHAN_SMS);
	world(w, start);
	w->s.nclients = 1;
	w->k.nmembers = 1;
	plan_run(&cf, &w->s, fx_utc(planned), 8 * D, &p);
	assert_int_equal(p.nadd, 2);
	absorb(w, &p);
	plan_free(&p);
	for (size_t i = 0; i < w->s.nmsgs; i++) {
		long long *id = plan_rule_before(w->m[i].rule) == far ? far_id :
		    near_id;

		if (id != NULL)
			*id = w->m[i].id;
	}
}

/*
 * Two reminders both held to 08:00 (claimed inside quiet hours while
 * nudged was down), then the quiet hours taken out at 23:00: both rules'
 * times have passed, so they are overdue at once and only the closer
 * goes (CONTRACT.md "Late booking and downtime").  The re-timing moves
 * both back to their rules' times, and plan_overdue sees those times in
 * the same pass (plan_due).
 */
static void
test_released_rows_judged_overdue_together(void **state)
{
	struct world w;
	struct plan p;
	size_t skipped = 0, retimed = 0;

	(void)state;
	sms_pair(&w, "2026-12-03T10:00:00Z", 24 * H, 12 * H,
	    "2026-12-01T09:00:00Z", NULL, NULL);
	for (size_t i = 0; i < w.s.nmsgs; i++)
		w.m[i].due_at = fx_utc("2026-12-03T08:00:00Z");
	cf.quiet.channels[CHAN_SMS] = 0;
	plan_run(&cf, &w.s, fx_utc("2026-12-02T23:00:00Z"), 8 * D, &p);
	for (size_t i = 0; i < p.nchg; i++) {
		const struct msg *m = NULL;

		for (size_t j = 0; j < w.s.nmsgs; j++)
			if (w.m[j].id == p.chg[i].id)
				m = &w.m[j];
		assert_non_null(m);
		if (p.chg[i].to == MSG_SKIPPED) {
			assert_string_equal(m->rule, "b86400");
			skipped++;
		} else {
			assert_int_equal(p.chg[i].to, MSG_PENDING);
			assert_int_equal(p.chg[i].due, w.a.starts_at -
			    plan_rule_before(m->rule));
			retimed++;
		}
	}
	assert_int_equal(skipped, 1);
	assert_int_equal(retimed, 2);
	plan_free(&p);
	free_world(&w);
	setup(state);
}

static void
test_cancel_and_notice(void **state)
{
	struct world w;
	struct plan p;
	time_t now = fx_utc("2026-12-02T09:00:00Z");
	size_t notices = 0, cancelled = 0;

	(void)state;
	world(&w, "2026-12-03T14:00:00Z");
	plan_run(&cf, &w.s, now, 8 * D, &p);
	absorb(&w, &p);
	plan_free(&p);
	/* the 48h emails went out */
	for (size_t i = 0; i < w.s.nmsgs; i++)
		if (w.m[i].channel == CHAN_EMAIL) {
			w.m[i].status = MSG_SENT;
		}
	w.a.cancelled = 1;
	plan_run(&cf, &w.s, now, 8 * D, &p);
	for (size_t i = 0; i < p.nadd; i++) {
		assert_string_equal(msg_purpose_name(p.add[i].purpose), "cancellation");
		assert_int_equal(p.add[i].channel, CHAN_EMAIL);
		notices++;
	}
	for (size_t i = 0; i < p.nchg; i++) {
		assert_string_equal(msg_status_name(p.chg[i].to), "cancelled");
		cancelled++;
	}
	assert_int_equal(notices, 2);
	assert_int_equal(cancelled, 2);		/* the pending SMS */
	absorb(&w, &p);
	plan_free(&p);
	plan_run(&cf, &w.s, now, 8 * D, &p);
	assert_int_equal(p.nadd, 0);
	plan_free(&p);

	/* turned off while the notices wait (held by quiet hours): they stay */
	cf.notify_cancellation = 0;
	plan_run(&cf, &w.s, now, 8 * D, &p);
	cancelled = 0;
	for (size_t i = 0; i < p.nchg; i++) {
		assert_int_equal(p.chg[i].to, MSG_CANCELLED);
		if (strcmp(p.chg[i].reason, "notify_cancellation is off") == 0)
			cancelled++;
		else	/* absorb keeps the SMS pending: cancelled again */
			assert_string_equal(p.chg[i].reason,
			    "appointment cancelled");
	}
	assert_int_equal(cancelled, 2);
	plan_free(&p);
	for (size_t i = w.s.nmsgs; i-- > 0; )
		if (w.m[i].purpose == PURPOSE_CANCELLATION) {
			msg_free(&w.m[i]);
			w.s.nmsgs--;
		}
	plan_run(&cf, &w.s, now, 8 * D, &p);
	assert_int_equal(p.nadd, 0);
	plan_free(&p);
	cf.notify_cancellation = 1;
	free_world(&w);
}

static void
test_move_replans_without_notice(void **state)
{
	struct world w;
	struct plan p;
	time_t now = fx_utc("2026-12-02T09:00:00Z");
	size_t fresh = 0;

	(void)state;
	world(&w, "2026-12-03T14:00:00Z");
	plan_run(&cf, &w.s, now, 8 * D, &p);
	absorb(&w, &p);
	plan_free(&p);
	for (size_t i = 0; i < w.s.nmsgs; i++)
		if (w.m[i].channel == CHAN_EMAIL) {
			w.m[i].status = MSG_SENT;
		}
	w.a.starts_at = fx_utc("2026-12-10T14:00:00Z");
	plan_run(&cf, &w.s, now, 10 * D, &p);
	for (size_t i = 0; i < p.nadd; i++) {
		assert_string_equal(msg_purpose_name(p.add[i].purpose), "reminder");
		assert_int_equal(p.add[i].appt_start, w.a.starts_at);
		fresh++;
	}
	assert_int_equal(fresh, 4);
	assert_int_equal(p.nchg, 2);	/* the old pending SMS */
	for (size_t i = 0; i < p.nchg; i++)
		assert_string_equal(p.chg[i].reason, "appointment moved");
	plan_free(&p);
	free_world(&w);
}

/* Issue 9: a 'moved' notice to those reminded, once per new state. */
static void
test_moved_notice(void **state)
{
	struct world w;
	struct plan p;
	time_t now = fx_utc("2026-12-02T09:00:00Z");
	size_t moved = 0;
	char *rule1 = NULL;

	(void)state;
	cf.notify_move = 1;
	world(&w, "2026-12-03T14:00:00Z");
	plan_run(&cf, &w.s, now, 8 * D, &p);
	absorb(&w, &p);
	plan_free(&p);
	for (size_t i = 0; i < w.s.nmsgs; i++)
		if (w.m[i].channel == CHAN_EMAIL) {
			w.m[i].status = MSG_SENT;
			w.m[i].sent_at = fx_utc("2026-12-01T14:00:00Z");
		}
	w.a.starts_at = fx_utc("2026-12-10T14:00:00Z");
	plan_run(&cf, &w.s, now, 10 * D, &p);
	for (size_t i = 0; i < p.nadd; i++) {
		if (p.add[i].purpose != PURPOSE_MOVED)
			continue;
		moved++;
		/* on the channel the reminder went on, at once, for the new start */
		assert_int_equal(p.add[i].channel, CHAN_EMAIL);
		assert_int_equal(p.add[i].due_at, now);
		assert_int_equal(p.add[i].appt_start, w.a.starts_at);
		assert_string_equal(p.add[i].detail, "in_person|60|");
		assert_true(strncmp(p.add[i].rule, "moved-", 6) == 0);
	}
	assert_int_equal(moved, 2);
	absorb(&w, &p);
	plan_free(&p);
	/* planned once: nothing more */
	plan_run(&cf, &w.s, now, 10 * D, &p);
	assert_int_equal(p.nadd, 0);
	plan_free(&p);
	/* changed again before it went: the pending notice is cancelled, a new one planned */
	for (size_t i = 0; i < w.s.nmsgs; i++)
		if (w.m[i].purpose == PURPOSE_MOVED)
			rule1 = w.m[i].rule;
	w.a.mode = MODE_ONLINE;
	plan_run(&cf, &w.s, now, 10 * D, &p);
	moved = 0;
	for (size_t i = 0; i < p.nadd; i++)
		if (p.add[i].purpose == PURPOSE_MOVED) {
			moved++;
			assert_string_not_equal(p.add[i].rule, rule1);
		}
	assert_int_equal(moved, 2);
	moved = 0;
	for (size_t i = 0; i < p.nchg; i++)
		if (strcmp(p.chg[i].reason, "appointment changed again") == 0)
			moved++;
	assert_int_equal(moved, 2);
	plan_free(&p);
	free_world(&w);
}

/* Issue 9: an appointment for one member; the moot assessment follow-up. */
static void
test_for_client_and_moot_follow_up(void **state)
{
	struct world w;
	struct plan p;
	struct msg m = { .purpose = PURPOSE_FOLLOW_UP, .template = "assessment_follow_up" };
	time_t starts[2];
	char why[160];

	(void)state;
	world(&w, "2026-12-03T14:00:00Z");
	w.a.for_client = 2;
	plan_run(&cf, &w.s, fx_utc("2026-12-01T09:00:00Z"), 8 * D, &p);
	assert_int_equal(p.nadd, 2);
	for (size_t i = 0; i < p.nadd; i++)
		assert_int_equal(p.add[i].client_id, 2);
	plan_free(&p);

	starts[0] = w.a.starts_at;
	starts[1] = w.a.starts_at + 7 * D;
	assert_int_equal(plan_followup_moot(&m, &w.a, starts, 1, why,
	    sizeof(why)), 0);
	assert_int_equal(plan_followup_moot(&m, &w.a, starts, 2, why,
	    sizeof(why)), 1);
	assert_non_null(strstr(why, "later session"));
	m.template = NULL;	/* a plain follow-up still goes */
	assert_int_equal(plan_followup_moot(&m, &w.a, starts, 2, why,
	    sizeof(why)), 0);
	free_world(&w);
}

static void
test_quiet_hours(void **state)
{
	(void)state;
	/* An SMS due at 07:00 local goes at 20:59 the evening before. */
	assert_int_equal(plan_quiet(&cf, CHAN_SMS, fx_utc("2026-12-03T07:00:00Z"),
	    fx_utc("2026-12-01T00:00:00Z")), fx_utc("2026-12-02T20:59:00Z"));
	/* In summer the same wall times are an hour earlier in UTC. */
	assert_int_equal(plan_quiet(&cf, CHAN_SMS, fx_utc("2026-07-03T06:00:00Z"),
	    fx_utc("2026-07-01T00:00:00Z")), fx_utc("2026-07-02T19:59:00Z"));
	/* Booked too late for that: held to 08:00. */
	assert_int_equal(plan_quiet(&cf, CHAN_SMS, fx_utc("2026-12-03T07:00:00Z"),
	    fx_utc("2026-12-02T22:00:00Z")), fx_utc("2026-12-03T08:00:00Z"));
	/* 21:00 is inside, 08:00 is not, email has no quiet hours. */
	assert_int_equal(plan_quiet(&cf, CHAN_SMS, fx_utc("2026-12-02T21:00:00Z"),
	    0), fx_utc("2026-12-02T20:59:00Z"));
	assert_int_equal(plan_quiet(&cf, CHAN_SMS, fx_utc("2026-12-03T08:00:00Z"),
	    0), fx_utc("2026-12-03T08:00:00Z"));
	assert_int_equal(plan_quiet(&cf, CHAN_EMAIL, fx_utc("2026-12-03T07:00:00Z"),
	    0), fx_utc("2026-12-03T07:00:00Z"));
}

static void
test_quiet_from_in_the_gap(void **state)
{
	int from = cf.quiet.from, to = cf.quiet.to;

	(void)state;
	/*
	 * Quiet from 01:30 (not on the clock on Sunday 28 March 2027: 00:59
	 * GMT is followed by 02:00 BST) to 07:00: they begin at the jump.
	 */
	cf.quiet.from = 90;
	cf.quiet.to = 7 * 60;
	assert_int_equal(plan_quiet(&cf, CHAN_SMS, fx_utc("2027-03-28T01:15:00Z"),
	    0), fx_utc("2027-03-28T00:59:00Z"));
	assert_int_equal(plan_quiet(&cf, CHAN_SMS, fx_utc("2027-03-28T04:00:00Z"),
	    0), fx_utc("2027-03-28T00:59:00Z"));
	/* too late for that: held to 07:00 BST */
	assert_int_equal(plan_quiet(&cf, CHAN_SMS, fx_utc("2027-03-28T01:15:00Z"),
	    fx_utc("2027-03-28T01:05:00Z")), fx_utc("2027-03-28T06:00:00Z"));
	/* the night before, an ordinary one */
	assert_int_equal(plan_quiet(&cf, CHAN_SMS, fx_utc("2027-03-27T02:00:00Z"),
	    0), fx_utc("2027-03-27T01:29:00Z"));
	/*
	 * Quiet from 21:00 to 01:30: that night they end at the jump (02:00
	 * BST, 01:00 GMT), not at 02:30 BST; the night before at 01:30 GMT.
	 */
	cf.quiet.from = 21 * 60;
	cf.quiet.to = 90;
	assert_int_equal(plan_quiet(&cf, CHAN_SMS, fx_utc("2027-03-28T00:30:00Z"),
	    fx_utc("2027-03-28T00:10:00Z")), fx_utc("2027-03-28T01:00:00Z"));
	assert_int_equal(plan_quiet(&cf, CHAN_SMS, fx_utc("2027-03-27T00:30:00Z"),
	    fx_utc("2027-03-27T00:10:00Z")), fx_utc("2027-03-27T01:30:00Z"));
	cf.quiet.from = from;
	cf.quiet.to = to;
}

static void
test_quiet_to_in_the_autumn_repeat(void **state)
{
	int from = cf.quiet.from, to = cf.quiet.to;

	(void)state;
	/*
	 * Quiet 21:00 to 01:30 on Sunday 25 October 2026: 01:30 comes twice
	 * (00:30 and 01:30 UTC) and means its first occurrence.  01:10 GMT,
	 * the repeat, reads 01:10 again but is past them: never held to
	 * 00:30 UTC, a time already gone (the send-time check held it there
	 * for ever).  Before the change, 00:10 UTC (01:10 BST) is inside.
	 */
	cf.quiet.from = 21 * 60;
	cf.quiet.to = 90;
	assert_int_equal(plan_quiet(&cf, CHAN_SMS, fx_utc("2026-10-25T01:10:00Z"),
	    fx_utc("2026-10-25T01:10:01Z")), fx_utc("2026-10-25T01:10:00Z"));
	assert_int_equal(plan_quiet(&cf, CHAN_SMS, fx_utc("2026-10-25T00:10:00Z"),
	    fx_utc("2026-10-25T00:10:01Z")), fx_utc("2026-10-25T00:30:00Z"));
	/* planned ahead, it is not moved to the evening before either */
	assert_int_equal(plan_quiet(&cf, CHAN_SMS, fx_utc("2026-10-25T01:10:00Z"),
	    fx_utc("2026-10-24T12:00:00Z")), fx_utc("2026-10-25T01:10:00Z"));
	cf.quiet.from = from;
	cf.quiet.to = to;
}

static void
test_dst_elapsed_before(void **state)
{
	struct world w;
	struct plan p;

	(void)state;
	/* 24h before 10:00 BST on Sunday 29 March 2026 is 09:00 GMT Saturday. */
	rule(0, 24 * H, 0, CHAN_EMAIL);
	cf.nrules = 1;
	world(&w, "2026-03-29T09:00:00Z");
	plan_run(&cf, &w.s, fx_utc("2026-03-20T00:00:00Z"), 30 * D, &p);
	assert_int_equal(p.nadd, 2);
	assert_int_equal(p.add[0].due_at, fx_utc("2026-03-28T09:00:00Z"));
	plan_free(&p);
	setup(state);
}

static void
test_follow_up(void **state)
{
	struct world w;
	struct plan p;

	(void)state;
	rule(0, 0, D, CHAN_EMAIL);
	cf.nrules = 1;
	world(&w, "2026-12-03T14:00:00Z");
	w.a.duration_min = 90;
	plan_run(&cf, &w.s, fx_utc("2026-12-03T09:00:00Z"), 8 * D, &p);
	assert_int_equal(p.nadd, 2);
	assert_string_equal(msg_purpose_name(p.add[0].purpose), "follow_up");
	assert_int_equal(p.add[0].due_at, fx_utc("2026-12-04T15:30:00Z"));
	plan_free(&p);
	w.a.cancelled = 1;
	plan_run(&cf, &w.s, fx_utc("2026-12-03T09:00:00Z"), 8 * D, &p);
	assert_int_equal(p.nadd, 0);
	plan_free(&p);
	setup(state);
}

static void
test_recheck(void **state)
{
	struct world w;
	struct msg m = { .id = 1, .purpose = PURPOSE_REMINDER, .appointment_id = 100,
	    .client_id = 1, .channel = CHAN_EMAIL, .recipient = "old@example.org",
	    .rule = "b172800" };
	char *rcpt = NULL, why[128];
	time_t hold = 0;

	(void)state;
	world(&w, "2026-12-03T14:00:00Z");
	m.appt_start = w.a.starts_at;
	m.due_at = w.a.starts_at - 48 * H;
	w.cl[0].email = "new@example.org";
	assert_int_equal(plan_recheck(&cf, &m, &w.a, &w.k, &w.cl[0], NULL,
	    m.due_at, &rcpt, &hold, why, sizeof(why)), PLAN_SEND);
	assert_string_equal(rcpt, "new@example.org");
	free(rcpt);
	w.cl[0].email_consent = 0;
	assert_int_equal(plan_recheck(&cf, &m, &w.a, &w.k, &w.cl[0], NULL,
	    m.due_at, &rcpt, &hold, why, sizeof(why)), PLAN_CANCEL);
	w.cl[0].email_consent = 1;
	w.a.starts_at += H;
	assert_int_equal(plan_recheck(&cf, &m, &w.a, &w.k, &w.cl[0], NULL,
	    m.due_at, &rcpt, &hold, why, sizeof(why)), PLAN_CANCEL);
	w.a.starts_at -= H;
	assert_int_equal(plan_recheck(&cf, &m, NULL, &w.k, &w.cl[0], NULL,
	    m.due_at, &rcpt, &hold, why, sizeof(why)), PLAN_CANCEL);
	/* never after the start, never inside late_limit */
	assert_int_equal(plan_recheck(&cf, &m, &w.a, &w.k, &w.cl[0], NULL,
	    w.a.starts_at, &rcpt, &hold, why, sizeof(why)), PLAN_SKIP);
	assert_int_equal(plan_recheck(&cf, &m, &w.a, &w.k, &w.cl[0], NULL,
	    w.a.starts_at - 30 * 60, &rcpt, &hold, why, sizeof(why)), PLAN_SKIP);
	/*
	 * A rule gone from the config, as plan_stale judges it: a pass need
	 * not have read the appointment since (one far ahead, due inside the
	 * grace).  A retry already begun goes on.
	 */
	m.rule = "b1209600";
	assert_int_equal(plan_recheck(&cf, &m, &w.a, &w.k, &w.cl[0], NULL,
	    m.due_at, &rcpt, &hold, why, sizeof(why)), PLAN_CANCEL);
	assert_string_equal(why, "its rule is no longer in the config");
	m.attempts = 1;
	assert_int_equal(plan_recheck(&cf, &m, &w.a, &w.k, &w.cl[0], NULL,
	    m.due_at, &rcpt, &hold, why, sizeof(why)), PLAN_SEND);
	free(rcpt);
	m.attempts = 0;
	/*
	 * A rule is its lead and its channel: the 48h rule is email's, so an
	 * SMS row of it is gone; an email row of the 3h SMS rule is that
	 * rule's fallback while fallback_email is on.
	 */
	m.rule = "b172800";
	m.channel = CHAN_SMS;
	assert_int_equal(plan_recheck(&cf, &m, &w.a, &w.k, &w.cl[0], NULL,
	    m.due_at, &rcpt, &hold, why, sizeof(why)), PLAN_CANCEL);
	assert_string_equal(why, "its rule is no longer in the config");
	m.rule = "b10800";
	m.channel = CHAN_EMAIL;
	cf.sms.fallback_email = 1;
	assert_int_equal(plan_recheck(&cf, &m, &w.a, &w.k, &w.cl[0], NULL,
	    m.due_at, &rcpt, &hold, why, sizeof(why)), PLAN_SEND);
	free(rcpt);
	rcpt = NULL;
	cf.sms.fallback_email = 0;
	assert_int_equal(plan_recheck(&cf, &m, &w.a, &w.k, &w.cl[0], NULL,
	    m.due_at, &rcpt, &hold, why, sizeof(why)), PLAN_CANCEL);
	/* SMS inside quiet hours is held to their end */
	m.channel = CHAN_SMS;
	assert_int_equal(plan_recheck(&cf, &m, &w.a, &w.k, &w.cl[0], NULL,
	    fx_utc("2026-12-02T22:00:00Z"), &rcpt, &hold, why, sizeof(why)), PLAN_HOLD);
	assert_int_equal(hold, fx_utc("2026-12-03T08:00:00Z"));
}

/*
 * What a live pass checks again by the clock at each claim, however late
 * in the pass: the appointment not begun, no quiet hours; lateness is not
 * judged here (the pass's start judges it, plan_recheck).
 */
static void
test_recheck_live(void **state)
{
	struct world w;
	struct msg m = { .id = 1, .purpose = PURPOSE_REMINDER, .appointment_id = 100,
	    .client_id = 1, .channel = CHAN_EMAIL, .rule = "b172800" };
	char why[128] = "";
	time_t hold = 0;

	(void)state;
	world(&w, "2026-12-03T14:00:00Z");
	m.due_at = w.a.starts_at - 48 * H;
	/* inside late_limit, but not begun: the start of the pass judged that */
	assert_int_equal(plan_recheck_live(&cf, &m, &w.a, w.a.starts_at - 60,
	    &hold, why, sizeof(why)), PLAN_SEND);
	assert_int_equal(plan_recheck_live(&cf, &m, &w.a, w.a.starts_at,
	    &hold, why, sizeof(why)), PLAN_SKIP);
	assert_string_equal(why, "the appointment has already started");
	m.attempts = 1;
	assert_int_equal(plan_recheck_live(&cf, &m, &w.a, w.a.starts_at + 1,
	    &hold, why, sizeof(why)), PLAN_FAIL);
	/* a follow-up goes after its session */
	m.purpose = PURPOSE_FOLLOW_UP;
	assert_int_equal(plan_recheck_live(&cf, &m, &w.a, w.a.starts_at + H,
	    &hold, why, sizeof(why)), PLAN_SEND);
	/* an SMS reached inside quiet hours is held to their end */
	m.purpose = PURPOSE_REMINDER;
	m.channel = CHAN_SMS;
	assert_int_equal(plan_recheck_live(&cf, &m, &w.a,
	    fx_utc("2026-12-02T22:00:00Z"), &hold, why, sizeof(why)), PLAN_HOLD);
	assert_int_equal(hold, fx_utc("2026-12-03T08:00:00Z"));
}

/*
 * A partner taken out of the case (case_members row deleted) after the
 * reminders were planned: the pending ones for them are cancelled, the
 * send-time re-check refuses them too, and put back in the case they
 * come back (the key allows one row, ever).
 */
static void
test_member_removed(void **state)
{
	struct world w;
	struct plan p;
	char *rcpt = NULL, why[128];
	time_t hold = 0, now = fx_utc("2026-11-30T09:00:00Z");
	size_t n2 = 0;

	(void)state;
	world(&w, "2026-12-03T14:00:00Z");
	plan_run(&cf, &w.s, now, 8 * D, &p);
	assert_int_equal(p.nadd, 4);
	absorb(&w, &p);
	plan_free(&p);
	/* Alex (2) leaves the case: the snapshot reads members' clients only */
	w.k.nmembers = 1;
	w.s.nclients = 1;
	plan_run(&cf, &w.s, now + H, 8 * D, &p);
	assert_int_equal(p.nadd, 0);
	for (size_t i = 0; i < w.s.nmsgs; i++)
		n2 += w.m[i].client_id == 2;
	assert_int_equal(n2, 2);
	assert_int_equal(p.nchg, 2);
	for (size_t i = 0; i < p.nchg; i++) {
		const struct msg *m = NULL;

		for (size_t j = 0; j < w.s.nmsgs; j++)
			if (w.m[j].id == p.chg[i].id)
				m = &w.m[j];
		assert_non_null(m);
		assert_int_equal(m->client_id, 2);
		assert_int_equal(p.chg[i].to, MSG_CANCELLED);
		assert_string_equal(p.chg[i].reason, "client no longer in the case");
	}
	/* the re-check at send time: Alex's reminder does not go */
	assert_int_equal(plan_recheck(&cf, &w.m[1], &w.a, &w.k, &w.cl[1], NULL,
	    w.m[1].due_at, &rcpt, &hold, why, sizeof(why)), PLAN_CANCEL);
	assert_null(rcpt);
	assert_string_equal(why, "client no longer in the case");
	plan_free(&p);
	/* Alex comes back: the cancelled rows are pending again, none added */
	for (size_t i = 0; i < w.s.nmsgs; i++)
		if (w.m[i].client_id == 2) {
			w.m[i].status = MSG_CANCELLED;
			w.m[i].last_error = xstrdup("client no longer in the case");
		}
	w.k.nmembers = 2;
	w.s.nclients = 2;
	plan_run(&cf, &w.s, now + 2 * H, 8 * D, &p);
	assert_int_equal(p.nadd, 0);
	assert_int_equal(p.nchg, 2);
	for (size_t i = 0; i < p.nchg; i++)
		assert_int_equal(p.chg[i].to, MSG_PENDING);
	plan_free(&p);
	free_world(&w);
}

/* The moved notices planned (to pending) by p, and revived ones. */
static size_t
count_moved(const struct world *w, const struct plan *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nadd; i++)
		n += p->add[i].purpose == PURPOSE_MOVED;
	for (size_t i = 0; i < p->nchg; i++)
		for (size_t j = 0; j < w->s.nmsgs; j++)
			if (w->m[j].id == p->chg[i].id &&
			    w->m[j].purpose == PURPOSE_MOVED &&
			    p->chg[i].to == MSG_PENDING)
				n++;
	return n;
}

/* Apply p's status changes to the world's rows, as the store would. */
static void
apply(struct world *w, const struct plan *p)
{
	for (size_t i = 0; i < p->nchg; i++)
		for (size_t j = 0; j < w->s.nmsgs; j++)
			if (w->m[j].id == p->chg[i].id &&
			    w->m[j].status == p->chg[i].from) {
				w->m[j].status = p->chg[i].to;
				free(w->m[j].last_error);
				w->m[j].last_error = p->chg[i].reason ?
				    xstrdup(p->chg[i].reason) : NULL;
			}
}

/*
 * Moved after the reminder went, moved again before the notice went, then
 * back to the second time: the client still believes the first, so a
 * notice for the second must go.  And moved there and back with both
 * notices sent, then there again: a third notice.
 */
static void
test_moved_back_and_forth(void **state)
{
	struct world w;
	struct plan p;
	time_t now = fx_utc("2026-12-02T09:00:00Z");
	time_t t1 = fx_utc("2026-12-03T14:00:00Z");
	time_t t2 = fx_utc("2026-12-10T14:00:00Z");
	time_t t3 = fx_utc("2026-12-12T14:00:00Z");

	(void)state;
	cf.notify_move = 1;
	world(&w, "2026-12-03T14:00:00Z");
	w.s.nclients = 1;
	w.k.nmembers = 1;
	plan_run(&cf, &w.s, now, 12 * D, &p);
	absorb(&w, &p);
	plan_free(&p);
	for (size_t i = 0; i < w.s.nmsgs; i++)
		if (w.m[i].channel == CHAN_EMAIL) {
			w.m[i].status = MSG_SENT;
			w.m[i].sent_at = fx_utc("2026-12-01T14:00:00Z");
		}
	/* t1 -> t2 -> t3 -> t2, a pass after each, no notice sent between */
	w.a.starts_at = t2;
	plan_run(&cf, &w.s, now, 12 * D, &p);
	assert_int_equal(count_moved(&w, &p), 1);
	apply(&w, &p);
	absorb(&w, &p);
	plan_free(&p);
	w.a.starts_at = t3;
	plan_run(&cf, &w.s, now + 60, 12 * D, &p);
	assert_int_equal(count_moved(&w, &p), 1);
	apply(&w, &p);
	absorb(&w, &p);
	plan_free(&p);
	w.a.starts_at = t2;
	plan_run(&cf, &w.s, now + 120, 12 * D, &p);
	assert_int_equal(count_moved(&w, &p), 1);
	apply(&w, &p);
	absorb(&w, &p);
	plan_free(&p);
	/* planned once: nothing more */
	plan_run(&cf, &w.s, now + 180, 12 * D, &p);
	assert_int_equal(count_moved(&w, &p), 0);
	plan_free(&p);
	/* the t2 notice goes; then back to t1 (notice sent), then t2 again */
	for (size_t i = 0; i < w.s.nmsgs; i++)
		if (w.m[i].purpose == PURPOSE_MOVED && w.m[i].status == MSG_PENDING) {
			w.m[i].status = MSG_SENT;
			w.m[i].sent_at = now + 200;
		}
	w.a.starts_at = t1;
	plan_run(&cf, &w.s, now + 300, 12 * D, &p);
	assert_int_equal(count_moved(&w, &p), 1);
	apply(&w, &p);
	absorb(&w, &p);
	plan_free(&p);
	for (size_t i = 0; i < w.s.nmsgs; i++)
		if (w.m[i].purpose == PURPOSE_MOVED && w.m[i].status == MSG_PENDING) {
			w.m[i].status = MSG_SENT;
			w.m[i].sent_at = now + 400;
		}
	w.a.starts_at = t2;
	plan_run(&cf, &w.s, now + 500, 12 * D, &p);
	assert_int_equal(count_moved(&w, &p), 1);
	plan_free(&p);
	free_world(&w);
}

/* The cancellation notices p plans, on email. */
static size_t
count_cancel_notices(const struct plan *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nadd; i++)
		n += p->add[i].purpose == PURPOSE_CANCELLATION &&
		    p->add[i].channel == CHAN_EMAIL;
	return n;
}

/*
 * Reminded for one time, moved, then cancelled: the client was told of
 * the appointment (the reminder; or the moved notice) and is told it is
 * cancelled, whether the move was announced or not.
 */
static void
test_moved_then_cancelled(void **state)
{
	struct world w;
	struct plan p;
	time_t now = fx_utc("2026-12-02T09:00:00Z");

	(void)state;
	world(&w, "2026-12-03T14:00:00Z");
	w.s.nclients = 1;
	w.k.nmembers = 1;
	plan_run(&cf, &w.s, now, 8 * D, &p);
	absorb(&w, &p);
	plan_free(&p);
	for (size_t i = 0; i < w.s.nmsgs; i++)
		if (w.m[i].channel == CHAN_EMAIL) {
			w.m[i].status = MSG_SENT;
			w.m[i].sent_at = fx_utc("2026-12-01T14:00:00Z");
		}
	/* moved and cancelled between two passes (no move notices) */
	w.a.starts_at = fx_utc("2026-12-10T14:00:00Z");
	w.a.cancelled = 1;
	plan_run(&cf, &w.s, now, 10 * D, &p);
	assert_int_equal(count_cancel_notices(&p), 1);
	absorb(&w, &p);
	plan_free(&p);
	plan_run(&cf, &w.s, now + 60, 10 * D, &p);
	assert_int_equal(p.nadd, 0);
	plan_free(&p);
	free_world(&w);

	/* moved, the move notice sent, then cancelled */
	cf.notify_move = 1;
	world(&w, "2026-12-03T14:00:00Z");
	w.s.nclients = 1;
	w.k.nmembers = 1;
	plan_run(&cf, &w.s, now, 8 * D, &p);
	absorb(&w, &p);
	plan_free(&p);
	for (size_t i = 0; i < w.s.nmsgs; i++)
		if (w.m[i].channel == CHAN_EMAIL) {
			w.m[i].status = MSG_SENT;
			w.m[i].sent_at = fx_utc("2026-12-01T14:00:00Z");
		}
	w.a.starts_at = fx_utc("2026-12-10T14:00:00Z");
	plan_run(&cf, &w.s, now, 10 * D, &p);
	apply(&w, &p);
	absorb(&w, &p);
	plan_free(&p);
	for (size_t i = 0; i < w.s.nmsgs; i++)
		if (w.m[i].purpose == PURPOSE_MOVED) {
			w.m[i].status = MSG_SENT;
			w.m[i].sent_at = now + 30;
		}
	w.a.cancelled = 1;
	plan_run(&cf, &w.s, now + 60, 10 * D, &p);
	assert_int_equal(count_cancel_notices(&p), 1);
	plan_free(&p);
	free_world(&w);
}

/*
 * The appointment made one member's (for_client), then the whole case's
 * again before the reminders went: the other member's come back.
 */
static void
test_for_client_undone(void **state)
{
	struct world w;
	struct plan p;
	time_t now = fx_utc("2026-11-30T09:00:00Z");
	size_t back = 0;

	(void)state;
	world(&w, "2026-12-03T14:00:00Z");
	plan_run(&cf, &w.s, now, 8 * D, &p);
	assert_int_equal(p.nadd, 4);
	absorb(&w, &p);
	plan_free(&p);
	w.a.for_client = 1;
	plan_run(&cf, &w.s, now + H, 8 * D, &p);
	assert_int_equal(p.nchg, 2);
	apply(&w, &p);
	plan_free(&p);
	w.a.for_client = 0;
	plan_run(&cf, &w.s, now + 2 * H, 8 * D, &p);
	assert_int_equal(p.nadd, 0);
	for (size_t i = 0; i < p.nchg; i++)
		back += p.chg[i].to == MSG_PENDING;
	assert_int_equal(back, 2);
	plan_free(&p);
	free_world(&w);
}

/*
 * SMS switched off in the config, then on again (a provider's bad day);
 * a rule taken out, then put back: the rows cancelled meanwhile come back
 * (their keys allow no new ones).
 */
static void
test_channel_and_rule_back(void **state)
{
	struct world w;
	struct plan p;
	time_t now = fx_utc("2026-11-30T09:00:00Z");
	size_t back = 0;

	(void)state;
	world(&w, "2026-12-03T14:00:00Z");
	plan_run(&cf, &w.s, now, 8 * D, &p);
	assert_int_equal(p.nadd, 4);
	absorb(&w, &p);
	plan_free(&p);
	cf.sms.enabled = 0;
	plan_run(&cf, &w.s, now + H, 8 * D, &p);
	assert_int_equal(p.nchg, 2);
	apply(&w, &p);
	plan_free(&p);
	cf.sms.enabled = 1;
	plan_run(&cf, &w.s, now + 2 * H, 8 * D, &p);
	assert_int_equal(p.nadd, 0);
	for (size_t i = 0; i < p.nchg; i++)
		back += p.chg[i].to == MSG_PENDING;
	assert_int_equal(back, 2);
	apply(&w, &p);
	plan_free(&p);
	/* the 3h SMS rule out of the config, then back */
	cf.nrules = 1;
	plan_run(&cf, &w.s, now + 3 * H, 8 * D, &p);
	assert_int_equal(p.nchg, 2);
	apply(&w, &p);
	plan_free(&p);
	cf.nrules = 2;
	back = 0;
	plan_run(&cf, &w.s, now + 4 * H, 8 * D, &p);
	assert_int_equal(p.nadd, 0);
	for (size_t i = 0; i < p.nchg; i++)
		back += p.chg[i].to == MSG_PENDING;
	assert_int_equal(back, 2);
	plan_free(&p);
	free_world(&w);
}

/* Email rows planned in p for purpose pu with status st. */
static size_t
count_purpose(const struct plan *p, enum msg_purpose pu, enum msg_status st)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nadd; i++)
		n += p->add[i].channel == CHAN_EMAIL &&
		    p->add[i].purpose == pu && p->add[i].status == st;
	return n;
}

/*
 * Moved after its reminder went, to a time whose reminder is due at once:
 * the client gets the notice (the time they were told no longer holds),
 * and that reminder is skipped for it; the next pass, while the notice
 * has not gone yet (quiet hours, or the pass came first), plans neither
 * again.
 */
static void
test_moved_notice_instead_of_reminder_due_now(void **state)
{
	struct world w;
	struct plan p;
	time_t now = fx_utc("2026-12-02T09:00:00Z");

	(void)state;
	cf.notify_move = 1;
	world(&w, "2026-12-03T14:00:00Z");
	w.s.nclients = 1;
	w.k.nmembers = 1;
	plan_run(&cf, &w.s, now, 8 * D, &p);
	absorb(&w, &p);
	plan_free(&p);
	for (size_t i = 0; i < w.s.nmsgs; i++)
		if (w.m[i].channel == CHAN_EMAIL) {
			w.m[i].status = MSG_SENT;
			w.m[i].sent_at = fx_utc("2026-12-01T14:00:00Z");
		}
	w.a.starts_at = fx_utc("2026-12-03T20:00:00Z");
	plan_run(&cf, &w.s, now, 8 * D, &p);
	assert_int_equal(count_moved(&w, &p), 1);
	assert_int_equal(count_purpose(&p, PURPOSE_REMINDER, MSG_PENDING), 0);
	assert_int_equal(count_purpose(&p, PURPOSE_REMINDER, MSG_SKIPPED), 1);
	for (size_t i = 0; i < p.nadd; i++)
		if (p.add[i].channel == CHAN_EMAIL &&
		    p.add[i].status == MSG_SKIPPED)
			assert_string_equal(p.add[i].last_error, "the change "
			    "notice that goes now gives the new details");
	apply(&w, &p);
	absorb(&w, &p);
	plan_free(&p);
	plan_run(&cf, &w.s, now + 60, 8 * D, &p);
	assert_int_equal(count_moved(&w, &p), 0);
	assert_int_equal(count_purpose(&p, PURPOSE_REMINDER, MSG_PENDING), 0);
	for (size_t i = 0; i < p.nchg; i++)
		assert_int_not_equal(p.chg[i].to, MSG_PENDING);
	plan_free(&p);
	free_world(&w);
}

/* The change p makes to row id's status (to), or -1 when none. */
static int
chg_to(const struct plan *p, long long id)
{
	int to = -1;

	for (size_t i = 0; i < p->nchg; i++)
		if (p->chg[i].id == id && p->chg[i].to != p->chg[i].from)
			to = (int)p->chg[i].to;
	return to;
}

/*
 * Review 2: nudged down from Monday to Wednesday 23:00 (quiet hours),
 * SMS 48h (overdue since Tuesday) and 3h (planned for 20:59, overdue too),
 * and the 3h rule taken out of the config meanwhile.  The 3h row is
 * cancelled in this very pass: it cannot supersede the 48h one, which is
 * now the closest and must go (held to 08:00), not be skipped.
 */
static void
test_overdue_rival_cancelled_same_pass(void **state)
{
	struct world w;
	struct plan p;
	long long far = 0, near = 0;

	(void)state;
	sms_pair(&w, "2026-12-03T10:00:00Z", 48 * H, 3 * H,
	    "2026-11-30T09:00:00Z", &far, &near);
	cf.nrules = 1;
	plan_run(&cf, &w.s, fx_utc("2026-12-02T23:00:00Z"), 8 * D, &p);
	assert_int_equal(chg_to(&p, near), MSG_CANCELLED);
	assert_int_equal(chg_to(&p, far), -1);
	plan_free(&p);
	free_world(&w);
	setup(state);
}

/*
 * Review 2: booked at 22:30 for 10:00 the next day, SMS 48h and 3h: the
 * 48h one is skipped for the 3h one, due at 08:00.  At 23:00 the 3h rule
 * is taken out (or the appointment's kind changed so that it no longer
 * covers it): the 3h row is cancelled, and the client would get nothing,
 * though the 48h one could still go at 08:00, 2h ahead.  The skipped row
 * comes back (once: planning again changes nothing); with the 3h rule
 * back before it went, nothing flips.
 */
static void
test_superseded_rival_cancelled_later(void **state)
{
	struct world w;
	struct plan p;
	long long far = 0, near = 0;

	(void)state;
	sms_pair(&w, "2026-12-03T10:00:00Z", 48 * H, 3 * H,
	    "2026-12-02T22:30:00Z", &far, &near);
	/* 23:00, same config: nothing changes */
	plan_run(&cf, &w.s, fx_utc("2026-12-02T23:00:00Z"), 8 * D, &p);
	assert_int_equal(p.nchg, 0);
	assert_int_equal(p.nadd, 0);
	plan_free(&p);
	/* 23:30, the 3h rule taken out */
	cf.nrules = 1;
	plan_run(&cf, &w.s, fx_utc("2026-12-02T23:30:00Z"), 8 * D, &p);
	assert_int_equal(chg_to(&p, near), MSG_CANCELLED);
	assert_int_equal(chg_to(&p, far), MSG_PENDING);
	apply(&w, &p);
	plan_free(&p);
	plan_run(&cf, &w.s, fx_utc("2026-12-03T00:30:00Z"), 8 * D, &p);
	assert_int_equal(p.nchg, 0);
	plan_free(&p);
	/*
	 * The 3h rule back at 01:00: its row comes back too (as its key
	 * allows no other), and the 48h one, revived, is judged again: the
	 * claim held it to 08:00 meanwhile, so it is not overdue, and both
	 * would go.  Skipped again here as long as it is overdue.
	 */
	cf.nrules = 2;
	plan_run(&cf, &w.s, fx_utc("2026-12-03T01:00:00Z"), 8 * D, &p);
	assert_int_equal(chg_to(&p, near), MSG_PENDING);
	assert_int_equal(chg_to(&p, far), MSG_SKIPPED);
	plan_free(&p);
	free_world(&w);
	setup(state);
}

/*
 * Review 2: booked at 22:30 for 08:45 the next day, SMS 48h, 12h and 3h.
 * The 3h one is held to 08:00, less than late_limit ahead: skipped when
 * planned.  A row skipped at planning never goes, so it supersedes
 * nothing; whatever the first pass decides, the next one (23:00) changes
 * nothing.
 */
static void
test_skipped_new_row_supersedes_nothing(void **state)
{
	struct world w;
	struct plan p;

	(void)state;
	rule(0, 48 * H, 0, CHAN_SMS);
	rule(1, 12 * H, 0, CHAN_SMS);
	rule(2, 3 * H, 0, CHAN_SMS);
	cf.nrules = 3;
	world(&w, "2026-12-03T08:45:00Z");
	w.s.nclients = 1;
	w.k.nmembers = 1;
	plan_run(&cf, &w.s, fx_utc("2026-12-02T22:30:00Z"), 8 * D, &p);
	assert_int_equal(p.nadd, 3);
	for (size_t i = 0; i < p.nadd; i++)
		if (strcmp(p.add[i].rule, "b43200") == 0)
			assert_string_equal(msg_status_name(p.add[i].status),
			    "pending");
	absorb(&w, &p);
	plan_free(&p);
	plan_run(&cf, &w.s, fx_utc("2026-12-02T23:00:00Z"), 8 * D, &p);
	assert_int_equal(p.nchg, 0);
	plan_free(&p);
	free_world(&w);
	setup(state);
}

/*
 * Review 3: a reminder cancelled with its appointment comes back when the
 * appointment is booked again (plan_stale), overdue by then.  It is the
 * only one for its client and channel: it goes at once (CONTRACT.md "Late
 * booking and downtime"), not skipped as superseded by itself (the old
 * slice and rev both hold it once plan_due reads it as pending).
 */
static void
test_revived_overdue_not_superseded_by_itself(void **state)
{
	struct world w;
	struct plan p;
	long long id;

	(void)state;
	cf.nrules = 1;		/* email 48h */
	world(&w, "2026-12-03T10:00:00Z");
	w.s.nclients = 1;
	w.k.nmembers = 1;
	plan_run(&cf, &w.s, fx_utc("2026-11-29T09:00:00Z"), 8 * D, &p);
	assert_int_equal(p.nadd, 1);
	absorb(&w, &p);
	plan_free(&p);
	id = w.m[0].id;
	w.a.cancelled = 1;
	plan_run(&cf, &w.s, fx_utc("2026-11-30T09:00:00Z"), 8 * D, &p);
	assert_int_equal(chg_to(&p, id), MSG_CANCELLED);
	apply(&w, &p);
	plan_free(&p);
	/* booked again on the 2nd, the 48h reminder overdue by a day */
	w.a.cancelled = 0;
	plan_run(&cf, &w.s, fx_utc("2026-12-02T09:00:00Z"), 8 * D, &p);
	assert_int_equal(chg_to(&p, id), MSG_PENDING);
	plan_free(&p);
	free_world(&w);
	setup(state);
}

/*
 * Review 3: booked at 22:30 for 10:00 the next day, SMS 48h and 3h: the
 * 48h one is skipped for the 3h one (both held to 08:00).  At 23:30 the
 * 3h rule becomes 90min: the 3h row is cancelled and a 90min row planned
 * for 08:30, after quiet hours end.  A closer reminder still goes, so the
 * 48h one stays skipped (plan_closer_alive's rule, for a row planned in
 * this pass too): revived, it would go at 08:00 and the 90min one at
 * 08:30, two SMS half an hour apart where the client had one.
 */
static void
test_superseded_stays_for_closer_rule_added(void **state)
{
	struct world w;
	struct plan p;
	long long far = 0;

	(void)state;
	sms_pair(&w, "2026-12-03T10:00:00Z", 48 * H, 3 * H,
	    "2026-12-02T22:30:00Z", &far, NULL);
	for (size_t i = 0; i < w.s.nmsgs; i++)
		if (w.m[i].id == far)
			assert_int_equal(w.m[i].status, MSG_SKIPPED);
	rule(1, 90 * 60, 0, CHAN_SMS);
	plan_run(&cf, &w.s, fx_utc("2026-12-02T23:30:00Z"), 8 * D, &p);
	assert_int_equal(p.nadd, 1);
	assert_int_equal(p.add[0].status, MSG_PENDING);
	assert_int_equal(p.add[0].due_at, fx_utc("2026-12-03T08:30:00Z"));
	assert_int_equal(chg_to(&p, far), -1);
	plan_free(&p);
	free_world(&w);
	setup(state);
}

static void
test_retry_delay(void **state)
{
	(void)state;
	assert_int_equal(retry_delay(&cf, 1, 0.0), 60);
	assert_int_equal(retry_delay(&cf, 2, 0.0), 120);
	assert_int_equal(retry_delay(&cf, 3, 0.0), 240);
	assert_true(retry_delay(&cf, 1, 0.99) <= 75);
	assert_true(retry_delay(&cf, 20, 0.0) == 3600);
	assert_true(retry_delay(&cf, 20, 0.99) <= 3600);
	assert_true(retry_delay(&cf, 20, 0.99) >= 60);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_couple_each_partner, setup),
		cmocka_unit_test_setup(test_rule_gone_by_channel, setup),
		cmocka_unit_test_setup(test_quiet_hours_added_move_pending, setup),
		cmocka_unit_test_setup(test_requiet_leaves_claim_held_row, setup),
		cmocka_unit_test_setup(test_idempotent, setup),
		cmocka_unit_test_setup(test_consent_and_optout, setup),
		cmocka_unit_test_setup(test_landline_gets_no_sms, setup),
		cmocka_unit_test_setup(test_kinds_limit_rules, setup),
		cmocka_unit_test_setup(test_late_booking_closest_goes, setup),
		cmocka_unit_test_setup(test_late_booking_in_quiet_hours_closest_goes, setup),
		cmocka_unit_test_setup(test_released_rows_judged_overdue_together, setup),
		cmocka_unit_test_setup(test_overdue_rival_cancelled_same_pass, setup),
		cmocka_unit_test_setup(test_superseded_rival_cancelled_later, setup),
		cmocka_unit_test_setup(test_revived_overdue_not_superseded_by_itself, setup),
		cmocka_unit_test_setup(test_superseded_stays_for_closer_rule_added, setup),
		cmocka_unit_test_setup(test_skipped_new_row_supersedes_nothing, setup),
		cmocka_unit_test_setup(test_too_late_all_skipped, setup),
		cmocka_unit_test_setup(test_overdue_within_grace_not_skipped, setup),
		cmocka_unit_test_setup(test_cancel_and_notice, setup),
		cmocka_unit_test_setup(test_move_replans_without_notice, setup),
		cmocka_unit_test_setup(test_moved_notice, setup),
		cmocka_unit_test_setup(test_for_client_and_moot_follow_up, setup),
		cmocka_unit_test_setup(test_quiet_hours, setup),
		cmocka_unit_test_setup(test_quiet_from_in_the_gap, setup),
		cmocka_unit_test_setup(test_quiet_to_in_the_autumn_repeat, setup),
		cmocka_unit_test_setup(test_dst_elapsed_before, setup),
		cmocka_unit_test_setup(test_follow_up, setup),
		cmocka_unit_test_setup(test_recheck, setup),
		cmocka_unit_test_setup(test_recheck_live, setup),
		cmocka_unit_test_setup(test_member_removed, setup),
		cmocka_unit_test_setup(test_moved_back_and_forth, setup),
		cmocka_unit_test_setup(test_moved_then_cancelled, setup),
		cmocka_unit_test_setup(test_for_client_undone, setup),
		cmocka_unit_test_setup(test_channel_and_rule_back, setup),
		cmocka_unit_test_setup(test_moved_notice_instead_of_reminder_due_now, setup),
		cmocka_unit_test_setup(test_retry_delay, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
