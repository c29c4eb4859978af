/*
 * libFuzzer target: conf_load (conf.h) on a mutated configuration file.
 *
 * The input is written to a private file and loaded.  Besides memory
 * errors and leaks: it is accepted (a struct) or refused (error lines),
 * never both and never neither; every error names a file (the config, or
 * a file it @includes) as "FILE: " or "FILE:LINE: "; a refusal returns no
 * struct.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	path[64];

static void
fail(const char *what, const char *line)
{
	fprintf(stderr, "fuzz_conf: %s: %s\n", what, line ? line : "");
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_diag errs = { 0 }, warns = { 0 };
	struct conf *c = NULL;
	FILE *f;
	int rc;

	if (path[0] == '\0') {
		int fd;

		snprintf(path, sizeof(path), "/tmp/fuzz_conf.XXXXXX");
		if ((fd = mkstemp(path)) == -1)
			return 0;
		close(fd);
	}
	if ((f = fopen(path, "w")) == NULL)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	rc = conf_load(path, &c, &errs, &warns);
	if (rc == 0 && (c == NULL || errs.n != 0))
		fail("accepted with errors or without a config", NULL);
	if (rc != 0 && (c != NULL || errs.n == 0))
		fail("refused without an error, or with a config", NULL);
	for (size_t i = 0; i < errs.n; i++) {
		const char *l = errs.lines[i], *colon = strchr(l, ':');

		if (colon == NULL || colon == l || colon[1] == '\0')
			fail("error line without a file", l);
	}
	conf_free(c);
	conf_diag_free(&errs);
	conf_diag_free(&warns);
	return 0;
}
