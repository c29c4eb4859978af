/*
 * ctl_people: nudgectl's client and case commands (client add, list,
 * show, edit, opt-out, opt-in; case add, list, close).  A client's
 * contact details are checked here, when typed, so that nudged does not
 * find a bad address or number only when a reminder is due.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <sqlite3.h>

#include "cmd/ctl.h"
#include "transport/mail.h"
#include "base/phone.h"
#include "base/tz.h"
#include "base/util.h"

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
		return ctl_fail(EX_DATAERR, "%s: %s", c->cmd, err);
	if (sms && phone_sms_capable(e164, err, sizeof err) == -1)
		fprintf(stderr, "nudgectl: warning: %s\n", err);
	return 0;
}

static void
now_utc(char buf[TZ_UTC_LEN])
{
	tz_format_utc(time(NULL), buf);
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
			ctl_help(c);
			return DONE;
		default:
			return ctl_badopt(c, ch, argv);
		}
	}
	if ((o->first && o->clr_first) || (o->email && o->clr_email) ||
	    (o->phone && o->clr_phone))
		return ctl_fail(EX_USAGE, "%s: give a value or clear it, not "
		    "both", c->cmd);
	if ((o->name && (rc = ctl_text_ok(c, "--name", o->name, 200)) != 0) ||
	    (o->first &&
	    (rc = ctl_text_ok(c, "--first-name", o->first, 100)) != 0) ||
	    (o->phone && (rc = ctl_text_ok(c, "--phone", o->phone, 40)) != 0))
		return rc;
	if (o->email && (strlen(o->email) > 254 || !address_valid(o->email)))
		return ctl_fail(EX_DATAERR, "%s: '%s' is not a valid email "
		    "address", c->cmd, o->email);
	if (o->email && strchr(strrchr(o->email, '@'), '.') == NULL)
		ctl_warn(c, "the email address '%s' has no dot in its domain "
		    "(a typo such as 'gmailcom'?); saved as typed", o->email);
	return 0;
}

/*
 * After a client is added or changed: warn about look-alikes (the same
 * person typed twice) and a client who can never be reached.  The change
 * is made all the same.  0 or an exit code.
 */
static int
client_warn(struct ctx *c, long long id, const char *new_name,
    const char *new_email, const char *name, const char *email,
    const char *phone)
{
	long long same_name, same_email;
	char err[512];

	/* Only what was typed now is compared: an old twin was warned of. */
	if (store_client_lookalike(c->st, new_name, new_email, id, &same_name,
	    &same_email, err, sizeof err) != 0)
		return ctl_fail(EX_IOERR, "%s", err);
	if (same_name > 0)
		ctl_warn(c, "client %lld has the same name (%s): the same "
		    "person twice?", same_name, new_name);
	if (same_email > 0)
		ctl_warn(c, "client %lld has the same email address: the same "
		    "person twice?", same_email);
	if ((email == NULL || *email == '\0') && (phone == NULL ||
	    *phone == '\0'))
		ctl_warn(c, "client %s has no email and no phone: nudged can "
		    "never send them anything", name);
	return 0;
}

int
cmd_client_add(struct ctx *c, int argc, char **argv)
{
	struct client_opts o;
	int rc;

	if ((rc = client_parse(c, argc, argv, &o)) != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = ctl_no_args(c, argc, argv)) != 0)
		return rc;
	if (o.name == NULL)
		return ctl_fail(EX_USAGE, "%s: --name is required", c->cmd);
	if ((rc = ctl_tx_begin(c)) != 0)
		return rc;
	if (o.phone && (rc = phone_check(c, o.phone, o.sms == 1)) != 0)
		return ctl_tx_end(c, rc);
	if ((rc = client_warn(c, 0, o.name, o.email, o.name, o.email,
	    o.phone)) != 0)
		return ctl_tx_end(c, rc);
	rc = ctl_q_exec(c, "INSERT INTO clients (name, first_name, email, "
	    "phone, email_consent, sms_consent, discreet) VALUES (?1, ?2, ?3, "
	    "?4, ?5, ?6, ?7)", "ttttiii", o.name, o.first, o.email, o.phone,
	    o.email_ok != 0, o.sms == 1, o.discreet == 1);
	if (rc == 0)
		ctl_outf(c, "client %lld added: %s\n",
		    (long long)sqlite3_last_insert_rowid(c->db), o.name);
	return ctl_tx_end(c, rc);
}

static int
flag(const char *v, int change)
{
	long x = 0;

	if (change >= 0)
		return change;
	return v != NULL && parse_long(v, LONG_MIN, LONG_MAX, &x) == 0 && x != 0;
}

int
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
	if ((rc = ctl_one_id(c, argc, argv, "client", &id)) != 0)
		return rc;
	if (!o.name && !o.first && !o.email && !o.phone && !o.clr_first &&
	    !o.clr_email && !o.clr_phone && o.sms < 0 && o.email_ok < 0 &&
	    o.discreet < 0)
		return ctl_fail(EX_USAGE, "%s: nothing to change (see --help)",
		    c->cmd);
	if ((rc = ctl_tx_begin(c)) != 0)
		return rc;
	if ((rc = ctl_q_row(c, "client", id, "SELECT name, first_name, email, "
	    "phone, email_consent, sms_consent, discreet FROM clients "
	    "WHERE id = ?1", v, 7)) != 0)
		return ctl_tx_end(c, rc);
	name = o.name ? o.name : v[0];
	first = o.clr_first ? NULL : o.first ? o.first : v[1];
	email = o.clr_email ? NULL : o.email ? o.email : v[2];
	phone = o.clr_phone ? NULL : o.phone ? o.phone : v[3];
	if (phone && (o.phone || o.sms == 1))
		rc = phone_check(c, phone, flag(v[5], o.sms));
	if (rc == 0 && (o.name || o.email || o.clr_email || o.clr_phone))
		rc = client_warn(c, id, o.name, o.email, name, email, phone);
	if (rc == 0)
		rc = ctl_q_exec(c, "UPDATE clients SET name = ?1, "
		    "first_name = ?2, email = ?3, phone = ?4, "
		    "email_consent = ?5, sms_consent = ?6, discreet = ?7 "
		    "WHERE id = ?8", "ttttiiiI", name, first, email, phone,
		    flag(v[4], o.email_ok), flag(v[5], o.sms),
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
		ctl_outf(c, "client %lld updated: %s (%s)\n", id, name,
		    sbuf_str(&what) + 2);
	sbuf_free(&what);
	ctl_free_row(v, 7);
	return ctl_tx_end(c, rc);
}

int
cmd_client_list(struct ctx *c, int argc, char **argv)
{
	sqlite3_stmt *s;
	int rc, r, n = 0;

	if ((rc = ctl_args_none(c, argc, argv)) != 0 ||
	    (rc = ctl_ctx_open(c)) != 0)
		return rc == DONE ? 0 : rc;
	if ((s = ctl_q_prep(c, "SELECT id, name, email, phone, email_consent, "
	    "sms_consent, discreet, opted_out_at FROM clients ORDER BY id",
	    "")) == NULL)
		return EX_IOERR;
	while ((r = ctl_q_step(c, s)) == 1) {
		if (n++ == 0)
			printf("%-5s %-24s %-30s %-16s %s\n", "ID", "NAME",
			    "EMAIL", "PHONE", "FLAGS");
		printf("%-5lld ", (long long)sqlite3_column_int64(s, 0));
		ctl_pad(ctl_ctext(s, 1), 24);
		printf(" %-30s %-16s%s%s%s%s\n",
		    sqlite3_column_type(s, 2) == SQLITE_NULL ? "-" :
		    ctl_ctext(s, 2),
		    sqlite3_column_type(s, 3) == SQLITE_NULL ? "-" :
		    ctl_ctext(s, 3),
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

int
cmd_client_show(struct ctx *c, int argc, char **argv)
{
	sqlite3_stmt *s;
	char *v[8], buf[64];
	long long id;
	int rc, r;

	if ((rc = ctl_args_id(c, argc, argv, "client", &id)) != 0 ||
	    (rc = ctl_ctx_open(c)) != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = ctl_q_row(c, "client", id, "SELECT name, first_name, email, "
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
	printf("  opted out:  %s\n", v[7] ?
	    ctl_when_short(v[7], buf, sizeof buf) : "no");
	ctl_free_row(v, 8);
	if ((rc = ctl_consent_history(c, id)) != 0)
		return rc;
	if ((s = ctl_q_prep(c, "SELECT k.id, k.label, k.closed_at FROM cases k "
	    "JOIN case_members m ON m.case_id = k.id WHERE m.client_id = ?1 "
	    "ORDER BY k.id", "I", id)) == NULL)
		return EX_IOERR;
	while ((r = ctl_q_step(c, s)) == 1)
		printf("  case:       %lld %s (%s)\n",
		    (long long)sqlite3_column_int64(s, 0), ctl_ctext(s, 1),
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

	if ((rc = ctl_id_row(c, argc, argv, "client", "SELECT name, "
	    "opted_out_at FROM clients WHERE id = ?1", v, 2, &id)) != 0)
		return rc == DONE ? 0 : rc;
	now_utc(now);
	if (out && v[1] != NULL)
		rc = ctl_fail(EX_DATAERR, "%s: client %lld (%s) opted out "
		    "already, on %s", c->cmd, id, v[0],
		    ctl_when_short(v[1], buf, sizeof buf));
	else if (!out && v[1] == NULL)
		rc = ctl_fail(EX_DATAERR, "%s: client %lld (%s) is not opted "
		    "out", c->cmd, id, v[0]);
	else
		rc = ctl_q_exec(c, "UPDATE clients SET opted_out_at = ?1 WHERE "
		    "id = ?2", "tI", out ? now : NULL, id);
	if (rc == 0)
		ctl_outf(c, "client %lld opted %s: %s%s\n", id,
		    out ? "out" : "in", v[0],
		    out ? " (nothing more will be sent to them)" : "");
	ctl_free_row(v, 2);
	return ctl_tx_end(c, rc);
}

int
cmd_client_optout(struct ctx *c, int argc, char **argv)
{
	return client_opt(c, argc, argv, 1);
}

int
cmd_client_optin(struct ctx *c, int argc, char **argv)
{
	return client_opt(c, argc, argv, 0);
}

/* ---- cases ---- */

int
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
				return ctl_fail(EX_USAGE, "%s: a case has one "
				    "or two clients", c->cmd);
			if ((rc = ctl_id_arg(c, "--client", optarg,
			    &ids[n++])) != 0)
				return rc;
			break;
		case 'h':
			return ctl_help(c);
		default:
			return ctl_badopt(c, ch, argv);
		}
	}
	if ((rc = ctl_no_args(c, argc, argv)) != 0)
		return rc;
	if (label == NULL || n == 0)
		return ctl_fail(EX_USAGE, "%s: --label and --client are "
		    "required", c->cmd);
	if (n == 2 && ids[0] == ids[1])
		return ctl_fail(EX_USAGE, "%s: the two clients must differ",
		    c->cmd);
	if ((rc = ctl_text_ok(c, "--label", label, 200)) != 0 ||
	    (rc = ctl_tx_begin(c)) != 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++)
		rc = ctl_q_row(c, "client", ids[i], "SELECT name FROM clients "
		    "WHERE id = ?1", &names[i], 1);
	if (rc == 0)
		rc = ctl_q_exec(c, "INSERT INTO cases (label) VALUES (?1)", "t",
		    label);
	id = sqlite3_last_insert_rowid(c->db);
	for (i = 0; i < n && rc == 0; i++)
		rc = ctl_q_exec(c, "INSERT INTO case_members (case_id, "
		    "client_id) VALUES (?1, ?2)", "II", id, ids[i]);
	if (rc == 0) {
		ctl_outf(c, "case %lld added: %s (client %lld %s", id, label,
		    ids[0], names[0]);
		if (n == 2)
			ctl_outf(c, ", client %lld %s", ids[1], names[1]);
		ctl_outf(c, ")\n");
	}
	free(names[0]);
	free(names[1]);
	return ctl_tx_end(c, rc);
}

int
cmd_case_list(struct ctx *c, int argc, char **argv)
{
	sqlite3_stmt *s, *m;
	int rc, r = 0, r2 = 0, n = 0, k;

	if ((rc = ctl_args_none(c, argc, argv)) != 0 ||
	    (rc = ctl_ctx_open(c)) != 0)
		return rc == DONE ? 0 : rc;
	if ((s = ctl_q_prep(c, "SELECT id, label, closed_at FROM cases "
	    "ORDER BY id", "")) == NULL)
		return EX_IOERR;
	while (r2 != -1 && (r = ctl_q_step(c, s)) == 1) {
		if (n++ == 0)
			printf("%-5s %-7s %-24s %s\n", "ID", "STATUS", "LABEL",
			    "MEMBERS");
		printf("%-5lld %-7s ", (long long)sqlite3_column_int64(s, 0),
		    sqlite3_column_type(s, 2) == SQLITE_NULL ? "open" : "closed");
		ctl_pad(ctl_ctext(s, 1), 24);
		if ((m = ctl_q_prep(c, "SELECT l.id, l.name FROM "
		    "case_members x JOIN clients l ON l.id = x.client_id "
		    "WHERE x.case_id = ?1 ORDER BY l.id", "I",
		    (long long)sqlite3_column_int64(s, 0))) == NULL) {
			r2 = -1;
			break;
		}
		for (k = 0; (r2 = ctl_q_step(c, m)) == 1; k++)
			printf("%s %lld %s", k ? "," : "",
			    (long long)sqlite3_column_int64(m, 0),
			    ctl_ctext(m, 1));
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

/*
 * Closing a case whose sessions are still booked is usually a slip: the
 * clients would get no reminder and no notice.  Say so (the case is
 * closed all the same); --cancel-future cancels them too, also on a case
 * closed already.
 */
int
cmd_case_close(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "cancel-future", no_argument, NULL, O_CANCEL_FUTURE },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	char *v[2], now[TZ_UTC_LEN], err[512], d[64], h[16];
	long long id;
	long n = 0;
	time_t first;
	int ch, rc, cancel = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (ch == O_CANCEL_FUTURE)
			cancel = 1;
		else if (ch == 'h')
			return ctl_help(c);
		else
			return ctl_badopt(c, ch, argv);
	}
	if ((rc = ctl_one_id(c, argc, argv, "case", &id)) != 0 ||
	    (rc = ctl_tx_begin(c)) != 0)
		return rc;
	if ((rc = ctl_q_row(c, "case", id, "SELECT label, closed_at FROM "
	    "cases WHERE id = ?1", v, 2)) != 0)
		return ctl_tx_end(c, rc);
	now_utc(now);
	if (store_case_future(c->st, id, time(NULL), cancel, &n, &first, err,
	    sizeof err) != 0)
		rc = ctl_fail(EX_IOERR, "%s", err);
	else if (v[1] != NULL && !(cancel && n > 0))
		rc = ctl_fail(EX_DATAERR, "%s: case %lld (%s) is closed "
		    "already", c->cmd, id, v[0]);
	else if (v[1] == NULL)
		rc = ctl_q_exec(c, "UPDATE cases SET closed_at = ?1 WHERE "
		    "id = ?2", "tI", now, id);
	if (rc == 0 && n > 0) {
		tz_format_date(first, d, sizeof d);
		tz_format_time(first, h, sizeof h);
	}
	if (rc == 0 && n > 0 && cancel)
		ctl_outf(c, "%ld future appointment%s of case %lld cancelled "
		    "(the first was on %s at %s)\n", n, n == 1 ? "" : "s", id,
		    d, h);
	else if (rc == 0 && n > 0)
		ctl_warn(c, "case %lld still has %ld booked appointment%s ahead "
		    "(the first on %s at %s): no reminder will go for %s; to "
		    "cancel %s: nudgectl case close %lld --cancel-future", id, n,
		    n == 1 ? "" : "s", d, h, n == 1 ? "it" : "them",
		    n == 1 ? "it" : "them", id);
	if (rc == 0 && v[1] == NULL)
		ctl_outf(c, "case %lld closed: %s (no more messages for it)\n",
		    id, v[0]);
	ctl_free_row(v, 2);
	return ctl_tx_end(c, rc);
}

int
cmd_case_reopen(struct ctx *c, int argc, char **argv)
{
	char *v[2], err[512];
	long long id;
	int rc;

	if ((rc = ctl_id_row(c, argc, argv, "case", "SELECT label, closed_at "
	    "FROM cases WHERE id = ?1", v, 2, &id)) != 0)
		return rc == DONE ? 0 : rc;
	if (v[1] == NULL)
		rc = ctl_fail(EX_DATAERR, "%s: case %lld (%s) is open", c->cmd,
		    id, v[0]);
	else if (store_case_reopen(c->st, id, err, sizeof err) != 0)
		rc = ctl_fail(EX_IOERR, "%s", err);
	if (rc == 0)
		ctl_outf(c, "case %lld reopened: %s (its booked appointments "
		    "get messages again)\n", id, v[0]);
	ctl_free_row(v, 2);
	return ctl_tx_end(c, rc);
}

int
cmd_client_delete(struct ctx *c, int argc, char **argv)
{
	char *v[1], err[512], why[256];
	long long id;
	int rc, r;

	if ((rc = ctl_id_row(c, argc, argv, "client", "SELECT name FROM "
	    "clients WHERE id = ?1", v, 1, &id)) != 0)
		return rc == DONE ? 0 : rc;
	r = store_client_delete(c->st, id, why, sizeof why, err, sizeof err);
	if (r == -1)
		rc = ctl_fail(EX_IOERR, "%s", err);
	else if (r == 1)
		rc = ctl_fail(EX_DATAERR, "%s: client %lld (%s) is not deleted: "
		    "%s (use nudgectl client opt-out to send them nothing)",
		    c->cmd, id, v[0], why);
	else
		ctl_outf(c, "client %lld deleted: %s\n", id, v[0]);
	ctl_free_row(v, 1);
	return ctl_tx_end(c, rc);
}
