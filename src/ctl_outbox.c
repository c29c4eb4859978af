/*
 * ctl_outbox: what nudged will send and what it sent (upcoming, outbox),
 * and one real test message (send-test).  upcoming and send-test go
 * through deliver.c as the daemon does; outbox only reads the messages.
 */
#include <getopt.h>
#include <stdio.h>
#include <sysexits.h>
#include <time.h>

#include <sqlite3.h>

#include "ctl.h"
#include "deliver.h"
#include "tz.h"
#include "xfer.h"

/* ---- preview, outbox, test ---- */

int
cmd_upcoming(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "days", required_argument, NULL, O_DAYS },
		{ "now", required_argument, NULL, O_NOW },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	char err[512];
	long days = 14;
	int ch, rc;
	time_t now = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (ch == O_DAYS) {
			if ((rc = ctl_num(c, "--days", optarg, 1, 366,
			    &days)) != 0)
				return rc;
		} else if (ch == O_NOW) {
			if (tz_parse_utc(optarg, &now) == -1)
				return ctl_fail(EX_USAGE, "%s: --now wants "
				    "YYYY-MM-DDTHH:MM:SSZ (UTC), not '%s'",
				    c->cmd, optarg);
		} else if (ch == 'h')
			return ctl_help(c);
		else
			return ctl_badopt(c, ch, argv);
	}
	/* A preview: planned on a private copy, no lock held, nothing written. */
	c->preview = 1;
	if ((rc = ctl_no_args(c, argc, argv)) != 0 ||
	    (rc = ctl_ctx_open(c)) != 0)
		return rc;
	if (now == 0)
		now = time(NULL);
	if (deliver_upcoming(c->conf, c->st, now, now + days * 86400, stdout,
	    err, sizeof err) == -1)
		return ctl_fail(EX_IOERR, "upcoming: %s", err);
	return 0;
}

/* Server replies may carry line breaks; a table row must stay one line. */
static void
print_flat(const char *s)
{
	for (; *s != '\0'; s++)
		putchar((unsigned char)*s < 0x20 ? ' ' : *s);
}

int
cmd_outbox(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "failed", no_argument, NULL, O_FAILED },
		{ "since", required_argument, NULL, O_SINCE },
		{ "limit", required_argument, NULL, O_LIMIT },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	const char *since = NULL;
	char from[TZ_UTC_LEN] = "", due[32], sent[32];
	sqlite3_stmt *s;
	long limit = 50;
	int ch, rc, r, failed = 0, n = 0, y, mo, d;
	time_t t;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (ch == O_FAILED)
			failed = 1;
		else if (ch == O_SINCE)
			since = optarg;
		else if (ch == O_LIMIT) {
			if ((rc = ctl_num(c, "--limit", optarg, 1, 1000000,
			    &limit)) != 0)
				return rc;
		} else if (ch == 'h')
			return ctl_help(c);
		else
			return ctl_badopt(c, ch, argv);
	}
	if ((rc = ctl_no_args(c, argc, argv)) != 0)
		return rc;
	if (since && tz_parse_date(since, &y, &mo, &d) == -1)
		return ctl_fail(EX_USAGE, "%s: --since wants a date "
		    "YYYY-MM-DD, not '%s'", c->cmd, since);
	if ((rc = ctl_ctx_open(c)) != 0)
		return rc;
	if (since) {
		if (tz_local_to_utc(y, mo, d, 0, 0, 0, &t) == -1)
			return ctl_fail(EX_USAGE, "%s: bad --since", c->cmd);
		tz_format_utc(t, from);
	}
	if ((s = ctl_q_prep(c, "SELECT id, purpose, channel, recipient, "
	    "due_at, status, attempts, last_error, sent_at FROM messages WHERE "
	    "(?1 = 0 OR status = 'failed') AND (?2 IS NULL OR due_at >= ?2) "
	    "ORDER BY due_at DESC, id DESC LIMIT ?3", "iti", failed,
	    since ? from : NULL, (int)limit)) == NULL)
		return EX_IOERR;
	while ((r = ctl_q_step(c, s)) == 1) {
		if (n++ == 0)
			printf("%-6s %-16s %-12s %-5s %-9s %5s  %s\n", "ID",
			    "DUE", "PURPOSE", "CHAN", "STATUS", "TRIES",
			    "RECIPIENT");
		printf("%-6lld %-16s %-12s %-5s %-9s %5d  ",
		    (long long)sqlite3_column_int64(s, 0),
		    ctl_when_short(ctl_ctext(s, 4), due, sizeof due),
		    ctl_ctext(s, 1), ctl_ctext(s, 2), ctl_ctext(s, 5),
		    sqlite3_column_int(s, 6));
		print_flat(ctl_ctext(s, 3));
		if (sqlite3_column_type(s, 8) != SQLITE_NULL)
			printf("  sent %s", ctl_when_short(ctl_ctext(s, 8),
			    sent, sizeof sent));
		printf("\n");
		if (sqlite3_column_type(s, 7) != SQLITE_NULL) {
			printf("       why: ");
			print_flat(ctl_ctext(s, 7));
			printf("\n");
		}
	}
	sqlite3_finalize(s);
	if (r == -1)
		return EX_IOERR;
	if (n == 0)
		printf("no %smessages%s\n", failed ? "failed " : "",
		    since ? " since then" : "");
	return 0;
}

int
cmd_send_test(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "to", required_argument, NULL, O_TO },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	const char *to = NULL;
	char err[512];
	int ch, rc, r;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (ch == O_TO)
			to = optarg;
		else if (ch == 'h')
			return ctl_help(c);
		else
			return ctl_badopt(c, ch, argv);
	}
	if ((rc = ctl_no_args(c, argc, argv)) != 0)
		return rc;
	if (to == NULL)
		return ctl_fail(EX_USAGE, "%s: --to is required", c->cmd);
	if ((rc = ctl_text_ok(c, "--to", to, 254)) != 0 ||
	    (rc = ctl_ctx_open(c)) != 0)
		return rc;
	err[0] = '\0';
	r = deliver_test(c->conf, c->st, to, time(NULL), err, sizeof err);
	switch (r) {
	case XFER_OK:
		printf("test message sent to %s\n", to);
		return 0;
	case XFER_PERMFAIL:
		return ctl_fail(EX_DATAERR, "test message to %s refused: %s",
		    to, err[0] ? err : "permanent failure");
	case XFER_TEMPFAIL:
	case XFER_UNKNOWN:
	case XFER_CHANNEL:
		return ctl_fail(EX_TEMPFAIL, "test message to %s not sent "
		    "(%s): %s", to, xfer_result_name((enum xfer_result)r),
		    err[0] ? err : "no details");
	default:
		return ctl_fail(EX_IOERR, "test message to %s: %s", to,
		    err[0] ? err : "failed");
	}
}
