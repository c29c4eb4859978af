/*
 * libFuzzer target: mail_format and address_valid (mail.h).
 *
 * Input: a flag byte, then NUL-separated fields: subject, recipient name,
 * body text, recipient address, HTML body (missing fields: fixed sane
 * values).  Flag bits: 1 no name (NULL), 2 add the HTML part, 4 attach an
 * .ics whose summary and location are the subject and name, 8 no
 * Reply-To.
 *
 * Besides memory errors, every message mail_format returns is checked
 * against what mail.h promises: CRLF line ends only, no line over 998
 * octets, a header section of printable ASCII whose fields are the known
 * ones (From, To, Subject once each), no folded header line made only of
 * blanks, and a To naming the address it was given; the .ics has CRLF
 * lines of at most 75 octets, folded between whole characters.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/ics.h"
#include "transport/mail.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define NFIELDS	5

static void
fail(const char *what, const char *msg)
{
	fprintf(stderr, "fuzz_mail: %s\n", what);
	if (msg != NULL)
		fprintf(stderr, "--- message ---\n%.4000s\n---\n", msg);
	abort();
}

static int
known_field(const char *line, size_t n)
{
	static const char *const names[] = { "Date", "From", "To", "Reply-To",
	    "Subject", "Message-ID", "MIME-Version", "Auto-Submitted",
	    "X-Auto-Response-Suppress", "Content-Type",
	    "Content-Transfer-Encoding", NULL };
	size_t i;

	for (i = 0; names[i] != NULL; i++)
		if (strlen(names[i]) == n && strncasecmp(line, names[i], n) == 0)
			return 1;
	return 0;
}

static void
check_message(const char *m, const char *to_addr)
{
	const char *p, *eol, *colon, *q;
	int header = 1, from = 0, to = 0, subject = 0, blank;
	size_t len;

	for (p = m; *p != '\0'; p = eol + 2) {
		if ((eol = strstr(p, "\r\n")) == NULL)
			fail("message does not end in CRLF", m);
		len = (size_t)(eol - p);
		if (memchr(p, '\n', len) != NULL || memchr(p, '\r', len) != NULL)
			fail("bare CR or LF in the message", m);
		if (len > 998)
			fail("line longer than 998 octets", m);
		if (!header)
			continue;
		if (len == 0) {
			header = 0;
			continue;
		}
		for (q = p; q < eol; q++)
			if ((unsigned char)*q >= 0x7f ||
			    ((unsigned char)*q < 0x20 && *q != '\t'))
				fail("non-ASCII or control byte in a header", m);
		if (*p == ' ' || *p == '\t') {
			for (blank = 1, q = p; q < eol; q++)
				if (*q != ' ' && *q != '\t')
					blank = 0;
			if (blank)
				fail("folded header line of blanks only", m);
			continue;
		}
		if ((colon = memchr(p, ':', len)) == NULL ||
		    !known_field(p, (size_t)(colon - p)))
			fail("unexpected header line", m);
		if (strncmp(p, "From:", 5) == 0)
			from++;
		else if (strncmp(p, "To:", 3) == 0) {
			to++;
			if (strstr(p, to_addr) == NULL)
				fail("To does not carry the recipient address", m);
		} else if (strncmp(p, "Subject:", 8) == 0)
			subject++;
	}
	if (header)
		fail("no end of header section", m);
	if (from != 1 || to != 1 || subject != 1)
		fail("From, To and Subject not exactly once each", m);
}

/* RFC 5545 3.1: CRLF, at most 75 octets a line, folds between characters. */
static void
check_ics(const char *ics)
{
	const char *p, *eol;
	size_t len;

	for (p = ics; *p != '\0'; p = eol + 2) {
		if ((eol = strstr(p, "\r\n")) == NULL)
			fail("iCalendar does not end in CRLF", ics);
		len = (size_t)(eol - p);
		if (memchr(p, '\n', len) != NULL || memchr(p, '\r', len) != NULL)
			fail("bare CR or LF in the iCalendar object", ics);
		if (len > 75)
			fail("iCalendar line longer than 75 octets", ics);
		if (p != ics && *p == ' ' && len > 1 &&
		    ((unsigned char)p[1] & 0xc0) == 0x80)
			fail("iCalendar folded inside a UTF-8 character", ics);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *f[NFIELDS] = { NULL }, *p, *end, *msg, *ics = NULL;
	char err[256];
	unsigned flags;
	struct mail_msg m;
	struct ics_event ev;
	size_t i;

	if (size == 0)
		return 0;
	flags = data[0];
	buf = malloc(size);
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	end = buf + size - 1;
	for (i = 0, p = buf; i < NFIELDS && p <= end; i++) {
		f[i] = p;
		p += strlen(p) + 1;
	}

	/* The address validator on its own, and its promise. */
	if (f[3] != NULL && address_valid(f[3]) &&
	    (strpbrk(f[3], "\r\n <> \t\"") != NULL || strlen(f[3]) > 254))
		fail("address_valid accepted an unsafe address", NULL);

	memset(&m, 0, sizeof(m));
	m.from = "Christian Hughes <appointments@example.org>";
	m.subject = f[0] != NULL ? f[0] : "Your appointment";
	m.to_name = (flags & 1) ? NULL : f[1] != NULL ? f[1] : "Sam Taylor";
	m.text = f[2] != NULL ? f[2] : "Hello";
	m.to_addr = f[3] != NULL && f[3][0] != '\0' ? f[3] : "sam@example.org";
	m.reply_to = (flags & 8) ? NULL : "christian@example.org";
	m.html = (flags & 2) ? (f[4] != NULL ? f[4] : "<p>Hello</p>") : NULL;
	m.message_id = "0123456789abcdef.42@example.org";
	m.date = 1796306400;	/* 2026-12-03 */
	if (flags & 4) {
		memset(&ev, 0, sizeof(ev));
		ev.uid = "appt-42@example.org";
		ev.start = m.date + 86400;
		ev.duration_min = 60;
		ev.summary = m.subject;
		ev.location = m.to_name;
		ev.url = f[4];
		ev.organizer = "christian@example.org";
		ev.organizer_cn = m.to_name;
		ev.attendee = "sam@example.org";
		ev.attendee_cn = m.to_name;
		ev.description = m.text;
		ev.cancel = (flags & 16) != 0;
		ev.stamp = m.date;
		if ((ics = ics_format(&ev, err, sizeof(err))) == NULL)
			fail("ics_format returned NULL", NULL);
		check_ics(ics);
		m.ics = ics;
	}
	err[0] = '\0';
	if ((msg = mail_format(&m, err, sizeof(err))) == NULL) {
		if (err[0] == '\0')
			fail("mail_format refused without a reason", NULL);
	} else {
		check_message(msg, m.to_addr);
		free(msg);
	}
	free(ics);
	free(buf);
	return 0;
}
