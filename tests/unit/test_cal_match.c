/*
 * Unit tests for cal_match: the documented matching, kind/mode and
 * book/move/cancel/missing rules, on records built by hand.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "policy/cal_match.h"
#include "base/tz.h"
#include "base/util.h"
#include "fixture.h"

#define T0	1793000000	/* an instant in November 2026 */

static struct cal_case cases[3];
static char *sam_email[] = { "sam@example.org", "alex@example.org" };
static char *robin_email[] = { "robin@example.org" };
static char *old_email[] = { "old@example.org" };

static int
setup(void **state)
{
	(void)state;
	cases[0] = (struct cal_case){ 1, "Sam & Alex", 0, sam_email, 2 };
	cases[1] = (struct cal_case){ 2, "Robin", 0, robin_email, 1 };
	cases[2] = (struct cal_case){ 3, "Old couple", 1, old_email, 1 };
	return 0;
}

static struct cal_event
ev(const char *uid, const char *summary, time_t start, int mins,
    const char *email)
{
	struct cal_event e = { 0 };

	e.uid = (char *)uid;
	e.rid = "";
	e.summary = (char *)summary;
	e.start = start;
	e.duration_min = mins;
	if (email != NULL) {
		e.attendees = xmalloc(sizeof(char *));
		e.attendees[0] = (char *)email;
		e.nattendees = 1;
	}
	return e;
}

static const struct cal_match_opts opts = { 1, 1, "christian@example.org",
	NULL, 1, T0 - 86400, T0 + 60 * 86400 };

static void
run(struct cal_event *v, size_t n, const struct cal_appt *as, size_t nas,
    const struct cal_match_opts *o, struct cal_plan *p)
{
	struct cal_events evs = { v, n, NULL, 0, n };

	cal_match(&evs, cases, 3, as, nas, o, p);
}

static void
free_events(struct cal_event *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].attendees);
}

static void
test_match_rules(void **state)
{
	struct cal_event v[] = {
		ev("a", "[sam & alex] Session", T0, 50, NULL),
		ev("b", "Assessment", T0, 90, "alex@example.org"),
		ev("c", "Free call", T0, 15, "robin@example.org"),
		ev("d", "[Nobody] Session", T0, 60, NULL),
		ev("e", "Session", T0, 60, "old@example.org"),
		ev("f", "Lunch", T0, 60, "christian@example.org"),
		ev("g", "[Zoom] Video call", T0, 50, "robin@example.org"),
	};
	struct cal_plan p;

	(void)state;
	v[6].url = "https://zoom.us/j/1";
	run(v, 7, NULL, 0, &opts, &p);
	assert_int_equal(p.n, 7);
	assert_int_equal(p.v[0].act, CAL_BOOK);
	assert_int_equal(p.v[0].case_id, 1);
	assert_string_equal(appt_kind_name(p.v[0].kind), "session");
	assert_string_equal(appt_mode_name(p.v[0].mode), "in_person");
	assert_int_equal(p.v[1].act, CAL_BOOK);	/* either partner */
	assert_int_equal(p.v[1].case_id, 1);
	assert_string_equal(appt_kind_name(p.v[1].kind), "assessment");
	assert_string_equal(appt_kind_name(p.v[2].kind), "call");
	assert_string_equal(appt_mode_name(p.v[2].mode), "phone");
	assert_int_equal(p.v[3].act, CAL_UNMATCHED);
	assert_string_equal(p.v[3].why, "no case labelled 'Nobody'");
	assert_int_equal(p.v[4].act, CAL_UNMATCHED);
	assert_string_equal(p.v[4].why, "the attendee's case is closed");
	assert_int_equal(p.v[5].act, CAL_UNMATCHED);	/* the practice itself */
	/* an unknown label falls back to the attendee; a long call is a session */
	assert_int_equal(p.v[6].act, CAL_BOOK);
	assert_int_equal(p.v[6].case_id, 2);
	assert_string_equal(appt_kind_name(p.v[6].kind), "session");
	assert_string_equal(appt_mode_name(p.v[6].mode), "online");
	assert_string_equal(p.v[6].video_url, "https://zoom.us/j/1");
	cal_plan_free(&p);
	free_events(v, 7);
}

static void
test_match_modes_off(void **state)
{
	struct cal_event v[] = { ev("a", "[Sam & Alex]", T0, 50, NULL),
		ev("b", "x", T0, 50, "robin@example.org") };
	struct cal_match_opts o = opts;
	struct cal_plan p;

	(void)state;
	o.by_label = 0;
	run(v, 2, NULL, 0, &o, &p);
	assert_int_equal(p.v[0].act, CAL_UNMATCHED);
	assert_int_equal(p.v[1].act, CAL_BOOK);
	cal_plan_free(&p);
	o.by_label = 1;
	o.by_attendee = 0;
	run(v, 2, NULL, 0, &o, &p);
	assert_int_equal(p.v[0].act, CAL_BOOK);
	assert_int_equal(p.v[1].act, CAL_UNMATCHED);
	cal_plan_free(&p);
	free_events(v, 2);
}

static void
test_move_cancel_missing(void **state)
{
	struct cal_event v[] = {
		ev("moved", "[Robin]", T0 + 3600, 60, NULL),
		ev("same", "[Robin]", T0, 60, NULL),
		ev("gone-in-cal", "[Robin]", T0, 60, NULL),
		ev("back", "[Robin]", T0 + 7200, 60, NULL),
		ev("longer", "[Robin]", T0, 90, NULL),
	};
	struct cal_appt as[] = {
		{ 10, 2, "moved", T0, 60, MODE_IN_PERSON, NULL, 0, 0, 0 },
		{ 11, 2, "same", T0, 60, MODE_IN_PERSON, NULL, 0, 1, 0 },
		{ 12, 2, "gone-in-cal", T0, 60, MODE_IN_PERSON, NULL, 0, 0, 0 },
		{ 13, 2, "back", T0, 60, MODE_IN_PERSON, NULL, 1, 0, 0 },
		{ 14, 2, "longer", T0, 60, MODE_IN_PERSON, NULL, 0, 0, 0 },
		{ 15, 2, "missing-once", T0, 60, MODE_IN_PERSON, NULL, 0, 0, 0 },
		{ 16, 2, "missing-twice", T0, 60, MODE_IN_PERSON, NULL, 0, 1, 0 },
		{ 17, 2, "past", T0 - 2 * 86400, 60, MODE_IN_PERSON, NULL, 0, 1, 0 },
		{ 18, 2, "bad;RECURRENCE-ID=20261110T100000Z", T0, 60, MODE_IN_PERSON,
		  NULL, 0, 1, 0 },
	};
	struct cal_bad bad = { "bad", "unknown zone" };
	struct cal_events evs = { v, 5, &bad, 1, 6 };
	struct cal_plan p;

	(void)state;
	v[2].status = CAL_CANCELLED;
	cal_match(&evs, cases, 3, as, 9, &opts, &p);
	assert_int_equal(p.n, 7);
	assert_int_equal(p.v[0].act, CAL_MOVE);
	assert_int_equal(p.v[0].appt_id, 10);
	assert_int_equal(p.v[0].old_start, T0);
	assert_int_equal(p.v[1].act, CAL_KEEP);
	assert_int_equal(p.v[2].act, CAL_CANCEL);
	assert_int_equal(p.v[3].act, CAL_REBOOK);
	assert_int_equal(p.v[4].act, CAL_UPDATE);
	assert_int_equal(p.v[5].act, CAL_MISSING);
	assert_int_equal(p.v[5].appt_id, 15);
	assert_int_equal(p.v[6].act, CAL_CANCEL);
	assert_int_equal(p.v[6].appt_id, 16);
	cal_plan_free(&p);
	/* a one-off import never cancels what it does not mention */
	{
		struct cal_match_opts o = opts;

		o.full = 0;
		cal_match(&evs, cases, 3, as, 9, &o, &p);
		assert_int_equal(p.n, 5);
		cal_plan_free(&p);
	}
}

/*
 * One event, one appointment: cancelled with nudgectl stays cancelled at
 * the same time; a feed takes over what an import booked (and never
 * counts the import's others missing); an import leaves a feed's alone.
 */
static void
test_sources(void **state)
{
	struct cal_event v[] = {
		ev("cancelled-here", "[Robin]", T0, 60, NULL),
		ev("imported", "[Robin]", T0 + 3600, 60, NULL),
	};
	struct cal_appt as[] = {
		{ 30, 2, "cancelled-here", T0, 60, MODE_IN_PERSON, NULL, 1, 0, 0 },
		{ 31, 2, "imported", T0, 60, MODE_IN_PERSON, NULL, 0, 0, 1 },
		{ 32, 2, "other-import", T0, 60, MODE_IN_PERSON, NULL, 0, 1, 1 },
	};
	struct cal_match_opts o = opts;
	struct cal_plan p;

	(void)state;
	run(v, 2, as, 3, &o, &p);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.v[0].act, CAL_KEEP);
	assert_int_equal(p.v[1].act, CAL_MOVE);
	assert_int_equal(p.v[1].appt_id, 31);
	cal_plan_free(&p);
	o.full = 0;
	run(v, 2, as, 3, &o, &p);
	assert_int_equal(p.v[1].act, CAL_KEEP);
	cal_plan_free(&p);
	free_events(v, 2);
}

/* A series moved as a whole: new RECURRENCE-IDs, the same appointments. */
static void
test_series_moved(void **state)
{
	struct cal_event v[] = {
		ev("s", "[Robin]", T0 + 3600, 60, NULL),
		ev("s", "[Robin]", T0 + 3600 + 7 * 86400, 60, NULL),
	};
	struct cal_appt as[] = {
		{ 40, 2, "s;RECURRENCE-ID=A", T0, 60, MODE_IN_PERSON, NULL, 0, 0, 0 },
		{ 41, 2, "s;RECURRENCE-ID=B", T0 + 3 * 86400, 60, MODE_IN_PERSON,
		  NULL, 0, 0, 0 },
	};
	struct cal_plan p;

	(void)state;
	assert_int_equal(fx_tz_london(), 0);
	v[0].rid = "C";
	v[1].rid = "D";
	run(v, 2, as, 2, &opts, &p);
	assert_int_equal(p.n, 3);
	assert_int_equal(p.v[0].act, CAL_MOVE);	/* same day: moved */
	assert_int_equal(p.v[0].appt_id, 40);
	assert_string_equal(p.v[0].key, "s;RECURRENCE-ID=C");
	assert_int_equal(p.v[1].act, CAL_BOOK);	/* no instance that day */
	assert_int_equal(p.v[2].act, CAL_MISSING);
	assert_int_equal(p.v[2].appt_id, 41);
	cal_plan_free(&p);
	free_events(v, 2);
}

/*
 * Google's "this and following events": the series carried on under
 * "<local part>_R<first start>@<domain>" moves the appointments it takes
 * over.  A look-alike (another domain, no stamp, another base, a mere
 * prefix of the UID) books afresh.
 */
static void
test_series_carried_on(void **state)
{
	static const char *const uid[] = {
		"abc_R20261215T100000@google.com",	/* carried on */
		"abc_R20261215T100000@example.org",	/* another domain */
		"abc_Rx@google.com",			/* no stamp */
		"abcd_R20261215T100000@google.com",	/* another series */
		"ab_R20261215T100000@google.com",	/* a prefix */
	};

	(void)state;
	assert_int_equal(fx_tz_london(), 0);
	for (size_t i = 0; i < sizeof(uid) / sizeof(uid[0]); i++) {
		struct cal_event v[] = { ev(uid[i], "[Robin]", T0 + 3600, 60, NULL) };
		struct cal_appt as[] = {
			{ 40, 2, "abc@google.com;RECURRENCE-ID=A", T0, 60,
			  MODE_IN_PERSON, NULL, 0, 0, 0 },
		};
		struct cal_plan p;

		v[0].rid = "C";
		run(v, 1, as, 1, &opts, &p);
		assert_int_equal(p.n, i == 0 ? 1 : 2);
		assert_int_equal(p.v[0].act, i == 0 ? CAL_MOVE : CAL_BOOK);
		if (i == 0)
			assert_int_equal(p.v[0].appt_id, 40);
		cal_plan_free(&p);
		free_events(v, 1);
	}
	/* a UID without a domain carries on likewise */
	{
		struct cal_event v[] = { ev("s_R20261215T100000", "[Robin]",
		    T0 + 3600, 60, NULL) };
		struct cal_appt as[] = {
			{ 40, 2, "s;RECURRENCE-ID=A", T0, 60, MODE_IN_PERSON,
			  NULL, 0, 0, 0 },
		};
		struct cal_plan p;

		v[0].rid = "C";
		run(v, 1, as, 1, &opts, &p);
		assert_int_equal(p.n, 1);
		assert_int_equal(p.v[0].act, CAL_MOVE);
		cal_plan_free(&p);
		free_events(v, 1);
	}
}

/*
 * Review 3: a series carried on twice.  After the first split the
 * appointments carry "abc_R1...@google.com"; a second "this and following"
 * on that series is carried on as "abc_R1..._R2...@google.com" (a
 * suffix on the UID it splits) or as "abc_R2...@google.com" (Google
 * builds the new UID from the recurring event's base id): either moves
 * the appointment, as the first split did.
 */
static void
test_series_carried_on_twice(void **state)
{
	static const char *const uid[] = {
		"abc_R20261215T100000_R20270112T100000@google.com",
		"abc_R20270112T100000@google.com",
	};

	(void)state;
	assert_int_equal(fx_tz_london(), 0);
	for (size_t i = 0; i < sizeof(uid) / sizeof(uid[0]); i++) {
		struct cal_event v[] = { ev(uid[i], "[Robin]", T0 + 3600, 60, NULL) };
		struct cal_appt as[] = {
			{ 40, 2, "abc_R20261215T100000@google.com;RECURRENCE-ID=A",
			  T0, 60, MODE_IN_PERSON, NULL, 0, 0, 0 },
		};
		struct cal_plan p;

		v[0].rid = "C";
		run(v, 1, as, 1, &opts, &p);
		assert_int_equal(p.n, 1);
		assert_int_equal(p.v[0].act, CAL_MOVE);
		assert_int_equal(p.v[0].appt_id, 40);
		cal_plan_free(&p);
		free_events(v, 1);
	}
}

/* A client who declined: the event no longer matches, its booking is cancelled. */
static void
test_declined(void **state)
{
	struct cal_event v[] = { ev("x", "Session", T0, 60, NULL) };
	struct cal_appt as[] = { { 20, 2, "x", T0, 60, MODE_IN_PERSON, NULL, 0, 0, 0 } };
	struct cal_plan p;

	(void)state;
	v[0].declined = 1;
	run(v, 1, as, 1, &opts, &p);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.v[0].act, CAL_CANCEL);
	assert_non_null(strstr(p.v[0].why, "no longer matches"));
	cal_plan_free(&p);
}

/*
 * No longer matching without a decline (the client's address changed in
 * nudged, the label left the summary): kept, and listed as unmatched.
 */
static void
test_unmatched_kept(void **state)
{
	struct cal_event v[] = { ev("x", "Session", T0, 60, "old@example.org") };
	struct cal_appt as[] = { { 20, 2, "x", T0, 60, MODE_IN_PERSON, NULL, 0, 0, 0 } };
	struct cal_plan p;

	(void)state;
	run(v, 1, as, 1, &opts, &p);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.v[0].act, CAL_KEEP);
	assert_int_equal(p.v[1].act, CAL_UNMATCHED);
	assert_int_equal(p.v[1].appt_id, 20);
	assert_non_null(strstr(p.v[1].why, "kept as it is"));
	cal_plan_free(&p);
	/* the same event moved: it still moves its appointment */
	v[0].start = T0 + 3600;
	run(v, 1, as, 1, &opts, &p);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.v[0].act, CAL_MOVE);
	assert_int_equal(p.v[0].appt_id, 20);
	assert_int_equal(p.v[0].case_id, 2);
	assert_int_equal(p.v[1].act, CAL_UNMATCHED);
	cal_plan_free(&p);
	free_events(v, 1);
}

/*
 * The same event in two feeds (other = 2): cancelled there (or with
 * nudgectl) it stays cancelled at the same time; cancelled here, it is
 * cancelled.
 */
static void
test_other_feed(void **state)
{
	struct cal_event v[] = { ev("x", "[Robin]", T0, 60, NULL) };
	struct cal_appt as[] = { { 20, 2, "x", T0, 60, MODE_IN_PERSON, NULL, 1, 0, 2 } };
	struct cal_plan p;

	(void)state;
	run(v, 1, as, 1, &opts, &p);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.v[0].act, CAL_KEEP);
	cal_plan_free(&p);
	v[0].start = T0 + 86400;	/* back at a new time: booked here */
	run(v, 1, as, 1, &opts, &p);
	assert_int_equal(p.v[0].act, CAL_BOOK);
	cal_plan_free(&p);
	v[0].start = T0;
	as[0].cancelled = 0;
	v[0].status = CAL_CANCELLED;
	run(v, 1, as, 1, &opts, &p);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.v[0].act, CAL_CANCEL);
	assert_int_equal(p.v[0].appt_id, 20);
	cal_plan_free(&p);
	/* missing from the feed that booked it, here: taken over (appt_id) */
	v[0].status = CAL_BOOKED;
	as[0].misses = 1;
	run(v, 1, as, 1, &opts, &p);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.v[0].act, CAL_KEEP);
	assert_int_equal(p.v[0].appt_id, 20);
	cal_plan_free(&p);
	free_events(v, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_rules),
		cmocka_unit_test(test_match_modes_off),
		cmocka_unit_test(test_move_cancel_missing),
		cmocka_unit_test(test_declined),
		cmocka_unit_test(test_unmatched_kept),
		cmocka_unit_test(test_other_feed),
		cmocka_unit_test(test_sources),
		cmocka_unit_test(test_series_moved),
		cmocka_unit_test(test_series_carried_on),
		cmocka_unit_test(test_series_carried_on_twice),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
