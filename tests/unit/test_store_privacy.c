/*
 * store_privacy: the consent record's diffing, erasure's edge cases (a
 * message being sent, a value quoted in another letter case, two rows
 * made equal under a UNIQUE constraint), and retention's boundaries.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store_privacy.h"
#include "base/tz.h"
#include "fixture.h"

#define NOW	((time_t)1780315200)	/* 2026-06-01T12:00:00Z */
#define DAY	86400L

static void
sync_ok(struct store *s, const char *how, int want)
{
	char err[512] = "";
	int n = -1;

	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	if (store_consent_sync(s, NOW, how, "first", &n, err, sizeof(err)) != 0)
		fail_msg("sync: %s", err);
	assert_int_equal(store_commit(s, err, sizeof(err)), 0);
	assert_int_equal(n, want);
}

static void
test_consent_diff(void **state)
{
	struct store *s = fx_open();

	(void)state;
	fx_sql(s, "INSERT INTO clients (id, name) VALUES (1, 'A')");
	sync_ok(s, "x", 4);		/* first seen: four values */
	sync_ok(s, "x", 0);		/* nothing changed */
	/* 2 is not consent (only exactly 1 is), so 1 -> 2 is a withdrawal */
	fx_sql(s, "UPDATE clients SET email_consent = 2, opted_out_at = '' WHERE"
	    " id = 1");
	sync_ok(s, "tool", 2);
	assert_int_equal(fx_sql_int(s, "SELECT count(*) FROM consent_log WHERE"
	    " how = 'tool' AND ((what = 'email_consent' AND old_value = 1 AND"
	    " new_value = 0) OR (what = 'opted_out' AND old_value = 0 AND"
	    " new_value = 1))"), 2);
	/* a deleted client is forgotten by consent_seen, not logged */
	fx_sql(s, "DELETE FROM clients WHERE id = 1");
	sync_ok(s, "x", 0);
	assert_int_equal(fx_sql_int(s, "SELECT count(*) FROM consent_seen"), 0);
	store_close(s);
}

/*
 * Issue 12: the same record a batch of clients per transaction, as a pass
 * over a large imported diary makes it: every client once, the last batch
 * forgets deleted clients, and a second round logs nothing.
 */
static void
test_consent_in_batches(void **state)
{
	struct store *s = fx_open();
	char err[512] = "";
	int batches = 0;

	(void)state;
	fx_sql(s, "INSERT INTO clients (id, name) VALUES (2, 'A'), (3, 'B'),"
	    " (5, 'C'), (8, 'D'), (13, 'E')");
	fx_sql(s, "INSERT INTO consent_seen (client_id, email_consent,"
	    " sms_consent, opted_out, discreet) VALUES (99, 1, 0, 0, 0)");
	for (int round = 0; round < 2; round++) {
		long long from = INT64_MIN;

		batches = 0;
		do {
			assert_int_equal(store_begin(s, err, sizeof(err)), 0);
			if (store_consent_sync_some(s, NOW, "x", "first", &from, 2,
			    err, sizeof(err)) != 0)
				fail_msg("sync: %s", err);
			assert_int_equal(store_commit(s, err, sizeof(err)), 0);
			batches++;
		} while (from != INT64_MIN && batches < 10);
		assert_int_equal(batches, 3);
		assert_int_equal(fx_sql_int(s, "SELECT count(*) FROM consent_log"),
		    20);
		assert_int_equal(fx_sql_int(s, "SELECT count(DISTINCT client_id)"
		    " FROM consent_log"), 5);
		assert_int_equal(fx_sql_int(s, "SELECT count(*) FROM consent_seen"),
		    5);
	}
	store_close(s);
}

static int
forget(struct store *s, long long id, const char *const *scrub, size_t n)
{
	struct forget_stats fs;
	char err[512] = "";
	int r;

	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	r = store_forget(s, id, NOW, scrub, n, &fs, err, sizeof(err));
	if (r < 0)
		fail_msg("forget: %s", err);
	if (r == 0)
		assert_int_equal(store_commit(s, err, sizeof(err)), 0);
	else
		store_rollback(s);
	return r;
}

static void
test_forget_edges(void **state)
{
	const char *const scrub[] = { "Sam Taylor", "sam@example.org", "Al", NULL };
	struct store *s = fx_open();

	(void)state;
	fx_sql(s, "INSERT INTO clients (id, name, email) VALUES (1, 'Sam Taylor',"
	    " 'sam@example.org'), (2, 'Alex', 'alex@example.org')");
	fx_sql(s, "INSERT INTO cases (id, label) VALUES (1, 'Sam & Alex'),"
	    " (2, 'Sam alone')");
	fx_sql(s, "INSERT INTO case_members VALUES (1, 1), (1, 2), (2, 1)");
	fx_sql(s, "INSERT INTO messages (purpose, client_id, channel, recipient,"
	    " due_at, status, created_at) VALUES ('reminder', 1, 'email',"
	    " 'sam@example.org', '2026-06-01T10:00:00Z', 'sending', 'x')");
	assert_int_equal(forget(s, 1, scrub, 4), 1);	/* being sent: refused */
	assert_int_equal(fx_sql_int(s, "SELECT count(*) FROM case_members"), 3);
	fx_sql(s, "UPDATE messages SET status = 'sent'");
	/* quoted in another case; two problems made equal by the scrub */
	fx_sql(s, "INSERT INTO problems (tbl, row_id, what, first_seen) VALUES"
	    " ('homework', 1, 'bad value ''Sam Taylor''', 'x'),"
	    " ('homework', 1, 'bad value ''sam@example.org''', 'x'),"
	    " ('homework', 3, 'From SAM@Example.ORG', 'x'),"
	    " ('homework', 2, 'Also fine', 'x')");
	assert_int_equal(forget(s, 1, scrub, 4), 0);
	assert_int_equal(fx_sql_int(s, "SELECT count(*) FROM problems WHERE"
	    " instr(lower(what), 'sam@') > 0"), 0);
	assert_int_equal(fx_sql_int(s, "SELECT count(*) FROM problems WHERE"
	    " tbl = 'homework' AND row_id = 1"), 1);
	/* another letter case: the whole value goes */
	assert_int_equal(fx_sql_int(s, "SELECT count(*) FROM problems WHERE"
	    " row_id = 3 AND what = '[forgotten]'"), 1);
	/* "Al" is too short to search for: "Also" is left alone */
	assert_int_equal(fx_sql_int(s, "SELECT count(*) FROM problems WHERE"
	    " what = 'Also fine'"), 1);
	assert_int_equal(fx_sql_int(s, "SELECT count(*) FROM messages WHERE"
	    " recipient = '' AND status = 'sent'"), 1);
	/* the couple's case is Alex's; the case left empty is closed */
	assert_int_equal(fx_sql_int(s, "SELECT count(*) FROM cases WHERE id = 1 AND"
	    " label = 'Alex' AND closed_at IS NULL"), 1);
	assert_int_equal(fx_sql_int(s, "SELECT count(*) FROM cases WHERE id = 2 AND"
	    " label = 'case 2' AND closed_at IS NOT NULL"), 1);
	/* the partner's own row is untouched */
	assert_int_equal(fx_sql_int(s, "SELECT count(*) FROM clients WHERE id = 2 AND"
	    " email = 'alex@example.org'"), 1);
	store_close(s);
}

static void
test_retain_boundaries(void **state)
{
	struct retain_counts n;
	struct store *s = fx_open();
	char err[512] = "";

	(void)state;
	/* settled 10 and 2 days ago, one pending; an appointment each side */
	fx_sql(s, "INSERT INTO messages (purpose, channel, recipient, due_at, status,"
	    " sent_at, provider_ref, created_at) VALUES"
	    " ('reminder', 'email', 'a@x.org', '2026-05-22T12:00:00Z', 'sent',"
	    "  '2026-05-22T12:00:00Z', 'id1', 'x'),"
	    " ('reminder', 'email', 'b@x.org', '2026-05-30T12:00:00Z', 'sent',"
	    "  '2026-05-30T12:00:00Z', 'id2', 'x'),"
	    " ('reminder', 'email', 'c@x.org', '2026-05-01T12:00:00Z', 'pending',"
	    "  NULL, NULL, 'x')");
	fx_sql(s, "INSERT INTO cases (id, label) VALUES (1, 'c')");
	fx_sql(s, "INSERT INTO appointments (case_id, starts_at, video_url) VALUES"
	    " (1, '2026-05-20T10:00', 'u1'), (1, '2026-05-31T10:00:00Z', 'u2'),"
	    " (1, 'next week', 'u3')");
	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	assert_int_equal(store_retain(s, NOW - 7 * DAY, NOW - 7 * DAY, 1, &n, err,
	    sizeof(err)), 0);
	assert_int_equal(n.messages, 1);
	assert_int_equal(n.appointments, 1);
	assert_int_equal(store_retain(s, NOW - 7 * DAY, NOW - 7 * DAY, 0, &n, err,
	    sizeof(err)), 0);
	assert_int_equal(store_commit(s, err, sizeof(err)), 0);
	assert_int_equal(n.messages, 1);
	assert_int_equal(fx_sql_int(s, "SELECT count(*) FROM messages WHERE"
	    " recipient = '' AND provider_ref IS NULL"), 1);
	assert_int_equal(fx_sql_int(s, "SELECT count(*) FROM messages WHERE"
	    " recipient = 'c@x.org'"), 1);	/* pending: never */
	/* unreadable starts_at: kept (planning reports it) */
	assert_int_equal(fx_sql_int(s, "SELECT count(*) FROM appointments WHERE"
	    " video_url IS NULL"), 1);
	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	assert_int_equal(store_retain(s, NOW - 7 * DAY, 0, 0, &n, err,
	    sizeof(err)), 0);
	assert_int_equal(store_commit(s, err, sizeof(err)), 0);
	assert_int_equal(n.messages, 0);	/* not counted twice */
	store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_DB_TEST(test_consent_diff),
		FX_DB_TEST(test_consent_in_batches),
		FX_DB_TEST(test_forget_edges),
		FX_DB_TEST(test_retain_boundaries),
	};

	return cmocka_run_group_tests(tests, fx_db_group_setup,
	    fx_db_group_teardown);
}
