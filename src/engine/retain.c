/*
 * retain: the retention job.  See retain.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "engine/retain.h"
#include "store/store_privacy.h"
#include "base/tz.h"

#define RETAIN_EVERY	86400L

/*
 * What retention did, or would do (dry: on out): only the parts whose
 * privacy key is set, each with its own cut-off date.
 */
static void
retain_say(FILE *out, int dry, time_t mcut, time_t acut,
    const struct retain_counts *n)
{
	char d[32], m[192] = "", a[192] = "";

	if (mcut != 0) {
		tz_format_local_date(mcut, d, sizeof(d));
		snprintf(m, sizeof(m), "%s%ld outbox row%s settled before %s%s",
		    dry ? "addresses, provider references and error texts of " :
		    "", n->messages, n->messages == 1 ? "" : "s", d,
		    dry ? "" : " reduced to statistics");
	}
	if (acut != 0) {
		tz_format_local_date(acut, d, sizeof(d));
		snprintf(a, sizeof(a), "%s%ld appointment%s and %s%ld homework "
		    "before %s%s", dry ? "video links of " : "", n->appointments,
		    n->appointments == 1 ? "" : "s", dry ? "the words of " : "",
		    n->homework, d, dry ? "" : " reduced");
	}
	if (dry && out != NULL)
		fprintf(out, "retention (privacy.%s) would remove: %s%s%s\n",
		    m[0] && a[0] ? "keep_messages, keep_appointments" : m[0] ?
		    "keep_messages" : "keep_appointments", m,
		    m[0] && a[0] ? "; " : "", a);
	else if (!dry)
		log_info("retention: %s%s%s", m, m[0] && a[0] ? ", " : "", a);
}

int
retain_run(const struct conf *c, struct store *st, time_t now, int dry,
    FILE *out, char *err, size_t errlen)
{
	struct retain_counts n;
	time_t mcut = c->privacy.keep_messages ? now - c->privacy.keep_messages : 0;
	time_t acut = c->privacy.keep_appointments ?
	    now - c->privacy.keep_appointments : 0;
	char stamp[TZ_UTC_LEN];

	if (mcut == 0 && acut == 0)
		return 0;
	if (store_begin(st, err, errlen) != 0)
		return -1;
	tz_format_utc(now, stamp);
	if (store_retain(st, mcut, acut, dry, &n, err, errlen) != 0 ||
	    (!dry && store_state_set(st, "retain.last", stamp, err, errlen) != 0) ||
	    store_commit(st, err, errlen) != 0) {
		store_rollback(st);
		return -1;
	}
	retain_say(out, dry, mcut, acut, &n);
	return 0;
}

int
retain_daily(const struct conf *c, struct store *st, time_t now, char *err,
    size_t errlen)
{
	char *v = NULL;
	time_t last;
	int due;

	if (store_state_get(st, "retain.last", &v) < 0) {
		snprintf(err, errlen, "cannot read the retention state");
		return -1;
	}
	due = v == NULL || tz_parse_utc(v, &last) != 0 || now - last >= RETAIN_EVERY ||
	    last > now;
	free(v);
	return due ? retain_run(c, st, now, 0, NULL, err, errlen) : 0;
}
