/*
 * Unit tests for the pure parts of mail.c and mime.c: addresses,
 * Message-IDs, the message text, the iCalendar object and the SMTP
 * classification table.
 * The decoders below are independent of mail.c's encoders, so a test
 * checks that what was written reads back, not that it matches itself.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "base/ics.h"
#include "transport/mail.h"
#include "base/util.h"

/* 2026-12-03 10:00:00 UTC, a Thursday. */
#define T_DATE	((time_t)1796292000)

/* ---- independent decoders ---------------------------------------------- */

static int
b64val(int c)
{
	const char *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(t, c) : NULL;

	return p ? (int)(p - t) : -1;
}

/* Decode base64, skipping CR/LF; returns a NUL-terminated copy. */
static char *
b64dec(const char *s, size_t n)
{
	struct sbuf out = { 0 };
	unsigned long acc = 0;
	int bits = 0, v;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\r' || s[i] == '\n')
			continue;
		if (s[i] == '=')
			break;
		v = b64val((unsigned char)s[i]);
		assert_true(v >= 0);
		acc = (acc << 6) | (unsigned long)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			sbuf_addc(&out, (char)((acc >> bits) & 0xff));
		}
	}
	return sbuf_steal(&out);
}

/* Decode quoted-printable: soft breaks vanish, CRLF stays as "\n". */
static char *
qpdec(const char *s, size_t n)
{
	struct sbuf out = { 0 };
	size_t i;
	char hex[3] = { 0 };

	for (i = 0; i < n; i++) {
		if (s[i] == '=' && i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
			i += 2;
		} else if (s[i] == '=') {
			assert_true(i + 2 < n);
			hex[0] = s[i + 1];
			hex[1] = s[i + 2];
			assert_true(isxdigit((unsigned char)hex[0]) &&
			    isxdigit((unsigned char)hex[1]));
			sbuf_addc(&out, (char)strtol(hex, NULL, 16));
			i += 2;
		} else if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') {
			sbuf_addc(&out, '\n');
			i++;
		} else
			sbuf_addc(&out, s[i]);
	}
	return sbuf_steal(&out);
}

/*
 * A header's value, unfolded, with RFC 2047 B words decoded and the
 * white space between adjacent words dropped.  NULL when absent.
 */
static char *
header(const char *msg, const char *name)
{
	struct sbuf raw = { 0 }, out = { 0 };
	const char *p = msg, *e, *q, *w, *end;
	size_t nl = strlen(name);
	int last_word = 0;
	char *dec;

	for (;;) {
		if (strncmp(p, "\r\n", 2) == 0)
			return NULL;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':')
			break;
		p = strstr(p, "\r\n");
		assert_non_null(p);
		p += 2;
	}
	p += nl + 1;
	while (*p == ' ')
		p++;
	for (;;) {
		e = strstr(p, "\r\n");
		sbuf_addn(&raw, p, (size_t)(e - p));
		p = e + 2;
		if (*p != ' ' && *p != '\t')
			break;
	}
	for (q = sbuf_str(&raw); *q != '\0';) {
		if (strncmp(q, "=?UTF-8?B?", 10) == 0 &&
		    (end = strstr(q + 10, "?=")) != NULL) {
			/* Every word must stay within 75 characters. */
			assert_true(end + 2 - q <= 75);
			dec = b64dec(q + 10, (size_t)(end - q - 10));
			sbuf_add(&out, dec);
			free(dec);
			q = end + 2;
			last_word = 1;
			continue;
		}
		if (last_word && (*q == ' ' || *q == '\t')) {
			for (w = q; *w == ' ' || *w == '\t'; w++)
				;
			if (strncmp(w, "=?UTF-8?B?", 10) == 0) {
				q = w;
				continue;
			}
		}
		last_word = 0;
		sbuf_addc(&out, *q++);
	}
	sbuf_free(&raw);
	return sbuf_steal(&out);
}

/* Every line CRLF-terminated and at most max octets (without CRLF). */
static void
assert_lines(const char *s, size_t max)
{
	const char *p = s, *e;

	while (*p != '\0') {
		e = strchr(p, '\n');
		assert_non_null(e);
		assert_true(e > p && e[-1] == '\r');
		if ((size_t)(e - 1 - p) > max)
			fail_msg("line of %zu octets: %.40s...", (size_t)(e - 1 - p), p);
		p = e + 1;
	}
	for (p = s; (p = strchr(p, '\r')) != NULL; p++)
		assert_true(p[1] == '\n');
}

static struct mail_msg
base_msg(void)
{
	struct mail_msg m = {
		.from = "Christian Hughes <appointments@example.org>",
		.to_name = "Sam Taylor",
		.to_addr = "sam@example.org",
		.reply_to = "christian@example.org",
		.subject = "Your appointment on Thursday",
		.text = "Hello Sam,\nsee you on Thursday.\n",
		.message_id = "0123456789abcdef0123456789abcdef.42@example.org",
		.date = T_DATE,
	};
	return m;
}

/* The body after the blank line that ends the headers. */
static const char *
body_of(const char *msg)
{
	const char *b = strstr(msg, "\r\n\r\n");

	assert_non_null(b);
	return b + 4;
}

/* ---- tests ------------------------------------------------------------- */

static void
test_addr_valid(void **state)
{
	static const struct {
		const char	*addr;
		int		 ok;
	} t[] = {
		{ "sam@example.org", 1 },
		{ "sam.taylor+nudge@mail.example.co.uk", 1 },
		{ "o'brien@example.ie", 1 },
		{ "a@localhost", 1 },
		{ "x-y_z=1@a-b.example", 1 },
		{ "", 0 },
		{ "sam", 0 },
		{ "@example.org", 0 },
		{ "sam@", 0 },
		{ "sam@@example.org", 0 },
		{ "sam@ex@ample.org", 0 },
		{ ".sam@example.org", 0 },
		{ "sam.@example.org", 0 },
		{ "sa..m@example.org", 0 },
		{ "sam@example..org", 0 },
		{ "sam@.example.org", 0 },
		{ "sam@example.org.", 0 },
		{ "sam@-example.org", 0 },
		{ "sam@example-.org", 0 },
		{ "sam@exa_mple.org", 0 },
		{ "sam taylor@example.org", 0 },
		{ "sam@example.org\r\nRCPT TO:<x@evil.org>", 0 },
		{ "sam@example.org\n", 0 },
		{ "sam\r@example.org", 0 },
		{ "<sam@example.org>", 0 },
		{ "\"sam\"@example.org", 0 },
		{ "Sam <sam@example.org>", 0 },
		{ "s\xc3\xa9@example.org", 0 },
		{ "sam@ex\xc3\xa9.org", 0 },
		{ "sam@[127.0.0.1]", 0 },
		{ "sam\t@example.org", 0 },
		{ "sam@example.org ", 0 },
	};
	char big[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (address_valid(t[i].addr) != t[i].ok)
			fail_msg("address_valid(\"%s\") != %d", t[i].addr, t[i].ok);
	assert_false(address_valid(NULL));
	/* 64 octets of local part is the limit; 65 is not. */
	memset(big, 'a', 64);
	strcpy(big + 64, "@example.org");
	assert_true(address_valid(big));
	memset(big, 'a', 65);
	strcpy(big + 65, "@example.org");
	assert_false(address_valid(big));
	/* 254 octets in all. */
	memset(big, 0, sizeof(big));
	strcpy(big, "a@");
	for (i = 2; i < 250; i += 10)
		memcpy(big + i, "bbbbbbbbb.", 10);
	strcpy(big + 250, "cc");
	assert_int_equal(strlen(big), 252);
	assert_true(address_valid(big));
	strcpy(big + 250, "cccccc");
	assert_false(address_valid(big));
}

static void
test_addr_of(void **state)
{
	char *a;

	(void)state;
	assert_string_equal(a = mail_addr_of("Christian Hughes <c@example.org>"), "c@example.org");
	free(a);
	assert_string_equal(a = mail_addr_of("\"Hughes, C\" <c@example.org>"), "c@example.org");
	free(a);
	assert_string_equal(a = mail_addr_of("  c@example.org "), "c@example.org");
	free(a);
	assert_string_equal(a = mail_addr_of("<c@example.org>"), "c@example.org");
	free(a);
	assert_null(mail_addr_of("Christian <c@example.org> x"));
	assert_null(mail_addr_of("Christian <c@example.org"));
	assert_null(mail_addr_of("Christian <c@exa\r\nmple.org>"));
	assert_null(mail_addr_of(NULL));
	assert_null(mail_addr_of("nobody"));
}

static void
test_message_id(void **state)
{
	char *a, *b;
	size_t i;

	(void)state;
	a = mail_message_id("Christian <c@example.org>", 42);
	b = mail_message_id("c@example.org", 42);
	assert_int_equal(strlen(a), 32 + strlen(".42@example.org"));
	for (i = 0; i < 32; i++)
		assert_true(isxdigit((unsigned char)a[i]) && !isupper((unsigned char)a[i]));
	assert_string_equal(a + 32, ".42@example.org");
	assert_string_equal(b + 32, ".42@example.org");
	assert_string_not_equal(a, b);	/* 128 random bits */
	free(a);
	free(b);
	a = mail_message_id("broken", 7);
	assert_non_null(strstr(a, ".7@"));
	free(a);
	/* drawn from a pool refilled every 16: still never the same twice */
	{
		char *ids[40];

		for (i = 0; i < 40; i++)
			ids[i] = mail_message_id("c@example.org", 1);
		for (i = 0; i < 40; i++)
			for (size_t j = 0; j < i; j++)
				assert_string_not_equal(ids[i], ids[j]);
		for (i = 0; i < 40; i++)
			free(ids[i]);
	}
}

/*
 * Two processes forked after this one drew (the service ran a pass
 * itself, fork refused) must not hand out the bytes it had left: each
 * child's next Message-ID is its own, and not the parent's next either.
 */
static void
test_message_id_after_fork(void **state)
{
	char got[2][33], *mine;
	int p[2];

	(void)state;
	free(mail_message_id("c@example.org", 1));	/* the pool is filled */
	for (int k = 0; k < 2; k++) {
		pid_t pid;
		int status;

		assert_int_equal(pipe(p), 0);
		if ((pid = fork()) == 0) {
			char *id = mail_message_id("c@example.org", 1);

			_exit(write(p[1], id, 32) == 32 ? 0 : 1);
		}
		assert_true(pid > 0);
		close(p[1]);
		assert_int_equal(read(p[0], got[k], 32), 32);
		got[k][32] = '\0';
		close(p[0]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	mine = mail_message_id("c@example.org", 1);
	assert_string_not_equal(got[0], got[1]);
	assert_memory_not_equal(got[0], mine, 32);
	assert_memory_not_equal(got[1], mine, 32);
	free(mine);
}

static void
test_format_headers(void **state)
{
	struct mail_msg m = base_msg();
	char err[256], *msg, *v;

	(void)state;
	msg = mail_format(&m, err, sizeof(err));
	assert_non_null(msg);
	assert_lines(msg, 78);
	assert_string_equal(v = header(msg, "Date"), "Thu, 03 Dec 2026 10:00:00 +0000");
	free(v);
	assert_string_equal(v = header(msg, "From"), "Christian Hughes <appointments@example.org>");
	free(v);
	assert_string_equal(v = header(msg, "To"), "Sam Taylor <sam@example.org>");
	free(v);
	assert_string_equal(v = header(msg, "Reply-To"), "christian@example.org");
	free(v);
	assert_string_equal(v = header(msg, "Subject"), "Your appointment on Thursday");
	free(v);
	assert_string_equal(v = header(msg, "Message-ID"),
	    "<0123456789abcdef0123456789abcdef.42@example.org>");
	free(v);
	assert_string_equal(v = header(msg, "MIME-Version"), "1.0");
	free(v);
	assert_string_equal(v = header(msg, "Auto-Submitted"), "auto-generated");
	free(v);
	assert_string_equal(v = header(msg, "Content-Type"), "text/plain; charset=UTF-8");
	free(v);
	assert_string_equal(v = header(msg, "Content-Transfer-Encoding"), "quoted-printable");
	free(v);
	assert_string_equal(body_of(msg), "Hello Sam,\r\nsee you on Thursday.\r\n");
	free(msg);

	/* No name: the bare address.  No Reply-To: no header. */
	m.to_name = NULL;
	m.reply_to = NULL;
	m.from = "appointments@example.org";
	msg = mail_format(&m, err, sizeof(err));
	assert_string_equal(v = header(msg, "To"), "sam@example.org");
	free(v);
	assert_string_equal(v = header(msg, "From"), "appointments@example.org");
	free(v);
	assert_null(header(msg, "Reply-To"));
	free(msg);
}

static void
test_format_names(void **state)
{
	static const struct {
		const char	*name;
		const char	*want;	/* the raw header value */
	} t[] = {
		{ "Taylor, Sam", "\"Taylor, Sam\" <sam@example.org>" },
		{ "Sam J. Taylor", "\"Sam J. Taylor\" <sam@example.org>" },
		{ "Sam \"Sammy\" Taylor", "\"Sam \\\"Sammy\\\" Taylor\" <sam@example.org>" },
		{ "Back\\slash", "\"Back\\\\slash\" <sam@example.org>" },
		{ "=?UTF-8?B?QUJD?=", "\"=?UTF-8?B?QUJD?=\" <sam@example.org>" },
		{ "O'Brien", "O'Brien <sam@example.org>" },
	};
	struct mail_msg m = base_msg();
	char err[256], *msg, *v, *line;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		m.to_name = t[i].name;
		msg = mail_format(&m, err, sizeof(err));
		assert_non_null(msg);
		line = xasprintf("\r\nTo: %s\r\n", t[i].want);
		if (strstr(msg, line) == NULL)
			fail_msg("To for \"%s\" is not %s", t[i].name, t[i].want);
		free(line);
		free(msg);
	}

	/* Non-ASCII: encoded words that decode back to the exact name. */
	m.to_name = "Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m-\xc5\x81\xc3\xb3" "d\xc5\xba, "
	    "\xe6\x9d\x8e\xe5\xb0\x8f\xe9\xbe\x8d \xf0\x9f\x8c\xb8 and a long tail of text";
	m.from = "Caf\xc3\xa9 Th\xc3\xa9rapie <appointments@example.org>";
	msg = mail_format(&m, err, sizeof(err));
	assert_non_null(msg);
	assert_lines(msg, 78);
	assert_non_null(strstr(msg, "\r\nTo: =?UTF-8?B?"));
	v = header(msg, "To");
	line = xasprintf("%s <sam@example.org>", m.to_name);
	assert_string_equal(v, line);
	free(line);
	free(v);
	assert_string_equal(v = header(msg, "From"),
	    "Caf\xc3\xa9 Th\xc3\xa9rapie <appointments@example.org>");
	free(v);
	free(msg);
}

/* Each encoded word must hold whole characters: decode each on its own. */
static void
assert_words_whole(const char *msg)
{
	const char *q = msg, *end;
	const unsigned char *d;
	char *dec;
	size_t n;

	while ((q = strstr(q, "=?UTF-8?B?")) != NULL) {
		end = strstr(q + 10, "?=");
		dec = b64dec(q + 10, (size_t)(end - q - 10));
		for (d = (const unsigned char *)dec; *d != '\0'; d += n) {
			n = *d < 0x80 ? 1 : *d < 0xe0 ? 2 : *d < 0xf0 ? 3 : 4;
			for (size_t k = 1; k < n; k++)
				assert_true((d[k] & 0xc0) == 0x80);
		}
		free(dec);
		q = end + 2;
	}
}

static void
test_format_subject(void **state)
{
	struct mail_msg m = base_msg();
	char err[256], *msg, *v;
	struct sbuf s = { 0 };
	int i;

	(void)state;
	/* Long, mixed scripts, 2-, 3- and 4-byte characters at every offset. */
	for (i = 0; i < 12; i++)
		sbuf_add(&s, "Rendez-vous \xc3\xa0 10h \xe2\x80\x94 \xf0\x9f\x97\x93 ");
	m.subject = sbuf_str(&s);
	msg = mail_format(&m, err, sizeof(err));
	assert_non_null(msg);
	assert_lines(msg, 78);
	assert_words_whole(msg);
	v = header(msg, "Subject");
	assert_string_equal(v, m.subject);
	free(v);
	free(msg);
	sbuf_free(&s);

	/* Long ASCII: folded at blanks, unfolds to the same text. */
	for (i = 0; i < 30; i++)
		sbuf_add(&s, "reminder words ");
	sbuf_add(&s, "end");
	m.subject = sbuf_str(&s);
	msg = mail_format(&m, err, sizeof(err));
	assert_lines(msg, 78);
	assert_null(strstr(msg, "=?UTF-8?"));
	v = header(msg, "Subject");
	assert_string_equal(v, m.subject);
	free(v);
	free(msg);
	sbuf_free(&s);

	/* One ASCII word longer than a line may be: words, not a 1000-octet line. */
	for (i = 0; i < 1100; i++)
		sbuf_addc(&s, 'x');
	m.subject = sbuf_str(&s);
	msg = mail_format(&m, err, sizeof(err));
	assert_lines(msg, 78);
	v = header(msg, "Subject");
	assert_string_equal(v, m.subject);
	free(v);
	free(msg);
	sbuf_free(&s);
}

/*
 * The header section up to the blank line: no line over max octets, and
 * no folded line made only of blanks (RFC 5322 3.2.2).
 */
static void
assert_header_lines(const char *msg, size_t max)
{
	const char *p, *e, *q;

	for (p = msg; (e = strstr(p, "\r\n")) != NULL && e != p; p = e + 2) {
		if ((size_t)(e - p) > max)
			fail_msg("header line of %zu octets: %.40s...",
			    (size_t)(e - p), p);
		if (*p != ' ' && *p != '\t')
			continue;
		for (q = p; q < e && (*q == ' ' || *q == '\t'); q++)
			;
		assert_true(q < e);
	}
	assert_non_null(e);
}

/* Subject text that decodes back exactly; returns the message. */
static char *
subject_roundtrip(const char *subject)
{
	struct mail_msg m = base_msg();
	char err[256], *msg, *v;

	m.subject = subject;
	msg = mail_format(&m, err, sizeof(err));
	assert_non_null(msg);
	assert_header_lines(msg, 998);
	assert_lines(msg, 998);
	v = header(msg, "Subject");
	assert_non_null(v);
	assert_string_equal(v, subject);
	free(v);
	return msg;
}

/*
 * Long runs of blanks: folding can only go before a blank that a word
 * follows, so a run of 1000 blanks would sit on one line of over 998
 * octets.  Such a subject must come out as encoded words (which keep
 * every blank), with the words in order.
 */
static void
test_format_subject_blanks(void **state)
{
	static const char *const blanks[] = { " ", "\t", " \t" };
	struct sbuf s = { 0 };
	const char *b, *r;
	char *msg, *v;
	size_t i, k;
	int shape;

	(void)state;
	for (k = 0; k < sizeof(blanks) / sizeof(blanks[0]); k++) {
		/* 0: between words, 1: leading, 2: trailing */
		for (shape = 0; shape < 3; shape++) {
			if (shape != 1)
				sbuf_add(&s, "Breathe");
			for (i = 0; i < 1000; i++)
				sbuf_addc(&s, blanks[k][i % strlen(blanks[k])]);
			if (shape != 2)
				sbuf_add(&s, "slowly");
			msg = subject_roundtrip(sbuf_str(&s));
			v = header(msg, "Subject");
			b = strstr(v, "Breathe");
			r = strstr(v, "slowly");
			assert_true(shape == 1 || b == v);
			assert_true(shape == 2 ||
			    (r != NULL && r[6] == '\0' && (b == NULL || b < r)));
			free(v);
			free(msg);
			sbuf_free(&s);
		}
	}

	/* Two runs that fit alone but not together on the last line. */
	for (i = 0; i < 850; i++)
		sbuf_addc(&s, 'w');
	for (i = 0; i < 850; i++)
		sbuf_addc(&s, ' ');
	free(subject_roundtrip(sbuf_str(&s)));
	sbuf_free(&s);

	/* A shorter run still goes out as it is, unencoded. */
	sbuf_add(&s, "Breathe");
	for (i = 0; i < 100; i++)
		sbuf_addc(&s, ' ');
	sbuf_add(&s, "slowly");
	msg = subject_roundtrip(sbuf_str(&s));
	assert_null(strstr(msg, "=?UTF-8?"));
	free(msg);
	sbuf_free(&s);
}

static void
test_format_injection(void **state)
{
	static const char *const bad[] = {
		"x\r\nBcc: victim@example.net",
		"x\nBcc: victim@example.net",
		"x\rBcc: victim@example.net",
		"x\x01y",
		"x\x7fy",
		"x\xc2\x85y",		/* NEL */
		"x\xff\xfey",		/* not UTF-8 */
	};
	struct mail_msg m;
	char err[256], *msg;
	size_t i;
	int f;

	(void)state;
	for (f = 0; f < 6; f++) {
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			m = base_msg();
			switch (f) {
			case 0: m.from = xasprintf("Christian %s <a@example.org>", bad[i]); break;
			case 1: m.to_name = xasprintf("Sam %s", bad[i]); break;
			case 2: m.to_addr = xasprintf("sam@example.org%s", bad[i]); break;
			case 3: m.reply_to = xasprintf("c@example.org%s", bad[i]); break;
			case 4: m.subject = xasprintf("Hello %s", bad[i]); break;
			case 5: m.message_id = xasprintf("abc.1@example.org%s", bad[i]); break;
			}
			err[0] = '\0';
			msg = mail_format(&m, err, sizeof(err));
			if (msg != NULL)
				fail_msg("field %d accepted bad input %zu", f, i);
			assert_true(err[0] != '\0');
			if (i < 3)
				assert_non_null(strstr(err, "line break"));
			free((char *)(f == 0 ? m.from : f == 1 ? m.to_name :
			    f == 2 ? m.to_addr : f == 3 ? m.reply_to :
			    f == 4 ? m.subject : m.message_id));
		}
	}
	m = base_msg();
	m.subject = "Hello\r\nBcc: x@y.org";
	msg = mail_format(&m, err, sizeof(err));
	assert_null(msg);
	assert_string_equal(err, "subject contains a line break");

	/* Tabs are ordinary white space in a header. */
	m = base_msg();
	m.subject = "Hello\tSam";
	msg = mail_format(&m, err, sizeof(err));
	assert_non_null(msg);
	free(msg);

	/* Invalid addresses and Message-IDs are refused too. */
	m = base_msg();
	m.to_addr = "not an address";
	assert_null(mail_format(&m, err, sizeof(err)));
	m = base_msg();
	m.message_id = "no-at-sign";
	assert_null(mail_format(&m, err, sizeof(err)));
	m = base_msg();
	m.message_id = "a<b>@example.org";
	assert_null(mail_format(&m, err, sizeof(err)));
	m = base_msg();
	m.from = "Christian";
	assert_null(mail_format(&m, err, sizeof(err)));
	m = base_msg();
	m.subject = NULL;
	assert_null(mail_format(&m, err, sizeof(err)));
}

static void
test_format_body(void **state)
{
	struct mail_msg m = base_msg();
	struct sbuf s = { 0 }, want = { 0 };
	char err[256], *msg, *dec;
	int i;

	(void)state;
	/* A 3000-octet line of mixed text, dots and equals signs. */
	for (i = 0; i < 100; i++)
		sbuf_add(&s, "caf\xc3\xa9 = ok. \xe2\x82\xac" "5 ");
	sbuf_add(&s, "\n.leading dot\r\nCRLF line\rCR line\ntrailing space \n"
	    "tab\t\nFrom the start\nlast");
	m.text = sbuf_str(&s);
	msg = mail_format(&m, err, sizeof(err));
	assert_non_null(msg);
	assert_lines(body_of(msg), 76);
	assert_null(strstr(body_of(msg), "\r\n."));	/* dot-stuffing not needed */
	dec = qpdec(body_of(msg), strlen(body_of(msg)));
	for (i = 0; i < 100; i++)
		sbuf_add(&want, "caf\xc3\xa9 = ok. \xe2\x82\xac" "5 ");
	sbuf_add(&want, "\n.leading dot\nCRLF line\nCR line\ntrailing space \n"
	    "tab\t\nFrom the start\nlast\n");
	assert_string_equal(dec, sbuf_str(&want));
	free(dec);
	free(msg);

	/* Invalid UTF-8 becomes U+FFFD; the message still goes. */
	m.text = "bad \xff byte and \xe2\x82 cut";
	msg = mail_format(&m, err, sizeof(err));
	assert_non_null(msg);
	dec = qpdec(body_of(msg), strlen(body_of(msg)));
	assert_string_equal(dec, "bad \xef\xbf\xbd byte and \xef\xbf\xbd cut\n");
	free(dec);
	free(msg);
	sbuf_free(&s);
	sbuf_free(&want);
}

static void
test_format_multipart(void **state)
{
	struct mail_msg m = base_msg();
	struct ics_event ev = {
		.uid = "appt-42@example.org", .start = T_DATE, .duration_min = 50,
		.summary = "Appointment", .stamp = T_DATE - 86400,
		.organizer = "christian@example.org",
	};
	char err[256], *msg, *v, *ics, *dec;
	const char *p, *e;

	(void)state;
	m.html = "<p>Hello Sam</p>";
	msg = mail_format(&m, err, sizeof(err));
	assert_non_null(msg);
	assert_string_equal(v = header(msg, "Content-Type"),
	    "multipart/alternative; boundary=\"=_nudged_alt\"");
	free(v);
	assert_non_null(strstr(msg, "\r\n--=_nudged_alt\r\nContent-Type: text/plain; charset=UTF-8\r\n"));
	assert_non_null(strstr(msg, "\r\n--=_nudged_alt\r\nContent-Type: text/html; charset=UTF-8\r\n"));
	assert_non_null(strstr(msg, "\r\n--=_nudged_alt--\r\n"));
	free(msg);

	m.html = NULL;
	ics = ics_format(&ev, err, sizeof(err));
	assert_non_null(ics);
	m.ics = ics;
	msg = mail_format(&m, err, sizeof(err));
	assert_non_null(msg);
	assert_lines(msg, 78);
	assert_string_equal(v = header(msg, "Content-Type"),
	    "multipart/mixed; boundary=\"=_nudged_mix\"");
	free(v);
	assert_non_null(strstr(msg, "Content-Type: text/calendar; charset=UTF-8; "
	    "method=PUBLISH; name=\"invite.ics\"\r\n"));
	assert_non_null(strstr(msg, "Content-Disposition: attachment; filename=\"invite.ics\""));
	p = strstr(msg, "Content-Transfer-Encoding: base64\r\n\r\n");
	assert_non_null(p);
	p += strlen("Content-Transfer-Encoding: base64\r\n\r\n");
	e = strstr(p, "--=_nudged_mix--");
	assert_non_null(e);
	dec = b64dec(p, (size_t)(e - p));
	assert_string_equal(dec, ics);
	free(dec);
	free(msg);
	free(ics);
}

/* The EHLO name travels in the URL's path (issue 9). */
static void
test_url_helo(void **state)
{
	const char *from = "Christian Hughes <appointments@example.org>";
	char *u;

	(void)state;
	u = mail_url("smtp://mail.example.org:587", NULL, from);
	assert_string_equal(u, "smtp://mail.example.org:587/example.org");
	free(u);
	u = mail_url("smtp://mail.example.org:587/", NULL, from);
	assert_string_equal(u, "smtp://mail.example.org:587/example.org");
	free(u);
	u = mail_url("smtps://mail.example.org/relay.example.net", NULL, from);
	assert_string_equal(u, "smtps://mail.example.org/relay.example.net");
	free(u);
	u = mail_url("smtp://mail.example.org:587/old", "mx.hughes.example", from);
	assert_string_equal(u, "smtp://mail.example.org:587/mx.hughes.example");
	free(u);
	u = mail_url("smtp://mail.example.org", NULL, "not an address");
	assert_string_equal(u, "smtp://mail.example.org");
	free(u);
}

/* A hostile server's reply lines (found by fuzz_smtp, issue 13). */
static void
test_reply_parse(void **state)
{
	static const char two[] = "451-4.3.0 Try\r\n435 again\x07 later\r\n";
	char text[128];

	(void)state;
	assert_int_equal(mail_reply_parse("250 OK\r\n", 8, 0, text,
	    sizeof(text)), 250);
	assert_string_equal(text, "250 OK");
	/* the last line's code decides, and the text says the same */
	assert_int_equal(mail_reply_parse(two, sizeof(two) - 1, 1, text,
	    sizeof(text)), 435);
	assert_string_equal(text, "435 4.3.0 Try again  later");
	assert_int_equal(mail_reply_parse(two, sizeof(two) - 1, 0, text,
	    sizeof(text)), 435);
	/* no complete reply yet */
	assert_int_equal(mail_reply_parse("250-a\r\n", 7, 0, text,
	    sizeof(text)), 0);
}

static void
test_classify(void **state)
{
	static const struct {
		int			 code;
		enum mail_phase		 phase;
		int			 reply;
		enum xfer_result	 want;
	} t[] = {
		{ CURLE_OK, MAIL_PHASE_DOT, 250, XFER_OK },
		/* What libcurl 7.88 really returns for refusals. */
		{ CURLE_SEND_ERROR, MAIL_PHASE_RCPT, 550, XFER_PERMFAIL },
		{ CURLE_SEND_ERROR, MAIL_PHASE_RCPT, 451, XFER_TEMPFAIL },
		{ CURLE_SEND_ERROR, MAIL_PHASE_RCPT, 452, XFER_TEMPFAIL },
		{ CURLE_SEND_ERROR, MAIL_PHASE_DATA, 554, XFER_PERMFAIL },
		{ CURLE_WEIRD_SERVER_REPLY, MAIL_PHASE_DOT, 554, XFER_PERMFAIL },
		{ CURLE_WEIRD_SERVER_REPLY, MAIL_PHASE_DOT, 451, XFER_TEMPFAIL },
		{ CURLE_SEND_ERROR, MAIL_PHASE_MAIL, 553, XFER_CHANNEL },
		{ CURLE_SEND_ERROR, MAIL_PHASE_MAIL, 451, XFER_TEMPFAIL },
		{ CURLE_SEND_ERROR, MAIL_PHASE_MAIL, 530, XFER_CHANNEL },
		{ CURLE_LOGIN_DENIED, MAIL_PHASE_AUTH, 535, XFER_CHANNEL },
		{ CURLE_LOGIN_DENIED, MAIL_PHASE_AUTH, 454, XFER_TEMPFAIL },
		{ CURLE_LOGIN_DENIED, MAIL_PHASE_AUTH, 0, XFER_CHANNEL },
		{ CURLE_COULDNT_CONNECT, MAIL_PHASE_CONNECT, 421, XFER_TEMPFAIL },
		{ CURLE_COULDNT_CONNECT, MAIL_PHASE_CONNECT, 554, XFER_CHANNEL },
		/* Transport failures: where they happened decides. */
		{ CURLE_COULDNT_CONNECT, MAIL_PHASE_CONNECT, 0, XFER_TEMPFAIL },
		{ CURLE_OPERATION_TIMEDOUT, MAIL_PHASE_CONNECT, 0, XFER_TEMPFAIL },
		{ CURLE_OPERATION_TIMEDOUT, MAIL_PHASE_BODY, 0, XFER_TEMPFAIL },
		{ CURLE_OPERATION_TIMEDOUT, MAIL_PHASE_DOT, 0, XFER_UNKNOWN },
		{ CURLE_RECV_ERROR, MAIL_PHASE_DOT, 0, XFER_UNKNOWN },
		{ CURLE_WEIRD_SERVER_REPLY, MAIL_PHASE_DOT, 0, XFER_UNKNOWN },
		{ CURLE_GOT_NOTHING, MAIL_PHASE_DOT, 0, XFER_UNKNOWN },
		{ CURLE_SEND_ERROR, MAIL_PHASE_RCPT, 0, XFER_TEMPFAIL },
		{ CURLE_SEND_ERROR, MAIL_PHASE_BODY, 0, XFER_TEMPFAIL },
		{ CURLE_SSL_CONNECT_ERROR, MAIL_PHASE_STARTTLS, 220, XFER_TEMPFAIL },
		{ CURLE_PEER_FAILED_VERIFICATION, MAIL_PHASE_STARTTLS, 220, XFER_CHANNEL },
		{ CURLE_PEER_FAILED_VERIFICATION, MAIL_PHASE_CONNECT, 0, XFER_CHANNEL },
		{ CURLE_SSL_CACERT_BADFILE, MAIL_PHASE_CONNECT, 0, XFER_CHANNEL },
		{ CURLE_USE_SSL_FAILED, MAIL_PHASE_EHLO, 250, XFER_CHANNEL },
		{ CURLE_USE_SSL_FAILED, MAIL_PHASE_STARTTLS, 454, XFER_TEMPFAIL },
		{ CURLE_UNSUPPORTED_PROTOCOL, MAIL_PHASE_CONNECT, 0, XFER_CHANNEL },
		{ CURLE_COULDNT_RESOLVE_HOST, MAIL_PHASE_CONNECT, 0, XFER_CHANNEL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (mail_classify(t[i].code, t[i].phase, t[i].reply) != t[i].want)
			fail_msg("row %zu: code %d phase %d reply %d gave %s, want %s",
			    i, t[i].code, t[i].phase, t[i].reply,
			    xfer_result_name(mail_classify(t[i].code, t[i].phase, t[i].reply)),
			    xfer_result_name(t[i].want));
}

static int	ticks;

static void
count_tick(void)
{
	ticks++;
}

static void
test_xfer(void **state)
{
	(void)state;
	assert_string_equal(xfer_result_name(XFER_OK), "ok");
	assert_string_equal(xfer_result_name(XFER_TEMPFAIL), "tempfail");
	assert_string_equal(xfer_result_name(XFER_PERMFAIL), "permfail");
	assert_string_equal(xfer_result_name(XFER_UNKNOWN), "unknown");
	assert_string_equal(xfer_result_name(XFER_CHANNEL), "channel");
	/* Rate-limited: a burst of calls feeds the hook once. */
	xfer_set_tick(count_tick);
	xfer_tick();
	xfer_tick();
	xfer_tick();
	assert_int_equal(ticks, 1);
	xfer_set_tick(NULL);
	xfer_tick();
	assert_int_equal(ticks, 1);
}

static void
test_send_refuses_before_connecting(void **state)
{
	struct conf cf;
	struct mail_session *s;
	char err[256];

	(void)state;
	memset(&cf, 0, sizeof(cf));
	/* Port 9 (discard) on loopback: nothing may even be tried. */
	cf.email.url = "smtp://127.0.0.1:9";
	cf.email.tls_required = 1;
	cf.email.from = "Christian <c@example.org>";
	cf.email.timeout = 1;
	s = mail_open(&cf);
	assert_int_equal(mail_send(s, "sam@example.org>\r\nRCPT TO:<x@evil.org",
	    "Subject: x\r\n\r\nx\r\n", NULL, err, sizeof(err)), XFER_PERMFAIL);
	assert_non_null(strstr(err, "recipient"));
	cf.email.from = "Christian <c@example.org\r\nRCPT TO:<x@evil.org>>";
	assert_int_equal(mail_send(s, "sam@example.org", "Subject: x\r\n\r\nx\r\n",
	    NULL, err, sizeof(err)), XFER_CHANNEL);
	assert_non_null(strstr(err, "email.from"));
	mail_close(s);
	mail_close(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_valid),
		cmocka_unit_test(test_addr_of),
		cmocka_unit_test(test_message_id),
		cmocka_unit_test(test_message_id_after_fork),
		cmocka_unit_test(test_format_headers),
		cmocka_unit_test(test_format_names),
		cmocka_unit_test(test_format_subject),
		cmocka_unit_test(test_format_subject_blanks),
		cmocka_unit_test(test_format_injection),
		cmocka_unit_test(test_format_body),
		cmocka_unit_test(test_format_multipart),
		cmocka_unit_test(test_url_helo),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_reply_parse),
		cmocka_unit_test(test_xfer),
		cmocka_unit_test(test_send_refuses_before_connecting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
