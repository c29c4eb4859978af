/*
 * util: allocation that cannot fail quietly, and a growable string.
 *
 * nudged treats running out of memory as fatal: every x* function aborts
 * with a message instead of returning NULL, so callers never carry
 * half-built state around.  struct sbuf owns its bytes; sbuf_steal() hands
 * them to the caller (who frees them), sbuf_free() releases them.
 */
#ifndef NUDGED_UTIL_H
#define NUDGED_UTIL_H

#include <stddef.h>
#include <stdarg.h>

void	 xoom(void) __attribute__((noreturn));	/* "out of memory", abort */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);		/* NULL in, NULL out */
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));

/* Overwrite then free: for secrets. */
void	 xfree_secret(char *);

struct sbuf {
	char	*s;
	size_t	 len;
	size_t	 cap;
};

void	 sbuf_add(struct sbuf *, const char *);
void	 sbuf_addn(struct sbuf *, const char *, size_t);
void	 sbuf_addc(struct sbuf *, char);
void	 sbuf_printf(struct sbuf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 sbuf_vprintf(struct sbuf *, const char *, va_list);
const char *sbuf_str(const struct sbuf *);	/* "" while empty */
char	*sbuf_steal(struct sbuf *);		/* caller frees; never NULL */
void	 sbuf_free(struct sbuf *);

/*
 * The error buffer every module fills (char *err, size_t errlen): a
 * formatted message; err may be NULL or errlen 0 (then nothing is written).
 */
void	 errf(char *err, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	 verrf(char *err, size_t errlen, const char *fmt, va_list);

/* 1 when s (may be NULL) is one of list's strings (NULL-terminated). */
int	 str_in_list(const char *s, const char *const *list);
/* A copy of v without leading and trailing blanks (space, tab); NULL: NULL. */
char	*str_trim(const char *v);

/* Parse a whole decimal integer in [min, max]; 0 or -1. No atoi anywhere. */
int	 parse_long(const char *, long min, long max, long *out);

/*
 * Test-only (nudged(8), ENVIRONMENT): the value of key in
 * $NUDGED_TEST_TIMING ("busy_ms=500,lock_wait=3,rescan=2"), or dflt when
 * the variable is unset or has no valid key=N with 1 <= N <= dflt: it can
 * only shorten a period, never lengthen one.  Not for production.
 */
long	 util_test_timing(const char *key, long dflt);

#endif
