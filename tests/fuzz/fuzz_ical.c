/*
 * libFuzzer target: the calendar readers on arbitrary bytes (ical_read.h,
 * csv_read.h), in the practice's usual zone.  The first byte chooses the
 * reader (even: iCalendar, odd: CSV with or without a --columns map); the
 * rest is the text, given with its exact length and no NUL after it.
 * Besides memory errors it checks what the readers promise: a refused
 * text leaves no records; every record has a UID, a rid ("" or
 * "YYYYMMDDTHHMMSSZ"), a start inside the window, a duration of 1..1440
 * minutes, lower-case attendees with an '@'; a meeting link is https;
 * cal_event_key() is UID or UID;RECURRENCE-ID=rid; and reading the same
 * text again gives the same records (no hidden state).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "transport/csv_read.h"
#include "transport/ical_read.h"
#include "base/tz.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FROM	1790000000	/* September 2026 */
#define TO	(FROM + 120L * 86400)

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_ical: %s\n", what);
	abort();
}

static int
read_any(int which, const char *s, size_t n, struct cal_events *ev, char *err,
    size_t errlen)
{
	if (which % 2 == 0)
		return ical_read(s, n, "Europe/London", "https://meet.example.org/x",
		    FROM, TO, ev, err, errlen);
	return csv_read(s, n, which % 4 == 1 ? NULL : "start=When,email=Who",
	    NULL, FROM, TO, ev, err, errlen);
}

static void
check(const struct cal_events *ev)
{
	for (size_t i = 0; i < ev->n; i++) {
		const struct cal_event *e = &ev->v[i];
		char *key;

		if (e->uid == NULL || e->rid == NULL)
			fail("a record without uid or rid");
		if (e->rid[0] != '\0' && (strlen(e->rid) != 16 || e->rid[8] != 'T' ||
		    e->rid[15] != 'Z'))
			fail("a malformed rid");
		if ((e->start < FROM || e->start >= TO) && e->rid[0] == '\0')
			fail("a single event outside the window");
		if (e->duration_min < 1 || e->duration_min > 1440)
			fail("a duration outside 1..1440");
		if (e->url != NULL && strncasecmp(e->url, "https://", 8) != 0)
			fail("a meeting link that is not https");
		for (size_t j = 0; j < e->nattendees; j++) {
			if (strchr(e->attendees[j], '@') == NULL)
				fail("an attendee without '@'");
			for (const char *p = e->attendees[j]; *p; p++)
				if (isupper((unsigned char)*p))
					fail("an attendee not lower-cased");
		}
		key = cal_event_key(e);
		if (strncmp(key, e->uid, strlen(e->uid)) != 0)
			fail("a key that does not begin with the uid");
		free(key);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct cal_events a, b;
	char err[512], *s;
	int which, ra, rb;

	if (!ready) {
		if (tz_set("Europe/London", err, sizeof(err)) != 0)
			fail(err);
		ready = 1;
	}
	if (size < 1)
		return 0;
	which = data[0];
	/* Exactly size - 1 bytes: ASan sees any read past the end. */
	s = malloc(size - 1 > 0 ? size - 1 : 1);
	memcpy(s, data + 1, size - 1);
	ra = read_any(which, s, size - 1, &a, err, sizeof(err));
	if (ra != 0 && (a.n != 0 || a.nbad != 0))
		fail("a refused text left records");
	if (ra != 0 && err[0] == '\0')
		fail("a refused text without a reason");
	check(&a);
	rb = read_any(which, s, size - 1, &b, err, sizeof(err));
	if (ra != rb || a.n != b.n || a.nbad != b.nbad)
		fail("reading twice gave different results");
	for (size_t i = 0; i < a.n; i++)
		if (a.v[i].start != b.v[i].start ||
		    strcmp(a.v[i].uid, b.v[i].uid) != 0)
			fail("reading twice gave different records");
	cal_events_free(&a);
	cal_events_free(&b);
	free(s);
	return 0;
}
