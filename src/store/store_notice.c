/*
 * store_notice: what change notices and calendar entries need from the
 * outbox (issue 9): the details a message went out with, and the start
 * time a client was last told about (before a change: a move notice's
 * old time; at all: a cancellation notice's time).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store_int.h"
#include "base/tz.h"
#include "base/util.h"

int
store_msg_set_detail(struct store *s, long long id, const char *detail,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE messages SET detail = ?2 WHERE id = ?1",
	    err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, detail);
	return store_run(s, st, "recording a message's details", err, errlen);
}

int
store_told_start(struct store *s, long long appt_id, long long client_id,
    time_t start, const char *detail, time_t *told, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	*told = 0;
	/*
	 * The last reminder or notice this client was sent for the
	 * appointment as it was before: another start, or other details.
	 */
	if ((st = store_prep(s, "SELECT appt_start FROM messages"
	    " WHERE appointment_id = ?1 AND client_id = ?2 AND status = 'sent'"
	    " AND purpose IN ('reminder', 'moved') AND appt_start IS NOT NULL"
	    " AND (appt_start IS NOT ?3 OR (detail IS NOT NULL AND ?4 IS NOT NULL"
	    " AND detail IS NOT ?4))"
	    " ORDER BY sent_at DESC, id DESC LIMIT 1", err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, appt_id);
	sqlite3_bind_int64(st, 2, client_id);
	bind_time(st, 3, start);
	bind_text(st, 4, detail);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*told = col_time(st, 0);
	else if (rc != SQLITE_DONE)
		store_dberr(s, err, errlen, "reading earlier reminders");
	store_done(s, st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int
store_last_told(struct store *s, long long appt_id, long long client_id,
    time_t *told, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	*told = 0;
	/*
	 * Not the appointment as it is now: moved since without a notice
	 * going (notify_move off, or the notice held by quiet hours), the
	 * client only knows the earlier time.  Sent ones first, by when.
	 */
	if ((st = store_prep(s, "SELECT appt_start FROM messages"
	    " WHERE appointment_id = ?1 AND client_id = ?2"
	    " AND purpose IN ('reminder', 'moved') AND appt_start IS NOT NULL"
	    " AND (status = 'sent' OR recovered > 0)"
	    " ORDER BY sent_at IS NULL, sent_at DESC, id DESC LIMIT 1",
	    err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, appt_id);
	sqlite3_bind_int64(st, 2, client_id);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*told = col_time(st, 0);
	else if (rc != SQLITE_DONE)
		store_dberr(s, err, errlen, "reading earlier reminders");
	store_done(s, st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}
