/*
 * conf_privacy: the data-care keys (issue 14): privacy.keep_messages,
 * privacy.keep_appointments, alerts.weekly and alerts.names.
 *
 * Retention periods are longer than the 366 days a reminder duration may
 * be (the default keeps the outbox 400 days), so they take whole days up
 * to 100 years ("400d") as well as any ordinary duration; "" means keep
 * for ever.  At least 7 days: a shorter period would strip the address of
 * a message whose retries or fallback may still be running.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conf_int.h"
#include "base/tz.h"
#include "base/util.h"

static const char *const privacy_keys[] = { "keep_messages",
	"keep_appointments", NULL };

#define KEEP_MIN	(7L * 86400)
#define KEEP_MAX_DAYS	36500L

/* "400d", or any duration dur_parse() takes; "" is 0 (keep). 0 or -1. */
static int
keep_parse(const char *v, long *out)
{
	long days;
	size_t n = strlen(v);
	char *num;
	int r;

	if (n == 0) {
		*out = 0;
		return 0;
	}
	if (n > 1 && v[n - 1] == 'd' && strspn(v, "0123456789") == n - 1) {
		num = xstrndup(v, n - 1);
		r = parse_long(num, 1, KEEP_MAX_DAYS, &days);
		free(num);
		if (r != 0)
			return -1;
		*out = days * 86400;
		return 0;
	}
	return dur_parse(v, out);
}

static void
load_keep(struct conf_ld *ld, const config_setting_t *g, const char *name,
    long *out)
{
	config_setting_t *s = conf_member(g, name);
	const char *v;
	long secs;

	if (s == NULL)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_STRING ||
	    keep_parse((v = config_setting_get_string(s)), &secs) != 0) {
		conf_err(ld, s, "'%s' must be a number of days such as "
		    "\"400d\", or \"\" to keep for ever", name);
		return;
	}
	if (secs != 0 && secs < KEEP_MIN) {
		conf_err(ld, s, "'%s' = \"%s\" is too short: keep at least "
		    "\"7d\" (messages may still be retried or answered), or \"\" "
		    "to keep for ever", name, v);
		return;
	}
	*out = secs;
}

static const char *const wdays[] = { "sunday", "monday", "tuesday",
	"wednesday", "thursday", "friday", "saturday" };

/* "Fri 16:00" (day names in English, any case, short or long). 0 or -1. */
static int
weekly_parse(const char *v, int *wday, int *minute)
{
	const char *sp = strchr(v, ' ');
	size_t n;

	if (sp == NULL || (n = (size_t)(sp - v)) < 3)
		return -1;
	for (int i = 0; i < 7; i++) {
		/* "Fri" or "Friday" */
		if ((n == 3 || n == strlen(wdays[i])) &&
		    strncasecmp(v, wdays[i], n) == 0) {
			while (*sp == ' ')
				sp++;
			if (tz_parse_hhmm(sp, minute) != 0)
				return -1;
			*wday = i;
			return 0;
		}
	}
	return -1;
}

void
conf_load_privacy(struct conf_ld *ld, const config_setting_t *root)
{
	struct conf *c = ld->c;
	config_setting_t *g = conf_sub(ld, root, "privacy", privacy_keys);
	config_setting_t *al = conf_member(root, "alerts"), *s;
	const char *weekly;

	load_keep(ld, g, "keep_messages", &c->privacy.keep_messages);
	load_keep(ld, g, "keep_appointments", &c->privacy.keep_appointments);
	/* alerts' other keys (and unknown ones) are checked in conf.c */
	if (al == NULL || config_setting_type(al) != CONFIG_TYPE_GROUP)
		return;
	conf_get_bool(ld, al, "names", &c->weekly.names);
	if ((s = conf_member(al, "weekly")) == NULL)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		conf_err(ld, s, "'weekly' must be a string such as "
		    "\"Fri 16:00\"");
		return;
	}
	weekly = config_setting_get_string(s);
	if (weekly[0] == '\0')
		return;		/* "": no weekly summary (the default) */
	if (weekly_parse(weekly, &c->weekly.wday, &c->weekly.minute) != 0 ||
	    !conf_one_line(weekly))
		conf_err(ld, s, "'weekly' = \"%s\" is not a day and a time "
		    "such as \"Fri 16:00\" (or \"\" for no weekly summary)",
		    weekly);
	else
		c->weekly.on = 1;
}
