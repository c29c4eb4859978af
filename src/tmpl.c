/*
 * tmpl: the message template language and the built-in wording.
 *
 * The parser is written by hand on purpose.  The language is a small
 * subset of mustache (values and the two kinds of section, nothing else)
 * and it must reject, with a message a practitioner can act on, every
 * name outside a fixed list.  No C library in Debian offers exactly this
 * restricted syntax with per-name validation; a general mustache library
 * would accept partials, lambdas and delimiter changes that we would then
 * have to forbid again, for about the same number of lines as this.
 *
 * Both tmpl_check() and tmpl_render() walk the text once, left to right,
 * with one shared tag reader.  Rendering keeps no stack at all: a false
 * section is skipped by counting opens and closes, so any nesting depth
 * costs nothing and rendering cannot fail.  Only the check keeps the names
 * of the open sections (to say which one a close does not match), and it
 * caps nesting at TMPL_MAX_DEPTH.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl.h"
#include "util.h"

const char *const tmpl_names[] = {
	"first_name", "name", "date", "time", "duration", "kind", "mode",
	"location", "video_url", "practice", "practitioner", "practice_phone",
	"practice_email", "homework_title", "homework_prompt", "day_number",
	"next_date", "next_time", "partner_first_name", "summary", NULL
};

enum tag_kind {
	TAG_VAR,
	TAG_OPEN,	/* {{#name}} */
	TAG_INVERT,	/* {{^name}} */
	TAG_CLOSE	/* {{/name}} */
};

enum tag_status {
	TAG_OK,
	TAG_UNCLOSED,	/* "{{" with no "}}" after it */
	TAG_EMPTY,	/* no name */
	TAG_MALFORMED	/* something other than a name inside */
};

struct tag {
	enum tag_kind	 kind;
	const char	*name;
	size_t		 namelen;
	const char	*start;		/* at "{{" */
	const char	*end;		/* just past "}}" */
};

static int
tag_namechar(char c)
{
	/*
	 * Wider than any real name, so {{First-Name}} is reported as an
	 * unknown name (with a suggestion) rather than as a malformed tag.
	 */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

static const char *
tag_blank(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/*
 * The next "{{" or "}}" at or after p.  Not strstr(): sanitizer builds
 * measure the whole rest of the text on every strstr() call, which turns
 * a long template quadratic.
 */
static const char *
find_pair(const char *p, char c)
{
	for (; *p != '\0'; p++)
		if (p[0] == c && p[1] == c)
			return p;
	return NULL;
}

/* Read the tag whose "{{" is at p. */
static enum tag_status
tag_read(const char *p, struct tag *t)
{
	const char *close, *q;

	t->start = p;
	if ((close = find_pair(p + 2, '}')) == NULL) {
		t->end = p + strlen(p);
		return TAG_UNCLOSED;
	}
	t->end = close + 2;
	t->kind = TAG_VAR;
	q = tag_blank(p + 2, close);
	switch (q < close ? *q : '\0') {
	case '#':
		t->kind = TAG_OPEN;
		break;
	case '^':
		t->kind = TAG_INVERT;
		break;
	case '/':
		t->kind = TAG_CLOSE;
		break;
	}
	if (t->kind != TAG_VAR)
		q = tag_blank(q + 1, close);
	t->name = q;
	while (q < close && tag_namechar(*q))
		q++;
	t->namelen = (size_t)(q - t->name);
	q = tag_blank(q, close);
	if (q != close)
		return TAG_MALFORMED;
	if (t->namelen == 0)
		return TAG_EMPTY;
	return TAG_OK;
}

static int
names_find(const char *const *names, const char *s, size_t n)
{
	for (size_t i = 0; names[i] != NULL; i++)
		if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0)
			return (int)i;
	return -1;
}

int
tmpl_known(const char *name)
{
	return name != NULL && names_find(tmpl_names, name, strlen(name)) >= 0;
}

/* Edit distance, capped: only small typos are worth a suggestion. */
static size_t
typo_distance(const char *a, size_t na, const char *b)
{
	size_t nb = strlen(b), row[64], diag, up;

	if (na >= 64 || nb >= 64)
		return (size_t)-1;
	for (size_t j = 0; j <= nb; j++)
		row[j] = j;
	for (size_t i = 1; i <= na; i++) {
		diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= nb; j++) {
			char ca = a[i - 1], cb = b[j - 1];

			if (ca >= 'A' && ca <= 'Z')
				ca = (char)(ca - 'A' + 'a');
			if (ca == '-' || ca == '.')
				ca = '_';
			up = row[j];
			row[j] = diag + (ca != cb);
			if (up + 1 < row[j])
				row[j] = up + 1;
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			diag = up;
		}
	}
	return row[nb];
}

/*
 * A short, one-line quotation of template text for an error: the tag
 * itself when it is short, else its start.  Templates are the
 * practitioner's own words, never client data, so quoting them is safe.
 */
static void
quote(char *dst, size_t dstlen, const char *s, size_t n)
{
	size_t i, o = 0;
	int more = 0;

	if (n > 37) {
		n = 37;
		/* do not cut a UTF-8 sequence in half */
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
		more = 1;
	}
	for (i = 0; i < n && o + 4 < dstlen; i++) {
		if (s[i] == '\n') {
			more = 1;
			break;
		}
		dst[o++] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
	}
	if (more && o + 4 <= dstlen) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	if (dstlen > 0)
		dst[o] = '\0';
}

static const char sigils[] = { [TAG_VAR] = ' ', [TAG_OPEN] = '#',
    [TAG_INVERT] = '^', [TAG_CLOSE] = '/' };

int
tmpl_check_names(const char *text, const char *const *names, char *err,
    size_t errlen)
{
	struct tag open[TMPL_MAX_DEPTH], t;
	size_t depth = 0, best, d;
	const char *p = text, *guess;
	char q[64];
	int i;

	if (err == NULL)
		errlen = 0;
	if (text == NULL) {
		snprintf(err, errlen, "no template text");
		return -1;
	}
	while ((p = find_pair(p, '{')) != NULL) {
		switch (tag_read(p, &t)) {
		case TAG_OK:
			break;
		case TAG_UNCLOSED:
			quote(q, sizeof(q), p, strlen(p));
			snprintf(err, errlen, "\"{{\" without a closing \"}}\" "
			    "in \"%s\"", q);
			return -1;
		case TAG_EMPTY:
			quote(q, sizeof(q), p, (size_t)(t.end - p));
			snprintf(err, errlen, "empty tag \"%s\": a tag needs a "
			    "name, as in {{first_name}}", q);
			return -1;
		case TAG_MALFORMED:
			quote(q, sizeof(q), p, (size_t)(t.end - p));
			snprintf(err, errlen, "malformed tag \"%s\": use "
			    "{{name}}, {{#name}}, {{^name}} or {{/name}}", q);
			return -1;
		}
		if (t.kind == TAG_CLOSE) {
			if (depth == 0) {
				snprintf(err, errlen, "\"{{/%.*s}}\" closes no "
				    "open section", (int)t.namelen, t.name);
				return -1;
			}
			depth--;
			if (open[depth].namelen != t.namelen ||
			    memcmp(open[depth].name, t.name, t.namelen) != 0) {
				snprintf(err, errlen, "\"{{/%.*s}}\" does not "
				    "match the open section \"{{%c%.*s}}\"",
				    (int)t.namelen, t.name,
				    sigils[open[depth].kind],
				    (int)open[depth].namelen, open[depth].name);
				return -1;
			}
			p = t.end;
			continue;
		}
		if (names_find(names, t.name, t.namelen) < 0) {
			guess = NULL;
			best = 3;
			for (i = 0; names[i] != NULL; i++) {
				d = typo_distance(t.name, t.namelen, names[i]);
				if (d < best) {
					best = d;
					guess = names[i];
				}
			}
			quote(q, sizeof(q), t.name, t.namelen);
			if (guess != NULL)
				snprintf(err, errlen, "unknown name \"%s\" (did "
				    "you mean \"%s\"?)", q, guess);
			else
				snprintf(err, errlen, "unknown name \"%s\"", q);
			return -1;
		}
		if (t.kind != TAG_VAR) {
			if (depth == TMPL_MAX_DEPTH) {
				snprintf(err, errlen, "sections nested deeper "
				    "than %d, at \"{{%c%.*s}}\"", TMPL_MAX_DEPTH,
				    sigils[t.kind], (int)t.namelen, t.name);
				return -1;
			}
			open[depth++] = t;
		}
		p = t.end;
	}
	if (depth > 0) {
		t = open[depth - 1];
		snprintf(err, errlen, "section \"{{%c%.*s}}\" is not closed "
		    "(add \"{{/%.*s}}\")", sigils[t.kind], (int)t.namelen,
		    t.name, (int)t.namelen, t.name);
		return -1;
	}
	return 0;
}

int
tmpl_check(const char *text, char *err, size_t errlen)
{
	return tmpl_check_names(text, tmpl_names, err, errlen);
}

static const char *
var_value(const struct tmpl_var *vars, size_t nvars, const char *name,
    size_t n)
{
	for (size_t i = 0; i < nvars; i++)
		if (vars[i].name != NULL && strlen(vars[i].name) == n &&
		    memcmp(vars[i].name, name, n) == 0)
			return vars[i].value != NULL ? vars[i].value : "";
	return "";
}

/*
 * For a standalone section tag (nothing but blanks around it on its
 * line) set *from to where its line starts and *to past its line end.
 */
static int
standalone(const char *text, const struct tag *t, const char **from,
    const char **to)
{
	const char *a = t->start, *b = t->end;

	while (a > text && (a[-1] == ' ' || a[-1] == '\t'))
		a--;
	if (a > text && a[-1] != '\n')
		return 0;
	while (*b == ' ' || *b == '\t')
		b++;
	if (*b == '\r' && b[1] == '\n')
		b += 2;
	else if (*b == '\n')
		b++;
	else if (*b != '\0')
		return 0;
	*from = a;
	*to = b;
	return 1;
}

char *
tmpl_render(const char *text, const struct tmpl_var *vars, size_t nvars)
{
	struct sbuf out = { 0 };
	const char *p, *lit_end, *next, *v;
	size_t skip = 0;	/* > 0: inside a false section, its depth */
	struct tag t;

	if (text == NULL)
		return sbuf_steal(&out);
	p = text;
	while (*p != '\0') {
		if ((next = find_pair(p, '{')) == NULL) {
			if (skip == 0)
				sbuf_add(&out, p);
			break;
		}
		if (tag_read(next, &t) != TAG_OK) {
			/* only for unchecked text: show what cannot be read */
			if (skip == 0)
				sbuf_addn(&out, p, (size_t)(t.end - p));
			p = t.end;
			continue;
		}
		lit_end = t.start;
		if (t.kind == TAG_VAR ||
		    !standalone(text, &t, &lit_end, &next))
			next = t.end;
		if (lit_end < p)
			lit_end = p;
		if (skip == 0)
			sbuf_addn(&out, p, (size_t)(lit_end - p));
		p = next;
		v = var_value(vars, nvars, t.name, t.namelen);
		if (skip > 0) {
			if (t.kind == TAG_CLOSE)
				skip--;
			else if (t.kind != TAG_VAR)
				skip++;
			continue;
		}
		if (t.kind == TAG_VAR)
			sbuf_add(&out, v);
		else if ((t.kind == TAG_OPEN && *v == '\0') ||
		    (t.kind == TAG_INVERT && *v != '\0'))
			skip = 1;
	}
	return sbuf_steal(&out);
}


/*
 * The built-in wording.  It reminds and never lectures: UK English, plain,
 * short.  Section tags in email texts stand on lines of their own, so a
 * missing value removes its whole line.  SMS texts use only the basic
 * GSM-7 alphabet (no curly quotes, dashes or braces) and stay within two
 * segments for realistic values (test_tmpl checks three with long ones).
 * Discreet groups name neither the practice nor the practitioner, and
 * avoid clinical words everywhere, not only where the contract demands it.
 */

/* Replies reach practice.email (Reply-To), which the config requires. */
#define REPLY_EMAIL	"just reply to this email{{#practice_phone}} or " \
	"call {{practice_phone}}{{/practice_phone}}"
/* A reply to an SMS may reach nobody (alphanumeric senders). */
#define CONTACT_SMS	"{{#practice_phone}}call {{practice_phone}}" \
	"{{/practice_phone}}{{^practice_phone}}email {{practice_email}}" \
	"{{/practice_phone}}"
/* The practice's email address may carry its name: discreet SMS omit it. */
#define DISCREET_SMS(what) "{{#practice_phone}} " what ", call " \
	"{{practice_phone}}.{{/practice_phone}}"
#define WHEN_WHERE \
	"When: {{date}} at {{time}}{{#duration}} ({{duration}}){{/duration}}\n" \
	"{{#location}}\n" \
	"Where: {{location}}\n" \
	"{{/location}}\n" \
	"{{#video_url}}\n" \
	"Join: {{video_url}}\n" \
	"{{/video_url}}\n"
#define SIGNED		"Best wishes,\n{{practitioner}}\n{{practice}}\n"
#define UNSIGNED	"Best wishes\n"
#define VIDEO_SMS	"{{#video_url}} Join: {{video_url}}{{/video_url}}"
#define NEXT_SESSION	"{{#next_date}} Your next appointment is on " \
	"{{next_date}}{{#next_time}} at {{next_time}}{{/next_time}}." \
	"{{/next_date}}"

#define ASSESSMENT_BODY(both, single) \
	"{{#partner_first_name}}\n" both "\n{{/partner_first_name}}\n" \
	"{{^partner_first_name}}\n" single "\n{{/partner_first_name}}\n" \
	"\n" \
	"{{#duration}}This first meeting lasts {{duration}}. {{/duration}}" \
	"It is a chance to talk about what brings you, and how you would " \
	"like things to be. There is no need to prepare anything, and there " \
	"will be time to ask any questions you have about how we work.\n"

#define HOMEWORK_BODY(next) \
	"Hello {{first_name}},\n\n" \
	"{{homework_title}}{{#day_number}} (day {{day_number}}){{/day_number}}" \
	"\n\n{{homework_prompt}}\n\n" \
	"Give it a go when you can, and notice how it feels. There is no " \
	"need to reply.{{#next_date}} " next " {{next_date}}{{#next_time}} at " \
	"{{next_time}}{{/next_time}}.{{/next_date}}\n\n"
#define HOMEWORK_SMS \
	"Hi {{first_name}}, today's practice: {{homework_title}}" \
	"{{#day_number}} (day {{day_number}}){{/day_number}}. " \
	"{{homework_prompt}} No need to reply."

#define FOLLOW_UP_BODY \
	"Hello {{first_name}},\n\n" \
	"Thank you for your time on {{date}}." NEXT_SESSION "\n\n" \
	"If anything comes up in the meantime, " REPLY_EMAIL ".\n\n"

#define DECIDE(extra) \
	"{{#partner_first_name}}\n" \
	"When you are ready, take some time with {{partner_first_name}} to " \
	"decide together whether you would like to continue. There is no " \
	"rush.\n" \
	"{{/partner_first_name}}\n" \
	"{{^partner_first_name}}\n" \
	"When you are ready, take some time to decide whether you would " \
	"like to continue." extra " There is no rush.\n" \
	"{{/partner_first_name}}\n" \
	"\n" \
	"If you would like to book, " REPLY_EMAIL ", and we will find a time " \
	"that suits you.\n\n"
#define DECIDE_SMS \
	"Hi {{first_name}}, thank you for your time on {{date}}. When you " \
	"are ready, decide{{#partner_first_name}} with {{partner_first_name}}" \
	"{{/partner_first_name}} whether you would like to continue."

struct builtin {
	const char	*group;
	const char	*text[3];	/* in the order of tmpl_keys */
};

static const struct builtin builtins[] = {
	{ "reminder", {
	    "Your appointment with {{practitioner}} on {{date}} at {{time}}",
	    "Hello {{first_name}},\n\n"
	    "Just a reminder of your appointment with {{practitioner}}.\n\n"
	    WHEN_WHERE "\n"
	    "If you need to rearrange, " REPLY_EMAIL ".\n\n" SIGNED,
	    "Hi {{first_name}}, a reminder of your appointment with "
	    "{{practitioner}} on {{date}} at {{time}}{{#location}} "
	    "({{location}}){{/location}}." VIDEO_SMS " To rearrange, "
	    CONTACT_SMS "." } },
	{ "reminder_discreet", {
	    "Reminder: your appointment on {{date}} at {{time}}",
	    "Hello {{first_name}},\n\n"
	    "Just a reminder of your appointment.\n\n"
	    WHEN_WHERE "\n"
	    "If you need to rearrange, " REPLY_EMAIL ".\n\n" UNSIGNED,
	    "Hi {{first_name}}, a reminder of your appointment on {{date}} at "
	    "{{time}}." VIDEO_SMS DISCREET_SMS("To rearrange") } },
	{ "assessment", {
	    "Your first appointment with {{practitioner}} on {{date}} at "
	    "{{time}}",
	    "Hello {{first_name}},\n\n"
	    "Just a reminder of your first appointment with "
	    "{{practitioner}}.\n\n"
	    WHEN_WHERE "\n"
	    ASSESSMENT_BODY("This first meeting is for you and "
	    "{{partner_first_name}} together, so please both be there.",
	    "If you are coming as a couple, please both come.") "\n"
	    "If you need to rearrange, " REPLY_EMAIL ".\n\n" SIGNED,
	    "Hi {{first_name}}, a reminder of your first appointment with "
	    "{{practitioner}} on {{date}} at {{time}}{{#duration}} "
	    "({{duration}}){{/duration}}{{#location}}, {{location}}"
	    "{{/location}}." VIDEO_SMS "{{#partner_first_name}} It is for you "
	    "both, so please both be there.{{/partner_first_name}} No need to "
	    "prepare anything. To rearrange, " CONTACT_SMS "." } },
	{ "assessment_discreet", {
	    "Reminder: your first appointment on {{date}} at {{time}}",
	    "Hello {{first_name}},\n\n"
	    "Just a reminder of your first appointment.\n\n"
	    WHEN_WHERE "\n"
	    ASSESSMENT_BODY("It is for you and {{partner_first_name}} "
	    "together, so please both be there.",
	    "If you are coming with your partner, please both come.") "\n"
	    "If you need to rearrange, " REPLY_EMAIL ".\n\n" UNSIGNED,
	    "Hi {{first_name}}, a reminder of your first appointment on "
	    "{{date}} at {{time}}{{#duration}} ({{duration}}){{/duration}}."
	    VIDEO_SMS "{{#partner_first_name}} Please both be there."
	    "{{/partner_first_name}} No need to prepare anything."
	    DISCREET_SMS("To rearrange") } },
	{ "call", {
	    "Your phone call with {{practitioner}} on {{date}} at {{time}}",
	    "Hello {{first_name}},\n\n"
	    "Just a reminder of your free phone call with {{practitioner}} "
	    "on {{date}}{{#duration}} ({{duration}}){{/duration}}.\n\n"
	    "{{practitioner}} will call you at {{time}} on the number you "
	    "gave. There is nothing to prepare: it is a chance to say a little "
	    "about what you are looking for, and to ask any questions.\n\n"
	    "If the time no longer suits you, " REPLY_EMAIL ".\n\n" SIGNED,
	    "Hi {{first_name}}, a reminder of your free phone call "
	    "{{#duration}}({{duration}}) {{/duration}}on {{date}}: "
	    "{{practitioner}} will call you at {{time}} on the "
	    "number you gave. Nothing to prepare. To rearrange, " CONTACT_SMS
	    "." } },
	{ "call_discreet", {
	    "Reminder: your phone call on {{date}} at {{time}}",
	    "Hello {{first_name}},\n\n"
	    "Just a reminder of your phone call on {{date}}{{#duration}} "
	    "({{duration}}){{/duration}}: you will be called at {{time}} on "
	    "the number you gave. There is nothing to prepare.\n\n"
	    "If the time no longer suits you, " REPLY_EMAIL ".\n\n" UNSIGNED,
	    "Hi {{first_name}}, a reminder of your phone call on {{date}}: "
	    "you will be called at {{time}} on the number you gave. Nothing "
	    "to prepare." DISCREET_SMS("To rearrange") } },
	{ "cancellation", {
	    "Cancelled: your appointment on {{date}} at {{time}}",
	    "Hello {{first_name}},\n\n"
	    "Your appointment with {{practitioner}} on {{date}} at {{time}} "
	    "has been cancelled.\n\n"
	    "If you would like to arrange another time, " REPLY_EMAIL ".\n\n"
	    SIGNED,
	    "Hi {{first_name}}, your appointment with {{practitioner}} on "
	    "{{date}} at {{time}} has been cancelled. To arrange another "
	    "time, " CONTACT_SMS "." } },
	{ "cancellation_discreet", {
	    "Cancelled: your appointment on {{date}} at {{time}}",
	    "Hello {{first_name}},\n\n"
	    "Your appointment on {{date}} at {{time}} has been cancelled.\n\n"
	    "If you would like to arrange another time, " REPLY_EMAIL ".\n\n"
	    UNSIGNED,
	    "Hi {{first_name}}, your appointment on {{date}} at {{time}} has "
	    "been cancelled." DISCREET_SMS("To arrange another time") } },
	{ "homework", {
	    "For today: {{homework_title}}",
	    HOMEWORK_BODY("We can talk about it when we meet on")
	    "Warm wishes,\n{{practitioner}}\n",
	    HOMEWORK_SMS " {{practitioner}}" } },
	{ "homework_discreet", {
	    "For today: {{homework_title}}",
	    HOMEWORK_BODY("We can talk about it at your next appointment on")
	    UNSIGNED,
	    HOMEWORK_SMS } },
	{ "follow_up", {
	    "Thank you for your time on {{date}}",
	    FOLLOW_UP_BODY SIGNED,
	    "Hi {{first_name}}, thank you for your time on {{date}}."
	    NEXT_SESSION " {{practitioner}}" } },
	{ "follow_up_discreet", {
	    "Following your appointment on {{date}}",
	    FOLLOW_UP_BODY UNSIGNED,
	    "Hi {{first_name}}, thank you for your time on {{date}}."
	    NEXT_SESSION } },
	{ "assessment_follow_up", {
	    "After your first appointment on {{date}}",
	    "Hello {{first_name}},\n\n"
	    "Thank you for your time at our first meeting on {{date}}.\n\n"
	    DECIDE(" If you came as a couple, it helps to decide together.")
	    SIGNED,
	    DECIDE_SMS " To book, " CONTACT_SMS ". {{practitioner}}" } },
	{ "assessment_follow_up_discreet", {
	    "Following your first appointment on {{date}}",
	    "Hello {{first_name}},\n\n"
	    "Thank you for your time at the first meeting on {{date}}.\n\n"
	    DECIDE("") UNSIGNED,
	    DECIDE_SMS DISCREET_SMS("To book") } },
	{ "alert", {
	    "nudged: some messages could not be delivered",
	    "Hello,\n\n"
	    "nudged could not deliver some messages, or could not read some "
	    "of the data it needs:\n\n"
	    "{{summary}}\n\n"
	    "To see the state of things, run: nudgectl status\n",
	    "nudged: some messages could not be delivered. The details are in "
	    "the alert email, or run: nudgectl status" } },
};

const char *const tmpl_groups[] = {
	"reminder", "assessment", "call", "cancellation", "homework",
	"follow_up", "assessment_follow_up", "alert",
	"reminder_discreet", "assessment_discreet", "call_discreet",
	"cancellation_discreet", "homework_discreet", "follow_up_discreet",
	"assessment_follow_up_discreet", NULL
};

const char *const tmpl_keys[] = { "email_subject", "email_text", "sms",
    NULL };

static const struct builtin *
builtin_find(const char *group)
{
	if (group == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (strcmp(builtins[i].group, group) == 0)
			return &builtins[i];
	return NULL;
}

const char *
tmpl_builtin(const char *group, const char *key)
{
	const struct builtin *b;

	if ((b = builtin_find(group)) == NULL || key == NULL)
		return NULL;
	for (size_t i = 0; tmpl_keys[i] != NULL; i++)
		if (strcmp(tmpl_keys[i], key) == 0)
			return b->text[i];
	return NULL;
}

int
tmpl_builtin_group(const char *group)
{
	return builtin_find(group) != NULL;
}

static const struct tmpl_var samples[] = {
	{ "first_name",		"Alexandra" },
	{ "name",		"Alexandra Montgomery-Whitfield" },
	{ "date",		"Wednesday 30 September 2026" },
	{ "time",		"14:00" },
	{ "duration",		"90 minutes" },
	{ "kind",		"assessment" },
	{ "mode",		"online" },
	{ "location",		"online" },
	{ "video_url",		"https://meet.example.org/hughes-room-042" },
	{ "practice",		"Hughes Relationship Therapy" },
	{ "practitioner",	"Christian Hughes" },
	{ "practice_phone",	"01384 000000" },
	{ "practice_email",	"christian@example.org" },
	{ "homework_title",	"Pause before replying" },
	{ "homework_prompt",	"When you feel a sharp reply rising, take "
				"three slow breaths first, then say what you "
				"need rather than what went wrong." },
	{ "day_number",		"3" },
	{ "next_date",		"Wednesday 14 October 2026" },
	{ "next_time",		"14:00" },
	{ "partner_first_name",	"Christopher" },
	{ "summary",		"message 42 (client 7, appointment 12 on "
				"Wednesday 30 September 2026): sms failed: "
				"invalid number" },
};

const struct tmpl_var *
tmpl_sample(size_t *nvars)
{
	*nvars = sizeof(samples) / sizeof(samples[0]);
	return samples;
}
