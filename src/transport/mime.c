/*
 * mime: the message text (mail_format) and the address grammar both it
 * and the SMTP envelope rely on (the calendar object is built in ics.c).
 * Everything here is pure: data in, text out, no clock,
 * no randomness, no I/O (Message-IDs are made in mail.c).
 *
 * The message layout (mail_format), CRLF throughout:
 *
 *	Date: Thu, 03 Dec 2026 10:00:00 +0000		(UTC, English names)
 *	From: Christian Hughes <appointments@example.org>
 *	To: "Taylor, Sam" <sam@example.org>		(RFC 2047 B words if non-ASCII)
 *	Reply-To: christian@example.org
 *	Subject: =?UTF-8?B?...?=			(plain ASCII, or B words <= 75)
 *	Message-ID: <hex128.msgid@example.org>
 *	MIME-Version: 1.0
 *	Auto-Submitted: auto-generated			(RFC 3834: no auto-replies)
 *	X-Auto-Response-Suppress: All			(the same for Exchange)
 *	Content-Type: text/plain; charset=UTF-8	(or a multipart below)
 *	Content-Transfer-Encoding: quoted-printable
 *
 * With html: multipart/alternative (text, then html).  With ics:
 * multipart/mixed holding the text (or the alternative) and a
 * text/calendar part (base64, invite.ics, method= as the object's METHOD).
 * Text parts are quoted-printable, so every body line is at most 76
 * octets whatever the template produced; invalid UTF-8 in a body is
 * replaced by U+FFFD rather than refused (one bad byte from a booking tool
 * must not cost a client the reminder).  Header input is never cleaned:
 * a CR, LF or other control character, or invalid UTF-8, refuses the
 * whole message.
 *
 * Boundaries start with "=_": quoted-printable writes '=' only before two
 * hex digits or a line end, and base64 only as final padding, so that
 * sequence can never occur inside a part.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "transport/mail.h"
#include "base/utf8.h"
#include "base/util.h"

/* Raw bytes per RFC 2047 word: 52 base64 chars, 64 with the wrapper. */
#define MAIL_EW_RAW	39
#define MAIL_QP_MAX	76
#define MAIL_LINE_MAX	998	/* RFC 5322 2.1.1, without the CRLF */
#define MAIL_BOUND_ALT	"=_nudged_alt"
#define MAIL_BOUND_MIX	"=_nudged_mix"

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* A copy with every invalid sequence replaced by U+FFFD. */
static char *
utf8_clean(const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run = p;
	struct sbuf b = { 0 };
	size_t n;

	/* Valid runs are copied whole: a copy per character cost more than the rest. */
	while (*p != '\0') {
		if ((n = utf8_len(p)) != 0) {
			p += n;
			continue;
		}
		sbuf_addn(&b, (const char *)run, (size_t)(p - run));
		/* One U+FFFD for a cut sequence, not one per byte. */
		sbuf_add(&b, "\xef\xbf\xbd");
		for (n = 1; n < 4 && *p >= 0xc2 && (p[n] & 0xc0) == 0x80; n++)
			;
		run = p += n;
	}
	sbuf_addn(&b, (const char *)run, (size_t)(p - run));
	return sbuf_steal(&b);
}

/*
 * Split "Name <addr>", "\"Quoted, Name\" <addr>", "<addr>" or "addr".
 * *name is NULL when there is none.  0, or -1 when addr is not valid.
 */
static int
mail_addr_split(const char *from, char **name, char **addr)
{
	const char *lt, *gt, *s, *e;
	struct sbuf b = { 0 };

	*name = *addr = NULL;
	if (from == NULL)
		return -1;
	if ((lt = strrchr(from, '<')) == NULL) {
		for (s = from; *s == ' ' || *s == '\t'; s++)
			;
		for (e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		*addr = xstrndup(s, (size_t)(e - s));
	} else {
		if ((gt = strchr(lt, '>')) == NULL || gt[1] != '\0')
			return -1;
		*addr = xstrndup(lt + 1, (size_t)(gt - lt - 1));
		for (s = from; *s == ' ' || *s == '\t'; s++)
			;
		for (e = lt; e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		if (e - s >= 2 && *s == '"' && e[-1] == '"') {
			for (s++, e--; s < e; s++) {
				if (*s == '\\' && s + 1 < e)
					s++;
				sbuf_addc(&b, *s);
			}
			*name = sbuf_steal(&b);
		} else if (e > s)
			*name = xstrndup(s, (size_t)(e - s));
	}
	if (!address_valid(*addr)) {
		free(*name);
		free(*addr);
		*name = *addr = NULL;
		return -1;
	}
	return 0;
}

char *
mail_addr_of(const char *from)
{
	char *name, *addr;

	if (mail_addr_split(from, &name, &addr) == -1)
		return NULL;
	free(name);
	return addr;
}

/* ---- headers ---------------------------------------------------------- */

static int
hdr_check(const char *what, const char *v, char *err, size_t errlen)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t n;

	for (; *p != '\0'; p += n) {
		if (*p == '\r' || *p == '\n') {
			snprintf(err, errlen, "%s contains a line break", what);
			return -1;
		}
		/* C0, DEL and C1 (NEL is a line break to some readers). */
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f ||
		    (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)) {
			snprintf(err, errlen, "%s contains a control character",
			    what);
			return -1;
		}
		if ((n = utf8_len(p)) == 0) {
			snprintf(err, errlen, "%s is not valid UTF-8", what);
			return -1;
		}
	}
	return 0;
}

static int
is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

static void
b64_add(struct sbuf *b, const unsigned char *p, size_t n, int wrap)
{
	/* a line at a time: an append per four characters cost more than the encoding */
	char q[MAIL_QP_MAX + 8];
	size_t i, col = 0;
	unsigned long v;

	/* whole groups of three without a test per byte (issue 12) */
	for (i = 0; i + 3 <= n; i += 3) {
		v = (unsigned long)p[i] << 16 | (unsigned long)p[i + 1] << 8 |
		    p[i + 2];
		q[col++] = b64chars[(v >> 18) & 63];
		q[col++] = b64chars[(v >> 12) & 63];
		q[col++] = b64chars[(v >> 6) & 63];
		q[col++] = b64chars[v & 63];
		if (col >= MAIL_QP_MAX && i + 3 < n) {
			if (wrap) {
				q[col++] = '\r';
				q[col++] = '\n';
			}
			sbuf_addn(b, q, col);
			col = 0;
		}
	}
	if (i < n) {
		v = (unsigned long)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned long)p[i + 1] << 8;
		q[col++] = b64chars[(v >> 18) & 63];
		q[col++] = b64chars[(v >> 12) & 63];
		q[col++] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		q[col++] = '=';
	}
	if (col > 0)
		sbuf_addn(b, q, col);
	if (wrap)
		sbuf_add(b, "\r\n");
}

/*
 * RFC 2047 "B" words, one per folded line.  Each word holds whole UTF-8
 * characters: RFC 2047 section 5 wants every word to decode on its own.
 */
static void
hdr_words(struct sbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t chunk, n;

	while (*p != '\0') {
		for (chunk = 0; p[chunk] != '\0'; chunk += n) {
			if ((n = utf8_len(p + chunk)) == 0)
				n = 1;
			if (chunk + n > MAIL_EW_RAW)
				break;
		}
		if (p != (const unsigned char *)s)
			sbuf_add(b, "\r\n ");
		sbuf_add(b, "=?UTF-8?B?");
		b64_add(b, p, chunk, 0);
		sbuf_add(b, "?=");
		p += chunk;
	}
}

/* A display name: atoms as they are, ASCII specials quoted, else words. */
static void
hdr_phrase(struct sbuf *b, const char *name)
{
	const char *p;
	int plain = 1;

	if (!is_ascii(name) || strlen(name) > 60) {
		hdr_words(b, name);
		return;
	}
	for (p = name; *p != '\0'; p++)
		if (!address_atext((unsigned char)*p) && *p != ' ')
			plain = 0;
	/* "=?" unquoted would be read back as an encoded word. */
	if (plain && strstr(name, "=?") == NULL && name[0] != ' ') {
		sbuf_add(b, name);
		return;
	}
	sbuf_addc(b, '"');
	for (p = name; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			sbuf_addc(b, '\\');
		sbuf_addc(b, *p);
	}
	sbuf_addc(b, '"');
}

static void
hdr_address(struct sbuf *b, const char *field, const char *name,
    const char *addr)
{
	/* appends, not printf: a header's printf cost more than its bytes */
	sbuf_add(b, field);
	sbuf_add(b, ": ");
	if (name != NULL && name[0] != '\0') {
		hdr_phrase(b, name);
		sbuf_add(b, " <");
		sbuf_add(b, addr);
		sbuf_add(b, ">\r\n");
	} else {
		sbuf_add(b, addr);
		sbuf_add(b, "\r\n");
	}
}

/* The longest run of non-blank characters in s. */
static size_t
longest_word(const char *s)
{
	size_t n, max = 0;

	while (*s != '\0') {
		n = strcspn(s, " \t");
		if (n > max)
			max = n;
		s += n;
		s += strspn(s, " \t");
	}
	return max;
}

/*
 * Plain ASCII starting at column col, folded before a blank once past 78
 * columns; returns the length of the longest line written.  A fold goes
 * only before blanks that a word follows (a line of blanks alone is not
 * allowed), so leading blanks, a run of blanks and the word after it, and
 * trailing blanks each stay on one line however long they are.
 */
static size_t
hdr_fold(struct sbuf *b, size_t col, const char *text)
{
	const char *p, *sp;
	size_t word, max = col;

	for (p = text; *p != '\0'; p = sp) {
		sp = p + strspn(p, " \t");
		sp += strcspn(sp, " \t");
		word = (size_t)(sp - p);
		if (col + word > 78 && p != text && (*p == ' ' || *p == '\t') &&
		    sp[-1] != ' ' && sp[-1] != '\t') {
			sbuf_add(b, "\r\n");
			col = 0;
		}
		sbuf_addn(b, p, word);
		col += word;
		if (col > max)
			max = col;
	}
	return max;
}

/*
 * Plain ASCII folded at blanks; as encoded words instead when the text is
 * not ASCII, would read as an encoded word, holds a word too long for any
 * line, or would still leave a line over 998 octets once folded (a long
 * run of blanks).  Encoded words keep every blank and fold anywhere.
 */
static void
hdr_unstructured(struct sbuf *b, const char *field, const char *text)
{
	struct sbuf plain = { 0 };

	sbuf_add(b, field);
	sbuf_add(b, ": ");
	if (is_ascii(text) && strstr(text, "=?") == NULL &&
	    longest_word(text) <= 900 &&
	    hdr_fold(&plain, strlen(field) + 2, text) <= MAIL_LINE_MAX)
		sbuf_add(b, sbuf_str(&plain));
	else
		hdr_words(b, text);
	sbuf_add(b, "\r\n");
	sbuf_free(&plain);
}

/* ---- body ------------------------------------------------------------- */

/*
 * Quoted-printable (RFC 2045 6.7) of UTF-8 text: any line end in, CRLF
 * out, no line over 76 octets.  A leading '.' is encoded too, so the
 * message never depends on the SMTP client's dot-stuffing.  Bytes that
 * go as they are are appended a run at a time (a byte at a time was a
 * twentieth of a reminder's CPU).
 */
/*
 * Whether the byte at p goes as it is, col bytes into its line: printable
 * ASCII but '=', a '.' but at a line's start, a blank but at a line's end
 * (RFC 2045 6.7 rule 3).
 */
static inline int
qp_asis(const unsigned char *p, size_t col)
{
	if (*p >= 33 && *p <= 126 && *p != '=')
		return *p != '.' || col > 0;
	return (*p == ' ' || *p == '\t') &&
	    p[1] != '\0' && p[1] != '\r' && p[1] != '\n';
}

/*
 * The end of the bytes from p on that go as they are, short of the line's
 * last column (where a soft break may be due); *col moves with them.
 */
static const unsigned char *
qp_run(const unsigned char *p, size_t *col)
{
	while (*col < MAIL_QP_MAX - 1 && qp_asis(p, *col)) {
		p++;
		(*col)++;
	}
	return p;
}

static void
qp_add(struct sbuf *b, const char *text)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)text, *run = NULL, *q;
	char rep[3] = { '=' };
	size_t col = 0, rlen, start = b->len;
	int eol, plain;

	while (*p != '\0') {
		if (*p == '\r' || *p == '\n') {
			if (run != NULL)
				sbuf_addn(b, (const char *)run, (size_t)(p - run));
			run = NULL;
			p += (p[0] == '\r' && p[1] == '\n') ? 2 : 1;
			sbuf_add(b, "\r\n");
			col = 0;
			continue;
		}
		/* the common case first; the rest below, a byte at a time */
		if ((q = qp_run(p, &col)) != p) {
			if (run == NULL)
				run = p;
			p = q;
			continue;
		}
		eol = p[1] == '\0' || p[1] == '\r' || p[1] == '\n';
		for (;;) {
			plain = (*p >= 33 && *p <= 126 && *p != '=' &&
			    !(*p == '.' && col == 0)) ||
			    ((*p == ' ' || *p == '\t') && !eol);
			rlen = plain ? 1 : 3;
			/* Room for the soft break's '=' unless the line ends here. */
			if (col + rlen <= (eol ? MAIL_QP_MAX : MAIL_QP_MAX - 1) ||
			    col == 0)
				break;
			if (run != NULL)
				sbuf_addn(b, (const char *)run, (size_t)(p - run));
			run = NULL;
			sbuf_add(b, "=\r\n");
			col = 0;
		}
		if (plain) {
			if (run == NULL)
				run = p;
		} else {
			if (run != NULL)
				sbuf_addn(b, (const char *)run, (size_t)(p - run));
			run = NULL;
			rep[1] = hex[*p >> 4];
			rep[2] = hex[*p & 15];
			sbuf_addn(b, rep, 3);
		}
		col += rlen;
		p++;
	}
	if (run != NULL)
		sbuf_addn(b, (const char *)run, (size_t)(p - run));
	if (b->len == start || b->s[b->len - 1] != '\n')
		sbuf_add(b, "\r\n");
}

static void
part_text(struct sbuf *b, const char *subtype, const char *text)
{
	char *clean = utf8_clean(text);

	sbuf_add(b, "Content-Type: text/");
	sbuf_add(b, subtype);
	sbuf_add(b, "; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	qp_add(b, clean);
	free(clean);
}

/* The text part, or text and html as multipart/alternative. */
static void
part_body(struct sbuf *b, const struct mail_msg *m)
{
	if (m->html == NULL) {
		part_text(b, "plain", m->text != NULL ? m->text : "");
		return;
	}
	sbuf_add(b, "Content-Type: multipart/alternative; boundary=\""
	    MAIL_BOUND_ALT "\"\r\n\r\n--" MAIL_BOUND_ALT "\r\n");
	part_text(b, "plain", m->text != NULL ? m->text : "");
	sbuf_add(b, "--" MAIL_BOUND_ALT "\r\n");
	part_text(b, "html", m->html);
	sbuf_add(b, "--" MAIL_BOUND_ALT "--\r\n");
}

/* The METHOD of an iCalendar object, for the MIME method= parameter. */
static void
ics_method(const char *ics, char *out, size_t len)
{
	const char *p;
	size_t n = 0;

	out[0] = '\0';
	for (p = ics; (p = strstr(p, "METHOD:")) != NULL; p++) {
		if (p != ics && p[-1] != '\n')
			continue;
		for (p += 7; n + 1 < len && *p >= 'A' && *p <= 'Z'; p++)
			out[n++] = *p;
		out[n] = '\0';
		return;
	}
}

static const char *const wdays[] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *const months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

static int
msgid_valid(const char *id)
{
	const char *p, *at = strchr(id, '@');

	if (at == NULL || at == id || at[1] == '\0' || strchr(at + 1, '@') ||
	    strlen(id) > 250)
		return 0;
	for (p = id; *p != '\0'; p++)
		if (!address_atext((unsigned char)*p) && *p != '.' && *p != '@')
			return 0;
	return 1;
}

/* The header values nudged got: present, one line each, valid.  0 or -1. */
static int
mail_check(const struct mail_msg *m, char *err, size_t errlen)
{
	if (m->from == NULL || m->to_addr == NULL || m->subject == NULL ||
	    m->message_id == NULL) {
		snprintf(err, errlen, "message lacks %s", m->from == NULL ?
		    "a sender" : m->to_addr == NULL ? "a recipient" :
		    m->subject == NULL ? "a subject" : "a Message-ID");
		return -1;
	}
	if (hdr_check("sender", m->from, err, errlen) == -1 ||
	    (m->to_name != NULL &&
	    hdr_check("recipient name", m->to_name, err, errlen) == -1) ||
	    hdr_check("recipient address", m->to_addr, err, errlen) == -1 ||
	    (m->reply_to != NULL &&
	    hdr_check("reply-to address", m->reply_to, err, errlen) == -1) ||
	    hdr_check("subject", m->subject, err, errlen) == -1 ||
	    hdr_check("Message-ID", m->message_id, err, errlen) == -1)
		return -1;
	return 0;
}

/* The calendar attachment after the body: multipart/mixed. */
static void
part_ics(struct sbuf *b, const struct mail_msg *m)
{
	char method[32];

	sbuf_add(b, "Content-Type: multipart/mixed; boundary=\""
	    MAIL_BOUND_MIX "\"\r\n\r\n--" MAIL_BOUND_MIX "\r\n");
	part_body(b, m);
	ics_method(m->ics, method, sizeof(method));
	sbuf_add(b, "--" MAIL_BOUND_MIX "\r\n"
	    "Content-Type: text/calendar; charset=UTF-8");
	if (method[0] != '\0') {
		sbuf_add(b, "; method=");
		sbuf_add(b, method);
	}
	sbuf_add(b, "; name=\"invite.ics\"\r\n"
	    "Content-Disposition: attachment; filename=\"invite.ics\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n");
	b64_add(b, (const unsigned char *)m->ics, strlen(m->ics), 1);
	sbuf_add(b, "--" MAIL_BOUND_MIX "--\r\n");
}

char *
mail_format(const struct mail_msg *m, char *err, size_t errlen)
{
	struct sbuf b = { 0 };
	char *fname = NULL, *faddr = NULL;
	struct tm tm;

	if (mail_check(m, err, errlen) == -1)
		return NULL;
	if (mail_addr_split(m->from, &fname, &faddr) == -1) {
		snprintf(err, errlen, "sender has no valid address");
		return NULL;
	}
	if (!address_valid(m->to_addr) ||
	    (m->reply_to != NULL && !address_valid(m->reply_to)) ||
	    !msgid_valid(m->message_id)) {
		snprintf(err, errlen, "%s is not valid",
		    !address_valid(m->to_addr) ? "recipient address" :
		    !msgid_valid(m->message_id) ? "Message-ID" :
		    "reply-to address");
		free(fname);
		free(faddr);
		return NULL;
	}
	if (gmtime_r(&m->date, &tm) == NULL) {
		snprintf(err, errlen, "date out of range");
		free(fname);
		free(faddr);
		return NULL;
	}
	sbuf_printf(&b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
	    wdays[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	hdr_address(&b, "From", fname, faddr);
	hdr_address(&b, "To", m->to_name, m->to_addr);
	if (m->reply_to != NULL)
		hdr_address(&b, "Reply-To", NULL, m->reply_to);
	hdr_unstructured(&b, "Subject", m->subject);
	sbuf_add(&b, "Message-ID: <");
	sbuf_add(&b, m->message_id);
	sbuf_add(&b, ">\r\n");
	sbuf_add(&b, "MIME-Version: 1.0\r\n"
	    "Auto-Submitted: auto-generated\r\n"
	    "X-Auto-Response-Suppress: All\r\n");
	free(fname);
	free(faddr);
	if (m->ics == NULL)
		part_body(&b, m);
	else
		part_ics(&b, m);
	return sbuf_steal(&b);
}
