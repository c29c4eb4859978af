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
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <sqlite3.h>

#include "conf.h"
#include "deliver.h"
#include "mail.h"
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

/* Stored as typed; the SMS module normalises to E.164 at send time. */
static int
phone_ok(const struct ctx *c, const char *s)
{
	const char *p;
	int digits = 0, rc;

	if ((rc = text_ok(c, "--phone", s, 32)) != 0)
		return rc;
	for (p = s; *p != '\0'; p++) {
		if (*p >= '0' && *p <= '9')
			digits++;
		else if (!(strchr(" -().", *p) != NULL || (*p == '+' && p == s)))
			break;
	}
	if (*p != '\0' || digits < 6 || digits > 15)
		return fail(EX_DATAERR, "%s: '%s' is not a phone number "
		    "(digits, spaces, a leading +)", c->cmd, s);
	return 0;
}

/* "YYYY-MM-DD HH:MM" (or with a T) as the practice's local time, to UTC. */
static int
local_time(const struct ctx *c, const char *opt, const char *s, time_t *t)
{
	char date[11];
	int y, mo, d, min;

	if (strlen(s) != 16 || (s[10] != ' ' && s[10] != 'T'))
		goto bad;
	memcpy(date, s, 10);
	date[10] = '\0';
	if (tz_parse_date(date, &y, &mo, &d) == -1 ||
	    tz_parse_hhmm(s + 11, &min) == -1 ||
	    tz_local_to_utc(y, mo, d, min / 60, min % 60, 0, t) == -1)
		goto bad;
	return 0;
bad:
	return fail(EX_USAGE, "%s: %s wants a local time \"YYYY-MM-DD HH:MM\", "
	    "not '%s'", c->cmd, opt, s);
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
	    (o->phone && (rc = phone_ok(c, o->phone)) != 0))
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
