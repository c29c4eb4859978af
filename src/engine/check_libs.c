/*
 * check_libs: --check-config opens the libraries the config will need.
 * They are not linked but opened at first use (base/dl.h), so a host
 * without them would only find out at the first reminder; this finds out
 * at installation.  A warning, not a config error: the file is fine.
 */
#include <stdio.h>

#include "base/ical_dl.h"
#include "engine/check.h"
#include "transport/xfer_dl.h"

int
check_libraries(const struct conf *c, FILE *out)
{
	char err[512];
	int warned = 0;
	int feeds = c->calendar.nfeeds > 0;

	if ((c->email.enabled || c->sms.enabled || feeds) &&
	    xfer_dl_load(err, sizeof(err)) != 0) {
		fprintf(out, "%s: warning: %s: no email, SMS or calendar feed "
		    "can go through until it is installed\n", c->path, err);
		warned = 1;
	}
	if (((c->email.enabled && c->email.calendar) || feeds) &&
	    ical_dl_load(err, sizeof(err)) != 0) {
		fprintf(out, "%s: warning: %s: emails go without their calendar "
		    "entry, and calendar feeds fail, until it is installed\n",
		    c->path, err);
		warned = 1;
	}
	return warned;
}
