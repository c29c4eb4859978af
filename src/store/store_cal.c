/*
 * store_cal: calendars in the database.  See store_cal.h.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_cal.h"
#include "store/store_int.h"

int
store_cal_cases(struct store *s, struct cal_case **out, size_t *n, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;
	struct cal_case *c = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	if ((st = store_prep(s, "SELECT k.id, k.label, k.closed_at IS NOT NULL,"
	    " cl.email FROM cases k LEFT JOIN case_members m ON m.case_id = k.id"
	    " LEFT JOIN clients cl ON cl.id = m.client_id ORDER BY k.id",
	    err, errlen)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		long long id = sqlite3_column_int64(st, 0);
		const char *email = col_str(st, 3);

		if (*n == 0 || (*out)[*n - 1].id != id) {
			*out = xrealloc(*out, (*n + 1) * sizeof(**out));
			c = &(*out)[(*n)++];
			memset(c, 0, sizeof(*c));
			c->id = id;
			c->label = xstrdup(col_str(st, 1) ? col_str(st, 1) : "");
			c->closed = sqlite3_column_int(st, 2);
		}
		if (email != NULL && strchr(email, '@') != NULL) {
			char *e = xstrdup(email), *p;

			for (p = e; *p != '\0'; p++)
				*p = (char)tolower((unsigned char)*p);
			c->emails = xrealloc(c->emails, (c->nemails + 1) *
			    sizeof(*c->emails));
			c->emails[c->nemails++] = e;
		}
	}
	store_done(s, st);
	if (rc != SQLITE_DONE) {
		for (size_t i = 0; i < *n; i++)
			cal_case_free(&(*out)[i]);
		free(*out);
		*out = NULL;
		*n = 0;
		return store_dberr(s, err, errlen, "reading cases");
	}
	return 0;
}

int
store_cal_appts(struct store *s, const char *source, struct cal_appt **out,
    size_t *n, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*n = 0;
	/*
	 * A feed also sees what imports and the other feeds booked, and an
	 * import what feeds booked (cal_match.h: one event, one
	 * appointment); a source's own rows come first, then booked before
	 * cancelled, newest first.
	 */
	if ((st = store_prep(s, "SELECT a.id, a.case_id, a.source_uid, a.starts_at,"
	    " a.duration_min, a.mode, a.video_url, a.status = 'cancelled',"
	    " COALESCE(m.misses, 0), CASE WHEN a.source = ?1 THEN 0"
	    " WHEN ?1 = 'import' OR a.source = 'import' THEN 1 ELSE 2 END"
	    " FROM appointments a"
	    " LEFT JOIN calendar_missing m ON m.source = a.source AND"
	    " m.source_uid = a.source_uid WHERE a.source_uid IS NOT NULL AND"
	    " (a.source = ?1 OR (?1 = 'import' AND a.source LIKE 'feed:%') OR"
	    " (?1 LIKE 'feed:%' AND (a.source = 'import' OR"
	    " a.source LIKE 'feed:%')))"
	    " ORDER BY a.source = ?1 DESC, a.status = 'booked' DESC, a.id DESC",
	    err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, source);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct cal_appt *a;
		const char *t = col_str(st, 3);

		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		a = &(*out)[(*n)++];
		memset(a, 0, sizeof(*a));
		a->id = sqlite3_column_int64(st, 0);
		a->case_id = sqlite3_column_int64(st, 1);
		a->key = col_dup(st, 2);
		/* unreadable: 0, which is never "in the window"; a match moves it */
		if (t == NULL || tz_parse_any(t, &a->start) != 0)
			a->start = 0;
		a->duration_min = sqlite3_column_int(st, 4);
		/* unreadable: MODE_N, unlike any; a match rewrites it */
		if (appt_mode_parse(col_str(st, 5), &a->mode) == -1)
			a->mode = MODE_N;
		a->video_url = col_dup(st, 6);
		a->cancelled = sqlite3_column_int(st, 7);
		a->misses = sqlite3_column_int(st, 8);
		a->other = sqlite3_column_int(st, 9);
	}
	store_done(s, st);
	if (rc != SQLITE_DONE) {
		for (size_t i = 0; i < *n; i++)
			cal_appt_free(&(*out)[i]);
		free(*out);
		*out = NULL;
		*n = 0;
		return store_dberr(s, err, errlen, "reading calendar appointments");
	}
	return 0;
}

static int
store_cal_book(struct store *s, const char *source, const struct cal_dec *d,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "INSERT INTO appointments (case_id, starts_at,"
	    " duration_min, kind, mode, video_url, status, source, source_uid)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'booked', ?7, ?8)", err,
	    errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, d->case_id);
	bind_time(st, 2, d->start);
	sqlite3_bind_int(st, 3, d->duration_min);
	bind_text(st, 4, appt_kind_name(d->kind));
	bind_text(st, 5, appt_mode_name(d->mode));
	bind_text(st, 6, d->video_url);
	bind_text(st, 7, source);
	bind_text(st, 8, d->key);
	return store_run(s, st, "booking from a calendar", err, errlen);
}

/* Only rows of this source: a feed never touches anything else. */
static int
store_cal_update(struct store *s, const char *source, const struct cal_dec *d,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;

	/* the key too: a series moved as a whole gives instances new ones */
	if ((st = store_prep(s, "UPDATE appointments SET starts_at = ?1,"
	    " duration_min = ?2, mode = ?3, video_url = ?4, source_uid = ?7"
	    " WHERE id = ?5 AND source = ?6 AND status = 'booked'", err,
	    errlen)) == NULL)
		return -1;
	bind_time(st, 1, d->start);
	sqlite3_bind_int(st, 2, d->duration_min);
	bind_text(st, 3, appt_mode_name(d->mode));
	bind_text(st, 4, d->video_url);
	sqlite3_bind_int64(st, 5, d->appt_id);
	bind_text(st, 6, source);
	bind_text(st, 7, d->key);
	return store_run(s, st, "moving from a calendar", err, errlen);
}

static int
store_cal_cancel(struct store *s, const char *source, const struct cal_dec *d,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE appointments SET status = 'cancelled'"
	    " WHERE id = ?1 AND source = ?2 AND status = 'booked'", err,
	    errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, d->appt_id);
	bind_text(st, 2, source);
	return store_run(s, st, "cancelling from a calendar", err, errlen);
}

static int
store_cal_note(struct store *s, const char *source, const struct cal_dec *d,
    time_t now, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if (d->act == CAL_MISSING) {
		if ((st = store_prep(s, "INSERT INTO calendar_missing (source,"
		    " source_uid, misses) VALUES (?1, ?2, 1) ON CONFLICT DO UPDATE"
		    " SET misses = misses + 1", err, errlen)) == NULL)
			return -1;
		bind_text(st, 1, source);
		bind_text(st, 2, d->key);
		return store_run(s, st, "counting a missing event", err, errlen);
	}
	if ((st = store_prep(s, "INSERT INTO calendar_unmatched (source,"
	    " source_uid, starts_at, summary, why, seen_at) VALUES (?1, ?2, ?3,"
	    " ?4, ?5, ?6) ON CONFLICT DO UPDATE SET starts_at = excluded.starts_at,"
	    " summary = excluded.summary, why = excluded.why,"
	    " seen_at = excluded.seen_at", err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, source);
	bind_text(st, 2, d->key);
	bind_time(st, 3, d->start);
	bind_text(st, 4, d->ev != NULL ? d->ev->summary : NULL);
	bind_text(st, 5, d->why);
	bind_time(st, 6, now);
	return store_run(s, st, "listing an unmatched event", err, errlen);
}

/*
 * A feed takes over an appointment an import or another feed booked from
 * the same event (cal_match.h says when); the other feed's count of misses
 * (calendar_missing) no longer applies to it.
 */
static int
store_cal_claim(struct store *s, const char *source, long long id, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE appointments SET source = ?1 WHERE id = ?2"
	    " AND (source = 'import' OR source LIKE 'feed:%')", err,
	    errlen)) == NULL)
		return -1;
	bind_text(st, 1, source);
	sqlite3_bind_int64(st, 2, id);
	return store_run(s, st, "taking over an imported appointment", err, errlen);
}

int
store_cal_apply(struct store *s, const char *source, const struct cal_plan *p,
    int full, time_t now, char *err, size_t errlen)
{
	static const char *const reset[] = {
		"DELETE FROM calendar_missing WHERE source = ?1",
		"DELETE FROM calendar_unmatched WHERE source = ?1",
	};
	int rc = 0;

	/*
	 * The matcher was given the misses so far: after this sync they are
	 * exactly its MISSING decisions.  An import replaces its own list of
	 * unmatched events too (the last import's is the one shown).
	 */
	for (size_t i = full ? 0 : 1; i < 2; i++) {
		sqlite3_stmt *st;

		if ((st = store_prep(s, reset[i], err, errlen)) == NULL)
			return -1;
		bind_text(st, 1, source);
		if (store_run(s, st, "resetting calendar state", err, errlen) != 0)
			return -1;
	}
	for (size_t i = 0; i < p->n && rc == 0; i++) {
		const struct cal_dec *d = &p->v[i];

		if (full && d->appt_id != 0 && d->act != CAL_UNMATCHED &&
		    store_cal_claim(s, source, d->appt_id, err, errlen) != 0)
			return -1;
		switch (d->act) {
		case CAL_BOOK:
		case CAL_REBOOK:	/* a new row: the cancelled one keeps its history */
			rc = store_cal_book(s, source, d, err, errlen);
			break;
		case CAL_MOVE:
		case CAL_UPDATE:
			rc = store_cal_update(s, source, d, err, errlen);
			break;
		case CAL_CANCEL:
			rc = store_cal_cancel(s, source, d, err, errlen);
			break;
		case CAL_MISSING:
		case CAL_UNMATCHED:
			rc = store_cal_note(s, source, d, now, err, errlen);
			break;
		case CAL_KEEP:
			break;
		}
	}
	return rc;
}

/* ---------------------------------------------------------------- feeds */

enum store_rc
store_feed_get(struct store *s, const char *name, struct store_feed *f,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	enum store_rc r;

	memset(f, 0, sizeof(*f));
	if ((st = store_prep(s, "SELECT etag, last_modified, body, last_try,"
	    " last_ok, last_error, failures FROM calendar_feeds WHERE name = ?1",
	    err, errlen)) == NULL)
		return STORE_ERR;
	bind_text(st, 1, name);
	if ((r = store_step_one(s, st, "reading a feed's state", err,
	    errlen)) == STORE_FOUND) {
		const void *b = sqlite3_column_blob(st, 2);
		int len = sqlite3_column_bytes(st, 2);

		f->etag = col_dup(st, 0);
		f->last_modified = col_dup(st, 1);
		if (b != NULL) {
			f->body = xmalloc((size_t)len + 1);
			memcpy(f->body, b, (size_t)len);
			f->body[len] = '\0';
			f->len = (size_t)len;
		}
		f->last_try = col_time(st, 3);
		f->last_ok = col_time(st, 4);
		f->last_error = col_dup(st, 5);
		f->failures = sqlite3_column_int(st, 6);
	}
	store_done(s, st);
	return r;
}

int
store_feed_last_try(struct store *s, const char *name, time_t *t, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	*t = 0;
	if ((st = store_prep(s, "SELECT last_try FROM calendar_feeds WHERE"
	    " name = ?1", err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, name);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*t = col_time(st, 0);
	store_done(s, st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_dberr(s, err, errlen, "reading a feed's state");
	return 0;
}

void
store_feed_free(struct store_feed *f)
{
	free(f->etag);
	free(f->last_modified);
	free(f->body);
	free(f->last_error);
	memset(f, 0, sizeof(*f));
}

int
store_feed_ok(struct store *s, const char *name, const char *etag,
    const char *last_modified, const char *body, size_t len, time_t now,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if (body == NULL)
		st = store_prep(s, "INSERT INTO calendar_feeds (name, last_try,"
		    " last_ok) VALUES (?1, ?5, ?5) ON CONFLICT DO UPDATE SET"
		    " last_try = ?5, last_ok = ?5, last_error = NULL, failures = 0",
		    err, errlen);
	else
		st = store_prep(s, "INSERT INTO calendar_feeds (name, etag,"
		    " last_modified, body, last_try, last_ok) VALUES (?1, ?2, ?3,"
		    " ?4, ?5, ?5) ON CONFLICT DO UPDATE SET etag = ?2,"
		    " last_modified = ?3, body = ?4, last_try = ?5, last_ok = ?5,"
		    " last_error = NULL, failures = 0", err, errlen);
	if (st == NULL)
		return -1;
	bind_text(st, 1, name);
	if (body != NULL) {
		bind_text(st, 2, etag);
		bind_text(st, 3, last_modified);
		sqlite3_bind_blob(st, 4, body, (int)len, SQLITE_TRANSIENT);
	}
	bind_time(st, 5, now);
	return store_run(s, st, "saving a feed's state", err, errlen);
}

int
store_feed_fail(struct store *s, const char *name, const char *why, time_t now,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "INSERT INTO calendar_feeds (name, last_try,"
	    " last_error, failures) VALUES (?1, ?2, ?3, 1) ON CONFLICT DO UPDATE"
	    " SET last_try = ?2, last_error = ?3, failures = failures + 1",
	    err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, name);
	bind_time(st, 2, now);
	bind_text(st, 3, why);
	return store_run(s, st, "saving a feed's state", err, errlen);
}

int
store_feed_problems(struct store *s, const char *name, char *const *whats,
    size_t n, time_t now, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	char *prefix = xasprintf("feed %s: ", name);
	long long *gone = NULL;
	size_t ngone = 0;
	int rc;

	if ((st = store_prep(s, "SELECT rowid, what FROM problems WHERE tbl ="
	    " 'calendar' AND substr(what, 1, length(?1)) = ?1", err,
	    errlen)) == NULL) {
		free(prefix);
		return -1;
	}
	bind_text(st, 1, prefix);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *w = col_str(st, 1);
		size_t i;

		for (i = 0; i < n && (w == NULL || strcmp(w, whats[i]) != 0); i++)
			;
		if (i == n) {
			gone = xrealloc(gone, (ngone + 1) * sizeof(*gone));
			gone[ngone++] = sqlite3_column_int64(st, 0);
		}
	}
	store_done(s, st);
	free(prefix);
	if (rc != SQLITE_DONE) {
		free(gone);
		return store_dberr(s, err, errlen, "reading problems");
	}
	rc = 0;
	for (size_t i = 0; i < ngone && rc == 0; i++) {
		if ((st = store_prep(s, "DELETE FROM problems WHERE rowid = ?1",
		    err, errlen)) == NULL) {
			rc = -1;
			break;
		}
		sqlite3_bind_int64(st, 1, gone[i]);
		rc = store_run(s, st, "forgetting a problem", err, errlen);
	}
	free(gone);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct bad_row b = { "calendar", 0, whats[i] };

		rc = store_note_bad(s, &b, now, err, errlen) < 0 ? -1 : 0;
	}
	return rc;
}

int
store_unmatched_list(struct store *s, struct store_unmatched **out, size_t *n,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*n = 0;
	if ((st = store_prep(s, "SELECT source, source_uid, starts_at, summary,"
	    " why FROM calendar_unmatched ORDER BY starts_at, source, source_uid",
	    err, errlen)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_unmatched *u;

		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		u = &(*out)[(*n)++];
		u->source = col_dup(st, 0);
		u->key = col_dup(st, 1);
		u->start = col_time(st, 2);
		u->summary = col_dup(st, 3);
		u->why = col_dup(st, 4);
	}
	store_done(s, st);
	if (rc != SQLITE_DONE)
		return store_dberr(s, err, errlen, "reading unmatched events");
	return 0;
}

void
store_unmatched_free(struct store_unmatched *u, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(u[i].source);
		free(u[i].key);
		free(u[i].summary);
		free(u[i].why);
	}
	free(u);
}
