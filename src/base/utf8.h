/*
 * utf8: decoding UTF-8, and the display width of text (terminal
 * columns), for tables.
 */
#ifndef NUDGED_UTF8_H
#define NUDGED_UTF8_H

#include <stddef.h>
#include <stdint.h>

size_t	 utf8_width(const char *);

/*
 * The one UTF-8 decoder.  utf8_next: the code point at s (NUL-terminated)
 * and the length of its well-formed sequence (1-4), or 0 when none starts
 * there (a stray or short continuation, an overlong form, a surrogate,
 * beyond U+10FFFF); then *cp is U+FFFD.  The terminating NUL fails the
 * continuation test, so it never reads past the string.  utf8_len: the
 * same length without the code point.
 */
size_t	 utf8_next(const unsigned char *s, uint32_t *cp);

/* Inline for ASCII: MIME's checks call it once a byte (issue 12). */
static inline size_t
utf8_len(const unsigned char *s)
{
	uint32_t cp;

	return s[0] < 0x80 ? 1 : utf8_next(s, &cp);
}
/*
 * Where to cut s at most n bytes in without splitting a sequence: n, or
 * less, back to the start of the character n falls inside.  s must hold
 * at least n + 1 bytes (its NUL counts).
 */
size_t	 utf8_floor(const unsigned char *s, size_t n);

/*
 * Text from outside (a calendar's summary) made safe to print and store:
 * a copy with each invalid sequence as U+FFFD and each control character
 * (C0, DEL, C1: line breaks, tabs, terminal escapes) as a space.  NULL in,
 * NULL out; the caller frees.
 */
char	*utf8_scrub(const char *s);

#endif
