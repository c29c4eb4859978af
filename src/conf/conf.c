/*
 * conf: read and validate the configuration file (see conf.h).
 *
 * The loader walks the libconfig tree once, group by group, filling a
 * struct conf that starts out holding every default.  Each check reports
 * through conf_err()/conf_warn() with the file and line of the offending
 * setting and carries on, so one run lists every problem; only a syntax
 * error stops early (libconfig cannot give us a tree).  Values are copied
 * out because libconfig's strings die with its config_t.
 *
 * Order matters in one place: channels, late_limit and the templates are
 * read before the rules, which are checked against them.
 *
 * A missing password or token is only a warning: the shipped example has
 * no secret until the practitioner provides one, and the transport then
 * reports a refused login as a channel failure at send time.
 *
 * This file holds conf_load() and the top-level groups (practice, email,
 * templates, reminders, timing), the defaults, conf_free() and the
 * template lookups; the getters and diagnostics are in conf_get.c, the sms
 * group in conf_sms.c, secrets in conf_secret.c.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf_int.h"
#include "base/tmpl.h"
#include "base/tz.h"
#include "base/util.h"

static const char *const top_keys[] = { "practice", "database", "email",
	"sms", "reminders", "late_limit", "notify_cancellation", "homework",
	"quiet_hours", "retry", "alerts", "templates", "privacy",
	"notify_move", "calendar", NULL };
static const char *const practice_keys[] = { "name", "practitioner",
	"timezone", "email", "phone", "address", "video_url", "closed",
	"calls_client", "directions", "online_note", "discreet_address", NULL };
static const char *const email_keys[] = { "enabled", "url", "tls",
	"ca_file", "username", "password", "password_file", "from", "timeout",
	"calendar", "html",
	"helo", "discreet_from", "discreet_reply_to", "connections", NULL };
static const char *const rule_keys[] = { "before", "after", "channel",
	"kinds", "template", NULL };
static const char *const homework_keys[] = { "at", "channels", NULL };
static const char *const quiet_keys[] = { "from", "to", "channels", NULL };
static const char *const retry_keys[] = { "attempts", "first", "max", NULL };
static const char *const alerts_keys[] = { "every", "weekly", "names", NULL };

/* ---- groups ---- */

/* practice.closed: holidays, skipped by nudgectl book --weekly. */
static void
add_closed(void *arg, const char *v)
{
	struct conf *c = arg;
	int y, m, d;

	if (tz_parse_date(v, &y, &m, &d) == -1)
		return;		/* reported by load_closed */
	c->practice.closed = xrealloc(c->practice.closed,
	    (c->practice.nclosed + 1) * sizeof(*c->practice.closed));
	c->practice.closed[c->practice.nclosed++] = xstrdup(v);
}

static void
load_closed(struct conf_ld *ld, const config_setting_t *g)
{
	config_setting_t *s = conf_member(g, "closed"), *e;
	const char *v;
	int y, m, d;

	if (conf_get_strlist(ld, g, "closed", NULL, "[\"2026-12-25\"]",
	    add_closed, ld->c) != CONF_SET)
		return;
	for (unsigned i = 0; (e = config_setting_get_elem(s, i)) != NULL; i++)
		if ((v = config_setting_get_string(e)) != NULL &&
		    tz_parse_date(v, &y, &m, &d) == -1)
			conf_err(ld, e, "'closed' lists \"%s\", which is not a "
			    "date YYYY-MM-DD", v);
}

/*
 * A zone name for a fixed offset (GMT, UTC, Etc/GMT+1, ...): written for
 * "UK time", it would keep winter time all summer.
 */
static int
conf_fixed_zone(const char *tz)
{
	static const char *const fixed[] = { "GMT", "UTC", "UCT", "Universal",
	    "Zulu", "Greenwich", NULL };

	if (strncmp(tz, "Etc/", 4) == 0)
		return 1;
	for (size_t i = 0; fixed[i] != NULL; i++)
		if (strncmp(tz, fixed[i], strlen(fixed[i])) == 0 &&
		    strchr("+-0", tz[strlen(fixed[i])]) != NULL)
			return 1;
	return 0;
}

static void
load_practice(struct conf_ld *ld, const config_setting_t *root)
{
	struct conf *c = ld->c;
	config_setting_t *g = conf_sub(ld, root, "practice", practice_keys);
	config_setting_t *s;

	if (g == NULL && conf_member(root, "practice") != NULL)
		return;		/* not a group: already reported */
	if (conf_get_str(ld, g, "name", &c->practice.name) == CONF_ABSENT)
		conf_missing(ld, "practice.name", NULL);
	if (conf_get_str(ld, g, "practitioner",
	    &c->practice.practitioner) == CONF_ABSENT)
		conf_missing(ld, "practice.practitioner", NULL);
	if (conf_get_str(ld, g, "email", &c->practice.email) == CONF_ABSENT)
		conf_missing(ld, "practice.email", NULL);
	else if (c->practice.email != NULL &&
	    (strchr(c->practice.email, '@') == NULL ||
	    strchr(c->practice.email, ' ') != NULL))
		conf_err(ld, conf_member(g, "email"), "'email' = \"%s\" is "
		    "not an email address such as \"christian@example.org\"",
		    c->practice.email);
	if (conf_get_str(ld, g, "timezone", &c->practice.timezone) == CONF_SET &&
	    !tz_valid(c->practice.timezone)) {
		s = conf_member(g, "timezone");
		conf_err(ld, s, "unknown time zone \"%s\" (use a tz database "
		    "name such as \"Europe/London\")", c->practice.timezone);
	} else if (c->practice.timezone != NULL &&
	    conf_fixed_zone(c->practice.timezone))
		conf_warn(ld, conf_member(g, "timezone"), "practice.timezone "
		    "\"%s\" never changes for summer time: times from April to "
		    "October would be an hour off for a practice in the UK, "
		    "which is \"Europe/London\"", c->practice.timezone);
	conf_get_str(ld, g, "phone", &c->practice.phone);
	conf_get_str(ld, g, "address", &c->practice.address);
	if (conf_get_str(ld, g, "video_url", &c->practice.video_url) ==
	    CONF_SET && ((!conf_has_scheme(c->practice.video_url, "https://") &&
	    !conf_has_scheme(c->practice.video_url, "http://")) ||
	    strpbrk(c->practice.video_url, " \t") != NULL))
		/* as nudgectl book --video-url: the link clients click */
		conf_err(ld, conf_member(g, "video_url"), "'video_url' must be "
		    "an http(s):// link without spaces, such as "
		    "\"https://meet.example.org/hughes\"");
	load_closed(ld, g);
}

/* email.url: smtp:// or smtps://, nothing libcurl would refuse later. */
static enum conf_got
load_email_url(struct conf_ld *ld, const config_setting_t *g)
{
	struct conf *c = ld->c;
	enum conf_got r = conf_get_str(ld, g, "url", &c->email.url);

	if (r == CONF_ABSENT && c->email.enabled)
		conf_missing(ld, "email.url", "email is enabled");
	if (r == CONF_SET && !conf_has_scheme(c->email.url, "smtp://") &&
	    !conf_has_scheme(c->email.url, "smtps://"))
		conf_err(ld, conf_member(g, "url"), "'url' must start with "
		    "smtp:// (STARTTLS) or smtps:// (implicit TLS), such as "
		    "\"smtp://mail.example.org:587\"");
	else
		conf_no_blank(ld, g, "url", c->email.url);
	return r;
}

static void
load_email(struct conf_ld *ld, const config_setting_t *root)
{
	struct conf *c = ld->c;
	config_setting_t *g = conf_sub(ld, root, "email", email_keys);
	char *tls = NULL;
	enum conf_got r;

	if (g == NULL) {
		c->email.enabled = 0;
		return;
	}
	conf_get_bool(ld, g, "enabled", &c->email.enabled);
	r = load_email_url(ld, g);
	if (conf_get_str(ld, g, "tls", &tls) == CONF_SET) {
		if (strcmp(tls, "required") == 0)
			c->email.tls_required = 1;
		else if (strcmp(tls, "none") == 0)
			c->email.tls_required = 0;
		else
			conf_err(ld, conf_member(g, "tls"), "'tls' must be "
			    "\"required\" or \"none\", not \"%s\"", tls);
		if (!c->email.tls_required && r == CONF_SET &&
		    conf_has_scheme(c->email.url, "smtps://"))
			conf_err(ld, conf_member(g, "tls"), "tls = \"none\" "
			    "contradicts an smtps:// url, which is always TLS");
	}
	free(tls);
	conf_get_str(ld, g, "ca_file", &c->email.ca_file);
	conf_readable(ld, g, "ca_file", c->email.ca_file);
	conf_get_str(ld, g, "username", &c->email.username);
	conf_no_edge_blank(ld, g, "username", c->email.username);
	if (conf_get_str(ld, g, "from", &c->email.from) == CONF_ABSENT &&
	    c->email.enabled)
		conf_missing(ld, "email.from", "email is enabled");
	else if (conf_addr_trim(&c->email.from) != 0)
		conf_err(ld, conf_member(g, "from"), "'from' must be an "
		    "address, \"Name <address>\" or \"address\"");
	conf_get_dur(ld, g, "timeout", &c->email.timeout);
	/* issue 12: SMTP connections in parallel (mail_send_batch) */
	conf_get_long(ld, g, "connections", 1, CONF_EMAIL_CONNECTIONS_MAX,
	    &c->email.connections);
	conf_get_bool(ld, g, "calendar", &c->email.calendar);
	conf_get_bool(ld, g, "html", &c->email.html);
	conf_load_secret(ld, g, "email", "password", "smtp-password",
	    c->email.enabled, &c->email.password);
	/* (a password_file that cannot be read is already an error) */
	if (c->email.enabled && c->email.username != NULL &&
	    c->email.password == NULL && conf_member(g, "password_file") == NULL)
		conf_warn(ld, conf_member(g, "username"), "email.username is "
		    "set but no password is given (password, password_file, or "
		    "the credential smtp-password): the server will refuse to "
		    "log in");
}

static void
add_tmpl_text(struct conf_ld *ld, const config_setting_t *s, const char *group,
    char **out)
{
	const char *v;
	char err[200];

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		conf_err(ld, s, "template %s.%s must be a string", group,
		    config_setting_name(s));
		return;
	}
	v = config_setting_get_string(s);
	if (strcmp(config_setting_name(s), "email_subject") == 0 &&
	    strpbrk(v, "\r\n") != NULL)
		conf_err(ld, s, "template %s.email_subject must be one line",
		    group);
	else if (tmpl_check(v, err, sizeof(err)) == -1)
		conf_err(ld, s, "template %s.%s: %s", group,
		    config_setting_name(s), err);
	*out = xstrdup(v);
}

static void
load_templates(struct conf_ld *ld, const config_setting_t *root)
{
	struct conf *c = ld->c;
	config_setting_t *g = conf_member(root, "templates"), *e, *k;
	struct conf_tmpl_group *t;
	char where[128];
	int i, j;

	if (g == NULL)
		return;
	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		conf_err(ld, g, "'templates' must be a group: templates = { "
		    "reminder = { sms = \"...\"; }; };");
		return;
	}
	for (i = 0; (e = config_setting_get_elem(g, (unsigned)i)) != NULL; i++) {
		if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
			conf_err(ld, e, "'%s' in 'templates' must be a group "
			    "with email_subject, email_text and/or sms",
			    config_setting_name(e));
			continue;
		}
		snprintf(where, sizeof(where), "group 'templates.%s'",
		    config_setting_name(e));
		conf_known_keys(ld, e, where, tmpl_keys);
		c->tmpls = xrealloc(c->tmpls, (c->ntmpls + 1) * sizeof(*c->tmpls));
		t = &c->tmpls[c->ntmpls++];
		memset(t, 0, sizeof(*t));
		t->name = xstrdup(config_setting_name(e));
		t->line = config_setting_source_line(e);
		for (j = 0; (k = config_setting_get_elem(e, (unsigned)j)) != NULL; j++) {
			if (strcmp(config_setting_name(k), "email_subject") == 0)
				add_tmpl_text(ld, k, t->name, &t->email_subject);
			else if (strcmp(config_setting_name(k), "email_text") == 0)
				add_tmpl_text(ld, k, t->name, &t->email_text);
			else if (strcmp(config_setting_name(k), "sms") == 0)
				add_tmpl_text(ld, k, t->name, &t->sms);
		}
	}
}

/* ---- rules ---- */

static void
add_kind(void *arg, const char *v)
{
	struct conf_rule *r = arg;
	enum appt_kind k;
	size_t i;

	if (appt_kind_parse(v, &k) == -1)
		return;		/* not reached: conf_get_strlist checked v */
	for (i = 0; i < r->nkinds; i++)
		if (r->kinds[i] == k)
			return;
	r->kinds = xrealloc(r->kinds, (r->nkinds + 1) * sizeof(*r->kinds));
	r->kinds[r->nkinds++] = k;
}

static void
rule_free(struct conf_rule *r)
{
	free(r->kinds);
	free(r->template);
}

static int
kinds_overlap(const struct conf_rule *a, const struct conf_rule *b)
{
	size_t i, j;

	if (a->kinds == NULL || b->kinds == NULL)
		return 1;
	for (i = 0; i < a->nkinds; i++)
		for (j = 0; j < b->nkinds; j++)
			if (a->kinds[i] == b->kinds[j])
				return 1;
	return 0;
}

/* The checks every rule gets, written or default; s is NULL for a default. */
static void
rule_add(struct conf_ld *ld, const config_setting_t *s, struct conf_rule *r)
{
	struct conf *c = ld->c;
	char d1[32], d2[32];
	size_t i;

	if (r->before > 0 && r->before < c->late_limit) {
		dur_format(r->before, d1, sizeof(d1));
		dur_format(c->late_limit, d2, sizeof(d2));
		conf_err(ld, conf_member(s, "before") != NULL ?
		    conf_member(s, "before") : s,
		    "%s rule before = \"%s\" could never be sent: it is shorter "
		    "than late_limit (\"%s\")", s != NULL ? "a" : "the default",
		    d1, d2);
	}
	for (i = 0; i < c->nrules; i++) {
		if (strcmp(c->rules[i].key, r->key) != 0 ||
		    c->rules[i].channel != r->channel ||
		    !kinds_overlap(&c->rules[i], r))
			continue;
		conf_err(ld, s, "this rule repeats the rule on line %d (same "
		    "%s, channel and kinds): both would send the same message",
		    c->rules[i].line, r->before ? "before" : "after");
		rule_free(r);
		return;
	}
	if (s != NULL && ((r->channel == CHAN_EMAIL && !c->email.enabled) ||
	    (r->channel == CHAN_SMS && !c->sms.enabled)))
		conf_warn(ld, s, "this rule plans nothing: channel '%s' is off",
		    chan_name(r->channel));
	c->rules = xrealloc(c->rules, (c->nrules + 1) * sizeof(*c->rules));
	c->rules[c->nrules++] = *r;
}

static void
load_rule(struct conf_ld *ld, const config_setting_t *s)
{
	struct conf_rule r = { 0 };
	config_setting_t *b, *a, *ch;
	enum conf_got g;
	int ok = 1;

	if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
		conf_err(ld, s, "each entry of 'reminders' must be a rule "
		    "such as { before = \"48h\"; channel = \"email\"; }");
		return;
	}
	conf_known_keys(ld, s, "a reminders rule", rule_keys);
	r.line = config_setting_source_line(s);
	b = conf_member(s, "before");
	a = conf_member(s, "after");
	if (b != NULL && a != NULL) {
		conf_err(ld, a, "a rule takes 'before' or 'after', not both");
		ok = 0;
	} else if (b == NULL && a == NULL) {
		conf_err(ld, s, "a rule needs 'before' (a reminder) or 'after' "
		    "(a follow-up), such as before = \"48h\"");
		ok = 0;
	} else if (conf_get_dur(ld, s, b != NULL ? "before" : "after",
	    b != NULL ? &r.before : &r.after) != CONF_SET)
		ok = 0;
	if ((ch = conf_member(s, "channel")) == NULL) {
		conf_err(ld, s,
		    "a rule needs 'channel' (\"email\" or \"sms\")");
		ok = 0;
	} else if (config_setting_type(ch) != CONFIG_TYPE_STRING ||
	    chan_parse(config_setting_get_string(ch), &r.channel) == -1) {
		conf_err(ld, ch, "'channel' must be \"email\" or \"sms\"");
		ok = 0;
	}
	if ((g = conf_get_strlist(ld, s, "kinds", appt_kind_names, "[\"assessment\", "
	    "\"session\", \"call\"]", add_kind, &r)) == CONF_BAD)
		ok = 0;
	else if (g == CONF_SET && r.nkinds == 0) {
		conf_err(ld, conf_member(s, "kinds"), "'kinds' is empty: leave "
		    "it out to apply the rule to every kind");
		ok = 0;
	}
	if (conf_get_str(ld, s, "template", &r.template) == CONF_BAD)
		ok = 0;
	else if (r.template != NULL && !conf_tmpl_defined(ld->c, r.template)) {
		conf_err(ld, conf_member(s, "template"), "template \"%s\" is "
		    "not defined: add templates.%s = { ... } or name a "
		    "built-in group", r.template, r.template);
		ok = 0;
	}
	if (!ok) {
		rule_free(&r);
		return;
	}
	if (r.before > 0)
		snprintf(r.key, sizeof(r.key), "b%ld", r.before);
	else
		snprintf(r.key, sizeof(r.key), "a%ld", r.after);
	rule_add(ld, s, &r);
}

static void
load_rules(struct conf_ld *ld, const config_setting_t *root)
{
	config_setting_t *s = conf_member(root, "reminders"), *e;
	struct conf_rule r;
	int i;

	if (s == NULL) {
		memset(&r, 0, sizeof(r));
		r.before = 48L * 3600;
		r.channel = CHAN_EMAIL;
		snprintf(r.key, sizeof(r.key), "b%ld", r.before);
		rule_add(ld, NULL, &r);
		memset(&r, 0, sizeof(r));
		r.before = 3L * 3600;
		r.channel = CHAN_SMS;
		snprintf(r.key, sizeof(r.key), "b%ld", r.before);
		rule_add(ld, NULL, &r);
		return;
	}
	/* an empty array "[]" is taken as "()"; arrays cannot hold groups */
	if (config_setting_type(s) != CONFIG_TYPE_LIST &&
	    !(config_setting_type(s) == CONFIG_TYPE_ARRAY &&
	    config_setting_length(s) == 0)) {
		conf_err(ld, s, "'reminders' must be a list of rules: "
		    "reminders = ( { before = \"48h\"; channel = \"email\"; } "
		    ");");
		return;
	}
	for (i = 0; (e = config_setting_get_elem(s, (unsigned)i)) != NULL; i++)
		load_rule(ld, e);
}

/* ---- the rest ---- */


static void
load_timing(struct conf_ld *ld, const config_setting_t *root)
{
	struct conf *c = ld->c;
	config_setting_t *hw, *q, *rt, *al, *loc;
	enum conf_got g1, g2;
	int ch;

	conf_get_dur(ld, root, "late_limit", &c->late_limit);
	conf_get_bool(ld, root, "notify_cancellation", &c->notify_cancellation);
	conf_get_str(ld, root, "database", &c->database);

	hw = conf_sub(ld, root, "homework", homework_keys);
	conf_get_hhmm(ld, hw, "at", &c->homework.at);
	conf_get_chans(ld, hw, c->homework.channels);

	q = conf_sub(ld, root, "quiet_hours", quiet_keys);
	g1 = conf_get_hhmm(ld, q, "from", &c->quiet.from);
	g2 = conf_get_hhmm(ld, q, "to", &c->quiet.to);
	if (CONF_PAIR_SET(g1, g2) && c->quiet.from == c->quiet.to)
		conf_err(ld, conf_member(q, "to"), "quiet hours 'from' and "
		    "'to' are the same time; to have none, set channels = []");
	conf_get_chans(ld, q, c->quiet.channels);
	for (ch = 0; ch < CHAN_N; ch++) {
		if (!c->homework.channels[ch] || !c->quiet.channels[ch] ||
		    c->quiet.from == c->quiet.to ||
		    !conf_quiet_at(c, ch, c->homework.at))
			continue;
		loc = conf_member(hw, "at") != NULL ? conf_member(hw, "at") :
		    conf_member(q, "from");
		conf_err(ld, loc, "homework.at %02d:%02d falls inside quiet "
		    "hours (%02d:%02d to %02d:%02d) on %s: prompts could never "
		    "be sent there; move homework.at or quiet_hours",
		    c->homework.at / 60, c->homework.at % 60,
		    c->quiet.from / 60, c->quiet.from % 60,
		    c->quiet.to / 60, c->quiet.to % 60, chan_name((enum chan)ch));
		break;
	}

	rt = conf_sub(ld, root, "retry", retry_keys);
	conf_get_long(ld, rt, "attempts", 1, 50, &c->retry.attempts);
	g1 = conf_get_dur(ld, rt, "first", &c->retry.first);
	g2 = conf_get_dur(ld, rt, "max", &c->retry.max);
	if (CONF_PAIR_SET(g1, g2) && c->retry.first > c->retry.max)
		conf_err(ld, conf_member(rt, "first") != NULL ?
		    conf_member(rt, "first") : rt,
		    "retry.first is longer than retry.max");

	al = conf_sub(ld, root, "alerts", alerts_keys);
	conf_get_dur(ld, al, "every", &c->alerts_every);
}

static struct conf *
conf_defaults(const char *path)
{
	struct conf *c = xcalloc(1, sizeof(*c));

	c->path = xstrdup(path);
	c->practice.timezone = xstrdup("Europe/London");
	c->database = xstrdup("/var/lib/nudged/nudged.db");
	c->email.enabled = 1;
	c->email.tls_required = 1;
	c->email.timeout = 30;
	c->email.connections = 1;
	c->email.calendar = 1;
	c->sms.enabled = 1;
	c->sms.provider = xstrdup("twilio");
	c->sms.region = xstrdup("GB");
	c->sms.max_segments = 3;
	c->sms.concurrency = 4;
	c->sms.fallback_email = 1;
	c->sms.timeout = 30;
	c->sms.method = xstrdup("POST");
	c->sms.content_type = xstrdup("application/x-www-form-urlencoded");
	c->late_limit = 3600;
	c->notify_cancellation = 1;
	c->homework.at = 19 * 60;
	c->homework.channels[CHAN_EMAIL] = 1;
	c->homework.channels[CHAN_SMS] = 1;
	c->quiet.from = 21 * 60;
	c->quiet.to = 8 * 60;
	c->quiet.channels[CHAN_SMS] = 1;
	c->retry.attempts = 8;
	c->retry.first = 60;
	c->retry.max = 3600;
	c->alerts_every = 3600;
	/* issue 14: see conf_privacy.c and README "Data protection" */
	c->privacy.keep_messages = 400L * 86400;
	c->practice.calls_client = 1;		/* issue 9 */
	c->practice.discreet_address = 1;
	c->sms.transliterate = 1;
	c->notify_move = 1;
	return c;
}

static int
open_check(struct conf_ld *ld)
{
	struct stat st;
	FILE *f;

	/* libconfig only says "file I/O error"; the practitioner needs why */
	if ((f = fopen(ld->path, "r")) == NULL) {
		conf_err(ld, NULL, "cannot read: %s", strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		conf_err(ld, NULL, "cannot read: %s", strerror(EISDIR));
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* libconfig stops at the first syntax error: that one line is all we have. */
static void
parse_error(struct conf_ld *ld, const config_t *cfg)
{
	const char *f = config_error_file(cfg) ? config_error_file(cfg) : ld->path;
	struct conf_diag *d = ld->errs;

	d->lines = xrealloc(d->lines, (d->n + 1) * sizeof(*d->lines));
	if (config_error_line(cfg) > 0)
		d->lines[d->n++] = xasprintf("%s:%d: %s", f,
		    config_error_line(cfg), config_error_text(cfg));
	else
		d->lines[d->n++] = xasprintf("%s: %s", f, config_error_text(cfg));
}

int
conf_load(const char *path, struct conf **out, struct conf_diag *errs,
    struct conf_diag *warns)
{
	struct conf_diag sink = { 0 };
	struct conf_ld ld = { 0 };
	config_setting_t *root;
	config_t cfg;
	char *dir;
	size_t nerr;

	*out = NULL;
	ld.path = path;
	ld.errs = errs != NULL ? errs : &sink;
	ld.warns = warns;
	nerr = ld.errs->n;
	if (open_check(&ld) == -1) {
		conf_diag_free(&sink);
		return -1;
	}
	ld.c = conf_defaults(path);
	config_init(&cfg);
	/* @include "x" is found next to the file that includes it */
	dir = strrchr(path, '/') != NULL ?
	    xstrndup(path, (size_t)(strrchr(path, '/') - path) + 1) : NULL;
	if (dir != NULL)	/* libconfig 1.5 strdup()s its argument, NULL included */
		config_set_include_dir(&cfg, dir);
	if (config_read_file(&cfg, path) != CONFIG_TRUE) {
		parse_error(&ld, &cfg);
		goto fail;
	}
	root = config_root_setting(&cfg);
	conf_known_keys(&ld, root, NULL, top_keys);
	load_practice(&ld, root);
	load_email(&ld, root);
	conf_load_sms(&ld, root);
	load_timing(&ld, root);
	load_templates(&ld, root);
	load_rules(&ld, root);
	conf_load_calendar(&ld, root);
	conf_load_privacy(&ld, root);
	conf_load_client(&ld, root);
	if (ld.errs->n > nerr)
		goto fail;
	config_destroy(&cfg);
	free(dir);
	conf_diag_free(&sink);
	*out = ld.c;
	return 0;
fail:
	config_destroy(&cfg);
	free(dir);
	conf_diag_free(&sink);
	conf_free(ld.c);
	return -1;
}

void
conf_free(struct conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->path);
	free(c->practice.name);
	free(c->practice.practitioner);
	free(c->practice.timezone);
	free(c->practice.email);
	free(c->practice.phone);
	free(c->practice.address);
	free(c->practice.video_url);
	for (i = 0; i < c->practice.nclosed; i++)
		free(c->practice.closed[i]);
	free(c->practice.closed);
	free(c->database);
	free(c->email.url);
	free(c->email.ca_file);
	free(c->email.username);
	xfree_secret(c->email.password);
	free(c->email.from);
	conf_free_calendar(c);
	free(c->sms.provider);
	free(c->sms.url);
	free(c->sms.account);
	xfree_secret(c->sms.token);
	free(c->sms.from);
	free(c->sms.region);
	free(c->sms.ca_file);
	free(c->sms.method);
	for (i = 0; i < c->sms.nheaders; i++)
		free(c->sms.headers[i]);
	free(c->sms.headers);
	free(c->sms.content_type);
	free(c->sms.body);
	free(c->sms.id_field);
	conf_client_free(c);
	for (i = 0; i < c->nrules; i++)
		rule_free(&c->rules[i]);
	free(c->rules);
	for (i = 0; i < c->ntmpls; i++) {
		free(c->tmpls[i].name);
		free(c->tmpls[i].email_subject);
		free(c->tmpls[i].email_text);
		free(c->tmpls[i].sms);
	}
	free(c->tmpls);
	free(c);
}

static const struct conf_tmpl_group *
conf_tmpl_group(const struct conf *c, const char *group)
{
	size_t i;

	for (i = 0; group != NULL && i < c->ntmpls; i++)
		if (strcmp(c->tmpls[i].name, group) == 0)
			return &c->tmpls[i];
	return NULL;
}

int
conf_tmpl_defined(const struct conf *c, const char *group)
{
	return conf_tmpl_group(c, group) != NULL || tmpl_builtin_group(group);
}

const char *
conf_tmpl_text(const struct conf *c, const char *group, const char *key,
    const char *fallback)
{
	const struct conf_tmpl_group *g = conf_tmpl_group(c, group);
	const char *t = NULL;

	if (g != NULL) {
		if (strcmp(key, "email_subject") == 0)
			t = g->email_subject;
		else if (strcmp(key, "email_text") == 0)
			t = g->email_text;
		else if (strcmp(key, "sms") == 0)
			t = g->sms;
	}
	if (t == NULL && group != NULL)
		t = tmpl_builtin(group, key);
	if (t == NULL && fallback != NULL)
		t = tmpl_builtin(fallback, key);
	return t != NULL ? t : "";
}

int
conf_quiet_on(const struct conf *c, enum chan ch)
{
	return (unsigned)ch < CHAN_N && c->quiet.channels[ch];
}

int
conf_quiet_at(const struct conf *c, enum chan ch, int minute)
{
	if (!conf_quiet_on(c, ch) || c->quiet.from == c->quiet.to)
		return 0;
	/* from is inside, to is not; the span may wrap past midnight */
	if (c->quiet.from < c->quiet.to)
		return minute >= c->quiet.from && minute < c->quiet.to;
	return minute >= c->quiet.from || minute < c->quiet.to;
}
