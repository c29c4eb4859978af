/*
 * deliver_reads: the rows a claim's transaction read, kept for the next
 * message of the same case (struct dl_reads in deliver_int.h says why
 * that is safe): the appointment, the case, the last two clients, the
 * case's sessions.  Outside a claim (reads.on unset) each call reads the
 * store.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/deliver_int.h"
#include "base/util.h"

void
dl_reads_end(struct dl *d)
{
	struct dl_reads *r = &d->reads;

	appt_free(&r->a);
	kase_free(&r->k);
	client_free(&r->cl[0]);
	client_free(&r->cl[1]);
	free(r->starts);
	memset(r, 0, sizeof(*r));
}

enum store_rc
dl_get_appt(struct dl *d, long long id, struct appt *a, char *err,
    size_t errlen)
{
	struct dl_reads *r = &d->reads;
	enum store_rc rc;

	if (r->on && r->has_a && r->a.id == id) {
		appt_copy(a, &r->a);
		return STORE_FOUND;
	}
	if ((rc = store_get_appt(d->st, id, a, err, errlen)) == STORE_FOUND &&
	    r->on) {
		appt_free(&r->a);
		appt_copy(&r->a, a);
		r->has_a = 1;
	}
	return rc;
}

enum store_rc
dl_get_case(struct dl *d, long long id, struct kase *k, char *err,
    size_t errlen)
{
	struct dl_reads *r = &d->reads;
	enum store_rc rc;

	if (r->on && r->has_k && r->k.id == id) {
		kase_copy(k, &r->k);
		return STORE_FOUND;
	}
	if ((rc = store_get_case(d->st, id, k, err, errlen)) == STORE_FOUND &&
	    r->on) {
		kase_free(&r->k);
		kase_copy(&r->k, k);
		r->has_k = 1;
	}
	return rc;
}

enum store_rc
dl_get_client(struct dl *d, long long id, struct client *c, char *err,
    size_t errlen)
{
	struct dl_reads *r = &d->reads;
	enum store_rc rc;
	int i;

	for (i = 0; r->on && i < 2; i++)
		if (r->has_cl[i] && r->cl[i].id == id) {
			client_copy(c, &r->cl[i]);
			return STORE_FOUND;
		}
	if ((rc = store_get_client(d->st, id, c, err, errlen)) == STORE_FOUND &&
	    r->on) {
		i = r->next_cl;
		r->next_cl = !i;
		client_free(&r->cl[i]);
		client_copy(&r->cl[i], c);
		r->has_cl[i] = 1;
	}
	return rc;
}

int
dl_case_starts(struct dl *d, long long case_id, time_t **starts, size_t *n)
{
	struct dl_reads *r = &d->reads;

	if (!r->on || r->starts_case != case_id) {
		if (!r->on)
			return store_case_sessions(d->st, case_id, starts, n);
		free(r->starts);
		r->starts_case = 0;
		if (store_case_sessions(d->st, case_id, &r->starts,
		    &r->nstarts) != 0)
			return -1;
		r->starts_case = case_id;
	}
	*n = r->nstarts;
	*starts = NULL;
	if (*n > 0) {
		*starts = xcalloc(*n, sizeof(**starts));
		memcpy(*starts, r->starts, *n * sizeof(**starts));
	}
	return 0;
}
