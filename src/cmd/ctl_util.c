/*
 * ctl_util: the helpers every nudgectl command uses (options, errors,
 * output, opening the config and database, transactions, reporting the
 * store's outcomes).  Split from ctl.c so calls go one way: ctl.c dispatches to the
 * command files, and they (and ctl.c) call down into this file.
 */
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "cmd/ctl.h"
#include "base/log.h"
#include "store/store.h"
#include "store/store_privacy.h"
#include "base/tz.h"
#include "base/utf8.h"
#include "base/util.h"

/* The service's group (systemd/nudged.sysusers). */
#define CTL_GROUP	"nudged"

/* fmt into buf, one line: control characters from user data become '?'. */
static void
line_vformat(char *buf, size_t len, const char *fmt, va_list ap)
{
	char *p;

	vsnprintf(buf, len, fmt, ap);
	for (p = buf; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

/* One line on stderr. */
int
ctl_fail(int code, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	line_vformat(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fprintf(stderr, "nudgectl: %s\n", buf);
	return code;
}

/* A warning: the command goes on.  One line on stderr, like ctl_fail. */
void
ctl_warn(const struct ctx *c, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	line_vformat(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fprintf(stderr, "nudgectl: %s: warning: %s\n", c->cmd, buf);
}

void
ctl_outf(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sbuf_vprintf(&c->out, fmt, ap);
	va_end(ap);
}

int
ctl_help(const struct ctx *c)
{
	fputs(c->usage, stdout);
	return 0;
}

int
ctl_badopt(const struct ctx *c, int ch, char **argv)
{
	char opt[3] = { '-', (char)optopt, '\0' };
	const char *a = (optopt > 0 && optopt < 128) ? opt : argv[optind - 1];

	if (ch == ':')
		return ctl_fail(EX_USAGE, "%s: option %s needs a value "
		    "(see --help)", c->cmd, a);
	return ctl_fail(EX_USAGE, "%s: unknown option %s (see --help)",
	    c->cmd, a);
}

int
ctl_no_args(const struct ctx *c, int argc, char **argv)
{
	if (optind < argc)
		return ctl_fail(EX_USAGE, "%s: unexpected argument '%s' "
		    "(see --help)", c->cmd, argv[optind]);
	return 0;
}

int
ctl_num(const struct ctx *c, const char *opt, const char *s, long min, long max,
    long *out)
{
	if (parse_long(s, min, max, out) == -1)
		return ctl_fail(EX_USAGE, "%s: %s wants a number from %ld to "
		    "%ld, not '%s'", c->cmd, opt, min, max, s);
	return 0;
}

int
ctl_id_arg(const struct ctx *c, const char *opt, const char *s, long long *id)
{
	long v;

	if (parse_long(s, 1, LONG_MAX, &v) == -1)
		return ctl_fail(EX_USAGE, "%s: %s wants a numeric id, not '%s'",
		    c->cmd, opt, s);
	*id = v;
	return 0;
}

/* The single positional ID of cancel, client show, case close, ... */
int
ctl_one_id(const struct ctx *c, int argc, char **argv, const char *what,
    long long *id)
{
	if (optind >= argc)
		return ctl_fail(EX_USAGE, "%s: which %s? give its id "
		    "(see --help)", c->cmd, what);
	if (optind + 1 < argc)
		return ctl_fail(EX_USAGE, "%s: unexpected argument '%s'",
		    c->cmd, argv[optind + 1]);
	return ctl_id_arg(c, what, argv[optind], id);
}

int
ctl_getopt(struct ctx *c, int argc, char **argv, const char *shorts,
    const struct option *lo, int *rc)
{
	int ch = getopt_long(argc, argv, shorts, lo, NULL);

	*rc = 0;
	if (ch == 'h') {
		ctl_help(c);
		*rc = DONE;
		return -1;
	}
	if (ch == ':' || ch == '?') {
		*rc = ctl_badopt(c, ch, argv);
		return -1;
	}
	return ch;
}

static int
opts_none(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = { HELP_OPT, { NULL, 0, NULL, 0 } };
	int rc;

	optind = 0;
	while (ctl_getopt(c, argc, argv, ":h", lo, &rc) != -1)
		continue;
	return rc;
}

/* No option but --help, and no arguments.  0, DONE or an exit code. */
int
ctl_args_none(struct ctx *c, int argc, char **argv)
{
	int rc;

	if ((rc = opts_none(c, argc, argv)) != 0)
		return rc;
	return ctl_no_args(c, argc, argv);
}

/* Only --help and the one positional id: 0, DONE or an exit code. */
int
ctl_args_id(struct ctx *c, int argc, char **argv, const char *what,
    long long *id)
{
	int rc;

	if ((rc = opts_none(c, argc, argv)) != 0)
		return rc;
	return ctl_one_id(c, argc, argv, what, id);
}

/*
 * Text that reaches templates, headers and SMS: non-empty, valid UTF-8,
 * no control characters (no CR/LF either: a header must never get one).
 */
int
ctl_text_ok(const struct ctx *c, const char *what, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;

	if (*p == '\0')
		return ctl_fail(EX_DATAERR, "%s: %s must not be empty", c->cmd,
		    what);
	/* nudged reads a name of blanks as a row it cannot use (store_read.c) */
	if (s[strspn(s, " ")] == '\0')
		return ctl_fail(EX_DATAERR, "%s: %s must not be only blanks",
		    c->cmd, what);
	if (strlen(s) > max)
		return ctl_fail(EX_DATAERR, "%s: %s is longer than %zu bytes",
		    c->cmd, what, max);
	while (*p != '\0') {
		uint32_t cp;
		size_t n = utf8_next(p, &cp);

		if (n == 0)
			goto utf;
		/* C0, DEL and C1 */
		if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f))
			goto ctl;
		p += n;
	}
	return 0;
ctl:
	return ctl_fail(EX_DATAERR, "%s: %s contains a control character "
	    "(line break, tab, ...)", c->cmd, what);
utf:
	return ctl_fail(EX_DATAERR, "%s: %s is not valid UTF-8", c->cmd, what);
}

int
ctl_mode_arg(const struct ctx *c, const char *s, enum appt_mode *mode)
{
	if (appt_mode_parse(s, mode) == -1)
		return ctl_fail(EX_USAGE, "%s: --mode is in_person, online or "
		    "phone, not '%s'", c->cmd, s);
	return 0;
}

int
ctl_video_arg(const struct ctx *c, const char *url)
{
	int rc;

	if ((rc = ctl_text_ok(c, "--video-url", url, 500)) != 0)
		return rc;
	if ((strncmp(url, "https://", 8) != 0 &&
	    strncmp(url, "http://", 7) != 0) || strchr(url, ' ') != NULL)
		return ctl_fail(EX_DATAERR, "%s: --video-url must be an "
		    "http(s):// link without spaces", c->cmd);
	return 0;
}

/*
 * A date or time option that did not parse: "impossible" when it has the
 * right shape but names no real day or time (2026-02-30), else the form
 * wanted.  form as for tz_impossible(); want is how the form reads.
 */
int
ctl_bad_date(const struct ctx *c, const char *opt, const char *s,
    const char *form, const char *want)
{
	char why[128];

	if (tz_impossible(s, form, why, sizeof why))
		return ctl_fail(EX_USAGE, "%s: %s '%s' is an impossible date: %s",
		    c->cmd, opt, s, why);
	return ctl_fail(EX_USAGE, "%s: %s wants %s, not '%s'", c->cmd, opt,
	    want, s);
}

/* A local date option: midnight at its start, in UTC.  0 or exit code. */
int
ctl_date_arg(const struct ctx *c, const char *opt, const char *s, time_t *t)
{
	int y, mo, d;

	if (tz_parse_date(s, &y, &mo, &d) == -1)
		return ctl_bad_date(c, opt, s, "9999-99-99", "a date YYYY-MM-DD");
	if (tz_local_to_utc(y, mo, d, 0, 0, 0, t) == -1)
		return ctl_fail(EX_USAGE, "%s: cannot place %s in the practice's "
		    "time zone", c->cmd, s);
	return 0;
}

/* Print s left-aligned in width terminal columns (UTF-8 aware). */
void
ctl_pad(const char *s, int width)
{
	size_t w = utf8_width(s);

	fputs(s, stdout);
	for (; (int)w < width; w++)
		putchar(' ');
}

/* "2026-12-03 14:00" local, for tables; raw text when unreadable. */
const char *
ctl_when_short(const char *stored, char *buf, size_t len)
{
	struct tm tm;
	time_t t;

	if (stored == NULL)
		return "-";
	if (tz_parse_any(stored, &t) == -1)
		return stored;
	tz_to_local(t, &tm);
	snprintf(buf, len, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);
	return buf;
}

/* ---- configuration, database, transactions ---- */

/*
 * init as root before the install made the service's user: the folder
 * and the database are root's, and the service could not open them.
 */
static void
ctl_warn_no_user(const char *db)
{
	const char *slash = strrchr(db, '/');
	int dirlen = slash == NULL ? 1 : slash == db ? 1 : (int)(slash - db);

	fprintf(stderr, "nudgectl: warning: there is no %s user or group yet, "
	    "so the folder and the database belong to root and the service "
	    "cannot open them; create them (sudo make install, or "
	    "systemd-sysusers with nudged.sysusers), then: chown -R %s:%s "
	    "%.*s\n", CTL_GROUP, CTL_GROUP, CTL_GROUP, dirlen,
	    slash == NULL ? "." : db);
}

int
ctl_ctx_open(struct ctx *c)
{
	struct conf_diag errs = { NULL, 0 };
	char err[512];
	size_t i;
	int r, created;

	if (conf_load(c->confpath, &c->conf, &errs, NULL) == -1) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.lines[i]);
		if (errs.n == 0)
			ctl_fail(0, "%s: cannot load the config", c->confpath);
		conf_diag_free(&errs);
		c->conf = NULL;
		return EX_CONFIG;
	}
	conf_diag_free(&errs);
	if (tz_set(c->conf->practice.timezone, err, sizeof err) == -1)
		return ctl_fail(EX_CONFIG, "%s: %s", c->confpath, err);
	/* init runs before the service ever did: the folder may not exist. */
	if (c->init) {
		r = store_perm_mkdir(c->conf->database, CTL_GROUP, err,
		    sizeof err);
		if (r == STORE_ERR)
			return ctl_fail(EX_IOERR, "%s", err);
		if (r == STORE_NEW)
			printf("%s\n", err);
		if (r == STORE_NEW && geteuid() == 0 &&
		    getgrnam(CTL_GROUP) == NULL)
			ctl_warn_no_user(c->conf->database);
	}
	created = c->init && access(c->conf->database, F_OK) == -1;
	c->st = c->preview ? store_open_copy(c->conf->database, err, sizeof err) :
	    store_open(c->conf->database, err, sizeof err);
	/* err names the file (once). */
	if (c->st == NULL)
		return ctl_fail(EX_IOERR, "%s", err);
	/* `sudo nudgectl init` makes what the service would have made. */
	if (created && geteuid() == 0 &&
	    store_perm_give(c->conf->database, CTL_GROUP, err, sizeof err) != 0)
		return ctl_fail(EX_IOERR, "%s", err);
	return 0;
}

/* A permission problem is named as one, with the file (store_errmsg). */
int
ctl_dberr(struct ctx *c)
{
	char buf[512];

	return ctl_fail(EX_IOERR, "%s", store_errmsg(c->st, buf,
	    sizeof buf));
}

int
ctl_tx_begin(struct ctx *c)
{
	char err[512];
	int rc;

	/* (client forget opens the database first, to ask before it locks) */
	if (c->st == NULL && (rc = ctl_ctx_open(c)) != 0)
		return rc;
	if (store_begin(c->st, err, sizeof err) == -1)
		return ctl_fail(EX_IOERR, "%s", err);
	/* Consent changes others made before this command are theirs (issue 14). */
	if (store_consent_sync(c->st, time(NULL), STORE_HOW_OUTSIDE,
	    STORE_HOW_FIRST, NULL, err, sizeof err) == -1) {
		store_rollback(c->st);
		return ctl_fail(EX_IOERR, "%s", err);
	}
	return 0;
}

/* Commit when rc is 0, else roll back; then (and only then) report. */
int
ctl_tx_end(struct ctx *c, int rc)
{
	char err[512], how[160];

	/* Every consent value this command changed goes in consent_log. */
	if (rc == 0 && store_consent_sync(c->st, time(NULL), ctl_how(c, how,
	    sizeof how), ctl_how(c, how, sizeof how), NULL, err, sizeof err) == -1)
		rc = ctl_fail(EX_IOERR, "%s", err);
	if (rc == 0 && store_commit(c->st, err, sizeof err) == -1)
		rc = ctl_fail(EX_IOERR, "%s", err);
	if (rc != 0) {
		store_rollback(c->st);
		return rc;
	}
	fputs(sbuf_str(&c->out), stdout);
	return 0;
}

int
ctl_ioerr(const char *err)
{
	return ctl_fail(EX_IOERR, "%s", err);
}

int
ctl_found(const struct ctx *c, int found, const char *what, long long id,
    const char *err)
{
	switch (found) {
	case STORE_FOUND:
		return 0;
	case STORE_GONE:
		return ctl_fail(EX_DATAERR, "%s: %s %lld does not exist",
		    c->cmd, what, id);
	default:
		return ctl_ioerr(err);
	}
}

int
ctl_id_tx(struct ctx *c, int argc, char **argv, const char *what,
    long long *id)
{
	int rc;

	if ((rc = ctl_args_id(c, argc, argv, what, id)) != 0)
		return rc;
	return ctl_tx_begin(c);
}

/*
 * consent_log.how for this command: "nudgectl client edit (user sam)";
 * under sudo the invoking user too.
 */
const char *
ctl_how(const struct ctx *c, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(getuid());
	const char *sudo = getenv("SUDO_USER");
	char uid[32];

	snprintf(uid, sizeof uid, "uid %ld", (long)getuid());
	if (sudo != NULL && (sudo[0] == '\0' || strlen(sudo) > 64 ||
	    strpbrk(sudo, "\r\n") != NULL))
		sudo = NULL;
	snprintf(buf, len, "nudgectl %s (user %s%s%s)", c->cmd,
	    pw != NULL ? pw->pw_name : uid, sudo ? ", sudo by " : "",
	    sudo ? sudo : "");
	return buf;
}
