/*
 * compose: which template group a message uses (the contract's fallback
 * rules), the values it gets, and how data is made safe for one line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/alert.h"
#include "policy/compose.h"
#include "conf/conf.h"
#include "store/store.h"
#include "base/translit.h"
#include "base/tz.h"
#include "fixture.h"

static struct conf cf;
static struct conf_tmpl_group groups[2];

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(fx_tz_london(), 0);
	memset(&cf, 0, sizeof(cf));
	memset(groups, 0, sizeof(groups));
	cf.practice.name = "Hughes Relationship Therapy";
	cf.practice.practitioner = "Christian Hughes";
	cf.practice.email = "christian@example.org";
	cf.practice.address = "1 High Street";
	cf.practice.video_url = "https://meet.example.org/hughes";
	return 0;
}

static void
check_group(const char *purpose, const char *kind, const char *tmpl,
    int discreet, const char *want)
{
	enum msg_purpose p;
	char *g;

	assert_int_equal(msg_purpose_parse(purpose, &p), 0);
	g = compose_group(&cf, p, kind, tmpl, discreet);

	assert_string_equal(g, want);
	free(g);
}

static void
test_group_fallbacks(void **state)
{
	(void)state;
	check_group("reminder", "session", NULL, 0, "reminder");
	check_group("reminder", "assessment", NULL, 0, "assessment");
	check_group("reminder", "call", NULL, 0, "call");
	check_group("reminder", "assessment", NULL, 1, "assessment_discreet");
	check_group("reminder", "session", NULL, 1, "reminder_discreet");
	check_group("follow_up", "assessment", "assessment_follow_up", 0,
	    "assessment_follow_up");
	check_group("follow_up", "session", NULL, 0, "follow_up");
	check_group("cancellation", "assessment", NULL, 1, "cancellation_discreet");
	check_group("alert", NULL, NULL, 1, "alert");
	/* A group of the practitioner's own without a discreet variant. */
	groups[0].name = "gentle";
	groups[0].sms = "Hi {{first_name}}";
	cf.tmpls = groups;
	cf.ntmpls = 1;
	check_group("reminder", "session", "gentle", 0, "gentle");
	check_group("reminder", "session", "gentle", 1, "reminder_discreet");
	/* A kind given its own group in the config is used for that kind. */
	groups[1].name = "session";
	groups[1].email_subject = "Session on {{date}}";
	cf.ntmpls = 2;
	check_group("reminder", "session", NULL, 0, "session");
}

static void
test_oneline(void **state)
{
	char *o;

	(void)state;
	o = compose_oneline("Sam\r\nBcc: evil@example.org");
	assert_string_equal(o, "Sam");
	free(o);
	o = compose_oneline("  Zo\xc3\xab \t  \x01 \xc2\x85 \xc3\x98" "degaard  ");
	assert_string_equal(o, "Zo\xc3\xab \xc3\x98" "degaard");
	free(o);
	o = compose_oneline("Zo\xeb");		/* Latin-1 from a booking tool */
	assert_string_equal(o, "Zo\xef\xbf\xbd");
	free(o);
	o = compose_oneline("\xed\xa0\x80x");	/* an encoded surrogate */
	assert_string_equal(o, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "x");
	free(o);
	assert_null(compose_oneline(NULL));
}

static void
test_values(void **state)
{
	struct client cl = { .id = 1, .name = "Sam Taylor", .email = "s@example.org",
	    .email_consent = 1 };
	struct client partner = { .id = 2, .name = "Alex Morgan" };
	struct appt a = { .id = 9, .case_id = 1, .duration_min = 90,
	    .kind = KIND_ASSESSMENT, .mode = MODE_IN_PERSON };
	struct compose_in in = { .purpose = PURPOSE_REMINDER, .appt = &a, .client = &cl,
	    .partner = &partner };
	struct composed w;

	(void)state;
	assert_int_equal(tz_parse_utc("2026-07-02T13:00:00Z", &a.starts_at), 0);
	cf.tmpls = groups;
	cf.ntmpls = 1;
	groups[0].name = "assessment";
	groups[0].email_subject = "{{first_name}}+{{partner_first_name}} {{date}} "
	    "{{time}} {{duration}} [{{location}}] [{{video_url}}]";
	groups[0].email_text = "x";
	groups[0].sms = "x";
	compose_msg(&cf, &in, &w);
	assert_string_equal(w.subject, "Sam+Alex Thursday 2 July 2026 14:00 "
	    "90 minutes [1 High Street] []");
	composed_free(&w);
	a.mode = MODE_ONLINE;
	compose_msg(&cf, &in, &w);
	assert_string_equal(w.subject, "Sam+Alex Thursday 2 July 2026 14:00 "
	    "90 minutes [online] [https://meet.example.org/hughes]");
	composed_free(&w);
	a.video_url = "https://v.example.org/own";
	a.mode = MODE_PHONE;
	compose_msg(&cf, &in, &w);
	assert_string_equal(w.subject, "Sam+Alex Thursday 2 July 2026 14:00 "
	    "90 minutes [by phone] []");
	composed_free(&w);
	/* The built-in discreet text never names the practice. */
	cl.discreet = 1;
	cf.ntmpls = 0;
	compose_msg(&cf, &in, &w);
	assert_string_equal(w.group, "assessment_discreet");
	assert_null(strstr(w.subject, "Hughes"));
	assert_null(strstr(w.sms, "Hughes"));
	assert_non_null(strstr(w.subject, "2 July 2026"));
	composed_free(&w);
	/*
	 * Alone in the case: no word about a partner or a couple, which is
	 * what a partner reading the phone would learn from.
	 */
	in.partner = NULL;
	compose_msg(&cf, &in, &w);
	assert_string_equal(w.group, "assessment_discreet");
	assert_null(strstr(w.text, "partner"));
	assert_null(strstr(w.text, "couple"));
	assert_null(strstr(w.sms, "partner"));
	assert_null(strstr(w.sms, "both"));
	assert_non_null(strstr(w.text, "first appointment"));
	composed_free(&w);
}

/* Issue 9: when_relative, old_date, links in SMS, transliteration, discreet address. */
static void
test_issue9_values(void **state)
{
	struct client cl = { .id = 1, .name = "Zo\xc3\xab \xc5\x81uk",
	    .first_name = "Zo\xc3\xab", .email = "z@example.org", .email_consent = 1 };
	struct appt a = { .id = 9, .case_id = 1, .duration_min = 60,
	    .kind = KIND_SESSION, .mode = MODE_ONLINE };
	struct compose_in in = { .purpose = PURPOSE_MOVED, .appt = &a, .client = &cl };
	struct composed w;
	time_t t;

	(void)state;
	cf.sms.transliterate = 1;
	cf.practice.discreet_address = 0;
	cf.practice.directions = "Side door";
	assert_int_equal(tz_parse_utc("2026-07-02T13:00:00Z", &a.starts_at), 0);
	cf.tmpls = groups;
	cf.ntmpls = 1;
	groups[0].name = "moved";
	groups[0].email_subject = "[{{when_relative}}|{{relative_day}}|{{old_date}} "
	    "{{old_time}}|{{location}}|{{directions}}]";
	groups[0].email_text = "{{first_name}}";
	groups[0].sms = "Hi {{first_name}} {{video_url}} next. {{video_url}}";
	/* 23:30 BST the day before is "tomorrow" in London (22:30 UTC) */
	assert_int_equal(tz_parse_utc("2026-07-01T22:30:00Z", &in.now), 0);
	assert_int_equal(tz_parse_utc("2026-06-30T09:00:00Z", &in.old_start), 0);
	compose_msg(&cf, &in, &w);
	assert_string_equal(w.subject, "[tomorrow|tomorrow|Tuesday 30 June 2026 "
	    "10:00|online|]");
	assert_string_equal(w.text, "Zo\xc3\xab");	/* emails keep the name */
	/* the link ends its line; the last one ends the text */
	assert_string_equal(w.sms, "Hi Zoe https://meet.example.org/hughes\n"
	    "next. https://meet.example.org/hughes");
	assert_non_null(w.sms_exact);
	assert_non_null(strstr(w.sms_exact, "Hi Zo\xc3\xab "));
	composed_free(&w);
	/* 23:30 UTC is 00:30 BST on the day: "today"; no old time when the same */
	assert_int_equal(tz_parse_utc("2026-07-01T23:30:00Z", &in.now), 0);
	in.old_start = a.starts_at;
	a.mode = MODE_IN_PERSON;
	compose_msg(&cf, &in, &w);
	assert_string_equal(w.subject, "[today|today| |1 High Street|Side door]");
	composed_free(&w);
	/* a week ahead: "on <date>"; discreet in person: no address, both ways */
	assert_int_equal(tz_parse_utc("2026-06-25T12:00:00Z", &t), 0);
	in.now = t;
	cl.discreet = 1;
	groups[0].name = "moved_discreet";
	compose_msg(&cf, &in, &w);
	assert_string_equal(w.subject, "[on Thursday 2 July 2026|| ||]");
	composed_free(&w);
	cf.practice.discreet_address = 1;
	compose_msg(&cf, &in, &w);
	assert_string_equal(w.subject,
	    "[on Thursday 2 July 2026|| |1 High Street|Side door]");
	composed_free(&w);
	/* transliteration off: one text, the name as it is */
	cf.sms.transliterate = 0;
	compose_msg(&cf, &in, &w);
	assert_null(w.sms_exact);
	assert_non_null(strstr(w.sms, "Zo\xc3\xab"));
	composed_free(&w);
	cf.practice.directions = NULL;
}

/*
 * The built-in notice of a move says where the appointment went with no
 * stray "on": "has moved to Thursday 2 July 2026 at 14:00", and with the
 * day named when it is tomorrow.
 */
static void
test_moved_builtin_wording(void **state)
{
	struct client cl = { .id = 1, .name = "Sam Taylor", .first_name = "Sam" };
	struct appt a = { .id = 1, .case_id = 1, .duration_min = 60,
	    .kind = KIND_SESSION, .mode = MODE_IN_PERSON };
	struct compose_in in = { .purpose = PURPOSE_MOVED, .appt = &a,
	    .client = &cl };
	struct composed w;

	(void)state;
	cf.ntmpls = 0;
	cf.practice.discreet_address = 1;
	assert_int_equal(tz_parse_utc("2026-07-02T13:00:00Z", &a.starts_at), 0);
	assert_int_equal(tz_parse_utc("2026-06-30T09:00:00Z", &in.old_start), 0);
	assert_int_equal(tz_parse_utc("2026-06-25T12:00:00Z", &in.now), 0);
	compose_msg(&cf, &in, &w);
	assert_non_null(strstr(w.sms, "Tuesday 30 June 2026 at 10:00 has moved "
	    "to Thursday 2 July 2026 at 14:00, 1 High Street."));
	assert_non_null(strstr(w.text, "has moved. The new time is Thursday 2 "
	    "July 2026 at 14:00.\n"));
	assert_null(strstr(w.sms, "to on "));
	assert_null(strstr(w.text, "is on "));
	composed_free(&w);
	assert_int_equal(tz_parse_utc("2026-07-01T12:00:00Z", &in.now), 0);
	cl.discreet = 1;
	compose_msg(&cf, &in, &w);
	assert_non_null(strstr(w.sms, "has moved to tomorrow, Thursday 2 July "
	    "2026, at 14:00"));
	assert_non_null(strstr(w.text, "The new time is tomorrow, Thursday 2 "
	    "July 2026, at 14:00.\n"));
	composed_free(&w);
	/* only the details changed: said so, and no "is now on" */
	cl.discreet = 0;
	in.old_start = 0;
	a.mode = MODE_ONLINE;
	a.video_url = "https://meet.example.org/room-4821";
	compose_msg(&cf, &in, &w);
	assert_string_equal(w.subject, "Changed: the details of your "
	    "appointment with Christian Hughes on Thursday 2 July 2026 at 14:00");
	assert_non_null(strstr(w.sms, "Hi Sam, the details of your appointment "
	    "with Christian Hughes tomorrow, Thursday 2 July 2026, at 14:00 have "
	    "changed. Where: online. Join: https://meet.example.org/room-4821"));
	assert_null(strstr(w.sms, "changed,"));
	composed_free(&w);
}

/* Letters GSM-7 lacks become plain; those it has, and other scripts, stay. */
static void
test_translit(void **state)
{
	char *t;

	(void)state;
	t = translit_gsm("Zo\xc3\xab \xc5\x81ukasz \xc3\x98rsted "
	    "\xc3\x91\xc3\xba\xc3\xb1" "ez \xc5\x92uvre \xc3\xa9 "
	    "\xce\x91\xce\xbd\xce\xbd\xce\xb1 \xc3");
	assert_string_equal(t, "Zoe Lukasz \xc3\x98rsted \xc3\x91u\xc3\xb1" "ez "
	    "OEuvre \xc3\xa9 \xce\x91\xce\xbd\xce\xbd\xce\xb1 \xc3");
	free(t);
	t = translit_gsm(NULL);
	assert_string_equal(t, "");
	free(t);
}

static void
test_html(void **state)
{
	char *h;

	(void)state;
	h = compose_html("Hello <Sam> & Alex,\n\nJoin: https://meet.example.org/a?x=1&y=2.\nBye");
	assert_non_null(strstr(h, "<p>Hello &lt;Sam&gt; &amp; Alex,</p>"));
	assert_non_null(strstr(h, "<a href=\"https://meet.example.org/a?x=1&amp;y=2\">"));
	assert_non_null(strstr(h, "</a>.<br>"));
	assert_null(strstr(h, "<Sam>"));
	free(h);
}

/* A message going out renders its own channel's words only, the same words. */
static void
test_parts(void **state)
{
	struct client cl = { .id = 1, .name = "Sam Taylor", .email = "s@example.org",
	    .email_consent = 1, .sms_consent = 1 };
	struct appt a = { .id = 9, .case_id = 1, .duration_min = 90,
	    .kind = KIND_SESSION, .mode = MODE_IN_PERSON, .starts_at = 1782997200 };
	struct compose_in in = { .purpose = PURPOSE_REMINDER, .appt = &a,
	    .client = &cl };
	struct composed all, w;

	(void)state;
	cf.ntmpls = 0;
	compose_msg(&cf, &in, &all);
	assert_non_null(all.subject);
	assert_non_null(all.sms);
	in.parts = COMPOSE_EMAIL;
	compose_msg(&cf, &in, &w);
	assert_string_equal(w.subject, all.subject);
	assert_string_equal(w.text, all.text);
	assert_string_equal(w.group, all.group);
	assert_null(w.sms);
	assert_null(w.sms_exact);
	composed_free(&w);
	in.parts = COMPOSE_SMS;
	compose_msg(&cf, &in, &w);
	assert_string_equal(w.sms, all.sms);
	assert_null(w.subject);
	assert_null(w.text);
	composed_free(&w);
	composed_free(&all);
}

/*
 * A discreet client's homework subject (a lock screen, a shared inbox)
 * never carries a clinical or practice word, though the title is the
 * practitioner's own words: such a title stays in the text only.
 */
static void
test_discreet_homework_subject(void **state)
{
	struct client cl = { .id = 1, .name = "Dana Whitfield",
	    .email = "d@example.org", .email_consent = 1, .discreet = 1 };
	struct homework hw = { .id = 3, .case_id = 1, .title = "Therapy journal",
	    .prompt = "Write a line each evening.", .every_days = 2 };
	struct compose_in in = { .purpose = PURPOSE_HOMEWORK, .client = &cl,
	    .hw = &hw, .day_number = 1, .parts = COMPOSE_EMAIL };
	struct composed w;

	(void)state;
	cf.ntmpls = 0;
	compose_msg(&cf, &in, &w);
	assert_string_equal(w.subject, "For today");
	assert_non_null(strstr(w.text, "Therapy journal (day 1)"));
	composed_free(&w);
	/* a neutral title, or a client who is not discreet: as before */
	hw.title = "Pause before replying";
	compose_msg(&cf, &in, &w);
	assert_string_equal(w.subject, "For today: Pause before replying");
	composed_free(&w);
	hw.title = "Therapy journal";
	cl.discreet = 0;
	compose_msg(&cf, &in, &w);
	assert_string_equal(w.subject, "For today: Therapy journal");
	composed_free(&w);
	/* the practitioner's name is as telling as a clinical word */
	cl.discreet = 1;
	hw.title = "Hughes reading list";
	compose_msg(&cf, &in, &w);
	assert_string_equal(w.subject, "For today");
	composed_free(&w);
}

/* The failure digest as the practitioner reads it: one blank line between
 * its list and the closing line, as between every other paragraph. */
static void
test_alert_digest(void **state)
{
	struct msg m = { .id = 57, .purpose = PURPOSE_REMINDER,
	    .channel = CHAN_SMS, .client_id = 9, .last_error = "refused" };
	struct alert_in ai = { .failed = &m, .nfailed = 1 };
	struct compose_in in = { .purpose = PURPOSE_ALERT,
	    .parts = COMPOSE_EMAIL };
	struct composed w;
	char *sum;

	(void)state;
	cf.ntmpls = 0;
	sum = alert_summary(&ai);
	in.summary = sum;
	compose_msg(&cf, &in, &w);
	assert_non_null(strstr(w.text, "could not be delivered: refused\n"));
	assert_non_null(strstr(w.text, "--status failed\n\nTo see the state"));
	assert_null(strstr(w.text, "\n\n\n"));
	composed_free(&w);
	free(sum);
}

/*
 * A cancellation says "tomorrow" or "today" as the reminder it follows did
 * ("your appointment tomorrow, Thursday 2 July 2026, at 14:00 has been
 * cancelled"), and a follow-up sent on the appointment's day thanks for
 * "your time today", never "on" today's date.
 */
static void
test_relative_day_in_notices(void **state)
{
	struct client cl = { .id = 1, .name = "Sam Taylor", .first_name = "Sam" };
	struct appt a = { .id = 1, .case_id = 1, .duration_min = 60,
	    .kind = KIND_SESSION, .mode = MODE_IN_PERSON };
	struct compose_in in = { .purpose = PURPOSE_CANCELLATION, .appt = &a,
	    .client = &cl };
	const char *tomorrow = "your appointment with Christian Hughes "
	    "tomorrow, Thursday 2 July 2026, at 14:00 has been cancelled.";
	struct composed w;

	(void)state;
	cf.ntmpls = 0;
	assert_int_equal(tz_parse_utc("2026-07-02T13:00:00Z", &a.starts_at), 0);
	assert_int_equal(tz_parse_utc("2026-07-01T16:00:00Z", &in.now), 0);
	compose_msg(&cf, &in, &w);
	assert_non_null(strstr(w.sms, tomorrow));
	assert_non_null(strstr(w.text, "Your appointment with Christian Hughes "
	    "tomorrow, Thursday 2 July 2026, at 14:00 has been cancelled.\n"));
	/* the subject, read later in a list, keeps the date */
	assert_string_equal(w.subject,
	    "Cancelled: your appointment on Thursday 2 July 2026 at 14:00");
	composed_free(&w);
	cl.discreet = 1;
	assert_int_equal(tz_parse_utc("2026-07-02T08:00:00Z", &in.now), 0);
	compose_msg(&cf, &in, &w);
	assert_non_null(strstr(w.sms, "your appointment today, Thursday 2 July "
	    "2026, at 14:00 has been cancelled."));
	assert_non_null(strstr(w.text, "Your appointment today, Thursday 2 "
	    "July 2026, at 14:00 has been cancelled.\n"));
	composed_free(&w);
	/* a week ahead: the date, with no comma around it */
	assert_int_equal(tz_parse_utc("2026-06-25T12:00:00Z", &in.now), 0);
	compose_msg(&cf, &in, &w);
	assert_non_null(strstr(w.sms, "your appointment on Thursday 2 July "
	    "2026 at 14:00 has been cancelled."));
	composed_free(&w);
	/* follow-ups: the same evening, then the next day */
	cl.discreet = 0;
	in.purpose = PURPOSE_FOLLOW_UP;
	assert_int_equal(tz_parse_utc("2026-07-02T17:00:00Z", &in.now), 0);
	compose_msg(&cf, &in, &w);
	assert_non_null(strstr(w.text, "Thank you for your time today."));
	assert_non_null(strstr(w.sms, "thank you for your time today."));
	assert_string_equal(w.subject,
	    "Thank you for your time on Thursday 2 July 2026");
	composed_free(&w);
	in.template = "assessment_follow_up";
	compose_msg(&cf, &in, &w);
	assert_non_null(strstr(w.text, "Thank you for your time today."));
	assert_non_null(strstr(w.sms, "thank you for your time today."));
	composed_free(&w);
	assert_int_equal(tz_parse_utc("2026-07-03T14:00:00Z", &in.now), 0);
	compose_msg(&cf, &in, &w);
	assert_non_null(strstr(w.text, "Thank you for your time on Thursday 2 "
	    "July 2026."));
	composed_free(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_group_fallbacks, setup),
		cmocka_unit_test_setup(test_oneline, setup),
		cmocka_unit_test_setup(test_values, setup),
		cmocka_unit_test_setup(test_parts, setup),
		cmocka_unit_test_setup(test_issue9_values, setup),
		cmocka_unit_test_setup(test_moved_builtin_wording, setup),
		cmocka_unit_test_setup(test_relative_day_in_notices, setup),
		cmocka_unit_test_setup(test_translit, setup),
		cmocka_unit_test_setup(test_html, setup),
		cmocka_unit_test_setup(test_alert_digest, setup),
		cmocka_unit_test_setup(test_discreet_homework_subject, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
