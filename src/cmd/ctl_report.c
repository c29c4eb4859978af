/*
 * ctl_report: what nudged sent, as the practitioner reads it: nudgectl
 * outbox (every message with its client, filtered) and nudgectl report
 * --week (per client: sent, failed, cancelled that week: the table read
 * on Friday).  Read only; the SQL is in store_list.c.
 */
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "cmd/ctl.h"
#include "store/store.h"
#include "base/tz.h"
#include "base/utf8.h"
#include "base/util.h"


/* Server replies may carry line breaks; a table row must stay one line. */
static void
print_flat(const char *s)
{
	for (; *s != '\0'; s++)
		putchar((unsigned char)*s < 0x20 ? ' ' : *s);
}

/*
 * The display width of a text column of the rows (the field at offset
 * off, a char *), at least min and at most max.
 */
static int
col_width(const struct outbox_row *r, size_t n, size_t off, size_t min,
    size_t max)
{
	size_t w = min, x;
	const char *v;

	for (size_t i = 0; i < n; i++) {
		memcpy(&v, (const char *)&r[i] + off, sizeof(v));
		if (v != NULL && (x = utf8_width(v)) > w)
			w = x;
	}
	return w > max ? (int)max : (int)w;
}

/* --since and --until (local dates, --until inclusive) into f.  0 or an exit code. */
static int
outbox_dates(struct ctx *c, const char *since, const char *until,
    struct outbox_filter *f)
{
	int rc, y, mo, d;

	if ((since && (rc = ctl_date_arg(c, "--since", since, &f->since)) != 0) ||
	    (until && (rc = ctl_date_arg(c, "--until", until, &f->until)) != 0))
		return rc;
	if (until) {		/* inclusive: up to the end of that day */
		tz_parse_date(until, &y, &mo, &d);
		tz_date_add_days(&y, &mo, &d, 1);
		if (tz_local_to_utc(y, mo, d, 0, 0, 0, &f->until) == -1)
			return ctl_fail(EX_USAGE, "%s: bad --until", c->cmd);
	}
	return 0;
}

/* The outbox table: a header, then one line per row (and its error). */
static void
outbox_table(const struct outbox_row *r, size_t n)
{
	char due[32], sent[32];
	size_t i;
	int nw, rw, pad;

	nw = col_width(r, n, offsetof(struct outbox_row, client_name), 6, 30);
	/* the widest recipient, so that "sent ..." lines up after it */
	rw = col_width(r, n, offsetof(struct outbox_row, recipient), 9, 40);
	for (i = 0; i < n; i++) {
		if (i == 0) {
			printf("%-6s %-16s %-12s %-5s %-9s %5s  ", "ID", "DUE",
			    "PURPOSE", "CHAN", "STATUS", "TRIES");
			ctl_pad("CLIENT", nw);
			printf(" RECIPIENT\n");
		}
		printf("%-6lld %-16s %-12s %-5s %-9s %5d  ", r[i].id,
		    ctl_when_short(r[i].due_at, due, sizeof due),
		    r[i].purpose ? r[i].purpose : "", r[i].channel ?
		    r[i].channel : "", r[i].status ? r[i].status : "",
		    r[i].attempts);
		ctl_pad(r[i].client_name ? r[i].client_name : "-", nw);
		putchar(' ');
		print_flat(r[i].recipient ? r[i].recipient : "");
		if (r[i].sent_at != NULL) {
			pad = rw - (int)utf8_width(r[i].recipient ?
			    r[i].recipient : "");
			printf("%*s  sent %s", pad > 0 ? pad : 0, "",
			    ctl_when_short(r[i].sent_at, sent, sizeof sent));
		}
		printf("\n");
		if (r[i].last_error != NULL) {
			printf("       why: ");
			print_flat(r[i].last_error);
			printf("\n");
		}
	}
}

/* outbox's options into f, since and until.  0, DONE or an exit code. */
static int
outbox_opts(struct ctx *c, int argc, char **argv, struct outbox_filter *f,
    const char **since, const char **until)
{
	static const struct option lo[] = {
		{ "failed", no_argument, NULL, O_FAILED },
		{ "status", required_argument, NULL, O_STATUS },
		{ "client", required_argument, NULL, O_CLIENT },
		{ "since", required_argument, NULL, O_SINCE },
		{ "until", required_argument, NULL, O_UNTIL },
		{ "limit", required_argument, NULL, O_LIMIT },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	enum msg_status st;
	int ch, rc;

	optind = 0;
	while ((ch = ctl_getopt(c, argc, argv, ":h", lo, &rc)) != -1) {
		switch (ch) {
		case O_FAILED:
			f->status = "failed";
			break;
		case O_STATUS:
			if (msg_status_parse(optarg, &st) == -1)
				return ctl_fail(EX_USAGE, "%s: --status is one of "
				    "pending, sending, sent, failed, skipped, "
				    "cancelled; not '%s'", c->cmd, optarg);
			f->status = msg_status_name(st);
			break;
		case O_CLIENT:
			rc = ctl_id_arg(c, "--client", optarg, &f->client_id);
			break;
		case O_SINCE:
			*since = optarg;
			break;
		case O_UNTIL:
			*until = optarg;
			break;
		case O_LIMIT:
			rc = ctl_num(c, "--limit", optarg, 1, 1000000, &f->limit);
			break;
		}
		if (rc != 0)
			return rc;
	}
	if (rc != 0)
		return rc;
	return ctl_no_args(c, argc, argv);
}

int
cmd_outbox(struct ctx *c, int argc, char **argv)
{
	struct outbox_filter f = { NULL, 0, 0, 0, 50 };
	struct outbox_row *r;
	const char *since = NULL, *until = NULL;
	char err[512];
	size_t n;
	int rc;

	if ((rc = outbox_opts(c, argc, argv, &f, &since, &until)) != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = ctl_ctx_open(c)) != 0 ||
	    (rc = outbox_dates(c, since, until, &f)) != 0)
		return rc;
	if (store_outbox_list(c->st, &f, &r, &n, err, sizeof err) != 0)
		return ctl_fail(EX_IOERR, "%s", err);
	outbox_table(r, n);
	if (n == 0)
		printf("no %s%smessages%s\n", f.status ? f.status : "",
		    f.status ? " " : "", since || until || f.client_id ?
		    " matching" : "");
	store_outbox_rows_free(r, n);
	return 0;
}

/*
 * The week (Monday to Sunday, local time) holding the local date y-mo-d:
 * [from, until) in UTC, and its Monday as "YYYY-MM-DD" in monday.  0 or
 * an exit code (reported).
 */
static int
report_week(const struct ctx *c, int y, int mo, int d, time_t *from,
    time_t *until, char monday[static 16])
{
	int wd = (int)((tz_days_from_civil(y, mo, d) % 7 + 7 + 3) % 7);

	tz_date_add_days(&y, &mo, &d, -wd);
	snprintf(monday, 16, "%04d-%02d-%02d", y, mo, d);
	if (tz_local_to_utc(y, mo, d, 0, 0, 0, from) == -1)
		return ctl_fail(EX_USAGE, "%s: cannot place that week", c->cmd);
	tz_date_add_days(&y, &mo, &d, 7);
	if (tz_local_to_utc(y, mo, d, 0, 0, 0, until) == -1)
		return ctl_fail(EX_USAGE, "%s: cannot place that week", c->cmd);
	return 0;
}

/* One line per client and the totals; names padded to w columns. */
static void
report_table(const struct report_row *r, size_t n, int w, const char *monday)
{
	struct report_row tot = { 0, NULL, 0, 0, 0, 0, 0 };
	size_t i;

	printf("%-6s ", "CLIENT");
	ctl_pad("NAME", w);
	printf(" %5s %7s %10s %8s %8s\n", "SENT", "FAILED", "CANCELLED",
	    "SKIPPED", "WAITING");
	for (i = 0; i < n; i++) {
		if (r[i].client_id != 0)
			printf("%-6lld ", r[i].client_id);
		else
			printf("%-6s ", "-");
		ctl_pad(r[i].name ? r[i].name : "(no client)", w);
		printf(" %5ld %7ld %10ld %8ld %8ld\n", r[i].sent, r[i].failed,
		    r[i].cancelled, r[i].skipped, r[i].waiting);
		tot.sent += r[i].sent;
		tot.failed += r[i].failed;
		tot.cancelled += r[i].cancelled;
		tot.skipped += r[i].skipped;
		tot.waiting += r[i].waiting;
	}
	printf("%-6s ", "");
	ctl_pad("total", w);
	printf(" %5ld %7ld %10ld %8ld %8ld\n", tot.sent, tot.failed,
	    tot.cancelled, tot.skipped, tot.waiting);
	if (tot.failed > 0)
		printf("Why they failed: nudgectl outbox --status failed --since "
		    "%s\n", monday);
	/* not cancellation notices: planned messages that were not needed */
	if (tot.cancelled + tot.skipped > 0)
		printf("Cancelled and skipped: planned messages not sent, because "
		    "the appointment moved or was cancelled, consent changed, or "
		    "another message said it (why: nudgectl outbox --status "
		    "cancelled, or --status skipped, --since %s)\n", monday);
}

int
cmd_report(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "week", optional_argument, NULL, O_WEEK },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	struct report_row *r;
	const char *date = NULL;
	char err[512], d1[64], d2[64], monday[16];
	size_t n, i, w = 6, x;
	int ch, rc, y, mo, d;
	time_t from = 0, until = 0;
	struct tm tm;

	optind = 0;
	while ((ch = ctl_getopt(c, argc, argv, ":h", lo, &rc)) != -1) {
		if (ch == O_WEEK)	/* the only report there is, so far */
			date = optarg;	/* --week=DATE; else DATE follows */
	}
	if (rc != 0)
		return rc == DONE ? 0 : rc;
	if (date == NULL && optind < argc)
		date = argv[optind++];
	if ((rc = ctl_no_args(c, argc, argv)) != 0)
		return rc;
	if (date != NULL && tz_parse_date(date, &y, &mo, &d) == -1)
		return ctl_bad_date(c, "--week", date, "9999-99-99",
		    "a date YYYY-MM-DD");
	if ((rc = ctl_ctx_open(c)) != 0)
		return rc;
	if (date == NULL) {
		tz_to_local(time(NULL), &tm);
		y = tm.tm_year + 1900, mo = tm.tm_mon + 1, d = tm.tm_mday;
	}
	if ((rc = report_week(c, y, mo, d, &from, &until, monday)) != 0)
		return rc;
	if (store_report(c->st, from, until, &r, &n, err, sizeof err) != 0)
		return ctl_fail(EX_IOERR, "%s", err);
	tz_format_date(from, d1, sizeof d1);
	/* Sunday, whatever the clocks did */
	tz_format_date(until - 12L * 3600, d2, sizeof d2);
	printf("Messages due from %s to %s\n", d1, d2);
	for (i = 0; i < n; i++)
		if (r[i].name != NULL && (x = utf8_width(r[i].name)) > w)
			w = x;
	if (n == 0)
		printf("no messages that week\n");
	else
		report_table(r, n, w > 40 ? 40 : (int)w, monday);
	store_report_free(r, n);
	return 0;
}
