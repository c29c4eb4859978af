#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

void
xoom(void)
{
	/* Nothing sensible can be sent or recorded without memory. */
	fputs("nudged: out of memory\n", stderr);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		xoom();
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		xoom();
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		xoom();
	return p;
}

char *
xstrdup(const char *s)
{
	char *p;

	if (s == NULL)
		return NULL;
	if ((p = strdup(s)) == NULL)
		xoom();
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p;

	if (s == NULL)
		return NULL;
	if ((p = strndup(s, n)) == NULL)
		xoom();
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	struct sbuf b = { 0 };
	va_list ap;

	va_start(ap, fmt);
	sbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	return sbuf_steal(&b);
}

void
xfree_secret(char *s)
{
	if (s == NULL)
		return;
	/* volatile so the compiler cannot drop the wipe of memory about to be freed */
	for (volatile char *p = s; *p; p++)
		*p = 0;
	free(s);
}

static void
sbuf_grow(struct sbuf *b, size_t more)
{
	size_t need = b->len + more + 1;

	if (need <= b->cap)
		return;
	if (need < b->len)
		xoom();
	/*
	 * What is built here (words, headers, a message, its calendar entry)
	 * runs to hundreds of bytes or a few kilobytes: from 64 bytes it took
	 * a reallocation per doubling, 30 per email (issue 12).
	 */
	b->cap = b->cap ? b->cap : 512;
	while (b->cap < need)
		b->cap *= 2;
	b->s = xrealloc(b->s, b->cap);
}

void
sbuf_addn(struct sbuf *b, const char *s, size_t n)
{
	sbuf_grow(b, n);
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void
sbuf_add(struct sbuf *b, const char *s)
{
	if (s != NULL)
		sbuf_addn(b, s, strlen(s));
}

void
sbuf_addc(struct sbuf *b, char c)
{
	sbuf_addn(b, &c, 1);
}

void
sbuf_vprintf(struct sbuf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	size_t room;
	int n;

	/*
	 * Into the room there is, and again only when it did not fit: most
	 * fit, and formatting twice (once to measure) was a message's
	 * largest share of vsnprintf (issue 12).
	 */
	sbuf_grow(b, 64);
	room = b->cap - b->len;
	va_copy(ap2, ap);
	n = vsnprintf(b->s + b->len, room, fmt, ap2);
	va_end(ap2);
	if (n >= 0 && (size_t)n >= room) {
		sbuf_grow(b, (size_t)n);
		n = vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	}
	if (n < 0) {
		b->s[b->len] = '\0';	/* what a failed call wrote is not kept */
		return;
	}
	b->len += (size_t)n;
}

void
sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sbuf_vprintf(b, fmt, ap);
	va_end(ap);
}

const char *
sbuf_str(const struct sbuf *b)
{
	return b->s ? b->s : "";
}

char *
sbuf_steal(struct sbuf *b)
{
	char *s = b->s ? b->s : xstrdup("");

	b->s = NULL;
	b->len = b->cap = 0;
	return s;
}

void
sbuf_free(struct sbuf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

int
parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0' || (*s != '-' && (*s < '0' || *s > '9')))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

long
util_test_timing(const char *key, long dflt)
{
	const char *p = getenv("NUDGED_TEST_TIMING");
	size_t klen = strlen(key);
	char num[24];
	long v;

	while (p != NULL && *p != '\0') {
		size_t n = strcspn(p, ",");

		if (n > klen + 1 && n - klen - 1 < sizeof(num) &&
		    strncmp(p, key, klen) == 0 && p[klen] == '=') {
			memcpy(num, p + klen + 1, n - klen - 1);
			num[n - klen - 1] = '\0';
			if (parse_long(num, 1, dflt, &v) == 0)
				return v;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return dflt;
}

void
verrf(char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (err != NULL && errlen > 0)
		vsnprintf(err, errlen, fmt, ap);
}

void
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verrf(err, errlen, fmt, ap);
	va_end(ap);
}

int
str_in_list(const char *s, const char *const *list)
{
	for (; s != NULL && *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

char *
str_trim(const char *v)
{
	size_t n;

	if (v == NULL)
		return NULL;
	v += strspn(v, " \t");
	for (n = strlen(v); n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'); n--)
		;
	return xstrndup(v, n);
}
