/*
 * ctl_status: nudgectl status (one screen: is nudged running, what did
 * its last pass do, is a channel paused, what waits, what failed) and
 * nudgectl problems (the booking rows nudged cannot read).
 *
 * status exits 0 when nothing needs attention and 1 when something does:
 * a paused channel, failed messages not yet reported in a digest, or
 * unreadable rows (contract, Additions).  Everything is read, nothing
 * written.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "cmd/ctl.h"
#include "base/log.h"
#include "store/store.h"
#include "base/tz.h"
#include "base/util.h"

static const char *const pause_key[CHAN_N] = { "pause.email", "pause.sms" };

/* Server replies may carry line breaks; a line must stay one line. */
static void
flat(char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s < 0x20)
			*s = ' ';
}

static void
last_pass(struct ctx *c)
{
	char *v = NULL, *save = NULL, *tok, buf[32], stamp[TZ_UTC_LEN + 1] = "";
	long n[6] = { 0 };
	int planned, sent, failed, skipped, cancelled, k = -1;
	long pending;
	time_t t;

	/* "STAMP PLANNED SENT FAILED SKIPPED CANCELLED PENDING", each checked */
	if (store_state_get(c->st, "pass.last", &v) == STORE_FOUND && v != NULL &&
	    (tok = strtok_r(v, " ", &save)) != NULL &&
	    strlen(tok) < sizeof(stamp)) {
		snprintf(stamp, sizeof(stamp), "%s", tok);
		for (k = 0; k < 6 && (tok = strtok_r(NULL, " ", &save)) != NULL &&
		    parse_long(tok, 0, 1L << 30, &n[k]) == 0; k++)
			;
	}
	planned = (int)n[0];
	sent = (int)n[1];
	failed = (int)n[2];
	skipped = (int)n[3];
	cancelled = (int)n[4];
	pending = n[5];
	if (k != 6 || tz_parse_utc(stamp, &t) != 0) {
		printf("last pass:   none recorded yet\n");
		free(v);
		return;
	}
	printf("last pass:   %s: %d planned, %d sent, %d failed, %d skipped, "
	    "%d cancelled, %ld still pending\n",
	    ctl_when_short(stamp, buf, sizeof buf), planned, sent, failed,
	    skipped, cancelled, pending);
	free(v);
}

/* One line per channel; 1 when it is paused. */
static int
channel(struct ctx *c, enum chan ch, const struct store_status *s)
{
	int on = ch == CHAN_EMAIL ? c->conf->email.enabled :
	    c->conf->sms.enabled;
	char *v = NULL, *why, buf[32], stamp[TZ_UTC_LEN], scrub[512];
	int paused = 0;

	printf("%-5s        ", chan_name(ch));
	if (store_state_get(c->st, pause_key[ch], &v) == STORE_FOUND && v != NULL) {
		why = strchr(v, ' ');
		why = why ? why + 1 : v;
		/* As in the digest: a server's reply may quote an address. */
		printf("PAUSED: %s", log_scrub(why, scrub, sizeof scrub));
		if (s->waiting_chan[ch] > 0)
			printf("; waiting: %ld", s->waiting_chan[ch]);
		/* held ones are tried once their row is fixed, not at a time */
		if (s->held_chan[ch] > 0)
			printf(" (%ld held)", s->held_chan[ch]);
		if (s->next_try[ch] != 0) {
			tz_format_utc(s->next_try[ch], stamp);
			printf(", next try %s", ctl_when_short(stamp, buf,
			    sizeof buf));
		}
		printf("\n");
		paused = 1;
	} else
		printf("%s\n", on ? "on, working" : "off in the config");
	free(v);
	return paused;
}

/* Whether a nudged delivers from the database (its lock). */
static void
status_service(const struct ctx *c)
{
	long pid;
	enum store_rc held;

	printf("database:    %s\n", c->conf->database);
	held = store_lock_holder(c->conf->database, &pid);
	if (held == STORE_HELD && pid > 0)
		printf("service:     running (pid %ld)\n", pid);
	else if (held == STORE_HELD)
		printf("service:     running\n");
	else if (held == STORE_OK)
		printf("service:     not running (no nudged delivers from this "
		    "database)\n");
	else
		printf("service:     unknown (cannot read the lock file)\n");
}

/* The outbox's numbers: waiting, the next one, since, unreadable rows. */
static void
status_counts(const struct store_status *s, time_t since)
{
	char buf[32], stamp[TZ_UTC_LEN];
	struct tm tm;

	printf("waiting:     %ld message%s", s->waiting, s->waiting == 1 ? "" :
	    "s");
	/* held ones go once their row is fixed: never named as the next */
	if (s->held > 0)
		printf(" (%ld held by an unreadable row)", s->held);
	if (s->next_id != 0) {
		tz_format_utc(s->next_at, stamp);
		printf("; next: message %lld by %s, %s", s->next_id,
		    chan_name(s->next_chan), ctl_when_short(stamp, buf,
		    sizeof buf));
	}
	printf("\n");
	tz_to_local(since, &tm);
	printf("since %04d-%02d-%02d: %ld sent, %ld failed%s\n",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, s->sent_since,
	    s->failed_since, s->failed_since ? " (see: nudgectl outbox --status "
	    "failed)" : "");
	printf("unreadable:  %ld booking row%s%s\n", s->bad_rows,
	    s->bad_rows == 1 ? "" : "s", s->bad_rows ? " (see: nudgectl "
	    "problems)" : "");
}

/* The failure digest's line; 1 (why gets ", ...") when something waits. */
static int
status_digest(struct ctx *c, const struct store_status *s, struct sbuf *why)
{
	char buf[32], *last = NULL;
	int attention = 0;
	time_t t;

	printf("digest:      ");
	if (store_state_get(c->st, "alert.last", &last) ==
	    STORE_FOUND && last != NULL &&
	    tz_parse_utc(last, &t) == 0)
		printf("last sent %s", ctl_when_short(last, buf, sizeof buf));
	else
		printf("none sent yet");
	printf("; %ld failure%s and %ld unreadable row%s not yet reported\n",
	    s->failed_unreported, s->failed_unreported == 1 ? "" : "s",
	    s->bad_unreported, s->bad_unreported == 1 ? "" : "s");
	free(last);
	if (s->failed_unreported > 0) {
		attention = 1;
		sbuf_printf(why, ", %ld failed message%s not yet reported",
		    s->failed_unreported, s->failed_unreported == 1 ? "" : "s");
	}
	if (s->bad_rows > 0) {
		attention = 1;
		sbuf_printf(why, ", %ld unreadable row%s", s->bad_rows,
		    s->bad_rows == 1 ? "" : "s");
	}
	return attention;
}

int
cmd_status(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "since", required_argument, NULL, O_SINCE },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	struct store_status s;
	struct sbuf why = { NULL, 0, 0 };
	const char *since_s = NULL;
	char err[512];
	time_t since = 0;
	int ch, rc, k, attention = 0;

	optind = 0;
	while ((ch = ctl_getopt(c, argc, argv, ":h", lo, &rc)) != -1) {
		if (ch == O_SINCE)
			since_s = optarg;
	}
	if (rc != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = ctl_no_args(c, argc, argv)) != 0 ||
	    (rc = ctl_ctx_open(c)) != 0)
		return rc;
	if (since_s != NULL &&
	    (rc = ctl_date_arg(c, "--since", since_s, &since)) != 0)
		return rc;
	if (since == 0)
		since = time(NULL) - 7L * 86400;
	if (store_status_read(c->st, since, &s, err, sizeof err) != 0)
		return ctl_fail(EX_IOERR, "%s", err);
	status_service(c);
	last_pass(c);
	for (k = 0; k < CHAN_N; k++)
		if (channel(c, (enum chan)k, &s)) {
			attention = 1;
			sbuf_printf(&why, ", %s channel paused",
			    chan_name((enum chan)k));
		}
	status_counts(&s, since);
	attention |= ctl_cal_status(c, &why);	/* calendar feeds (issue 10) */
	attention |= status_digest(c, &s, &why);
	if (attention)
		printf("ATTENTION:   %s\n", sbuf_str(&why) + 2);
	else
		printf("all well:    nothing needs attention\n");
	sbuf_free(&why);
	return attention ? 1 : 0;
}

int
cmd_problems(struct ctx *c, int argc, char **argv)
{
	struct store_problem *p;
	size_t n, i;
	char err[512], buf[32], stamp[TZ_UTC_LEN];
	int rc;

	if ((rc = ctl_args_none(c, argc, argv)) != 0 ||
	    (rc = ctl_ctx_open(c)) != 0)
		return rc == DONE ? 0 : rc;
	if (store_problems(c->st, &p, &n, err, sizeof err) != 0)
		return ctl_fail(EX_IOERR, "%s", err);
	if (n == 0)
		printf("no unreadable rows: nudged reads every booking row\n");
	for (i = 0; i < n; i++) {
		if (i == 0)
			printf("%-13s %6s  %-16s %s\n", "TABLE", "ROW", "SINCE",
			    "PROBLEM");
		tz_format_utc(p[i].first_seen, stamp);
		flat(p[i].what);
		printf("%-13s %6lld  %-16s %s\n", p[i].table, p[i].id,
		    p[i].first_seen ? ctl_when_short(stamp, buf, sizeof buf) :
		    "-", p[i].what);
	}
	if (n > 0)
		printf("These rows are skipped (no message goes for them) until "
		    "they are fixed in the booking tool; nudged notices the fix "
		    "by itself.\n");
	store_problems_free(p, n);
	return 0;
}
