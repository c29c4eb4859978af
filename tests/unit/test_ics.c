/*
 * test_ics: the calendar entry (ics.c): the fields, RFC 5545 escaping and
 * folding, the iTIP shape of PUBLISH and CANCEL, SEQUENCE, and data that
 * tries to break out of a property.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/ics.h"
#include "base/util.h"

/* 2026-12-03 10:00:00 UTC, a Thursday. */
#define T_DATE	((time_t)1796292000)

/* Unfold: CRLF + one space disappears. */
static char *
unfold(const char *s)
{
	struct sbuf b = { 0 };

	for (; *s != '\0'; s++) {
		if (s[0] == '\r' && s[1] == '\n' && s[2] == ' ') {
			s += 2;
			continue;
		}
		sbuf_addc(&b, *s);
	}
	return sbuf_steal(&b);
}

/* Every line ends in CRLF, is at most 75 octets, and no fold splits a character. */
static void
assert_shape(const char *ics)
{
	const char *p = ics, *eol;

	while (*p != '\0') {
		eol = strstr(p, "\r\n");
		assert_non_null(eol);
		assert_true(eol - p <= 75);
		assert_null(memchr(p, '\n', (size_t)(eol - p)));
		assert_null(memchr(p, '\r', (size_t)(eol - p)));
		if (*p == ' ')
			assert_false(((unsigned char)p[1] & 0xc0) == 0x80);
		p = eol + 2;
	}
}

static struct ics_event
base(void)
{
	struct ics_event e = {
		.uid = "appointment-42-0123abcd@example.org",
		.stamp = T_DATE - 3600,
		.start = T_DATE,
		.duration_min = 90,
		.summary = "Appointment with Christian Hughes",
		.organizer = "christian@example.org",
		.organizer_cn = "Christian Hughes",
		.attendee = "sam@example.org",
		.attendee_cn = "Sam Taylor",
	};
	return e;
}

static void
test_publish(void **state)
{
	struct ics_event e = base();
	char err[256], *ics, *u;

	(void)state;
	e.location = "1 High Street, Stourbridge; DY8 1AA\\back";
	e.description = "Parking behind;\nentrance, Mill Lane";
	ics = ics_format(&e, err, sizeof(err));
	assert_non_null(ics);
	assert_shape(ics);
	u = unfold(ics);
	assert_true(strncmp(u, "BEGIN:VCALENDAR\r\n", 17) == 0);
	assert_non_null(strstr(u, "\r\nVERSION:2.0\r\n"));
	assert_non_null(strstr(u, "\r\nPRODID:"));
	assert_non_null(strstr(u, "\r\nMETHOD:PUBLISH\r\n"));
	assert_non_null(strstr(u, "\r\nUID:appointment-42-0123abcd@example.org\r\n"));
	assert_non_null(strstr(u, "\r\nDTSTAMP:20261203T090000Z\r\n"));
	assert_non_null(strstr(u, "\r\nDTSTART:20261203T100000Z\r\n"));
	assert_non_null(strstr(u, "\r\nDTEND:20261203T113000Z\r\n"));
	assert_non_null(strstr(u, "\r\nLOCATION:1 High Street\\, Stourbridge\\; DY8 1AA\\\\back\r\n"));
	assert_non_null(strstr(u, "\r\nDESCRIPTION:Parking behind\\;\\nentrance\\, Mill Lane\r\n"));
	assert_non_null(strstr(u, "\r\nORGANIZER;CN=Christian Hughes:mailto:christian@example.org\r\n"));
	assert_non_null(strstr(u, "\r\nSTATUS:CONFIRMED\r\n"));
	/* RFC 5546 3.2.1: no ATTENDEE in a PUBLISH */
	assert_null(strstr(u, "ATTENDEE"));
	assert_null(strstr(u, "X-LIC-ERROR"));
	assert_true(strcmp(u + strlen(u) - 27, "END:VEVENT\r\nEND:VCALENDAR\r\n") == 0);
	free(u);
	free(ics);
}

static void
test_online_link(void **state)
{
	struct ics_event e = base();
	char err[256], *ics, *u;

	(void)state;
	e.url = "https://meet.example.org/hughes?a=1,b=2;c";
	e.location = e.url;
	e.description = "Join online: https://meet.example.org/hughes?a=1,b=2;c";
	ics = ics_format(&e, err, sizeof(err));
	assert_non_null(ics);
	u = unfold(ics);
	/* URL is a URI value: as it is; LOCATION and DESCRIPTION are TEXT */
	assert_non_null(strstr(u, "\r\nURL:https://meet.example.org/hughes?a=1,b=2;c\r\n"));
	assert_non_null(strstr(u, "\r\nLOCATION:https://meet.example.org/hughes?a=1\\,b=2\\;c\r\n"));
	assert_non_null(strstr(u, "\r\nDESCRIPTION:Join online: https://meet.example.org/hughes?a=1\\,b=2\\;c\r\n"));
	free(u);
	free(ics);
}

static void
test_cancel(void **state)
{
	struct ics_event e = base();
	char err[256], *ics, *u, *later, *want;

	(void)state;
	e.cancel = 1;
	ics = ics_format(&e, err, sizeof(err));
	assert_non_null(ics);
	u = unfold(ics);
	assert_non_null(strstr(u, "\r\nMETHOD:CANCEL\r\n"));
	assert_non_null(strstr(u, "\r\nSTATUS:CANCELLED\r\n"));
	/* RFC 5546 3.2.5: the attendee being removed */
	assert_non_null(strstr(u, "\r\nATTENDEE;CN=Sam Taylor:mailto:sam@example.org\r\n"));
	want = xasprintf("\r\nSEQUENCE:%ld\r\n", ics_sequence(e.stamp));
	assert_non_null(strstr(u, want));
	free(want);
	/* SEQUENCE grows with the time of writing: a later notice supersedes */
	assert_true(ics_sequence(e.stamp + 3600) > ics_sequence(e.stamp));
	e.stamp += 3600;
	later = ics_format(&e, err, sizeof(err));
	want = xasprintf("\r\nSEQUENCE:%ld\r\n", ics_sequence(e.stamp));
	assert_non_null(strstr(later, want));
	free(want);
	free(later);
	free(u);
	free(ics);

	/* a cancellation must name its attendee */
	e.attendee = NULL;
	assert_null(ics_format(&e, err, sizeof(err)));
	assert_non_null(strstr(err, "attendee"));
}

static void
test_discreet_organizer(void **state)
{
	struct ics_event e = base();
	char err[256], *ics, *u;

	(void)state;
	e.organizer = "appointments@example.org";
	e.organizer_cn = NULL;
	e.summary = "Appointment";
	ics = ics_format(&e, err, sizeof(err));
	assert_non_null(ics);
	u = unfold(ics);
	assert_non_null(strstr(u, "\r\nORGANIZER:mailto:appointments@example.org\r\n"));
	assert_null(strstr(u, "CN="));
	assert_null(strstr(u, "Hughes"));
	free(u);
	free(ics);
}

static void
test_folding_utf8(void **state)
{
	struct ics_event e = base();
	struct sbuf sum = { 0 };
	char err[256], *ics, *u, *want;

	(void)state;
	for (int i = 0; i < 20; i++)
		sbuf_add(&sum, "S\xc3\xa9\x61nce \xe2\x80\x94 \xf0\x9f\x8c\xb8 ");
	e.summary = sbuf_str(&sum);
	ics = ics_format(&e, err, sizeof(err));
	assert_non_null(ics);
	assert_shape(ics);
	u = unfold(ics);
	want = xasprintf("\r\nSUMMARY:%s\r\n", e.summary);
	assert_non_null(strstr(u, want));
	free(want);
	free(u);
	free(ics);
	sbuf_free(&sum);
}

static void
test_hostile_data(void **state)
{
	struct ics_event e = base();
	char err[256], *ics, *u;

	(void)state;
	/* a line break in a URL or a name must not start a new property */
	e.url = "https://x.example/\r\nATTENDEE:mailto:evil@example.org";
	e.summary = "Sam\r\nORGANIZER:mailto:evil@example.org";
	e.attendee_cn = "Sam \"Q\" Taylor\nX";
	e.location = "bad \xff byte\x01here";
	e.cancel = 1;
	ics = ics_format(&e, err, sizeof(err));
	assert_non_null(ics);
	assert_shape(ics);
	u = unfold(ics);
	assert_null(strstr(u, "\r\nATTENDEE:mailto:evil"));
	assert_null(strstr(u, "\r\nORGANIZER:mailto:evil"));
	assert_null(strstr(u, "\r\nURL:"));	/* no longer a URI: dropped */
	assert_non_null(strstr(u, "LOCATION:bad \xef\xbf\xbd byte here\r\n"));
	free(u);
	free(ics);
}

static void
test_uid(void **state)
{
	char *u;

	(void)state;
	u = ics_uid(42, "0123abcd", "example.org");
	assert_string_equal(u, "appointment-42-0123abcd@example.org");
	free(u);
	u = ics_uid(7, NULL, NULL);
	assert_string_equal(u, "appointment-7-0@nudged.invalid");
	free(u);
}

/*
 * The memo gives back exactly what ics_format writes, for the same entry
 * only: a field that differs (here each one in turn) is written anew.
 */
static void
test_memo(void **state)
{
	struct ics_memo m = { 0 };
	struct ics_event e = base(), f;
	char err[256], *a, *b, *c;

	(void)state;
	e.location = "1 High Street";
	a = ics_format(&e, err, sizeof(err));
	assert_non_null(a);
	b = ics_format_memo(&m, &e, err, sizeof(err));
	c = ics_format_memo(&m, &e, err, sizeof(err));
	assert_string_equal(a, b);
	assert_string_equal(a, c);
	assert_ptr_not_equal(b, c);	/* each caller owns its copy */
	free(b);
	free(c);
	for (int k = 0; k < 6; k++) {
		char *want;

		f = e;
		switch (k) {
		case 0: f.start += 60; break;
		case 1: f.stamp += 60; break;
		case 2: f.location = NULL; break;
		case 3: f.summary = "Appointment"; break;
		case 4: f.cancel = 1; break;
		default: f.cancel = 1; f.attendee = "alex@example.org"; break;
		}
		want = ics_format(&f, err, sizeof(err));
		assert_non_null(want);
		b = ics_format_memo(&m, &f, err, sizeof(err));
		assert_string_equal(want, b);
		free(want);
		free(b);
	}
	/* PUBLISH names no attendee: another partner's entry is the same */
	f = e;
	f.attendee = "alex@example.org";
	f.attendee_cn = "Alex Taylor";
	b = ics_format_memo(&m, &e, err, sizeof(err));
	free(b);
	b = ics_format_memo(&m, &f, err, sizeof(err));
	assert_string_equal(a, b);
	assert_null(strstr(b, "alex"));
	free(b);
	/* a cancellation names its attendee: never another partner's */
	f.cancel = 1;
	b = ics_format_memo(&m, &f, err, sizeof(err));
	free(b);
	f.attendee = "sam@example.org";
	b = ics_format_memo(&m, &f, err, sizeof(err));
	assert_null(strstr(b, "alex"));
	assert_non_null(strstr(b, "sam@example.org"));
	free(b);
	/* back to the first: written again, the same text */
	b = ics_format_memo(&m, &e, err, sizeof(err));
	assert_string_equal(a, b);
	free(b);
	/* a refused entry is refused, and the memo keeps what it had */
	f = e;
	f.organizer = NULL;
	assert_null(ics_format_memo(&m, &f, err, sizeof(err)));
	b = ics_format_memo(&m, &e, err, sizeof(err));
	assert_string_equal(a, b);
	free(b);
	free(a);
	ics_memo_free(&m);
	ics_memo_free(&m);	/* zeroed: twice is harmless */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish),
		cmocka_unit_test(test_online_link),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_discreet_organizer),
		cmocka_unit_test(test_folding_utf8),
		cmocka_unit_test(test_hostile_data),
		cmocka_unit_test(test_uid),
		cmocka_unit_test(test_memo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
