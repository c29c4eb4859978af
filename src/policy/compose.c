/*
 * compose: template selection and values.  See compose.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/compose.h"
#include "base/tmpl.h"
#include "base/translit.h"
#include "base/tz.h"
#include "base/utf8.h"
#include "base/util.h"

#define COMPOSE_NVARS	40

char *
compose_oneline(const char *s)
{
	const unsigned char *p, *run = NULL;
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
	/* what goes as it is is appended a run at a time (issue 12) */
	for (p = (const unsigned char *)s; p < (const unsigned char *)s + end; ) {
		size_t n = utf8_len(p);
		int space = n == 1 && (*p < 0x20 || *p == 0x7f || *p == ' ');

		if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)
			space = 1;			/* C1 controls */
		if (n != 0 && !space && p + n <= (const unsigned char *)s + end) {
			if (run == NULL)
				run = p;
			blank = 0;
			p += n;
			continue;
		}
		if (run != NULL)
			sbuf_addn(&b, (const char *)run, (size_t)(p - run));
		run = NULL;
		if (n == 0 || p + n > (const unsigned char *)s + end) {
			sbuf_add(&b, "\xef\xbf\xbd");	/* U+FFFD */
			blank = 0;
			p++;
			continue;
		}
		if (!blank)
			sbuf_addc(&b, ' ');
		blank = 1;
		p += n;
	}
	if (run != NULL)
		sbuf_addn(&b, (const char *)run, (size_t)(p - run));
	if (b.len > 0 && b.s[b.len - 1] == ' ')
		b.s[--b.len] = '\0';
	return sbuf_steal(&b);
}

/* The purpose whose template group a message uses: a test as a reminder. */
static enum msg_purpose
compose_purpose_group(enum msg_purpose purpose)
{
	return purpose == PURPOSE_TEST ? PURPOSE_REMINDER : purpose;
}

char *
compose_group(const struct conf *c, enum msg_purpose purpose, const char *kind,
    const char *template, int discreet)
{
	enum msg_purpose gp = compose_purpose_group(purpose);
	const char *pg = msg_purpose_name(gp);
	const char *base = pg;
	char *d;

	if (template != NULL && template[0] != '\0')
		base = template;
	else if (gp == PURPOSE_REMINDER && kind != NULL &&
	    conf_tmpl_defined(c, kind))
		base = kind;	/* a kind with its own group: assessment, call */
	if (!discreet || gp == PURPOSE_ALERT)
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
compose_mode(enum appt_mode mode)
{
	switch (mode) {
	case MODE_IN_PERSON:
		return "in person";
	case MODE_PHONE:
		return "by phone";
	default:
		return appt_mode_name(mode);
	}
}

/* "today", "tomorrow" or "on <date>", in the practice's zone. */
static void
compose_when(time_t start, time_t now, char *buf, size_t len)
{
	struct tm s, n;
	int y, m, d;

	tz_to_local(start, &s);
	tz_to_local(now, &n);
	y = n.tm_year + 1900;
	m = n.tm_mon + 1;
	d = n.tm_mday;
	if (s.tm_year + 1900 == y && s.tm_mon + 1 == m && s.tm_mday == d) {
		snprintf(buf, len, "today");
		return;
	}
	tz_date_add_days(&y, &m, &d, 1);
	if (s.tm_year + 1900 == y && s.tm_mon + 1 == m && s.tm_mday == d) {
		snprintf(buf, len, "tomorrow");
		return;
	}
	snprintf(buf, len, "on ");
	tz_format_date(start, buf + 3, len - 3);
}

/* s (which it takes), transliterated to GSM-7 when translit; caller frees. */
static char *
compose_name(char *s, int translit)
{
	char *t;

	if (!translit)
		return s;
	t = translit_gsm(s);
	free(s);
	return t;
}

/* The client's and the partner's names. */
static void
compose_people(const struct compose_in *in, struct compose_vars *cv,
    int translit)
{
	char *v;

	if (in->client != NULL) {
		v = compose_name(client_first_name(in->client), translit);
		compose_data(cv, "first_name", v);
		free(v);
		v = compose_name(xstrdup(in->client->name), translit);
		compose_data(cv, "name", v);
		free(v);
	}
	if (in->partner != NULL) {
		v = compose_name(client_first_name(in->partner), translit);
		compose_data(cv, "partner_first_name", v);
		free(v);
	}
}

/* Where appointment a happens: online, by phone, or the address. */
static void
compose_where(const struct conf *c, const struct compose_in *in,
    const struct appt *a, struct compose_vars *cv)
{
	int discreet = in->client != NULL && in->client->discreet;

	if (a->mode == MODE_ONLINE) {
		compose_set(cv, "location", "online");
		compose_set(cv, "online_note", c->practice.online_note);
	} else if (a->mode == MODE_PHONE)
		compose_set(cv, "location", "by phone");
	else if (!discreet || c->practice.discreet_address) {
		/*
		 * practice.discreet_address decides for the text and the
		 * calendar entry alike (deliver_mail.c).
		 */
		compose_set(cv, "location", c->practice.address);
		compose_set(cv, "directions", c->practice.directions);
	}
	compose_data(cv, "video_url", a->mode != MODE_ONLINE ? NULL :
	    (a->video_url != NULL && a->video_url[0] != '\0') ?
	    a->video_url : c->practice.video_url);
}

/* The appointment's values: when, how long, what, where, and a move. */
static void
compose_appt(const struct conf *c, const struct compose_in *in,
    const struct appt *a, struct compose_vars *cv, char bufs[10][64])
{
	tz_format_date(a->starts_at, bufs[0], sizeof(bufs[0]));
	tz_format_time(a->starts_at, bufs[1], sizeof(bufs[1]));
	snprintf(bufs[2], sizeof(bufs[2]), "%d minutes", a->duration_min);
	compose_set(cv, "date", bufs[0]);
	compose_set(cv, "time", bufs[1]);
	compose_set(cv, "duration", bufs[2]);
	compose_data(cv, "kind", appt_kind_name(a->kind));
	compose_set(cv, "mode", compose_mode(a->mode));
	compose_when(a->starts_at, in->now, bufs[6], sizeof(bufs[6]));
	compose_set(cv, "when_relative", bufs[6]);
	/* today or tomorrow alone, for templates that add the date */
	compose_set(cv, "relative_day",
	    strncmp(bufs[6], "on ", 3) != 0 ? bufs[6] : NULL);
	if (in->old_start != 0 && in->old_start != a->starts_at) {
		tz_format_date(in->old_start, bufs[7], sizeof(bufs[7]));
		tz_format_time(in->old_start, bufs[8], sizeof(bufs[8]));
		compose_set(cv, "old_date", bufs[7]);
		compose_set(cv, "old_time", bufs[8]);
	}
	compose_where(c, in, a, cv);
}

static void
compose_vars(const struct conf *c, const struct compose_in *in,
    struct compose_vars *cv, char bufs[10][64], int translit)
{
	compose_set(cv, "practice", c->practice.name);
	compose_set(cv, "practitioner", c->practice.practitioner);
	compose_set(cv, "practice_phone", c->practice.phone);
	compose_set(cv, "practice_email", c->practice.email);
	compose_set(cv, "summary", in->summary);
	compose_set(cv, "calls_client", c->practice.calls_client ? "yes" : "");
	compose_people(in, cv, translit);
	if (in->appt != NULL)
		compose_appt(c, in, in->appt, cv, bufs);
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

/*
 * A link ends its line in an SMS: the blank after a URL becomes a line
 * break (phones link the URL, and the next sentence is not run into it).
 */
static char *
compose_sms_links(char *sms)
{
	for (char *p = sms; p != NULL && (p = strstr(p, "http")) != NULL; ) {
		if (strncmp(p, "https://", 8) != 0 && strncmp(p, "http://", 7) != 0) {
			p += 4;
			continue;
		}
		p += strcspn(p, " \t\n");
		if (*p == ' ' && p[1] != '\0' && p[1] != '\n')
			*p = '\n';
	}
	return sms;
}

static char *
compose_sms(const struct conf *c, const struct compose_in *in,
    const char *group, const char *fallback, int translit)
{
	struct compose_vars cv = { 0 };
	char bufs[10][64];
	char *sms;

	compose_vars(c, in, &cv, bufs, translit);
	sms = tmpl_render(conf_tmpl_text(c, group, "sms", fallback), cv.v, cv.n);
	for (size_t i = 0; i < cv.nown; i++)
		free(cv.own[i]);
	return compose_sms_links(sms);
}

/*
 * Whether transliteration could change a name the SMS uses: translit_gsm
 * only rewrites two-byte letters led by 0xc3..0xc5, and the names come
 * from these fields.  When none has such a byte, both renderings are the
 * same text: rendered once (a third of an SMS's compose CPU).
 */
static int
compose_translit_names(const struct compose_in *in)
{
	const struct client *who[] = { in->client, in->partner };

	for (size_t i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
		const char *f[2];

		if (who[i] == NULL)
			continue;
		f[0] = who[i]->name;
		f[1] = who[i]->first_name;
		for (size_t k = 0; k < 2; k++)
			for (const unsigned char *p = (const unsigned char *)f[k];
			    p != NULL && *p != '\0'; p++)
				if (*p >= 0xc3 && *p <= 0xc5)
					return 1;
	}
	return 0;
}

/* out->sms and out->sms_exact: the exact one only when it differs. */
static void
compose_msg_sms(const struct conf *c, const struct compose_in *in,
    struct composed *out, const char *fallback)
{
	out->sms_exact = compose_sms(c, in, out->group, fallback, 0);
	if (c->sms.transliterate && compose_translit_names(in)) {
		out->sms = compose_sms(c, in, out->group, fallback, 1);
		if (strcmp(out->sms, out->sms_exact) == 0) {
			free(out->sms_exact);
			out->sms_exact = NULL;
		}
	} else {
		out->sms = out->sms_exact;
		out->sms_exact = NULL;
	}
}

/*
 * A discreet client's subject shows on a lock screen: a homework title
 * holding a clinical or practice word (the practitioner's own words, which
 * no config check sees) is left out of it, and kept in the text.  Returns
 * the value it hid, for compose_msg to put back.
 */
static const char *
compose_hide_title(const struct conf *c, const struct compose_in *in,
    struct compose_vars *cv, int discreet)
{
	char w[64];

	if (!discreet || in->hw == NULL ||
	    !conf_clinical_word(c, in->hw->title, w, sizeof(w)))
		return NULL;
	for (size_t i = 0; i < cv->n; i++)
		if (strcmp(cv->v[i].name, "homework_title") == 0) {
			const char *v = cv->v[i].value;

			cv->v[i].value = NULL;
			return v;
		}
	return NULL;
}

static void
compose_show_title(struct compose_vars *cv, const char *v)
{
	for (size_t i = 0; v != NULL && i < cv->n; i++)
		if (strcmp(cv->v[i].name, "homework_title") == 0)
			cv->v[i].value = v;
}

void
compose_msg(const struct conf *c, const struct compose_in *in,
    struct composed *out)
{
	unsigned parts = in->parts;
	struct compose_vars cv = { 0 };
	char bufs[10][64];
	enum msg_purpose gp = compose_purpose_group(in->purpose);
	const char *pg = msg_purpose_name(gp);
	char *fallback, *subject;
	int discreet = in->client != NULL && in->client->discreet &&
	    gp != PURPOSE_ALERT;

	memset(out, 0, sizeof(*out));
	out->group = compose_group(c, in->purpose,
	    in->appt != NULL ? appt_kind_name(in->appt->kind) : NULL,
	    in->template, discreet);
	fallback = discreet ? xasprintf("%s_discreet", pg) : xstrdup(pg);
	if (parts == 0 || (parts & COMPOSE_EMAIL)) {
		const char *hidden;

		compose_vars(c, in, &cv, bufs, 0);
		hidden = compose_hide_title(c, in, &cv, discreet);
		subject = tmpl_render(conf_tmpl_text(c, out->group,
		    "email_subject", fallback), cv.v, cv.n);
		compose_show_title(&cv, hidden);
		out->subject = compose_oneline(subject);
		free(subject);
		out->text = tmpl_render(conf_tmpl_text(c, out->group,
		    "email_text", fallback), cv.v, cv.n);
	}
	if (parts == 0 || (parts & COMPOSE_SMS))
		compose_msg_sms(c, in, out, fallback);
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
	free(o->sms_exact);
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
