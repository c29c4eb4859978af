/*
 * store_people: nudgectl's reads and writes of clients and cases (client
 * add, list, show, edit, opt-out; case add, list, close).  Rows come back
 * as stored (model.h's client_row, case_row): nudgectl shows what a
 * booking tool wrote even where nudged itself would report the row as
 * unreadable.  Writes go inside the caller's transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"
#include "base/util.h"

#define CLIENT_ROW_SQL "SELECT id, name, first_name, email, phone," \
	" email_consent, sms_consent, discreet, opted_out_at FROM clients"

/* A flag column: any non-zero value counts (0 and NULL do not). */
static int
col_flag(sqlite3_stmt *st, int i)
{
	return sqlite3_column_int64(st, i) != 0;
}

static int
client_fill(sqlite3_stmt *st, void *rec, char *why, size_t whylen)
{
	struct client_row *c = rec;

	(void)why;
	(void)whylen;
	c->id = sqlite3_column_int64(st, 0);
	c->name = xstrdup(col_str(st, 1) ? col_str(st, 1) : "");
	c->first_name = col_dup(st, 2);
	c->email = col_dup(st, 3);
	c->phone = col_dup(st, 4);
	c->email_consent = col_flag(st, 5);
	c->sms_consent = col_flag(st, 6);
	c->discreet = col_flag(st, 7);
	c->opted_out_at = col_dup(st, 8);
	return 0;
}

enum store_rc
store_client_row(struct store *s, long long id, struct client_row *c,
    char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	return store_read_id(s, CLIENT_ROW_SQL " WHERE id = ?1", id,
	    client_fill, c, "reading the client", err, errlen);
}

int
store_client_rows(struct store *s, struct client_row **out, size_t *n,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*n = 0;
	if ((st = store_prep(s, CLIENT_ROW_SQL " ORDER BY id", err,
	    errlen)) == NULL)
		return -1;
	*out = store_read_list(s, st, sizeof(**out), client_fill, n, &rc,
	    "reading clients", err, errlen);
	if (rc != 0) {
		client_rows_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* Bind name .. discreet of c as ?1 .. ?7. */
static void
client_bind(sqlite3_stmt *st, const struct client_row *c)
{
	bind_text(st, 1, c->name);
	bind_text(st, 2, c->first_name);
	bind_text(st, 3, c->email);
	bind_text(st, 4, c->phone);
	sqlite3_bind_int(st, 5, c->email_consent != 0);
	sqlite3_bind_int(st, 6, c->sms_consent != 0);
	sqlite3_bind_int(st, 7, c->discreet != 0);
}

int
store_client_add(struct store *s, const struct client_row *c, long long *id,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "INSERT INTO clients (name, first_name, email,"
	    " phone, email_consent, sms_consent, discreet) VALUES (?1, ?2, ?3,"
	    " ?4, ?5, ?6, ?7)", err, errlen)) == NULL)
		return -1;
	client_bind(st, c);
	if (store_run(s, st, "adding the client", err, errlen) != 0)
		return -1;
	*id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int
store_client_update(struct store *s, const struct client_row *c, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE clients SET name = ?1, first_name = ?2,"
	    " email = ?3, phone = ?4, email_consent = ?5, sms_consent = ?6,"
	    " discreet = ?7 WHERE id = ?8", err, errlen)) == NULL)
		return -1;
	client_bind(st, c);
	sqlite3_bind_int64(st, 8, c->id);
	return store_run(s, st, "changing the client", err, errlen);
}

int
store_client_opt_out(struct store *s, long long id, time_t at, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE clients SET opted_out_at = ?1 WHERE"
	    " id = ?2", err, errlen)) == NULL)
		return -1;
	bind_time(st, 1, at);
	sqlite3_bind_int64(st, 2, id);
	return store_run(s, st, "recording the opt-out", err, errlen);
}

/* ---------------------------------------------------------------- cases */

static int
case_fill(sqlite3_stmt *st, void *rec, char *why, size_t whylen)
{
	struct case_row *k = rec;

	(void)why;
	(void)whylen;
	k->id = sqlite3_column_int64(st, 0);
	k->label = xstrdup(col_str(st, 1) ? col_str(st, 1) : "");
	k->closed_at = col_dup(st, 2);
	return 0;
}

/* Cases from st (id, label, closed_at), bound by the caller. */
static int
case_list(struct store *s, sqlite3_stmt *st, struct case_row **out,
    size_t *n, char *err, size_t errlen)
{
	int rc;

	*out = store_read_list(s, st, sizeof(**out), case_fill, n, &rc,
	    "reading cases", err, errlen);
	if (rc != 0) {
		case_rows_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int
store_client_cases(struct store *s, long long client_id,
    struct case_row **out, size_t *n, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	*out = NULL;
	*n = 0;
	if ((st = store_prep(s, "SELECT k.id, k.label, k.closed_at FROM cases k"
	    " JOIN case_members m ON m.case_id = k.id WHERE m.client_id = ?1"
	    " ORDER BY k.id", err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, client_id);
	return case_list(s, st, out, n, err, errlen);
}

enum store_rc
store_case_row(struct store *s, long long id, struct case_row *k, char *err,
    size_t errlen)
{
	memset(k, 0, sizeof(*k));
	return store_read_id(s, "SELECT id, label, closed_at FROM cases"
	    " WHERE id = ?1", id, case_fill, k, "reading the case", err,
	    errlen);
}

/* k's members, ids ascending, with their names. */
static int
case_members(struct store *s, struct case_row *k, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	size_t cap = 0, cap2 = 0;
	int rc;

	if ((st = store_prep(s, "SELECT l.id, l.name FROM case_members x"
	    " JOIN clients l ON l.id = x.client_id WHERE x.case_id = ?1"
	    " ORDER BY l.id", err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, k->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		k->member_ids = store_grow(k->member_ids, k->nmembers, &cap,
		    sizeof(*k->member_ids));
		k->member_names = store_grow(k->member_names, k->nmembers,
		    &cap2, sizeof(*k->member_names));
		k->member_ids[k->nmembers] = sqlite3_column_int64(st, 0);
		k->member_names[k->nmembers++] = xstrdup(col_str(st, 1) ?
		    col_str(st, 1) : "");
	}
	store_done(s, st);
	if (rc != SQLITE_DONE)
		return store_dberr(s, err, errlen, "reading a case's members");
	return 0;
}

int
store_case_rows(struct store *s, struct case_row **out, size_t *n, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;
	size_t i;

	*out = NULL;
	*n = 0;
	if ((st = store_prep(s, "SELECT id, label, closed_at FROM cases"
	    " ORDER BY id", err, errlen)) == NULL)
		return -1;
	if (case_list(s, st, out, n, err, errlen) != 0)
		return -1;
	for (i = 0; i < *n; i++) {
		if (case_members(s, &(*out)[i], err, errlen) != 0) {
			case_rows_free(*out, *n);
			*out = NULL;
			*n = 0;
			return -1;
		}
	}
	return 0;
}

int
store_case_add(struct store *s, const char *label, const long long *clients,
    size_t n, long long *id, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	size_t i;

	if ((st = store_prep(s, "INSERT INTO cases (label) VALUES (?1)", err,
	    errlen)) == NULL)
		return -1;
	bind_text(st, 1, label);
	if (store_run(s, st, "adding the case", err, errlen) != 0)
		return -1;
	*id = sqlite3_last_insert_rowid(s->db);
	for (i = 0; i < n; i++) {
		if ((st = store_prep(s, "INSERT INTO case_members (case_id,"
		    " client_id) VALUES (?1, ?2)", err, errlen)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, *id);
		sqlite3_bind_int64(st, 2, clients[i]);
		if (store_run(s, st, "adding the case's clients", err,
		    errlen) != 0)
			return -1;
	}
	return 0;
}

int
store_case_close(struct store *s, long long id, time_t at, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE cases SET closed_at = ?1 WHERE id = ?2",
	    err, errlen)) == NULL)
		return -1;
	bind_time(st, 1, at);
	sqlite3_bind_int64(st, 2, id);
	return store_run(s, st, "closing the case", err, errlen);
}

enum store_rc
store_case_member(struct store *s, long long case_id, long long client_id,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int r;

	if ((st = store_prep(s, "SELECT 1 FROM case_members WHERE case_id = ?1"
	    " AND client_id = ?2", err, errlen)) == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(st, 1, case_id);
	sqlite3_bind_int64(st, 2, client_id);
	r = store_step_one(s, st, "reading the case's members", err, errlen);
	store_done(s, st);
	return r;
}
