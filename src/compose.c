/*
 * compose: template selection and values.  See compose.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose.h"
#include "tmpl.h"
#include "tz.h"
#include "util.h"

#define COMPOSE_NVARS	24

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not one. */
static size_t
compose_utf8_len(const unsigned char *p)
{
	size_t n;
	unsigned int cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

char *
compose_oneline(const char *s)
{
	const unsigned char *p;
	struct sbuf b = { 0 };
	size_t end;
	int blank = 1;		/* drops leading blanks and squeezes runs */

	if (s == NULL)
		return NULL;
	/*
	 * A name or a URL is one line: whatever follows a line break in the
	 * data is not part of it (and is exactly what a header injection
	 * would put there), so it is dropped.  Control characters (C0, DEL,
	 * C1) become spaces, runs of blanks one space, and bytes that are not
	 * UTF-8 (a booking tool writing Latin-1) U+FFFD, so that one odd byte
	 * never costs a client a message.
	 */
	end = strcspn(s, "\r\n");
	for (p = (const unsigned char *)s; p < (const unsigned char *)s + end; ) {
		size_t n = compose_utf8_len(p);
		int space = n == 1 && (*p < 0x20 || *p == 0x7f || *p == ' ');

		if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)
			space = 1;			/* C1 controls */
		if (n == 0 || p + n > (const unsigned char *)s + end) {
			sbuf_add(&b, "\xef\xbf\xbd");	/* U+FFFD */
			blank = 0;
			p++;
			continue;
		}
		if (space) {
			if (!blank)
				sbuf_addc(&b, ' ');
			blank = 1;
		} else {
			sbuf_addn(&b, (const char *)p, n);
			blank = 0;
		}
		p += n;
	}
	if (b.len > 0 && b.s[b.len - 1] == ' ')
		b.s[--b.len] = '\0';
	return sbuf_steal(&b);
}

static const char *
compose_purpose_group(const char *purpose)
{
	if (strcmp(purpose, "follow_up") == 0 ||
	    strcmp(purpose, "cancellation") == 0 ||
	    strcmp(purpose, "homework") == 0 ||
	    strcmp(purpose, "alert") == 0)
		return purpose;
	return "reminder";
}

char *
compose_group(const struct conf *c, const char *purpose, const char *kind,
    const char *template, int discreet)
{
	const char *pg = compose_purpose_group(purpose);
	const char *base = pg;
	char *d;

	if (template != NULL && template[0] != '\0')
		base = template;
	else if (strcmp(pg, "reminder") == 0 && kind != NULL &&
	    conf_tmpl_defined(c, kind))
		base = kind;	/* a kind with its own group: assessment, call */
	if (!discreet || strcmp(pg, "alert") == 0)
		return xstrdup(base);
	d = xasprintf("%s_discreet", base);
	if (conf_tmpl_defined(c, d))
		return d;
	free(d);
	return xasprintf("%s_discreet", pg);
}

struct compose_vars {
	struct tmpl_var	 v[COMPOSE_NVARS];
	size_t		 n;
	char		*own[COMPOSE_NVARS];	/* values we allocated */
	size_t		 nown;
};

static void
compose_set(struct compose_vars *cv, const char *name, const char *value)
{
	if (cv->n < COMPOSE_NVARS) {
		cv->v[cv->n].name = name;
		cv->v[cv->n].value = value;
		cv->n++;
	}
}

/* Data values: one line each, owned by cv. */
static void
compose_data(struct compose_vars *cv, const char *name, const char *value)
{
	char *o = compose_oneline(value);

	if (o != NULL && cv->nown < COMPOSE_NVARS)
		cv->own[cv->nown++] = o;
	else if (o != NULL) {
		free(o);
		o = NULL;
	}
	compose_set(cv, name, o);
}

static const char *
compose_mode(const char *mode)
{
	if (mode == NULL)
		return "";
	if (strcmp(mode, "in_person") == 0)
		return "in person";
	if (strcmp(mode, "phone") == 0)
		return "by phone";
	return mode;
}

static void
compose_vars(const struct conf *c, const struct compose_in *in,
    struct compose_vars *cv, char bufs[6][64])
{
	const struct appt *a = in->appt;

	compose_set(cv, "practice", c->practice.name);
	compose_set(cv, "practitioner", c->practice.practitioner);
	compose_set(cv, "practice_phone", c->practice.phone);
	compose_set(cv, "practice_email", c->practice.email);
	compose_set(cv, "summary", in->summary);
	if (in->client != NULL) {
		char *first = client_first_name(in->client);

		compose_data(cv, "first_name", first);
		free(first);
		compose_data(cv, "name", in->client->name);
	}
	if (in->partner != NULL) {
		char *first = client_first_name(in->partner);

		compose_data(cv, "partner_first_name", first);
		free(first);
	}
	if (a != NULL) {
		int online = a->mode != NULL && strcmp(a->mode, "online") == 0;

		tz_format_date(a->starts_at, bufs[0], sizeof(bufs[0]));
		tz_format_time(a->starts_at, bufs[1], sizeof(bufs[1]));
		snprintf(bufs[2], sizeof(bufs[2]), "%d minutes", a->duration_min);
		compose_set(cv, "date", bufs[0]);
		compose_set(cv, "time", bufs[1]);
		compose_set(cv, "duration", bufs[2]);
		compose_data(cv, "kind", a->kind);
		compose_set(cv, "mode", compose_mode(a->mode));
		if (online)
			compose_set(cv, "location", "online");
		else if (a->mode != NULL && strcmp(a->mode, "phone") == 0)
			compose_set(cv, "location", "by phone");
		else
			compose_set(cv, "location", c->practice.address);
		compose_data(cv, "video_url", !online ? NULL :
		    (a->video_url != NULL && a->video_url[0] != '\0') ?
		    a->video_url : c->practice.video_url);
	}
	if (in->hw != NULL) {
		compose_data(cv, "homework_title", in->hw->title);
		compose_set(cv, "homework_prompt", in->hw->prompt);
		snprintf(bufs[3], sizeof(bufs[3]), "%d", in->day_number);
		compose_set(cv, "day_number", bufs[3]);
	}
	if (in->next_session != 0) {
		tz_format_date(in->next_session, bufs[4], sizeof(bufs[4]));
		tz_format_time(in->next_session, bufs[5], sizeof(bufs[5]));
		compose_set(cv, "next_date", bufs[4]);
		compose_set(cv, "next_time", bufs[5]);
	}
}

void
compose_msg(const struct conf *c, const struct compose_in *in,
    struct composed *out)
{
	struct compose_vars cv = { 0 };
	char bufs[6][64];
	const char *pg = compose_purpose_group(in->purpose);
	char *fallback, *subject;
	int discreet = in->client != NULL && in->client->discreet &&
	    strcmp(pg, "alert") != 0;

	memset(out, 0, sizeof(*out));
	out->group = compose_group(c, in->purpose,
	    in->appt != NULL ? in->appt->kind : NULL, in->template, discreet);
	fallback = discreet ? xasprintf("%s_discreet", pg) : xstrdup(pg);
	compose_vars(c, in, &cv, bufs);

	subject = tmpl_render(conf_tmpl_text(c, out->group, "email_subject",
	    fallback), cv.v, cv.n);
	out->subject = compose_oneline(subject);
	free(subject);
	out->text = tmpl_render(conf_tmpl_text(c, out->group, "email_text",
	    fallback), cv.v, cv.n);
	out->sms = tmpl_render(conf_tmpl_text(c, out->group, "sms", fallback),
	    cv.v, cv.n);
	free(fallback);
	for (size_t i = 0; i < cv.nown; i++)
		free(cv.own[i]);
}

void
composed_free(struct composed *o)
{
	free(o->group);
	free(o->subject);
	free(o->text);
	free(o->sms);
	memset(o, 0, sizeof(*o));
}

char *
compose_html(const char *text)
{
	struct sbuf b = { 0 };

	/*
	 * The plain text is the message; the HTML part only presents it
	 * (paragraphs, line breaks, links), so both always say the same.
	 */
	sbuf_add(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "</head>\n<body><p>");
	for (const char *p = text; p != NULL && *p != '\0'; p++) {
		if (strncmp(p, "https://", 8) == 0 || strncmp(p, "http://", 7) == 0) {
			size_t n = strcspn(p, " \t\r\n<>\"");
			struct sbuf url = { 0 };

			/* a sentence's last full stop is not part of the link */
			while (n > 0 && strchr(".,;:)", p[n - 1]) != NULL)
				n--;
			for (size_t i = 0; i < n; i++)
				if (p[i] == '&')
					sbuf_add(&url, "&amp;");
				else
					sbuf_addc(&url, p[i]);
			sbuf_printf(&b, "<a href=\"%s\">%s</a>", sbuf_str(&url),
			    sbuf_str(&url));
			sbuf_free(&url);
			p += n - 1;
			continue;
		}
		switch (*p) {
		case '<':
			sbuf_add(&b, "&lt;");
			break;
		case '>':
			sbuf_add(&b, "&gt;");
			break;
		case '&':
			sbuf_add(&b, "&amp;");
			break;
		case '"':
			sbuf_add(&b, "&quot;");
			break;
		case '\r':
			break;
		case '\n':
			if (p[1] == '\n') {
				sbuf_add(&b, "</p>\n<p>");
				while (p[1] == '\n')
					p++;
			} else
				sbuf_add(&b, "<br>\n");
			break;
		default:
			sbuf_addc(&b, *p);
		}
	}
	sbuf_add(&b, "</p></body></html>\n");
	return sbuf_steal(&b);
}
