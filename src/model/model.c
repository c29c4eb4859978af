/*
 * model: the shared records' frees and the vocabularies' name tables.
 * See model.h.
 */
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "base/util.h"

/* One name table per vocabulary: the enum's order. */
static const char *const chan_names[CHAN_N] = { "email", "sms" };
const char *const appt_kind_names[KIND_N + 1] = { "assessment", "session",
	"call", NULL };
const char *const appt_mode_names[MODE_N + 1] = { "in_person", "online",
	"phone", NULL };
const char *const msg_status_names[MSG_STATUS_N + 1] = { "pending",
	"sending", "sent", "failed", "skipped", "cancelled", NULL };
const char *const msg_purpose_names[PURPOSE_N + 1] = { "reminder",
	"follow_up", "cancellation", "homework", "moved", "test", "alert", NULL };
static const char *const cal_act_names[] = { "keep", "book", "move",
	"rebook", "update", "cancel", "missing", "unmatched" };

static int
model_parse(const char *const *names, int n, const char *s, int *out)
{
	for (int i = 0; s != NULL && i < n; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
	return -1;
}

const char *
chan_name(enum chan ch)
{
	return ch == CHAN_SMS ? chan_names[CHAN_SMS] : chan_names[CHAN_EMAIL];
}

int
chan_parse(const char *s, enum chan *out)
{
	int i;

	if (model_parse(chan_names, CHAN_N, s, &i) == -1)
		return -1;
	*out = (enum chan)i;
	return 0;
}

/*
 * name() and parse() for one vocabulary: the same two functions over its
 * own table, typed so a purpose is never passed where a status belongs.
 * (clang-tidy: an enum's tag cannot be parenthesised.)
 */
/* NOLINTBEGIN(bugprone-macro-parentheses) */
#define MODEL_VOCAB(type, names, n)					\
const char *								\
type##_name(enum type v)							\
{									\
	return (unsigned)v < (unsigned)(n) ? (names)[v] : "?";		\
}									\
									\
int									\
type##_parse(const char *s, enum type *out)				\
{									\
	int i;								\
									\
	if (model_parse((names), (n), s, &i) == -1)			\
		return -1;						\
	*out = (enum type)i;						\
	return 0;							\
}
/* NOLINTEND(bugprone-macro-parentheses) */

MODEL_VOCAB(appt_kind, appt_kind_names, KIND_N)
MODEL_VOCAB(appt_mode, appt_mode_names, MODE_N)
MODEL_VOCAB(msg_status, msg_status_names, MSG_STATUS_N)
MODEL_VOCAB(msg_purpose, msg_purpose_names, PURPOSE_N)

/* ------------------------------------------------------------- frees */

void
bad_row_free(struct bad_row *b)
{
	free(b->table);
	free(b->what);
	memset(b, 0, sizeof(*b));
}

void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	free(c->name);
	free(c->first_name);
	free(c->email);
	free(c->phone);
	memset(c, 0, sizeof(*c));
}

void
appt_free(struct appt *a)
{
	if (a == NULL)
		return;
	free(a->video_url);
	memset(a, 0, sizeof(*a));
}

void
kase_free(struct kase *k)
{
	if (k == NULL)
		return;
	free(k->label);
	free(k->members);
	memset(k, 0, sizeof(*k));
}

void
client_copy(struct client *dst, const struct client *c)
{
	*dst = *c;
	dst->name = xstrdup(c->name);
	dst->first_name = xstrdup(c->first_name);
	dst->email = xstrdup(c->email);
	dst->phone = xstrdup(c->phone);
}

void
appt_copy(struct appt *dst, const struct appt *a)
{
	*dst = *a;
	dst->video_url = xstrdup(a->video_url);
}

void
kase_copy(struct kase *dst, const struct kase *k)
{
	*dst = *k;
	dst->label = xstrdup(k->label);
	dst->members = NULL;
	if (k->nmembers > 0) {
		dst->members = xcalloc(k->nmembers, sizeof(*dst->members));
		memcpy(dst->members, k->members,
		    k->nmembers * sizeof(*dst->members));
	}
}

void
homework_free(struct homework *h)
{
	if (h == NULL)
		return;
	free(h->title);
	free(h->prompt);
	memset(h, 0, sizeof(*h));
}

void
msg_free(struct msg *m)
{
	if (m == NULL)
		return;
	free(m->recipient);
	free(m->last_error);
	free(m->provider_ref);
	free(m->rule);
	free(m->occurrence);
	free(m->template);
	free(m->detail);
	memset(m, 0, sizeof(*m));
}

static const char *
skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static size_t
word_len(const char *p, int stop_at_space)
{
	size_t n = strlen(p);

	if (stop_at_space)
		return strcspn(p, " \t\r\n");
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' ||
	    p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	return n;
}

int
client_name_blank(const struct client *c)
{
	return *skip_space(c->name != NULL ? c->name : "") == '\0';
}

char *
client_first_name(const struct client *c)
{
	const char *p;

	if (c->first_name != NULL && *(p = skip_space(c->first_name)) != '\0')
		return xstrndup(p, word_len(p, 0));
	p = skip_space(c->name != NULL ? c->name : "");
	return xstrndup(p, word_len(p, 1));
}

void
snapshot_free(struct snapshot *sn)
{
	size_t i;

	if (sn == NULL)
		return;
	for (i = 0; i < sn->nappts; i++)
		appt_free(&sn->appts[i]);
	for (i = 0; i < sn->ncases; i++)
		kase_free(&sn->cases[i]);
	for (i = 0; i < sn->nclients; i++)
		client_free(&sn->clients[i]);
	for (i = 0; i < sn->nhw; i++)
		homework_free(&sn->hw[i]);
	for (i = 0; i < sn->nmsgs; i++)
		msg_free(&sn->msgs[i]);
	for (i = 0; i < sn->nbad; i++) {
		bad_row_free(&sn->bad[i]);
	}
	free(sn->appts);
	free(sn->cases);
	free(sn->clients);
	free(sn->hw);
	free(sn->msgs);
	free(sn->bad);
	memset(sn, 0, sizeof(*sn));
}

void
week_stats_free(struct week_stats *w)
{
	for (size_t i = 0; i < w->nskips; i++)
		free(w->skips[i].reason);
	free(w->skips);
	free(w->paused[0]);
	free(w->paused[1]);
	free(w->failed_ids);
	free(w->failed_due);
	for (size_t i = 0; i < w->nnext; i++)
		free(w->next[i].label);
	free(w->next);
	memset(w, 0, sizeof(*w));
}

/* ------------------------------------------------------------ calendars */

const char *
cal_act_name(enum cal_act a)
{
	return (unsigned)a < sizeof(cal_act_names) / sizeof(cal_act_names[0]) ?
	    cal_act_names[a] : "?";
}


void
cal_case_free(struct cal_case *c)
{
	free(c->label);
	for (size_t i = 0; i < c->nemails; i++)
		free(c->emails[i]);
	free(c->emails);
}


void
cal_appt_free(struct cal_appt *a)
{
	free(a->key);
	free(a->video_url);
}


void
cal_plan_free(struct cal_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].key);
		free(p->v[i].video_url);
		free(p->v[i].why);
	}
	free(p->v);
	p->v = NULL;
	p->n = 0;
}


void
cal_event_free(struct cal_event *e)
{
	free(e->uid);
	free(e->rid);
	free(e->summary);
	free(e->location);
	free(e->url);
	free(e->case_label);
	for (size_t i = 0; i < e->nattendees; i++)
		free(e->attendees[i]);
	free(e->attendees);
}


void
cal_events_free(struct cal_events *o)
{
	if (o == NULL)
		return;
	for (size_t i = 0; i < o->n; i++)
		cal_event_free(&o->v[i]);
	for (size_t i = 0; i < o->nbad; i++) {
		free(o->bad[i].uid);
		free(o->bad[i].what);
	}
	free(o->v);
	free(o->bad);
	memset(o, 0, sizeof(*o));
}


char *
cal_event_key(const struct cal_event *e)
{
	if (e->rid == NULL || e->rid[0] == '\0')
		return xstrdup(e->uid);
	return xasprintf("%s;RECURRENCE-ID=%s", e->uid, e->rid);
}

/* ------------------------------------------------- nudgectl's row views */

void
client_row_free(struct client_row *c)
{
	if (c == NULL)
		return;
	free(c->name);
	free(c->first_name);
	free(c->email);
	free(c->phone);
	free(c->opted_out_at);
	memset(c, 0, sizeof(*c));
}

void
case_row_free(struct case_row *k)
{
	if (k == NULL)
		return;
	free(k->label);
	free(k->closed_at);
	for (size_t i = 0; i < k->nmembers; i++)
		free(k->member_names[i]);
	free(k->member_names);
	free(k->member_ids);
	memset(k, 0, sizeof(*k));
}

void
appt_row_free(struct appt_row *a)
{
	if (a == NULL)
		return;
	free(a->starts_at);
	free(a->kind);
	free(a->mode);
	free(a->status);
	free(a->video_url);
	free(a->case_label);
	memset(a, 0, sizeof(*a));
}

void
homework_row_free(struct homework_row *h)
{
	if (h == NULL)
		return;
	free(h->case_label);
	free(h->title);
	free(h->starts_on);
	free(h->ends_on);
	free(h->at_time);
	memset(h, 0, sizeof(*h));
}

void
client_rows_free(struct client_row *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		client_row_free(&v[i]);
	free(v);
}

void
case_rows_free(struct case_row *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		case_row_free(&v[i]);
	free(v);
}

void
appt_rows_free(struct appt_row *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		appt_row_free(&v[i]);
	free(v);
}

void
homework_rows_free(struct homework_row *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		homework_row_free(&v[i]);
	free(v);
}
