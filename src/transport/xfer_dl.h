/*
 * xfer_dl: libcurl (libcurl.so.4) and OpenSSL's libssl (libssl.so.3),
 * opened at the first transfer instead of at start (issue 12: an idle
 * service maps neither; base/dl.h says why and how).
 */
#ifndef NUDGED_XFER_DL_H
#define NUDGED_XFER_DL_H

#include <stddef.h>

/* Open both, once; 0, or -1 with "cannot load libcurl.so.4: ..." in err. */
int	 xfer_dl_load(char *err, size_t errlen);

#endif
