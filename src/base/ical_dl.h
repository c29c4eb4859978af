/*
 * ical_dl: libical (libical.so.3), opened at the first calendar entry
 * written (ics_format) or read (ical_read) instead of at start (issue 12:
 * an idle service maps neither it nor ICU and libstdc++ under it;
 * base/dl.h says why and how).
 */
#ifndef NUDGED_ICAL_DL_H
#define NUDGED_ICAL_DL_H

#include <stddef.h>

/* Open it, once (thread-safe); 0, or -1 with "cannot load libical.so.3: ...". */
int	 ical_dl_load(char *err, size_t errlen);

#endif
