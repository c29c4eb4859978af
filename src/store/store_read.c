/*
 * store_read: turning rows into structs, and the fresh single-row reads
 * of the re-check at send time (store_get_*, store_case_sessions).
 *
 * Consent: the contract says "no SMS without sms_consent = 1; no email
 * without email_consent = 1", so only exactly 1 counts as consent for both
 * (a tool writing 2 or 'yes' gets nothing sent, and the row is reported
 * as unreadable).  discreet is any
 * non-zero value; opted_out_at and closed_at count as set when not NULL
 * (an empty string too: when in doubt, send nothing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store_int.h"
#include "base/tz.h"
#include "base/util.h"

#define STORE_BAD_VALUE_MAX	40

/* 'value' for a bad-row report: short, and no control characters. */
static void
quote_value(const char *v, char *buf, size_t len)
{
	size_t i;

	if (v == NULL) {
		snprintf(buf, len, "NULL");
		return;
	}
	snprintf(buf, len, "'%.*s%s'", STORE_BAD_VALUE_MAX, v,
	    strlen(v) > STORE_BAD_VALUE_MAX ? "..." : "");
	for (i = 0; buf[i] != '\0'; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
}

/* ------------------------------------------------------------- readers */

/*
 * A consent column holds exactly 0 or 1.  Anything else ('yes', 2, NULL)
 * is a tool's mistake that must be seen, not silently read as "no"
 * (issue 13): the row is unreadable.
 */
static int
consent_ok(sqlite3_stmt *st, int col, const char *name, char *why,
    size_t whylen)
{
	char q[STORE_BAD_VALUE_MAX + 8];
	long long v = sqlite3_column_int64(st, col);

	if (sqlite3_column_type(st, col) == SQLITE_INTEGER && (v == 0 || v == 1))
		return 0;
	quote_value(col_str(st, col), q, sizeof(q));
	errf(why, whylen, "%s %s is not 0 or 1", name, q);
	return -1;
}

int
store_read_client(sqlite3_stmt *st, struct client *c, char *why,
    size_t whylen)
{
	memset(c, 0, sizeof(*c));
	if (consent_ok(st, 5, "email_consent", why, whylen) != 0 ||
	    consent_ok(st, 6, "sms_consent", why, whylen) != 0)
		return -1;
	c->id = sqlite3_column_int64(st, 0);
	c->name = xstrdup(col_str(st, 1) ? col_str(st, 1) : "");
	c->first_name = col_dup(st, 2);
	c->email = col_dup(st, 3);
	c->phone = col_dup(st, 4);
	c->email_consent = sqlite3_column_int64(st, 5) == 1;
	c->sms_consent = sqlite3_column_int64(st, 6) == 1;
	c->discreet = sqlite3_column_int64(st, 7) != 0;
	c->opted_out = sqlite3_column_int(st, 8) != 0;
	/*
	 * A booking tool may write a name of blanks: every message would
	 * open "Hello ," (or go to a blank name, when first_name is set),
	 * and the practitioner would never hear of it.
	 */
	if (client_name_blank(c)) {
		client_free(c);
		errf(why, whylen, "name is blank");
		return -1;
	}
	return 0;
}

/* 0, or -1 with why when the row cannot be understood (a bad row). */
int
store_read_appt(sqlite3_stmt *st, struct appt *a, char *why, size_t whylen)
{
	static const char *const statuses[] = { "booked", "cancelled", NULL };
	const char *starts = col_str(st, 2), *kind = col_str(st, 4);
	const char *mode = col_str(st, 5), *status = col_str(st, 7);
	long long dur = sqlite3_column_int64(st, 3);
	char q[STORE_BAD_VALUE_MAX + 8];

	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(st, 0);
	a->case_id = sqlite3_column_int64(st, 1);
	if (starts == NULL || tz_parse_any(starts, &a->starts_at) == -1) {
		quote_value(starts, q, sizeof(q));
		errf(why, whylen, "unreadable starts_at %s", q);
		return -1;
	}
	if (appt_kind_parse(kind, &a->kind) == -1) {
		quote_value(kind, q, sizeof(q));
		errf(why, whylen, "unknown kind %s", q);
		return -1;
	}
	if (appt_mode_parse(mode, &a->mode) == -1) {
		quote_value(mode, q, sizeof(q));
		errf(why, whylen, "unknown mode %s", q);
		return -1;
	}
	if (!str_in_list(status, statuses)) {
		quote_value(status, q, sizeof(q));
		errf(why, whylen, "unknown status %s", q);
		return -1;
	}
	if (sqlite3_column_type(st, 3) != SQLITE_INTEGER || dur < 1 || dur > 1440) {
		quote_value(col_str(st, 3), q, sizeof(q));
		errf(why, whylen, "duration_min %s not in 1..1440", q);
		return -1;
	}
	a->duration_min = (int)dur;
	a->video_url = col_dup(st, 6);
	a->cancelled = strcmp(status, "cancelled") == 0;
	a->for_client = sqlite3_column_int64(st, 8);
	return 0;
}

int
store_read_homework(sqlite3_stmt *st, struct homework *h, char *why, size_t whylen)
{
	const char *starts = col_str(st, 4), *ends = col_str(st, 5);
	const char *at = col_str(st, 7);
	long long every = sqlite3_column_int64(st, 6);
	char q[STORE_BAD_VALUE_MAX + 8];

	memset(h, 0, sizeof(*h));
	h->id = sqlite3_column_int64(st, 0);
	h->case_id = sqlite3_column_int64(st, 1);
	h->at = -1;
	if (starts == NULL ||
	    tz_parse_date(starts, &h->start_y, &h->start_m, &h->start_d) == -1) {
		quote_value(starts, q, sizeof(q));
		errf(why, whylen, "unreadable starts_on %s", q);
		return -1;
	}
	/* Tools may write '' for "not set". */
	if (ends != NULL && *ends != '\0') {
		if (tz_parse_date(ends, &h->end_y, &h->end_m, &h->end_d) == -1) {
			quote_value(ends, q, sizeof(q));
			errf(why, whylen, "unreadable ends_on %s", q);
			return -1;
		}
		h->has_end = 1;
	}
	if (at != NULL && *at != '\0' && tz_parse_hhmm(at, &h->at) == -1) {
		quote_value(at, q, sizeof(q));
		errf(why, whylen, "unreadable at_time %s", q);
		return -1;
	}
	if (sqlite3_column_type(st, 6) != SQLITE_INTEGER || every < 1 ||
	    every > 366) {
		quote_value(col_str(st, 6), q, sizeof(q));
		errf(why, whylen, "every_days %s not in 1..366", q);
		return -1;
	}
	h->every_days = (int)every;
	h->title = xstrdup(col_str(st, 2) ? col_str(st, 2) : "");
	h->prompt = xstrdup(col_str(st, 3) ? col_str(st, 3) : "");
	h->active = sqlite3_column_int64(st, 8) == 1;
	return 0;
}

int
store_read_msg(sqlite3_stmt *st, struct msg *m)
{
	memset(m, 0, sizeof(*m));
	m->id = sqlite3_column_int64(st, 0);
	if (chan_parse(col_str(st, 5), &m->channel) == -1 ||
	    msg_purpose_parse(col_str(st, 1), &m->purpose) == -1 ||
	    msg_status_parse(col_str(st, 8), &m->status) == -1)
		return -1;
	m->appointment_id = sqlite3_column_int64(st, 2);
	m->homework_id = sqlite3_column_int64(st, 3);
	m->client_id = sqlite3_column_int64(st, 4);
	m->recipient = col_dup(st, 6);
	m->due_at = col_time(st, 7);
	m->attempts = sqlite3_column_int(st, 9);
	m->last_error = col_dup(st, 10);
	m->provider_ref = col_dup(st, 11);
	m->sent_at = col_time(st, 12);
	m->rule = col_dup(st, 13);
	m->appt_start = col_time(st, 14);
	m->occurrence = col_dup(st, 15);
	m->template = col_dup(st, 16);
	m->next_at = col_time(st, 17);
	m->recovered = sqlite3_column_int(st, 18);
	m->detail = col_dup(st, 19);
	return 0;
}

/*
 * Case row and members with two prepared statements: STORE_FOUND,
 * STORE_GONE, STORE_ERR.
 */
enum store_rc
store_load_case(struct store *s, sqlite3_stmt *cst, sqlite3_stmt *mst, long long id,
    struct kase *k, char *err, size_t errlen)
{
	size_t cap = 0;
	int rc;

	memset(k, 0, sizeof(*k));
	sqlite3_reset(cst);
	sqlite3_bind_int64(cst, 1, id);
	if ((rc = sqlite3_step(cst)) == SQLITE_DONE)
		return STORE_GONE;
	if (rc != SQLITE_ROW)
		return store_dberr(s, err, errlen, "reading cases");
	k->id = id;
	k->label = xstrdup(col_str(cst, 0) ? col_str(cst, 0) : "");
	k->closed = sqlite3_column_int(cst, 1) != 0;
	sqlite3_reset(cst);
	sqlite3_reset(mst);
	sqlite3_bind_int64(mst, 1, id);
	while ((rc = sqlite3_step(mst)) == SQLITE_ROW) {
		if (k->nmembers == cap) {
			cap = cap ? cap * 2 : 2;
			k->members = xrealloc(k->members, cap * sizeof(*k->members));
		}
		k->members[k->nmembers++] = sqlite3_column_int64(mst, 0);
	}
	sqlite3_reset(mst);
	if (rc != SQLITE_DONE) {
		kase_free(k);
		return store_dberr(s, err, errlen, "reading case_members");
	}
	return STORE_FOUND;
}

/* --------------------------------------------------------- single rows */

static int
fill_appt(sqlite3_stmt *st, void *out, char *why, size_t whylen)
{
	struct appt *a = out;
	long long id = sqlite3_column_int64(st, 0);

	if (store_read_appt(st, a, why, whylen) == 0)
		return 0;
	appt_free(a);
	a->id = id;
	return -1;
}

static int
fill_homework(sqlite3_stmt *st, void *out, char *why, size_t whylen)
{
	struct homework *h = out;
	long long id = sqlite3_column_int64(st, 0);

	if (store_read_homework(st, h, why, whylen) == 0)
		return 0;
	homework_free(h);
	h->id = id;
	return -1;
}

static int
fill_client(sqlite3_stmt *st, void *out, char *why, size_t whylen)
{
	return store_read_client(st, out, why, whylen);
}

static int
fill_msg(sqlite3_stmt *st, void *out, char *why, size_t whylen)
{
	if (store_read_msg(st, out) == 0)
		return 0;
	errf(why, whylen, "message %lld has an unknown channel, purpose or"
	    " status",
	    (long long)sqlite3_column_int64(st, 0));
	return -1;
}

enum store_rc
store_get_appt(struct store *s, long long id, struct appt *a, char *err,
    size_t errlen)
{
	memset(a, 0, sizeof(*a));
	return store_read_id(s, "SELECT " APPT_COLS " FROM appointments WHERE id = ?1",
	    id, fill_appt, a, "reading appointments", err, errlen);
}

enum store_rc
store_get_homework(struct store *s, long long id, struct homework *h,
    char *err, size_t errlen)
{
	memset(h, 0, sizeof(*h));
	return store_read_id(s, "SELECT " HW_COLS " FROM homework WHERE id = ?1",
	    id, fill_homework, h, "reading homework", err, errlen);
}

enum store_rc
store_get_client(struct store *s, long long id, struct client *c, char *err,
    size_t errlen)
{
	memset(c, 0, sizeof(*c));
	return store_read_id(s, "SELECT " CLIENT_COLS " FROM clients WHERE id = ?1",
	    id, fill_client, c, "reading clients", err, errlen);
}

enum store_rc
store_get_msg(struct store *s, long long id, struct msg *m, char *err,
    size_t errlen)
{
	memset(m, 0, sizeof(*m));
	return store_read_id(s, "SELECT " MSG_COLS " FROM messages WHERE id = ?1",
	    id, fill_msg, m, "reading messages", err, errlen);
}

enum store_rc
store_get_case(struct store *s, long long id, struct kase *k, char *err,
    size_t errlen)
{
	sqlite3_stmt *cst, *mst;
	enum store_rc rc;

	memset(k, 0, sizeof(*k));
	if ((cst = store_prep(s, CASE_SQL, err, errlen)) == NULL)
		return STORE_ERR;
	if ((mst = store_prep(s, MEMBERS_SQL, err, errlen)) == NULL) {
		store_done(s, cst);
		return STORE_ERR;
	}
	rc = store_load_case(s, cst, mst, id, k, err, errlen);
	store_done(s, cst);
	store_done(s, mst);
	return rc;
}

static int
cmp_time(const void *a, const void *b)
{
	time_t x = *(const time_t *)a, y = *(const time_t *)b;

	return (x > y) - (x < y);
}

int
store_case_sessions(struct store *s, long long case_id, time_t **starts,
    size_t *n)
{
	sqlite3_stmt *st;
	time_t t;
	int rc;

	*starts = NULL;
	*n = 0;
	if ((st = store_prep(s, "SELECT starts_at FROM appointments WHERE"
	    " case_id = ?1 AND status = 'booked'", NULL, 0)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, case_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (tz_parse_any(col_str(st, 0), &t) != 0)
			continue;	/* reported by the snapshot */
		*starts = xrealloc(*starts, (*n + 1) * sizeof(**starts));
		(*starts)[(*n)++] = t;
	}
	store_done(s, st);
	if (rc != SQLITE_DONE) {
		free(*starts);
		*starts = NULL;
		*n = 0;
		return -1;
	}
	if (*n > 1)
		qsort(*starts, *n, sizeof(**starts), cmp_time);
	return 0;
}
