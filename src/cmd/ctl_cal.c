/*
 * ctl_cal: nudgectl's calendar commands (issue 10):
 *
 *   import FILE [--dry-run] [--columns MAP] [--now TIME]
 *   calendar sync [NAME]
 *   calendar unmatched
 *
 * They go through cal_sync.c like the daemon does; the SQL is in
 * store_cal.c.  An import is one transaction: a file with any problem is
 * refused whole (exit 65), and nothing is printed as done before the
 * commit.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "engine/cal_sync.h"
#include "cmd/ctl.h"
#include "store/store_cal.h"
#include "base/tz.h"

enum { O_DRY = 400, O_COLUMNS, O_CNOW };

int
cmd_import(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "columns", required_argument, NULL, O_COLUMNS },
		{ "now", required_argument, NULL, O_CNOW },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	struct cal_counts k;
	const char *map = NULL;
	char err[1024];
	time_t now = time(NULL);
	int ch, dry = 0, rc;

	optind = 0;
	while ((ch = ctl_getopt(c, argc, argv, ":h", lo, &rc)) != -1) {
		if (ch == O_DRY)
			dry = 1;
		else if (ch == O_COLUMNS)
			map = optarg;
		else if (ch == O_CNOW) {
			if (tz_parse_utc(optarg, &now) != 0)
				return ctl_fail(EX_USAGE, "%s: --now wants "
				    "YYYY-MM-DDTHH:MM:SSZ, not '%s'", c->cmd,
				    optarg);
		}
	}
	if (rc != 0)
		return rc == DONE ? 0 : rc;
	if (optind >= argc)
		return ctl_fail(EX_USAGE, "%s: which file? give an .ics or .csv "
		    "file (see --help)", c->cmd);
	if (optind + 1 < argc)
		return ctl_fail(EX_USAGE, "%s: unexpected argument '%s'", c->cmd,
		    argv[optind + 1]);
	if ((rc = ctl_ctx_open(c)) != 0)
		return rc;
	switch (cal_import(c->conf, c->st, argv[optind], map, dry, now,
	    &c->out, &k, err, sizeof(err))) {
	case CAL_SYNC_OK:
		break;
	case CAL_SYNC_FAILED:
		return ctl_fail(EX_DATAERR, "%s", err);
	default:
		return ctl_fail(EX_IOERR, "database: %s", err);
	}
	fputs(sbuf_str(&c->out), stdout);
	printf("%s %s: ", dry ? "would import" : "imported", argv[optind]);
	c->out.len = 0;
	cal_counts_line(&k, &c->out);
	printf("%s%s\n", sbuf_str(&c->out), dry ? " (dry run: nothing written)" :
	    "");
	return 0;
}

int
cmd_calendar_sync(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = { HELP_OPT, { NULL, 0, NULL, 0 } };
	struct cal_counts k;
	char err[1024];
	const char *only = NULL;
	int rc, failed = 0, found = 0;

	optind = 0;
	while (ctl_getopt(c, argc, argv, ":h", lo, &rc) != -1)
		continue;
	if (rc != 0)
		return rc == DONE ? 0 : rc;
	if (optind < argc)
		only = argv[optind++];
	if ((rc = ctl_no_args(c, argc, argv)) != 0 ||
	    (rc = ctl_ctx_open(c)) != 0)
		return rc;
	if (c->conf->calendar.nfeeds == 0)
		return ctl_fail(EX_CONFIG, "%s: no calendar feeds in %s (calendar "
		    "= { feeds = ( ... ); })", c->cmd, c->confpath);
	for (size_t i = 0; i < c->conf->calendar.nfeeds; i++) {
		const struct conf_feed *f = &c->conf->calendar.feeds[i];
		enum cal_sync_result r;

		if (only != NULL && strcmp(only, f->name) != 0)
			continue;
		found = 1;
		c->out.len = 0;
		r = cal_sync_feed(c->conf, f, c->st, time(NULL), &c->out, &k, err,
		    sizeof(err));
		if (r == CAL_SYNC_DBERR)
			return ctl_fail(EX_IOERR, "database: %s", err);
		if (r == CAL_SYNC_FAILED) {
			ctl_fail(0, "feed %s: %s (its appointments are kept as "
			    "they were)", f->name, err);
			failed = 1;
			continue;
		}
		fputs(sbuf_str(&c->out), stdout);
		c->out.len = 0;
		cal_counts_line(&k, &c->out);
		printf("feed %s: %s%s\n", f->name, sbuf_str(&c->out),
		    k.not_modified ? " (not modified)" : "");
	}
	c->out.len = 0;
	if (!found)
		return ctl_fail(EX_USAGE, "%s: no feed named '%s'", c->cmd, only);
	return failed ? EX_TEMPFAIL : 0;
}

int
cmd_calendar_unmatched(struct ctx *c, int argc, char **argv)
{
	struct store_unmatched *u = NULL;
	char err[512], when[64];
	size_t n = 0;
	int rc;

	if ((rc = ctl_args_none(c, argc, argv)) != 0 ||
	    (rc = ctl_ctx_open(c)) != 0)
		return rc == DONE ? 0 : rc;
	if (store_unmatched_list(c->st, &u, &n, err, sizeof(err)) != 0)
		return ctl_fail(EX_IOERR, "database: %s", err);
	if (n == 0)
		printf("every calendar event matched a case\n");
	for (size_t i = 0; i < n; i++) {
		struct tm tm;

		tz_to_local(u[i].start, &tm);
		snprintf(when, sizeof(when), "%04d-%02d-%02d %02d:%02d",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min);
		printf("%s  %-12s \"%s\"  %s  [%s]\n", when, u[i].source,
		    u[i].summary ? u[i].summary : "", u[i].why, u[i].key);
	}
	store_unmatched_free(u, n);
	return 0;
}

int
ctl_cal_status(struct ctx *c, struct sbuf *why)
{
	struct store_feed f;
	char err[512], stamp[TZ_UTC_LEN], buf[64];
	int attention = 0;

	for (size_t i = 0; i < c->conf->calendar.nfeeds; i++) {
		const char *name = c->conf->calendar.feeds[i].name;
		enum store_rc r = store_feed_get(c->st, name, &f, err,
		    sizeof(err));

		printf("%s feed %s: ", i == 0 ? "calendar:   " : "            ",
		    name);
		if (r == STORE_ERR)
			printf("unknown (%s)\n", err);
		else if (r == STORE_GONE || f.last_try == 0)
			printf("not fetched yet\n");
		else {
			if (f.last_ok != 0) {
				tz_format_utc(f.last_ok, stamp);
				printf("last good %s", ctl_when_short(stamp, buf,
				    sizeof(buf)));
			} else
				printf("never fetched well");
			if (f.failures > 0) {
				printf("; FAILING (%d tr%s): %s", f.failures,
				    f.failures == 1 ? "y" : "ies", f.last_error ?
				    f.last_error : "unknown");
				sbuf_printf(why, ", calendar feed %s failing", name);
				attention = 1;
			}
			printf("\n");
		}
		store_feed_free(&f);
	}
	return attention;
}
