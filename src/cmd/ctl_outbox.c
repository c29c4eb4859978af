/*
 * ctl_outbox: what nudged will send and what it sent (upcoming, outbox),
 * and one real test message (send-test).  upcoming and send-test go
 * through deliver.c as the daemon does; outbox only reads the messages.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>


#include "cmd/ctl.h"
#include "engine/deliver.h"
#include "base/tz.h"
#include "transport/xfer.h"

#ifndef NUDGED_SYSCONFDIR
#define NUDGED_SYSCONFDIR	"/etc"
#endif

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
	while ((ch = ctl_getopt(c, argc, argv, ":h", lo, &rc)) != -1) {
		if (ch == O_DAYS) {
			if ((rc = ctl_num(c, "--days", optarg, 1, 366,
			    &days)) != 0)
				return rc;
		} else if (ch == O_NOW) {
			if (tz_parse_utc(optarg, &now) == -1)
				return ctl_bad_date(c, "--now", optarg,
				    "9999-99-99T99:99:99Z",
				    "YYYY-MM-DDTHH:MM:SSZ (UTC)");
		}
	}
	if (rc != 0)
		return rc == DONE ? 0 : rc;
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

/*
 * Where the unit files load credential name from for this config:
 * DIR/NAME for DIR/nudged.conf (nudged.service), DIR/INSTANCE.NAME for
 * DIR/INSTANCE.conf (nudged@INSTANCE.service).  Into buf.
 */
static const char *
test_cred_path(const char *conf, const char *name, char *buf, size_t len)
{
	const char *base = strrchr(conf, '/');
	size_t dir = base != NULL ? (size_t)(base - conf) : 0, n;

	base = base != NULL ? base + 1 : conf;
	n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".conf") == 0)
		n -= 5;
	if (n == 6 && strncmp(base, "nudged", 6) == 0)
		snprintf(buf, len, "%.*s%s%s", (int)dir, conf, dir ? "/" : "",
		    name);
	else
		snprintf(buf, len, "%.*s%s%.*s.%s", (int)dir, conf,
		    dir ? "/" : "", (int)n, base, name);
	return buf;
}

/* s for a shell command line: in single quotes unless plain (or holding one). */
static void
test_quote(const char *s, char *buf, size_t len)
{
	if (s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789/._-+@:,=")] == '\0' || strchr(s, '\'') != NULL)
		snprintf(buf, len, "%s", s);
	else
		snprintf(buf, len, "'%s'", s);
}

/*
 * The service gets its password from systemd (LoadCredential); a
 * practitioner's shell has none, and the server's 535 would read as a
 * wrong password.  Say what is missing instead: 0, or EX_CONFIG.
 */
static int
test_secrets(const struct ctx *c, const char *to)
{
	char cred[1024], abs[PATH_MAX], cwd[PATH_MAX], q[2][PATH_MAX + 8];
	/*
	 * systemd-run's command runs from /: the config by its full path, its
	 * symlinks kept (the unit names the credential after the name used).
	 */
	const char *conf = c->conf->path;

	if (conf[0] != '/' && getcwd(cwd, sizeof(cwd)) != NULL &&
	    (size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, conf) < sizeof(abs))
		conf = abs;
	test_cred_path(conf, strchr(to, '@') != NULL ? "smtp-password" :
	    "sms-token", cred, sizeof(cred));
	test_quote(cred, q[0], sizeof(q[0]));
	test_quote(conf, q[1], sizeof(q[1]));

	if (strchr(to, '@') != NULL && c->conf->email.enabled &&
	    c->conf->email.username != NULL && c->conf->email.password == NULL)
		return ctl_fail(EX_CONFIG, "%s: no SMTP password was available "
		    "to nudgectl (the config gives no email.password or "
		    "password_file, and there is no systemd credential "
		    "smtp-password: only the service gets that one); nothing "
		    "was sent.  Either set email.password_file to a file "
		    "readable by group nudged, or run: sudo systemd-run --pipe "
		    "--wait -p LoadCredential=smtp-password:%s nudgectl -c %s "
		    "send-test --to ADDRESS", c->cmd, q[0], q[1]);
	if (strchr(to, '@') == NULL && c->conf->sms.enabled &&
	    c->conf->sms.token == NULL && c->conf->sms.provider != NULL &&
	    strcmp(c->conf->sms.provider, "generic") != 0)
		return ctl_fail(EX_CONFIG, "%s: no SMS token was available to "
		    "nudgectl (the config gives no sms.token or token_file, "
		    "and there is no systemd credential sms-token: only the "
		    "service gets that one); nothing was sent.  Either set "
		    "sms.token_file to a file readable by group nudged, or run: "
		    "sudo systemd-run --pipe --wait -p LoadCredential=sms-token:"
		    "%s nudgectl -c %s send-test --to NUMBER", c->cmd, q[0],
		    q[1]);
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
	while ((ch = ctl_getopt(c, argc, argv, ":h", lo, &rc)) != -1) {
		if (ch == O_TO)
			to = optarg;
	}
	if (rc != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = ctl_no_args(c, argc, argv)) != 0)
		return rc;
	if (to == NULL)
		return ctl_fail(EX_USAGE, "%s: --to is required", c->cmd);
	if ((rc = ctl_text_ok(c, "--to", to, 254)) != 0 ||
	    (rc = ctl_ctx_open(c)) != 0)
		return rc;
	if ((rc = test_secrets(c, to)) != 0)
		return rc;
	/*
	 * nudged's single-deliverer lock: a nudged starting while the test
	 * message is 'sending' would take it for one a crash left behind
	 * (store_recover), and nudged's exit for a held lock is 75.
	 */
	if ((r = store_lock(c->st, err, sizeof err)) != STORE_OK)
		return ctl_fail(r == STORE_HELD ? EX_TEMPFAIL : EX_IOERR,
		    "%s: %s; nothing was sent: a test goes only while no "
		    "nudged delivers (stop the service first)", c->cmd, err);
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
