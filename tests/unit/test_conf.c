/*
 * Unit tests for conf: the shipped example, defaults, every kind of error
 * with its exact "FILE:LINE: message", secrets and template fallbacks.
 * Run from the repository root (the shipped example is conf/nudged.conf).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "base/tmpl.h"
#include "base/util.h"
#include "fixture.h"

/* Line 1 of every test config: the three required keys. */
#define MIN "practice = { name = \"P\"; practitioner = \"Q\"; " \
	    "email = \"q@example.org\"; };\n"

static int seq;

struct res {
	char		*path;
	struct conf	*c;
	struct conf_diag e, w;
	int		 rc;
};

static void
run_mode(struct res *r, const char *text, mode_t mode)
{
	char name[32];

	memset(r, 0, sizeof(*r));
	snprintf(name, sizeof(name), "c%d.conf", ++seq);
	r->path = fx_file(name, text, mode);
	r->rc = conf_load(r->path, &r->c, &r->e, &r->w);
}

static void
run(struct res *r, const char *text)
{
	run_mode(r, text, 0600);
}

static void
done(struct res *r)
{
	conf_free(r->c);
	conf_diag_free(&r->e);
	conf_diag_free(&r->w);
	free(r->path);
}

static void
dump(const struct conf_diag *d, const char *what)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		print_message("  %s: %s\n", what, d->lines[i]);
}

/* d holds exactly "PATH:LINE: msg" (or "PATH: msg" for line 0). */
static int
has(const struct res *r, const struct conf_diag *d, int line, const char *msg)
{
	char *want;
	size_t i;
	int found = 0;

	want = line > 0 ? xasprintf("%s:%d: %s", r->path, line, msg) :
	    xasprintf("%s: %s", r->path, msg);
	for (i = 0; i < d->n && !found; i++)
		found = strcmp(d->lines[i], want) == 0;
	if (!found) {
		print_message("missing: %s\n", want);
		dump(&r->e, "err");
		dump(&r->w, "warn");
	}
	free(want);
	return found;
}

/* Some line of d starts with "PATH:LINE: " and contains sub. */
static int
has_sub(const struct res *r, const struct conf_diag *d, int line,
    const char *sub)
{
	char *pre;
	size_t i;
	int found = 0;

	pre = line > 0 ? xasprintf("%s:%d: ", r->path, line) :
	    xasprintf("%s: ", r->path);
	for (i = 0; i < d->n && !found; i++)
		found = strncmp(d->lines[i], pre, strlen(pre)) == 0 &&
		    strstr(d->lines[i], sub) != NULL;
	if (!found) {
		print_message("missing: %s...%s...\n", pre, sub);
		dump(&r->e, "err");
		dump(&r->w, "warn");
	}
	free(pre);
	return found;
}

static void
ok(struct res *r, const char *text)
{
	run(r, text);
	if (r->rc != 0)
		dump(&r->e, "err");
	assert_int_equal(r->rc, 0);
	assert_int_equal(r->e.n, 0);
	assert_non_null(r->c);
}

static void
bad(struct res *r, const char *text)
{
	run(r, text);
	assert_int_equal(r->rc, -1);
	assert_null(r->c);
	assert_true(r->e.n > 0);
}

/* One bad config, one expected exact error. */
static void
bad1(const char *text, int line, const char *msg)
{
	struct res r;

	bad(&r, text);
	assert_true(has(&r, &r.e, line, msg));
	done(&r);
}

static int
setup(void **state)
{
	(void)state;
	if (fx_dir_make("conf") != 0)
		return -1;
	unsetenv("CREDENTIALS_DIRECTORY");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return fx_dir_remove();
}

static void
test_example(void **state)
{
	struct conf *c = NULL;
	struct conf_diag e = { 0 }, w = { 0 };
	size_t i;

	(void)state;
	assert_int_equal(conf_load("conf/nudged.conf", &c, &e, &w), 0);
	for (i = 0; i < e.n; i++)
		print_message("err: %s\n", e.lines[i]);
	assert_int_equal(e.n, 0);
	assert_string_equal(c->practice.name, "Hughes Relationship Therapy");
	assert_string_equal(c->practice.timezone, "Europe/London");
	assert_true(c->email.enabled);
	assert_true(c->sms.enabled);
	assert_string_equal(c->email.url, "smtp://mail.example.org:587");
	assert_string_equal(c->sms.provider, "twilio");
	assert_null(c->email.password);
	assert_int_equal(c->nrules, 3);
	assert_string_equal(c->rules[0].key, "b172800");
	assert_int_equal(c->rules[0].channel, CHAN_EMAIL);
	assert_string_equal(c->rules[1].key, "b10800");
	assert_int_equal(c->rules[1].channel, CHAN_SMS);
	assert_string_equal(c->rules[2].key, "a86400");
	assert_int_equal(c->rules[2].nkinds, 1);
	assert_string_equal(appt_kind_name(c->rules[2].kinds[0]), "assessment");
	assert_string_equal(c->rules[2].template, "assessment_follow_up");
	/*
	 * no secrets on a fresh machine: warned, not refused; and discreet
	 * clients would see practice.email, which names the practitioner
	 */
	assert_int_equal(w.n, 3);
	assert_non_null(strstr(w.lines[2], "discreet clients would see the "
	    "reply address (practice.email) \"christian@example.org\", which "
	    "contains \"Christian\"; set email.discreet_reply_to"));
	conf_free(c);
	conf_diag_free(&e);
	conf_diag_free(&w);
}

/*
 * A discreet client's SMS gives the place as it is: the practice's meeting
 * link, and its address unless discreet_address = false.  A name or a
 * clinical word in either is warned of at its line, never refused.
 */
static void
test_discreet_place_warned(void **state)
{
	struct res r;
	const char *pre = "practice = { name = \"Hughes Relationship "
	    "Therapy\"; practitioner = \"Christian Hughes\"; email = "
	    "\"a@example.org\";\n";
	char *text;

	(void)state;
	text = xasprintf("%s  video_url = "
	    "\"https://meet.example.org/hughes\";\n"
	    "  address = \"Therapy Rooms, 1 High Street\"; };\n", pre);
	run(&r, text);
	free(text);
	assert_int_equal(r.rc, 0);
	assert_true(has(&r, &r.w, 2, "warning: discreet clients would see the "
	    "video link (practice.video_url) "
	    "\"https://meet.example.org/hughes\", which contains \"Hughes\"; "
	    "use a meeting link without it, or book their sessions with a "
	    "neutral video_url"));
	assert_true(has_sub(&r, &r.w, 3, "the address (practice.address) "
	    "\"Therapy Rooms, 1 High Street\", which contains \"therap\"; set "
	    "practice.discreet_address = false"));
	done(&r);
	/* neutral values, or the address kept from them: no warning */
	text = xasprintf("%s  video_url = "
	    "\"https://meet.example.org/r/4821\";\n"
	    "  address = \"Therapy Rooms, 1 High Street\";\n"
	    "  discreet_address = false; };\n", pre);
	run(&r, text);
	free(text);
	assert_int_equal(r.rc, 0);
	for (size_t i = 0; i < r.w.n; i++)
		assert_null(strstr(r.w.lines[i], "discreet clients"));
	done(&r);
}

static void
test_defaults(void **state)
{
	struct res r;
	struct conf *c;

	(void)state;
	ok(&r, MIN);
	c = r.c;
	assert_string_equal(c->practice.timezone, "Europe/London");
	assert_null(c->practice.phone);
	assert_string_equal(c->database, "/var/lib/nudged/nudged.db");
	assert_false(c->email.enabled);
	assert_false(c->sms.enabled);
	assert_int_equal(c->late_limit, 3600);
	assert_true(c->notify_cancellation);
	assert_int_equal(c->homework.at, 19 * 60);
	assert_true(c->homework.channels[CHAN_EMAIL]);
	assert_true(c->homework.channels[CHAN_SMS]);
	assert_int_equal(c->quiet.from, 21 * 60);
	assert_int_equal(c->quiet.to, 8 * 60);
	assert_false(conf_quiet_on(c, CHAN_EMAIL));
	assert_true(conf_quiet_on(c, CHAN_SMS));
	assert_int_equal(c->retry.attempts, 8);
	assert_int_equal(c->retry.first, 60);
	assert_int_equal(c->retry.max, 3600);
	assert_int_equal(c->alerts_every, 3600);
	assert_int_equal(c->ntmpls, 0);
	/* no reminders key: 48h email, 3h sms; no warning for the defaults */
	assert_int_equal(c->nrules, 2);
	assert_string_equal(c->rules[0].key, "b172800");
	assert_int_equal(c->rules[0].before, 172800);
	assert_int_equal(c->rules[0].channel, CHAN_EMAIL);
	assert_null(c->rules[0].kinds);
	assert_string_equal(c->rules[1].key, "b10800");
	assert_int_equal(c->rules[1].channel, CHAN_SMS);
	assert_int_equal(r.w.n, 0);
	done(&r);

	/* a present group is enabled, with the behaviour defaults */
	ok(&r, MIN
	    "email = { url = \"smtps://m.example.org\"; from = \"a@example.org\"; };\n"
	    "sms = { provider = \"vonage\"; url = \"https://x.example\"; "
	    "account = \"k\"; from = \"Pract\"; token = \"t\"; };\n");
	c = r.c;
	assert_true(c->email.enabled);
	assert_true(c->email.tls_required);
	assert_int_equal(c->email.timeout, 30);
	assert_true(c->email.calendar);
	assert_false(c->email.html);
	assert_null(c->email.username);
	assert_true(c->sms.enabled);
	assert_string_equal(c->sms.region, "GB");
	assert_int_equal(c->sms.max_segments, 3);
	assert_int_equal(c->sms.concurrency, 4);
	assert_true(c->sms.fallback_email);
	assert_int_equal(c->sms.timeout, 30);
	assert_string_equal(c->sms.method, "POST");
	assert_string_equal(c->sms.content_type,
	    "application/x-www-form-urlencoded");
	assert_string_equal(c->sms.token, "t");
	done(&r);
}

static void
test_values(void **state)
{
	struct res r;
	struct conf *c;

	(void)state;
	ok(&r, MIN
	    "database = \"/tmp/x.db\";\n"
	    "email = { enabled = false; timeout = \"1m30s\"; html = true; calendar = false; tls = \"none\"; };\n"
	    "sms = { enabled = false; region = \"ie\"; max_segments = 10; concurrency = 32; timeout = \"5s\"; fallback_email = false; };\n"
	    "late_limit = \"2h\"; notify_cancellation = false;\n"
	    "homework = { at = \"07:30\"; channels = [\"email\"]; };\n"
	    "quiet_hours = { from = \"22:00\"; to = \"07:00\"; channels = [\"sms\", \"email\"]; };\n"
	    "retry = { attempts = 50; first = \"30s\"; max = \"2d\"; };\n"
	    "alerts = { every = \"90m\"; };\n"
	    "reminders = ();\n");
	c = r.c;
	assert_string_equal(c->database, "/tmp/x.db");
	assert_false(c->email.enabled);
	assert_int_equal(c->email.timeout, 90);
	assert_true(c->email.html);
	assert_false(c->email.calendar);
	assert_false(c->email.tls_required);
	assert_string_equal(c->sms.region, "IE");
	assert_int_equal(c->sms.max_segments, 10);
	assert_int_equal(c->sms.concurrency, 32);
	assert_int_equal(c->sms.timeout, 5);
	assert_false(c->sms.fallback_email);
	assert_int_equal(c->late_limit, 7200);
	assert_false(c->notify_cancellation);
	assert_int_equal(c->homework.at, 7 * 60 + 30);
	assert_true(c->homework.channels[CHAN_EMAIL]);
	assert_false(c->homework.channels[CHAN_SMS]);
	assert_true(conf_quiet_on(c, CHAN_EMAIL));
	assert_int_equal(c->quiet.from, 22 * 60);
	assert_int_equal(c->retry.attempts, 50);
	assert_int_equal(c->retry.first, 30);
	assert_int_equal(c->retry.max, 2 * 86400);
	assert_int_equal(c->alerts_every, 5400);
	assert_int_equal(c->nrules, 0);
	done(&r);
}

static void
test_file_errors(void **state)
{
	struct res r;
	char *p;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.path = xasprintf("%s/absent.conf", fx_dir());
	r.rc = conf_load(r.path, &r.c, &r.e, NULL);
	assert_int_equal(r.rc, -1);
	assert_null(r.c);
	assert_int_equal(r.e.n, 1);
	assert_true(has(&r, &r.e, 0, "cannot read: No such file or directory"));
	done(&r);

	memset(&r, 0, sizeof(r));
	r.path = xstrdup(fx_dir());
	assert_int_equal(conf_load(r.path, &r.c, &r.e, NULL), -1);
	assert_true(has(&r, &r.e, 0, "cannot read: Is a directory"));
	done(&r);

	/* a syntax error stops at once: the unknown key above it is not reached */
	bad(&r, MIN "colour = 1;\nx = ;\ny = 2;\n");
	assert_int_equal(r.e.n, 1);
	assert_true(has(&r, &r.e, 3, "syntax error"));
	done(&r);

	bad1(MIN "a = 1;\na = 2;\n", 3, "duplicate setting name");

	/* errs may be reused: conf_load appends */
	p = fx_file("e.conf", "", 0600);
	memset(&r, 0, sizeof(r));
	r.path = p;
	assert_int_equal(conf_load(p, &r.c, &r.e, NULL), -1);
	assert_int_equal(r.e.n, 3);
	assert_int_equal(conf_load(p, &r.c, &r.e, NULL), -1);
	assert_int_equal(r.e.n, 6);
	done(&r);
}

static void
test_required(void **state)
{
	struct res r;

	(void)state;
	bad(&r, "# nothing\n");
	assert_int_equal(r.e.n, 3);
	assert_true(has(&r, &r.e, 0, "missing required key 'practice.name'"));
	assert_true(has(&r, &r.e, 0, "missing required key 'practice.practitioner'"));
	assert_true(has(&r, &r.e, 0, "missing required key 'practice.email'"));
	done(&r);

	bad(&r, "practice = { name = \"P\";\n practitioner = \"\"; };\n");
	assert_int_equal(r.e.n, 2);
	assert_true(has(&r, &r.e, 2, "'practitioner' must not be empty"));
	assert_true(has(&r, &r.e, 0, "missing required key 'practice.email'"));
	done(&r);

	bad1(MIN "email = { };\n", 0,
	    "missing required key 'email.url' (email is enabled)");
	bad1(MIN "email = { url = \"smtp://x\"; };\n", 0,
	    "missing required key 'email.from' (email is enabled)");
	bad(&r, MIN "sms = { };\n");
	assert_int_equal(r.e.n, 4);
	assert_true(has(&r, &r.e, 0, "missing required key 'sms.provider' (sms is enabled)"));
	assert_true(has(&r, &r.e, 0, "missing required key 'sms.url' (sms is enabled)"));
	assert_true(has(&r, &r.e, 0, "missing required key 'sms.account' (sms is enabled)"));
	assert_true(has(&r, &r.e, 0, "missing required key 'sms.from' (sms is enabled)"));
	done(&r);

	/* nothing is required of a channel that is off */
	ok(&r, MIN "email = { enabled = false; };\nsms = { enabled = false; };\n");
	assert_false(r.c->email.enabled);
	done(&r);
}

static void
test_unknown_keys(void **state)
{
	struct res r;

	(void)state;
	bad(&r, MIN
	    "colour = \"blue\";\n"
	    "email = { url = \"smtp://x\"; from = \"a@b\";\n"
	    "  pasword = \"x\"; };\n"
	    "practise = {};\n"
	    "reminders = ( { before = \"2h\"; channel = \"email\"; kind = [\"call\"]; } );\n"
	    "templates = { reminder = {\n"
	    "  subject = \"x\"; }; };\n"
	    "retry = { tries = 3; };\n");
	assert_true(has(&r, &r.e, 2, "unknown key 'colour'"));
	assert_true(has(&r, &r.e, 4, "unknown key 'pasword' in group 'email'"));
	assert_true(has(&r, &r.e, 5, "unknown key 'practise'"));
	assert_true(has(&r, &r.e, 6, "unknown key 'kind' in a reminders rule"));
	assert_true(has(&r, &r.e, 8, "unknown key 'subject' in group 'templates.reminder'"));
	assert_true(has(&r, &r.e, 9, "unknown key 'tries' in group 'retry'"));
	assert_int_equal(r.e.n, 6);
	done(&r);
}

static void
test_types(void **state)
{
	struct res r;

	(void)state;
	bad(&r, MIN
	    "email = { enabled = false;\n"
	    "  timeout = 30;\n"
	    "  html = \"yes\";\n"
	    "  url = 5; };\n"
	    "sms = { enabled = false;\n"
	    "  max_segments = \"3\";\n"
	    "  concurrency = 1.5; };\n"
	    "homework = { at = 1900; channels = \"email\"; };\n"
	    "quiet_hours = { channels = [1]; };\n"
	    "alerts = \"1h\";\n");
	assert_true(has(&r, &r.e, 3, "'timeout' must be a string (a duration such as \"30s\")"));
	assert_true(has(&r, &r.e, 4, "'html' must be true or false (without quotes)"));
	assert_true(has(&r, &r.e, 5, "'url' must be a string"));
	assert_true(has(&r, &r.e, 7, "'max_segments' must be a whole number from 1 to 10 (without quotes)"));
	assert_true(has(&r, &r.e, 8, "'concurrency' must be a whole number from 1 to 32 (without quotes)"));
	assert_true(has(&r, &r.e, 9, "'at' must be a 24-hour time \"HH:MM\" such as \"19:00\""));
	assert_true(has(&r, &r.e, 9, "'channels' must be a list such as [\"email\", \"sms\"]"));
	assert_true(has(&r, &r.e, 10, "'channels' must be a list of strings such as [\"email\", \"sms\"]"));
	assert_true(has(&r, &r.e, 11, "'alerts' must be a group: alerts = { ... };"));
	assert_int_equal(r.e.n, 9);
	done(&r);
}

static void
test_values_bad(void **state)
{
	struct res r;

	(void)state;
	bad(&r, MIN
	    "late_limit = \"5x\";\n"
	    "alerts = { every = \"1h 30m\"; };\n"
	    "retry = { attempts = 0; first = \"0s\"; };\n"
	    "homework = { at = \"24:00\"; channels = [\"fax\"]; };\n"
	    "sms = { enabled = false; max_segments = 11; concurrency = 0; region = \"GBR\"; };\n");
	assert_true(has_sub(&r, &r.e, 2, "'late_limit' = \"5x\" is not a duration: use a whole number with a unit s, m, h or d"));
	assert_true(has_sub(&r, &r.e, 3, "'every' = \"1h 30m\" is not a duration"));
	assert_true(has(&r, &r.e, 4, "'attempts' = 0 is out of range: use 1 to 50"));
	assert_true(has_sub(&r, &r.e, 4, "'first' = \"0s\" is not a duration"));
	assert_true(has(&r, &r.e, 5, "'at' must be a 24-hour time \"HH:MM\" such as \"19:00\""));
	assert_true(has(&r, &r.e, 5, "'channels' lists \"fax\": the choices are [\"email\", \"sms\"]"));
	assert_true(has(&r, &r.e, 6, "'max_segments' = 11 is out of range: use 1 to 10"));
	assert_true(has(&r, &r.e, 6, "'concurrency' = 0 is out of range: use 1 to 32"));
	assert_true(has(&r, &r.e, 6, "'region' must be a two-letter country code such as \"GB\""));
	assert_int_equal(r.e.n, 9);
	done(&r);

	bad1(MIN "retry = { attempts = 51; };\n", 2,
	    "'attempts' = 51 is out of range: use 1 to 50");
	bad1(MIN "retry = { first = \"2h\"; };\n", 2,
	    "retry.first is longer than retry.max");
	ok(&r, MIN "retry = { first = \"1h\"; max = \"1h\"; };\n");
	done(&r);
	bad1(MIN "practice2 = 1;\n", 2, "unknown key 'practice2'");
	bad1(MIN "database = \"\";\n", 2, "'database' must not be empty");
	bad1("practice = { name = \"P\"; practitioner = \"Q\";\n"
	    "  email = \"nobody\"; };\n", 2,
	    "'email' = \"nobody\" is not an email address such as \"christian@example.org\"");
	bad1("practice = { name = \"P\\nX\"; practitioner = \"Q\"; email = \"q@x\"; };\n", 1,
	    "'name' must be one line, without control characters");
}

static void
test_timezone(void **state)
{
	struct res r;

	(void)state;
	bad1("practice = { name = \"P\"; practitioner = \"Q\"; email = \"q@x\";\n"
	    "  timezone = \"Mars/Olympus\"; };\n", 2,
	    "unknown time zone \"Mars/Olympus\" (use a tz database name such as \"Europe/London\")");
	ok(&r, "practice = { name = \"P\"; practitioner = \"Q\"; email = \"q@x\";\n"
	    "  timezone = \"America/New_York\"; };\n");
	assert_string_equal(r.c->practice.timezone, "America/New_York");
	assert_int_equal(r.w.n, 0);
	done(&r);
	/*
	 * "GMT" is a zone without summer time: a UK practice that writes it
	 * tells clients 13:00 for a 14:00 BST appointment half the year.
	 */
	ok(&r, "practice = { name = \"P\"; practitioner = \"Q\"; email = \"q@x\";\n"
	    "  timezone = \"GMT\"; };\n");
	assert_true(has(&r, &r.w, 2, "warning: practice.timezone \"GMT\" never changes "
	    "for summer time: times from April to October would be an hour "
	    "off for a practice in the UK, which is \"Europe/London\""));
	done(&r);
	ok(&r, "practice = { name = \"P\"; practitioner = \"Q\"; email = \"q@x\";\n"
	    "  timezone = \"Etc/UTC\"; };\n");
	assert_int_equal(r.w.n, 1);
	done(&r);
}

/*
 * email.from as typed: what --check-config passes, every message can be
 * sent from (it said OK to "Name <a@b>  " and to "Name < a@b >", and then
 * every email failed with "sender has no valid address").
 */
static void
test_email_from(void)
{
	struct res r;

#define FROM(v) MIN "email = { url = \"smtp://m\";\n from = \"" v "\"; };\n"
	ok(&r, FROM("  Christian Hughes <appointments@example.org>  "));
	assert_string_equal(r.c->email.from,
	    "Christian Hughes <appointments@example.org>");
	done(&r);
	ok(&r, FROM(" appointments@example.org "));
	assert_string_equal(r.c->email.from, "appointments@example.org");
	done(&r);
	bad1(FROM("Christian Hughes < appointments@example.org >"), 3,
	    "'from' must be an address, \"Name <address>\" or \"address\"");
	bad1(FROM("Christian Hughes <appointments@example.org> x"), 3,
	    "'from' must be an address, \"Name <address>\" or \"address\"");
	bad1(FROM("a..b@example.org"), 3,
	    "'from' must be an address, \"Name <address>\" or \"address\"");
	bad1(FROM("a@example.org, b@example.org"), 3,
	    "'from' must be an address, \"Name <address>\" or \"address\"");
	/* the discreet sender and reply address, likewise */
	ok(&r, MIN "email = { url = \"smtp://m\"; from = \"a@example.org\";\n"
	    " discreet_from = \" Appointments <d@example.org> \"; };\n");
	assert_string_equal(r.c->email.discreet_from,
	    "Appointments <d@example.org>");
	done(&r);
	bad1(MIN "email = { url = \"smtp://m\"; from = \"a@example.org\";\n"
	    " discreet_reply_to = \"d@exa_mple.org\"; };\n", 3,
	    "'discreet_reply_to' must be an address, \"Name <address>\" or "
	    "\"address\"");
#undef FROM
}

/*
 * Values --check-config passed that then failed every message: a blank
 * in a server's url or around the login name, a ca_file that is not
 * there, and a practice.video_url that is no link (nudgectl book
 * --video-url already refused those).
 */
static void
test_sent_values(void **state)
{
	struct res r;

	(void)state;
	bad1(MIN "email = { from = \"a@b\";\n url = \"smtp://m:587 \"; };\n", 3,
	    "'url' must not contain spaces or tabs");
	bad1(MIN "sms = { provider = \"twilio\"; account = \"AC1\"; "
	    "from = \"x\"; token = \"t\";\n url = \"https://api.twilio.com \"; };\n",
	    3, "'url' must not contain spaces or tabs");
	bad1(MIN "email = { from = \"a@b\"; url = \"smtp://m\";\n "
	    "username = \"nudged \"; password = \"p\"; };\n", 3,
	    "'username' must not begin or end with a space or tab");
	bad1(MIN "email = { from = \"a@b\"; url = \"smtp://m\";\n "
	    "ca_file = \"/nonexistent/ca.crt\"; };\n", 3,
	    "'ca_file' \"/nonexistent/ca.crt\" cannot be read: No such file or "
	    "directory");
	bad1(MIN "sms = { provider = \"twilio\"; account = \"AC1\"; "
	    "from = \"x\"; token = \"t\"; url = \"https://x\";\n "
	    "ca_file = \"/nonexistent/ca.crt\"; };\n", 3,
	    "'ca_file' \"/nonexistent/ca.crt\" cannot be read: No such file or "
	    "directory");
	bad1("practice = { name = \"P\"; practitioner = \"Q\"; "
	    "email = \"q@example.org\";\n video_url = \"meet.example.org/q\"; };\n",
	    2, "'video_url' must be an http(s):// link without spaces, such as "
	    "\"https://meet.example.org/hughes\"");
	bad1("practice = { name = \"P\"; practitioner = \"Q\"; "
	    "email = \"q@example.org\";\n video_url = \" https://meet.example.org/q\"; };\n",
	    2, "'video_url' must be an http(s):// link without spaces, such as "
	    "\"https://meet.example.org/hughes\"");
	ok(&r, "practice = { name = \"P\"; practitioner = \"Q\"; "
	    "email = \"q@example.org\"; video_url = \"https://zoom.us/j/1?pwd=a\"; };\n"
	    "email = { from = \"a@b\"; url = \"smtp://m\"; username = \"a b\";\n"
	    " password = \"p\"; ca_file = \"/etc/ssl/certs/ca-certificates.crt\"; };\n");
	done(&r);
}

static void
test_email(void **state)
{
	(void)state;
	bad1(MIN "email = { from = \"a@b\";\n url = \"http://mail.example.org\"; };\n", 3,
	    "'url' must start with smtp:// (STARTTLS) or smtps:// (implicit TLS), such as \"smtp://mail.example.org:587\"");
	bad1(MIN "email = { from = \"a@b\"; url = \"smtp://m\";\n tls = \"maybe\"; };\n", 3,
	    "'tls' must be \"required\" or \"none\", not \"maybe\"");
	bad1(MIN "email = { from = \"a@b\"; url = \"smtps://m\";\n tls = \"none\"; };\n", 3,
	    "tls = \"none\" contradicts an smtps:// url, which is always TLS");
	bad1(MIN "email = { url = \"smtp://m\";\n from = \"Appointments\"; };\n", 3,
	    "'from' must be an address, \"Name <address>\" or \"address\"");
	test_email_from();
}

static void
test_sms(void **state)
{
	struct res r;
	struct conf *c;

#define SMS(extra) MIN "sms = { provider = \"twilio\"; account = \"AC1\"; " \
	"from = \"+447700900000\"; token = \"t\";\n" extra " };\n"
	(void)state;
	bad1(SMS("url = \"http://api.twilio.com\";"), 3,
	    "'url' must start with https:// (plain http:// only for a loopback host such as 127.0.0.1 or localhost)");
	bad1(SMS("url = \"http://127.0.0.1.evil.example/\";"), 3,
	    "'url' must start with https:// (plain http:// only for a loopback host such as 127.0.0.1 or localhost)");
	bad1(SMS("url = \"http://localhost.evil.example\";"), 3,
	    "'url' must start with https:// (plain http:// only for a loopback host such as 127.0.0.1 or localhost)");
	bad1(SMS("url = \"http://[::2]:80/\";"), 3,
	    "'url' must start with https:// (plain http:// only for a loopback host such as 127.0.0.1 or localhost)");
	bad1(SMS("url = \"ftp://x\";"), 3,
	    "'url' must start with https:// (plain http:// only for a loopback host such as 127.0.0.1 or localhost)");
	ok(&r, SMS("url = \"http://127.0.0.1:8080/sms\";"));
	done(&r);
	ok(&r, SMS("url = \"http://127.1.2.3\";"));
	done(&r);
	ok(&r, SMS("url = \"http://LocalHost:99\";"));
	done(&r);
	ok(&r, SMS("url = \"http://[::1]:9000/x\";"));
	done(&r);
	ok(&r, SMS("url = \"https://api.twilio.com\";"));
	done(&r);

	bad1(MIN "sms = { provider = \"twillio\"; enabled = false; };\n", 2,
	    "'provider' must be \"twilio\", \"vonage\" or \"generic\", not \"twillio\"");
	bad(&r, SMS("url = \"https://x\";\n"
	    "method = \"POST\";\n"
	    "body = \"x\";"));
	assert_true(has(&r, &r.e, 4, "'method' is only for provider = \"generic\""));
	assert_true(has(&r, &r.e, 5, "'body' is only for provider = \"generic\""));
	assert_int_equal(r.e.n, 2);
	done(&r);

#define GEN(extra) MIN "sms = { provider = \"generic\"; url = \"https://x/send\"; " \
	"from = \"Pract\";\n" extra " };\n"
	bad1(GEN(""), 0, "missing required key 'sms.body' (provider \"generic\")");
	bad1(GEN("body = \"to={{to}}&msg={{message}}\";"), 3,
	    "sms.body: unknown name {{message}}: the names are {{to}} {{from}} {{text}} {{account}} {{token}}");
	bad1(GEN("body = \"to={{to\";"), 3, "sms.body: '{{' without a closing '}}'");
	bad1(GEN("body = \"t={{text}}\"; method = \"GET\";"), 3,
	    "'method' must be \"POST\" or \"PUT\", not \"GET\"");
	bad1(GEN("body = \"t={{text}}\"; content_type = \"text/xml\";"), 3,
	    "'content_type' must be \"application/x-www-form-urlencoded\" or \"application/json\" (body values are encoded for it)");
	bad1(GEN("body = \"t={{text}}\"; headers = [\"Bad Name: x\"];"), 3,
	    "header \"Bad Name: x\" must be one line \"Name: value\"");
	bad1(GEN("body = \"t={{text}}\"; headers = [\"X-Key: {{secret}}\"];"), 3,
	    "header \"X-Key\": unknown name {{secret}}: the names are {{to}} {{from}} {{text}} {{account}} {{token}}");
	/* generic needs account only when its request uses it */
	bad1(GEN("body = \"u={{account}}&t={{text}}\"; token = \"k\";"), 0,
	    "missing required key 'sms.account' (sms.body uses {{account}})");

	/* issue 13: a JSON body that is not JSON once filled in fails at load */
	bad1(GEN("content_type = \"application/json\";\n"
	    "body = \"{\\\"to\\\": {{to}}, \\\"text\\\": \\\"{{text}}\\\"}\"; token = \"k\";"), 4,
	    "sms.body: with content_type \"application/json\" the body must be "
	    "JSON once its {{names}} are filled in, and it is not (invalid token "
	    "near 'x', at character 8); each {{name}} goes inside quotes, as in "
	    "\"to\": \"{{to}}\"");
	ok(&r, GEN("method = \"PUT\"; content_type = \"application/json; charset=utf-8\";\n"
	    "headers = [\"Authorization: Bearer {{token}}\", \"X-A: b\"];\n"
	    "body = \"{\\\"to\\\": \\\"{{to}}\\\", \\\"text\\\": \\\"{{text}}\\\"}\"; id_field = \"id\"; token = \"k\";"));
	c = r.c;
	assert_string_equal(c->sms.provider, "generic");
	assert_string_equal(c->sms.method, "PUT");
	assert_int_equal(c->sms.nheaders, 2);
	assert_string_equal(c->sms.headers[0], "Authorization: Bearer {{token}}");
	assert_string_equal(c->sms.body, "{\"to\": \"{{to}}\", \"text\": \"{{text}}\"}");
	assert_string_equal(c->sms.id_field, "id");
	assert_null(c->sms.account);
	assert_int_equal(r.w.n, 0);
	done(&r);

	/* generic without {{token}}: no warning about a missing token */
	ok(&r, GEN("body = \"t={{text}}\";"));
	assert_int_equal(r.w.n, 0);
	done(&r);
	ok(&r, MIN "sms = { provider = \"twilio\"; account = \"AC1\"; from = \"x\";\n"
	    " url = \"https://x\"; };\n");
	assert_true(has_sub(&r, &r.w, 2, "sms is enabled but no token is given"));
	done(&r);
#undef SMS
#undef GEN
}

/*
 * sms.from and sms.discreet_from as a practitioner types them: a number in
 * the national or a spaced form goes to the provider in E.164 (Twilio
 * refuses anything else, error 21212, which pauses the channel); a sender
 * id longer than a phone's 11 characters, or a number nudged cannot read,
 * is refused with its line instead of at the first send.
 */
static void
test_sms_sender(void **state)
{
	struct res r;

#define TW(from) MIN "sms = { provider = \"twilio\"; account = \"AC1\"; " \
	"token = \"t\"; url = \"https://x\";\n" from " };\n"
	(void)state;
	ok(&r, TW("from = \"07700 900000\";"));
	assert_string_equal(r.c->sms.from, "+447700900000");
	done(&r);
	ok(&r, TW("from = \"+44 (0)7700 900000\"; discreet_from = \"07700-900001\";"));
	assert_string_equal(r.c->sms.from, "+447700900000");
	assert_string_equal(r.c->sms.discreet_from, "+447700900001");
	done(&r);
	ok(&r, TW("region = \"IE\"; from = \"085 123 4567\";"));
	assert_string_equal(r.c->sms.from, "+353851234567");
	done(&r);
	/* a short code stays as it is */
	ok(&r, TW("from = \"60123\";"));
	assert_string_equal(r.c->sms.from, "60123");
	done(&r);
	/* sender ids stay as they are */
	ok(&r, TW("from = \"HughesRT\"; discreet_from = \"Appts 24\";"));
	assert_string_equal(r.c->sms.from, "HughesRT");
	assert_string_equal(r.c->sms.discreet_from, "Appts 24");
	done(&r);
	bad1(TW("from =\n \"Hughes Therapy\";"), 3,
	    "sms 'from' = \"Hughes Therapy\" is neither a phone number nor a "
	    "sender id (at most 11 letters, digits and spaces, one a letter)");
	bad1(TW("from = \"x\";\n discreet_from = \"Appointments\";"), 4,
	    "sms 'discreet_from' = \"Appointments\" is neither a phone number "
	    "nor a sender id (at most 11 letters, digits and spaces, one a "
	    "letter)");
	bad1(TW("from =\n \"07700 90000\";"), 3,
	    "sms 'from' = \"07700 90000\" is not a number nudged can send "
	    "from ('07700 90000' is not a valid UK number: 9 digits after 0, "
	    "expected 10)");
	/* a generic gateway's sender is the gateway's business */
	ok(&r, MIN "sms = { provider = \"generic\"; url = \"https://x/send\"; "
	    "from = \"07700 900000\"; body = \"t={{text}}\"; };\n");
	assert_string_equal(r.c->sms.from, "07700 900000");
	done(&r);
#undef TW
}

static void
test_rules(void **state)
{
	struct res r;
	struct conf *c;

#define CH "email = { url = \"smtp://m\"; from = \"a@b\"; };\n" \
	"sms = { enabled = false; };\n"
	(void)state;
	ok(&r, MIN CH
	    "reminders = (\n"
	    "  { before = \"1h30m\"; channel = \"email\"; kinds = [\"session\", \"call\", \"session\"]; },\n"
	    "  { before = \"1h30m\"; channel = \"email\"; kinds = (\"assessment\"); template = \"mine\"; },\n"
	    "  { before = \"90m\"; channel = \"sms\"; },\n"
	    "  { after = \"1d\"; channel = \"email\"; },\n"
	    "  { before = \"1h\"; channel = \"email\"; template = \"call_discreet\"; }\n"
	    ");\n"
	    "templates = { mine = { sms = \"x\"; }; };\n");
	c = r.c;
	assert_int_equal(c->nrules, 5);
	assert_string_equal(c->rules[0].key, "b5400");
	assert_int_equal(c->rules[0].before, 5400);
	assert_int_equal(c->rules[0].after, 0);
	assert_int_equal(c->rules[0].nkinds, 2);
	assert_int_equal(c->rules[0].line, 5);
	assert_null(c->rules[0].template);
	assert_string_equal(c->rules[1].template, "mine");
	assert_int_equal(c->rules[2].channel, CHAN_SMS);
	assert_string_equal(c->rules[3].key, "a86400");
	assert_int_equal(c->rules[3].after, 86400);
	assert_int_equal(c->rules[3].before, 0);
	/* the sms rule while sms is off: a warning, not an error */
	assert_int_equal(r.w.n, 1);
	assert_true(has(&r, &r.w, 7, "warning: this rule plans nothing: channel 'sms' is off"));
	done(&r);

	bad(&r, MIN CH
	    "reminders = (\n"
	    "  { before = \"2h\"; after = \"1d\"; channel = \"email\"; },\n"
	    "  { channel = \"email\"; },\n"
	    "  { before = \"2h\"; },\n"
	    "  { before = \"2h\"; channel = \"fax\"; },\n"
	    "  { before = \"2h\"; channel = \"email\"; kinds = [\"therapy\"]; },\n"
	    "  { before = \"2h\"; channel = \"email\"; kinds = []; },\n"
	    "  { before = \"2h\"; channel = \"email\"; template = \"nope\"; },\n"
	    "  { before = \"30m\"; channel = \"email\"; },\n"
	    "  \"48h\" );\n");
	assert_true(has(&r, &r.e, 5, "a rule takes 'before' or 'after', not both"));
	assert_true(has(&r, &r.e, 6, "a rule needs 'before' (a reminder) or 'after' (a follow-up), such as before = \"48h\""));
	assert_true(has(&r, &r.e, 7, "a rule needs 'channel' (\"email\" or \"sms\")"));
	assert_true(has(&r, &r.e, 8, "'channel' must be \"email\" or \"sms\""));
	assert_true(has(&r, &r.e, 9, "'kinds' lists \"therapy\": the choices are [\"assessment\", \"session\", \"call\"]"));
	assert_true(has(&r, &r.e, 10, "'kinds' is empty: leave it out to apply the rule to every kind"));
	assert_true(has(&r, &r.e, 11, "template \"nope\" is not defined: add templates.nope = { ... } or name a built-in group"));
	assert_true(has(&r, &r.e, 12, "a rule before = \"30m\" could never be sent: it is shorter than late_limit (\"1h\")"));
	assert_true(has(&r, &r.e, 13, "each entry of 'reminders' must be a rule such as { before = \"48h\"; channel = \"email\"; }"));
	assert_int_equal(r.e.n, 9);
	done(&r);

	/* same key and channel with overlapping kinds: one message twice */
	bad(&r, MIN CH
	    "reminders = (\n"
	    "  { before = \"2h\"; channel = \"email\"; kinds = [\"call\"]; },\n"
	    "  { before = \"120m\"; channel = \"email\"; },\n"
	    "  { after = \"1d\"; channel = \"email\"; },\n"
	    "  { after = \"24h\"; channel = \"email\"; template = \"follow_up\"; }\n"
	    ");\n");
	assert_true(has(&r, &r.e, 6, "this rule repeats the rule on line 5 (same before, channel and kinds): both would send the same message"));
	assert_true(has(&r, &r.e, 8, "this rule repeats the rule on line 7 (same after, channel and kinds): both would send the same message"));
	assert_int_equal(r.e.n, 2);
	done(&r);

	/* disjoint kinds, or another channel: different messages */
	ok(&r, MIN CH
	    "reminders = (\n"
	    "  { before = \"2h\"; channel = \"email\"; kinds = [\"call\"]; },\n"
	    "  { before = \"2h\"; channel = \"email\"; kinds = [\"session\", \"assessment\"]; },\n"
	    "  { before = \"2h\"; channel = \"sms\"; },\n"
	    "  { before = \"1h\"; channel = \"email\"; }\n"
	    ");\n");
	assert_int_equal(r.c->nrules, 4);
	done(&r);

	/* late_limit applies to the default rules too, without a line */
	bad1(MIN "late_limit = \"4h\";\n", 0,
	    "the default rule before = \"3h\" could never be sent: it is shorter than late_limit (\"4h\")");
	bad1(MIN "reminders = { before = \"1h\"; };\n", 2,
	    "'reminders' must be a list of rules: reminders = ( { before = \"48h\"; channel = \"email\"; } );");
	ok(&r, MIN "reminders = [];\n");
	assert_int_equal(r.c->nrules, 0);
	done(&r);
#undef CH
}

static void
test_quiet_homework(void **state)
{
	struct res r;

	(void)state;
	bad1(MIN "quiet_hours = { from = \"08:00\";\n to = \"08:00\"; };\n", 3,
	    "quiet hours 'from' and 'to' are the same time; to have none, set channels = []");
	bad1(MIN "homework = { at = \"22:30\"; };\n", 2,
	    "homework.at 22:30 falls inside quiet hours (21:00 to 08:00) on sms: prompts could never be sent there; move homework.at or quiet_hours");
	bad1(MIN "homework = { at = \"07:59\"; channels = [\"email\", \"sms\"]; };\n", 2,
	    "homework.at 07:59 falls inside quiet hours (21:00 to 08:00) on sms: prompts could never be sent there; move homework.at or quiet_hours");
	/* reported at quiet_hours.from when homework.at is the default */
	bad1(MIN "quiet_hours = { from = \"18:00\"; to = \"20:00\"; channels = [\"email\"]; };\n", 2,
	    "homework.at 19:00 falls inside quiet hours (18:00 to 20:00) on email: prompts could never be sent there; move homework.at or quiet_hours");
	/* the same time on a channel without quiet hours, or the end (exclusive) */
	ok(&r, MIN "homework = { at = \"22:30\"; channels = [\"email\"]; };\n");
	done(&r);
	ok(&r, MIN "homework = { at = \"08:00\"; };\n");
	done(&r);
	ok(&r, MIN "homework = { at = \"20:59\"; };\n");
	done(&r);
	ok(&r, MIN "homework = { at = \"22:30\"; };\nquiet_hours = { channels = []; };\n");
	assert_false(conf_quiet_on(r.c, CHAN_SMS));
	done(&r);
}

static void
test_templates(void **state)
{
	struct res r;
	struct conf *c;
	const char *fb;

	(void)state;
	ok(&r, MIN
	    "templates = {\n"
	    "  reminder = { sms = \"Hi {{first_name}}, \"\n"
	    "                     \"see you {{date}}.\"; };\n"
	    "  custom = { email_subject = \"Soon: {{time}}\"; };\n"
	    "  empty = { };\n"
	    "};\n");
	c = r.c;
	assert_int_equal(c->ntmpls, 3);
	assert_string_equal(c->tmpls[0].name, "reminder");
	assert_int_equal(c->tmpls[0].line, 3);
	/* adjacent string literals are joined */
	assert_string_equal(conf_tmpl_text(c, "reminder", "sms", "reminder"),
	    "Hi {{first_name}}, see you {{date}}.");
	/* a key left out: the built-in group of the same name */
	fb = tmpl_builtin("reminder", "email_subject");
	assert_non_null(fb);
	assert_string_equal(conf_tmpl_text(c, "reminder", "email_subject",
	    "follow_up"), fb);
	/* a name with no built-in group: the fallback (the purpose's group) */
	assert_string_equal(conf_tmpl_text(c, "custom", "email_subject",
	    "reminder"), "Soon: {{time}}");
	assert_string_equal(conf_tmpl_text(c, "custom", "sms", "follow_up"),
	    tmpl_builtin("follow_up", "sms"));
	assert_string_equal(conf_tmpl_text(c, "empty", "email_text",
	    "reminder_discreet"), tmpl_builtin("reminder_discreet", "email_text"));
	/* a built-in group the config does not touch */
	assert_string_equal(conf_tmpl_text(c, "cancellation", "sms", "reminder"),
	    tmpl_builtin("cancellation", "sms"));
	assert_string_equal(conf_tmpl_text(c, "undefined", "sms", "call"),
	    tmpl_builtin("call", "sms"));
	assert_true(conf_tmpl_defined(c, "custom"));
	assert_true(conf_tmpl_defined(c, "empty"));
	assert_true(conf_tmpl_defined(c, "assessment_follow_up"));
	assert_true(conf_tmpl_defined(c, "reminder_discreet"));
	assert_false(conf_tmpl_defined(c, "custom_discreet"));
	done(&r);

	bad(&r, MIN
	    "templates = {\n"
	    "  reminder = {\n"
	    "    sms = \"Hi {{frist_name}}\";\n"
	    "    email_text = \"{{#video_url}}Join\";\n"
	    "    email_subject = 3; };\n"
	    "  homework = \"x\";\n"
	    "  call = { email_subject = \"a\\nb\"; };\n"
	    "};\n");
	assert_true(has_sub(&r, &r.e, 4, "template reminder.sms: "));
	assert_true(has_sub(&r, &r.e, 5, "template reminder.email_text: "));
	assert_true(has(&r, &r.e, 6, "template reminder.email_subject must be a string"));
	assert_true(has(&r, &r.e, 7, "'homework' in 'templates' must be a group with email_subject, email_text and/or sms"));
	assert_true(has(&r, &r.e, 8, "template call.email_subject must be one line"));
	assert_int_equal(r.e.n, 5);
	done(&r);
}

static void
test_collect_all(void **state)
{
	struct res r;

	(void)state;
	bad(&r,
	    "practice = { name = \"P\"; timezone = \"Nowhere/Land\"; };\n"
	    "email = { url = \"smtp://m\"; timeout = 30; };\n"
	    "late_limit = \"soon\";\n"
	    "reminders = ( { before = \"2h\"; channel = \"pigeon\"; } );\n"
	    "bogus = true;\n");
	assert_true(has(&r, &r.e, 5, "unknown key 'bogus'"));
	assert_true(has(&r, &r.e, 0, "missing required key 'practice.practitioner'"));
	assert_true(has(&r, &r.e, 0, "missing required key 'practice.email'"));
	assert_true(has_sub(&r, &r.e, 1, "unknown time zone \"Nowhere/Land\""));
	assert_true(has(&r, &r.e, 2, "'timeout' must be a string (a duration such as \"30s\")"));
	assert_true(has(&r, &r.e, 0, "missing required key 'email.from' (email is enabled)"));
	assert_true(has_sub(&r, &r.e, 3, "'late_limit' = \"soon\" is not a duration"));
	assert_true(has(&r, &r.e, 4, "'channel' must be \"email\" or \"sms\""));
	assert_int_equal(r.e.n, 8);
	done(&r);
}

/* ---- secrets ---- */

#define EMAIL(extra) MIN "email = { url = \"smtp://m\"; from = \"a@b\"; " \
	"username = \"u\";\n" extra " };\n"

static void
test_secret_inline(void **state)
{
	struct res r;
	char *msg;
	size_t i;

	(void)state;
	ok(&r, EMAIL("password = \"hunter2\";"));
	assert_string_equal(r.c->email.password, "hunter2");
	assert_int_equal(r.w.n, 0);
	done(&r);

	run_mode(&r, EMAIL("password = \"hunter2\";"), 0644);
	assert_int_equal(r.rc, -1);
	msg = xasprintf("%s holds email.password inline but is readable by "
	    "group/others (mode 0644); chmod 600 %s or use password_file",
	    r.path, r.path);
	assert_true(has(&r, &r.e, 3, msg));
	free(msg);
	for (i = 0; i < r.e.n; i++)
		assert_null(strstr(r.e.lines[i], "hunter2"));
	done(&r);

	run_mode(&r, MIN "sms = { enabled = false; token = \"tok\"; };\n", 0640);
	assert_int_equal(r.rc, -1);
	msg = xasprintf("%s holds sms.token inline but is readable by "
	    "group/others (mode 0640); chmod 600 %s or use token_file", r.path,
	    r.path);
	assert_true(has(&r, &r.e, 2, msg));
	free(msg);
	done(&r);

	/* readable by its group only for writing is fine; no inline secret is fine */
	run_mode(&r, EMAIL("password = \"x\";"), 0620);
	assert_int_equal(r.rc, 0);
	done(&r);
	run_mode(&r, MIN, 0644);
	assert_int_equal(r.rc, 0);
	done(&r);
}

static void
test_secret_file(void **state)
{
	struct res r;
	char *p, *text, *msg;

	(void)state;
	p = fx_file("pw1", "s3cret\n", 0600);
	text = xasprintf(EMAIL("password_file = \"%s\";"), p);
	ok(&r, text);
	assert_string_equal(r.c->email.password, "s3cret");
	done(&r);
	free(text);
	free(p);

	p = fx_file("pw2", "s3cret\r\n", 0600);
	text = xasprintf(EMAIL("password_file = \"%s\";"), p);
	ok(&r, text);
	assert_string_equal(r.c->email.password, "s3cret");
	done(&r);
	free(text);
	free(p);

	/* only one newline is dropped */
	p = fx_file("pw3", "s3cret\n\n", 0600);
	text = xasprintf(EMAIL("password_file = \"%s\";"), p);
	ok(&r, text);
	assert_string_equal(r.c->email.password, "s3cret\n");
	done(&r);
	free(text);
	free(p);

	/* no newline at all; a relative path is next to the config */
	p = fx_file("pw4", "  spaced out", 0600);
	ok(&r, EMAIL("password_file = \"pw4\";"));
	assert_string_equal(r.c->email.password, "  spaced out");
	done(&r);
	free(p);

	/* a secret file may be readable by group nudged, not by others (issue 13) */
	p = fx_file("tok1", "t0ken\n", 0640);
	ok(&r, MIN "sms = { provider = \"vonage\"; url = \"https://v\"; account = \"k\";\n"
	    "  from = \"x\"; token_file = \"tok1\"; };\n");
	assert_string_equal(r.c->sms.token, "t0ken");
	assert_int_equal(r.w.n, 0);
	done(&r);
	assert_int_equal(chmod(p, 0644), 0);
	bad(&r, MIN "sms = { provider = \"vonage\"; url = \"https://v\"; account = \"k\";\n"
	    "  from = \"x\"; token_file = \"tok1\"; };\n");
	msg = xasprintf("%s holds sms.token but is readable by others (mode "
	    "0644); chmod o-rwx %s", p, p);
	assert_true(has(&r, &r.e, 3, msg));
	free(msg);
	done(&r);
	free(p);

	bad(&r, EMAIL("password_file = \"nope\";"));
	text = xasprintf("email.password_file \"%s/nope\" cannot read: No such "
	    "file or directory", fx_dir());
	assert_true(has(&r, &r.e, 3, text));
	free(text);
	done(&r);

	p = fx_file("empty", "\n", 0600);
	bad(&r, EMAIL("password_file = \"empty\";"));
	text = xasprintf("email.password_file \"%s/empty\" is empty", fx_dir());
	assert_true(has(&r, &r.e, 3, text));
	free(text);
	done(&r);
	free(p);

	/* a channel that is off does not need its secret file */
	ok(&r, MIN "email = { enabled = false; password_file = \"nope\"; };\n");
	assert_null(r.c->email.password);
	done(&r);

	bad1(EMAIL("password = \"a\";\n password_file = \"pw1\";"), 4,
	    "email.password and email.password_file are both given: keep one");
	bad1(MIN "sms = { enabled = false; token_file = \"t\";\n token = \"b\"; };\n", 2,
	    "sms.token and sms.token_file are both given: keep one");
}

static void
test_credentials(void **state)
{
	struct res r;
	char *cred, *p1, *p2, *p3, *text;

	(void)state;
	cred = xasprintf("%s/creds", fx_dir());
	assert_int_equal(mkdir(cred, 0700), 0);
	p1 = xasprintf("%s/creds/smtp-password", fx_dir());
	p2 = xasprintf("%s/creds/sms-token", fx_dir());
	free(fx_file("creds/smtp-password", "from-cred\n", 0600));
	free(fx_file("creds/sms-token", "tok-cred\r\n", 0600));
	p3 = fx_file("pwf", "from-file\n", 0600);
	setenv("CREDENTIALS_DIRECTORY", cred, 1);

	ok(&r, EMAIL("") "sms = { provider = \"twilio\"; url = \"https://t\"; "
	    "account = \"AC\"; from = \"x\"; };\n");
	assert_string_equal(r.c->email.password, "from-cred");
	assert_string_equal(r.c->sms.token, "tok-cred");
	assert_int_equal(r.w.n, 0);
	done(&r);

	/* the credential is used only when the config gives neither */
	ok(&r, EMAIL("password_file = \"pwf\";"));
	assert_string_equal(r.c->email.password, "from-file");
	done(&r);
	ok(&r, EMAIL("password = \"inline\";"));
	assert_string_equal(r.c->email.password, "inline");
	done(&r);

	/* an absent credential is no error: just no secret (and a warning) */
	unlink(p1);
	ok(&r, EMAIL(""));
	assert_null(r.c->email.password);
	assert_true(has_sub(&r, &r.w, 2, "email.username is set but no password is given"));
	done(&r);

	/* a credential that exists but cannot be read is an error */
	assert_int_equal(mkdir(p1, 0700), 0);
	bad(&r, EMAIL(""));
	text = xasprintf("credential smtp-password (%s) for email.password "
	    "cannot read: Is a directory", p1);
	assert_true(has(&r, &r.e, 0, text));
	free(text);
	done(&r);
	rmdir(p1);

	unsetenv("CREDENTIALS_DIRECTORY");
	unlink(p2);
	unlink(p3);
	rmdir(cred);
	free(p1);
	free(p2);
	free(p3);
	free(cred);
}

static void
test_chan(void **state)
{
	enum chan ch;

	(void)state;
	assert_string_equal(chan_name(CHAN_EMAIL), "email");
	assert_string_equal(chan_name(CHAN_SMS), "sms");
	assert_int_equal(chan_parse("sms", &ch), 0);
	assert_int_equal(ch, CHAN_SMS);
	assert_int_equal(chan_parse("email", &ch), 0);
	assert_int_equal(ch, CHAN_EMAIL);
	assert_int_equal(chan_parse("SMS", &ch), -1);
	assert_int_equal(chan_parse("", &ch), -1);
	assert_int_equal(chan_parse(NULL, &ch), -1);
	conf_free(NULL);
	conf_diag_free(NULL);
}


/* The calendar group (issue 10): defaults, values, the url's forms, errors. */
/*
 * The contract's Additions show "" as the default of these keys: written
 * out as shown, they are the default (none), not an error.
 */
static void
test_additions_empty_defaults(void **state)
{
	struct res r;

	(void)state;
	ok(&r, "practice = { name = \"P\"; practitioner = \"Q\"; "
	    "email = \"q@example.org\"; directions = \"\"; online_note = \"\"; };\n"
	    "email = { url = \"smtps://m.example.org\"; from = \"a@example.org\";"
	    " helo = \"\"; discreet_from = \"\"; discreet_reply_to = \"\"; };\n"
	    "sms = { enabled = false; discreet_from = \"\"; transliterate = true; };\n"
	    "privacy = { keep_messages = \"400d\"; keep_appointments = \"\"; };\n"
	    "alerts = { every = \"1h\"; weekly = \"\"; names = false; };\n");
	assert_null(r.c->practice.directions);
	assert_null(r.c->practice.online_note);
	assert_null(r.c->email.helo);
	assert_null(r.c->email.discreet_from);
	assert_null(r.c->email.discreet_reply_to);
	assert_null(r.c->sms.discreet_from);
	done(&r);
}

static void
test_calendar(void **state)
{
	struct res r;
	struct conf *c;
	char *uf;

	(void)state;
	ok(&r, MIN);
	assert_int_equal(r.c->calendar.window, 60 * 86400);
	assert_int_equal(r.c->calendar.nfeeds, 0);
	done(&r);
	uf = fx_file("feed-url", "https://calendar.example.org/secret.ics\n", 0600);
	ok(&r, MIN "calendar = { window = \"30d\"; feeds = (\n"
	    "  { name = \"diary\"; url = \"webcal://cal.example.org/x.ics\"; },\n"
	    "  { name = \"room-2\"; url = \"/srv/room2.ics\"; every = \"1h\";"
	    " match = [\"label\"]; timeout = \"10s\"; },\n"
	    "  { name = \"f\"; url_file = \"feed-url\"; }\n); };\n");
	c = r.c;
	assert_int_equal(c->calendar.window, 30 * 86400);
	assert_int_equal(c->calendar.nfeeds, 3);
	assert_string_equal(c->calendar.feeds[0].url, "https://cal.example.org/x.ics");
	assert_int_equal(c->calendar.feeds[0].every, 600);
	assert_true(c->calendar.feeds[0].by_label && c->calendar.feeds[0].by_attendee);
	assert_string_equal(c->calendar.feeds[1].url, "/srv/room2.ics");
	assert_int_equal(c->calendar.feeds[1].every, 3600);
	assert_true(c->calendar.feeds[1].by_label && !c->calendar.feeds[1].by_attendee);
	assert_int_equal(c->calendar.feeds[1].timeout, 10);
	assert_string_equal(c->calendar.feeds[2].url,
	    "https://calendar.example.org/secret.ics");
	done(&r);
	free(uf);
	bad1(MIN "calendar = { feeds = ( { name = \"a\"; url = \"http://x.org/a\"; } ); };\n",
	    2, "calendar feed 'a': the url must be https:// (or a file path); a "
	    "webcal:// address works as https://");
	bad1(MIN "calendar = { feeds = ( { name = \"a\"; url = \"/a\"; },\n"
	    "{ name = \"a\"; url = \"/b\"; } ); };\n", 3,
	    "two calendar feeds are named \"a\"");
	bad1(MIN "calendar = { window = \"2h\"; };\n", 2,
	    "calendar 'window' must be at least 1d");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_discreet_place_warned),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_values_bad),
		cmocka_unit_test(test_timezone),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_sms),
		cmocka_unit_test(test_sms_sender),
		cmocka_unit_test(test_sent_values),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_quiet_homework),
		cmocka_unit_test(test_templates),
		cmocka_unit_test(test_collect_all),
		cmocka_unit_test(test_secret_inline),
		cmocka_unit_test(test_secret_file),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_chan),
		cmocka_unit_test(test_calendar),
		cmocka_unit_test(test_additions_empty_defaults),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
