#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/tmpl.h"
#include "base/util.h"

#define NVARS(a)	(sizeof(a) / sizeof((a)[0]))

static void
expect_render(const char *text, const struct tmpl_var *vars, size_t n,
    const char *want)
{
	char err[256];
	char *got;

	assert_int_equal(tmpl_check(text, err, sizeof(err)), 0);
	got = tmpl_render(text, vars, n);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

/* The check fails and its one-line message contains every needle. */
static void
expect_error(const char *text, const char *n1, const char *n2)
{
	char err[256];

	err[0] = '\0';
	assert_int_equal(tmpl_check(text, err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
	assert_null(strchr(err, '\n'));
	if (n1 != NULL && strstr(err, n1) == NULL)
		fail_msg("\"%s\": no \"%s\" in \"%s\"", text, n1, err);
	if (n2 != NULL && strstr(err, n2) == NULL)
		fail_msg("\"%s\": no \"%s\" in \"%s\"", text, n2, err);
}

static void
test_plain_text(void **state)
{
	(void)state;
	expect_render("", NULL, 0, "");
	expect_render("Hello there.\n", NULL, 0, "Hello there.\n");
	expect_render("a { b } c }} d {x} { {y} }", NULL, 0,
	    "a { b } c }} d {x} { {y} }");
	expect_render("}}{", NULL, 0, "}}{");
}

static void
test_values(void **state)
{
	const struct tmpl_var v[] = {
		{ "first_name", "Sam" },
		{ "date", "Thursday 3 December 2026" },
		{ "time", NULL },
		{ NULL, "ignored" },
	};

	(void)state;
	expect_render("Hi {{first_name}}, {{date}}.", v, NVARS(v),
	    "Hi Sam, Thursday 3 December 2026.");
	expect_render("{{ first_name }}|{{\tfirst_name}}", v, NVARS(v),
	    "Sam|Sam");
	/* NULL value and a name without any value both render empty */
	expect_render("[{{time}}][{{location}}]", v, NVARS(v), "[][]");
	expect_render("{{first_name}}{{first_name}}", v, NVARS(v), "SamSam");
	expect_render("{{first_name}}", NULL, 0, "");
	/* values are inserted as they are, never parsed as templates */
	{
		const struct tmpl_var w[] = { { "name", "{{date}} {{#x}}" } };

		expect_render("<{{name}}>", w, 1, "<{{date}} {{#x}}>");
	}
}

static void
test_sections(void **state)
{
	const struct tmpl_var v[] = {
		{ "video_url", "https://v.example/1" },
		{ "practice_phone", "" },
		{ "location", NULL },
	};

	(void)state;
	expect_render("a{{#video_url}} Join: {{video_url}}{{/video_url}}.",
	    v, NVARS(v), "a Join: https://v.example/1.");
	expect_render("a{{#practice_phone}}X{{/practice_phone}}b", v,
	    NVARS(v), "ab");
	expect_render("a{{#location}}X{{/location}}b", v, NVARS(v), "ab");
	expect_render("a{{#date}}X{{/date}}b", v, NVARS(v), "ab");
	expect_render("a{{^practice_phone}}none{{/practice_phone}}b", v,
	    NVARS(v), "anoneb");
	expect_render("a{{^location}}none{{/location}}b", v, NVARS(v),
	    "anoneb");
	expect_render("a{{^video_url}}none{{/video_url}}b", v, NVARS(v),
	    "ab");
	expect_render("{{# video_url }}y{{/ video_url }}", v, NVARS(v), "y");
	expect_render("{{ ^ location }}y{{ / location }}", v, NVARS(v), "y");
	expect_render("{{#video_url}}{{/video_url}}", v, NVARS(v), "");
}

static void
test_nesting(void **state)
{
	const struct tmpl_var v[] = {
		{ "next_date", "Monday 1 March 2027" },
		{ "next_time", "" },
		{ "partner_first_name", "Alex" },
	};
	const char *t = "[{{#next_date}}on {{next_date}}"
	    "{{#next_time}} at {{next_time}}{{/next_time}}"
	    "{{^next_time}} (time tbc){{/next_time}}{{/next_date}}]";

	(void)state;
	expect_render(t, v, NVARS(v), "[on Monday 1 March 2027 (time tbc)]");
	expect_render(t, v + 1, 1, "[]");
	/* a false outer section hides inner ones, true or not */
	expect_render("{{#next_time}}a{{#partner_first_name}}b"
	    "{{/partner_first_name}}c{{^next_date}}d{{/next_date}}"
	    "{{/next_time}}e", v, NVARS(v), "e");
	/* the same name nested inside itself */
	expect_render("{{#next_date}}1{{#next_date}}2{{/next_date}}3"
	    "{{/next_date}}", v, NVARS(v), "123");
	expect_render("{{^next_time}}1{{^next_time}}2{{/next_time}}3"
	    "{{/next_time}}", v, NVARS(v), "123");
	expect_render("{{#next_time}}1{{#next_time}}2{{/next_time}}3"
	    "{{/next_time}}4", v, NVARS(v), "4");
}

static void
test_standalone(void **state)
{
	const struct tmpl_var on[] = { { "video_url", "U" } };
	const char *t = "A\n{{#video_url}}\nJoin: {{video_url}}\n"
	    "{{/video_url}}\nB\n";

	(void)state;
	expect_render(t, on, 1, "A\nJoin: U\nB\n");
	expect_render(t, NULL, 0, "A\nB\n");
	/* indented, with trailing blanks, CRLF, at the very start and end */
	expect_render("  {{#video_url}}  \r\nx\n\t{{/video_url}}", on, 1, "x\n");
	expect_render("{{^video_url}}\nnone\n{{/video_url}}\n", NULL, 0,
	    "none\n");
	/* not alone on its line: kept inline */
	expect_render("A {{#video_url}}\nB\n{{/video_url}} C", on, 1,
	    "A \nB\n C");
	expect_render("{{#video_url}}{{/video_url}}\nx", on, 1, "\nx");
	/* a value tag alone on its line keeps its line */
	expect_render("a\n{{video_url}}\nb", on, 1, "a\nU\nb");
	expect_render("a\n{{video_url}}\nb", NULL, 0, "a\n\nb");
}

static void
test_check_errors(void **state)
{
	char err[256], tiny[8];

	(void)state;
	expect_error("Hi {{frist_name}}", "\"frist_name\"", "first_name");
	expect_error("{{#vidoe_url}}x{{/vidoe_url}}", "vidoe_url", NULL);
	expect_error("{{colour}}", "unknown name \"colour\"", NULL);
	expect_error("{{First_Name}}", "First_Name", "first_name");
	expect_error("{{#video_url}}x", "not closed", "video_url");
	expect_error("{{^location}}{{#video_url}}{{/video_url}}",
	    "not closed", "{{^location}}");
	expect_error("{{#video_url}}x{{/location}}", "{{/location}}",
	    "{{#video_url}}");
	expect_error("{{#date}}{{^time}}{{/date}}{{/time}}", "{{/date}}",
	    "{{^time}}");
	expect_error("x{{/date}}", "{{/date}}", "no open section");
	expect_error("{{}}", "empty tag", "{{}}");
	expect_error("{{  }}", "empty tag", NULL);
	expect_error("{{#}}", "empty tag", "{{#}}");
	expect_error("{{/}}", "empty tag", NULL);
	expect_error("{{first name}}", "malformed", "{{first name}}");
	expect_error("{{!comment}}", "malformed", NULL);
	expect_error("{{{first_name}}}", "malformed", NULL);
	expect_error("{{>partial}}", "malformed", NULL);
	expect_error("{{#a#b}}", "malformed", NULL);
	expect_error("{{first_name\n}}", "malformed", NULL);
	expect_error("Hi {{first_name", "without", "{{first_name");
	expect_error("Hi {{first_name}, see you", "without", "}}");
	expect_error("ok {{date}} then {{", "without", NULL);
	/* a long broken tag is quoted short, on one line */
	expect_error("{{first_name and a great deal more text here\n"
	    "and more}}", "malformed", "...");

	/* a tiny or missing buffer is never overrun */
	memset(tiny, 'x', sizeof(tiny));
	assert_int_equal(tmpl_check("{{nope}}", tiny, sizeof(tiny)), -1);
	assert_non_null(memchr(tiny, '\0', sizeof(tiny)));
	assert_int_equal(tmpl_check("{{nope}}", NULL, 0), -1);
	assert_int_equal(tmpl_check("{{date}}", NULL, 0), 0);
	assert_int_equal(tmpl_check(NULL, err, sizeof(err)), -1);
}

static char *
nest(int depth, const char *sigil)
{
	struct sbuf b = { 0 };

	for (int i = 0; i < depth; i++)
		sbuf_printf(&b, "{{%sdate}}(", sigil);
	sbuf_add(&b, "x");
	for (int i = 0; i < depth; i++)
		sbuf_add(&b, "){{/date}}");
	return sbuf_steal(&b);
}

static void
test_deep_nesting(void **state)
{
	const struct tmpl_var v[] = { { "date", "d" } };
	char err[256], *t, *r;

	(void)state;
	t = nest(TMPL_MAX_DEPTH, "#");
	assert_int_equal(tmpl_check(t, err, sizeof(err)), 0);
	r = tmpl_render(t, v, 1);
	assert_int_equal(strlen(r), 2 * TMPL_MAX_DEPTH + 1);
	free(r);
	free(t);

	t = nest(TMPL_MAX_DEPTH + 1, "^");
	assert_int_equal(tmpl_check(t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "deeper than 16"));
	free(t);

	/* rendering unchecked, absurdly deep text neither recurses nor fails */
	t = nest(100000, "#");
	r = tmpl_render(t, v, 1);
	assert_int_equal(strlen(r), 2 * 100000 + 1);
	assert_int_equal(r[100000], 'x');
	free(r);
	r = tmpl_render(t, NULL, 0);
	assert_string_equal(r, "");
	free(r);
	free(t);
}

static void
test_render_unchecked(void **state)
{
	const struct tmpl_var v[] = { { "date", "D" } };
	char *r;

	(void)state;
	r = tmpl_render("a {{date}} {{b", v, 1);
	assert_string_equal(r, "a D {{b");
	free(r);
	r = tmpl_render("{{!x}}{{date}}{{}}", v, 1);
	assert_string_equal(r, "{{!x}}D{{}}");
	free(r);
	r = tmpl_render("{{/date}}a{{#date}}b", v, 1);
	assert_string_equal(r, "ab");
	free(r);
	r = tmpl_render(NULL, v, 1);
	assert_string_equal(r, "");
	free(r);
}

static void
test_known(void **state)
{
	const char *names[] = { "first_name", "name", "date", "time",
	    "duration", "kind", "mode", "location", "video_url", "practice",
	    "practitioner", "practice_phone", "practice_email",
	    "homework_title", "homework_prompt", "day_number", "next_date",
	    "next_time", "partner_first_name", "summary",
	    /* issue 9 */
	    "when_relative", "relative_day", "old_date", "old_time",
	    "calls_client", "online_note", "directions" };
	const struct tmpl_var *s;
	size_t n, i;

	(void)state;
	for (i = 0; i < NVARS(names); i++)
		assert_true(tmpl_known(names[i]));
	for (i = 0; tmpl_names[i] != NULL; i++)
		;
	assert_int_equal(i, NVARS(names));
	assert_false(tmpl_known("First_name"));
	assert_false(tmpl_known("first_name "));
	assert_false(tmpl_known(""));
	assert_false(tmpl_known("to"));
	assert_false(tmpl_known(NULL));

	/* the sample data covers every name, with a non-empty value */
	s = tmpl_sample(&n);
	assert_int_equal(n, NVARS(names));
	for (i = 0; i < n; i++) {
		assert_true(tmpl_known(s[i].name));
		assert_non_null(s[i].value);
		assert_true(s[i].value[0] != '\0');
	}
}

static void
test_check_names(void **state)
{
	const char *const body[] = { "to", "from", "text", NULL };
	char err[256];

	(void)state;
	assert_int_equal(tmpl_check_names("To={{to}}&Body={{text}}", body,
	    err, sizeof(err)), 0);
	assert_int_equal(tmpl_check_names("{{first_name}}", body, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "first_name"));
	assert_int_equal(tmpl_check_names("{{txet}}", body, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "\"text\""));
}

static size_t
count(const char *const *list)
{
	size_t n = 0;

	while (list[n] != NULL)
		n++;
	return n;
}

static int
in_list(const char *const *list, const char *s)
{
	for (size_t i = 0; list[i] != NULL; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

static void
test_builtin_groups(void **state)
{
	const char *base[] = { "reminder", "assessment", "call",
	    "cancellation", "moved", "homework", "follow_up",
	    "assessment_follow_up" };
	char err[256], name[64];
	size_t g, k;
	const char *t;

	(void)state;
	assert_int_equal(count(tmpl_keys), 3);
	assert_true(in_list(tmpl_keys, "email_subject"));
	assert_true(in_list(tmpl_keys, "email_text"));
	assert_true(in_list(tmpl_keys, "sms"));
	assert_int_equal(count(tmpl_groups), 2 * NVARS(base) + 1);
	for (g = 0; g < NVARS(base); g++) {
		snprintf(name, sizeof(name), "%s_discreet", base[g]);
		assert_true(in_list(tmpl_groups, base[g]));
		assert_true(in_list(tmpl_groups, name));
	}
	assert_true(in_list(tmpl_groups, "alert"));
	assert_false(tmpl_builtin_group("alert_discreet"));
	assert_null(tmpl_builtin("alert_discreet", "sms"));

	for (g = 0; tmpl_groups[g] != NULL; g++) {
		assert_true(tmpl_builtin_group(tmpl_groups[g]));
		for (k = 0; tmpl_keys[k] != NULL; k++) {
			t = tmpl_builtin(tmpl_groups[g], tmpl_keys[k]);
			assert_non_null(t);
			assert_true(strlen(t) > 10);
			if (tmpl_check(t, err, sizeof(err)) != 0)
				fail_msg("%s.%s: %s", tmpl_groups[g],
				    tmpl_keys[k], err);
		}
	}
	assert_null(tmpl_builtin("reminder", "email_html"));
	assert_null(tmpl_builtin("reminder", NULL));
	assert_null(tmpl_builtin("nope", "sms"));
	assert_null(tmpl_builtin(NULL, "sms"));
	assert_false(tmpl_builtin_group("Reminder"));
	assert_false(tmpl_builtin_group(""));
	assert_false(tmpl_builtin_group(NULL));
}

static int
is_discreet(const char *group)
{
	size_t n = strlen(group);

	return n > 9 && strcmp(group + n - 9, "_discreet") == 0;
}

/* Every name a template uses, found independently of the parser. */
static int
uses_name(const char *t, const char *name)
{
	const char *p = t, *q;
	size_t n = strlen(name);

	while ((p = strstr(p, "{{")) != NULL) {
		p += 2;
		while (*p == ' ' || *p == '\t' || *p == '#' || *p == '^' ||
		    *p == '/')
			p++;
		q = p;
		while (*q == '_' || isalnum((unsigned char)*q))
			q++;
		if ((size_t)(q - p) == n && strncmp(p, name, n) == 0)
			return 1;
	}
	return 0;
}

static void
test_discreet_wording(void **state)
{
	const char *forbidden[] = { "therapy", "therapist", "counselling",
	    "counseling", "psychotherap", "couple" };
	char lower[4096];
	size_t g, k, i, n, seen = 0;
	const char *t;

	(void)state;
	for (g = 0; tmpl_groups[g] != NULL; g++) {
		if (!is_discreet(tmpl_groups[g]))
			continue;
		seen++;
		/* all three keys: the email text is held to the same rule */
		for (k = 0; tmpl_keys[k] != NULL; k++) {
			t = tmpl_builtin(tmpl_groups[g], tmpl_keys[k]);
			n = strlen(t);
			assert_true(n < sizeof(lower));
			for (i = 0; i <= n; i++)
				lower[i] = (char)tolower((unsigned char)t[i]);
			for (i = 0; i < NVARS(forbidden); i++)
				if (strstr(lower, forbidden[i]) != NULL)
					fail_msg("%s.%s says \"%s\"",
					    tmpl_groups[g], tmpl_keys[k],
					    forbidden[i]);
			assert_false(uses_name(t, "practice"));
			assert_false(uses_name(t, "practitioner"));
			if (strcmp(tmpl_keys[k], "email_text") != 0)
				assert_false(uses_name(t, "practice_email"));
			/* still gives the date, and the time where it has one */
			if (strcmp(tmpl_keys[k], "email_subject") != 0 &&
			    strncmp(tmpl_groups[g], "homework", 8) != 0)
				assert_true(uses_name(t, "date"));
		}
	}
	assert_int_equal(seen, 8);
	/* the check above can fail: the ordinary reminder names both */
	assert_true(uses_name(tmpl_builtin("reminder", "sms"),
	    "practitioner"));
	assert_true(uses_name("{{ # practice }}", "practice"));
}

/* Characters of the GSM 03.38 basic set (no escape) within ASCII. */
static int
gsm7_basic(unsigned char c)
{
	if (c == '\n' || c == '\r')
		return 1;
	if (c < 0x20 || c > 0x7e)
		return 0;
	return strchr("[\\]^{|}~`", c) == NULL;
}

static size_t
sms_segments(size_t len)
{
	return len <= 160 ? 1 : (len + 152) / 153;
}

static void
set_var(struct tmpl_var *v, size_t n, const char *name, const char *value)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0) {
			v[i].value = value;
			return;
		}
	fail_msg("no sample %s", name);
}

enum variant { ONLINE, IN_PERSON, BY_PHONE, MINIMAL, NVARIANT };

/* Long but plausible values for each kind of appointment. */
static size_t
variant(enum variant which, struct tmpl_var *v, size_t max)
{
	const struct tmpl_var *s;
	size_t n;

	s = tmpl_sample(&n);
	assert_true(n <= max);
	memcpy(v, s, n * sizeof(*v));
	/* the brief's worst case, whatever the sample holds today */
	set_var(v, n, "first_name", "Alexandra");
	set_var(v, n, "date", "Wednesday 30 September 2026");
	set_var(v, n, "time", "14:00");
	set_var(v, n, "video_url", "https://meet.example.org/abcdefghij-1234");
	switch (which) {
	case ONLINE:
		break;
	case IN_PERSON:
		set_var(v, n, "location",
		    "Flat 2, 14 Lower High Street, Stourbridge DY8 1TA");
		set_var(v, n, "video_url", NULL);
		break;
	case BY_PHONE:
		set_var(v, n, "location", "by phone");
		set_var(v, n, "video_url", NULL);
		break;
	case MINIMAL:
		for (size_t i = 0; i < n; i++)
			if (strcmp(v[i].name, "first_name") != 0 &&
			    strcmp(v[i].name, "date") != 0 &&
			    strcmp(v[i].name, "time") != 0 &&
			    strcmp(v[i].name, "practice") != 0 &&
			    strcmp(v[i].name, "practitioner") != 0 &&
			    strcmp(v[i].name, "practice_email") != 0 &&
			    strcmp(v[i].name, "homework_title") != 0 &&
			    strcmp(v[i].name, "homework_prompt") != 0 &&
			    strcmp(v[i].name, "summary") != 0)
				v[i].value = NULL;
		break;
	case NVARIANT:
		break;
	}
	return n;
}

static void
test_sms_length(void **state)
{
	struct tmpl_var v[32];
	size_t g, n, len, i;
	char *r;
	int w;

	(void)state;
	assert_int_equal(strlen("https://meet.example.org/abcdefghij-1234"),
	    40);
	for (w = 0; w < NVARIANT; w++) {
		n = variant((enum variant)w, v, NVARS(v));
		for (g = 0; tmpl_groups[g] != NULL; g++) {
			r = tmpl_render(tmpl_builtin(tmpl_groups[g], "sms"),
			    v, n);
			len = strlen(r);
			for (i = 0; i < len; i++)
				if (!gsm7_basic((unsigned char)r[i]))
					fail_msg("%s.sms: char 0x%02x",
					    tmpl_groups[g],
					    (unsigned char)r[i]);
			if (len > 459)
				fail_msg("%s.sms (variant %d): %zu chars",
				    tmpl_groups[g], w, len);
			/* the aim is two segments for any real appointment */
			if (sms_segments(len) > 2)
				fail_msg("%s.sms (variant %d): %zu segments",
				    tmpl_groups[g], w, sms_segments(len));
			free(r);
		}
	}
	/* the measure itself can fail */
	assert_int_equal(sms_segments(160), 1);
	assert_int_equal(sms_segments(161), 2);
	assert_int_equal(sms_segments(306), 2);
	assert_int_equal(sms_segments(307), 3);
	assert_false(gsm7_basic('{'));
	assert_false(gsm7_basic(0xe2));	/* start of a curly quote or dash */
}

static void
test_render_tidy(void **state)
{
	/* "?," and friends: a sentence's end glued to the next one's comma */
	const char *bad[] = { "{{", "}}", "()", " .", " ,", "  ", ",.",
	    "..", "\n\n\n", " \n", "?,", "?.", ".,", ":,", "!," };
	struct tmpl_var v[32];
	size_t g, k, i, n;
	char *r;
	int w;

	(void)state;
	for (w = 0; w < NVARIANT; w++) {
		n = variant((enum variant)w, v, NVARS(v));
		for (g = 0; tmpl_groups[g] != NULL; g++)
			for (k = 0; tmpl_keys[k] != NULL; k++) {
				r = tmpl_render(tmpl_builtin(tmpl_groups[g],
				    tmpl_keys[k]), v, n);
				for (i = 0; i < NVARS(bad); i++)
					if (strstr(r, bad[i]) != NULL)
						fail_msg("%s.%s (variant %d) "
						    "has \"%s\"",
						    tmpl_groups[g],
						    tmpl_keys[k], w, bad[i]);
				if (strcmp(tmpl_keys[k], "email_text") != 0)
					assert_null(strchr(r, '\n'));
				/* a sentence starts with a capital */
				for (const char *p = r; *p != '\0'; p++)
					if (strchr(".?!", p[0]) != NULL &&
					    p[1] == ' ' && islower(
					    (unsigned char)p[2]))
						fail_msg("%s.%s (variant %d): "
						    "\"%.20s\"",
						    tmpl_groups[g],
						    tmpl_keys[k], w, p);
				free(r);
			}
	}
}

static size_t
count_of(const char *s, const char *what)
{
	size_t n = 0;

	for (const char *p = s; (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}

/*
 * Each thing said once: an email's opening sentence names no date the
 * When: line below gives ("on Wednesday 30 September 2026." then "When:
 * Wednesday 30 September 2026 at 14:00"), a length is given once (not "(90
 * minutes)" and "It lasts 90 minutes"), and an SMS names the practitioner
 * once (not "with Christian Hughes ... Christian Hughes will call you"),
 * and "both" once (not "It is for you both, so please both be there").
 * A change notice is left out of the date count: its "The new time is"
 * is the news, the When: block the reference.
 */
static void
test_said_once(void **state)
{
	const char *date = "Wednesday 30 September 2026";
	struct tmpl_var v[32];
	size_t g, k, n;
	char *r;
	int w, rel, calls;

	(void)state;
	for (w = 0; w < NVARIANT; w++)
	for (rel = 0; rel < 2; rel++)
	for (calls = 0; calls < 2; calls++) {
		n = variant((enum variant)w, v, NVARS(v));
		set_var(v, n, "when_relative", rel ? "tomorrow" :
		    "on Wednesday 30 September 2026");
		set_var(v, n, "relative_day", rel ? "tomorrow" : NULL);
		set_var(v, n, "calls_client", calls ? "yes" : NULL);
		for (g = 0; tmpl_groups[g] != NULL; g++)
			for (k = 0; tmpl_keys[k] != NULL; k++) {
				const char *grp = tmpl_groups[g];
				const char *key = tmpl_keys[k];

				r = tmpl_render(tmpl_builtin(grp, key), v, n);
				if (count_of(r, "90 minutes") > 1)
					fail_msg("%s.%s gives the length twice:"
					    "\n%s", grp, key, r);
				if (strcmp(key, "email_text") == 0 &&
				    strncmp(grp, "moved", 5) != 0 &&
				    count_of(r, date) > 1)
					fail_msg("%s.%s gives the date twice:"
					    "\n%s", grp, key, r);
				if (count_of(r, "both") > 1)
					fail_msg("%s.%s says \"both\" twice:"
					    "\n%s", grp, key, r);
				if (strcmp(key, "sms") == 0 &&
				    count_of(r, "Christian Hughes") > 1)
					fail_msg("%s.%s names the practitioner "
					    "twice:\n%s", grp, key, r);
				free(r);
			}
	}
}

/*
 * Every reminder SMS says how to rearrange, the discreet ones too (with the
 * practice's phone, which names nobody): a client who cannot make it
 * should not have to look for the number.
 */
static void
test_reminder_sms_rearrange(void **state)
{
	const char *groups[] = { "reminder", "assessment", "call",
	    "reminder_discreet", "assessment_discreet", "call_discreet" };
	const struct tmpl_var *v;
	size_t n;
	char *r;

	(void)state;
	v = tmpl_sample(&n);
	for (size_t g = 0; g < NVARS(groups); g++) {
		r = tmpl_render(tmpl_builtin(groups[g], "sms"), v, n);
		if (strstr(r, " To rearrange, call 01384 000000.") == NULL)
			fail_msg("%s.sms says nothing of rearranging:\n%s",
			    groups[g], r);
		free(r);
	}
}

static void
test_reminder_render(void **state)
{
	const struct tmpl_var v[] = {
		{ "first_name", "Sam" },
		{ "name", "Sam Taylor" },
		{ "date", "Thursday 3 December 2026" },
		{ "time", "14:00" },
		{ "duration", "60 minutes" },
		{ "kind", "session" },
		{ "mode", "in_person" },
		{ "location", "1 High Street, Stourbridge DY8 1AA" },
		{ "video_url", NULL },
		{ "practice", "Hughes Relationship Therapy" },
		{ "practitioner", "Christian Hughes" },
		{ "practice_phone", "01384 000000" },
		{ "practice_email", "christian@example.org" },
	};
	const char *need[] = { "Sam", "Thursday 3 December 2026", "14:00",
	    "60 minutes", "1 High Street", "01384 000000",
	    "Christian Hughes", "Hughes Relationship Therapy" };
	size_t i;
	char *r;

	(void)state;
	r = tmpl_render(tmpl_builtin("reminder", "email_text"), v, NVARS(v));
	for (i = 0; i < NVARS(need); i++)
		if (strstr(r, need[i]) == NULL)
			fail_msg("reminder email lacks \"%s\":\n%s", need[i],
			    r);
	assert_null(strstr(r, "Join"));
	free(r);

	r = tmpl_render(tmpl_builtin("reminder", "sms"), v, NVARS(v));
	assert_non_null(strstr(r, "Thursday 3 December 2026"));
	assert_non_null(strstr(r, "14:00"));
	free(r);

	r = tmpl_render(tmpl_builtin("reminder_discreet", "sms"), v,
	    NVARS(v));
	assert_non_null(strstr(r, "Thursday 3 December 2026 at 14:00"));
	assert_null(strstr(r, "Hughes"));
	assert_null(strstr(r, "Therapy"));
	free(r);

	r = tmpl_render(tmpl_builtin("reminder_discreet", "email_subject"),
	    v, NVARS(v));
	assert_string_equal(r,
	    "Reminder: your appointment on Thursday 3 December 2026 at 14:00");
	free(r);

	r = tmpl_render(tmpl_builtin("alert", "email_text"),
	    (const struct tmpl_var[]){ { "summary", "msg 42: failed" } }, 1);
	assert_non_null(strstr(r, "msg 42: failed"));
	free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_standalone),
		cmocka_unit_test(test_check_errors),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_render_unchecked),
		cmocka_unit_test(test_known),
		cmocka_unit_test(test_check_names),
		cmocka_unit_test(test_builtin_groups),
		cmocka_unit_test(test_discreet_wording),
		cmocka_unit_test(test_sms_length),
		cmocka_unit_test(test_render_tidy),
		cmocka_unit_test(test_said_once),
		cmocka_unit_test(test_reminder_sms_rearrange),
		cmocka_unit_test(test_reminder_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
