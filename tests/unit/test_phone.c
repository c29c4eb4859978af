/*
 * Unit tests for phone: number normalisation, texting capability, masks
 * and SMS segment counts.  Expected numbers are written out by hand from
 * the national numbering plans (Ofcom's drama ranges for the UK); segment
 * counts at the edges follow from 3GPP TS 23.038 / 23.040 (160/153
 * septets, 70/67 UCS-2 units) and are worked out in the comments.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/phone.h"

/* ---- numbers ---- */

static void
assert_e164(const char *typed, const char *region, const char *want)
{
	char out[PHONE_E164_SIZE], err[256] = "";

	if (phone_e164(typed, region, out, sizeof(out), err, sizeof(err)) != 0)
		fail_msg("phone_e164(\"%s\", %s): %s", typed,
		    region ? region : "NULL", err);
	assert_string_equal(out, want);
}

/* Refused, with a reason containing want; out left empty. */
static void
assert_refused(const char *typed, const char *region, const char *want)
{
	char out[PHONE_E164_SIZE] = "junk", err[256] = "";

	if (phone_e164(typed, region, out, sizeof(out), err, sizeof(err)) == 0)
		fail_msg("phone_e164(\"%s\", %s) accepted: %s", typed,
		    region ? region : "NULL", out);
	assert_string_equal(out, "");
	if (strstr(err, want) == NULL)
		fail_msg("phone_e164(\"%s\"): error \"%s\" lacks \"%s\"",
		    typed, err, want);
	assert_null(strchr(err, '\n'));
	assert_null(strchr(err, '\r'));
}

static void
test_e164_brief_examples(void **state)
{
	(void)state;
	assert_e164("+44 (0)7700 900123", "GB", "+447700900123");
	assert_e164("+44 (0)7700 900123", NULL, "+447700900123");
	assert_e164("0044 7700 900123", "GB", "+447700900123");
	assert_e164("0044 7700 900123", NULL, "+447700900123");
	assert_e164("07700 900123", "GB", "+447700900123");
	assert_e164("+447700900123", NULL, "+447700900123");
	assert_e164("+447700900123", "US", "+447700900123");
}

static void
test_e164_separators(void **state)
{
	(void)state;
	assert_e164("07700-900-123", "GB", "+447700900123");
	assert_e164("07700.900.123", "GB", "+447700900123");
	assert_e164("(07700) 900123", "GB", "+447700900123");
	assert_e164("  07700 900123\t ", "GB", "+447700900123");
	assert_e164("+44 (0) 7700 900 123", NULL, "+447700900123");
	assert_e164("+44 07700 900123", NULL, "+447700900123");
	assert_e164("+44-7700-900123", NULL, "+447700900123");
	assert_e164("07700\xc2\xa0" "900123", "GB", "+447700900123");	/* NBSP */
	assert_e164("07700\xe2\x80\x93" "900123", "GB", "+447700900123"); /* en dash */
	assert_e164("01384 000000", "GB", "+441384000000");
	/* Region spelling. */
	assert_e164("07700 900123", "gb", "+447700900123");
	assert_e164("07700 900123", "UK", "+447700900123");
}

static void
test_e164_regions(void **state)
{
	(void)state;
	assert_e164("087 123 4567", "IE", "+353871234567");
	assert_e164("+353 (0)87 123 4567", NULL, "+353871234567");
	assert_e164("01 234 5678", "IE", "+35312345678");
	assert_e164("(212) 555-0123", "US", "+12125550123");
	assert_e164("1-212-555-0123", "US", "+12125550123");
	assert_e164("+1 212 555 0123", NULL, "+12125550123");
	assert_e164("011 44 7700 900123", "US", "+447700900123");
	assert_e164("416 555 0199", "CA", "+14165550199");
	assert_e164("06 12 34 56 78", "FR", "+33612345678");
	assert_e164("+33 (0)6 12 34 56 78", NULL, "+33612345678");
	assert_e164("0151 23456789", "DE", "+4915123456789");
	assert_e164("030/1234567", "DE", "+49301234567");
	assert_e164("06-12345678", "NL", "+31612345678");
	assert_e164("612 345 678", "ES", "+34612345678");
	assert_e164("+34 612 345 678", NULL, "+34612345678");
	/* Italy keeps its 0 after +39. */
	assert_e164("06 1234 5678", "IT", "+390612345678");
	assert_e164("+39 06 1234 5678", NULL, "+390612345678");
	assert_e164("333 123 4567", "IT", "+393331234567");
	/* Other countries: only the overall length is known. */
	assert_e164("+61 412 345 678", NULL, "+61412345678");
	assert_e164("0061 412 345 678", "GB", "+61412345678");
	assert_int_equal(phone_region_known("GB"), 1);
	assert_int_equal(phone_region_known("it"), 1);
	assert_int_equal(phone_region_known("UK"), 1);
	assert_int_equal(phone_region_known("AU"), 0);
	assert_int_equal(phone_region_known("GBR"), 0);
	assert_int_equal(phone_region_known(""), 0);
	assert_int_equal(phone_region_known(NULL), 0);
}

static void
test_e164_lengths(void **state)
{
	char out[PHONE_E164_SIZE], err[256];

	(void)state;
	/* The exact wording from the brief. */
	assert_int_equal(phone_e164("07700 90012", "GB", out, sizeof(out), err,
	    sizeof(err)), -1);
	assert_string_equal(err, "'07700 90012' is not a valid UK number: "
	    "9 digits after 0, expected 10");
	assert_refused("077009001234", "GB", "11 digits after 0, expected 10");
	assert_refused("+44 7700 90012", NULL,
	    "not a valid UK number: 9 digits after +44, expected 10");
	assert_refused("+44 7700 9001234", NULL, "11 digits after +44");
	assert_refused("+44", NULL, "0 digits after +44");
	assert_refused("+44 (0) 07700 900123", NULL, "valid UK number");
	assert_refused("087 123", "IE", "5 digits after 0, expected 7 to 9");
	assert_refused("(212) 555-012", "US",
	    "not a valid North American number: 9 digits, expected 10");
	assert_refused("(112) 555-0123", "US", "area code");
	assert_refused("(212) 155-0123", "US", "exchange code");
	assert_refused("+1 (0)212 555 0123", NULL, "valid North American");
	assert_refused("012 345 678", "ES", "Spanish numbers do not start with 0");
	assert_refused("06 12 34 56 7", "FR", "8 digits after 0, expected 9");
	assert_refused("+61 412", NULL, "5 digits in all, expected 7 to 15");
	assert_refused("+8612345678901234", NULL, "16 digits in all");
	assert_refused("+44 7700 900123 4567 8901 2345 6789 0", NULL,
	    "more than 15 digits");
	assert_refused("+0044 7700 900123", NULL,
	    "a country code cannot start with 0");
	assert_refused("00", NULL, "no digits after the international prefix");
}

static void
test_e164_syntax(void **state)
{
	(void)state;
	assert_refused("0770O 900123", "GB", "contains the letter 'O'");
	assert_refused("07700 900123 ext 5", "GB", "letter 'e'");
	assert_refused("++447700900123", NULL, "more than one '+'");
	assert_refused("+44 +7700900123", NULL, "more than one '+'");
	assert_refused("44+7700900123", NULL, "'+' may only come first");
	assert_refused("07700#900123", "GB", "contains '#'");
	assert_refused("(07700 900123", "GB", "unbalanced parentheses");
	assert_refused("07700) 900123(", "GB", "unbalanced parentheses");
	assert_refused("((07700)) 900123", "GB", "nested parentheses");
	assert_refused("07700 900123\r\nBcc: x", "GB", "not a digit");
	assert_refused("07700\xff" "900123", "GB", "not a digit");
	assert_refused("+", NULL, "no digits");
	assert_refused(" - ", NULL, "no digits");
	assert_refused("", "GB", "no phone number given");
	assert_refused("  ", "GB", "no phone number given");
	assert_refused(NULL, "GB", "no phone number given");
	/* National numbers need a known region, and say which. */
	assert_refused("07700 900123", NULL, "no country code");
	assert_refused("07700 900123", "", "no region");
	assert_refused("07700 900123", "XX", "region 'XX' is not supported");
	assert_refused("7700 900123", "GB", "national numbers start with 0");
	assert_refused("447700900123", "GB", "is a '+' missing before 44?");
}

static void
test_e164_errors_are_safe(void **state)
{
	char out[PHONE_E164_SIZE], err[256], typed[300], small[8];

	(void)state;
	/* A long input is quoted truncated, and control bytes never reach err. */
	memset(typed, 'a', sizeof(typed) - 1);
	typed[sizeof(typed) - 1] = '\0';
	typed[5] = '\n';
	assert_int_equal(phone_e164(typed, "GB", out, sizeof(out), err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "aaaaa?aaa"));
	assert_non_null(strstr(err, "...'"));
	assert_true(strlen(err) < 120);
	assert_null(strchr(err, '\n'));
	/* Ill-formed UTF-8 in the input does not reach err either. */
	assert_int_equal(phone_e164("0\xc3(7", "GB", out, sizeof(out), err,
	    sizeof(err)), -1);
	assert_null(strchr(err, 0xc3));
	/* No err buffer: still refused, no crash. */
	assert_int_equal(phone_e164("abc", "GB", out, sizeof(out), NULL, 0), -1);
	/* Too small an output buffer is an error, not a truncated number. */
	assert_int_equal(phone_e164("07700 900123", "GB", small, sizeof(small),
	    err, sizeof(err)), -1);
	assert_string_equal(small, "");
	assert_int_equal(phone_e164("07700 900123", "GB", NULL, 0, err,
	    sizeof(err)), -1);
	/* A tiny err buffer is truncated, never overrun. */
	assert_int_equal(phone_e164("x", "GB", out, sizeof(out), err, 5), -1);
	assert_int_equal(strlen(err), 4);
}

/* ---- texting ---- */

static void
assert_capable(const char *e164)
{
	char err[256] = "";

	if (phone_sms_capable(e164, err, sizeof(err)) != 0)
		fail_msg("%s refused: %s", e164, err);
}

static void
assert_not_capable(const char *e164, const char *want)
{
	char err[256] = "";

	if (phone_sms_capable(e164, err, sizeof(err)) == 0)
		fail_msg("%s accepted for texts", e164);
	if (strstr(err, want) == NULL)
		fail_msg("%s: error \"%s\" lacks \"%s\"", e164, err, want);
}

static void
test_sms_capable(void **state)
{
	char e[PHONE_E164_SIZE], err[256];
	int d;

	(void)state;
	assert_capable("+447700900123");	/* Ofcom drama range */
	for (d = '1'; d <= '9'; d++) {
		snprintf(e, sizeof(e), "+447%c00900123", d);
		assert_capable(e);
	}
	assert_capable("+353871234567");
	assert_capable("+33612345678");
	assert_capable("+12125550123");
	assert_capable("+61412345678");

	assert_int_equal(phone_sms_capable("+441384000000", err, sizeof(err)),
	    -1);
	assert_string_equal(err, "UK landline numbers cannot receive texts "
	    "(carriers read them aloud as a voice call)");
	assert_not_capable("+442079460000", "UK landline");
	assert_not_capable("+443001234567", "UK landline");
	assert_int_equal(phone_sms_capable("+447012345678", err, sizeof(err)),
	    -1);
	assert_string_equal(err, "UK 070 personal numbers are not mobiles");
	assert_not_capable("+448712345678", "premium-rate");
	assert_not_capable("+449012345678", "premium-rate");
	assert_not_capable("+449832345678", "premium-rate");
	assert_not_capable("+448001234567", "cannot receive texts");
	assert_not_capable("+448451234567", "cannot receive texts");
	assert_not_capable("+445612345678", "not mobiles");
	assert_not_capable("+444412345678", "not mobiles");
	assert_not_capable("+44770090012", "9 digits after +44");
	assert_not_capable("07700900123", "not an E.164");
	assert_not_capable("+44 7700 900123", "not an E.164");
	assert_not_capable("+0447700900123", "not an E.164");
	assert_not_capable("", "not an E.164");
	assert_not_capable(NULL, "not an E.164");

	/* Round trip as the SMS channel will use it. */
	assert_int_equal(phone_e164("01384 000000", "GB", e, sizeof(e), err,
	    sizeof(err)), 0);
	assert_int_equal(phone_sms_capable(e, err, sizeof(err)), -1);
	assert_int_equal(phone_e164("07700 900123", "GB", e, sizeof(e), err,
	    sizeof(err)), 0);
	assert_int_equal(phone_sms_capable(e, err, sizeof(err)), 0);
}

/* ---- masks ---- */

static void
test_mask(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(phone_mask("+447700900123", out, sizeof(out)), 0);
	assert_string_equal(out, "+44******123");
	assert_int_equal(strlen(out) + 1, PHONE_MASK_SIZE);
	assert_int_equal(phone_mask("+12125550123", out, sizeof(out)), 0);
	assert_string_equal(out, "+12******123");
	assert_int_equal(phone_mask("+353871234567", out, sizeof(out)), 0);
	assert_string_equal(out, "+35******567");
	assert_int_equal(phone_mask("+4915123456789", out, PHONE_MASK_SIZE), 0);
	assert_string_equal(out, "+49******789");
	/* Not a number: nothing of it shows. */
	assert_int_equal(phone_mask("+4477", out, sizeof(out)), -1);
	assert_string_equal(out, "******");
	assert_int_equal(phone_mask("07700900123", out, sizeof(out)), -1);
	assert_string_equal(out, "******");
	assert_int_equal(phone_mask(NULL, out, sizeof(out)), -1);
	assert_string_equal(out, "******");
	assert_int_equal(phone_mask("+447700900123", out, PHONE_MASK_SIZE - 1),
	    -1);
	assert_string_equal(out, "");
	assert_int_equal(phone_mask("+447700900123", NULL, 0), -1);
}

/* ---- segments ---- */

static char *
rep(char *buf, size_t len, const char *unit, int n)
{
	size_t o = strlen(buf), u = strlen(unit);

	while (n-- > 0) {
		assert_true(o + u < len);
		memcpy(buf + o, unit, u);
		o += u;
	}
	buf[o] = '\0';
	return buf;
}

static void
assert_count(const char *text, int ucs2, int units, int segments)
{
	struct sms_count c;

	sms_count(text, &c);
	if (c.ucs2 != ucs2 || c.units != units || c.segments != segments)
		fail_msg("count(%.40s...) = {ucs2 %d, units %d, segments %d}, "
		    "want {%d, %d, %d}", text, c.ucs2, c.units, c.segments,
		    ucs2, units, segments);
	assert_int_equal(sms_is_gsm7(text), !ucs2);
}

static void
test_gsm7_alphabet(void **state)
{
	/* UTF-8 of characters in the basic table outside ASCII. */
	static const char *const basic[] = {
		"£", "¥", "è", "é", "ù", "ì", "ò", "Ç", "ç", "Ø", "ø", "Å",
		"å", "Δ", "Φ", "Γ", "Λ", "Ω", "Π", "Ψ", "Σ", "Θ", "Ξ", "Æ",
		"æ", "ß", "É", "¤", "¡", "Ä", "Ö", "Ñ", "Ü", "§", "¿", "ä",
		"ö", "ñ", "ü", "à", "\r", "\n",
	};
	static const char *const ext[] = {
		"^", "{", "}", "\\", "[", "]", "~", "|", "€", "\f",
	};
	static const char *const other[] = {
		"ë", "í", "á", "ó", "ú", "ê", "â", "Ë", "δ", "\xe2\x80\x99",
		"\xe2\x80\x9c", "`", "\t", "\x1b", "\x7f", "\xc2\xa0",
	};
	char s[2];
	size_t i;
	int c;

	(void)state;
	for (i = 0; i < sizeof(basic) / sizeof(basic[0]); i++)
		assert_count(basic[i], 0, 1, 1);
	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		assert_count(ext[i], 0, 2, 1);
	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		assert_count(other[i], 1, 1, 1);
	/* Printable ASCII: all GSM-7 but the backtick; 9 of them escaped. */
	for (c = 0x20; c < 0x7f; c++) {
		s[0] = (char)c;
		s[1] = '\0';
		if (c == '`')
			assert_count(s, 1, 1, 1);
		else if (strchr("^{}\\[]~|", c) != NULL)
			assert_count(s, 0, 2, 1);
		else
			assert_count(s, 0, 1, 1);
	}
	assert_count("Hello Zoë", 1, 9, 1);
	assert_count("Hello Chloé, see you at 14:00 £60", 0, 33, 1);
	assert_count("", 0, 0, 0);
	assert_count(NULL, 0, 0, 0);
}

static void
test_segments_gsm7(void **state)
{
	char b[1024];

	(void)state;
	assert_count(rep((b[0] = '\0', b), sizeof(b), "a", 1), 0, 1, 1);
	assert_count(rep((b[0] = '\0', b), sizeof(b), "a", 160), 0, 160, 1);
	assert_count(rep((b[0] = '\0', b), sizeof(b), "a", 161), 0, 161, 2);
	assert_count(rep((b[0] = '\0', b), sizeof(b), "a", 306), 0, 306, 2);
	assert_count(rep((b[0] = '\0', b), sizeof(b), "a", 307), 0, 307, 3);
	assert_count(rep((b[0] = '\0', b), sizeof(b), "a", 459), 0, 459, 3);
	assert_count(rep((b[0] = '\0', b), sizeof(b), "a", 460), 0, 460, 4);
	/* 159 + EURO = 161 septets: two parts. */
	b[0] = '\0';
	rep(rep(b, sizeof(b), "a", 159), sizeof(b), "€", 1);
	assert_count(b, 0, 161, 2);
	/* 158 + EURO = 160 septets still fits one. */
	b[0] = '\0';
	rep(rep(b, sizeof(b), "a", 158), sizeof(b), "€", 1);
	assert_count(b, 0, 160, 1);
	/*
	 * The escape pair may not straddle a part: 152 + EURO + 152 is 306
	 * septets (ceil/153 says 2), but part 1 holds 152 and part 2 would
	 * need 2 + 152 = 154, so 3 parts.
	 */
	b[0] = '\0';
	rep(rep(rep(b, sizeof(b), "a", 152), sizeof(b), "€", 1), sizeof(b),
	    "a", 152);
	assert_count(b, 0, 306, 3);
	/* 151 + EURO + 153: the pair ends part 1 exactly, 2 parts. */
	b[0] = '\0';
	rep(rep(rep(b, sizeof(b), "a", 151), sizeof(b), "€", 1), sizeof(b),
	    "a", 153);
	assert_count(b, 0, 306, 2);
	/* All escaped: 81 pairs = 162 septets; 76 per part (152), so 2+... */
	b[0] = '\0';
	rep(b, sizeof(b), "{", 81);
	assert_count(b, 0, 162, 2);
	b[0] = '\0';
	rep(b, sizeof(b), "{", 153);	/* 306 septets, 76 pairs a part: 3 */
	assert_count(b, 0, 306, 3);
	b[0] = '\0';
	rep(b, sizeof(b), "\r\n", 80);
	assert_count(b, 0, 160, 1);
}

static void
test_segments_ucs2(void **state)
{
	char b[2048];

	(void)state;
	/* One 'ë' makes every 'a' a UTF-16 unit. */
	b[0] = '\0';
	assert_count(rep(rep(b, sizeof(b), "ë", 1), sizeof(b), "a", 69), 1,
	    70, 1);
	b[0] = '\0';
	assert_count(rep(rep(b, sizeof(b), "ë", 1), sizeof(b), "a", 70), 1,
	    71, 2);
	b[0] = '\0';
	assert_count(rep(rep(b, sizeof(b), "ë", 1), sizeof(b), "a", 133), 1,
	    134, 2);
	b[0] = '\0';
	assert_count(rep(rep(b, sizeof(b), "ë", 1), sizeof(b), "a", 134), 1,
	    135, 3);
	/* A GSM-7 text turned UCS-2 by a name with an emoji (U+1F600: 2 units). */
	assert_count("Hi Sam, see you on Thursday at 14:00.", 0, 37, 1);
	assert_count("Hi Sam \xf0\x9f\x98\x80, see you on Thursday at 14:00.",
	    1, 40, 1);
	/* 140 GSM characters fit one part, but not with an emoji. */
	b[0] = '\0';
	rep(b, sizeof(b), "a", 140);
	assert_count(b, 0, 140, 1);
	rep(b, sizeof(b), "\xf0\x9f\x98\x80", 1);
	assert_count(b, 1, 142, 3);
	/*
	 * Surrogate pair at a part boundary: 66 + emoji + 66 is 134 units
	 * (ceil/67 says 2); part 1 ends after 66 (the pair would be the
	 * 67th and 68th), part 2 would need 2 + 66 = 68, so 3 parts.
	 */
	b[0] = '\0';
	rep(rep(rep(b, sizeof(b), "ж", 66), sizeof(b),
	    "\xf0\x9f\x98\x80", 1), sizeof(b), "ж", 66);
	assert_count(b, 1, 134, 3);
	/* 65 + emoji fills part 1 exactly: 2 parts. */
	b[0] = '\0';
	rep(rep(rep(b, sizeof(b), "ж", 65), sizeof(b),
	    "\xf0\x9f\x98\x80", 1), sizeof(b), "ж", 67);
	assert_count(b, 1, 134, 2);
	/* Only emoji: 35 = 70 units, one; 36: 33 a part (66), 2; 67: 3. */
	b[0] = '\0';
	assert_count(rep(b, sizeof(b), "\xf0\x9f\x98\x80", 35), 1, 70, 1);
	b[0] = '\0';
	assert_count(rep(b, sizeof(b), "\xf0\x9f\x98\x80", 36), 1, 72, 2);
	b[0] = '\0';
	assert_count(rep(b, sizeof(b), "\xf0\x9f\x98\x80", 67), 1, 134, 3);
	/* A BMP non-GSM character (the curly apostrophe) is one unit. */
	assert_count("Sam\xe2\x80\x99s", 1, 5, 1);
}

static void
test_segments_bad_utf8(void **state)
{
	(void)state;
	assert_count("\xff", 1, 1, 1);
	assert_count("abc\xe2\x82", 1, 5, 1);	/* truncated: 2 bytes, 2 units */
	assert_count("\xc0\xaf", 1, 2, 1);	/* overlong '/' */
	assert_count("\xe0\x80\xaf", 1, 3, 1);	/* overlong, 3 bytes */
	assert_count("\xf0\x80\x80\xaf", 1, 4, 1);	/* overlong, 4 bytes */
	assert_count("\xed\xa0\x80", 1, 3, 1);	/* a surrogate, encoded */
	assert_count("\xf4\x90\x80\x80", 1, 4, 1);	/* above U+10FFFF */
	assert_count("\xe2\x82\xac", 0, 2, 1);	/* well-formed EURO */
	assert_count("\xf0\x9f\x98\x80", 1, 2, 1);
	assert_count("\xef\xbf\xbd", 1, 1, 1);	/* a real U+FFFD */
}

/* ---- properties over generated input (fixed seed: reproducible) ---- */

static unsigned long
lcg(unsigned long *x)
{
	*x = *x * 6364136223846793005UL + 1442695040888963407UL;
	return *x >> 33;
}

/* What a provider may be given: '+', 1-9, then 6 to 14 more digits. */
static int
well_formed(const char *s)
{
	size_t n;

	if (s[0] != '+' || s[1] < '1' || s[1] > '9')
		return 0;
	n = strspn(s + 1, "0123456789");
	return s[1 + n] == '\0' && n >= 7 && n <= 15;
}

static void
test_properties(void **state)
{
	static const char *const bits[] = {
		"0", "1", "2", "4", "7", "9", "00", "44", "+", " ", "-", "(",
		")", "(0)", ".", "/", "x", "\xc2\xa0", "\xff", "€", "ë",
		"\xf0\x9f\x98\x80", "{", "a", "\n",
	};
	static const char *const starts[] = {
		"", "+", "0", "00", "+44 ", "07", "+1", "011", "+39 0", "1",
	};
	static const char *const regions[] = {
		"GB", "IE", "US", "CA", "FR", "DE", "NL", "ES", "IT", "XX", "",
		NULL,
	};
	char typed[128], out[PHONE_E164_SIZE], again[PHONE_E164_SIZE];
	char err[256], mask[PHONE_MASK_SIZE];
	unsigned long x = 20261203;
	struct sms_count c;
	const char *b, *rg;
	size_t o, per;
	int i, k, nb, ok = 0;

	(void)state;
	for (i = 0; i < 20000; i++) {
		/* A likely start, then mostly digits: many inputs are numbers. */
		b = starts[lcg(&x) % (sizeof(starts) / sizeof(starts[0]))];
		memcpy(typed, b, strlen(b) + 1);
		o = strlen(b);
		nb = (int)(lcg(&x) % 16);
		for (k = 0; k < nb; k++) {
			b = lcg(&x) % 8 ? bits[lcg(&x) % 6] :
			    bits[lcg(&x) % (sizeof(bits) / sizeof(bits[0]))];
			if (o + strlen(b) >= sizeof(typed))
				break;
			memcpy(typed + o, b, strlen(b) + 1);
			o += strlen(b);
		}
		rg = regions[lcg(&x) % (sizeof(regions) / sizeof(regions[0]))];
		err[0] = '\0';
		if (phone_e164(typed, rg, out, sizeof(out), err,
		    sizeof(err)) == 0) {
			ok++;
			if (!well_formed(out))
				fail_msg("\"%s\" -> malformed \"%s\"", typed, out);
			/* Normalising twice changes nothing. */
			if (phone_e164(out, NULL, again, sizeof(again), err,
			    sizeof(err)) != 0 || strcmp(out, again) != 0)
				fail_msg("\"%s\" -> \"%s\" not stable: %s",
				    typed, out, err);
			assert_int_equal(phone_mask(out, mask, sizeof(mask)), 0);
			assert_int_equal(strspn(mask + 3, "*"), 6);
		} else {
			assert_string_equal(out, "");
			assert_true(err[0] != '\0');
			assert_null(strpbrk(err, "\r\n\xff"));
		}

		sms_count(typed, &c);
		assert_int_equal(sms_is_gsm7(typed), !c.ucs2);
		per = c.ucs2 ? 67 : 153;
		if (c.units == 0)
			assert_int_equal(c.segments, 0);
		else if (c.units <= (c.ucs2 ? 70 : 160))
			assert_int_equal(c.segments, 1);
		else {
			/* Never fewer than ceil, at most one short per part. */
			assert_true((size_t)c.segments >=
			    ((size_t)c.units + per - 1) / per);
			assert_true((size_t)c.segments <=
			    ((size_t)c.units + per - 2) / (per - 1));
		}
	}
	/* The generator must reach the accepting paths, or this proves little. */
	if (ok < 1500)
		fail_msg("only %d of 20000 generated inputs accepted", ok);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_e164_brief_examples),
		cmocka_unit_test(test_e164_separators),
		cmocka_unit_test(test_e164_regions),
		cmocka_unit_test(test_e164_lengths),
		cmocka_unit_test(test_e164_syntax),
		cmocka_unit_test(test_e164_errors_are_safe),
		cmocka_unit_test(test_sms_capable),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_gsm7_alphabet),
		cmocka_unit_test(test_segments_gsm7),
		cmocka_unit_test(test_segments_ucs2),
		cmocka_unit_test(test_segments_bad_utf8),
		cmocka_unit_test(test_properties),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
