/*
 * xfer_dl: the libcurl and libssl functions nudged calls, defined under
 * their own names and prototypes, each calling through a pointer that
 * xfer_dl_load fills from the library opened at the first transfer.
 * base/dl.h says why (idle RSS) and how.
 *
 * A new function is one line in XFER_CURL (or XFER_SSL); a prototype that
 * differs from curl.h's does not compile.  libcurl's three variadic calls
 * are written out: each forwards its one argument with the type libcurl
 * itself reads for the option (its type range: long, object pointer,
 * function pointer, curl_off_t, blob; every getinfo argument is a
 * pointer).
 */
/* curl's type-checking macros would rename the definitions below */
#define CURL_DISABLE_TYPECHECK 1

#include <stdarg.h>
#include <stddef.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "base/dl.h"
#include "transport/xfer_dl.h"

/* F(return type, name, (parameters), (arguments)); V: returns void */
#define XFER_CURL(F, V) \
	V(curl_easy_cleanup, (CURL *a), (a)) \
	F(char *, curl_easy_escape, (CURL *a, const char *b, int c), \
	    (a, b, c)) \
	F(CURLHcode, curl_easy_header, \
	    (CURL *a, const char *b, size_t c, unsigned int d, int e, \
	    struct curl_header **f), \
	    (a, b, c, d, e, f)) \
	F(CURL *, curl_easy_init, (void), ()) \
	F(CURLcode, curl_easy_perform, (CURL *a), (a)) \
	F(const char *, curl_easy_strerror, (CURLcode a), (a)) \
	V(curl_free, (void *a), (a)) \
	F(time_t, curl_getdate, (const char *a, const time_t *b), (a, b)) \
	V(curl_global_cleanup, (void), ()) \
	F(CURLcode, curl_global_init, (long a), (a)) \
	F(CURLMcode, curl_multi_add_handle, (CURLM *a, CURL *b), (a, b)) \
	F(CURLMcode, curl_multi_cleanup, (CURLM *a), (a)) \
	F(CURLMsg *, curl_multi_info_read, (CURLM *a, int *b), (a, b)) \
	F(CURLM *, curl_multi_init, (void), ()) \
	F(CURLMcode, curl_multi_perform, (CURLM *a, int *b), (a, b)) \
	F(CURLMcode, curl_multi_poll, \
	    (CURLM *a, struct curl_waitfd *b, unsigned int c, int d, int *e), \
	    (a, b, c, d, e)) \
	F(CURLMcode, curl_multi_remove_handle, (CURLM *a, CURL *b), (a, b)) \
	F(struct curl_slist *, curl_slist_append, \
	    (struct curl_slist *a, const char *b), \
	    (a, b)) \
	V(curl_slist_free_all, (struct curl_slist *a), (a)) \
	F(CURLU *, curl_url, (void), ()) \
	V(curl_url_cleanup, (CURLU *a), (a)) \
	F(CURLUcode, curl_url_set, \
	    (CURLU *a, CURLUPart b, const char *c, unsigned int d), \
	    (a, b, c, d))

/* the same, libssl's (no void function yet) */
#define XFER_SSL(F) \
	F(int, SSL_write, (SSL *a, const void *b, int c), (a, b, c))

/* X-macros: a type, a name or a parameter list is pasted whole */
/* NOLINTBEGIN(bugprone-macro-parentheses) */
#define XFER_FIELD(ret, f, params, args)	__typeof__(f) *f;
#define XFER_VFIELD(f, params, args)		__typeof__(f) *f;

static struct {
	XFER_CURL(XFER_FIELD, XFER_VFIELD)
	__typeof__(curl_easy_setopt) *curl_easy_setopt;
	__typeof__(curl_easy_getinfo) *curl_easy_getinfo;
	__typeof__(curl_multi_setopt) *curl_multi_setopt;
	XFER_SSL(XFER_FIELD)
} xfer_fn;

#define XFER_SYM(ret, f, params, args)	{ #f, &xfer_fn.f },
#define XFER_VSYM(f, params, args)	{ #f, &xfer_fn.f },

static const struct dl_sym xfer_curl_syms[] = {
	XFER_CURL(XFER_SYM, XFER_VSYM)
	XFER_VSYM(curl_easy_setopt, , )
	XFER_VSYM(curl_easy_getinfo, , )
	XFER_VSYM(curl_multi_setopt, , )
};
static const struct dl_sym xfer_ssl_syms[] = {
	XFER_SSL(XFER_SYM)
};
static struct dl_lib xfer_curl = DL_LIB("libcurl.so.4", xfer_curl_syms);
/* libcurl's own, already mapped by then: mail.c writes QUIT through it */
static struct dl_lib xfer_ssl = DL_LIB("libssl.so.3", xfer_ssl_syms);

int
xfer_dl_load(char *err, size_t errlen)
{
	if (dl_load(&xfer_curl, err, errlen) != 0 ||
	    dl_load(&xfer_ssl, err, errlen) != 0)
		return -1;
	return 0;
}

/* A call before xfer_dl_load (a unit test, a pure helper) loads here. */
#define XFER_NEED(lib, f) do {						\
	if (xfer_fn.f == NULL)						\
		dl_need(&(lib));					\
} while (0)

#define XFER_CURL_DEF(ret, f, params, args)				\
	ret f params { XFER_NEED(xfer_curl, f); return xfer_fn.f args; }
#define XFER_CURL_VDEF(f, params, args)					\
	void f params { XFER_NEED(xfer_curl, f); xfer_fn.f args; }
#define XFER_SSL_DEF(ret, f, params, args)				\
	ret f params { XFER_NEED(xfer_ssl, f); return xfer_fn.f args; }

XFER_CURL(XFER_CURL_DEF, XFER_CURL_VDEF)
XFER_SSL(XFER_SSL_DEF)
/* NOLINTEND(bugprone-macro-parentheses) */

/* A function pointer of any type, as libcurl's own va_arg reads one. */
typedef void (*xfer_any_fn)(void);

/*
 * The branches differ in the type va_arg reads, which clang-tidy 14 does
 * not see (bugprone-branch-clone).
 */
/* NOLINTBEGIN(bugprone-branch-clone) */

CURLcode
curl_easy_setopt(CURL *c, CURLoption o, ...)
{
	va_list ap;
	CURLcode rc;

	XFER_NEED(xfer_curl, curl_easy_setopt);
	va_start(ap, o);
	if (o < CURLOPTTYPE_OBJECTPOINT)
		rc = xfer_fn.curl_easy_setopt(c, o, va_arg(ap, long));
	else if (o >= CURLOPTTYPE_FUNCTIONPOINT && o < CURLOPTTYPE_OFF_T)
		rc = xfer_fn.curl_easy_setopt(c, o, va_arg(ap, xfer_any_fn));
	else if (o >= CURLOPTTYPE_OFF_T && o < CURLOPTTYPE_BLOB)
		rc = xfer_fn.curl_easy_setopt(c, o, va_arg(ap, curl_off_t));
	else	/* an object (string, slist, callback data) or a blob */
		rc = xfer_fn.curl_easy_setopt(c, o, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLcode
curl_easy_getinfo(CURL *c, CURLINFO i, ...)
{
	va_list ap;
	CURLcode rc;

	XFER_NEED(xfer_curl, curl_easy_getinfo);
	va_start(ap, i);
	/* every CURLINFO type (string, long, double, slist, socket,
	 * off_t) is answered through a pointer */
	rc = xfer_fn.curl_easy_getinfo(c, i, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLMcode
curl_multi_setopt(CURLM *m, CURLMoption o, ...)
{
	va_list ap;
	CURLMcode rc;

	XFER_NEED(xfer_curl, curl_multi_setopt);
	va_start(ap, o);
	if (o < CURLOPTTYPE_OBJECTPOINT)
		rc = xfer_fn.curl_multi_setopt(m, o, va_arg(ap, long));
	else if (o < CURLOPTTYPE_FUNCTIONPOINT)
		rc = xfer_fn.curl_multi_setopt(m, o, va_arg(ap, void *));
	else if (o < CURLOPTTYPE_OFF_T)
		rc = xfer_fn.curl_multi_setopt(m, o, va_arg(ap, xfer_any_fn));
	else
		rc = xfer_fn.curl_multi_setopt(m, o, va_arg(ap, curl_off_t));
	va_end(ap);
	return rc;
}
/* NOLINTEND(bugprone-branch-clone) */
