/*
 * dl: a shared library opened when it is first needed, and the table of
 * its functions the program calls through.
 *
 * Why (issue 12, "idle RSS under 8 MiB"): linked at build time, libcurl,
 * OpenSSL and libical (and the ~35 libraries they pull in: gnutls, krb5,
 * ldap, ssh2, ICU, libstdc++...) were mapped at start, and an idle service
 * carried their pages: 16.6 MiB RSS, of which 3.4 MiB private.  Opened on
 * first use, an idle service that has nothing due maps none of them
 * (about 5.7 MiB); the first transfer or calendar entry opens them.
 *
 * A user (transport/xfer_dl.c: libcurl and libssl; base/ical_dl.c:
 * libical) lists the functions it calls once, and defines each under its
 * real name with the prototype of the library's own header, calling
 * through a pointer of __typeof__ that declaration: every caller is
 * unchanged, and a prototype that does not match does not compile.
 *
 * The edges that can fail load explicitly (dl_load: 0, or -1 with
 * "cannot load libcurl.so.4: <why>"); a function called before that
 * loads its library itself (dl_need), and exits if it cannot: that is a
 * missing dl_load at an edge, or a unit test.  A library is never closed.
 * The table is read without the lock: the edges load on the thread that
 * then starts any other (mail's connection threads), so a thread that
 * calls through it sees it filled.
 *
 * Test-only (nudged(8), ENVIRONMENT): a library named in
 * $NUDGED_TEST_DL_MISSING (comma-separated) is looked for where it is not.
 */
#ifndef NUDGED_DL_H
#define NUDGED_DL_H

#include <pthread.h>
#include <stddef.h>

struct dl_sym {
	const char	*name;
	void		*slot;		/* the address of a function pointer */
};

struct dl_lib {
	const char		*name;	/* "libcurl.so.4": the soname */
	const struct dl_sym	*syms;
	size_t			 nsyms;
	pthread_mutex_t		 lock;
	int			 ready;	/* under lock */
};

#define DL_LIB(name, syms) { (name), (syms),				\
	sizeof(syms) / sizeof((syms)[0]), PTHREAD_MUTEX_INITIALIZER, 0 }

/* Open lib and fill its table, once (thread-safe).  0, or -1 with err. */
int	 dl_load(struct dl_lib *, char *err, size_t errlen);
/* The same where no error can be returned: exits if it fails. */
void	 dl_need(struct dl_lib *);

#endif
