/*
 * cal_sync: calendar feeds and imports into appointments.  See cal_sync.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "policy/cal_match.h"
#include "engine/cal_sync.h"
#include "transport/csv_read.h"
#include "transport/feed_fetch.h"
#include "transport/ical_read.h"
#include "base/log.h"
#include "store/store_cal.h"
#include "base/tz.h"

/* An import looks at least this far ahead (an export may hold months). */
#define CAL_IMPORT_AHEAD	(366L * 86400)

static void
cal_local(time_t t, char *buf, size_t len)
{
	struct tm tm;

	tz_to_local(t, &tm);
	snprintf(buf, len, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);
}

/* One line per decision that changes something or needs the practitioner. */
static void
cal_print(const struct cal_plan *p, struct sbuf *out)
{
	char when[64], old[64];

	for (size_t i = 0; out != NULL && i < p->n; i++) {
		const struct cal_dec *d = &p->v[i];

		cal_local(d->start, when, sizeof(when));
		switch (d->act) {
		case CAL_KEEP:
			break;
		case CAL_BOOK:
		case CAL_REBOOK:
			sbuf_printf(out, "%-9s %s  case %lld  %s, %s, %d min  %s\n",
			    "book", when, d->case_id, appt_kind_name(d->kind),
			    appt_mode_name(d->mode), d->duration_min, d->key);
			break;
		case CAL_MOVE:
			cal_local(d->old_start, old, sizeof(old));
			sbuf_printf(out, "%-9s appointment %lld  %s -> %s  %s\n",
			    "move", d->appt_id, old, when, d->key);
			break;
		case CAL_UPDATE:
			sbuf_printf(out, "%-9s appointment %lld  %s  %s, %d min  %s\n",
			    "update", d->appt_id, when, appt_mode_name(d->mode),
			    d->duration_min, d->key);
			break;
		case CAL_CANCEL:
		case CAL_MISSING:
			sbuf_printf(out, "%-9s appointment %lld  %s  (%s)  %s\n",
			    cal_act_name(d->act), d->appt_id, when, d->why, d->key);
			break;
		case CAL_UNMATCHED:
			sbuf_printf(out, "%-9s %s  \"%s\"  (%s)  %s\n", "unmatched",
			    when, d->ev != NULL && d->ev->summary != NULL ?
			    d->ev->summary : "", d->why, d->key);
			break;
		}
	}
}

void
cal_counts_line(const struct cal_counts *k, struct sbuf *out)
{
	sbuf_printf(out, "%d booked, %d moved, %d updated, %d cancelled, "
	    "%d unmatched, %d missing", k->n[CAL_BOOK] + k->n[CAL_REBOOK],
	    k->n[CAL_MOVE], k->n[CAL_UPDATE], k->n[CAL_CANCEL],
	    k->n[CAL_UNMATCHED], k->n[CAL_MISSING]);
}

/* A feed's lines for the digest (problems), each its own. */
struct cal_probs {
	char	**v;
	size_t	  n;
};

static void
cal_probs_add(struct cal_probs *pr, char *what)
{
	pr->v = xrealloc(pr->v, (pr->n + 1) * sizeof(*pr->v));
	pr->v[pr->n++] = what;
}

/*
 * A booked appointment whose event no longer matches its case is kept
 * (an address changed in nudged, a label edited), so its reminders still
 * go; but the practitioner may have taken the client off the invitation
 * to cancel it: the digest says so until the calendar settles it.  Ids
 * and dates only (no label or summary: they may name the client).
 */
static void
cal_probs_kept(const struct cal_plan *p, const char *feed,
    struct cal_probs *pr)
{
	char when[64];

	for (size_t i = 0; pr != NULL && i < p->n; i++) {
		const struct cal_dec *d = &p->v[i];

		if (d->act != CAL_UNMATCHED || d->appt_id == 0)
			continue;
		cal_local(d->start, when, sizeof(when));
		cal_probs_add(pr, xasprintf("feed %s: appointment %lld: its "
		    "event (%s) no longer matches its case (a client taken off "
		    "the invitation? an address changed?): kept, its reminders "
		    "still go; if the session is off, nudgectl cancel %lld",
		    feed, d->appt_id, when, d->appt_id));
	}
}

/*
 * Match ev against the database and apply (unless dry), inside the
 * transaction the caller opened; pr (NULL: none) gets the feed's lines
 * for the digest.  0 or -1 (database).
 */
static int
cal_apply(const struct conf *c, struct store *st, const char *source,
    const struct cal_events *ev, int full, int by_label, int by_attendee,
    int dry, time_t now, struct sbuf *out, struct cal_counts *k,
    struct cal_probs *pr, char *err, size_t errlen)
{
	struct cal_case *cs = NULL;
	struct cal_appt *as = NULL;
	size_t ncs = 0, nas = 0;
	struct cal_plan p = { 0 };
	struct cal_match_opts o = { 0 };
	int rc = -1;

	if (store_cal_cases(st, &cs, &ncs, err, errlen) != 0 ||
	    store_cal_appts(st, source, &as, &nas, err, errlen) != 0)
		goto out;
	o.by_label = by_label;
	o.by_attendee = by_attendee;
	o.practice_email = c->practice.email;
	o.video_url = c->practice.video_url;
	o.full = full;
	o.now = now;
	o.until = now + c->calendar.window;
	cal_match(ev, cs, ncs, as, nas, &o, &p);
	for (size_t i = 0; i < p.n; i++)
		k->n[p.v[i].act]++;
	k->bad = (int)ev->nbad;
	if (!dry && store_cal_apply(st, source, &p, full, now, err, errlen) != 0)
		goto out;
	cal_print(&p, out);
	cal_probs_kept(&p, source + strlen("feed:"), pr);
	rc = 0;
out:
	for (size_t i = 0; i < ncs; i++)
		cal_case_free(&cs[i]);
	free(cs);
	for (size_t i = 0; i < nas; i++)
		cal_appt_free(&as[i]);
	free(as);
	cal_plan_free(&p);
	return rc;
}

/* ---------------------------------------------------------------- feeds */

/*
 * 1 when a feed that holds no event at all would take appointments away:
 * a calendar app that exports an empty calendar (a broken export, the
 * wrong calendar shared, an account signed out) is far likelier than a
 * practice whose every session went at once, and missing events cancel
 * appointments and tell clients.  Such a fetch counts as a failure (kept
 * as they were, in the digest); what is really gone is cancelled with
 * nudgectl.  why gets the reason.
 */
static int
cal_feed_empty(const struct conf *c, const struct conf_feed *f,
    struct store *st, const struct cal_events *ev, time_t now, char *why,
    size_t whylen)
{
	struct cal_appt *as = NULL;
	size_t nas = 0, ahead = 0;
	char *source, err[256];

	if (ev->nall > 0)
		return 0;
	source = xasprintf("feed:%s", f->name);
	if (store_cal_appts(st, source, &as, &nas, err, sizeof(err)) != 0)
		nas = 0;	/* the apply will meet the database's error */
	for (size_t i = 0; i < nas; i++) {
		if (!as[i].other && !as[i].cancelled && as[i].start >= now &&
		    as[i].start < now + c->calendar.window)
			ahead++;
		cal_appt_free(&as[i]);
	}
	free(as);
	free(source);
	if (ahead > 0)
		snprintf(why, whylen, "the calendar holds no events at all, but "
		    "%zu booked appointment%s came from it (an empty export?): "
		    "cancel with nudgectl what is really gone", ahead,
		    ahead == 1 ? "" : "s");
	return ahead > 0;
}

/*
 * The digest's line for a feed that is not applied: line (the whole of it
 * after the feed's name), or NULL for one that could not be read.
 */
static enum cal_sync_result
cal_feed_failed(const struct conf_feed *f, struct store *st, time_t now,
    const char *why, const char *line, char *err, size_t errlen)
{
	/*
	 * The digest's line names the kind of failure only ("Timeout was
	 * reached", not how many milliseconds): the same failure again is
	 * the same problem, reported once; the details are in the log.
	 */
	const char *cut = strstr(why, ": ");
	char *what = line != NULL ? xasprintf("feed %s: %s", f->name, line) :
	    xasprintf("feed %s: could not be read: %.*s (its "
	    "appointments are kept as they were)", f->name,
	    cut != NULL ? (int)(cut - why) : (int)strlen(why), why);
	struct bad_row b = { "calendar", 0, what };
	char dberr[256];

	/* added to the feed's other problems, which stay as they are */
	if (store_begin(st, dberr, sizeof(dberr)) != 0 ||
	    store_feed_fail(st, f->name, why, now, dberr, sizeof(dberr)) != 0 ||
	    store_note_bad(st, &b, now, dberr, sizeof(dberr)) < 0 ||
	    store_commit(st, dberr, sizeof(dberr)) != 0) {
		store_rollback(st);
		snprintf(err, errlen, "%s", dberr);
		free(what);
		return CAL_SYNC_DBERR;
	}
	snprintf(err, errlen, "%s", why);
	free(what);
	return CAL_SYNC_FAILED;
}

/*
 * Apply what the feed holds (ev) and record the fetch, in one
 * transaction: CAL_SYNC_OK, or CAL_SYNC_DBERR with err (rolled back).
 */
static enum cal_sync_result
cal_feed_apply(const struct conf *c, const struct conf_feed *f,
    struct store *st, const struct cal_events *ev, const struct feed_got *got,
    int fresh, time_t now, struct sbuf *out, struct cal_counts *k, char *err,
    size_t errlen)
{
	enum cal_sync_result res = CAL_SYNC_DBERR;
	char *source = xasprintf("feed:%s", f->name);
	struct cal_probs pr = { 0 };

	for (size_t i = 0; i < ev->nbad; i++)
		cal_probs_add(&pr, xasprintf("feed %s: %s (left as it was)",
		    f->name, ev->bad[i].what));
	if (store_begin(st, err, errlen) == 0) {
		if (cal_apply(c, st, source, ev, 1, f->by_label,
		    f->by_attendee, 0, now, out, k, &pr, err, errlen) != 0 ||
		    store_feed_ok(st, f->name, got->etag, got->last_modified,
		    fresh ? got->body : NULL, got->len, now, err, errlen) != 0 ||
		    store_feed_problems(st, f->name, pr.v, pr.n, now, err,
		    errlen) != 0 || store_commit(st, err, errlen) != 0)
			store_rollback(st);
		else
			res = CAL_SYNC_OK;
	}
	for (size_t i = 0; i < pr.n; i++)
		free(pr.v[i]);
	free(pr.v);
	free(source);
	return res;
}

enum cal_sync_result
cal_sync_feed(const struct conf *c, const struct conf_feed *f,
    struct store *st, time_t now, struct sbuf *out, struct cal_counts *k,
    char *err, size_t errlen)
{
	struct store_feed prev = { 0 };
	struct feed_got got = { 0 };
	struct cal_events ev = { 0 };
	enum feed_result fr;
	enum cal_sync_result res = CAL_SYNC_DBERR;
	char why[512] = "";
	const char *body;
	size_t len;

	memset(k, 0, sizeof(*k));
	if (f->url == NULL) {
		res = cal_feed_failed(f, st, now, "no url (url, url_file, or the "
		    "credential calendar-<name>)", NULL, err, errlen);
		goto out;
	}
	if (store_feed_get(st, f->name, &prev, err, errlen) < 0)
		goto out;
	/* validators only with a body to fall back on */
	fr = feed_fetch(f->url, f->ca_file, f->timeout, prev.body ? prev.etag :
	    NULL, prev.body ? prev.last_modified : NULL, &got, why, sizeof(why));
	if (fr == FEED_STOPPED) {	/* not the feed's fault: nothing recorded */
		snprintf(err, errlen, "%s", why);
		res = CAL_SYNC_FAILED;
		goto out;
	}
	if (fr == FEED_FAIL) {
		res = cal_feed_failed(f, st, now, why, NULL, err, errlen);
		goto out;
	}
	if (fr == FEED_SAME && prev.body == NULL) {
		res = cal_feed_failed(f, st, now, "the server answered 304 Not "
		    "Modified to a first request", NULL, err, errlen);
		goto out;
	}
	k->not_modified = fr == FEED_SAME;
	body = fr == FEED_SAME ? prev.body : got.body;
	len = fr == FEED_SAME ? prev.len : got.len;
	if (ical_read(body, len, c->practice.timezone, c->practice.video_url, now,
	    now + c->calendar.window, &ev, why, sizeof(why)) != 0) {
		res = cal_feed_failed(f, st, now, why, NULL, err, errlen);
		goto out;
	}
	if (cal_feed_empty(c, f, st, &ev, now, why, sizeof(why))) {
		/* no count in it: one problem until all of them are settled */
		res = cal_feed_failed(f, st, now, why, "holds no events at all, "
		    "but booked appointments ahead came from it (an empty "
		    "export?): kept as they were; if they are really gone, "
		    "nudgectl cancel them", err, errlen);
		goto out;
	}
	res = cal_feed_apply(c, f, st, &ev, &got, fr == FEED_OK, now, out, k,
	    err, errlen);
out:
	cal_events_free(&ev);
	feed_got_free(&got);
	store_feed_free(&prev);
	return res;
}

time_t
cal_sync_due(const struct conf *c, struct store *st, time_t now)
{
	struct cal_counts k;
	struct sbuf line = { 0 };
	char err[512];
	time_t next = 0, due, last;

	/* called before every pass: only the times are read here */
	for (size_t i = 0; i < c->calendar.nfeeds; i++) {
		const struct conf_feed *f = &c->calendar.feeds[i];

		if (store_feed_last_try(st, f->name, &last, err, sizeof(err)) != 0) {
			log_err("calendar feed %s: %s", f->name, err);
			continue;
		}
		due = last == 0 ? now : last + f->every;
		if (due <= now) {
			enum cal_sync_result r = cal_sync_feed(c, f, st, now, NULL, &k, err, sizeof(err));
			if (r == CAL_SYNC_OK) {
				cal_counts_line(&k, &line);
				log_info("calendar feed %s: %s%s", f->name,
				    sbuf_str(&line), k.not_modified ?
				    " (not modified)" : "");
				line.len = 0;
			} else
				log_err("calendar feed %s: %s%s", f->name, err,
				    r == CAL_SYNC_FAILED ? " (its appointments are "
				    "kept as they were)" : "");
			due = now + f->every;
		}
		if (next == 0 || due < next)
			next = due;
	}
	sbuf_free(&line);
	return next;
}

/* --------------------------------------------------------------- import */

static int
cal_read_file(const char *path, char **text, size_t *len, char *err,
    size_t errlen)
{
	struct sbuf b = { 0 };
	char buf[8192];
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 || b.len + (size_t)r > (size_t)FEED_MAX_BYTES) {
			snprintf(err, errlen, "%s: %s", path, r == -1 ?
			    strerror(errno) : "larger than the 8 MiB limit");
			close(fd);
			sbuf_free(&b);
			return -1;
		}
		sbuf_addn(&b, buf, (size_t)r);
	}
	close(fd);
	*len = b.len;
	*text = sbuf_steal(&b);
	return 0;
}

static int
cal_is_csv(const char *path, const char *text)
{
	const char *dot = strrchr(path, '.');

	if (dot != NULL && strcasecmp(dot, ".csv") == 0)
		return 1;
	if (dot != NULL && (strcasecmp(dot, ".ics") == 0 ||
	    strcasecmp(dot, ".ical") == 0 || strcasecmp(dot, ".ifb") == 0))
		return 0;
	return strcasestr(text, "BEGIN:VCALENDAR") == NULL;
}

enum cal_sync_result
cal_import(const struct conf *c, struct store *st, const char *path,
    const char *map, int dry, time_t now, struct sbuf *out,
    struct cal_counts *k, char *err, size_t errlen)
{
	struct cal_events ev = { 0 };
	char *text = NULL, why[512];
	time_t to = now + (c->calendar.window > CAL_IMPORT_AHEAD ?
	    c->calendar.window : CAL_IMPORT_AHEAD);
	size_t len;
	enum cal_sync_result rc = CAL_SYNC_FAILED;
	int r;

	memset(k, 0, sizeof(*k));
	if (cal_read_file(path, &text, &len, err, errlen) != 0)
		return CAL_SYNC_FAILED;
	if (cal_is_csv(path, text))
		r = csv_read(text, len, map, c->practice.video_url, now, to, &ev,
		    why, sizeof(why));
	else if (map != NULL) {
		snprintf(why, sizeof(why), "--columns is for CSV files only");
		r = -1;
	} else
		r = ical_read(text, len, c->practice.timezone,
		    c->practice.video_url, now, to, &ev, why, sizeof(why));
	if (r != 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		goto out;
	}
	if (ev.nbad > 0) {
		snprintf(err, errlen, "%s: %s%s; nothing imported", path,
		    ev.bad[0].what, ev.nbad > 1 ? " (and more)" : "");
		goto out;
	}
	rc = CAL_SYNC_DBERR;
	if (store_begin(st, err, errlen) != 0)
		goto out;
	/* both ways of matching: the practitioner chose this file */
	if (cal_apply(c, st, "import", &ev, 0, 1, 1, dry, now, out, k, NULL,
	    err, errlen) != 0) {
		store_rollback(st);
		goto out;
	}
	if (dry)
		store_rollback(st);
	else if (store_commit(st, err, errlen) != 0)
		goto out;
	rc = CAL_SYNC_OK;
out:
	cal_events_free(&ev);
	free(text);
	return rc;
}
