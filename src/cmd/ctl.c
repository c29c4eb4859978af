/*
 * nudgectl: the practitioner's tool: data entry, preview, outbox, test sends.
 *
 * Every command parses its options first (so --help needs no config or
 * database), then loads the config and opens the database, then does all
 * its reads and writes inside one BEGIN IMMEDIATE transaction.  What a
 * command did is collected and printed only after the commit: a line on
 * stdout always means the change is in the database, and an error (one
 * line on stderr, a sysexits code) means nothing was changed.
 *
 * Exit codes: 64 usage (unknown option, malformed number, date or time),
 * 65 data refused (unknown or closed id, bad address, a time in the past),
 * 74 database, 75 a test send that may succeed later, 78 config.
 *
 * nudgectl never plans or sends by itself: upcoming and send-test go
 * through deliver.c like the daemon does.
 *
 * This file: main, dispatch and the command table, the helpers every
 * command uses (options, errors, output, database); the commands live in
 * ctl_people.c, ctl_diary.c, ctl_outbox.c and ctl_cal.c (shared: ctl.h).
 */
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "conf/conf.h"
#include "cmd/ctl.h"
#include "transport/xfer.h"
#include "base/log.h"
#include "store/store.h"
#include "store/store_privacy.h"
#include "base/tz.h"
#include "base/utf8.h"
#include "base/util.h"

#ifndef NUDGED_SYSCONFDIR
#define NUDGED_SYSCONFDIR	"/etc"
#endif
#define CTL_CONF	NUDGED_SYSCONFDIR "/nudged/nudged.conf"
/* The service's group (systemd/nudged.sysusers). */
#define CTL_GROUP	"nudged"

struct cmd {
	const char	*group;		/* "client"; NULL: a command of its own */
	const char	*name;
	int		(*fn)(struct ctx *, int, char **);
	const char	*desc;
	const char	*usage;
};

/* One line on stderr; control characters from user data become '?'. */
int
ctl_fail(int code, const char *fmt, ...)
{
	char buf[1024], *p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	for (p = buf; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	fprintf(stderr, "nudgectl: %s\n", buf);
	return code;
}

/* A warning: the command goes on.  One line on stderr, like ctl_fail. */
void
ctl_warn(const struct ctx *c, const char *fmt, ...)
{
	char buf[1024], *p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	for (p = buf; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
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

static int
opts_none(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = { HELP_OPT, { NULL, 0, NULL, 0 } };
	int ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (ch == 'h') {
			ctl_help(c);
			return DONE;
		}
		return ctl_badopt(c, ch, argv);
	}
	return 0;
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
		if (r == -1)
			return ctl_fail(EX_IOERR, "%s", err);
		if (r == 1)
			printf("%s\n", err);
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
	c->db = store_db(c->st);
	return 0;
}

/* A permission problem is named as one, with the file (store_errmsg). */
static int
dberr(struct ctx *c)
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

/*
 * Prepare sql and bind parameters ?1, ?2, ... from types: 't' const char *
 * (NULL binds NULL), 'i' int, 'I' long long.  NULL on error (reported).
 */
static sqlite3_stmt *
q_vprep(struct ctx *c, const char *sql, const char *types, va_list ap)
{
	sqlite3_stmt *s;
	const char *v;
	int i, rc = SQLITE_OK;

	if (sqlite3_prepare_v2(c->db, sql, -1, &s, NULL) != SQLITE_OK) {
		dberr(c);
		return NULL;
	}
	for (i = 0; types[i] != '\0' && rc == SQLITE_OK; i++) {
		switch (types[i]) {
		case 't':
			v = va_arg(ap, const char *);
			rc = v == NULL ? sqlite3_bind_null(s, i + 1) :
			    sqlite3_bind_text(s, i + 1, v, -1, SQLITE_TRANSIENT);
			break;
		case 'i':
			rc = sqlite3_bind_int(s, i + 1, va_arg(ap, int));
			break;
		default:
			rc = sqlite3_bind_int64(s, i + 1, va_arg(ap, long long));
			break;
		}
	}
	if (rc != SQLITE_OK) {
		dberr(c);
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

sqlite3_stmt *
ctl_q_prep(struct ctx *c, const char *sql, const char *types, ...)
{
	sqlite3_stmt *s;
	va_list ap;

	va_start(ap, types);
	s = q_vprep(c, sql, types, ap);
	va_end(ap);
	return s;
}

/* A statement without rows.  0, or EX_IOERR (reported). */
int
ctl_q_exec(struct ctx *c, const char *sql, const char *types, ...)
{
	sqlite3_stmt *s;
	va_list ap;
	int rc;

	va_start(ap, types);
	s = q_vprep(c, sql, types, ap);
	va_end(ap);
	if (s == NULL)
		return EX_IOERR;
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : dberr(c);
	sqlite3_finalize(s);
	return rc;
}

/* Step: 1 a row, 0 done, -1 error (reported). */
int
ctl_q_step(struct ctx *c, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	dberr(c);
	return -1;
}

static char *
col(sqlite3_stmt *s, int i)
{
	return xstrdup((const char *)sqlite3_column_text(s, i));
}

const char *
ctl_ctext(sqlite3_stmt *s, int i)
{
	const char *v = (const char *)sqlite3_column_text(s, i);

	return v != NULL ? v : "";
}

/*
 * A row of one of the contract's tables, as text.  Returns 0 when found
 * (columns copied into v[0..n-1], caller frees), else an exit code with
 * the error reported: 65 "<what> N does not exist", 74 database.
 */
int
ctl_q_row(struct ctx *c, const char *what, long long id, const char *sql,
    char **v, int n)
{
	sqlite3_stmt *s;
	int i, r;

	if ((s = ctl_q_prep(c, sql, "I", id)) == NULL)
		return EX_IOERR;
	r = ctl_q_step(c, s);
	for (i = 0; i < n; i++)
		v[i] = r == 1 ? col(s, i) : NULL;
	sqlite3_finalize(s);
	if (r == -1)
		return EX_IOERR;
	if (r == 0)
		return ctl_fail(EX_DATAERR, "%s: %s %lld does not exist",
		    c->cmd, what, id);
	return 0;
}

void
ctl_free_row(char **v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(v[i]);
}

/*
 * The start of cancel, client opt-out, case close, ...: the command's
 * one id (ctl_args_id), a transaction, and that row (ctl_q_row).  0: go
 * on inside the transaction; else DONE or an exit code, with nothing
 * left open.
 */
int
ctl_id_row(struct ctx *c, int argc, char **argv, const char *what,
    const char *sql, char **v, int n, long long *id)
{
	int rc;

	if ((rc = ctl_args_id(c, argc, argv, what, id)) != 0 ||
	    (rc = ctl_tx_begin(c)) != 0)
		return rc;
	if ((rc = ctl_q_row(c, what, *id, sql, v, n)) != 0)
		return ctl_tx_end(c, rc);
	return 0;
}

/* ---- init: the database itself ---- */

static int
cmd_init(struct ctx *c, int argc, char **argv)
{
	sqlite3_stmt *s;
	int rc, r;

	c->init = 1;
	if ((rc = ctl_args_none(c, argc, argv)) != 0 ||
	    (rc = ctl_ctx_open(c)) != 0)
		return rc == DONE ? 0 : rc;
	if ((s = ctl_q_prep(c, "PRAGMA user_version", "")) == NULL)
		return EX_IOERR;
	if ((r = ctl_q_step(c, s)) == 1)
		printf("database %s ready (schema %d)\n", c->conf->database,
		    sqlite3_column_int(s, 0));
	sqlite3_finalize(s);
	return r == 1 ? 0 : r == 0 ? dberr(c) : EX_IOERR;
}

/* ---- commands ---- */

#define CLIENT_OPTS \
	"  --name NAME            full name, e.g. 'Sam Taylor'\n" \
	"  --first-name NAME      greeting name (default: first word of the name)\n" \
	"  --email ADDRESS        plain address, e.g. sam@example.org\n" \
	"  --phone NUMBER         as typed: '07700 900123' or '+447700900123'\n" \
	"  --sms-consent          the client agreed to texts (default: no)\n" \
	"  --no-email-consent     no email (default: email allowed)\n" \
	"  --discreet             neutral wording, homework by email only\n"

static const struct cmd cmds[] = {
	{ NULL, "init", cmd_init, "create or migrate the database",
	  "usage: nudgectl init\n"
	  "Create the database named by the config (or migrate it forward).\n" },
	{ "client", "add", cmd_client_add, "add a client",
	  "usage: nudgectl client add --name NAME [--first-name NAME] "
	  "[--email ADDRESS]\n"
	  "                           [--phone NUMBER] [--sms-consent] "
	  "[--no-email-consent] [--discreet]\n" CLIENT_OPTS },
	{ "client", "list", cmd_client_list, "list clients",
	  "usage: nudgectl client list\n"
	  "FLAGS: email / sms = consents given; discreet; OPTED-OUT = sent "
	  "nothing.\n" },
	{ "client", "show", cmd_client_show, "show one client",
	  "usage: nudgectl client show ID\n" },
	{ "client", "edit", cmd_client_edit, "change a client",
	  "usage: nudgectl client edit ID [options of client add]\n"
	  "        [--no-sms-consent] [--email-consent] [--no-discreet]\n"
	  "        [--clear-first-name] [--clear-email] [--clear-phone]\n"
	  CLIENT_OPTS
	  "  --no-sms-consent, --email-consent, --no-discreet   the opposites\n"
	  "  --clear-first-name, --clear-email, --clear-phone   remove a value\n" },
	{ "client", "opt-out", cmd_client_optout, "send a client nothing more",
	  "usage: nudgectl client opt-out ID\n"
	  "Nothing more is sent to this client (until opt-in).\n" },
	{ "client", "opt-in", cmd_client_optin, "undo an opt-out",
	  "usage: nudgectl client opt-in ID\n" },
	{ "client", "delete", cmd_client_delete, "delete a client typed by "
	  "mistake",
	  "usage: nudgectl client delete ID\n"
	  "Only a client with no appointments and no messages on record "
	  "(else: opt-out).\n" },
	{ "client", "export", cmd_client_export, "everything held about a client",
	  "usage: nudgectl client export ID [--format json|text]\n"
	  "Everything the database holds about the client (a subject access\n"
	  "request): their row, cases, appointments, homework, outbox rows and\n"
	  "consent history; of a partner, only the name.  Default: JSON.\n" },
	{ "client", "forget", cmd_client_forget, "erase a client's personal data",
	  "usage: nudgectl client forget ID [--yes]\n"
	  "Remove the client's name, address and phone everywhere, cancel their\n"
	  "pending messages, take them out of their cases (a partner's case\n"
	  "becomes theirs alone) and compact the database file.  Asks first;\n"
	  "--yes: do not ask (for scripts).  Refused while a message to them is\n"
	  "being sent.\n" },
	{ "case", "add", cmd_case_add, "add a case (one person or a couple)",
	  "usage: nudgectl case add --label LABEL --client ID [--client ID]\n"
	  "A case has one client, or two for a couple; each must exist.\n" },
	{ "case", "list", cmd_case_list, "list cases and their members",
	  "usage: nudgectl case list\n" },
	{ "case", "close", cmd_case_close, "close a case: no more messages",
	  "usage: nudgectl case close ID [--cancel-future]\n"
	  "  --cancel-future  also cancel its booked appointments ahead (also "
	  "on a\n"
	  "                   closed case); without it they stay booked, "
	  "unreminded\n" },
	{ "case", "reopen", cmd_case_reopen, "reopen a closed case",
	  "usage: nudgectl case reopen ID\n" },
	{ NULL, "book", cmd_book, "book an appointment (or a weekly series)",
	  "usage: nudgectl book --case ID --at \"YYYY-MM-DD HH:MM\" "
	  "[--kind KIND] [--duration MIN]\n"
	  "                     [--mode MODE] [--video-url URL] [--weekly N]\n"
	  "                     [--for CLIENT]\n"
	  "  --at TIME        local time in practice.timezone\n"
	  "  --kind KIND      assessment, session (default) or call\n"
	  "  --duration MIN   default 60; 90 for an assessment, 15 for a call\n"
	  "  --mode MODE      in_person (default), online, phone (default for "
	  "a call)\n"
	  "  --video-url URL  link for an online session (default: "
	  "practice.video_url)\n"
	  "  --weekly N       N appointments, a week apart, at the same local "
	  "time;\n"
	  "                   dates in practice.closed are skipped\n"
	  "  --for CLIENT     only this member of the case gets its messages\n"
	  "                   (e.g. the partner who booked the free call)\n"
	  "Another case's appointment at the same time is warned about.\n" },
	{ NULL, "appointments", cmd_appointments, "list appointments",
	  "usage: nudgectl appointments [--case ID] [--all]\n"
	  "Booked appointments from now on; --all: past and cancelled too.\n" },
	{ NULL, "cancel", cmd_cancel, "cancel an appointment",
	  "usage: nudgectl cancel ID\n"
	  "Pending reminders are withdrawn; a client who already had one gets "
	  "a notice.\n" },
	{ NULL, "move", cmd_move, "move an appointment to another time",
	  "usage: nudgectl move ID --to \"YYYY-MM-DD HH:MM\"\n"
	  "  --to TIME        the new local time in practice.timezone\n" },
	{ "homework", "add", cmd_homework_add, "add homework prompts for a case",
	  "usage: nudgectl homework add --case ID --title TITLE --prompt TEXT "
	  "--starts-on DATE\n"
	  "                             [--ends-on DATE] [--every DAYS] "
	  "[--at HH:MM]\n"
	  "  --starts-on DATE  first day, YYYY-MM-DD (local)\n"
	  "  --ends-on DATE    last day (default: until the next session)\n"
	  "  --every DAYS      1 = daily (default 2)\n"
	  "  --at HH:MM        local time of the prompt (default: homework.at)\n" },
	{ "homework", "list", cmd_homework_list, "list homework",
	  "usage: nudgectl homework list [--case ID]\n" },
	{ "homework", "stop", cmd_homework_stop, "stop a homework's prompts",
	  "usage: nudgectl homework stop ID\n" },
	{ NULL, "edit", cmd_appt_edit, "change an appointment's mode, length, "
	  "link or who it is for",
	  "usage: nudgectl edit APPOINTMENT [--mode MODE] [--duration MIN]\n"
	  "                     [--video-url URL] [--for CLIENT | --everyone]\n"
	  "  --mode MODE      in_person, online or phone\n"
	  "  --duration MIN   its length in minutes\n"
	  "  --video-url URL  its own link (online only)\n"
	  "  --for CLIENT     only this member of the case gets its messages\n"
	  "  --everyone       every member of the case does again\n"
	  "Clients already reminded get a change notice (notify_move), not a "
	  "cancellation.\n" },
	{ NULL, "templates", cmd_templates, "print the built-in wording",
	  "usage: nudgectl templates [GROUP]\n"
	  "Without GROUP: the built-in groups and the values templates may "
	  "use.\nWith GROUP: its email_subject, email_text and sms, as "
	  "written.\n" },
	{ NULL, "upcoming", cmd_upcoming, "what will be sent, when, to whom",
	  "usage: nudgectl upcoming [--days N] [--now YYYY-MM-DDTHH:MM:SSZ]\n"
	  "Every message due in the next N days (default 14), rendered. "
	  "Writes nothing.\n" },
	{ NULL, "outbox", cmd_outbox, "what was sent or failed, and why",
	  "usage: nudgectl outbox [--status STATUS] [--failed] [--client ID]\n"
	  "                       [--since YYYY-MM-DD] [--until YYYY-MM-DD] "
	  "[--limit N]\n"
	  "  --status STATUS  pending, sending, sent, failed, skipped or "
	  "cancelled\n"
	  "  --failed         the same as --status failed\n"
	  "  --client ID      messages to that client only\n"
	  "  --since DATE     due on or after that local date\n"
	  "  --until DATE     due on or before that local date\n"
	  "  --limit N        at most N rows (default 50)\n"
	  "Settled messages first, the newest first; then those waiting, the "
	  "next first.\n" },
	{ NULL, "report", cmd_report, "the week's messages per client",
	  "usage: nudgectl report [--week] [YYYY-MM-DD]\n"
	  "Per client: messages sent, failed, cancelled, skipped and waiting "
	  "in the\n"
	  "week (Monday to Sunday) holding the date (default: today).\n" },
	{ NULL, "status", cmd_status, "is all well? (exit 1: needs attention)",
	  "usage: nudgectl status [--since YYYY-MM-DD]\n"
	  "Whether nudged is running, its last pass, paused channels, what "
	  "waits,\n"
	  "what was sent and failed since the date (default: 7 days ago), "
	  "unreadable\n"
	  "rows and the digest.  Exit 0: nothing needs attention; 1: a "
	  "channel is\n"
	  "paused, failures not yet reported, or unreadable rows.\n" },
	{ NULL, "problems", cmd_problems, "booking rows nudged cannot read",
	  "usage: nudgectl problems\n"
	  "Rows of the booking tables that nudged skips because it cannot "
	  "read them.\n" },
	{ NULL, "alert", cmd_alert, "mail the practitioner that nudged failed",
	  "usage: nudgectl alert --service-failed\n"
	  "Mail practice.email that the service stopped for good (run by\n"
	  "systemd's nudged-failed.service through OnFailure=), with the same\n"
	  "SMTP settings as nudged.\n" },
	{ NULL, "send-test", cmd_send_test, "send one real test message",
	  "usage: nudgectl send-test --to ADDRESS_OR_PHONE\n"
	  "An email address goes by email, a phone number by SMS.\n" },
	{ NULL, "import", cmd_import, "book appointments from an .ics or .csv file",
	  "usage: nudgectl import FILE [--dry-run] [--columns MAP] "
	  "[--now YYYY-MM-DDTHH:MM:SSZ]\n"
	  "Events are matched to cases by [case label] in the summary or by an\n"
	  "attendee's email; the same file imported again changes nothing.\n"
	  "  --dry-run       print what would be booked, moved, cancelled and\n"
	  "                  left unmatched; write nothing\n"
	  "  --columns MAP   CSV: our column = their header, e.g.\n"
	  "                  'start=Start Date & Time,email=Invitee Email'\n" },
	{ "calendar", "sync", cmd_calendar_sync, "fetch the calendar feeds now",
	  "usage: nudgectl calendar sync [NAME]\n"
	  "Fetch every feed of the config (or the one named) once and apply it.\n"
	  "Exit 75 when a feed could not be read (nothing of it changed).\n" },
	{ "calendar", "unmatched", cmd_calendar_unmatched,
	  "calendar events that matched no case",
	  "usage: nudgectl calendar unmatched\n"
	  "Events the last sync of each feed (or the last import) could not\n"
	  "match to a case, and why. They are never booked.\n" },
};
#define NCMDS	(sizeof cmds / sizeof cmds[0])

static void
usage_main(FILE *f)
{
	char name[32];
	size_t i;

	fputs("usage: nudgectl [-c FILE] COMMAND [OPTIONS]\n"
	    "       nudgectl COMMAND --help\n\n"
	    "  -c, --config FILE   default " CTL_CONF "\n\ncommands:\n", f);
	for (i = 0; i < NCMDS; i++) {
		snprintf(name, sizeof name, "%s%s%s", cmds[i].group ?
		    cmds[i].group : "", cmds[i].group ? " " : "", cmds[i].name);
		fprintf(f, "  %-18s %s\n", name, cmds[i].desc);
	}
}

static int
usage_group(const char *group)
{
	size_t i;

	for (i = 0; i < NCMDS; i++)
		if (cmds[i].group && strcmp(cmds[i].group, group) == 0)
			fputs(cmds[i].usage, stdout);
	return 0;
}

static int
dispatch(struct ctx *c, int argc, char **argv)
{
	const char *group = NULL;
	size_t i;

	for (i = 0; i < NCMDS; i++)
		if (cmds[i].group && strcmp(cmds[i].group, argv[0]) == 0)
			group = cmds[i].group;
	if (group != NULL) {
		if (argc < 2)
			return ctl_fail(EX_USAGE, "%s: which one? (see "
			    "nudgectl %s --help)", group, group);
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
			return usage_group(group);
		argc--, argv++;
	}
	for (i = 0; i < NCMDS; i++) {
		if (strcmp(cmds[i].name, argv[0]) != 0 || (group == NULL) !=
		    (cmds[i].group == NULL) || (group &&
		    strcmp(group, cmds[i].group) != 0))
			continue;
		snprintf(c->cmd, sizeof c->cmd, "%s%s%s", group ? group : "",
		    group ? " " : "", cmds[i].name);
		c->usage = cmds[i].usage;
		return cmds[i].fn(c, argc, argv);
	}
	if (group != NULL)
		return ctl_fail(EX_USAGE, "%s: unknown subcommand '%s' (see "
		    "nudgectl %s --help)", group, argv[0], group);
	return ctl_fail(EX_USAGE, "unknown command '%s' (see nudgectl --help)",
	    argv[0]);
}

int
main(int argc, char *argv[])
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		HELP_OPT,
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctx c;
	int ch, rc;

	memset(&c, 0, sizeof c);
	c.confpath = CTL_CONF;
	log_init("nudgectl", 0);
	/* Files we create (the database, its -wal/-shm) stay group-shared, never others'. */
	umask(0007);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:c:hV", lo, NULL)) != -1) {
		switch (ch) {
		case 'c':
			c.confpath = optarg;
			break;
		case 'h':
			usage_main(stdout);
			return 0;
		case 'V':
#ifdef NUDGED_VERSION
			printf("nudgectl %s\n", NUDGED_VERSION);
#endif
			return 0;
		default:
			if (ch == ':')
				return ctl_fail(EX_USAGE, "option %s needs a "
				    "value (see nudgectl --help)",
				    argv[optind - 1]);
			return ctl_fail(EX_USAGE, "unknown option %s (see "
			    "nudgectl --help)", optopt > 0 && optopt < 128 ?
			    (char[3]){ '-', (char)optopt, '\0' } : argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return ctl_fail(EX_USAGE, "no command given (see nudgectl "
		    "--help)");
	if (xfer_global_init() == -1)
		return ctl_fail(EX_SOFTWARE, "cannot initialise libcurl");
	rc = dispatch(&c, argc - optind, argv + optind);
	xfer_global_cleanup();
	fflush(stdout);
	if (ferror(stdout) && rc == 0)
		rc = ctl_fail(EX_IOERR, "cannot write the output");
	store_close(c.st);
	conf_free(c.conf);
	sbuf_free(&c.out);
	return rc;
}
