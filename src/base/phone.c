/*
 * phone: E.164 normalisation, texting capability, masking and SMS segment
 * counting.  The rules are written once, in phone.h.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/phone.h"
#include "base/utf8.h"
#include "base/util.h"

/*
 * The regions a national number may be read in.  min/max count the digits
 * after the country code (the national significant number).  "trunk": a
 * national number starts with a 0 that is dropped internationally, so the
 * number itself never starts with 0.  "lead0": without a trunk prefix,
 * the number may still start with 0 (Italy keeps its 0 after +39).
 */
struct phone_region {
	const char	*code;		/* ISO 3166-1 alpha-2 */
	const char	*adj;		/* "not a valid UK number" */
	const char	*cc;
	int		 trunk;
	int		 lead0;
	int		 nanp;		/* area code and exchange start 2-9 */
	size_t		 min, max;
};

static const struct phone_region phone_regions[] = {
	{ "GB", "UK",		 "44",	1, 0, 0, 10, 10 },
	{ "IE", "Irish",	 "353",	1, 0, 0, 7, 9 },
	{ "US", "North American", "1",	0, 0, 1, 10, 10 },
	{ "CA", "North American", "1",	0, 0, 1, 10, 10 },
	{ "FR", "French",	 "33",	1, 0, 0, 9, 9 },
	{ "DE", "German",	 "49",	1, 0, 0, 6, 13 },
	{ "NL", "Dutch",	 "31",	1, 0, 0, 9, 9 },
	{ "ES", "Spanish",	 "34",	0, 0, 0, 9, 9 },
	{ "IT", "Italian",	 "39",	0, 1, 0, 6, 11 },
};
#define PHONE_NREGIONS	(sizeof(phone_regions) / sizeof(phone_regions[0]))

#define PHONE_E164_MAXDIGITS	15
#define PHONE_OTHER_MINDIGITS	7	/* shortest accepted for other countries */
#define PHONE_SCAN_MAX		24	/* 15 digits, "011", a trunk 0, slack */
#define PHONE_QUOTE_MAX		40	/* bytes of the input echoed in errors */

struct phone_scan {
	char	d[PHONE_SCAN_MAX + 1];
	size_t	n;
	int	plus;
};

static size_t	sms_utf8_next(const unsigned char *, uint32_t *);

static int
phone_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
phone_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verrf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int
phone_isdigit(int c)
{
	return c >= '0' && c <= '9';
}

static int
phone_upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

static const struct phone_region *
phone_region_find(const char *code)
{
	size_t i;

	if (code == NULL || code[0] == '\0' || code[1] == '\0' ||
	    code[2] != '\0')
		return NULL;
	/* "UK" is what people write; ISO says GB. */
	if (phone_upper(code[0]) == 'U' && phone_upper(code[1]) == 'K')
		return &phone_regions[0];
	for (i = 0; i < PHONE_NREGIONS; i++)
		if (phone_upper(code[0]) == phone_regions[i].code[0] &&
		    phone_upper(code[1]) == phone_regions[i].code[1])
			return &phone_regions[i];
	return NULL;
}

int
phone_region_known(const char *region)
{
	return phone_region_find(region) != NULL;
}

/*
 * Echo user input into an error safely: bounded, no control bytes (a CR
 * or LF from a database row must not reach a log line or a header), no
 * ill-formed UTF-8 (errors end up in SQLite text columns).
 */
static void
phone_quote(const char *s, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, k;
	uint32_t cp;

	while (*p != '\0' && o + 4 < len) {
		if (o >= PHONE_QUOTE_MAX) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		k = sms_utf8_next(p, &cp);
		if (k > 1) {
			memcpy(buf + o, p, k);
			o += k;
		} else
			buf[o++] = (*p < 0x20 || *p >= 0x7f) ? '?' : (char)*p;
		p += k;
	}
	buf[o] = '\0';
}

/* Bytes taken by a separator at s (0: not one). */
static size_t
phone_sep_len(const unsigned char *s)
{
	if (s[0] != '\0' && strchr(" \t-./", s[0]) != NULL)
		return 1;
	if (s[0] == 0xc2 && s[1] == 0xa0)		/* U+00A0 no-break space */
		return 2;
	/* U+2009 thin space, U+2010..U+2015 dashes, U+202F narrow no-break space */
	if (s[0] == 0xe2 && s[1] == 0x80 &&
	    (s[2] == 0x89 || (s[2] >= 0x90 && s[2] <= 0x95) || s[2] == 0xaf))
		return 3;
	return 0;
}

/* Collect the digits and the '+'; the reason is written into why. */
static int
phone_scan(const char *typed, struct phone_scan *sc, char *why, size_t whylen)
{
	const unsigned char *p = (const unsigned char *)typed;
	size_t k;
	int depth = 0;

	memset(sc, 0, sizeof(*sc));
	while (*p != '\0') {
		if ((k = phone_sep_len(p)) > 0) {
			p += k;
			continue;
		}
		if (phone_isdigit(*p)) {
			if (sc->n == PHONE_SCAN_MAX)
				return phone_fail(why, whylen,
				    "more than %d digits", PHONE_E164_MAXDIGITS);
			sc->d[sc->n++] = (char)*p++;
			continue;
		}
		switch (*p) {
		case '+':
			if (sc->plus)
				return phone_fail(why, whylen,
				    "it has more than one '+'");
			if (sc->n > 0)
				return phone_fail(why, whylen,
				    "'+' may only come first");
			sc->plus = 1;
			break;
		case '(':
			if (depth++ > 0)
				return phone_fail(why, whylen,
				    "nested parentheses");
			break;
		case ')':
			if (depth-- == 0)
				return phone_fail(why, whylen,
				    "unbalanced parentheses");
			break;
		default:
			if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
				return phone_fail(why, whylen,
				    "it contains the letter '%c'", *p);
			if (*p > 0x20 && *p < 0x7f)
				return phone_fail(why, whylen,
				    "it contains '%c'", *p);
			return phone_fail(why, whylen,
			    "it contains a character that is not a digit "
			    "or a separator");
		}
		p++;
	}
	if (depth != 0)
		return phone_fail(why, whylen, "unbalanced parentheses");
	sc->d[sc->n] = '\0';
	return 0;
}

/*
 * Check a national significant number for its country.  "after" names
 * what came before it in the input ("0", "+44", "1" or "") for the reason.
 */
static int
phone_check_nsn(const struct phone_region *r, const char *nsn, size_t m,
    const char *after, char *why, size_t whylen)
{
	char want[32];

	if (m < r->min || m > r->max) {
		if (r->min == r->max)
			snprintf(want, sizeof(want), "%zu", r->min);
		else
			snprintf(want, sizeof(want), "%zu to %zu", r->min,
			    r->max);
		return phone_fail(why, whylen, "%zu digit%s%s%s, expected %s",
		    m, m == 1 ? "" : "s", *after ? " after " : "", after, want);
	}
	if (nsn[0] == '0' && !r->lead0) {
		if (*after)
			return phone_fail(why, whylen,
			    "the number after %s cannot start with 0", after);
		return phone_fail(why, whylen, "%s numbers do not start with 0",
		    r->adj);
	}
	if (r->nanp && (nsn[0] == '1' || nsn[0] == '0'))
		return phone_fail(why, whylen,
		    "the area code cannot start with 0 or 1");
	if (r->nanp && (nsn[3] == '1' || nsn[3] == '0'))
		return phone_fail(why, whylen,
		    "the exchange code cannot start with 0 or 1");
	return 0;
}

static int
phone_put(char *out, size_t outlen, const char *cc, const char *nsn,
    size_t m, char *err, size_t errlen)
{
	size_t c = strlen(cc);

	/* The per-country limits keep to this; checked again at the last step. */
	if (c + m > PHONE_E164_MAXDIGITS)
		return phone_fail(err, errlen, "%zu digits, E.164 allows "
		    "at most %d", c + m, PHONE_E164_MAXDIGITS);
	if (out == NULL || outlen < 1 + c + m + 1)
		return phone_fail(err, errlen, "phone_e164: output buffer "
		    "too small");
	out[0] = '+';
	memcpy(out + 1, cc, c);
	memcpy(out + 1 + c, nsn, m);
	out[1 + c + m] = '\0';
	return 0;
}

static int
phone_international(const char *q, const char *d, size_t n, char *out,
    size_t outlen, char *err, size_t errlen)
{
	const struct phone_region *r = NULL;
	char why[128], after[8];
	size_t i, c;

	if (n == 0)
		return phone_fail(err, errlen, "'%s' is not a phone number: "
		    "no digits after the international prefix", q);
	if (d[0] == '0')
		return phone_fail(err, errlen, "'%s' is not a valid phone "
		    "number: a country code cannot start with 0", q);
	for (i = 0; i < PHONE_NREGIONS && r == NULL; i++) {
		c = strlen(phone_regions[i].cc);
		if (n >= c && memcmp(d, phone_regions[i].cc, c) == 0)
			r = &phone_regions[i];
	}
	if (r == NULL) {
		if (n < PHONE_OTHER_MINDIGITS || n > PHONE_E164_MAXDIGITS)
			return phone_fail(err, errlen, "'%s' is not a valid "
			    "phone number: %zu digits in all, expected %d "
			    "to %d", q, n,
			    PHONE_OTHER_MINDIGITS, PHONE_E164_MAXDIGITS);
		return phone_put(out, outlen, "", d, n, err, errlen);
	}
	c = strlen(r->cc);
	d += c;
	n -= c;
	/* "+44 (0)7700 ...", "+44 07700 ...": the trunk 0 written anyway. */
	if (r->trunk && n > 0 && d[0] == '0') {
		d++;
		n--;
	}
	snprintf(after, sizeof(after), "+%s", r->cc);
	if (phone_check_nsn(r, d, n, after, why, sizeof(why)) == -1)
		return phone_fail(err, errlen, "'%s' is not a valid %s number: "
		    "%s", q, r->adj, why);
	return phone_put(out, outlen, r->cc, d, n, err, errlen);
}

static int
phone_national(const char *q, const struct phone_region *r, const char *d,
    size_t n, char *out, size_t outlen, char *err, size_t errlen)
{
	const char *after = "";
	char why[128];
	size_t c = strlen(r->cc);

	if (r->trunk) {
		if (d[0] != '0') {
			if (n > c && memcmp(d, r->cc, c) == 0 &&
			    n - c >= r->min && n - c <= r->max)
				return phone_fail(err, errlen, "'%s' is not a "
				    "valid %s number: national numbers start "
				    "with 0 (is a '+' missing before %s?)",
				    q, r->adj, r->cc);
			return phone_fail(err, errlen, "'%s' is not a valid %s "
			    "number: national numbers start with 0", q,
			    r->adj);
		}
		d++;
		n--;
		after = "0";
	} else if (r->nanp && n == 11 && d[0] == '1') {
		d++;
		n--;
		after = "1";
	}
	if (phone_check_nsn(r, d, n, after, why, sizeof(why)) == -1)
		return phone_fail(err, errlen, "'%s' is not a valid %s number: "
		    "%s", q, r->adj, why);
	return phone_put(out, outlen, r->cc, d, n, err, errlen);
}

int
phone_e164(const char *typed, const char *region, char *out, size_t outlen,
    char *err, size_t errlen)
{
	const struct phone_region *r;
	struct phone_scan sc;
	char q[PHONE_QUOTE_MAX + 8], qr[PHONE_QUOTE_MAX + 8], why[128];

	if (out != NULL && outlen > 0)
		out[0] = '\0';
	if (out == NULL)
		outlen = 0;
	if (typed == NULL)
		typed = "";
	phone_quote(typed, q, sizeof(q));
	if (phone_scan(typed, &sc, why, sizeof(why)) == -1)
		return phone_fail(err, errlen, "'%s' is not a phone number: %s",
		    q, why);
	if (sc.n == 0) {
		if (sc.plus || typed[strspn(typed, " \t")] != '\0')
			return phone_fail(err, errlen, "'%s' is not a phone "
			    "number: it has no digits", q);
		return phone_fail(err, errlen, "no phone number given");
	}
	r = phone_region_find(region);
	if (sc.plus)
		return phone_international(q, sc.d, sc.n, out, outlen, err,
		    errlen);
	/* 00 is the international prefix everywhere we read; 011 in NANP. */
	if (sc.n >= 2 && sc.d[0] == '0' && sc.d[1] == '0')
		return phone_international(q, sc.d + 2, sc.n - 2, out, outlen,
		    err, errlen);
	if (r != NULL && r->nanp && sc.n >= 3 && memcmp(sc.d, "011", 3) == 0)
		return phone_international(q, sc.d + 3, sc.n - 3, out, outlen,
		    err, errlen);
	if (region == NULL || region[0] == '\0')
		return phone_fail(err, errlen, "'%s' has no country code and "
		    "no region is set to read it in: write it as "
		    "+<country code><number>", q);
	if (r == NULL) {
		phone_quote(region, qr, sizeof(qr));
		return phone_fail(err, errlen, "'%s' has no country code and "
		    "region '%s' is not supported (known: GB IE US CA FR DE NL "
		    "ES IT): write it as +<country code><number>", q, qr);
	}
	return phone_national(q, r, sc.d, sc.n, out, outlen, err, errlen);
}

/* '+', a digit 1-9, then digits: 7 to 15 digits in all.  Digit count or 0. */
static size_t
phone_e164_digits(const char *s)
{
	size_t n;

	if (s == NULL || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return 0;
	for (n = 0; phone_isdigit((unsigned char)s[n + 1]); n++)
		;
	if (s[n + 1] != '\0' || n < PHONE_OTHER_MINDIGITS ||
	    n > PHONE_E164_MAXDIGITS)
		return 0;
	return n;
}

int
phone_sms_capable(const char *e164, char *err, size_t errlen)
{
	const char *s;
	size_t n;

	if (phone_e164_digits(e164) == 0)
		return phone_fail(err, errlen, "not an E.164 phone number");
	if (strncmp(e164, "+44", 3) != 0)
		return 0;
	s = e164 + 3;
	if ((n = strlen(s)) != 10)
		return phone_fail(err, errlen, "not a valid UK number: %zu "
		    "digits after +44, expected 10", n);
	switch (s[0]) {
	case '1':
	case '2':
	case '3':
		return phone_fail(err, errlen, "UK landline numbers cannot "
		    "receive texts (carriers read them aloud as a voice call)");
	case '7':
		if (s[1] == '0')
			return phone_fail(err, errlen, "UK 070 personal "
			    "numbers are not mobiles");
		return 0;
	case '8':
		if (s[1] == '7')
			break;
		return phone_fail(err, errlen, "UK 08%c numbers (freephone "
		    "and non-geographic) cannot receive texts", s[1]);
	case '9':
		break;
	case '5':
		return phone_fail(err, errlen, "UK 05 corporate and VoIP "
		    "numbers are not mobiles");
	default:
		return phone_fail(err, errlen, "UK 0%c numbers are not mobiles "
		    "(UK mobiles start 071 to 079)", s[0]);
	}
	return phone_fail(err, errlen, "UK premium-rate and special-service "
	    "numbers (087, 09) cannot receive texts");
}

int
phone_mask(const char *e164, char *out, size_t outlen)
{
	size_t n;

	if (out == NULL || outlen < PHONE_MASK_SIZE) {
		if (out != NULL && outlen > 0)
			out[0] = '\0';
		return -1;
	}
	if ((n = phone_e164_digits(e164)) == 0) {
		memcpy(out, "******", 7);
		return -1;
	}
	/* A fixed six stars: the mask hides the length too. */
	snprintf(out, outlen, "+%.2s******%s", e164 + 1, e164 + 1 + n - 3);
	return 0;
}

/*
 * The GSM 7-bit default alphabet, 3GPP TS 23.038 section 6.2.1 (table
 * 6.2.1.1), indexed by septet, as Unicode code points (the mapping of the
 * Unicode Consortium's GSM0338.TXT).  0x1B is the escape to the extension
 * table and stands for no character: it holds 0, which a C string never
 * contains.  Only membership is used here; the provider does the encoding.
 */
static const uint16_t sms_gsm7_basic[128] = {
	/* 0x00 */ 0x0040, 0x00a3, 0x0024, 0x00a5, 0x00e8, 0x00e9, 0x00f9, 0x00ec,
		/*  @       £       $       ¥       è       é       ù       ì */
	/* 0x08 */ 0x00f2, 0x00c7, 0x000a, 0x00d8, 0x00f8, 0x000d, 0x00c5, 0x00e5,
		/*  ò       Ç       LF      Ø       ø       CR      Å       å */
	/* 0x10 */ 0x0394, 0x005f, 0x03a6, 0x0393, 0x039b, 0x03a9, 0x03a0, 0x03a8,
		/*  Δ       _       Φ       Γ       Λ       Ω       Π       Ψ */
	/* 0x18 */ 0x03a3, 0x0398, 0x039e, 0x0000, 0x00c6, 0x00e6, 0x00df, 0x00c9,
		/*  Σ       Θ       Ξ       ESC     Æ       æ       ß       É */
	/* 0x20 */ 0x0020, 0x0021, 0x0022, 0x0023, 0x00a4, 0x0025, 0x0026, 0x0027,
		/*  SP      !       "       #       ¤       %       &       ' */
	/* 0x28 */ 0x0028, 0x0029, 0x002a, 0x002b, 0x002c, 0x002d, 0x002e, 0x002f,
	/* 0x30 */ 0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037,
	/* 0x38 */ 0x0038, 0x0039, 0x003a, 0x003b, 0x003c, 0x003d, 0x003e, 0x003f,
	/* 0x40 */ 0x00a1, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047,
		/*  ¡       A ... */
	/* 0x48 */ 0x0048, 0x0049, 0x004a, 0x004b, 0x004c, 0x004d, 0x004e, 0x004f,
	/* 0x50 */ 0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057,
	/* 0x58 */ 0x0058, 0x0059, 0x005a, 0x00c4, 0x00d6, 0x00d1, 0x00dc, 0x00a7,
		/*  X       Y       Z       Ä       Ö       Ñ       Ü       § */
	/* 0x60 */ 0x00bf, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067,
		/*  ¿       a ... */
	/* 0x68 */ 0x0068, 0x0069, 0x006a, 0x006b, 0x006c, 0x006d, 0x006e, 0x006f,
	/* 0x70 */ 0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077,
	/* 0x78 */ 0x0078, 0x0079, 0x007a, 0x00e4, 0x00f6, 0x00f1, 0x00fc, 0x00e0,
		/*  x       y       z       ä       ö       ñ       ü       à */
};

/*
 * The default extension table, TS 23.038 section 6.2.1.1 (table 6.2.1.1.1):
 * each is sent as ESC (0x1B) then the septet, so it costs two.
 */
static const struct {
	uint8_t		septet;
	uint16_t	cp;
} sms_gsm7_ext[] = {
	{ 0x0a, 0x000c },	/* form feed */
	{ 0x14, 0x005e },	/* ^ */
	{ 0x28, 0x007b },	/* { */
	{ 0x29, 0x007d },	/* } */
	{ 0x2f, 0x005c },	/* \ */
	{ 0x3c, 0x005b },	/* [ */
	{ 0x3d, 0x007e },	/* ~ */
	{ 0x3e, 0x005d },	/* ] */
	{ 0x40, 0x007c },	/* | */
	{ 0x65, 0x20ac },	/* euro sign */
};

/* Septets for one character in GSM-7: 1, 2, or 0 if it is not there. */
static int
sms_gsm7_lookup(uint32_t cp)
{
	size_t i;

	if (cp == 0)
		return 0;
	for (i = 0; i < 128; i++)
		if (sms_gsm7_basic[i] == cp)
			return 1;
	for (i = 0; i < sizeof(sms_gsm7_ext) / sizeof(sms_gsm7_ext[0]); i++)
		if (sms_gsm7_ext[i].cp == cp)
			return 2;
	/*
	 * The standard's glyph at 0x09 is a capital C cedilla, but its
	 * language tables use it for the small one, and encoders map both
	 * there (GSM0338.TXT notes the ambiguity).
	 */
	if (cp == 0x00e7)
		return 1;
	return 0;
}

/*
 * The same, with ASCII (nearly every character of a reminder) from a table
 * made at the first call: the search above cost some 500 instructions a
 * character, an eighth of sending an SMS (callgrind, issue 12).
 */
static int
sms_gsm7_cost(uint32_t cp)
{
	static signed char ascii[128];
	static int ready;

	if (cp >= 128)
		return sms_gsm7_lookup(cp);
	if (!ready) {
		for (uint32_t c = 0; c < 128; c++)
			ascii[c] = (signed char)sms_gsm7_lookup(c);
		ready = 1;
	}
	return ascii[cp];
}

/*
 * Decode one UTF-8 sequence (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF).  Returns the bytes used; a byte that does not
 * start a well-formed sequence is used alone and reads as U+FFFD.
 */
static size_t
sms_utf8_next(const unsigned char *s, uint32_t *cp)
{
	size_t n = utf8_next(s, cp);

	return n > 0 ? n : 1;	/* *cp is U+FFFD */
}

int
sms_is_gsm7(const char *utf8)
{
	const unsigned char *p = (const unsigned char *)utf8;
	uint32_t cp;

	if (p == NULL)
		return 1;
	while (*p != '\0') {
		p += sms_utf8_next(p, &cp);
		if (sms_gsm7_cost(cp) == 0)
			return 0;
	}
	return 1;
}

static int
sms_clamp(size_t v)
{
	return v > INT_MAX ? INT_MAX : (int)v;
}

void
sms_count(const char *utf8, struct sms_count *out)
{
	const unsigned char *p;
	size_t units = 0, part = 0, segs = 1, single, per, c;
	uint32_t cp;
	int gsm;

	memset(out, 0, sizeof(*out));
	if (utf8 == NULL || utf8[0] == '\0')
		return;
	gsm = sms_is_gsm7(utf8);
	single = gsm ? 160 : 70;
	per = gsm ? 153 : 67;
	/*
	 * Fill parts greedily: a character (escape pair, surrogate pair)
	 * that does not fit whole in the current part starts the next one.
	 * Whether the text needs parts at all is known only at the end.
	 */
	for (p = (const unsigned char *)utf8; *p != '\0'; ) {
		p += sms_utf8_next(p, &cp);
		if (gsm)
			c = (size_t)sms_gsm7_cost(cp);
		else
			c = cp > 0xffff ? 2 : 1;
		units += c;
		if (part + c > per) {
			segs++;
			part = 0;
		}
		part += c;
	}
	out->ucs2 = !gsm;
	out->units = sms_clamp(units);
	out->segments = units <= single ? 1 : sms_clamp(segs);
}
