/*
 * dl: libraries opened on first use.  See dl.h for why.
 */
#include <dlfcn.h>
#include <sysexits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dl.h"
#include "base/log.h"
#include "base/util.h"

/* Test-only: 1 when $NUDGED_TEST_DL_MISSING names lib. */
static int
dl_test_missing(const char *lib)
{
	const char *p = getenv("NUDGED_TEST_DL_MISSING");
	size_t n, len = strlen(lib);

	while (p != NULL && *p != '\0') {
		n = strcspn(p, ",");
		if (n == len && strncmp(p, lib, len) == 0)
			return 1;
		p += n + (p[n] == ',');
	}
	return 0;
}

/*
 * Every symbol is looked up before any slot is filled: a library that
 * lacks one leaves the whole table empty, never half of it.
 */
static int
dl_open(struct dl_lib *l, char *err, size_t errlen)
{
	void *h, **got;
	size_t i;
	char path[256];
	const char *e;

	/* a real dlopen that fails, with the loader's own words */
	snprintf(path, sizeof(path), "%s%s", dl_test_missing(l->name) ?
	    "/nonexistent/nudged-test/" : "", l->name);
	if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		e = dlerror();
		errf(err, errlen, "cannot load %s: %s", l->name,
		    e != NULL ? e : "unknown error");
		return -1;
	}
	got = xcalloc(l->nsyms, sizeof(*got));
	for (i = 0; i < l->nsyms; i++)
		if ((got[i] = dlsym(h, l->syms[i].name)) == NULL) {
			errf(err, errlen, "cannot load %s: it has no %s (too "
			    "old a version?)", l->name, l->syms[i].name);
			free(got);
			dlclose(h);
			return -1;
		}
	/* POSIX: a data pointer from dlsym holds a function's address */
	for (i = 0; i < l->nsyms; i++)
		memcpy(l->syms[i].slot, &got[i], sizeof(got[i]));
	free(got);
	return 0;
}

int
dl_load(struct dl_lib *l, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&l->lock);
	if (!l->ready) {
		rc = dl_open(l, err, errlen);
		l->ready = rc == 0;
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

void
dl_need(struct dl_lib *l)
{
	char err[512];

	if (dl_load(l, err, sizeof(err)) != 0) {
		log_err("%s", err);
		exit(EX_SOFTWARE);	/* an edge did not load it first */
	}
}
