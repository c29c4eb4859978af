/*
 * phone: telephone numbers and SMS text.  Pure functions: no I/O, no clock,
 * no logging, no allocation, no global state.
 *
 * Numbers.  A client's row holds the phone as someone typed it; nothing
 * but phone_e164() turns that into the E.164 form ("+447700900123") that a
 * provider sees, and it refuses anything it cannot read with certainty:
 *  - Ignored separators: space, tab, '-', '.', '/', '(' and ')' (balanced),
 *    and the no-break spaces and Unicode dashes that word processors paste.
 *  - International form: a leading '+', or the prefix 00 (and 011 when the
 *    region is US or CA).  After a country code whose numbers use a trunk
 *    0 (GB IE FR DE NL), a "(0)" or a bare 0 is dropped:
 *    "+44 (0)7700 900123" and "+44 07700 900123" both give +447700900123.
 *    For IT the 0 is part of the number and is kept.
 *  - National form needs a region: GB IE FR DE NL replace the trunk 0 by
 *    the country code ("07700 900123", GB -> +447700900123); US and CA
 *    take 10 digits, optionally after a 1; ES and IT have no trunk prefix.
 *    Without a region, or with one not listed here, a national number is
 *    refused and the error names the region.
 *  - Length after the country code: GB 10, IE 7-9, US/CA 10 (area code and
 *    exchange starting 2-9), FR 9, DE 6-13, NL 9, ES 9, IT 6-11; another
 *    country code: 7 to 15 digits in all.  Never more than 15 (E.164).
 *  - Refused with a reason: letters or other characters, two '+', a '+'
 *    after digits, unbalanced parentheses, too few or too many digits.
 * Error messages quote what was typed (at most 40 bytes, control bytes as
 * '?'), e.g. "'07700 90012' is not a valid UK number: 9 digits after 0,
 * expected 10".  That is right for nudgectl; a caller that logs one must
 * pass it through log_scrub() first.
 *
 * Texting.  phone_sms_capable() accepts UK mobiles (+4471 to +4479) and
 * every non-UK number, and refuses other UK ranges (landlines 01/02/03,
 * 070 personal numbers, 05, 080/084, 087 and 09 premium/special) with the
 * reason, so no text is ever sent to a number that cannot take one.
 *
 * Masking.  phone_mask() keeps '+', two digits and the last three, and
 * always writes six '*' whatever the length: "+44******123".
 *
 * Segments.  Text is GSM-7 (3GPP TS 23.038 default alphabet; the extension
 * characters ^ { } \ [ ] ~ | EURO and form feed cost two septets) unless ANY
 * character is outside it; then the whole text is UCS-2 and every UTF-16
 * code unit counts (a character beyond the BMP, e.g. most emoji, counts
 * 2).  One segment holds 160 septets or 70 units; a longer text is cut into
 * parts of 153 septets or 67 units, and an escape pair or a surrogate pair
 * is never split: a part that would end on the first half carries the
 * whole pair to the next part, so the count is exact, not ceil(units/153).
 * An empty text is 0 segments: there is nothing to send (and providers
 * refuse an empty body).  Ill-formed UTF-8: each byte that is not part of
 * a well-formed sequence counts as one U+FFFD, which makes the text UCS-2.
 */
#ifndef NUDGED_PHONE_H
#define NUDGED_PHONE_H

#include <stddef.h>

#define PHONE_E164_SIZE	17	/* '+', at most 15 digits, NUL */
#define PHONE_MASK_SIZE	13	/* "+44******123" + NUL */

/* typed -> E.164 in out (PHONE_E164_SIZE bytes suffice).  0, or -1 with err. */
int	 phone_e164(const char *typed, const char *region, char *out,
	    size_t outlen, char *err, size_t errlen);
/* 1 if region (case-insensitive; "UK" means GB) is one phone_e164 knows. */
int	 phone_region_known(const char *region);
/* 0 if a text may be sent to this E.164 number, else -1 with the reason. */
int	 phone_sms_capable(const char *e164, char *err, size_t errlen);
/*
 * "+447700900123" -> "+44******123".  0; -1 when out is too small (out
 * gets "" if it has room for that) or e164 is not '+' and 7 to 15 digits
 * (out gets "******", so nothing of it shows).
 */
int	 phone_mask(const char *e164, char *out, size_t outlen);

struct sms_count {
	int	ucs2;		/* 1 if the text must go as UCS-2 */
	int	units;		/* septets (GSM-7) or UTF-16 code units (UCS-2) */
	int	segments;	/* 0 for an empty text */
};

/* NULL counts as empty.  Counts saturate at INT_MAX. */
void	 sms_count(const char *utf8, struct sms_count *out);
/* 1 if every character is in the GSM-7 alphabet (or its extension). */
int	 sms_is_gsm7(const char *utf8);

#endif
