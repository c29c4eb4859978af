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

#include "base/tmpl.h"
#include "base/utf8.h"
#include "base/util.h"

const char *const tmpl_names[] = {
	"first_name", "name", "date", "time", "duration", "kind", "mode",
	"location", "video_url", "practice", "practitioner", "practice_phone",
	"practice_email", "homework_title", "homework_prompt", "day_number",
	"next_date", "next_time", "partner_first_name", "summary",
	"when_relative", "relative_day", "old_date", "old_time", "calls_client",
	"online_note", "directions", NULL
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
 * a long template quadratic.  strchr() stops at the first brace, and
 * skips the text between braces faster than a loop here (issue 12).
 */
static const char *
find_pair(const char *p, char c)
{
	while ((p = strchr(p, c)) != NULL) {
		if (p[1] == c)
			return p;
		p++;
	}
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
		n = utf8_floor((const unsigned char *)s, 37);
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

/* A tag that did not read (tag_read() said why, as r): err says so. */
static int
tag_error(const char *p, const struct tag *t, int r, char *err,
    size_t errlen)
{
	char q[64];

	switch (r) {
	case TAG_UNCLOSED:
		quote(q, sizeof(q), p, strlen(p));
		snprintf(err, errlen, "\"{{\" without a closing \"}}\" "
		    "in \"%s\"", q);
		return -1;
	case TAG_EMPTY:
		quote(q, sizeof(q), p, (size_t)(t->end - p));
		snprintf(err, errlen, "empty tag \"%s\": a tag needs a "
		    "name, as in {{first_name}}", q);
		return -1;
	case TAG_MALFORMED:
		quote(q, sizeof(q), p, (size_t)(t->end - p));
		snprintf(err, errlen, "malformed tag \"%s\": use "
		    "{{name}}, {{#name}}, {{^name}} or {{/name}}", q);
		return -1;
	default:
		return 0;
	}
}

/* A name not in names: err says so, with the nearest one as a guess. */
static int
unknown_name(const struct tag *t, const char *const *names, char *err,
    size_t errlen)
{
	const char *guess = NULL;
	size_t best = 3, d;
	char q[64];
	int i;

	for (i = 0; names[i] != NULL; i++) {
		d = typo_distance(t->name, t->namelen, names[i]);
		if (d < best) {
			best = d;
			guess = names[i];
		}
	}
	quote(q, sizeof(q), t->name, t->namelen);
	if (guess != NULL)
		snprintf(err, errlen, "unknown name \"%s\" (did "
		    "you mean \"%s\"?)", q, guess);
	else
		snprintf(err, errlen, "unknown name \"%s\"", q);
	return -1;
}

int
tmpl_check_names(const char *text, const char *const *names, char *err,
    size_t errlen)
{
	struct tag open[TMPL_MAX_DEPTH], t;
	size_t depth = 0;
	const char *p = text;

	if (err == NULL)
		errlen = 0;
	if (text == NULL) {
		snprintf(err, errlen, "no template text");
		return -1;
	}
	while ((p = find_pair(p, '{')) != NULL) {
		if (tag_error(p, &t, tag_read(p, &t), err, errlen) != 0)
			return -1;
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
		if (names_find(names, t.name, t.namelen) < 0)
			return unknown_name(&t, names, err, errlen);
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
		/* the first letter first: this runs for every tag of every message */
		if (vars[i].name != NULL && vars[i].name[0] == name[0] &&
		    strncmp(vars[i].name, name, n) == 0 && vars[i].name[n] == '\0')
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
