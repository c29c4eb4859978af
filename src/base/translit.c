/*
 * translit: names simplified to the GSM-7 alphabet for SMS (issue 9).
 *
 * A single letter outside GSM-7 (the ë of Zoë, the ł of Łukasz) makes a
 * whole text UCS-2, which halves the characters per segment and so can
 * double what a reminder costs.  Latin letters with marks GSM-7 lacks
 * become their base letter (ë -> e, ł -> l, œ -> oe); the accented letters
 * GSM-7 has (é, ä, ñ, ø, ...) stay as they are, and so does anything
 * outside Latin-1 and Latin Extended-A (a Greek or Cyrillic name is not
 * guessed at).  Pure.
 */
#include <stdlib.h>
#include <string.h>

#include "base/translit.h"
#include "base/util.h"

/* U+00C0 .. U+017F; NULL: keep (in GSM-7, or no plain form). */
static const char *const translit_latin[0x180 - 0xc0] = {
	"A", "A", "A", "A", NULL, NULL, NULL, NULL,	/* U+00C0 */
	"E", NULL, "E", "E", "I", "I", "I", "I",	/* U+00C8 */
	"D", NULL, "O", "O", "O", "O", NULL, "x",	/* U+00D0 */
	NULL, "U", "U", "U", NULL, "Y", "Th", NULL,	/* U+00D8 */
	NULL, "a", "a", "a", NULL, NULL, NULL, "c",	/* U+00E0 */
	NULL, NULL, "e", "e", NULL, "i", "i", "i",	/* U+00E8 */
	"d", NULL, NULL, "o", "o", "o", NULL, "/",	/* U+00F0 */
	NULL, NULL, "u", "u", NULL, "y", "th", "y",	/* U+00F8 */
	"A", "a", "A", "a", "A", "a", "C", "c",	/* U+0100 */
	"C", "c", "C", "c", "C", "c", "D", "d",	/* U+0108 */
	"D", "d", "E", "e", "E", "e", "E", "e",	/* U+0110 */
	"E", "e", "E", "e", "G", "g", "G", "g",	/* U+0118 */
	"G", "g", "G", "g", "H", "h", "H", "h",	/* U+0120 */
	"I", "i", "I", "i", "I", "i", "I", "i",	/* U+0128 */
	"I", "i", "IJ", "ij", "J", "j", "K", "k",	/* U+0130 */
	"k", "L", "l", "L", "l", "L", "l", "L",	/* U+0138 */
	"l", "L", "l", "N", "n", "N", "n", "N",	/* U+0140 */
	"n", "'n", "N", "n", "O", "o", "O", "o",	/* U+0148 */
	"O", "o", "OE", "oe", "R", "r", "R", "r",	/* U+0150 */
	"R", "r", "S", "s", "S", "s", "S", "s",	/* U+0158 */
	"S", "s", "T", "t", "T", "t", "T", "t",	/* U+0160 */
	"U", "u", "U", "u", "U", "u", "U", "u",	/* U+0168 */
	"U", "u", "U", "u", "W", "w", "Y", "y",	/* U+0170 */
	"Y", "Z", "z", "Z", "z", "Z", "z", "s",	/* U+0178 */};

char *
translit_gsm(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	struct sbuf b = { 0 };

	while (*p != '\0') {
		unsigned int cp = 0;
		size_t n = 1;

		if (p[0] >= 0xc3 && p[0] <= 0xc5 && (p[1] & 0xc0) == 0x80) {
			cp = ((unsigned int)(p[0] & 0x1f) << 6) | (p[1] & 0x3f);
			n = 2;
		}
		if (n == 2 && cp >= 0xc0 && cp < 0x180 &&
		    translit_latin[cp - 0xc0] != NULL)
			sbuf_add(&b, translit_latin[cp - 0xc0]);
		else
			sbuf_addn(&b, (const char *)p, n);
		p += n;
	}
	return sbuf_steal(&b);
}
