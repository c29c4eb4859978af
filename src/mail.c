/*
 * mail: RFC 5322 / MIME messages and SMTP delivery through libcurl.
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
 *
 * Delivery: one easy handle per session, so libcurl keeps one connection
 * for a batch.  libcurl's own error codes are too coarse for SMTP (every
 * refused RCPT is CURLE_SEND_ERROR, a refused final dot is
 * CURLE_WEIRD_SERVER_REPLY, and CURLINFO_RESPONSE_CODE keeps an old 250
 * after a drop), so the session watches the dialogue itself: the debug
 * callback sees each command going out and each reply coming in, and the
 * read callback knows when the whole message has gone up.  mail_classify()
 * turns that into a result, by the table above mail_rules[].
 */
#include <sys/random.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "mail.h"
#include "util.h"

/* Raw bytes per RFC 2047 word: 52 base64 chars, 64 with the wrapper. */
#define MAIL_EW_RAW	39
#define MAIL_QP_MAX	76
#define MAIL_ICS_FOLD	75
#define MAIL_BOUND_ALT	"=_nudged_alt"
#define MAIL_BOUND_MIX	"=_nudged_mix"

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Length of the valid UTF-8 sequence at s, or 0 (overlong, surrogate...). */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned long cp;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 ||
	    cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* A copy with every invalid sequence replaced by U+FFFD. */
static char *
utf8_clean(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	struct sbuf b = { 0 };
	size_t n;

	while (*p != '\0') {
		if ((n = utf8_len(p)) == 0) {
			sbuf_add(&b, "\xef\xbf\xbd");
			p++;
		} else {
			sbuf_addn(&b, (const char *)p, n);
			p += n;
		}
	}
	return sbuf_steal(&b);
}

static int
is_atext(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

int
mail_addr_valid(const char *addr)
{
	const char *at, *p, *label;
	size_t len;

	if (addr == NULL || (len = strlen(addr)) > 254 ||
	    (at = strchr(addr, '@')) == NULL || strchr(at + 1, '@') != NULL)
		return 0;
	if (at == addr || at - addr > 64 || addr[0] == '.' || at[-1] == '.')
		return 0;
	for (p = addr; p < at; p++)
		if (!is_atext((unsigned char)*p) && !(*p == '.' && p[1] != '.'))
			return 0;
	for (label = p = at + 1;; p++) {
		if (*p == '.' || *p == '\0') {
			if (p == label || p - label > 63 || *label == '-' ||
			    p[-1] == '-')
				return 0;
			if (*p == '\0')
				return 1;
			label = p + 1;
		} else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' &&
		    *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return 0;
	}
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
	if (!mail_addr_valid(*addr)) {
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

char *
mail_message_id(const char *from_addr, long long msg_id)
{
	static unsigned long long fallback;
	unsigned char r[16];
	char hex[33], *addr;
	const char *domain = "nudged.invalid";
	size_t got = 0, i;
	ssize_t n;
	char *id;

	while (got < sizeof(r)) {
		n = getrandom(r + got, sizeof(r) - got, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got < sizeof(r)) {
		/* No kernel entropy: still unique, with the row id. */
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		fallback++;
		memcpy(r, &ts, sizeof(r) < sizeof(ts) ? sizeof(r) : sizeof(ts));
		memcpy(r + 8, &fallback, sizeof(fallback));
	}
	for (i = 0; i < sizeof(r); i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	addr = mail_addr_of(from_addr);
	if (addr != NULL)
		domain = strchr(addr, '@') + 1;
	id = xasprintf("%s.%lld@%s", hex, msg_id, domain);
	free(addr);
	return id;
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
	size_t i, col = 0;
	unsigned long v;
	char q[4];

	for (i = 0; i < n; i += 3) {
		v = (unsigned long)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned long)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = b64chars[(v >> 18) & 63];
		q[1] = b64chars[(v >> 12) & 63];
		q[2] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? b64chars[v & 63] : '=';
		sbuf_addn(b, q, 4);
		if (wrap && (col += 4) >= MAIL_QP_MAX && i + 3 < n) {
			sbuf_add(b, "\r\n");
			col = 0;
		}
	}
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
		if (!is_atext((unsigned char)*p) && *p != ' ')
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
	sbuf_printf(b, "%s: ", field);
	if (name != NULL && name[0] != '\0') {
		hdr_phrase(b, name);
		sbuf_printf(b, " <%s>\r\n", addr);
	} else
		sbuf_printf(b, "%s\r\n", addr);
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
 * Plain ASCII folded before a blank once past 78 columns; non-ASCII, text
 * that would read as an encoded word, or a word too long for any line
 * (998 octets), as encoded words.
 */
static void
hdr_unstructured(struct sbuf *b, const char *field, const char *text)
{
	const char *p, *sp;
	size_t col, word;

	sbuf_printf(b, "%s: ", field);
	col = strlen(field) + 2;
	if (!is_ascii(text) || strstr(text, "=?") != NULL ||
	    longest_word(text) > 900) {
		hdr_words(b, text);
		sbuf_add(b, "\r\n");
		return;
	}
	for (p = text; *p != '\0'; p = sp) {
		sp = p + strspn(p, " \t");
		sp += strcspn(sp, " \t");
		word = (size_t)(sp - p);
		if (col + word > 78 && p != text && (*p == ' ' || *p == '\t')) {
			sbuf_add(b, "\r\n");
			col = 0;
		}
		sbuf_addn(b, p, word);
		col += word;
	}
	sbuf_add(b, "\r\n");
}
