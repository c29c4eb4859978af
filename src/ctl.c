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
 */
#include <curl/curl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "conf.h"
#include "deliver.h"
#include "log.h"
#include "mail.h"
#include "phone.h"
#include "store.h"
#include "tz.h"
#include "util.h"
#include "xfer.h"

#ifndef NUDGED_SYSCONFDIR
#define NUDGED_SYSCONFDIR	"/etc"
#endif
#define CTL_CONF	NUDGED_SYSCONFDIR "/nudged/nudged.conf"

struct ctx {
	const char	*confpath;
	char		 cmd[40];	/* "client add", for messages */
	const char	*usage;
	struct conf	*conf;
	struct store	*st;
	sqlite3		*db;
	struct sbuf	 out;		/* printed once committed */
};

struct cmd {
	const char	*group;		/* "client"; NULL: a command of its own */
	const char	*name;
	int		(*fn)(struct ctx *, int, char **);
	const char	*desc;
	const char	*usage;
};

enum {
	O_NAME = 256, O_FIRST, O_EMAIL, O_PHONE, O_SMS, O_NO_SMS, O_EMAIL_OK,
	O_NO_EMAIL, O_DISCREET, O_NO_DISCREET, O_CLR_EMAIL, O_CLR_PHONE,
	O_CLR_FIRST, O_LABEL, O_CLIENT, O_CASE, O_AT, O_DURATION, O_KIND,
	O_MODE, O_VIDEO, O_WEEKLY, O_TO, O_TITLE, O_PROMPT, O_STARTS, O_ENDS,
	O_EVERY, O_DAYS, O_NOW, O_FAILED, O_SINCE, O_LIMIT, O_ALL
};

#define HELP_OPT	{ "help", no_argument, NULL, 'h' }

static int	fail(int, const char *, ...) __attribute__((format(printf, 2, 3)));
static void	outf(struct ctx *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* One line on stderr; control characters from user data become '?'. */
static int
fail(int code, const char *fmt, ...)
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

static void
outf(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sbuf_vprintf(&c->out, fmt, ap);
	va_end(ap);
}

static int
help(const struct ctx *c)
{
	fputs(c->usage, stdout);
	return 0;
}

static int
badopt(const struct ctx *c, int ch, char **argv)
{
	char opt[3] = { '-', (char)optopt, '\0' };
	const char *a = (optopt > 0 && optopt < 128) ? opt : argv[optind - 1];

	if (ch == ':')
		return fail(EX_USAGE, "%s: option %s needs a value (see --help)",
		    c->cmd, a);
	return fail(EX_USAGE, "%s: unknown option %s (see --help)", c->cmd, a);
}

static int
no_args(const struct ctx *c, int argc, char **argv)
{
	if (optind < argc)
		return fail(EX_USAGE, "%s: unexpected argument '%s' (see --help)",
		    c->cmd, argv[optind]);
	return 0;
}

static int
num(const struct ctx *c, const char *opt, const char *s, long min, long max,
    long *out)
{
	if (parse_long(s, min, max, out) == -1)
		return fail(EX_USAGE, "%s: %s wants a number from %ld to %ld, "
		    "not '%s'", c->cmd, opt, min, max, s);
	return 0;
}

static int
id_arg(const struct ctx *c, const char *opt, const char *s, long long *id)
{
	long v;

	if (parse_long(s, 1, LONG_MAX, &v) == -1)
		return fail(EX_USAGE, "%s: %s wants a numeric id, not '%s'",
		    c->cmd, opt, s);
	*id = v;
	return 0;
}

/* The single positional ID of cancel, client show, case close, ... */
static int
one_id(const struct ctx *c, int argc, char **argv, const char *what,
    long long *id)
{
	if (optind >= argc)
		return fail(EX_USAGE, "%s: which %s? give its id (see --help)",
		    c->cmd, what);
	if (optind + 1 < argc)
		return fail(EX_USAGE, "%s: unexpected argument '%s'", c->cmd,
		    argv[optind + 1]);
	return id_arg(c, what, argv[optind], id);
}

/*
 * Text that reaches templates, headers and SMS: non-empty, valid UTF-8,
 * no control characters (no CR/LF either: a header must never get one).
 */
static int
text_ok(const struct ctx *c, const char *what, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned cp;
	int n, i;

	if (*p == '\0')
		return fail(EX_DATAERR, "%s: %s must not be empty", c->cmd, what);
	if (strlen(s) > max)
		return fail(EX_DATAERR, "%s: %s is longer than %zu bytes",
		    c->cmd, what, max);
	while (*p != '\0') {
		if (*p < 0x80) {
			if (*p < 0x20 || *p == 0x7f)
				goto ctl;
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf) {
			n = 1;
			cp = *p & 0x1f;
		} else if (*p >= 0xe0 && *p <= 0xef) {
			n = 2;
			cp = *p & 0x0f;
		} else if (*p >= 0xf0 && *p <= 0xf4) {
			n = 3;
			cp = *p & 0x07;
		} else
			goto utf;
		for (i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				goto utf;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			goto utf;
		if (cp >= 0x80 && cp <= 0x9f)
			goto ctl;
		p += n + 1;
	}
	return 0;
ctl:
	return fail(EX_DATAERR, "%s: %s contains a control character "
	    "(line break, tab, ...)", c->cmd, what);
utf:
	return fail(EX_DATAERR, "%s: %s is not valid UTF-8", c->cmd, what);
}

/*
 * Stored as typed, but only if phone_e164() can read it with the config's
 * sms.region: a typo found now is better than an SMS failing later.
 */
static int
phone_check(const struct ctx *c, const char *typed, int sms)
{
	const char *region = c->conf->sms.region ? c->conf->sms.region : "GB";
	char e164[PHONE_E164_SIZE], err[256];

	if (phone_e164(typed, region, e164, sizeof e164, err, sizeof err) == -1)
		return fail(EX_DATAERR, "%s: %s", c->cmd, err);
	if (sms && phone_sms_capable(e164, err, sizeof err) == -1)
		fprintf(stderr, "nudgectl: warning: %s\n", err);
	return 0;
}

/* "Thursday 3 December 2026 at 14:00" */
static const char *
when(time_t t, char *buf, size_t len)
{
	char d[64], h[16];

	tz_format_date(t, d, sizeof d);
	tz_format_time(t, h, sizeof h);
	snprintf(buf, len, "%s at %s", d, h);
	return buf;
}

/* "2026-12-03 14:00" local, for tables; raw text when unreadable. */
static const char *
when_short(const char *stored, char *buf, size_t len)
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

static int
ctx_open(struct ctx *c)
{
	struct conf_diag errs = { NULL, 0 };
	char err[512];
	size_t i;

	if (conf_load(c->confpath, &c->conf, &errs, NULL) == -1) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.lines[i]);
		if (errs.n == 0)
			fail(0, "%s: cannot load the config", c->confpath);
		conf_diag_free(&errs);
		c->conf = NULL;
		return EX_CONFIG;
	}
	conf_diag_free(&errs);
	if (tz_set(c->conf->practice.timezone, err, sizeof err) == -1)
		return fail(EX_CONFIG, "%s: %s", c->confpath, err);
	if ((c->st = store_open(c->conf->database, err, sizeof err)) == NULL)
		return fail(EX_IOERR, "%s: %s", c->conf->database, err);
	c->db = store_db(c->st);
	return 0;
}

static int
dberr(struct ctx *c)
{
	return fail(EX_IOERR, "database: %s", sqlite3_errmsg(c->db));
}

static int
tx_begin(struct ctx *c)
{
	char err[512];
	int rc;

	if ((rc = ctx_open(c)) != 0)
		return rc;
	if (store_begin(c->st, err, sizeof err) == -1)
		return fail(EX_IOERR, "database: %s", err);
	return 0;
}

/* Commit when rc is 0, else roll back; then (and only then) report. */
static int
tx_end(struct ctx *c, int rc)
{
	char err[512];

	if (rc == 0 && store_commit(c->st, err, sizeof err) == -1)
		rc = fail(EX_IOERR, "database: %s", err);
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

static sqlite3_stmt *
q_prep(struct ctx *c, const char *sql, const char *types, ...)
{
	sqlite3_stmt *s;
	va_list ap;

	va_start(ap, types);
	s = q_vprep(c, sql, types, ap);
	va_end(ap);
	return s;
}

/* A statement without rows.  0, or EX_IOERR (reported). */
static int
q_exec(struct ctx *c, const char *sql, const char *types, ...)
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
static int
q_step(struct ctx *c, sqlite3_stmt *s)
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

static const char *
ctext(sqlite3_stmt *s, int i)
{
	const char *v = (const char *)sqlite3_column_text(s, i);

	return v != NULL ? v : "";
}

static void
now_utc(char buf[TZ_UTC_LEN])
{
	tz_format_utc(time(NULL), buf);
}

/*
 * A row of one of the contract's tables, as text.  Returns 0 when found
 * (columns copied into v[0..n-1], caller frees), else an exit code with
 * the error reported: 65 "<what> N does not exist", 74 database.
 */
static int
q_row(struct ctx *c, const char *what, long long id, const char *sql,
    char **v, int n)
{
	sqlite3_stmt *s;
	int i, r;

	if ((s = q_prep(c, sql, "I", id)) == NULL)
		return EX_IOERR;
	r = q_step(c, s);
	for (i = 0; i < n; i++)
		v[i] = r == 1 ? col(s, i) : NULL;
	sqlite3_finalize(s);
	if (r == -1)
		return EX_IOERR;
	if (r == 0)
		return fail(EX_DATAERR, "%s: %s %lld does not exist", c->cmd,
		    what, id);
	return 0;
}

static void
free_row(char **v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(v[i]);
}

/* An open case: its label in *label (caller frees).  0 or an exit code. */
static int
open_case(struct ctx *c, long long id, char **label)
{
	char *v[2];
	int rc;

	*label = NULL;
	if ((rc = q_row(c, "case", id, "SELECT label, closed_at FROM cases "
	    "WHERE id = ?1", v, 2)) != 0)
		return rc;
	if (v[1] != NULL) {
		rc = fail(EX_DATAERR, "%s: case %lld (%s) is closed", c->cmd, id,
		    v[0]);
		free_row(v, 2);
		return rc;
	}
	*label = v[0];
	return 0;
}

/* Returned by option parsers when --help was printed: exit 0. */
#define DONE	(-1)

static int
opts_none(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = { HELP_OPT, { NULL, 0, NULL, 0 } };
	int ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (ch == 'h') {
			help(c);
			return DONE;
		}
		return badopt(c, ch, argv);
	}
	return 0;
}

/* ---- clients ---- */

struct client_opts {
	const char	*name, *first, *email, *phone;
	int		 clr_first, clr_email, clr_phone;
	int		 sms, email_ok, discreet;	/* -1: unchanged */
};

static int
client_parse(struct ctx *c, int argc, char **argv, struct client_opts *o)
{
	static const struct option lo[] = {
		{ "name", required_argument, NULL, O_NAME },
		{ "first-name", required_argument, NULL, O_FIRST },
		{ "email", required_argument, NULL, O_EMAIL },
		{ "phone", required_argument, NULL, O_PHONE },
		{ "sms-consent", no_argument, NULL, O_SMS },
		{ "no-sms-consent", no_argument, NULL, O_NO_SMS },
		{ "email-consent", no_argument, NULL, O_EMAIL_OK },
		{ "no-email-consent", no_argument, NULL, O_NO_EMAIL },
		{ "discreet", no_argument, NULL, O_DISCREET },
		{ "no-discreet", no_argument, NULL, O_NO_DISCREET },
		{ "clear-first-name", no_argument, NULL, O_CLR_FIRST },
		{ "clear-email", no_argument, NULL, O_CLR_EMAIL },
		{ "clear-phone", no_argument, NULL, O_CLR_PHONE },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	int ch, rc;

	memset(o, 0, sizeof *o);
	o->sms = o->email_ok = o->discreet = -1;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (ch) {
		case O_NAME: o->name = optarg; break;
		case O_FIRST: o->first = optarg; break;
		case O_EMAIL: o->email = optarg; break;
		case O_PHONE: o->phone = optarg; break;
		case O_SMS: o->sms = 1; break;
		case O_NO_SMS: o->sms = 0; break;
		case O_EMAIL_OK: o->email_ok = 1; break;
		case O_NO_EMAIL: o->email_ok = 0; break;
		case O_DISCREET: o->discreet = 1; break;
		case O_NO_DISCREET: o->discreet = 0; break;
		case O_CLR_FIRST: o->clr_first = 1; break;
		case O_CLR_EMAIL: o->clr_email = 1; break;
		case O_CLR_PHONE: o->clr_phone = 1; break;
		case 'h':
			help(c);
			return DONE;
		default:
			return badopt(c, ch, argv);
		}
	}
	if ((o->first && o->clr_first) || (o->email && o->clr_email) ||
	    (o->phone && o->clr_phone))
		return fail(EX_USAGE, "%s: give a value or clear it, not both",
		    c->cmd);
	if ((o->name && (rc = text_ok(c, "--name", o->name, 200)) != 0) ||
	    (o->first && (rc = text_ok(c, "--first-name", o->first, 100)) != 0) ||
	    (o->phone && (rc = text_ok(c, "--phone", o->phone, 40)) != 0))
		return rc;
	if (o->email && (strlen(o->email) > 254 || !mail_addr_valid(o->email)))
		return fail(EX_DATAERR, "%s: '%s' is not a valid email address",
		    c->cmd, o->email);
	return 0;
}

static int
cmd_client_add(struct ctx *c, int argc, char **argv)
{
	struct client_opts o;
	int rc;

	if ((rc = client_parse(c, argc, argv, &o)) != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = no_args(c, argc, argv)) != 0)
		return rc;
	if (o.name == NULL)
		return fail(EX_USAGE, "%s: --name is required", c->cmd);
	if ((rc = tx_begin(c)) != 0)
		return rc;
	if (o.phone && (rc = phone_check(c, o.phone, o.sms == 1)) != 0)
		return tx_end(c, rc);
	rc = q_exec(c, "INSERT INTO clients (name, first_name, email, phone, "
	    "email_consent, sms_consent, discreet) VALUES (?1, ?2, ?3, ?4, ?5, "
	    "?6, ?7)", "ttttiii", o.name, o.first, o.email, o.phone,
	    o.email_ok != 0, o.sms == 1, o.discreet == 1);
	if (rc == 0)
		outf(c, "client %lld added: %s\n",
		    (long long)sqlite3_last_insert_rowid(c->db), o.name);
	return tx_end(c, rc);
}

static int
flag(const char *v, int change)
{
	long x = 0;

	if (change >= 0)
		return change;
	return v != NULL && parse_long(v, LONG_MIN, LONG_MAX, &x) == 0 && x != 0;
}

static int
cmd_client_edit(struct ctx *c, int argc, char **argv)
{
	struct client_opts o;
	struct sbuf what = { NULL, 0, 0 };
	const char *name, *first, *email, *phone;
	char *v[7];
	long long id;
	int rc;

	if ((rc = client_parse(c, argc, argv, &o)) != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = one_id(c, argc, argv, "client", &id)) != 0)
		return rc;
	if (!o.name && !o.first && !o.email && !o.phone && !o.clr_first &&
	    !o.clr_email && !o.clr_phone && o.sms < 0 && o.email_ok < 0 &&
	    o.discreet < 0)
		return fail(EX_USAGE, "%s: nothing to change (see --help)", c->cmd);
	if ((rc = tx_begin(c)) != 0)
		return rc;
	if ((rc = q_row(c, "client", id, "SELECT name, first_name, email, "
	    "phone, email_consent, sms_consent, discreet FROM clients "
	    "WHERE id = ?1", v, 7)) != 0)
		return tx_end(c, rc);
	name = o.name ? o.name : v[0];
	first = o.clr_first ? NULL : o.first ? o.first : v[1];
	email = o.clr_email ? NULL : o.email ? o.email : v[2];
	phone = o.clr_phone ? NULL : o.phone ? o.phone : v[3];
	if (phone && (o.phone || o.sms == 1))
		rc = phone_check(c, phone, flag(v[5], o.sms));
	if (rc == 0)
		rc = q_exec(c, "UPDATE clients SET name = ?1, first_name = ?2, "
		    "email = ?3, phone = ?4, email_consent = ?5, sms_consent = ?6, "
		    "discreet = ?7 WHERE id = ?8", "ttttiiiI", name, first, email,
		    phone, flag(v[4], o.email_ok), flag(v[5], o.sms),
		    flag(v[6], o.discreet), id);
	if (o.name)
		sbuf_add(&what, ", name");
	if (o.first || o.clr_first)
		sbuf_add(&what, ", first name");
	if (o.email || o.clr_email)
		sbuf_add(&what, ", email");
	if (o.phone || o.clr_phone)
		sbuf_add(&what, ", phone");
	if (o.email_ok >= 0)
		sbuf_add(&what, o.email_ok ? ", email consent given" :
		    ", email consent withdrawn");
	if (o.sms >= 0)
		sbuf_add(&what, o.sms ? ", SMS consent given" :
		    ", SMS consent withdrawn");
	if (o.discreet >= 0)
		sbuf_add(&what, o.discreet ? ", discreet" : ", not discreet");
	if (rc == 0)
		outf(c, "client %lld updated: %s (%s)\n", id, name,
		    sbuf_str(&what) + 2);
	sbuf_free(&what);
	free_row(v, 7);
	return tx_end(c, rc);
}

static int
cmd_client_list(struct ctx *c, int argc, char **argv)
{
	sqlite3_stmt *s;
	int rc, r, n = 0;

	if ((rc = opts_none(c, argc, argv)) != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = no_args(c, argc, argv)) != 0 || (rc = ctx_open(c)) != 0)
		return rc;
	if ((s = q_prep(c, "SELECT id, name, email, phone, email_consent, "
	    "sms_consent, discreet, opted_out_at FROM clients ORDER BY id",
	    "")) == NULL)
		return EX_IOERR;
	while ((r = q_step(c, s)) == 1) {
		if (n++ == 0)
			printf("%-5s %-24s %-30s %-16s %s\n", "ID", "NAME",
			    "EMAIL", "PHONE", "FLAGS");
		printf("%-5lld %-24s %-30s %-16s%s%s%s%s\n",
		    (long long)sqlite3_column_int64(s, 0), ctext(s, 1),
		    sqlite3_column_type(s, 2) == SQLITE_NULL ? "-" : ctext(s, 2),
		    sqlite3_column_type(s, 3) == SQLITE_NULL ? "-" : ctext(s, 3),
		    sqlite3_column_int(s, 4) ? " email" : "",
		    sqlite3_column_int(s, 5) ? " sms" : "",
		    sqlite3_column_int(s, 6) ? " discreet" : "",
		    sqlite3_column_type(s, 7) != SQLITE_NULL ? " OPTED-OUT" : "");
	}
	sqlite3_finalize(s);
	if (r == -1)
		return EX_IOERR;
	if (n == 0)
		printf("no clients yet (add one with: nudgectl client add)\n");
	return 0;
}

static int
cmd_client_show(struct ctx *c, int argc, char **argv)
{
	sqlite3_stmt *s;
	char *v[8], buf[64];
	long long id;
	int rc, r;

	if ((rc = opts_none(c, argc, argv)) != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = one_id(c, argc, argv, "client", &id)) != 0 ||
	    (rc = ctx_open(c)) != 0)
		return rc;
	if ((rc = q_row(c, "client", id, "SELECT name, first_name, email, "
	    "phone, email_consent, sms_consent, discreet, opted_out_at "
	    "FROM clients WHERE id = ?1", v, 8)) != 0)
		return rc;
	printf("client %lld: %s\n", id, v[0]);
	if (v[1] != NULL)
		printf("  greeting:   %s\n", v[1]);
	else
		printf("  greeting:   %.*s (first word of the name)\n",
		    (int)strcspn(v[0], " "), v[0]);
	printf("  email:      %s (%s)\n", v[2] ? v[2] : "none",
	    flag(v[4], -1) ? "consents to email" : "no email consent");
	printf("  phone:      %s (%s)\n", v[3] ? v[3] : "none",
	    flag(v[5], -1) ? "consents to SMS" : "no SMS consent");
	printf("  discreet:   %s\n", flag(v[6], -1) ? "yes (neutral wording)" :
	    "no");
	printf("  opted out:  %s\n", v[7] ? when_short(v[7], buf, sizeof buf) :
	    "no");
	free_row(v, 8);
	if ((s = q_prep(c, "SELECT k.id, k.label, k.closed_at FROM cases k "
	    "JOIN case_members m ON m.case_id = k.id WHERE m.client_id = ?1 "
	    "ORDER BY k.id", "I", id)) == NULL)
		return EX_IOERR;
	while ((r = q_step(c, s)) == 1)
		printf("  case:       %lld %s (%s)\n",
		    (long long)sqlite3_column_int64(s, 0), ctext(s, 1),
		    sqlite3_column_type(s, 2) == SQLITE_NULL ? "open" : "closed");
	sqlite3_finalize(s);
	return r == -1 ? EX_IOERR : 0;
}

static int
client_opt(struct ctx *c, int argc, char **argv, int out)
{
	char *v[2], now[TZ_UTC_LEN], buf[64];
	long long id;
	int rc;

	if ((rc = opts_none(c, argc, argv)) != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = one_id(c, argc, argv, "client", &id)) != 0 ||
	    (rc = tx_begin(c)) != 0)
		return rc;
	if ((rc = q_row(c, "client", id, "SELECT name, opted_out_at FROM "
	    "clients WHERE id = ?1", v, 2)) != 0)
		return tx_end(c, rc);
	now_utc(now);
	if (out && v[1] != NULL)
		rc = fail(EX_DATAERR, "%s: client %lld (%s) opted out already, "
		    "on %s", c->cmd, id, v[0], when_short(v[1], buf, sizeof buf));
	else if (!out && v[1] == NULL)
		rc = fail(EX_DATAERR, "%s: client %lld (%s) is not opted out",
		    c->cmd, id, v[0]);
	else
		rc = q_exec(c, "UPDATE clients SET opted_out_at = ?1 WHERE "
		    "id = ?2", "tI", out ? now : NULL, id);
	if (rc == 0)
		outf(c, "client %lld opted %s: %s%s\n", id, out ? "out" : "in",
		    v[0], out ? " (nothing more will be sent to them)" : "");
	free_row(v, 2);
	return tx_end(c, rc);
}

static int
cmd_client_optout(struct ctx *c, int argc, char **argv)
{
	return client_opt(c, argc, argv, 1);
}

static int
cmd_client_optin(struct ctx *c, int argc, char **argv)
{
	return client_opt(c, argc, argv, 0);
}

/* ---- cases ---- */

static int
cmd_case_add(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "label", required_argument, NULL, O_LABEL },
		{ "client", required_argument, NULL, O_CLIENT },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	const char *label = NULL;
	char *names[2] = { NULL, NULL };
	long long ids[2], id;
	int ch, rc, n = 0, i;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (ch) {
		case O_LABEL:
			label = optarg;
			break;
		case O_CLIENT:
			if (n == 2)
				return fail(EX_USAGE, "%s: a case has one or "
				    "two clients", c->cmd);
			if ((rc = id_arg(c, "--client", optarg, &ids[n++])) != 0)
				return rc;
			break;
		case 'h':
			return help(c);
		default:
			return badopt(c, ch, argv);
		}
	}
	if ((rc = no_args(c, argc, argv)) != 0)
		return rc;
	if (label == NULL || n == 0)
		return fail(EX_USAGE, "%s: --label and --client are required",
		    c->cmd);
	if (n == 2 && ids[0] == ids[1])
		return fail(EX_USAGE, "%s: the two clients must differ", c->cmd);
	if ((rc = text_ok(c, "--label", label, 200)) != 0 ||
	    (rc = tx_begin(c)) != 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++)
		rc = q_row(c, "client", ids[i], "SELECT name FROM clients "
		    "WHERE id = ?1", &names[i], 1);
	if (rc == 0)
		rc = q_exec(c, "INSERT INTO cases (label) VALUES (?1)", "t",
		    label);
	id = sqlite3_last_insert_rowid(c->db);
	for (i = 0; i < n && rc == 0; i++)
		rc = q_exec(c, "INSERT INTO case_members (case_id, client_id) "
		    "VALUES (?1, ?2)", "II", id, ids[i]);
	if (rc == 0) {
		outf(c, "case %lld added: %s (client %lld %s", id, label,
		    ids[0], names[0]);
		if (n == 2)
			outf(c, ", client %lld %s", ids[1], names[1]);
		outf(c, ")\n");
	}
	free(names[0]);
	free(names[1]);
	return tx_end(c, rc);
}

static int
cmd_case_list(struct ctx *c, int argc, char **argv)
{
	sqlite3_stmt *s, *m;
	int rc, r = 0, r2 = 0, n = 0, k;

	if ((rc = opts_none(c, argc, argv)) != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = no_args(c, argc, argv)) != 0 || (rc = ctx_open(c)) != 0)
		return rc;
	if ((s = q_prep(c, "SELECT id, label, closed_at FROM cases ORDER BY id",
	    "")) == NULL)
		return EX_IOERR;
	while (r2 != -1 && (r = q_step(c, s)) == 1) {
		if (n++ == 0)
			printf("%-5s %-7s %-24s %s\n", "ID", "STATUS", "LABEL",
			    "MEMBERS");
		printf("%-5lld %-7s %-24s", (long long)sqlite3_column_int64(s, 0),
		    sqlite3_column_type(s, 2) == SQLITE_NULL ? "open" : "closed",
		    ctext(s, 1));
		if ((m = q_prep(c, "SELECT l.id, l.name FROM case_members x "
		    "JOIN clients l ON l.id = x.client_id WHERE x.case_id = ?1 "
		    "ORDER BY l.id", "I",
		    (long long)sqlite3_column_int64(s, 0))) == NULL) {
			r2 = -1;
			break;
		}
		for (k = 0; (r2 = q_step(c, m)) == 1; k++)
			printf("%s %lld %s", k ? "," : "",
			    (long long)sqlite3_column_int64(m, 0), ctext(m, 1));
		sqlite3_finalize(m);
		printf("\n");
	}
	sqlite3_finalize(s);
	if (r == -1 || r2 == -1)
		return EX_IOERR;
	if (n == 0)
		printf("no cases yet (add one with: nudgectl case add)\n");
	return 0;
}

static int
cmd_case_close(struct ctx *c, int argc, char **argv)
{
	char *v[2], now[TZ_UTC_LEN];
	long long id;
	int rc;

	if ((rc = opts_none(c, argc, argv)) != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = one_id(c, argc, argv, "case", &id)) != 0 ||
	    (rc = tx_begin(c)) != 0)
		return rc;
	if ((rc = q_row(c, "case", id, "SELECT label, closed_at FROM cases "
	    "WHERE id = ?1", v, 2)) != 0)
		return tx_end(c, rc);
	now_utc(now);
	if (v[1] != NULL)
		rc = fail(EX_DATAERR, "%s: case %lld (%s) is closed already",
		    c->cmd, id, v[0]);
	else
		rc = q_exec(c, "UPDATE cases SET closed_at = ?1 WHERE id = ?2",
		    "tI", now, id);
	if (rc == 0)
		outf(c, "case %lld closed: %s (no more messages for it)\n", id,
		    v[0]);
	free_row(v, 2);
	return tx_end(c, rc);
}

/* ---- appointments ---- */

static const char *
mode_words(const char *mode)
{
	if (strcmp(mode, "in_person") == 0)
		return "in person";
	if (strcmp(mode, "phone") == 0)
		return "by phone";
	return mode;
}

static int
one_of(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

static const char *const kinds[] = { "assessment", "session", "call", NULL };
static const char *const modes[] = { "in_person", "online", "phone", NULL };

/*
 * Refuse a time that overlaps another booked appointment of the same case:
 * a mistyped date, or a series booked twice.  skip: the one being moved.
 */
static int
overlap(struct ctx *c, long long case_id, long long skip, time_t start,
    long dur)
{
	sqlite3_stmt *s;
	char buf[96];
	time_t t;
	int r = 0, rc = 0;

	if ((s = q_prep(c, "SELECT id, starts_at, duration_min FROM "
	    "appointments WHERE case_id = ?1 AND status = 'booked' AND "
	    "id <> ?2", "II", case_id, skip)) == NULL)
		return EX_IOERR;
	while (rc == 0 && (r = q_step(c, s)) == 1) {
		/* An unreadable row is nudged's to report, not ours. */
		if (tz_parse_any(ctext(s, 1), &t) == -1)
			continue;
		if (t < start + dur * 60 &&
		    start < t + sqlite3_column_int64(s, 2) * 60)
			rc = fail(EX_DATAERR, "%s: case %lld already has "
			    "appointment %lld on %s", c->cmd, case_id,
			    (long long)sqlite3_column_int64(s, 0),
			    when(t, buf, sizeof buf));
	}
	sqlite3_finalize(s);
	return r == -1 ? EX_IOERR : rc;
}

/* "YYYY-MM-DD HH:MM" (or with a T) into its parts; 0 or exit code. */
static int
wall_time(const struct ctx *c, const char *opt, const char *s, int *y,
    int *mo, int *d, int *min)
{
	char date[11];

	if (strlen(s) == 16 && (s[10] == ' ' || s[10] == 'T')) {
		memcpy(date, s, 10);
		date[10] = '\0';
		if (tz_parse_date(date, y, mo, d) == 0 &&
		    tz_parse_hhmm(s + 11, min) == 0)
			return 0;
	}
	return fail(EX_USAGE, "%s: %s wants a local time \"YYYY-MM-DD HH:MM\", "
	    "not '%s'", c->cmd, opt, s);
}

static int
cmd_book(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "case", required_argument, NULL, O_CASE },
		{ "at", required_argument, NULL, O_AT },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "kind", required_argument, NULL, O_KIND },
		{ "mode", required_argument, NULL, O_MODE },
		{ "video-url", required_argument, NULL, O_VIDEO },
		{ "weekly", required_argument, NULL, O_WEEKLY },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	const char *at = NULL, *kind = "session", *mode = NULL, *video = NULL;
	char *label = NULL, buf[96];
	long long case_id = 0;
	long dur = 0, weekly = 1, i;
	int ch, rc, y, mo, d, min, y2, mo2, d2;
	struct tm tm;
	time_t t, now;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		rc = 0;
		switch (ch) {
		case O_CASE: rc = id_arg(c, "--case", optarg, &case_id); break;
		case O_AT: at = optarg; break;
		case O_DURATION:
			rc = num(c, "--duration", optarg, 5, 600, &dur);
			break;
		case O_KIND: kind = optarg; break;
		case O_MODE: mode = optarg; break;
		case O_VIDEO: video = optarg; break;
		case O_WEEKLY:
			rc = num(c, "--weekly", optarg, 1, 104, &weekly);
			break;
		case 'h':
			return help(c);
		default:
			return badopt(c, ch, argv);
		}
		if (rc != 0)
			return rc;
	}
	if ((rc = no_args(c, argc, argv)) != 0)
		return rc;
	if (case_id == 0 || at == NULL)
		return fail(EX_USAGE, "%s: --case and --at are required", c->cmd);
	if (!one_of(kind, kinds))
		return fail(EX_USAGE, "%s: --kind is assessment, session or call, "
		    "not '%s'", c->cmd, kind);
	if (mode != NULL && !one_of(mode, modes))
		return fail(EX_USAGE, "%s: --mode is in_person, online or phone, "
		    "not '%s'", c->cmd, mode);
	if (mode == NULL)
		mode = video ? "online" : strcmp(kind, "call") == 0 ? "phone" :
		    "in_person";
	if (video != NULL && strcmp(mode, "online") != 0)
		return fail(EX_USAGE, "%s: --video-url is for --mode online",
		    c->cmd);
	if (video != NULL && ((rc = text_ok(c, "--video-url", video, 500)) != 0 ||
	    (strncmp(video, "https://", 8) != 0 &&
	    strncmp(video, "http://", 7) != 0) || strchr(video, ' ') != NULL))
		return rc ? rc : fail(EX_DATAERR, "%s: --video-url must be an "
		    "http(s):// link without spaces", c->cmd);
	if (dur == 0)
		dur = strcmp(kind, "assessment") == 0 ? 90 :
		    strcmp(kind, "call") == 0 ? 15 : 60;
	if ((rc = wall_time(c, "--at", at, &y, &mo, &d, &min)) != 0 ||
	    (rc = tx_begin(c)) != 0)
		return rc;
	if ((rc = open_case(c, case_id, &label)) != 0)
		return tx_end(c, rc);
	now = time(NULL);
	/* Weekly means the same local wall time: across DST the UTC hour moves. */
	for (i = 0; i < weekly && rc == 0; i++) {
		y2 = y, mo2 = mo, d2 = d;
		tz_date_add_days(&y2, &mo2, &d2, 7 * i);
		if (tz_local_to_utc(y2, mo2, d2, min / 60, min % 60, 0, &t) == -1) {
			rc = fail(EX_DATAERR, "%s: cannot place %04d-%02d-%02d "
			    "%02d:%02d in %s", c->cmd, y2, mo2, d2, min / 60,
			    min % 60, c->conf->practice.timezone);
			break;
		}
		if (t <= now) {
			rc = fail(EX_DATAERR, "%s: %s is in the past", c->cmd,
			    when(t, buf, sizeof buf));
			break;
		}
		if ((rc = overlap(c, case_id, 0, t, dur)) != 0)
			break;
		tz_format_utc(t, buf);
		if ((rc = q_exec(c, "INSERT INTO appointments (case_id, "
		    "starts_at, duration_min, kind, mode, video_url, status) "
		    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'booked')", "Itittt",
		    case_id, buf, (int)dur, kind, mode, video)) != 0)
			break;
		outf(c, "appointment %lld booked: case %lld (%s), %s on %s, "
		    "%ld minutes, %s", (long long)sqlite3_last_insert_rowid(c->db),
		    case_id, label, kind, when(t, buf, sizeof buf), dur,
		    mode_words(mode));
		tz_to_local(t, &tm);
		if (tm.tm_hour * 60 + tm.tm_min != min)
			outf(c, " (%02d:%02d does not exist that day: the "
			    "clocks go forward)", min / 60, min % 60);
		outf(c, "\n");
	}
	free(label);
	return tx_end(c, rc);
}

/* Appointment id's case, start, status, duration, label, case closed_at. */
#define APPT_SQL	"SELECT a.case_id, a.starts_at, a.status, " \
	"a.duration_min, k.label, k.closed_at FROM appointments a " \
	"LEFT JOIN cases k ON k.id = a.case_id WHERE a.id = ?1"

static int
cmd_cancel(struct ctx *c, int argc, char **argv)
{
	char *v[6], buf[96];
	long long id;
	time_t t;
	int rc;

	if ((rc = opts_none(c, argc, argv)) != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = one_id(c, argc, argv, "appointment", &id)) != 0 ||
	    (rc = tx_begin(c)) != 0)
		return rc;
	if ((rc = q_row(c, "appointment", id, APPT_SQL, v, 6)) != 0)
		return tx_end(c, rc);
	if (v[2] != NULL && strcmp(v[2], "cancelled") == 0)
		rc = fail(EX_DATAERR, "%s: appointment %lld is cancelled already",
		    c->cmd, id);
	else
		rc = q_exec(c, "UPDATE appointments SET status = 'cancelled' "
		    "WHERE id = ?1", "I", id);
	if (rc == 0)
		outf(c, "appointment %lld cancelled: case %s (%s), %s\n", id,
		    v[0], v[4] ? v[4] : "?", tz_parse_any(v[1], &t) == 0 ?
		    when(t, buf, sizeof buf) : v[1]);
	free_row(v, 6);
	return tx_end(c, rc);
}

static int
cmd_move(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "to", required_argument, NULL, O_TO },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	const char *to = NULL;
	char *v[6], buf[96], old[96];
	long long id, case_id;
	long dur, n;
	int ch, rc, y, mo, d, min;
	time_t t, was;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (ch == O_TO)
			to = optarg;
		else if (ch == 'h')
			return help(c);
		else
			return badopt(c, ch, argv);
	}
	if ((rc = one_id(c, argc, argv, "appointment", &id)) != 0)
		return rc;
	if (to == NULL)
		return fail(EX_USAGE, "%s: --to is required", c->cmd);
	if ((rc = wall_time(c, "--to", to, &y, &mo, &d, &min)) != 0 ||
	    (rc = tx_begin(c)) != 0)
		return rc;
	if (tz_local_to_utc(y, mo, d, min / 60, min % 60, 0, &t) == -1)
		return tx_end(c, fail(EX_DATAERR, "%s: cannot place '%s' in %s",
		    c->cmd, to, c->conf->practice.timezone));
	if ((rc = q_row(c, "appointment", id, APPT_SQL, v, 6)) != 0)
		return tx_end(c, rc);
	case_id = parse_long(v[0], 1, LONG_MAX, &n) == 0 ? n : 0;
	if (v[3] == NULL || parse_long(v[3], 1, 100000, &dur) == -1)
		dur = 60;
	if (tz_parse_any(v[1], &was) == 0)
		when(was, old, sizeof old);
	else {
		snprintf(old, sizeof old, "'%s'", v[1]);
		was = 0;
	}
	if (v[2] != NULL && strcmp(v[2], "cancelled") == 0)
		rc = fail(EX_DATAERR, "%s: appointment %lld is cancelled",
		    c->cmd, id);
	else if (v[5] != NULL)
		rc = fail(EX_DATAERR, "%s: case %lld (%s) is closed", c->cmd,
		    case_id, v[4]);
	else if (t <= time(NULL))
		rc = fail(EX_DATAERR, "%s: %s is in the past", c->cmd,
		    when(t, buf, sizeof buf));
	else if (t == was)
		rc = fail(EX_DATAERR, "%s: appointment %lld is on %s already",
		    c->cmd, id, old);
	else if ((rc = overlap(c, case_id, id, t, dur)) == 0) {
		tz_format_utc(t, buf);
		rc = q_exec(c, "UPDATE appointments SET starts_at = ?1 WHERE "
		    "id = ?2", "tI", buf, id);
	}
	if (rc == 0)
		outf(c, "appointment %lld moved: case %lld (%s), from %s to %s\n",
		    id, case_id, v[4] ? v[4] : "?", old, when(t, buf, sizeof buf));
	free_row(v, 6);
	return tx_end(c, rc);
}

static int
cmd_appointments(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "case", required_argument, NULL, O_CASE },
		{ "all", no_argument, NULL, O_ALL },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	sqlite3_stmt *s;
	long long case_id = 0;
	char buf[32];
	int ch, rc, r, all = 0, n = 0;
	time_t t, now = time(NULL);

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (ch == O_CASE) {
			if ((rc = id_arg(c, "--case", optarg, &case_id)) != 0)
				return rc;
		} else if (ch == O_ALL)
			all = 1;
		else if (ch == 'h')
			return help(c);
		else
			return badopt(c, ch, argv);
	}
	if ((rc = no_args(c, argc, argv)) != 0 || (rc = ctx_open(c)) != 0)
		return rc;
	if ((s = q_prep(c, "SELECT a.id, a.case_id, k.label, a.starts_at, "
	    "a.duration_min, a.kind, a.mode, a.status FROM appointments a "
	    "LEFT JOIN cases k ON k.id = a.case_id WHERE ?1 = 0 OR "
	    "a.case_id = ?1 ORDER BY a.starts_at, a.id", "I", case_id)) == NULL)
		return EX_IOERR;
	while ((r = q_step(c, s)) == 1) {
		if (!all && (strcmp(ctext(s, 7), "booked") != 0 ||
		    (tz_parse_any(ctext(s, 3), &t) == 0 && t < now)))
			continue;
		if (n++ == 0)
			printf("%-5s %-16s %-5s %-20s %-10s %-9s %4s  %s\n", "ID",
			    "WHEN", "CASE", "LABEL", "KIND", "MODE", "MIN",
			    "STATUS");
		printf("%-5lld %-16s %-5lld %-20s %-10s %-9s %4d  %s\n",
		    (long long)sqlite3_column_int64(s, 0),
		    when_short(ctext(s, 3), buf, sizeof buf),
		    (long long)sqlite3_column_int64(s, 1), ctext(s, 2),
		    ctext(s, 5), ctext(s, 6), sqlite3_column_int(s, 4),
		    ctext(s, 7));
	}
	sqlite3_finalize(s);
	if (r == -1)
		return EX_IOERR;
	if (n == 0)
		printf("no %sappointments\n", all ? "" : "upcoming ");
	return 0;
}

/* ---- homework ---- */

static int
in_quiet(const struct conf *cf, int min)
{
	if (cf->quiet.from == cf->quiet.to)
		return 0;
	if (cf->quiet.from < cf->quiet.to)
		return min >= cf->quiet.from && min < cf->quiet.to;
	return min >= cf->quiet.from || min < cf->quiet.to;
}

static int
cmd_homework_add(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "case", required_argument, NULL, O_CASE },
		{ "title", required_argument, NULL, O_TITLE },
		{ "prompt", required_argument, NULL, O_PROMPT },
		{ "starts-on", required_argument, NULL, O_STARTS },
		{ "ends-on", required_argument, NULL, O_ENDS },
		{ "every", required_argument, NULL, O_EVERY },
		{ "at", required_argument, NULL, O_AT },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	const char *title = NULL, *prompt = NULL, *starts = NULL, *ends = NULL;
	const char *at = NULL;
	char *label = NULL, sd[40], ed[40], hm[24];
	long long case_id = 0;
	long every = 2;
	int ch, rc, y, mo, d, y2, mo2, d2, min = -1, k;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		rc = 0;
		switch (ch) {
		case O_CASE: rc = id_arg(c, "--case", optarg, &case_id); break;
		case O_TITLE: title = optarg; break;
		case O_PROMPT: prompt = optarg; break;
		case O_STARTS: starts = optarg; break;
		case O_ENDS: ends = optarg; break;
		case O_EVERY: rc = num(c, "--every", optarg, 1, 365, &every); break;
		case O_AT: at = optarg; break;
		case 'h':
			return help(c);
		default:
			return badopt(c, ch, argv);
		}
		if (rc != 0)
			return rc;
	}
	if ((rc = no_args(c, argc, argv)) != 0)
		return rc;
	if (case_id == 0 || title == NULL || prompt == NULL || starts == NULL)
		return fail(EX_USAGE, "%s: --case, --title, --prompt and "
		    "--starts-on are required", c->cmd);
	if (tz_parse_date(starts, &y, &mo, &d) == -1 ||
	    (ends && tz_parse_date(ends, &y2, &mo2, &d2) == -1))
		return fail(EX_USAGE, "%s: dates are YYYY-MM-DD, not '%s'",
		    c->cmd, ends && tz_parse_date(starts, &y, &mo, &d) == 0 ?
		    ends : starts);
	if (at && tz_parse_hhmm(at, &min) == -1)
		return fail(EX_USAGE, "%s: --at wants HH:MM, not '%s'", c->cmd, at);
	snprintf(sd, sizeof sd, "%04d-%02d-%02d", y, mo, d);
	if (ends) {
		snprintf(ed, sizeof ed, "%04d-%02d-%02d", y2, mo2, d2);
		if (tz_days_from_civil(y2, mo2, d2) < tz_days_from_civil(y, mo, d))
			return fail(EX_DATAERR, "%s: --ends-on %s is before "
			    "--starts-on %s", c->cmd, ed, sd);
	}
	if (min >= 0)
		snprintf(hm, sizeof hm, "%02d:%02d", min / 60, min % 60);
	if ((rc = text_ok(c, "--title", title, 200)) != 0 ||
	    (rc = text_ok(c, "--prompt", prompt, 2000)) != 0 ||
	    (rc = tx_begin(c)) != 0)
		return rc;
	/* nudged would refuse the same time in its config: say so now. */
	for (k = 0; k < CHAN_N && min >= 0 && rc == 0; k++)
		if (c->conf->homework.channels[k] &&
		    conf_quiet_on(c->conf, (enum chan)k) && in_quiet(c->conf, min))
			rc = fail(EX_DATAERR, "%s: --at %s falls in quiet hours "
			    "(%02d:%02d-%02d:%02d) on %s", c->cmd, hm,
			    c->conf->quiet.from / 60, c->conf->quiet.from % 60,
			    c->conf->quiet.to / 60, c->conf->quiet.to % 60,
			    chan_name((enum chan)k));
	if (rc == 0)
		rc = open_case(c, case_id, &label);
	if (rc == 0)
		rc = q_exec(c, "INSERT INTO homework (case_id, title, prompt, "
		    "starts_on, ends_on, every_days, at_time) VALUES (?1, ?2, "
		    "?3, ?4, ?5, ?6, ?7)", "Ittttit", case_id, title, prompt, sd,
		    ends ? ed : NULL, (int)every, min >= 0 ? hm : NULL);
	if (rc == 0) {
		outf(c, "homework %lld added: case %lld (%s), \"%s\", every ",
		    (long long)sqlite3_last_insert_rowid(c->db), case_id, label,
		    title);
		if (every == 1)
			outf(c, "day");
		else
			outf(c, "%ld days", every);
		outf(c, " from %s until %s at ", sd, ends ? ed :
		    "the next session");
		if (min >= 0)
			outf(c, "%s\n", hm);
		else
			outf(c, "%02d:%02d (homework.at)\n",
			    c->conf->homework.at / 60, c->conf->homework.at % 60);
	}
	free(label);
	return tx_end(c, rc);
}

static int
cmd_homework_list(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "case", required_argument, NULL, O_CASE },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	sqlite3_stmt *s;
	long long case_id = 0;
	char at[16];
	int ch, rc, r, n = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (ch == O_CASE) {
			if ((rc = id_arg(c, "--case", optarg, &case_id)) != 0)
				return rc;
		} else if (ch == 'h')
			return help(c);
		else
			return badopt(c, ch, argv);
	}
	if ((rc = no_args(c, argc, argv)) != 0 || (rc = ctx_open(c)) != 0)
		return rc;
	if ((s = q_prep(c, "SELECT h.id, h.case_id, k.label, h.title, "
	    "h.starts_on, h.ends_on, h.every_days, h.at_time, h.active "
	    "FROM homework h LEFT JOIN cases k ON k.id = h.case_id "
	    "WHERE ?1 = 0 OR h.case_id = ?1 ORDER BY h.id", "I",
	    case_id)) == NULL)
		return EX_IOERR;
	snprintf(at, sizeof at, "%02d:%02d", c->conf->homework.at / 60,
	    c->conf->homework.at % 60);
	while ((r = q_step(c, s)) == 1) {
		if (n++ == 0)
			printf("%-5s %-5s %-20s %-8s %-28s %s\n", "ID", "CASE",
			    "LABEL", "STATUS", "TITLE", "SCHEDULE");
		printf("%-5lld %-5lld %-20s %-8s %-28s every %d day(s) from %s "
		    "until %s at %s\n", (long long)sqlite3_column_int64(s, 0),
		    (long long)sqlite3_column_int64(s, 1), ctext(s, 2),
		    sqlite3_column_int(s, 8) ? "active" : "stopped", ctext(s, 3),
		    sqlite3_column_int(s, 6), ctext(s, 4),
		    sqlite3_column_type(s, 5) == SQLITE_NULL ? "next session" :
		    ctext(s, 5), sqlite3_column_type(s, 7) == SQLITE_NULL ? at :
		    ctext(s, 7));
	}
	sqlite3_finalize(s);
	if (r == -1)
		return EX_IOERR;
	if (n == 0)
		printf("no homework\n");
	return 0;
}

static int
cmd_homework_stop(struct ctx *c, int argc, char **argv)
{
	char *v[3];
	long long id;
	long active = 1;
	int rc;

	if ((rc = opts_none(c, argc, argv)) != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = one_id(c, argc, argv, "homework", &id)) != 0 ||
	    (rc = tx_begin(c)) != 0)
		return rc;
	if ((rc = q_row(c, "homework", id, "SELECT title, active, case_id "
	    "FROM homework WHERE id = ?1", v, 3)) != 0)
		return tx_end(c, rc);
	if (v[1] != NULL && parse_long(v[1], LONG_MIN, LONG_MAX, &active) == 0 &&
	    active == 0)
		rc = fail(EX_DATAERR, "%s: homework %lld is stopped already",
		    c->cmd, id);
	else
		rc = q_exec(c, "UPDATE homework SET active = 0 WHERE id = ?1",
		    "I", id);
	if (rc == 0)
		outf(c, "homework %lld stopped: case %s, \"%s\"\n", id, v[2], v[0]);
	free_row(v, 3);
	return tx_end(c, rc);
}

/* ---- preview, outbox, test ---- */

static int
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
			if ((rc = num(c, "--days", optarg, 1, 366, &days)) != 0)
				return rc;
		} else if (ch == O_NOW) {
			if (tz_parse_utc(optarg, &now) == -1)
				return fail(EX_USAGE, "%s: --now wants "
				    "YYYY-MM-DDTHH:MM:SSZ (UTC), not '%s'",
				    c->cmd, optarg);
		} else if (ch == 'h')
			return help(c);
		else
			return badopt(c, ch, argv);
	}
	if ((rc = no_args(c, argc, argv)) != 0 || (rc = ctx_open(c)) != 0)
		return rc;
	if (now == 0)
		now = time(NULL);
	if (deliver_upcoming(c->conf, c->st, now, now + days * 86400, stdout,
	    err, sizeof err) == -1)
		return fail(EX_IOERR, "upcoming: %s", err);
	return 0;
}

/* Server replies may carry line breaks; a table row must stay one line. */
static void
print_flat(const char *s)
{
	for (; *s != '\0'; s++)
		putchar((unsigned char)*s < 0x20 ? ' ' : *s);
}

static int
cmd_outbox(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "failed", no_argument, NULL, O_FAILED },
		{ "since", required_argument, NULL, O_SINCE },
		{ "limit", required_argument, NULL, O_LIMIT },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	const char *since = NULL;
	char from[TZ_UTC_LEN], due[32], sent[32];
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
			if ((rc = num(c, "--limit", optarg, 1, 1000000, &limit)) != 0)
				return rc;
		} else if (ch == 'h')
			return help(c);
		else
			return badopt(c, ch, argv);
	}
	if ((rc = no_args(c, argc, argv)) != 0)
		return rc;
	if (since && tz_parse_date(since, &y, &mo, &d) == -1)
		return fail(EX_USAGE, "%s: --since wants a date YYYY-MM-DD, not "
		    "'%s'", c->cmd, since);
	if ((rc = ctx_open(c)) != 0)
		return rc;
	if (since) {
		if (tz_local_to_utc(y, mo, d, 0, 0, 0, &t) == -1)
			return fail(EX_USAGE, "%s: bad --since", c->cmd);
		tz_format_utc(t, from);
	}
	if ((s = q_prep(c, "SELECT id, purpose, channel, recipient, due_at, "
	    "status, attempts, last_error, sent_at FROM messages WHERE "
	    "(?1 = 0 OR status = 'failed') AND (?2 IS NULL OR due_at >= ?2) "
	    "ORDER BY due_at DESC, id DESC LIMIT ?3", "iti", failed,
	    since ? from : NULL, (int)limit)) == NULL)
		return EX_IOERR;
	while ((r = q_step(c, s)) == 1) {
		if (n++ == 0)
			printf("%-6s %-16s %-12s %-5s %-9s %5s  %s\n", "ID",
			    "DUE", "PURPOSE", "CHAN", "STATUS", "TRIES",
			    "RECIPIENT");
		printf("%-6lld %-16s %-12s %-5s %-9s %5d  ",
		    (long long)sqlite3_column_int64(s, 0),
		    when_short(ctext(s, 4), due, sizeof due), ctext(s, 1),
		    ctext(s, 2), ctext(s, 5), sqlite3_column_int(s, 6));
		print_flat(ctext(s, 3));
		if (sqlite3_column_type(s, 8) != SQLITE_NULL)
			printf("  sent %s", when_short(ctext(s, 8), sent,
			    sizeof sent));
		printf("\n");
		if (sqlite3_column_type(s, 7) != SQLITE_NULL) {
			printf("       why: ");
			print_flat(ctext(s, 7));
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

static int
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
			return help(c);
		else
			return badopt(c, ch, argv);
	}
	if ((rc = no_args(c, argc, argv)) != 0)
		return rc;
	if (to == NULL)
		return fail(EX_USAGE, "%s: --to is required", c->cmd);
	if ((rc = text_ok(c, "--to", to, 254)) != 0 || (rc = ctx_open(c)) != 0)
		return rc;
	err[0] = '\0';
	r = deliver_test(c->conf, c->st, to, time(NULL), err, sizeof err);
	switch (r) {
	case XFER_OK:
		printf("test message sent to %s\n", to);
		return 0;
	case XFER_PERMFAIL:
		return fail(EX_DATAERR, "test message to %s refused: %s", to,
		    err[0] ? err : "permanent failure");
	case XFER_TEMPFAIL:
	case XFER_UNKNOWN:
	case XFER_CHANNEL:
		return fail(EX_TEMPFAIL, "test message to %s not sent (%s): %s",
		    to, xfer_result_name((enum xfer_result)r),
		    err[0] ? err : "no details");
	default:
		return fail(EX_IOERR, "test message to %s: %s", to,
		    err[0] ? err : "failed");
	}
}

static int
cmd_init(struct ctx *c, int argc, char **argv)
{
	sqlite3_stmt *s;
	int rc, r;

	if ((rc = opts_none(c, argc, argv)) != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = no_args(c, argc, argv)) != 0 || (rc = ctx_open(c)) != 0)
		return rc;
	if ((s = q_prep(c, "PRAGMA user_version", "")) == NULL)
		return EX_IOERR;
	if ((r = q_step(c, s)) == 1)
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
	{ "case", "add", cmd_case_add, "add a case (one person or a couple)",
	  "usage: nudgectl case add --label LABEL --client ID [--client ID]\n"
	  "A case has one client, or two for a couple; each must exist.\n" },
	{ "case", "list", cmd_case_list, "list cases and their members",
	  "usage: nudgectl case list\n" },
	{ "case", "close", cmd_case_close, "close a case: no more messages",
	  "usage: nudgectl case close ID\n" },
	{ NULL, "book", cmd_book, "book an appointment (or a weekly series)",
	  "usage: nudgectl book --case ID --at \"YYYY-MM-DD HH:MM\" "
	  "[--kind KIND] [--duration MIN]\n"
	  "                     [--mode MODE] [--video-url URL] [--weekly N]\n"
	  "  --at TIME        local time in practice.timezone\n"
	  "  --kind KIND      assessment, session (default) or call\n"
	  "  --duration MIN   default 60; 90 for an assessment, 15 for a call\n"
	  "  --mode MODE      in_person (default), online, phone (default for "
	  "a call)\n"
	  "  --video-url URL  link for an online session (default: "
	  "practice.video_url)\n"
	  "  --weekly N       N appointments, a week apart, at the same local "
	  "time\n" },
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
	{ NULL, "upcoming", cmd_upcoming, "what will be sent, when, to whom",
	  "usage: nudgectl upcoming [--days N] [--now YYYY-MM-DDTHH:MM:SSZ]\n"
	  "Every message due in the next N days (default 14), rendered. "
	  "Writes nothing.\n" },
	{ NULL, "outbox", cmd_outbox, "what was sent or failed, and why",
	  "usage: nudgectl outbox [--failed] [--since YYYY-MM-DD] [--limit N]\n"
	  "  --failed        failed messages only, with the reason\n"
	  "  --since DATE    due on or after that local date\n"
	  "  --limit N       at most N rows, newest first (default 50)\n" },
	{ NULL, "send-test", cmd_send_test, "send one real test message",
	  "usage: nudgectl send-test --to ADDRESS_OR_PHONE\n"
	  "An email address goes by email, a phone number by SMS.\n" },
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
			return fail(EX_USAGE, "%s: which one? (see nudgectl %s "
			    "--help)", group, group);
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
		return fail(EX_USAGE, "%s: unknown subcommand '%s' (see nudgectl "
		    "%s --help)", group, argv[0], group);
	return fail(EX_USAGE, "unknown command '%s' (see nudgectl --help)",
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
				return fail(EX_USAGE, "option %s needs a value "
				    "(see nudgectl --help)", argv[optind - 1]);
			return fail(EX_USAGE, "unknown option %s (see nudgectl "
			    "--help)", optopt > 0 && optopt < 128 ?
			    (char[3]){ '-', (char)optopt, '\0' } : argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return fail(EX_USAGE, "no command given (see nudgectl --help)");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return fail(EX_SOFTWARE, "cannot initialise libcurl");
	rc = dispatch(&c, argc - optind, argv + optind);
	curl_global_cleanup();
	fflush(stdout);
	if (ferror(stdout) && rc == 0)
		rc = fail(EX_IOERR, "cannot write the output");
	store_close(c.st);
	conf_free(c.conf);
	sbuf_free(&c.out);
	return rc;
}
