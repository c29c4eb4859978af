/*
 * ctl_people: nudgectl's client and case commands (client add, list,
 * show, edit, opt-out, opt-in; case add, list, close).  A client's
 * contact details are checked here, when typed, so that nudged does not
 * find a bad address or number only when a reminder is due.
 */
#include <assert.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

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

/* ---- clients ---- */

struct client_opts {
	const char	*name, *first, *email, *phone;
	int		 clr_first, clr_email, clr_phone;
	int		 sms, email_ok, discreet;	/* -1: unchanged */
};

/* The typed values' own checks (the phone number's: phone_check). */
static int
client_check(struct ctx *c, const struct client_opts *o)
{
	int rc;

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

/* client add's and edit's options.  0, DONE or an exit code. */
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
	while ((ch = ctl_getopt(c, argc, argv, ":h", lo, &rc)) != -1) {
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
		}
	}
	if (rc != 0)
		return rc;
	return client_check(c, o);
}

/*
 * After a client is added or changed: warn about look-alikes (the same
 * person typed twice) and a client who can never be reached.  The change
 * is made all the same.  0 or an exit code.
 */
static int
client_warn(struct ctx *c, long long id, const char *new_name,
    const char *new_email, const struct client_row *r)
{
	int has_email = r->email != NULL && *r->email != '\0';
	int has_phone = r->phone != NULL && *r->phone != '\0';

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
	if (!has_email && !has_phone)
		ctl_warn(c, "client %s has no email and no phone: nudged can "
		    "never send them anything", r->name);
	/* an address or a number without consent to use it reaches nobody */
	else if (!(has_email && r->email_consent) &&
	    !(has_phone && r->sms_consent))
		ctl_warn(c, "client %s has %s and %s: nudged can never send "
		    "them anything", r->name, !has_email ? "no email" :
		    "no consent to email", !has_phone ? "no phone" :
		    "no consent to SMS");
	return 0;
}

int
cmd_client_add(struct ctx *c, int argc, char **argv)
{
	struct client_opts o;
	struct client_row cl;
	char err[512];
	long long id;
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
	/* Email consent unless refused: an address given is for email. */
	cl = (struct client_row){ .name = (char *)o.name,
	    .first_name = (char *)o.first, .email = (char *)o.email,
	    .phone = (char *)o.phone, .email_consent = o.email_ok != 0,
	    .sms_consent = o.sms == 1, .discreet = o.discreet == 1 };
	if ((rc = client_warn(c, 0, o.name, o.email, &cl)) != 0)
		return ctl_tx_end(c, rc);
	if (store_client_add(c->st, &cl, &id, err, sizeof err) != 0)
		rc = ctl_ioerr(err);
	else
		ctl_outf(c, "client %lld added: %s\n", id, o.name);
	return ctl_tx_end(c, rc);
}

/* A flag as it will be: the change asked for, else as stored. */
static int
flag(int stored, int change)
{
	return change >= 0 ? change : stored;
}

/* "name, email, SMS consent given" for what client edit changed. */
static void
client_changes(const struct client_opts *o, struct sbuf *what)
{
	if (o->name)
		sbuf_add(what, ", name");
	if (o->first || o->clr_first)
		sbuf_add(what, ", first name");
	if (o->email || o->clr_email)
		sbuf_add(what, ", email");
	if (o->phone || o->clr_phone)
		sbuf_add(what, ", phone");
	if (o->email_ok >= 0)
		sbuf_add(what, o->email_ok ? ", email consent given" :
		    ", email consent withdrawn");
	if (o->sms >= 0)
		sbuf_add(what, o->sms ? ", SMS consent given" :
		    ", SMS consent withdrawn");
	if (o->discreet >= 0)
		sbuf_add(what, o->discreet ? ", discreet" : ", not discreet");
}

/* Client was (as stored) with o's changes applied: the strings borrowed. */
static struct client_row
client_edited(const struct client_row *was, const struct client_opts *o)
{
	struct client_row n = *was;

	n.name = o->name ? (char *)o->name : was->name;
	n.first_name = o->clr_first ? NULL : o->first ? (char *)o->first :
	    was->first_name;
	n.email = o->clr_email ? NULL : o->email ? (char *)o->email :
	    was->email;
	n.phone = o->clr_phone ? NULL : o->phone ? (char *)o->phone :
	    was->phone;
	n.email_consent = flag(was->email_consent, o->email_ok);
	n.sms_consent = flag(was->sms_consent, o->sms);
	n.discreet = flag(was->discreet, o->discreet);
	return n;
}

int
cmd_client_edit(struct ctx *c, int argc, char **argv)
{
	struct client_opts o;
	struct client_row was, n;
	struct sbuf what = { NULL, 0, 0 };
	char err[512];
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
	if ((rc = ctl_found(c, store_client_row(c->st, id, &was, err,
	    sizeof err), "client", id, err)) != 0)
		return ctl_tx_end(c, rc);
	n = client_edited(&was, &o);
	if (n.phone && (o.phone || o.sms == 1))
		rc = phone_check(c, n.phone, n.sms_consent);
	if (rc == 0 && (o.name || o.email || o.clr_email || o.clr_phone ||
	    o.phone || o.sms >= 0 || o.email_ok >= 0))
		rc = client_warn(c, id, o.name, o.email, &n);
	if (rc == 0 && store_client_update(c->st, &n, err, sizeof err) != 0)
		rc = ctl_ioerr(err);
	client_changes(&o, &what);
	if (rc == 0)
		ctl_outf(c, "client %lld updated: %s (%s)\n", id, n.name,
		    sbuf_str(&what) + 2);
	sbuf_free(&what);
	client_row_free(&was);
	return ctl_tx_end(c, rc);
}

int
cmd_client_list(struct ctx *c, int argc, char **argv)
{
	struct client_row *v;
	char err[512];
	size_t i, n;
	int rc;

	if ((rc = ctl_args_none(c, argc, argv)) != 0 ||
	    (rc = ctl_ctx_open(c)) != 0)
		return rc == DONE ? 0 : rc;
	if (store_client_rows(c->st, &v, &n, err, sizeof err) != 0)
		return ctl_ioerr(err);
	for (i = 0; i < n; i++) {
		if (i == 0)
			printf("%-5s %-24s %-30s %-16s %s\n", "ID", "NAME",
			    "EMAIL", "PHONE", "FLAGS");
		printf("%-5lld ", v[i].id);
		ctl_pad(v[i].name, 24);
		printf(" %-30s %-16s%s%s%s%s\n",
		    v[i].email ? v[i].email : "-",
		    v[i].phone ? v[i].phone : "-",
		    v[i].email_consent ? " email" : "",
		    v[i].sms_consent ? " sms" : "",
		    v[i].discreet ? " discreet" : "",
		    v[i].opted_out_at ? " OPTED-OUT" : "");
	}
	client_rows_free(v, n);
	if (n == 0)
		printf("no clients yet (add one with: nudgectl client add)\n");
	return 0;
}

int
cmd_client_show(struct ctx *c, int argc, char **argv)
{
	struct client_row cl;
	struct case_row *k;
	char err[512], buf[64];
	long long id;
	size_t i, n;
	int rc;

	if ((rc = ctl_args_id(c, argc, argv, "client", &id)) != 0 ||
	    (rc = ctl_ctx_open(c)) != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = ctl_found(c, store_client_row(c->st, id, &cl, err,
	    sizeof err), "client", id, err)) != 0)
		return rc;
	printf("client %lld: %s\n", id, cl.name);
	if (cl.first_name != NULL)
		printf("  greeting:   %s\n", cl.first_name);
	else
		printf("  greeting:   %.*s (first word of the name)\n",
		    (int)strcspn(cl.name, " "), cl.name);
	printf("  email:      %s (%s)\n", cl.email ? cl.email : "none",
	    cl.email_consent ? "consents to email" : "no email consent");
	printf("  phone:      %s (%s)\n", cl.phone ? cl.phone : "none",
	    cl.sms_consent ? "consents to SMS" : "no SMS consent");
	printf("  discreet:   %s\n", cl.discreet ? "yes (neutral wording)" :
	    "no");
	printf("  opted out:  %s\n", cl.opted_out_at ?
	    ctl_when_short(cl.opted_out_at, buf, sizeof buf) : "no");
	client_row_free(&cl);
	if ((rc = ctl_consent_history(c, id)) != 0)
		return rc;
	if (store_client_cases(c->st, id, &k, &n, err, sizeof err) != 0)
		return ctl_ioerr(err);
	for (i = 0; i < n; i++)
		printf("  case:       %lld %s (%s)\n", k[i].id, k[i].label,
		    k[i].closed_at ? "closed" : "open");
	case_rows_free(k, n);
	return 0;
}

static int
client_opt(struct ctx *c, int argc, char **argv, int out)
{
	struct client_row cl;
	char err[512], buf[64];
	long long id;
	int rc;

	if ((rc = ctl_id_tx(c, argc, argv, "client", &id)) != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = ctl_found(c, store_client_row(c->st, id, &cl, err,
	    sizeof err), "client", id, err)) != 0)
		return ctl_tx_end(c, rc);
	if (out && cl.opted_out_at != NULL)
		rc = ctl_fail(EX_DATAERR, "%s: client %lld (%s) opted out "
		    "already, on %s", c->cmd, id, cl.name,
		    ctl_when_short(cl.opted_out_at, buf, sizeof buf));
	else if (!out && cl.opted_out_at == NULL)
		rc = ctl_fail(EX_DATAERR, "%s: client %lld (%s) is not opted "
		    "out", c->cmd, id, cl.name);
	else if (store_client_opt_out(c->st, id, out ? time(NULL) : 0, err,
	    sizeof err) != 0)
		rc = ctl_ioerr(err);
	if (rc == 0)
		ctl_outf(c, "client %lld opted %s: %s%s\n", id,
		    out ? "out" : "in", cl.name,
		    out ? " (nothing more will be sent to them)" : "");
	client_row_free(&cl);
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

/* case add's --label and one or two --client.  0, DONE or an exit code. */
static int
case_opts(struct ctx *c, int argc, char **argv, const char **label,
    long long ids[2], int *n)
{
	static const struct option lo[] = {
		{ "label", required_argument, NULL, O_LABEL },
		{ "client", required_argument, NULL, O_CLIENT },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	int ch, rc;

	optind = 0;
	while ((ch = ctl_getopt(c, argc, argv, ":h", lo, &rc)) != -1) {
		switch (ch) {
		case O_LABEL:
			*label = optarg;
			break;
		case O_CLIENT:
			if (*n == 2)
				return ctl_fail(EX_USAGE, "%s: a case has one "
				    "or two clients", c->cmd);
			if ((rc = ctl_id_arg(c, "--client", optarg,
			    &ids[(*n)++])) != 0)
				return rc;
			break;
		}
	}
	if (rc != 0)
		return rc;
	if ((rc = ctl_no_args(c, argc, argv)) != 0)
		return rc;
	if (*label == NULL || *n == 0)
		return ctl_fail(EX_USAGE, "%s: --label and --client are "
		    "required", c->cmd);
	if (*n == 2 && ids[0] == ids[1])
		return ctl_fail(EX_USAGE, "%s: the two clients must differ",
		    c->cmd);
	return ctl_text_ok(c, "--label", *label, 200);
}

int
cmd_case_add(struct ctx *c, int argc, char **argv)
{
	const char *label = NULL;
	struct client_row cl[2];
	char err[512];
	long long ids[2] = { 0, 0 }, id = 0;
	int rc, n = 0, i;

	if ((rc = case_opts(c, argc, argv, &label, ids, &n)) != 0)
		return rc == DONE ? 0 : rc;
	assert(n >= 1 && n <= 2 && label != NULL);	/* case_opts requires */
	if ((rc = ctl_tx_begin(c)) != 0)
		return rc;
	memset(cl, 0, sizeof cl);
	for (i = 0; i < n && rc == 0; i++)
		rc = ctl_found(c, store_client_row(c->st, ids[i], &cl[i], err,
		    sizeof err), "client", ids[i], err);
	if (rc == 0 && store_case_add(c->st, label, ids, (size_t)n, &id, err,
	    sizeof err) != 0)
		rc = ctl_ioerr(err);
	if (rc == 0) {
		ctl_outf(c, "case %lld added: %s (client %lld %s", id, label,
		    ids[0], cl[0].name);
		if (n == 2)
			ctl_outf(c, ", client %lld %s", ids[1], cl[1].name);
		ctl_outf(c, ")\n");
	}
	client_row_free(&cl[0]);
	client_row_free(&cl[1]);
	return ctl_tx_end(c, rc);
}

int
cmd_case_list(struct ctx *c, int argc, char **argv)
{
	struct case_row *v;
	char err[512];
	size_t i, k, n;
	int rc;

	if ((rc = ctl_args_none(c, argc, argv)) != 0 ||
	    (rc = ctl_ctx_open(c)) != 0)
		return rc == DONE ? 0 : rc;
	if (store_case_rows(c->st, &v, &n, err, sizeof err) != 0)
		return ctl_ioerr(err);
	for (i = 0; i < n; i++) {
		if (i == 0)
			printf("%-5s %-7s %-24s %s\n", "ID", "STATUS", "LABEL",
			    "MEMBERS");
		printf("%-5lld %-7s ", v[i].id, v[i].closed_at ? "closed" :
		    "open");
		ctl_pad(v[i].label, 24);
		for (k = 0; k < v[i].nmembers; k++)
			printf("%s %lld %s", k ? "," : "", v[i].member_ids[k],
			    v[i].member_names[k]);
		printf("\n");
	}
	case_rows_free(v, n);
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
	struct case_row k;
	char err[512], d[64], h[16];
	long long id;
	long n = 0;
	time_t first;
	int ch, rc, cancel = 0;

	optind = 0;
	while ((ch = ctl_getopt(c, argc, argv, ":h", lo, &rc)) != -1) {
		if (ch == O_CANCEL_FUTURE)
			cancel = 1;
	}
	if (rc != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = ctl_one_id(c, argc, argv, "case", &id)) != 0 ||
	    (rc = ctl_tx_begin(c)) != 0)
		return rc;
	if ((rc = ctl_found(c, store_case_row(c->st, id, &k, err, sizeof err),
	    "case", id, err)) != 0)
		return ctl_tx_end(c, rc);
	if (store_case_future(c->st, id, time(NULL), cancel, &n, &first, err,
	    sizeof err) != 0)
		rc = ctl_ioerr(err);
	else if (k.closed_at != NULL && !(cancel && n > 0))
		rc = ctl_fail(EX_DATAERR, "%s: case %lld (%s) is closed "
		    "already", c->cmd, id, k.label);
	else if (k.closed_at == NULL)
		rc = store_case_close(c->st, id, time(NULL), err,
		    sizeof err) != 0 ? ctl_ioerr(err) : 0;
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
	if (rc == 0 && k.closed_at == NULL)
		ctl_outf(c, "case %lld closed: %s (no more messages for it)\n",
		    id, k.label);
	case_row_free(&k);
	return ctl_tx_end(c, rc);
}

int
cmd_case_reopen(struct ctx *c, int argc, char **argv)
{
	struct case_row k;
	char err[512];
	long long id;
	int rc;

	if ((rc = ctl_id_tx(c, argc, argv, "case", &id)) != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = ctl_found(c, store_case_row(c->st, id, &k, err, sizeof err),
	    "case", id, err)) != 0)
		return ctl_tx_end(c, rc);
	if (k.closed_at == NULL)
		rc = ctl_fail(EX_DATAERR, "%s: case %lld (%s) is open", c->cmd,
		    id, k.label);
	else if (store_case_reopen(c->st, id, err, sizeof err) != 0)
		rc = ctl_ioerr(err);
	if (rc == 0)
		ctl_outf(c, "case %lld reopened: %s (its booked appointments "
		    "get messages again)\n", id, k.label);
	case_row_free(&k);
	return ctl_tx_end(c, rc);
}

int
cmd_client_delete(struct ctx *c, int argc, char **argv)
{
	struct client_row cl;
	char err[512], why[256];
	enum store_rc r;
	long long id;
	int rc;

	if ((rc = ctl_id_tx(c, argc, argv, "client", &id)) != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = ctl_found(c, store_client_row(c->st, id, &cl, err,
	    sizeof err), "client", id, err)) != 0)
		return ctl_tx_end(c, rc);
	r = store_client_delete(c->st, id, why, sizeof why, err, sizeof err);
	if (r == STORE_ERR)
		rc = ctl_ioerr(err);
	else if (r == STORE_REFUSED)
		rc = ctl_fail(EX_DATAERR, "%s: client %lld (%s) is not deleted: "
		    "%s (use nudgectl client opt-out to send them nothing)",
		    c->cmd, id, cl.name, why);
	else
		ctl_outf(c, "client %lld deleted: %s\n", id, cl.name);
	client_row_free(&cl);
	return ctl_tx_end(c, rc);
}
