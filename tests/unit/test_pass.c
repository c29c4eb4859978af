/*
 * pass_plan (issue 12): a pass reads the due window and what changed, not
 * the table.  Against real database files: what a later pass must still
 * see although it reads only the new band of appointments (changes made
 * by another program far ahead, moves after a reminder went, late
 * bookings inside the window, consent given later, homework), and that
 * the band is all it reads.  Every test plans two appointments per
 * transaction (pass_plan_test_hook), so that chunks meet: what another
 * program does between two of them, and a pass stopped or killed half-way.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "conf/conf.h"
#include "engine/deliver.h"
#include "engine/pass_plan.h"
#include "store/store.h"
#include "base/tz.h"
#include "base/util.h"
#include "fixture.h"

/* 2026-06-01T12:00:00Z, a Monday */
#define NOW	((time_t)1780315200)
#define HOUR	3600L
#define DAY	86400L

static struct conf *cf;

static int
group_setup(void **state)
{
	struct conf_diag e = { 0 };
	char *path;
	int rc;

	(void)state;
	if (fx_tz_london() != 0 || fx_dir_make("pass") != 0)
		return -1;
	path = fx_file("nudged.conf",
	    "practice = { name = \"P\"; practitioner = \"Q\";"
	    " email = \"q@example.org\"; };\n"
	    "database = \"/nonexistent/nudged.db\";\n"
	    "email = { enabled = true; url = \"smtp://127.0.0.1:9\"; tls = \"none\";"
	    " from = \"P <p@example.org>\"; };\n"
	    "reminders = ( { before = \"48h\"; channel = \"email\"; } );\n"
	    "homework = { at = \"19:00\"; channels = [\"email\"]; };\n", 0600);
	rc = conf_load(path, &cf, &e, NULL);
	for (size_t i = 0; i < e.n; i++)
		fprintf(stderr, "%s\n", e.lines[i]);
	conf_diag_free(&e);
	free(path);
	pass_plan_test_hook(2, NULL, NULL);
	return rc;
}

static int
group_teardown(void **state)
{
	(void)state;
	conf_free(cf);
	return fx_dir_remove();
}

static int
setup(void **state)
{
	(void)state;
	fx_db_new();
	pass_plan_test_hook(2, NULL, NULL);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	pass_plan_test_hook(2, NULL, NULL);
	fx_db_remove(fx_db());
	return 0;
}

static void
pass(struct store *st, time_t now)
{
	struct pass_plan_stats stats;
	char err[512] = "";

	memset(&stats, 0, sizeof(stats));
	if (pass_plan_run(cf, st, now, DELIVER_HORIZON, 0, 0, NULL, &stats, err,
	    sizeof(err)) != 0)
		fail_msg("pass_plan_run: %s", err);
}

static void
sqlf(struct store *st, const char *fmt, ...)
{
	char sql[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	fx_sql(st, sql);
}

static long long
countf(struct store *st, const char *fmt, ...)
{
	char sql[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	return fx_sql_int(st, sql);
}

/* Client 1 (Sam) in case 1. */
static struct store *
practice(int consent)
{
	struct store *st = fx_open();

	sqlf(st, "INSERT INTO clients (id, name, email, email_consent) VALUES"
	    " (1, 'Sam Taylor', 'sam@example.org', %d)", consent);
	fx_sql(st, "INSERT INTO cases (id, label) VALUES (1, 'Sam')");
	fx_sql(st, "INSERT INTO case_members (case_id, client_id) VALUES (1, 1)");
	return st;
}

static void
book(struct store *st, long long id, time_t start)
{
	char t[TZ_UTC_LEN];

	tz_format_utc(start, t);
	sqlf(st, "INSERT INTO appointments (id, case_id, starts_at) VALUES"
	    " (%lld, 1, '%s')", id, t);
}

static void
move(struct store *st, long long id, time_t start)
{
	char t[TZ_UTC_LEN];

	tz_format_utc(start, t);
	sqlf(st, "UPDATE appointments SET starts_at = '%s' WHERE id = %lld", t, id);
}

static long long
rows(struct store *st, long long appt, time_t start, const char *purpose,
    const char *status)
{
	char t[TZ_UTC_LEN];

	tz_format_utc(start, t);
	return countf(st, "SELECT count(*) FROM messages WHERE appointment_id ="
	    " %lld AND appt_start = '%s' AND purpose = '%s' AND status = '%s'",
	    appt, t, purpose, status);
}

/*
 * Booked far ahead, moved by another program into the window, below the
 * band the next pass reads: the change log brings it.
 */
static void
test_far_moved_into_window(void **state)
{
	struct store *st = practice(1);

	(void)state;
	book(st, 1, NOW + 20 * DAY);
	pass(st, NOW);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages"), 0);
	move(st, 1, NOW + 4 * DAY);
	pass(st, NOW + HOUR);
	assert_int_equal(rows(st, 1, NOW + 4 * DAY, "reminder", "pending"), 1);
	store_close(st);
}

/* Cancelled far ahead by another program: nothing when its band comes. */
static void
test_far_cancelled_stays_quiet(void **state)
{
	struct store *st = practice(1);

	(void)state;
	book(st, 1, NOW + 20 * DAY);
	book(st, 2, NOW + 20 * DAY + HOUR);
	pass(st, NOW);
	fx_sql(st, "UPDATE appointments SET status = 'cancelled' WHERE id = 1");
	for (time_t t = NOW + DAY; t <= NOW + 12 * DAY; t += DAY)
		pass(st, t);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE"
	    " appointment_id = 1"), 0);
	/* its neighbour, untouched, is planned by the band */
	assert_int_equal(rows(st, 2, NOW + 20 * DAY + HOUR, "reminder",
	    "pending"), 1);
	store_close(st);
}

/* Each later pass plans what its band brings inside the eight days. */
static void
test_band_brings_the_next_appointments(void **state)
{
	struct store *st = practice(1);

	(void)state;
	book(st, 1, NOW + 11 * DAY);	/* its 48h reminder: 9 days ahead */
	pass(st, NOW);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages"), 0);
	pass(st, NOW + DAY + HOUR);
	assert_int_equal(rows(st, 1, NOW + 11 * DAY, "reminder", "pending"), 1);
	store_close(st);
}

/* Reminded, then moved far away: the moved notice goes now. */
static void
test_reminded_then_moved_far(void **state)
{
	struct store *st = practice(1);

	(void)state;
	book(st, 1, NOW + DAY + 12 * HOUR);
	pass(st, NOW);
	assert_int_equal(rows(st, 1, NOW + DAY + 12 * HOUR, "reminder",
	    "pending"), 1);
	fx_sql(st, "UPDATE messages SET status = 'sent', sent_at = due_at,"
	    " attempts = 1, detail = 'in_person|60|'");
	move(st, 1, NOW + 30 * DAY);
	pass(st, NOW + HOUR);
	assert_int_equal(rows(st, 1, NOW + 30 * DAY, "moved", "pending"), 1);
	store_close(st);
}

/* A late booking inside the window, after a pass: planned by the next. */
static void
test_late_booking_inside_window(void **state)
{
	struct store *st = practice(1);

	(void)state;
	book(st, 1, NOW + 12 * DAY);
	pass(st, NOW);
	book(st, 2, NOW + 3 * DAY);
	pass(st, NOW + 60);
	assert_int_equal(rows(st, 2, NOW + 3 * DAY, "reminder", "pending"), 1);
	store_close(st);
}

/* Consent given after a pass skipped the client: the next one plans. */
static void
test_consent_given_later(void **state)
{
	struct store *st = practice(0);

	(void)state;
	book(st, 1, NOW + 3 * DAY);
	pass(st, NOW);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages"), 0);
	fx_sql(st, "UPDATE clients SET email_consent = 1 WHERE id = 1");
	pass(st, NOW + 60);
	assert_int_equal(rows(st, 1, NOW + 3 * DAY, "reminder", "pending"), 1);
	/* and withdrawn again: cancelled at once */
	fx_sql(st, "UPDATE clients SET email_consent = 0 WHERE id = 1");
	pass(st, NOW + 120);
	assert_int_equal(rows(st, 1, NOW + 3 * DAY, "reminder", "cancelled"), 1);
	store_close(st);
}

/*
 * A partner taken out of the case between two passes (the second reads
 * only bands and the change log): their pending reminder is cancelled;
 * put back, it is pending again (one row per key, ever).
 */
static void
test_partner_removed_between_passes(void **state)
{
	struct store *st = practice(1);

	(void)state;
	fx_sql(st, "INSERT INTO clients (id, name, email) VALUES"
	    " (2, 'Alex Morgan', 'alex@example.org')");
	fx_sql(st, "INSERT INTO case_members (case_id, client_id) VALUES (1, 2)");
	book(st, 1, NOW + 3 * DAY);
	pass(st, NOW);
	assert_int_equal(rows(st, 1, NOW + 3 * DAY, "reminder", "pending"), 2);
	fx_sql(st, "DELETE FROM case_members WHERE client_id = 2");
	pass(st, NOW + HOUR);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE"
	    " client_id = 2 AND status = 'cancelled' AND last_error ="
	    " 'client no longer in the case'"), 1);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE"
	    " client_id = 1 AND status = 'pending'"), 1);
	fx_sql(st, "INSERT INTO case_members (case_id, client_id) VALUES (1, 2)");
	pass(st, NOW + 2 * HOUR);
	assert_int_equal(rows(st, 1, NOW + 3 * DAY, "reminder", "pending"), 2);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages"), 2);
	store_close(st);
}

/*
 * A booking tool deletes the newest appointment and books another case's
 * with no AUTOINCREMENT: SQLite gives it the same id.  The first case's
 * client's pending reminder (that id, that start) must not go.
 */
static void
test_reused_id_other_case(void **state)
{
	struct store *st = practice(1);

	(void)state;
	fx_sql(st, "INSERT INTO clients (id, name, email) VALUES"
	    " (2, 'Alex Morgan', 'alex@example.org')");
	fx_sql(st, "INSERT INTO cases (id, label) VALUES (2, 'Alex')");
	fx_sql(st, "INSERT INTO case_members (case_id, client_id) VALUES (2, 2)");
	book(st, 1, NOW + 3 * DAY);
	pass(st, NOW);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE"
	    " client_id = 1 AND status = 'pending'"), 1);
	fx_sql(st, "DELETE FROM appointments WHERE id = 1");
	sqlf(st, "INSERT INTO appointments (case_id, starts_at) SELECT 2,"
	    " appt_start FROM messages WHERE client_id = 1");
	assert_int_equal(countf(st, "SELECT max(id) FROM appointments"), 1);
	pass(st, NOW + HOUR);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE"
	    " client_id = 1 AND status = 'pending'"), 0);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE"
	    " client_id = 2 AND status = 'pending'"), 1);
	store_close(st);
}

/*
 * Between passes: the case closed then opened again, the appointment
 * cancelled then booked again (same id), the row moved back to its old
 * time: the reminder is pending again each time, one row per key.
 */
static void
test_undone_changes_between_passes(void **state)
{
	struct store *st = practice(1);

	(void)state;
	book(st, 1, NOW + 3 * DAY);
	book(st, 2, NOW + 3 * DAY);	/* the same start: ties */
	pass(st, NOW);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE"
	    " status = 'pending'"), 2);
	fx_sql(st, "UPDATE cases SET closed_at = '2026-06-01T12:30:00Z'");
	pass(st, NOW + HOUR);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE"
	    " status = 'cancelled' AND last_error = 'case closed'"), 2);
	fx_sql(st, "UPDATE cases SET closed_at = NULL");
	pass(st, NOW + 2 * HOUR);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE"
	    " status = 'pending'"), 2);
	fx_sql(st, "UPDATE appointments SET status = 'cancelled' WHERE id = 1");
	move(st, 2, NOW + 4 * DAY);
	pass(st, NOW + 3 * HOUR);
	fx_sql(st, "UPDATE appointments SET status = 'booked' WHERE id = 1");
	move(st, 2, NOW + 3 * DAY);
	pass(st, NOW + 4 * HOUR);
	assert_int_equal(rows(st, 1, NOW + 3 * DAY, "reminder", "pending"), 1);
	assert_int_equal(rows(st, 2, NOW + 3 * DAY, "reminder", "pending"), 1);
	assert_int_equal(rows(st, 2, NOW + 4 * DAY, "reminder", "cancelled"), 1);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages"), 3);
	store_close(st);
}

/*
 * Band passes every 5 hours over the clock changes (Europe/London,
 * 2026-03-29 and 2026-10-25 01:00 UTC) with quiet hours, a follow-up rule, appointments
 * every 7 hours (some as bare local times, some at the same start):
 * after each, a whole pass at the same moment finds nothing more to do.
 */
static unsigned long rnd_state = 12345;

static unsigned long
rnd(void)
{
	rnd_state = (rnd_state * 1103515245UL + 12345UL) & 0x7fffffffUL;
	return rnd_state >> 4;
}

static void
band_check(time_t t0, int churn)
{
	struct conf_diag e = { 0 };
	struct conf *keep = cf, *q = NULL;
	struct pass_plan_stats stats;
	struct store *st;
	char *path, err[512] = "", t[TZ_UTC_LEN];
	long long id = 1;

	path = fx_file("dst.conf",
	    "practice = { name = \"P\"; practitioner = \"Q\";"
	    " email = \"q@example.org\"; };\n"
	    "email = { enabled = true; url = \"smtp://127.0.0.1:9\"; tls = \"none\";"
	    " from = \"P <p@example.org>\"; };\n"
	    "reminders = ( { before = \"48h\"; channel = \"email\"; },"
	    " { before = \"3h\"; channel = \"email\"; },"
	    " { after = \"1d\"; channel = \"email\"; } );\n"
	    "quiet_hours = { from = \"21:00\"; to = \"08:00\";"
	    " channels = [\"email\"]; };\n"
	    "homework = { at = \"19:00\"; channels = [\"email\"]; };\n", 0600);
	assert_int_equal(conf_load(path, &q, &e, NULL), 0);
	conf_diag_free(&e);
	free(path);
	cf = q;
	st = practice(1);
	for (time_t a = t0 + 3 * DAY; a < t0 + 20 * DAY; a += 7 * HOUR) {
		tz_format_utc(a, t);
		if (id % 3 == 0) {
			struct tm lt;

			tz_to_local(a, &lt);
			sqlf(st, "INSERT INTO appointments (id, case_id, starts_at)"
			    " VALUES (%lld, 1, '%04d-%02d-%02dT%02d:%02d')", id,
			    lt.tm_year + 1900, lt.tm_mon + 1, lt.tm_mday,
			    lt.tm_hour, lt.tm_min);
		} else
			book(st, id, a);
		id++;
		if (id % 5 == 0)
			book(st, id++, a);
	}
	if (churn) {
		fx_sql(st, "INSERT INTO clients (id, name, email, phone,"
		    " sms_consent) VALUES (2, 'Alex Morgan', 'alex@example.org',"
		    " '+447700900456', 1)");
		fx_sql(st, "INSERT INTO case_members (case_id, client_id)"
		    " VALUES (1, 2)");
	}
	for (time_t now = t0; now < t0 + 10 * DAY; now += 5 * HOUR) {
		/* another program's changes since the last pass */
		for (int k = 0; churn && k < 4; k++) {
			long long a = 1 + (long long)(rnd() % (unsigned long)(id - 1));

			switch (rnd() % 11) {
			case 8:
				fx_sql(st, "UPDATE cases SET closed_at = CASE WHEN"
				    " closed_at IS NULL THEN '2026-01-01T00:00:00Z' END");
				break;
			case 9:
				sqlf(st, "UPDATE clients SET opted_out_at = CASE WHEN"
				    " opted_out_at IS NULL THEN '2026-01-01T00:00:00Z'"
				    " END WHERE id = %lu", 1 + rnd() % 2);
				break;
			case 10:
				sqlf(st, "UPDATE appointments SET mode = CASE mode WHEN"
				    " 'online' THEN 'in_person' ELSE 'online' END,"
				    " video_url = 'https://v.example.org/x' WHERE id = %lld", a);
				break;
			case 0:
				move(st, a, now + (time_t)(rnd() % 20) * 7 * HOUR);
				break;
			case 1:
				sqlf(st, "UPDATE appointments SET status = CASE status"
				    " WHEN 'booked' THEN 'cancelled' ELSE 'booked' END"
				    " WHERE id = %lld", a);
				break;
			case 2:
				sqlf(st, "UPDATE clients SET email_consent = 1 -"
				    " email_consent WHERE id = %lu", 1 + rnd() % 2);
				break;
			case 3:
				if (countf(st, "SELECT count(*) FROM case_members") == 2)
					fx_sql(st, "DELETE FROM case_members WHERE"
					    " client_id = 2");
				else
					fx_sql(st, "INSERT INTO case_members VALUES"
					    " (1, 2)");
				break;
			case 4:
				sqlf(st, "UPDATE appointments SET for_client = CASE"
				    " WHEN for_client IS NULL THEN 2 END WHERE id = %lld",
				    a);
				break;
			case 5:
				sqlf(st, "UPDATE appointments SET duration_min ="
				    " duration_min + 15 WHERE id = %lld", a);
				break;
			default:
				break;
			}
		}
		/* what was due went out, with the details of that moment */
		if (churn)
			sqlf(st, "UPDATE messages SET status = 'sent', attempts = 1,"
			    " sent_at = '%s', detail = (SELECT mode || '|' ||"
			    " duration_min || '|' || CASE mode WHEN 'online' THEN"
			    " video_url ELSE '' END FROM appointments a WHERE a.id ="
			    " appointment_id) WHERE"
			    " status = 'pending' AND due_at <= '%s'",
			    (tz_format_utc(now, t), t), t);
		pass(st, now);
		memset(&stats, 0, sizeof(stats));
		if (pass_plan_run(cf, st, now, DELIVER_HORIZON, 1, 0, NULL,
		    &stats, err, sizeof(err)) != 0)
			fail_msg("pass_plan_run: %s", err);
		if (stats.planned != 0 || stats.skipped != 0 ||
		    stats.cancelled != 0)
			fail_msg("at %ld: the whole pass planned %d more, skipped"
			    " %d, cancelled %d", (long)now, stats.planned,
			    stats.skipped, stats.cancelled);
	}
	assert_true(countf(st, "SELECT count(*) FROM messages") > 100);
	store_close(st);
	conf_free(q);
	cf = keep;
}

static void
test_band_passes_miss_nothing_over_dst(void **state)
{
	(void)state;
	band_check(1792152000, 0);	/* 2026-10-19T12:00:00Z */
	fx_db_remove(fx_db());
	fx_db_new();
	band_check(1774008000, 0);	/* 2026-03-20T12:00:00Z */
}

/*
 * The same with another program's changes before every pass (moves,
 * cancelled and booked again, consent, opt-out, the case closed and
 * opened, a partner out and back in, for_client, duration, mode) and
 * what was due sent: fails without the
 * plan_notice.c fix of rev7 (a move notice planned by a second planning
 * of the same moment while the fresh reminder had not gone yet).
 */
static void
test_band_passes_with_changes(void **state)
{
	(void)state;
	rnd_state = 12345;
	band_check(1792152000, 1);	/* autumn */
	fx_db_remove(fx_db());
	fx_db_new();
	rnd_state = 7;
	band_check(1774008000, 1);	/* spring */
}

/* Homework keeps being planned day after day by later passes. */
static void
test_homework_still_planned(void **state)
{
	struct store *st = practice(1);
	long long before;

	(void)state;
	book(st, 1, NOW + 40 * DAY);
	fx_sql(st, "INSERT INTO homework (id, case_id, title, prompt, starts_on,"
	    " ends_on, every_days) VALUES (1, 1, 'T', 'P', '2026-06-02',"
	    " '2026-06-20', 1)");
	pass(st, NOW);
	before = countf(st, "SELECT count(*) FROM messages WHERE homework_id = 1");
	assert_true(before >= 7);
	pass(st, NOW + 3 * DAY);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE"
	    " homework_id = 1"), before + 3);
	store_close(st);
}

/*
 * A row a booking tool made unreadable (an appointment's start, a
 * client's consent, a homework's every_days) is reported and skipped: a
 * pass cancels none of the pending rows that hang on it, and once it is
 * fixed they are all still there (the send loop's side: the integration
 * tests in test_held_rows.py).
 */
static void
test_unreadable_rows_cancel_nothing(void **state)
{
	static const char *const bad[][2] = {
		{ "UPDATE appointments SET starts_at = 'next tuesday'",
		  "UPDATE appointments SET starts_at = '2026-06-05T12:00:00Z'" },
		{ "UPDATE clients SET email_consent = 'yes'",
		  "UPDATE clients SET email_consent = 1" },
		{ "UPDATE homework SET every_days = 0",
		  "UPDATE homework SET every_days = 1" },
	};
	struct store *st = practice(1);
	long long pending;

	(void)state;
	book(st, 1, NOW + 4 * DAY);
	/* ends before the session: a session it cannot read moves no prompt */
	fx_sql(st, "INSERT INTO homework (id, case_id, title, prompt, starts_on,"
	    " ends_on, every_days) VALUES (1, 1, 'T', 'P', '2026-06-02',"
	    " '2026-06-04', 1)");
	pass(st, NOW);
	pending = countf(st, "SELECT count(*) FROM messages WHERE status ="
	    " 'pending'");
	assert_int_equal(pending, 4);
	assert_int_equal(rows(st, 1, NOW + 4 * DAY, "reminder", "pending"), 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fx_sql(st, bad[i][0]);
		pass(st, NOW + (long)(2 * i + 1) * 60);
		assert_int_equal(countf(st, "SELECT count(*) FROM problems"), 1);
		assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE"
		    " status <> 'pending'"), 0);
		fx_sql(st, bad[i][1]);
		pass(st, NOW + (long)(2 * i + 2) * 60);
		assert_int_equal(countf(st, "SELECT count(*) FROM problems"), 0);
		assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE"
		    " status = 'pending'"), pending);
	}
	store_close(st);
}

/*
 * Quiet hours move a due time inside them to a minute before they begin:
 * a reminder whose due time is still beyond the horizon comes inside it
 * when that minute does, and the next pass must read its appointment.
 */
static void
test_quiet_hours_bring_a_stretch(void **state)
{
	struct conf_diag e = { 0 };
	struct conf *keep = cf, *q = NULL;
	struct store *st;
	char *path;
	/* 20:30 GMT: now + 8 days is 20:30 on the 9th, 21:30 an hour later */
	time_t x = 1796157000;	/* 2026-12-01T20:30:00Z */
	time_t start = 1796871600;	/* 2026-12-10T03:00:00Z */

	(void)state;
	path = fx_file("quiet.conf",
	    "practice = { name = \"P\"; practitioner = \"Q\";"
	    " email = \"q@example.org\"; };\n"
	    "email = { enabled = true; url = \"smtp://127.0.0.1:9\"; tls = \"none\";"
	    " from = \"P <p@example.org>\"; };\n"
	    "reminders = ( { before = \"48h\"; channel = \"email\"; },"
	    " { before = \"3h\"; channel = \"email\"; } );\n"
	    "quiet_hours = { from = \"21:00\"; to = \"08:00\";"
	    " channels = [\"email\"]; };\n"
	    "homework = { at = \"19:00\"; channels = [\"email\"]; };\n", 0600);
	assert_int_equal(conf_load(path, &q, &e, NULL), 0);
	conf_diag_free(&e);
	free(path);
	cf = q;
	st = practice(1);
	book(st, 1, start);
	pass(st, x);
	/* the 48h one (due 03:00 on the 8th, in quiet hours: 20:59 on the 7th) */
	assert_int_equal(rows(st, 1, start, "reminder", "pending"), 1);
	pass(st, x + HOUR);
	/* the 3h one: due 00:00 on the 10th, so 20:59 on the 9th */
	assert_int_equal(rows(st, 1, start, "reminder", "pending"), 2);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE rule ="
	    " 'b10800' AND due_at = '2026-12-09T20:59:00Z'"), 1);
	store_close(st);
	cf = keep;
	conf_free(q);
}

/* Triggers dropped with a booking tool's tables: put back, window read whole. */
static void
test_missing_trigger_reads_the_window(void **state)
{
	struct store *st = practice(1);

	(void)state;
	book(st, 1, NOW + 12 * DAY);
	pass(st, NOW);
	fx_sql(st, "DROP TRIGGER plan_dirty_appt_ins");
	book(st, 2, NOW + 3 * DAY);		/* not logged */
	pass(st, NOW + 60);
	assert_int_equal(rows(st, 2, NOW + 3 * DAY, "reminder", "pending"), 1);
	assert_int_equal(countf(st, "SELECT count(*) FROM sqlite_master WHERE"
	    " name = 'plan_dirty_appt_ins'"), 1);
	store_close(st);
}

/* Another rule in the config: the next pass plans it for the whole window. */
static void
test_new_rule_reads_the_window(void **state)
{
	struct conf_diag e = { 0 };
	struct conf *keep = cf, *two = NULL;
	struct store *st = practice(1);
	char *path;

	(void)state;
	book(st, 1, NOW + 3 * DAY);
	pass(st, NOW);
	path = fx_file("two.conf",
	    "practice = { name = \"P\"; practitioner = \"Q\";"
	    " email = \"q@example.org\"; };\n"
	    "email = { enabled = true; url = \"smtp://127.0.0.1:9\"; tls = \"none\";"
	    " from = \"P <p@example.org>\"; };\n"
	    "reminders = ( { before = \"48h\"; channel = \"email\"; },"
	    " { before = \"24h\"; channel = \"email\"; } );\n", 0600);
	assert_int_equal(conf_load(path, &two, &e, NULL), 0);
	conf_diag_free(&e);
	free(path);
	cf = two;
	pass(st, NOW + 60);
	cf = keep;
	conf_free(two);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE rule ="
	    " 'b86400' AND appointment_id = 1"), 1);
	store_close(st);
}

/*
 * The fingerprint of the last pass (plan.pass: "TIME FINGERPRINT") moves
 * with sms.fallback_email: whether an email row of an SMS rule's lead is
 * kept is the plan's to judge (plan.c plan_rule_exists), so turning it
 * off must bring a whole pass, as any other setting the plan reads.
 */
static void
test_fallback_email_in_the_fingerprint(void **state)
{
	struct store *st = practice(1);
	char *a = NULL, *b = NULL;

	(void)state;
	pass(st, NOW);
	assert_int_equal(store_state_get(st, "plan.pass", &a), STORE_FOUND);
	cf->sms.fallback_email = !cf->sms.fallback_email;
	pass(st, NOW);
	cf->sms.fallback_email = !cf->sms.fallback_email;
	assert_int_equal(store_state_get(st, "plan.pass", &b), STORE_FOUND);
	assert_non_null(strchr(a, ' '));
	assert_non_null(strchr(b, ' '));
	assert_string_not_equal(strchr(a, ' '), strchr(b, ' '));
	free(a);
	free(b);
	store_close(st);
}

/* What a later pass reads: the band and the changes, not the table. */
static void
test_reads_only_the_band(void **state)
{
	struct store *st = practice(1);
	time_t r[1][2] = { { NOW + 10 * DAY, NOW + 10 * DAY + 2 * HOUR } };
	struct store_pass p = { .ranges = (const time_t (*)[2])r, .nranges = 1,
	    .win_lo = NOW, .win_hi = NOW + 12 * DAY, .due_by = NOW - 30 * DAY,
	    .tz_slack = pass_plan_tz_slack(NOW) };
	long long *ids;
	size_t n;
	char err[256];

	(void)state;
	/* a year of appointments, one every 6 hours */
	fx_sql(st, "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n"
	    " WHERE i < 1459) INSERT INTO appointments (id, case_id, starts_at)"
	    " SELECT i + 1, 1, strftime('%Y-%m-%dT%H:%M:%SZ', '2026-06-01T12:00:00',"
	    " '+' || (i * 6) || ' hours') FROM n");
	pass(st, NOW);
	fx_sql(st, "UPDATE appointments SET video_url = 'x' WHERE id = 1000");
	assert_int_equal(store_begin(st, err, sizeof(err)), 0);
	assert_int_equal(store_pass_ids(st, &p, &ids, &n, err, sizeof(err)), 0);
	store_rollback(st);
	/*
	 * Starts 10 days + [0, 2h] (+ the zone's slack, 1 h either side):
	 * 11:00 .. 15:00 on day 10 hold one of the 6-hourly starts (id 41);
	 * id 1000 (changed) is beyond the window and has no messages.
	 */
	assert_true(n >= 1 && n <= 3);
	for (size_t i = 0; i < n; i++)
		assert_true(ids[i] >= 40 && ids[i] <= 42);
	free(ids);
	store_close(st);
}

/*
 * A booking tool's write on its own connection, not waiting for the lock
 * (busy timeout 0): SQLITE_OK, or SQLITE_BUSY while a pass holds it.
 */
static int
tool_sql(const char *sql)
{
	sqlite3 *db;
	int rc;

	if (sqlite3_open(fx_db(), &db) != SQLITE_OK)
		fail_msg("sqlite3_open %s", fx_db());
	sqlite3_busy_timeout(db, 0);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

/* What the hook between chunks does: after chunk `at`, run sql (or stop). */
struct between {
	int		 calls;
	int		 at;		/* 0: every time */
	const char	*sql;
	int		 busy;		/* writes refused */
	volatile sig_atomic_t *stop;
	int		 die;		/* _exit() there, as kill -9 would */
};

static void
between(void *arg)
{
	struct between *b = arg;

	b->calls++;
	if (b->at != 0 && b->calls != b->at)
		return;
	if (b->die)
		_exit(0);
	if (b->sql != NULL && tool_sql(b->sql) != SQLITE_OK)
		b->busy++;
	if (b->stop != NULL)
		*b->stop = 1;
}

static void
pass_between(struct store *st, time_t now, struct between *b)
{
	struct pass_plan_stats stats;
	char err[512] = "";

	memset(&stats, 0, sizeof(stats));
	pass_plan_test_hook(2, between, b);
	if (pass_plan_run(cf, st, now, DELIVER_HORIZON, 0, 0, b->stop, &stats,
	    err, sizeof(err)) != 0)
		fail_msg("pass_plan_run: %s", err);
	pass_plan_test_hook(2, NULL, NULL);
}

/*
 * A pass as a row falls due (a service wakes for it) does not read its
 * appointment again: that pass's plan was made when the row was.  Once
 * the row is overdue (PLAN_OVERDUE_GRACE) it does, for the overdue rules.
 * One appointment per transaction: between() counts the chunks but one.
 */
static void
test_due_rows_read_again_only_when_overdue(void **state)
{
	struct store *st = practice(1);
	struct between b = { 0 };
	/* appointment 3's 48h reminder: due a day from now, 08:00 GMT */
	time_t due = NOW + DAY - 2 * HOUR;

	(void)state;
	for (long long i = 2; i <= 6; i++)
		book(st, i, NOW + i * DAY - 2 * HOUR);
	pass(st, NOW);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE"
	    " status = 'pending'"), 5);
	pass(st, due - HOUR);
	pass_plan_test_hook(1, between, &b);
	pass(st, due + 30);
	/* appointment 2 alone: its reminder is a day overdue */
	assert_int_equal(b.calls, 0);
	pass(st, due + 90);
	/* 2 and 3: 3's reminder is overdue too */
	assert_int_equal(b.calls, 1);
	pass_plan_test_hook(2, NULL, NULL);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE"
	    " status = 'pending'"), 5);
	store_close(st);
}

/* Appointments 1..n, one a day from tomorrow at 10:00 (GMT): all planned. */
static void
book_days(struct store *st, long long n)
{
	for (long long i = 1; i <= n; i++)
		book(st, i, NOW + i * DAY - 2 * HOUR);
}

/* Rows for one key more than once: the contract's invariant broken. */
static long long
dupes(struct store *st)
{
	return countf(st, "SELECT count(*) FROM (SELECT 1 FROM messages WHERE"
	    " appointment_id IS NOT NULL GROUP BY appointment_id, appt_start,"
	    " rule, client_id, channel HAVING count(*) > 1)");
}

/*
 * A whole pass (the first, over an imported diary) lets another writer in
 * between its chunks: the tool's write, with no busy timeout, is never
 * refused.
 */
static void
test_writer_gets_in_between_chunks(void **state)
{
	struct store *st = practice(1);
	struct between b = { .sql = "BEGIN IMMEDIATE; UPDATE cases SET label ="
	    " 'Sam T' WHERE id = 1; COMMIT" };

	(void)state;
	book_days(st, 7);
	pass_between(st, NOW, &b);
	assert_int_equal(b.calls, 3);		/* 4 chunks: 2, 2, 2, 1 */
	assert_int_equal(b.busy, 0);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE status"
	    " = 'pending'"), 7);
	store_close(st);
}

/*
 * What a booking tool changes between two chunks of the first pass,
 * among appointments already planned (moved, cancelled) or not read
 * (a new booking): the next pass plans it, because the change log the
 * first pass took at its start is all it empties, and the window the
 * triggers log in is saved at its start.
 */
static void
test_changes_between_chunks_are_planned(void **state)
{
	struct store *st = practice(1);
	char sql[512], t1[TZ_UTC_LEN], t7[TZ_UTC_LEN];
	struct between b = { .at = 1, .sql = sql };

	(void)state;
	book_days(st, 6);
	tz_format_utc(NOW + 5 * DAY + 3 * HOUR, t1);
	tz_format_utc(NOW + 3 * DAY + HOUR, t7);
	snprintf(sql, sizeof(sql), "BEGIN IMMEDIATE;"
	    " UPDATE appointments SET starts_at = '%s' WHERE id = 1;"
	    " UPDATE appointments SET status = 'cancelled' WHERE id = 2;"
	    " INSERT INTO appointments (id, case_id, starts_at) VALUES"
	    " (7, 1, '%s'); COMMIT", t1, t7);
	pass_between(st, NOW, &b);
	assert_int_equal(b.busy, 0);
	pass(st, NOW + 60);
	assert_int_equal(rows(st, 1, NOW + 5 * DAY + 3 * HOUR, "reminder",
	    "pending"), 1);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE"
	    " appointment_id IN (1, 2) AND status = 'pending' AND purpose ="
	    " 'reminder' AND appt_start <> '%s'", t1), 0);
	assert_int_equal(rows(st, 7, NOW + 3 * DAY + HOUR, "reminder",
	    "pending"), 1);
	assert_int_equal(dupes(st), 0);
	store_close(st);
}

/* Consent withdrawn between chunks: nothing stays pending for the client. */
static void
test_consent_withdrawn_between_chunks(void **state)
{
	struct store *st = practice(1);
	struct between b = { .at = 1, .sql = "UPDATE clients SET email_consent"
	    " = 0 WHERE id = 1" };

	(void)state;
	book_days(st, 6);
	pass_between(st, NOW, &b);
	assert_int_equal(b.busy, 0);
	pass(st, NOW + 60);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE status"
	    " = 'pending'"), 0);
	store_close(st);
}

/*
 * A pass stopped between chunks (SIGTERM) does not remember itself: the
 * next one is whole again and plans everything, each message once.
 */
static void
test_stopped_pass_is_done_again(void **state)
{
	struct store *st = practice(1);
	volatile sig_atomic_t stop = 0;
	struct between b = { .at = 1, .stop = &stop };
	char buf[64];

	(void)state;
	book_days(st, 6);
	pass_between(st, NOW, &b);
	assert_int_equal(b.calls, 1);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages"), 2);
	assert_string_equal(fx_sql_text(st, "SELECT value FROM state WHERE key ="
	    " 'plan.pass'", buf, sizeof(buf)), "(none)");
	pass(st, NOW + 60);
	pass(st, NOW + 120);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE status"
	    " = 'pending'"), 6);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages"), 6);
	assert_int_equal(dupes(st), 0);
	store_close(st);
}

/*
 * A whole pass because the change log's triggers were missing, stopped
 * half-way: the next pass is whole too (the last pass is forgotten at
 * the start of a whole one), or the bookings nothing logged are missed.
 */
static void
test_stopped_whole_pass_stays_whole(void **state)
{
	struct store *st = practice(1);
	volatile sig_atomic_t stop = 0;
	struct between b = { .at = 1, .stop = &stop };

	(void)state;
	book(st, 1, NOW + 20 * DAY);
	pass(st, NOW);
	fx_sql(st, "DROP TRIGGER plan_dirty_appt_ins");
	for (long long i = 2; i <= 6; i++)		/* not logged */
		book(st, i, NOW + i * DAY - 2 * HOUR);
	pass_between(st, NOW + 60, &b);
	assert_int_equal(b.calls, 1);
	pass(st, NOW + 120);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE status"
	    " = 'pending'"), 5);
	store_close(st);
}

/*
 * A later pass (bands and the change log) stopped half-way: what it took
 * from the change log and did not reach is still planned by the next.
 */
static void
test_stopped_pass_keeps_the_change_log(void **state)
{
	struct store *st = practice(1);
	volatile sig_atomic_t stop = 0;
	struct between b = { .at = 1, .stop = &stop };

	(void)state;
	book(st, 1, NOW + 20 * DAY);
	pass(st, NOW);
	book(st, 7, NOW + 2 * DAY);
	book(st, 8, NOW + 3 * DAY);
	book(st, 9, NOW + 4 * DAY);
	pass_between(st, NOW + 60, &b);
	assert_int_equal(b.calls, 1);
	pass(st, NOW + 120);
	for (long long i = 7; i <= 9; i++)
		assert_int_equal(rows(st, i, NOW + (i - 5) * DAY, "reminder",
		    "pending"), 1);
	assert_int_equal(dupes(st), 0);
	store_close(st);
}

/* Run a pass in a child that dies (as kill -9 would) after chunk 1. */
static void
pass_killed(time_t now)
{
	int status;
	pid_t pid;

	if ((pid = fork()) == 0) {
		struct between b = { .at = 1, .die = 1 };

		pass_between(fx_open(), now, &b);
		_exit(3);	/* the hook did not run */
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * Killed between chunks (no rollback, no clean-up), the first pass and
 * then a later one: the next pass completes the plan, each message once.
 */
static void
test_killed_pass_is_done_again(void **state)
{
	struct store *st = practice(1);

	(void)state;
	book_days(st, 6);
	pass_killed(NOW);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages"), 2);
	pass(st, NOW + 60);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE status"
	    " = 'pending'"), 6);
	book(st, 7, NOW + 2 * DAY + HOUR);
	book(st, 8, NOW + 3 * DAY + HOUR);
	book(st, 9, NOW + 4 * DAY + HOUR);
	pass_killed(NOW + 120);
	pass(st, NOW + 180);
	for (long long i = 7; i <= 9; i++)
		assert_int_equal(rows(st, i, NOW + (i - 5) * DAY + HOUR,
		    "reminder", "pending"), 1);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages"), 9);
	assert_int_equal(dupes(st), 0);
	store_close(st);
}

/* The connection's PRAGMA synchronous: 1 NORMAL, 2 FULL. */
static int
sync_level(struct store *st)
{
	sqlite3_stmt *q;
	int v = -1;

	assert_int_equal(sqlite3_prepare_v2(store_db(st), "PRAGMA synchronous",
	    -1, &q, NULL), SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	return v;
}

struct sync_seen {
	struct store	*st;
	int		 calls, relaxed;
	volatile sig_atomic_t *stop;
};

static void
sync_between(void *arg)
{
	struct sync_seen *w = arg;

	w->calls++;
	w->relaxed += sync_level(w->st) == 1;
	if (w->stop != NULL)
		*w->stop = 1;
}

/*
 * The chunks before the last commit with synchronous=NORMAL; every later
 * transaction is durable again: the pass's last chunk (it remembers the
 * pass), and after a pass stopped between chunks, the next transaction
 * (a claim, a record, an alert: store_begin) and an upload mark.
 */
static void
test_relaxed_chunks_leave_durable(void **state)
{
	struct store *st = practice(1);
	volatile sig_atomic_t stop = 0;
	struct sync_seen w = { .st = st };
	struct pass_plan_stats stats;
	char err[512] = "";

	(void)state;
	book_days(st, 6);
	assert_int_equal(sync_level(st), 2);
	pass_plan_test_hook(2, sync_between, &w);
	memset(&stats, 0, sizeof(stats));
	assert_int_equal(pass_plan_run(cf, st, NOW, DELIVER_HORIZON, 0, 0,
	    NULL, &stats, err, sizeof(err)), 0);
	assert_int_equal(w.calls, 2);
	assert_int_equal(w.relaxed, 2);
	assert_int_equal(sync_level(st), 2);	/* the last chunk was FULL */
	assert_int_equal(countf(st, "SELECT count(*) FROM state WHERE key ="
	    " 'plan.pass'"), 1);

	/* stopped after the first chunk: still NORMAL, until the next begin */
	book(st, 7, NOW + 2 * DAY + HOUR);
	book(st, 8, NOW + 3 * DAY + HOUR);
	book(st, 9, NOW + 4 * DAY + HOUR);
	w.calls = w.relaxed = 0;
	w.stop = &stop;
	assert_int_equal(pass_plan_run(cf, st, NOW + 60, DELIVER_HORIZON, 0, 0,
	    &stop, &stats, err, sizeof(err)), 0);
	pass_plan_test_hook(2, NULL, NULL);
	assert_int_equal(w.calls, 1);
	assert_int_equal(store_begin(st, err, sizeof(err)), 0);
	assert_int_equal(sync_level(st), 2);
	assert_int_equal(store_commit(st, err, sizeof(err)), 0);

	/*
	 * relaxed again, then an upload mark: it leaves the connection as it
	 * found it (store_mark_uploaded), and the next transaction is FULL
	 */
	stop = 0;
	w.calls = 0;
	pass_plan_test_hook(2, sync_between, &w);
	assert_int_equal(pass_plan_run(cf, st, NOW + 120, DELIVER_HORIZON, 0,
	    0, &stop, &stats, err, sizeof(err)), 0);
	pass_plan_test_hook(2, NULL, NULL);
	assert_int_equal(w.calls, 1);
	assert_int_equal(sync_level(st), 1);
	fx_sql(st, "UPDATE messages SET status = 'sending' WHERE id ="
	    " (SELECT min(id) FROM messages)");
	assert_int_equal(store_mark_uploaded(st, countf(st, "SELECT min(id)"
	    " FROM messages"), NULL, err, sizeof(err)), 0);
	assert_int_equal(sync_level(st), 1);
	assert_int_equal(store_begin(st, err, sizeof(err)), 0);
	assert_int_equal(sync_level(st), 2);
	assert_int_equal(store_commit(st, err, sizeof(err)), 0);
	store_close(st);
}

/* Lines of path that contain needle. */
static int
lines_with(const char *path, const char *needle)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/*
 * A dry run (nudged --dry-run) reports every unreadable row, once: a
 * client whose consent reads neither 0 nor 1 is in the snapshot of every
 * chunk that reads one of its appointments, but is one row.
 */
static void
test_dry_run_reports_a_bad_row_once(void **state)
{
	struct store *st = practice(1);
	struct pass_plan_stats stats;
	char err[512] = "", *log;
	int keep, fd;

	(void)state;
	fx_sql(st, "UPDATE clients SET email_consent = 'yes' WHERE id = 1");
	book_days(st, 6);			/* 3 chunks of 2 */
	log = fx_file("dry.log", "", 0600);
	fflush(stderr);
	keep = dup(STDERR_FILENO);
	assert_true((fd = open(log, O_WRONLY | O_TRUNC)) >= 0);
	dup2(fd, STDERR_FILENO);
	close(fd);
	memset(&stats, 0, sizeof(stats));
	assert_int_equal(store_dry_begin(st, err, sizeof(err)), 0);
	assert_int_equal(pass_plan_run(cf, st, NOW, DELIVER_HORIZON, 0, 1, NULL,
	    &stats, err, sizeof(err)), 0);
	store_dry_end(st);
	fflush(stderr);
	dup2(keep, STDERR_FILENO);
	close(keep);
	assert_int_equal(lines_with(log, "skipping clients row 1:"), 1);
	assert_int_equal(stats.bad_rows, 1);
	free(log);
	store_close(st);
}

/*
 * A version 6 database (one transaction per pass, full indexes on
 * messages.appointment_id and homework_id) with a plan and a change
 * logged: opened, it gets plan_taken and the partial indexes, and the
 * next pass plans the logged change, each message once.
 */
static void
test_version_6_upgrades(void **state)
{
	struct store *st = practice(1);
	sqlite3 *db;
	char buf[256];

	(void)state;
	book_days(st, 3);
	pass(st, NOW);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages"), 3);
	store_close(st);
	assert_int_equal(sqlite3_open(fx_db(), &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE plan_taken;"
	    " DROP INDEX messages_appt; DROP INDEX messages_hw;"
	    " CREATE INDEX messages_appt ON messages (appointment_id);"
	    " CREATE INDEX messages_hw ON messages (homework_id);"
	    " PRAGMA user_version = 6;"
	    " UPDATE appointments SET starts_at = '2026-06-03T15:00:00Z'"
	    " WHERE id = 1", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	st = fx_open();
	assert_int_equal(fx_sql_int(st, "PRAGMA user_version"),
	    STORE_SCHEMA_VERSION);
	assert_int_equal(countf(st, "SELECT count(*) FROM plan_dirty"), 1);
	assert_int_equal(countf(st, "SELECT count(*) FROM plan_taken"), 0);
	assert_non_null(strstr(fx_sql_text(st, "SELECT sql FROM sqlite_master"
	    " WHERE name = 'messages_appt'", buf, sizeof(buf)),
	    "WHERE appointment_id IS NOT NULL"));
	assert_non_null(strstr(fx_sql_text(st, "SELECT sql FROM sqlite_master"
	    " WHERE name = 'messages_hw'", buf, sizeof(buf)),
	    "WHERE homework_id IS NOT NULL"));
	pass(st, NOW + 60);
	assert_int_equal(rows(st, 1, NOW + 2 * DAY + 3 * HOUR, "reminder",
	    "pending"), 1);
	assert_int_equal(rows(st, 1, NOW + DAY - 2 * HOUR, "reminder",
	    "cancelled"), 1);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE"
	    " appointment_id = 2"), 1);
	assert_int_equal(countf(st, "SELECT count(*) FROM plan_dirty"), 0);
	assert_int_equal(countf(st, "SELECT count(*) FROM plan_taken"), 0);
	assert_int_equal(dupes(st), 0);
	store_close(st);
}

/*
 * The last chunk reads the sessions homework needs (its day numbers skip
 * session days from starts_on, it ends before the next session), not a
 * homework case's whole history: every pass held the lock for that
 * (1,000,000 appointments, 500 cases with homework: 125 ms, every pass).
 * A session a year before starts_on, unreadable, is not read, so not
 * reported; the plan is the same.
 */
static void
test_homework_reads_sessions_from_its_start(void **state)
{
	struct store *st = practice(1);

	(void)state;
	fx_sql(st, "INSERT INTO homework (id, case_id, title, prompt, starts_on,"
	    " every_days) VALUES (1, 1, 'T', 'P', '2026-06-01', 1)");
	fx_sql(st, "INSERT INTO appointments (id, case_id, starts_at, kind)"
	    " VALUES (50, 1, '2025-06-01T10:00:00Z', 'massage')");
	book(st, 51, NOW - 2 * DAY);		/* before starts_on: no effect */
	book(st, 52, NOW + 2 * DAY - 2 * HOUR);	/* the next session */
	pass(st, NOW);
	assert_int_equal(countf(st, "SELECT count(*) FROM problems WHERE tbl ="
	    " 'appointments' AND row_id = 50"), 0);
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE"
	    " homework_id = 1 AND status = 'pending'"), 2);	/* 1 and 2 June */
	assert_int_equal(countf(st, "SELECT count(*) FROM messages WHERE"
	    " homework_id = 1 AND occurrence >= '2026-06-03'"), 0);
	store_close(st);
}

/*
 * A couple (one partner without consent), two reminder rules, bookings
 * made late (both reminders overdue: only the closer goes), a cancelled
 * one, homework bounded by the next session: what a pass plans two
 * appointments per transaction is what it plans in one.
 */
static void
couple_diary(struct store *st)
{
	fx_sql(st, "INSERT INTO clients (id, name, email, email_consent) VALUES"
	    " (1, 'Sam Taylor', 'sam@example.org', 1),"
	    " (2, 'Alex Taylor', 'alex@example.org', 0)");
	fx_sql(st, "INSERT INTO cases (id, label) VALUES (1, 'Sam & Alex')");
	fx_sql(st, "INSERT INTO case_members (case_id, client_id) VALUES (1, 1),"
	    " (1, 2)");
	for (long long i = 1; i <= 4; i++)	/* late: 48h and 24h overdue */
		book(st, i, NOW + 20 * HOUR + i * HOUR);
	for (long long i = 5; i <= 9; i++)
		book(st, i, NOW + (i - 3) * DAY);
	fx_sql(st, "UPDATE appointments SET status = 'cancelled' WHERE id = 7");
	fx_sql(st, "INSERT INTO homework (id, case_id, title, prompt, starts_on,"
	    " every_days) VALUES (1, 1, 'T', 'P', '2026-06-01', 1)");
}

static void
plan_dump(size_t chunk, char *buf, size_t len)
{
	struct store *st;

	fx_db_new();
	st = fx_open();
	couple_diary(st);
	pass_plan_test_hook(chunk, NULL, NULL);
	pass(st, NOW);
	pass_plan_test_hook(2, NULL, NULL);
	fx_sql_text(st, "SELECT count(*) || ':' || group_concat(purpose || '|' ||"
	    " coalesce(appointment_id, '') || '|' || coalesce(homework_id, '') ||"
	    " '|' || client_id || '|' || channel || '|' || due_at || '|' || status"
	    " || '|' || coalesce(rule, '') || '|' || coalesce(occurrence, ''), ';')"
	    " FROM (SELECT * FROM messages ORDER BY appointment_id, homework_id,"
	    " occurrence, rule, client_id)", buf, len);
	store_close(st);
	fx_db_remove(fx_db());
}

static void
test_chunks_plan_what_one_transaction_plans(void **state)
{
	static char one[16384], two[16384];
	struct conf_diag e = { 0 };
	struct conf *keep = cf, *q = NULL;
	char *path;

	(void)state;
	path = fx_file("late.conf",
	    "practice = { name = \"P\"; practitioner = \"Q\";"
	    " email = \"q@example.org\"; };\n"
	    "email = { enabled = true; url = \"smtp://127.0.0.1:9\"; tls = \"none\";"
	    " from = \"P <p@example.org>\"; };\n"
	    "reminders = ( { before = \"48h\"; channel = \"email\"; },"
	    " { before = \"24h\"; channel = \"email\"; } );\n"
	    "homework = { at = \"19:00\"; channels = [\"email\"]; };\n", 0600);
	assert_int_equal(conf_load(path, &q, &e, NULL), 0);
	conf_diag_free(&e);
	free(path);
	cf = q;
	plan_dump(100000, one, sizeof(one));
	plan_dump(2, two, sizeof(two));
	cf = keep;
	conf_free(q);
	assert_string_equal(two, one);
	/* and it is the plan the rules call for: the closer overdue one goes */
	assert_non_null(strstr(one, "reminder|1||1|email|2026-06-01T09:00:00Z|"
	    "pending|b86400|"));
	assert_non_null(strstr(one, "reminder|1||1|email|2026-05-31T09:00:00Z|"
	    "skipped|b172800|"));
	assert_null(strstr(one, "|2|email|"));		/* Alex: no consent */
	assert_null(strstr(one, "reminder|7|"));	/* cancelled */
	assert_non_null(strstr(one, "homework||1|1|email|"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_far_moved_into_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_far_cancelled_stays_quiet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_band_brings_the_next_appointments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reminded_then_moved_far, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_booking_inside_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_consent_given_later, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partner_removed_between_passes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reused_id_other_case, setup, teardown),
		cmocka_unit_test_setup_teardown(test_undone_changes_between_passes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_band_passes_miss_nothing_over_dst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_band_passes_with_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_homework_still_planned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quiet_hours_bring_a_stretch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_trigger_reads_the_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_rule_reads_the_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reads_only_the_band, setup, teardown),
		cmocka_unit_test_setup_teardown(test_due_rows_read_again_only_when_overdue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_gets_in_between_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes_between_chunks_are_planned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_consent_withdrawn_between_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stopped_pass_is_done_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stopped_pass_keeps_the_change_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stopped_whole_pass_stays_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fallback_email_in_the_fingerprint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_pass_is_done_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunks_plan_what_one_transaction_plans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relaxed_chunks_leave_durable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run_reports_a_bad_row_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_6_upgrades, setup, teardown),
		cmocka_unit_test_setup_teardown(test_homework_reads_sessions_from_its_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_rows_cancel_nothing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
