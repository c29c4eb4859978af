/*
 * store_diary: nudgectl's reads and writes of appointments and homework
 * (book, appointments, cancel, move, edit; homework add, list, stop).
 * Rows come back as stored (model.h's appt_row, homework_row): a start
 * time a booking tool wrote in a form nudged cannot read is still listed.
 * Writes go inside the caller's transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"
#include "base/util.h"

#define APPT_ROW_SQL "SELECT a.id, a.case_id, a.starts_at, a.duration_min," \
	" a.kind, a.mode, a.status, a.video_url, a.for_client, k.label," \
	" k.closed_at IS NOT NULL FROM appointments a" \
	" LEFT JOIN cases k ON k.id = a.case_id"
#define HW_ROW_SQL "SELECT h.id, h.case_id, k.label, h.title, h.starts_on," \
	" h.ends_on, h.every_days, h.at_time, h.active FROM homework h" \
	" LEFT JOIN cases k ON k.id = h.case_id"

static int
appt_fill(sqlite3_stmt *st, void *rec, char *why, size_t whylen)
{
	struct appt_row *a = rec;

	(void)why;
	(void)whylen;
	a->id = sqlite3_column_int64(st, 0);
	a->case_id = sqlite3_column_int64(st, 1);
	a->starts_at = xstrdup(col_str(st, 2) ? col_str(st, 2) : "");
	a->duration_min = sqlite3_column_int(st, 3);
	a->kind = xstrdup(col_str(st, 4) ? col_str(st, 4) : "");
	a->mode = xstrdup(col_str(st, 5) ? col_str(st, 5) : "");
	a->status = xstrdup(col_str(st, 6) ? col_str(st, 6) : "");
	a->video_url = col_dup(st, 7);
	a->for_client = sqlite3_column_int64(st, 8);
	a->case_label = col_dup(st, 9);
	a->case_closed = sqlite3_column_int(st, 10) != 0;
	return 0;
}

enum store_rc
store_appt_row(struct store *s, long long id, struct appt_row *a, char *err,
    size_t errlen)
{
	memset(a, 0, sizeof(*a));
	return store_read_id(s, APPT_ROW_SQL " WHERE a.id = ?1", id, appt_fill,
	    a, "reading the appointment", err, errlen);
}

int
store_appt_rows(struct store *s, long long case_id, struct appt_row **out,
    size_t *n, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*n = 0;
	if ((st = store_prep(s, APPT_ROW_SQL " WHERE ?1 = 0 OR a.case_id = ?1"
	    " ORDER BY a.starts_at, a.id", err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, case_id);
	*out = store_read_list(s, st, sizeof(**out), appt_fill, n, &rc,
	    "reading appointments", err, errlen);
	if (rc != 0) {
		appt_rows_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int
store_appt_add(struct store *s, const struct appt *a, long long *id,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "INSERT INTO appointments (case_id, starts_at,"
	    " duration_min, kind, mode, video_url, for_client, status) VALUES"
	    " (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'booked')", err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, a->case_id);
	bind_time(st, 2, a->starts_at);
	sqlite3_bind_int(st, 3, a->duration_min);
	bind_text(st, 4, appt_kind_name(a->kind));
	bind_text(st, 5, appt_mode_name(a->mode));
	bind_text(st, 6, a->video_url);
	bind_id(st, 7, a->for_client);
	if (store_run(s, st, "booking the appointment", err, errlen) != 0)
		return -1;
	*id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int
store_appt_cancel(struct store *s, long long id, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE appointments SET status = 'cancelled'"
	    " WHERE id = ?1", err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return store_run(s, st, "cancelling the appointment", err, errlen);
}

int
store_appt_move(struct store *s, long long id, time_t start, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE appointments SET starts_at = ?1"
	    " WHERE id = ?2", err, errlen)) == NULL)
		return -1;
	bind_time(st, 1, start);
	sqlite3_bind_int64(st, 2, id);
	return store_run(s, st, "moving the appointment", err, errlen);
}

/* One column of appointment id set to v (text; NULL binds NULL). */
static int
appt_set_text(struct store *s, const char *sql, long long id, const char *v,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, sql, err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, v);
	sqlite3_bind_int64(st, 2, id);
	return store_run(s, st, "changing the appointment", err, errlen);
}

/* The same with a number (0 binds NULL). */
static int
appt_set_num(struct store *s, const char *sql, long long id, long long v,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, sql, err, errlen)) == NULL)
		return -1;
	bind_id(st, 1, v);
	sqlite3_bind_int64(st, 2, id);
	return store_run(s, st, "changing the appointment", err, errlen);
}

int
store_appt_change(struct store *s, long long id, const struct appt_change *c,
    char *err, size_t errlen)
{
	int rc = 0;

	/* Leaving online drops its own link: the next online one gets practice.video_url. */
	if (c->set_mode && c->mode != MODE_ONLINE)
		rc = appt_set_text(s, "UPDATE appointments SET video_url = ?1"
		    " WHERE id = ?2", id, NULL, err, errlen);
	if (rc == 0 && c->set_mode)
		rc = appt_set_text(s, "UPDATE appointments SET mode = ?1"
		    " WHERE id = ?2", id, appt_mode_name(c->mode), err, errlen);
	if (rc == 0 && c->video_url != NULL)
		rc = appt_set_text(s, "UPDATE appointments SET video_url = ?1"
		    " WHERE id = ?2", id, c->video_url, err, errlen);
	if (rc == 0 && c->duration_min != 0)
		rc = appt_set_num(s, "UPDATE appointments SET duration_min = ?1"
		    " WHERE id = ?2", id, c->duration_min, err, errlen);
	if (rc == 0 && (c->for_client != 0 || c->everyone))
		rc = appt_set_num(s, "UPDATE appointments SET for_client = ?1"
		    " WHERE id = ?2", id, c->everyone ? 0 : c->for_client, err,
		    errlen);
	return rc;
}

/* ------------------------------------------------------------- homework */

static int
homework_fill(sqlite3_stmt *st, void *rec, char *why, size_t whylen)
{
	struct homework_row *h = rec;

	(void)why;
	(void)whylen;
	h->id = sqlite3_column_int64(st, 0);
	h->case_id = sqlite3_column_int64(st, 1);
	h->case_label = col_dup(st, 2);
	h->title = xstrdup(col_str(st, 3) ? col_str(st, 3) : "");
	h->starts_on = xstrdup(col_str(st, 4) ? col_str(st, 4) : "");
	h->ends_on = col_dup(st, 5);
	h->every_days = sqlite3_column_int(st, 6);
	h->at_time = col_dup(st, 7);
	h->active = sqlite3_column_int(st, 8) != 0;
	return 0;
}

enum store_rc
store_homework_row(struct store *s, long long id, struct homework_row *h,
    char *err, size_t errlen)
{
	memset(h, 0, sizeof(*h));
	return store_read_id(s, HW_ROW_SQL " WHERE h.id = ?1", id,
	    homework_fill, h, "reading the homework", err, errlen);
}

int
store_homework_rows(struct store *s, long long case_id,
    struct homework_row **out, size_t *n, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*n = 0;
	if ((st = store_prep(s, HW_ROW_SQL " WHERE ?1 = 0 OR h.case_id = ?1"
	    " ORDER BY h.id", err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, case_id);
	*out = store_read_list(s, st, sizeof(**out), homework_fill, n, &rc,
	    "reading homework", err, errlen);
	if (rc != 0) {
		homework_rows_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int
store_homework_add(struct store *s, const struct homework *h, long long *id,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	char sd[40], ed[40], at[24];

	snprintf(sd, sizeof(sd), "%04d-%02d-%02d", h->start_y, h->start_m,
	    h->start_d);
	snprintf(ed, sizeof(ed), "%04d-%02d-%02d", h->end_y, h->end_m,
	    h->end_d);
	snprintf(at, sizeof(at), "%02d:%02d", h->at / 60, h->at % 60);
	if ((st = store_prep(s, "INSERT INTO homework (case_id, title, prompt,"
	    " starts_on, ends_on, every_days, at_time) VALUES (?1, ?2, ?3, ?4,"
	    " ?5, ?6, ?7)", err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, h->case_id);
	bind_text(st, 2, h->title);
	bind_text(st, 3, h->prompt);
	bind_text(st, 4, sd);
	bind_text(st, 5, h->has_end ? ed : NULL);
	sqlite3_bind_int(st, 6, h->every_days);
	bind_text(st, 7, h->at >= 0 ? at : NULL);
	if (store_run(s, st, "adding the homework", err, errlen) != 0)
		return -1;
	*id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int
store_homework_stop(struct store *s, long long id, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE homework SET active = 0 WHERE id = ?1",
	    err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return store_run(s, st, "stopping the homework", err, errlen);
}
