/*
 * check: --check-config's last step: render every template the config can
 * use with sample data (long names, a long video URL), so a template that
 * renders badly is found before a client sees it.
 */
#ifndef NUDGED_CHECK_H
#define NUDGED_CHECK_H

#include <stdio.h>

#include "conf/conf.h"

/* 0 when every template renders; problems and warnings go to out. */
int	 check_templates(const struct conf *, FILE *out);
/*
 * check_example.c: one warning line on out naming every value still
 * taken from the example config (example.org, the example's phone, ...).
 * 1 when it warned.
 */
int	 check_examples(const struct conf *, FILE *out);
/*
 * check_libs.c: one warning line on out for each library the config
 * needs (libcurl and libssl, libical) that cannot be opened.  1 when it
 * warned.
 */
int	 check_libraries(const struct conf *, FILE *out);

#endif
