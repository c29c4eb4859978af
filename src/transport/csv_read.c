/*
 * csv_read: CSV exports -> event records.  See csv_read.h.
 *
 * Written by hand: the stack (libcurl, libconfig, sqlite3, jansson,
 * libical) has no CSV reader, and RFC 4180 is small enough that a
 * careful tokenizer is less risk than a new dependency.  It tracks the
 * line each record starts on, so every error can name it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/cal_link.h"
#include "transport/csv_read.h"
#include "base/tz.h"
#include "base/utf8.h"
#include "base/util.h"

enum { C_START, C_END, C_DURATION, C_EMAIL, C_CASE, C_SUMMARY, C_LOCATION,
	C_VIDEO, C_STATUS, C_UID, C_N };

static const char *const csv_names[C_N] = { "start", "end", "duration",
	"email", "case", "summary", "location", "video_url", "status", "uid" };

#define CSV_MAX_FIELDS	256

struct csv {
	const char	*p, *end;
	int		 line;		/* the line p is on */
};

struct row {
	char		*f[CSV_MAX_FIELDS];
	size_t		 n;
	int		 line;		/* where the record starts */
};

static void
csv_row_clear(struct row *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->f[i]);
	r->n = 0;
}

/* The rest of a quoted field after its opening '"', into b.  0 or -1. */
static int
csv_quoted(struct csv *c, int line, struct sbuf *b, char *err, size_t errlen)
{
	for (;;) {
		if (c->p >= c->end) {
			snprintf(err, errlen, "line %d: a quoted field is not "
			    "closed", line);
			return -1;
		}
		if (*c->p == '"') {
			if (c->p + 1 < c->end && c->p[1] == '"') {
				sbuf_addc(b, '"');
				c->p += 2;
				continue;
			}
			c->p++;
			return 0;
		}
		if (*c->p == '\n')
			c->line++;
		sbuf_addc(b, *c->p++);
	}
}

/* One field, up to its ',' or line end, into b.  0 or -1. */
static int
csv_read_field(struct csv *c, int line, struct sbuf *b, char *err, size_t errlen)
{
	int quoted = 0;

	if (c->p < c->end && *c->p == '"') {
		quoted = 1;
		c->p++;
		if (csv_quoted(c, line, b, err, errlen) == -1)
			return -1;
	}
	while (c->p < c->end && *c->p != ',' && *c->p != '\n' &&
	    *c->p != '\r') {
		if (quoted || *c->p == '"') {
			snprintf(err, errlen, "line %d: a stray '\"' (a "
			    "field with quotes must be quoted whole)",
			    c->line);
			return -1;
		}
		sbuf_addc(b, *c->p++);
	}
	return 0;
}

/* One record into r.  1 read, 0 at the end, -1 error. */
static int
csv_record(struct csv *c, struct row *r, char *err, size_t errlen)
{
	struct sbuf b = { 0 };

	r->n = 0;
	/* blank lines between records are skipped */
	while (c->p < c->end && (*c->p == '\n' || *c->p == '\r')) {
		if (*c->p == '\n')
			c->line++;
		c->p++;
	}
	if (c->p >= c->end)
		return 0;
	r->line = c->line;
	for (;;) {
		sbuf_add(&b, "");
		if (csv_read_field(c, r->line, &b, err, errlen) == -1)
			goto fail;
		if (r->n == CSV_MAX_FIELDS) {
			snprintf(err, errlen, "line %d: more than %d fields",
			    r->line, CSV_MAX_FIELDS);
			goto fail;
		}
		r->f[r->n++] = sbuf_steal(&b);
		if (c->p >= c->end)
			return 1;
		if (*c->p == ',') {
			c->p++;
			continue;
		}
		if (*c->p == '\r')
			c->p++;
		if (c->p < c->end && *c->p == '\n') {
			c->p++;
			c->line++;
		}
		return 1;
	}
fail:
	sbuf_free(&b);
	csv_row_clear(r);
	return -1;
}

static char *
csv_trim(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* --columns NAME=HEADER,...: the header wanted per column (NULL: its name). */
static int
csv_map(const char *map, char *want[C_N], char *err, size_t errlen)
{
	char *m, *pair, *save, *eq;
	int k, rc = 0;

	m = xstrdup(map != NULL ? map : "");
	for (pair = strtok_r(m, ",", &save); pair != NULL && rc == 0;
	    pair = strtok_r(NULL, ",", &save)) {
		if ((eq = strchr(pair, '=')) == NULL) {
			snprintf(err, errlen, "--columns: '%s' is not "
			    "NAME=HEADER", csv_trim(pair));
			rc = -1;
			break;
		}
		*eq = '\0';
		for (k = 0; k < C_N; k++)
			if (strcasecmp(csv_trim(pair), csv_names[k]) == 0)
				break;
		if (k == C_N) {
			snprintf(err, errlen, "--columns: unknown column '%s' "
			    "(start, end, duration, email, case, summary, "
			    "location, video_url, status, uid)", csv_trim(pair));
			rc = -1;
			break;
		}
		free(want[k]);
		want[k] = xstrdup(csv_trim(eq + 1));
	}
	free(m);
	return rc;
}

/* Which field holds each of our columns (-1: none), from the header and map. */
static int
csv_header(const struct row *h, const char *map, int idx[C_N], char *err,
    size_t errlen)
{
	char *want[C_N] = { 0 };
	int rc = -1;

	for (int k = 0; k < C_N; k++)
		idx[k] = -1;
	if (csv_map(map, want, err, errlen) == -1)
		goto out;
	for (size_t i = 0; i < h->n; i++) {
		char *name = csv_trim(h->f[i]);

		for (int k = 0; k < C_N; k++)
			if (idx[k] == -1 && strcasecmp(name, want[k] != NULL ?
			    want[k] : csv_names[k]) == 0)
				idx[k] = (int)i;
	}
	for (int k = 0; k < C_N; k++) {
		if (want[k] != NULL && idx[k] == -1) {
			snprintf(err, errlen, "line %d: no column '%s' in the "
			    "header (for %s)", h->line, want[k], csv_names[k]);
			goto out;
		}
	}
	if (idx[C_START] == -1) {
		snprintf(err, errlen, "line %d: the header has no 'start' column "
		    "(name it, or map it with --columns start=HEADER)", h->line);
		goto out;
	}
	if (idx[C_EMAIL] == -1 && idx[C_CASE] == -1) {
		snprintf(err, errlen, "line %d: the header has neither an 'email' "
		    "nor a 'case' column", h->line);
		goto out;
	}
	rc = 0;
out:
	for (int k = 0; k < C_N; k++)
		free(want[k]);
	return rc;
}

/*
 * Reads between min and max decimal digits at *sp into *v and moves *sp
 * past them; -1 when there are fewer than min.  (sscanf's %d would accept
 * signs and blanks and report no overflow.)
 */
static int
csv_digits(const char **sp, int min, int max, int *v)
{
	const char *p = *sp;
	int n = 0;

	*v = 0;
	while (n < max && p[n] >= '0' && p[n] <= '9') {
		*v = *v * 10 + (p[n] - '0');
		n++;
	}
	if (n < min)
		return -1;
	*sp = p + n;
	return 0;
}

/* Is *sp at character c?  Then step over it. */
static int
csv_lit(const char **sp, char c)
{
	if (**sp != c)
		return -1;
	(*sp)++;
	return 0;
}

/* "YYYY-MM-DD h:MM am|pm" in local time. */
static int
csv_ampm(const char *s, time_t *out)
{
	int y, mo, d, h, mi, pm;

	if (csv_digits(&s, 4, 4, &y) || csv_lit(&s, '-') ||
	    csv_digits(&s, 1, 2, &mo) || csv_lit(&s, '-') ||
	    csv_digits(&s, 1, 2, &d) || csv_lit(&s, ' ') ||
	    csv_digits(&s, 1, 2, &h) || csv_lit(&s, ':') ||
	    csv_digits(&s, 2, 2, &mi) || csv_lit(&s, ' '))
		return -1;
	if (tolower((unsigned char)s[0]) == 'p')
		pm = 1;
	else if (tolower((unsigned char)s[0]) == 'a')
		pm = 0;
	else
		return -1;
	if (tolower((unsigned char)s[1]) != 'm' || s[2] != '\0' || h < 1 ||
	    h > 12 || mi > 59 || mo < 1 || mo > 12 || d < 1 || d > 31)
		return -1;
	if (h == 12)
		h = 0;
	if (pm)
		h += 12;
	return tz_local_to_utc(y, mo, d, h, mi, 0, out);
}

static int
csv_time(const char *s, time_t *out)
{
	if (tz_parse_any(s, out) == 0)
		return 0;
	return csv_ampm(s, out);
}

static const char *
csv_field(const struct row *r, const int idx[C_N], int k)
{
	if (idx[k] < 0 || (size_t)idx[k] >= r->n)
		return NULL;
	return r->f[idx[k]][0] != '\0' ? r->f[idx[k]] : NULL;
}

static int
csv_status(const char *s, enum cal_status *st)
{
	static const char *const booked[] = { "booked", "confirmed", "accepted",
		"false", "no", "0", NULL };
	static const char *const cancelled[] = { "cancelled", "canceled",
		"true", "yes", "1", NULL };

	*st = CAL_BOOKED;
	if (s == NULL)
		return 0;
	for (size_t i = 0; booked[i] != NULL; i++)
		if (strcasecmp(s, booked[i]) == 0)
			return 0;
	for (size_t i = 0; cancelled[i] != NULL; i++)
		if (strcasecmp(s, cancelled[i]) == 0) {
			*st = CAL_CANCELLED;
			return 0;
		}
	return -1;
}

/* start, and end or duration (60 minutes without either).  0 or -1. */
static int
csv_when(struct row *r, const int idx[C_N], struct cal_event *e, char *err,
    size_t errlen)
{
	const char *start = csv_field(r, idx, C_START), *v;
	time_t end;
	long mins = 60;

	if (start == NULL || csv_time(csv_trim((char *)start), &e->start) != 0) {
		snprintf(err, errlen, "line %d: start '%s' is not a date and time "
		    "such as 2026-12-03 14:00", r->line, start ? start : "");
		return -1;
	}
	if ((v = csv_field(r, idx, C_END)) != NULL) {
		if (csv_time(csv_trim((char *)v), &end) != 0 || end <= e->start) {
			snprintf(err, errlen, "line %d: end '%s' is not a date "
			    "and time after the start", r->line, v);
			return -1;
		}
		mins = (long)(end - e->start + 59) / 60;
	} else if ((v = csv_field(r, idx, C_DURATION)) != NULL &&
	    parse_long(csv_trim((char *)v), 1, 1440, &mins) != 0) {
		snprintf(err, errlen, "line %d: duration '%s' is not a number of "
		    "minutes from 1 to 1440", r->line, v);
		return -1;
	}
	if (mins > 1440) {
		snprintf(err, errlen, "line %d: longer than a day", r->line);
		return -1;
	}
	e->duration_min = (int)mins;
	return 0;
}

/* The email field's addresses (split at ';' and blanks) as attendees. */
static int
csv_emails(struct row *r, const int idx[C_N], struct cal_event *e, char *err,
    size_t errlen)
{
	char *emails, *tok, *save;
	int rc = 0;

	emails = xstrdup(csv_field(r, idx, C_EMAIL));
	for (tok = emails ? strtok_r(emails, "; \t\r\n", &save) : NULL;
	    tok != NULL; tok = strtok_r(NULL, "; \t\r\n", &save)) {
		if (strncasecmp(tok, "mailto:", 7) == 0)
			tok += 7;
		if (strchr(tok, '@') == NULL) {
			snprintf(err, errlen, "line %d: email '%s' is not an "
			    "address", r->line, tok);
			rc = -1;
			break;
		}
		cal_attendee_add(e, tok);
	}
	free(emails);
	return rc;
}

static int
csv_event(struct row *r, const int idx[C_N], const char *video_url,
    struct cal_event *e, char *err, size_t errlen)
{
	const char *start = csv_field(r, idx, C_START), *v;

	memset(e, 0, sizeof(*e));
	e->line = r->line;
	if (csv_when(r, idx, e, err, errlen) == -1)
		return -1;
	if (csv_status(csv_field(r, idx, C_STATUS), &e->status) != 0) {
		snprintf(err, errlen, "line %d: status '%s' is neither booked nor "
		    "cancelled", r->line, csv_field(r, idx, C_STATUS));
		return -1;
	}
	e->summary = utf8_scrub(csv_field(r, idx, C_SUMMARY));
	e->location = xstrdup(csv_field(r, idx, C_LOCATION));
	if ((v = csv_field(r, idx, C_CASE)) != NULL)
		e->case_label = xstrdup(csv_trim((char *)v));
	if ((v = csv_field(r, idx, C_VIDEO)) != NULL) {
		if (strncasecmp(csv_trim((char *)v), "https://", 8) != 0) {
			snprintf(err, errlen, "line %d: video_url '%s' is not an "
			    "https:// link", r->line, v);
			goto fail;
		}
		e->url = xstrdup(v);
	} else if (e->location != NULL && cal_link_is_meeting(e->location,
	    video_url))
		e->url = xstrdup(e->location);
	if (csv_emails(r, idx, e, err, errlen) == -1)
		goto fail;
	if ((v = csv_field(r, idx, C_UID)) != NULL)
		e->uid = xstrdup(csv_trim((char *)v));
	else
		e->uid = xasprintf("csv:%s:%s", csv_trim((char *)start),
		    e->nattendees > 0 ? e->attendees[0] :
		    e->case_label ? e->case_label : "");
	e->rid = xstrdup("");
	return 0;
fail:
	free(e->summary);
	free(e->location);
	free(e->case_label);
	free(e->url);
	for (size_t i = 0; i < e->nattendees; i++)
		free(e->attendees[i]);
	free(e->attendees);
	memset(e, 0, sizeof(*e));
	return -1;
}

int
csv_read(const char *text, size_t len, const char *map, const char *video_url,
    time_t from, time_t to, struct cal_events *out, char *err, size_t errlen)
{
	struct csv c = { text, text + len, 1 };
	struct row r = { .n = 0 };
	struct cal_event e;
	int idx[C_N], got;

	memset(out, 0, sizeof(*out));
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errlen, "not a CSV file: it holds a NUL byte");
		return -1;
	}
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		c.p += 3;	/* Excel's byte order mark */
	if ((got = csv_record(&c, &r, err, errlen)) <= 0) {
		if (got == 0)
			snprintf(err, errlen, "the file is empty: a header line "
			    "is needed");
		return -1;
	}
	if (csv_header(&r, map, idx, err, errlen) != 0)
		goto fail;
	csv_row_clear(&r);
	while ((got = csv_record(&c, &r, err, errlen)) == 1) {
		if (csv_event(&r, idx, video_url, &e, err, errlen) != 0)
			goto fail;
		csv_row_clear(&r);
		if (e.start >= from && e.start < to)
			cal_event_add(out, &e);
		else
			cal_event_free(&e);
	}
	if (got == 0)
		return 0;
fail:
	csv_row_clear(&r);
	cal_events_free(out);
	return -1;
}
