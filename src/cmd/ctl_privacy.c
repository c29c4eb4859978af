/*
 * ctl_privacy: nudgectl's data-care commands (issue 14): client export
 * (subject access), client forget (erasure), the consent history in
 * client show, and alert --service-failed (the systemd OnFailure= unit's
 * mail).  The SQL lives in store_privacy.c; the mail goes through
 * deliver_notify(), the failure digest's path.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cmd/ctl.h"
#include "engine/deliver.h"
#include "base/log.h"
#include "base/phone.h"
#include "store/store_privacy.h"
#include "base/tz.h"
#include "base/utf8.h"
#include "base/util.h"
#include "transport/xfer.h"

enum { O_FORMAT = 400, O_YES, O_SERVICE_FAILED };

/* ---- client show: the consent history ---- */

static void
history_row(void *arg, const struct store_row *r)
{
	int *n = arg;
	char buf[64];
	const char *v[5];

	for (int i = 0; i < 5; i++)
		v[i] = i < r->ncols && r->values[i] ? r->values[i] : "";
	if ((*n)++ == 0)
		printf("  consent history:\n");
	printf("    %s  %s %s -> %s  %s\n",
	    ctl_when_short(v[0], buf, sizeof buf), v[1],
	    v[2][0] ? v[2] : "(new)", v[3], v[4]);
}

int
ctl_consent_history(struct ctx *c, long long id)
{
	char err[512];
	int n = 0;

	if (store_consent_history(c->st, id, history_row, &n, err,
	    sizeof err) != 0)
		return ctl_fail(EX_IOERR, "%s", err);
	if (n == 0)
		printf("  consent history: none recorded yet\n");
	return 0;
}

/* ---- client export ---- */

/* store_export()'s sections, in its order. */
static const char *const sections[] = { "client", "cases", "partners",
	"appointments", "homework", "messages", "consent_log", "problems" };
#define NSECTIONS	(sizeof sections / sizeof sections[0])

struct export {
	int	 json;
	json_t	*root;
	struct sbuf text[NSECTIONS];	/* text: one per section */
};

/*
 * v onto b as valid UTF-8 (a tool may have written other bytes): only the
 * bytes that are not UTF-8 become U+FFFD, the rest is exported as it is
 * held.  oneline (the text form): a newline becomes a space and another
 * control character '?', so one value stays one line.
 */
static void
add_utf8(struct sbuf *b, const char *v, int oneline)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t n;

	while (*p != '\0') {
		if ((n = utf8_len(p)) == 0) {
			sbuf_add(b, "\xef\xbf\xbd");
			p++;
		} else if (oneline && *p < 0x20) {
			sbuf_addc(b, *p++ == '\n' ? ' ' : '?');
		} else
			while (n-- > 0)
				sbuf_addc(b, (char)*p++);
	}
}

/* Text as JSON wants it: valid UTF-8. */
static json_t *
jstr(const char *v)
{
	json_t *j = json_string(v);
	struct sbuf b = { 0 };

	if (j != NULL)
		return j;
	add_utf8(&b, v, 0);
	j = json_string(sbuf_str(&b));
	sbuf_free(&b);
	return j != NULL ? j : json_null();
}

static json_t *
jval(const char *v, int numeric)
{
	char *end;
	long long n;

	if (v == NULL)
		return json_null();
	if (numeric) {
		n = strtoll(v, &end, 10);
		if (*end == '\0')
			return json_integer(n);
		return json_real(strtod(v, NULL));
	}
	return jstr(v);
}

static void
export_row(void *arg, const struct store_row *r)
{
	struct export *x = arg;

	if (x->json) {
		json_t *o = json_object(), *a;

		for (int i = 0; i < r->ncols; i++)
			json_object_set_new(o, r->names[i], jval(r->values[i],
			    r->numeric[i]));
		if (strcmp(r->section, "client") == 0) {
			json_object_set_new(x->root, "client", o);
			return;
		}
		if ((a = json_object_get(x->root, r->section)) == NULL) {
			a = json_array();
			json_object_set_new(x->root, r->section, a);
		}
		json_array_append_new(a, o);
		return;
	}
	for (size_t k = 0; k < NSECTIONS; k++) {
		struct sbuf *b = &x->text[k];

		if (strcmp(sections[k], r->section) != 0)
			continue;
		if (b->len > 0)
			sbuf_add(b, "  --\n");
		for (int i = 0; i < r->ncols; i++) {
			const char *v = r->values[i];

			sbuf_printf(b, "  %s: ", r->names[i]);
			if (v == NULL)
				sbuf_add(b, "(none)");
			else
				add_utf8(b, v, 1);
			sbuf_addc(b, '\n');
		}
	}
}

/* The text form is read by the client: what the outbox's columns mean. */
#define EXPORT_LEGEND "How to read it: times are UTC (an ending Z). Under " \
	"messages, purpose is what the message was for (reminder, " \
	"follow_up, homework, cancellation, moved: a change of time or " \
	"details), channel email or sms, recipient where it went, due_at " \
	"when it was to go, sent_at when it went, status what became of it " \
	"and last_error why it was not sent; rule is the reminder rule " \
	"(b172800: 172800 seconds, 48 hours, before the appointment; a...: " \
	"after it), appt_start the appointment's start it was about, detail " \
	"how the appointment was held (mode|minutes|video link), occurrence " \
	"the day of a homework prompt, template the wording used. attempts, " \
	"claimed_at, uploaded, recovered, next_at, alerted, provider_ref, " \
	"created_at and updated_at are the delivery's bookkeeping."
#define EXPORT_NOTE "Message texts are not stored: each message was " \
	"written from the practice's templates at the moment it was sent. " \
	"The outbox keeps what is listed under messages. Of the other member " \
	"of a couple, only their name is given."

/* Print what store_export() gathered, as JSON or as text. */
static void
export_print(struct export *x, const struct sbuf *head)
{
	char *s;

	if (x->json) {
		/* an empty section is an empty list, not a missing key */
		for (size_t k = 1; k < NSECTIONS; k++)
			if (json_object_get(x->root, sections[k]) == NULL)
				json_object_set_new(x->root, sections[k],
				    json_array());
		s = json_dumps(x->root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (s != NULL)
			printf("%s\n", s);
		free(s);
		return;
	}
	fputs(sbuf_str(head), stdout);
	for (size_t k = 0; k < NSECTIONS; k++)
		printf("\n== %s\n%s", sections[k], x->text[k].len > 0 ?
		    sbuf_str(&x->text[k]) : "  (none)\n");
}

int
cmd_client_export(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "format", required_argument, NULL, O_FORMAT },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	struct export x = { .json = 1 };
	struct sbuf head = { 0 };
	char err[512], now[TZ_UTC_LEN];
	long long id;
	enum store_rc r;
	int ch, rc;

	optind = 0;
	while ((ch = ctl_getopt(c, argc, argv, ":h", lo, &rc)) != -1) {
		switch (ch) {
		case O_FORMAT:
			if (strcmp(optarg, "json") == 0)
				x.json = 1;
			else if (strcmp(optarg, "text") == 0)
				x.json = 0;
			else
				return ctl_fail(EX_USAGE, "%s: --format is "
				    "json or text, not '%s'", c->cmd, optarg);
			break;
		}
	}
	if (rc != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = ctl_one_id(c, argc, argv, "client", &id)) != 0 ||
	    (rc = ctl_ctx_open(c)) != 0)
		return rc;
	tz_format_utc(time(NULL), now);
	if (x.json) {
		x.root = json_object();
		json_object_set_new(x.root, "exported_at", json_string(now));
		json_object_set_new(x.root, "practice",
		    jstr(c->conf->practice.name));
		json_object_set_new(x.root, "note", json_string(EXPORT_NOTE));
	} else
		sbuf_printf(&head, "Everything %s holds about client %lld, "
		    "exported %s by nudgectl.\n%s\n%s\n",
		    c->conf->practice.name, id, now, EXPORT_NOTE,
		    EXPORT_LEGEND);
	r = store_export(c->st, id, export_row, &x, err, sizeof err);
	if (r == STORE_FOUND)
		export_print(&x, &head);
	json_decref(x.root);
	sbuf_free(&head);
	for (size_t k = 0; k < NSECTIONS; k++)
		sbuf_free(&x.text[k]);
	if (r == STORE_GONE)
		return ctl_fail(EX_DATAERR, "%s: client %lld does not exist",
		    c->cmd, id);
	if (r == STORE_ERR)
		return ctl_fail(EX_IOERR, "%s", err);
	return 0;
}

/* ---- client forget ---- */

/* Ask on the terminal (or stdin): 1 when the answer is "yes". */
static int
confirm(long long id, const char *name)
{
	char line[64];

	fprintf(stderr, "Forget client %lld (%s) for good? Their name, address "
	    "and phone are removed everywhere, their pending messages cancelled, "
	    "and this cannot be undone. Type yes to go on: ", id, name);
	fflush(stderr);
	if (fgets(line, sizeof line, stdin) == NULL) {
		fputc('\n', stderr);
		return 0;
	}
	line[strcspn(line, "\r\n")] = '\0';
	return strcmp(line, "yes") == 0;
}

/*
 * The values to search for and replace: name, email, phone, and the
 * phone as E.164 (the outbox holds that) and as bare digits (a tool may).
 * e164 and digits hold the last two; returns how many in scrub.
 */
static size_t
forget_what(const struct ctx *c, const struct client_row *cl,
    const char *scrub[6], char e164[PHONE_E164_SIZE], char digits[64])
{
	char err[256];
	size_t ns = 0, nd = 0;

	scrub[ns++] = cl->name;
	scrub[ns++] = cl->email;
	scrub[ns++] = cl->phone;
	if (cl->phone == NULL)
		return ns;
	if (phone_e164(cl->phone, c->conf->sms.region ? c->conf->sms.region :
	    "GB", e164, PHONE_E164_SIZE, err, sizeof err) == 0)
		scrub[ns++] = e164;
	for (const char *p = cl->phone; *p && nd + 1 < 64; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	digits[nd] = '\0';
	scrub[ns++] = digits;
	return ns;
}

/* No old page may keep the data: rewrite the file, empty the WAL. */
static int
forget_compact(const struct ctx *c)
{
	char err[512];

	switch (store_vacuum(c->st, err, sizeof err)) {
	case STORE_OK:
		printf("database compacted: no copy is left in %s or its -wal "
		    "file (backups are the practice's to handle)\n",
		    c->conf->database);
		return 0;
	case STORE_HELD:
		fprintf(stderr, "nudgectl: warning: another program has %s open, "
		    "so its -wal file could not be emptied yet; it will be at the "
		    "next checkpoint\n", c->conf->database);
		return 0;
	default:
		return ctl_fail(EX_IOERR, "the client was forgotten, but the "
		    "database could not be compacted: %s", err);
	}
}

/* client forget's id and --yes.  0, DONE or an exit code. */
static int
forget_opts(struct ctx *c, int argc, char **argv, long long *id, int *yes)
{
	static const struct option lo[] = {
		{ "yes", no_argument, NULL, O_YES },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	int ch, rc;

	optind = 0;
	while ((ch = ctl_getopt(c, argc, argv, ":hy", lo, &rc)) != -1) {
		switch (ch) {
		case O_YES:
		case 'y':
			*yes = 1;
			break;
		}
	}
	if (rc != 0)
		return rc;
	return ctl_one_id(c, argc, argv, "client", id);
}

int
cmd_client_forget(struct ctx *c, int argc, char **argv)
{
	struct forget_stats fs;
	const char *scrub[6];
	struct client_row cl;
	char e164[PHONE_E164_SIZE], digits[64], err[512];
	long long id = 0;
	size_t ns;
	enum store_rc r;
	int rc, yes = 0;

	if ((rc = forget_opts(c, argc, argv, &id, &yes)) != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = ctl_ctx_open(c)) != 0)
		return rc;
	/* Asked before the transaction: no lock is held while a person reads. */
	if (!yes) {
		if ((rc = ctl_found(c, store_client_row(c->st, id, &cl, err,
		    sizeof err), "client", id, err)) != 0)
			return rc;
		rc = confirm(id, cl.name);
		client_row_free(&cl);
		if (!rc)
			return ctl_fail(1, "%s: not confirmed; nothing was changed",
			    c->cmd);
	}
	if ((rc = ctl_tx_begin(c)) != 0)
		return rc;
	/* What to search for, read inside the transaction: as it is now. */
	if ((rc = ctl_found(c, store_client_row(c->st, id, &cl, err,
	    sizeof err), "client", id, err)) != 0)
		return ctl_tx_end(c, rc);
	ns = forget_what(c, &cl, scrub, e164, digits);
	r = store_forget(c->st, id, time(NULL), scrub, ns, &fs, err, sizeof err);
	if (r == STORE_HELD)
		rc = ctl_fail(EX_TEMPFAIL, "%s: nudged is sending a message to "
		    "client %lld right now; nothing was changed: try again in a "
		    "minute", c->cmd, id);
	else if (r == STORE_ERR)
		rc = ctl_fail(EX_IOERR, "%s", err);
	else
		ctl_outf(c, "client %lld forgotten: name, address and phone "
		    "removed; %d pending message%s cancelled, %d outbox row%s "
		    "scrubbed, taken out of %d case%s, %d other value%s that "
		    "quoted them replaced\n", id, fs.cancelled,
		    fs.cancelled == 1 ? "" : "s",
		    fs.scrubbed, fs.scrubbed == 1 ? "" : "s", fs.cases,
		    fs.cases == 1 ? "" : "s", fs.replaced,
		    fs.replaced == 1 ? "" : "s");
	client_row_free(&cl);
	if ((rc = ctl_tx_end(c, rc)) != 0)
		return rc;
	return forget_compact(c);
}

/* ---- alert --service-failed ---- */

/* The alert's text; db_failed: the database could not be opened. */
static void
alert_body(struct sbuf *b, time_t now, int db_failed)
{
	char host[256] = "this machine", when[64], hm[16];
	const char *env;

	gethostname(host, sizeof host - 1);
	tz_format_date(now, when, sizeof when);
	tz_format_time(now, hm, sizeof hm);
	sbuf_printf(b, "Hello,\n\nnudged stopped on %s and systemd has given "
	    "up restarting it (%s at %s). Until it runs again, no reminders, "
	    "homework prompts or failure alerts are sent.\n\n", host, when, hm);
	/* systemd (v251 and later) tells an OnFailure= unit what happened */
	if ((env = getenv("MONITOR_SERVICE_RESULT")) != NULL)
		sbuf_printf(b, "Result: %.64s", env);
	if ((env = getenv("MONITOR_EXIT_CODE")) != NULL)
		sbuf_printf(b, ", %.32s", env);
	if ((env = getenv("MONITOR_EXIT_STATUS")) != NULL)
		sbuf_printf(b, " %.32s", env);
	if (getenv("MONITOR_SERVICE_RESULT") != NULL)
		sbuf_add(b, "\n\n");
	if (db_failed)
		sbuf_add(b, "The database could not be opened either.\n\n");
	sbuf_add(b, "To see why: journalctl -u nudged -n 50\n"
	    "Then: nudged --check-config, and systemctl restart nudged\n");
}

int
cmd_alert(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "service-failed", no_argument, NULL, O_SERVICE_FAILED },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	struct sbuf b = { 0 };
	char err[512] = "", mask[64];
	time_t now = time(NULL);
	int ch, rc, failed = 0, res;

	optind = 0;
	while ((ch = ctl_getopt(c, argc, argv, ":h", lo, &rc)) != -1) {
		switch (ch) {
		case O_SERVICE_FAILED:
			failed = 1;
			break;
		}
	}
	if (rc != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = ctl_no_args(c, argc, argv)) != 0)
		return rc;
	if (!failed)
		return ctl_fail(EX_USAGE, "%s: say which alert: --service-failed "
		    "(see --help)", c->cmd);
	/*
	 * The database may be why the service failed: a mail without an
	 * outbox row is better than none.
	 */
	if ((rc = ctl_ctx_open(c)) != 0 && c->conf == NULL)
		return rc;
	if (rc != 0)
		fprintf(stderr, "nudgectl: warning: the alert goes without an "
		    "outbox row\n");
	alert_body(&b, now, rc != 0);
	res = deliver_notify(c->conf, c->st, "nudged has stopped: reminders "
	    "are not being sent", sbuf_str(&b), now, err, sizeof err);
	sbuf_free(&b);
	log_mask(c->conf->practice.email, mask, sizeof mask);
	if (res != XFER_OK)
		return ctl_fail(res == XFER_TEMPFAIL || res == XFER_CHANNEL ?
		    EX_TEMPFAIL : EX_UNAVAILABLE, "%s: the alert to %s could not be "
		    "sent: %s", c->cmd, mask, err);
	printf("alert sent to %s\n", mask);
	return 0;
}
