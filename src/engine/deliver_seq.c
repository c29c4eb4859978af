/*
 * deliver_seq: the one send sequence for a message the engine makes itself
 * (the digest, the weekly summary, the service-failed alert, send-test):
 *
 *   insert (pending) -> claim (sending, committed) -> send -> record
 *
 * The claim is committed before anything goes to a server, so a crash
 * leaves a row start-up recovery can judge.  The record (sent, or failed
 * with the reason) is retried when the database is busy; if it still
 * cannot be written the caller gets -1 and an error naming the row, never
 * a silent row left 'sending'.  Reminders take the same steps in
 * deliver.c (dl_claim, dl_record), batched.
 */
#include <stdio.h>

#include "engine/deliver_int.h"

/* Each try of store_begin() already waits out the busy timeout. */
#define DL_SEQ_TRIES	3

int
dl_seq_claim(struct store *st, long long id, const char *rcpt,
    const char *ref, time_t now, char *err, size_t errlen)
{
	if (store_mark_sending(st, id, rcpt, ref, now, err, errlen) != 0 ||
	    store_commit(st, err, errlen) != 0) {
		store_rollback(st);
		return -1;
	}
	return 0;
}

int
dl_seq_record(struct store *st, long long id, enum xfer_result res,
    const char *ref, const char *why, time_t now, int keep_open, char *err,
    size_t errlen)
{
	char e[512] = "";

	for (int i = 0; i < DL_SEQ_TRIES; i++) {
		int r;

		if (store_begin(st, e, sizeof(e)) != 0)
			continue;
		r = res == XFER_OK ? store_mark_sent(st, id, ref, now, e, sizeof(e)) :
		    store_mark_final(st, id, MSG_FAILED, why, e, sizeof(e));
		if (r == 0 && (keep_open || store_commit(st, e, sizeof(e)) == 0))
			return 0;
		store_rollback(st);
	}
	snprintf(err, errlen, "msg=%lld: its outcome (%s) could not be recorded: "
	    "%s", id, res == XFER_OK ? "sent" : "failed", e);
	return -1;
}
