/*
 * tmpl: the message template language and the built-in wording.
 *
 *   {{name}}                 the value of name
 *   {{#name}}...{{/name}}    the inside only when name is non-empty
 *   {{^name}}...{{/name}}    the inside only when name is empty
 *
 * Sections nest.  Names are the fixed set in tmpl_known(); an unknown name,
 * an unclosed or mismatched section is an error found by tmpl_check() (the
 * config loader calls it, so a bad template never reaches delivery).
 * Rendering is pure and never fails: a name without a value renders empty.
 * No escaping happens here: the transport (mail, sms) encodes what it must.
 *
 * Built-in groups (UK English, warm, plain, short), each with the keys
 * "email_subject", "email_text" and "sms":
 *   reminder, assessment, call, cancellation, moved, homework, follow_up,
 *   assessment_follow_up, alert, and <name>_discreet for each but alert.
 * (tmpl_builtin.c holds the wording; `nudgectl templates` prints it.)
 * Discreet variants never name the practice or practitioner and never use
 * clinical words (therapy, therapist, counselling, psychotherapy) in the
 * sms text or the email subject.
 */
#ifndef NUDGED_TMPL_H
#define NUDGED_TMPL_H

#include <stddef.h>

struct tmpl_var {
	const char	*name;
	const char	*value;		/* NULL counts as empty */
};

/* 1 when name is a value templates may use. */
int	 tmpl_known(const char *name);

/*
 * 0 if text is a valid template, else -1 with a one-line reason in err
 * (no file or line: the caller adds them).  Sections nest at most
 * TMPL_MAX_DEPTH deep.  Spaces and tabs inside the braces are ignored:
 * {{ name }} and {{# name }} equal {{name}} and {{#name}}.
 */
#define TMPL_MAX_DEPTH	16
int	 tmpl_check(const char *text, char *err, size_t errlen);
/*
 * tmpl_check() against another NULL-terminated list of names, for other
 * small template languages of the same syntax (e.g. a generic SMS
 * provider's body over {{to}} {{from}} {{text}}).
 */
int	 tmpl_check_names(const char *text, const char *const *names,
	    char *err, size_t errlen);

/* The NULL-terminated list of names tmpl_known() accepts. */
extern const char *const tmpl_names[];

/*
 * Render text with vars; caller frees the result. text must have passed
 * tmpl_check (an invalid text still renders, tags it cannot read appear
 * as they are).  A section tag alone on its line ("standalone", as in
 * mustache) takes its whole line with it, so a template can put
 * {{#video_url}} and {{/video_url}} on lines of their own without
 * leaving blank lines behind.
 */
char	*tmpl_render(const char *text, const struct tmpl_var *vars, size_t nvars);

/*
 * Realistic, deliberately long sample values for every name (an online
 * appointment, a couple), for --check-config and tests.  Static storage.
 */
const struct tmpl_var *tmpl_sample(size_t *nvars);

/* Built-in text for group/key, or NULL when there is none. */
const char *tmpl_builtin(const char *group, const char *key);
/* 1 when group is a built-in group name. */
int	 tmpl_builtin_group(const char *group);

/* The NULL-terminated lists of built-in group names and of keys. */
extern const char *const tmpl_groups[];
extern const char *const tmpl_keys[];	/* email_subject, email_text, sms */

#endif
