/*
 * utf8: how many terminal columns a UTF-8 string takes, so that tables
 * with names like "Zoë Ångström" or "李小龍" line up.  Combining marks
 * and zero-width characters take none, East Asian wide and emoji two,
 * everything else one; a byte that is not valid UTF-8 counts as one.
 * The ranges are the common ones, not the whole Unicode table: a rare
 * character costs a misaligned row, never a wrong value.
 */
#include <stddef.h>

#include "base/utf8.h"
#include "base/util.h"

static int
utf8_cp_width(unsigned cp)
{
	if ((cp >= 0x0300 && cp <= 0x036f) || (cp >= 0x0483 && cp <= 0x0489) ||
	    (cp >= 0x0591 && cp <= 0x05bd) || (cp >= 0x1ab0 && cp <= 0x1aff) ||
	    (cp >= 0x1dc0 && cp <= 0x1dff) || (cp >= 0x200b && cp <= 0x200f) ||
	    (cp >= 0x20d0 && cp <= 0x20ff) || (cp >= 0xfe00 && cp <= 0xfe0f) ||
	    (cp >= 0xfe20 && cp <= 0xfe2f) || cp == 0xfeff)
		return 0;
	if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0x303e) ||
	    (cp >= 0x3041 && cp <= 0x33ff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
	    (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xa000 && cp <= 0xa4cf) ||
	    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
	    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
	    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
	    (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd))
		return 2;
	return 1;
}

size_t
utf8_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0;
	unsigned cp;
	int n, i;

	while (*p != '\0') {
		if (*p < 0x80) {
			w++;
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf)
			n = 1, cp = *p & 0x1f;
		else if (*p >= 0xe0 && *p <= 0xef)
			n = 2, cp = *p & 0x0f;
		else if (*p >= 0xf0 && *p <= 0xf4)
			n = 3, cp = *p & 0x07;
		else {
			w++;
			p++;
			continue;
		}
		for (i = 1; i <= n && (p[i] & 0xc0) == 0x80; i++)
			cp = (cp << 6) | (p[i] & 0x3f);
		if (i <= n) {		/* truncated sequence */
			w++;
			p++;
			continue;
		}
		w += (size_t)utf8_cp_width(cp);
		p += n + 1;
	}
	return w;
}

size_t
utf8_next(const unsigned char *s, uint32_t *cp)
{
	uint32_t v, min;
	size_t n, i;

	*cp = 0xfffd;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, v = s[0] & 0x1f, min = 0x80;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, v = s[0] & 0x0f, min = 0x800;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, v = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

size_t
utf8_floor(const unsigned char *s, size_t n)
{
	while (n > 0 && (s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

char *
utf8_scrub(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	struct sbuf b = { 0 };
	uint32_t cp;
	size_t n;

	if (s == NULL)
		return NULL;
	while (*p != '\0') {
		if ((n = utf8_next(p, &cp)) == 0) {
			sbuf_add(&b, "\xef\xbf\xbd");
			p++;
		} else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f)) {
			sbuf_addc(&b, ' ');
			p += n;
		} else {
			sbuf_addn(&b, (const char *)p, n);
			p += n;
		}
	}
	return sbuf_steal(&b);
}
