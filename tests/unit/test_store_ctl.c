/*
 * store_people, store_diary, store_ctl: nudgectl's reads show rows as a
 * booking tool wrote them (a value nudged itself would refuse is shown,
 * not hidden), the overlap checks skip what they cannot read, and the
 * writes round-trip through the same rows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "base/util.h"
#include "fixture.h"

/* 2026-06-01T12:00:00Z */
#define NOW	((time_t)1780315200)
#define HOUR	3600

static void
test_client_row_as_stored(void **state)
{
	struct store *s = fx_open();
	struct client_row c, *v;
	char err[256];
	size_t n;

	(void)state;
	/* 'yes' is unreadable for nudged (consent must be 0 or 1)... */
	fx_sql(s, "INSERT INTO clients (id, name, email, email_consent,"
	    " sms_consent, opted_out_at) VALUES (1, 'Sam Taylor',"
	    " 'sam@example.org', 'yes', 2, 'last week')");
	assert_int_equal(store_client_row(s, 1, &c, err, sizeof(err)),
	    STORE_FOUND);
	/* ...but nudgectl shows it: the text as written, flags non-zero. */
	assert_string_equal(c.name, "Sam Taylor");
	assert_null(c.phone);
	assert_int_equal(c.email_consent, 0);
	assert_int_equal(c.sms_consent, 1);
	assert_string_equal(c.opted_out_at, "last week");
	client_row_free(&c);
	assert_int_equal(store_client_row(s, 2, &c, err, sizeof(err)),
	    STORE_GONE);
	assert_int_equal(store_client_rows(s, &v, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	client_rows_free(v, n);
	store_close(s);
}

static void
test_client_add_update(void **state)
{
	struct store *s = fx_open();
	struct client_row c = { .name = "Alex Kim", .email = "alex@example.org",
	    .email_consent = 1 }, r;
	char err[256];
	long long id;

	(void)state;
	assert_int_equal(store_client_add(s, &c, &id, err, sizeof(err)), 0);
	c.id = id;
	c.email = NULL;
	c.sms_consent = 1;
	assert_int_equal(store_client_update(s, &c, err, sizeof(err)), 0);
	assert_int_equal(store_client_opt_out(s, id, NOW, err, sizeof(err)), 0);
	assert_int_equal(store_client_row(s, id, &r, err, sizeof(err)),
	    STORE_FOUND);
	assert_null(r.email);
	assert_int_equal(r.sms_consent, 1);
	assert_string_equal(r.opted_out_at, "2026-06-01T12:00:00Z");
	client_row_free(&r);
	store_close(s);
}

static void
test_case_rows_members(void **state)
{
	struct store *s = fx_open();
	struct case_row *v;
	long long ids[2] = { 2, 1 }, id;
	char err[256];
	size_t n;

	(void)state;
	fx_sql(s, "INSERT INTO clients (id, name) VALUES (1, 'Sam'), (2, 'Alex')");
	assert_int_equal(store_case_add(s, "Sam & Alex", ids, 2, &id, err,
	    sizeof(err)), 0);
	assert_int_equal(store_case_member(s, id, 2, err, sizeof(err)),
	    STORE_FOUND);
	assert_int_equal(store_case_member(s, id, 3, err, sizeof(err)),
	    STORE_GONE);
	assert_int_equal(store_case_rows(s, &v, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].nmembers, 2);
	assert_int_equal(v[0].member_ids[0], 1);	/* ascending */
	assert_string_equal(v[0].member_names[1], "Alex");
	assert_null(v[0].closed_at);
	case_rows_free(v, n);
	store_close(s);
}

static void
test_clash_skips_unreadable(void **state)
{
	struct store *s = fx_open();
	struct appt a = { .case_id = 1, .starts_at = NOW + 24 * HOUR,
	    .duration_min = 60, .kind = KIND_SESSION, .mode = MODE_IN_PERSON };
	struct appt_hit hit;
	struct appt_row r;
	char err[256];
	long long id;

	(void)state;
	fx_sql(s, "INSERT INTO cases (id, label) VALUES (1, 'K'), (2, 'L')");
	fx_sql(s, "INSERT INTO appointments (id, case_id, starts_at, status)"
	    " VALUES (7, 1, 'next tuesday', 'booked')");
	assert_int_equal(store_appt_add(s, &a, &id, err, sizeof(err)), 0);
	/* half an hour later overlaps; the unreadable row is skipped */
	assert_int_equal(store_case_clash(s, 1, 0, NOW + 24 * HOUR + 1800, 60,
	    &hit, err, sizeof(err)), STORE_FOUND);
	assert_int_equal(hit.id, id);
	/* the appointment itself (moved) does not clash with itself */
	assert_int_equal(store_case_clash(s, 1, id, NOW + 24 * HOUR + 1800, 60,
	    &hit, err, sizeof(err)), STORE_GONE);
	/* another case's view: the practitioner is busy then */
	assert_int_equal(store_overlap(s, 2, 0, NOW + 24 * HOUR, 30, &hit, err,
	    sizeof(err)), STORE_FOUND);
	assert_string_equal(hit.label, "K");
	assert_int_equal(store_appt_row(s, 7, &r, err, sizeof(err)),
	    STORE_FOUND);
	assert_string_equal(r.starts_at, "next tuesday");	/* as stored */
	appt_row_free(&r);
	store_close(s);
}

static void
test_appt_change_leaving_online(void **state)
{
	struct store *s = fx_open();
	struct appt_change ch = { .set_mode = 1, .mode = MODE_PHONE };
	struct appt_row r;
	char err[256];

	(void)state;
	fx_sql(s, "INSERT INTO cases (id, label) VALUES (1, 'K')");
	fx_sql(s, "INSERT INTO appointments (id, case_id, starts_at, mode,"
	    " video_url, for_client) VALUES (3, 1, '2026-06-02T12:00:00Z',"
	    " 'online', 'https://meet.example/x', 5)");
	ch.everyone = 1;
	assert_int_equal(store_appt_change(s, 3, &ch, err, sizeof(err)), 0);
	assert_int_equal(store_appt_row(s, 3, &r, err, sizeof(err)),
	    STORE_FOUND);
	assert_string_equal(r.mode, "phone");
	assert_null(r.video_url);	/* its own link went with online */
	assert_int_equal(r.for_client, 0);
	appt_row_free(&r);
	store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_DB_TEST(test_client_row_as_stored),
		FX_DB_TEST(test_client_add_update),
		FX_DB_TEST(test_case_rows_members),
		FX_DB_TEST(test_clash_skips_unreadable),
		FX_DB_TEST(test_appt_change_leaving_online),
	};

	return cmocka_run_group_tests(tests, fx_db_group_setup,
	    fx_db_group_teardown);
}
