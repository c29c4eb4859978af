/*
 * ctl_diary: nudgectl's appointment and homework commands (book,
 * appointments, cancel, move; homework add, list, stop).  Times are
 * typed as local wall time in practice.timezone and stored in UTC.
 */
#include <assert.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "conf/conf.h"
#include "cmd/ctl.h"
#include "policy/plan.h"
#include "base/tz.h"
#include "base/util.h"

/* "Thursday 3 December 2026 at 14:00" */
static const char *
when(time_t t, char *buf, size_t len)
{
	char d[64], h[16];

	tz_format_date(t, d, sizeof d);
	tz_format_time(t, h, sizeof h);
	snprintf(buf, len, "%s at %s", d, h);
	return buf;
}

/* An open case: its label in *label (caller frees).  0 or an exit code. */
static int
open_case(struct ctx *c, long long id, char **label)
{
	struct case_row k;
	char err[512];
	int rc;

	*label = NULL;
	if ((rc = ctl_found(c, store_case_row(c->st, id, &k, err, sizeof err),
	    "case", id, err)) != 0)
		return rc;
	if (k.closed_at != NULL)
		rc = ctl_fail(EX_DATAERR, "%s: case %lld (%s) is closed",
		    c->cmd, id, k.label);
	else {
		*label = k.label;
		k.label = NULL;
	}
	case_row_free(&k);
	return rc;
}

/* ---- appointments ---- */

static const char *
mode_words(enum appt_mode mode)
{
	switch (mode) {
	case MODE_IN_PERSON:
		return "in person";
	case MODE_PHONE:
		return "by phone";
	default:
		return appt_mode_name(mode);
	}
}


/*
 * Refuse a time that overlaps another booked appointment of the same case:
 * a mistyped date, or a series booked twice.  skip: the one being moved.
 */
static int
overlap(struct ctx *c, long long case_id, long long skip, time_t start,
    long dur)
{
	struct appt_hit hit;
	char err[512], buf[96];

	switch (store_case_clash(c->st, case_id, skip, start, dur, &hit, err,
	    sizeof err)) {
	case STORE_GONE:
		return 0;
	case STORE_FOUND:
		return ctl_fail(EX_DATAERR, "%s: case %lld already has "
		    "appointment %lld on %s", c->cmd, case_id, hit.id,
		    when(hit.starts_at, buf, sizeof buf));
	default:
		return ctl_ioerr(err);
	}
}

/*
 * Another case's appointment at the same time: the practitioner cannot be
 * in two sessions.  A warning (a colleague's room may be meant); the
 * booking stands.  0 or an exit code.
 */
static int
double_booked(struct ctx *c, long long case_id, long long skip, time_t start,
    long dur)
{
	struct appt_hit hit;
	char err[512], buf[96];
	int r;

	if ((r = store_overlap(c->st, case_id, skip, start, dur, &hit, err,
	    sizeof err)) == STORE_ERR)
		return ctl_ioerr(err);
	if (r == STORE_FOUND)
		ctl_warn(c, "double-booked: appointment %lld of case %lld (%s) "
		    "is on %s too", hit.id, hit.case_id, hit.label,
		    when(hit.starts_at, buf, sizeof buf));
	return 0;
}

/* Is the local date in practice.closed? */
static int
closed_on(const struct ctx *c, int y, int mo, int d)
{
	char date[16];

	snprintf(date, sizeof date, "%04d-%02d-%02d", y, mo, d);
	for (size_t i = 0; i < c->conf->practice.nclosed; i++)
		if (strcmp(c->conf->practice.closed[i], date) == 0)
			return 1;
	return 0;
}

/* "YYYY-MM-DD HH:MM" (or with a T) into its parts; 0 or exit code. */
static int
wall_time(const struct ctx *c, const char *opt, const char *s, int *y,
    int *mo, int *d, int *min)
{
	char date[11];

	*y = *mo = *d = *min = 0;
	if (strlen(s) == 16 && (s[10] == ' ' || s[10] == 'T')) {
		memcpy(date, s, 10);
		date[10] = '\0';
		if (tz_parse_date(date, y, mo, d) == 0 &&
		    tz_parse_hhmm(s + 11, min) == 0)
			return 0;
	}
	return ctl_bad_date(c, opt, s, strlen(s) > 10 && s[10] == 'T' ?
	    "9999-99-99T99:99" :
	    "9999-99-99 99:99", "a local time \"YYYY-MM-DD HH:MM\"");
}

/* What nudgectl book was asked for, once its options are read. */
struct book {
	long long	 case_id, forc;
	const char	*kind_arg, *mode_arg;	/* as typed; no --mode: NULL */
	enum appt_kind	 kind;		/* parsed by book_check */
	enum appt_mode	 mode;
	const char	*video, *label, *at;
	long		 dur, weekly;
	int		 y, mo, d, min;	/* the first date, local wall time */
};

/* Check --kind, --mode, --video-url; fill in the default mode and length. */
static int
book_check(struct ctx *c, struct book *k)
{
	int rc;

	if (appt_kind_parse(k->kind_arg, &k->kind) == -1)
		return ctl_fail(EX_USAGE, "%s: --kind is assessment, "
		    "session or call, not '%s'", c->cmd, k->kind_arg);
	if (k->mode_arg != NULL &&
	    (rc = ctl_mode_arg(c, k->mode_arg, &k->mode)) != 0)
		return rc;
	if (k->mode_arg == NULL)
		k->mode = k->video ? MODE_ONLINE : k->kind == KIND_CALL ?
		    MODE_PHONE : MODE_IN_PERSON;
	if (k->video != NULL && k->mode != MODE_ONLINE)
		return ctl_fail(EX_USAGE, "%s: --video-url is for --mode "
		    "online", c->cmd);
	if (k->video != NULL && (rc = ctl_video_arg(c, k->video)) != 0)
		return rc;
	if (k->dur == 0)
		k->dur = k->kind == KIND_ASSESSMENT ? 90 :
		    k->kind == KIND_CALL ? 15 : 60;
	return 0;
}

/*
 * Said after a booking or a move whose wall time min the clocks change
 * around: one in the spring gap means an hour later, one the autumn
 * repeat brings twice means its first occurrence (contract "Time").
 */
static void
clock_note(struct ctx *c, time_t t, int min)
{
	struct tm tm, later;
	time_t again;

	tz_to_local(t, &tm);
	if (tm.tm_hour * 60 + tm.tm_min != min) {
		ctl_outf(c, " (%02d:%02d does not exist that day: the "
		    "clocks go forward)", min / 60, min % 60);
		return;
	}
	/* The same wall time again once the clocks went back, if they do. */
	tz_to_local(t + 12 * 3600L, &later);
	if (later.tm_gmtoff >= tm.tm_gmtoff)
		return;
	again = t + (tm.tm_gmtoff - later.tm_gmtoff);
	tz_to_local(again, &later);
	if (later.tm_mday == tm.tm_mday && later.tm_hour == tm.tm_hour &&
	    later.tm_min == tm.tm_min)
		ctl_outf(c, " (%02d:%02d comes twice that day: the clocks go "
		    "back; this is the first, %02d:%02d %s)", min / 60,
		    min % 60, min / 60, min % 60,
		    tm.tm_zone != NULL ? tm.tm_zone : "summer time");
}

/*
 * Book week i of the series (inside the transaction).  0 also when the
 * week was skipped for a closed day; an exit code (reported) stops the
 * series.
 */
static int
book_one(struct ctx *c, const struct book *k, long i, int series, time_t now)
{
	int rc, y = k->y, mo = k->mo, d = k->d;
	char buf[96], err[512];
	struct appt a;
	long long id;
	time_t t;

	/* Weekly means the same local wall time: across DST the UTC hour moves. */
	tz_date_add_days(&y, &mo, &d, 7 * i);
	if (tz_local_to_utc(y, mo, d, k->min / 60, k->min % 60, 0, &t) == -1)
		return ctl_fail(EX_DATAERR, "%s: cannot place "
		    "%04d-%02d-%02d %02d:%02d in %s", c->cmd, y, mo, d,
		    k->min / 60, k->min % 60, c->conf->practice.timezone);
	if (t <= now)
		return ctl_fail(EX_DATAERR, "%s: %s is in the past",
		    c->cmd, when(t, buf, sizeof buf));
	if ((rc = overlap(c, k->case_id, 0, t, k->dur)) != 0)
		return rc;
	/* A series goes round the practice's holidays. */
	if (closed_on(c, y, mo, d) && series) {
		ctl_outf(c, "%04d-%02d-%02d skipped: the practice is "
		    "closed that day (practice.closed)\n", y, mo, d);
		return 0;
	}
	if (closed_on(c, y, mo, d))
		ctl_warn(c, "the practice is closed on %04d-%02d-%02d "
		    "(practice.closed); booked all the same", y, mo, d);
	if ((rc = double_booked(c, k->case_id, 0, t, k->dur)) != 0)
		return rc;
	a = (struct appt){ .case_id = k->case_id, .starts_at = t,
	    .duration_min = (int)k->dur, .kind = k->kind, .mode = k->mode,
	    .video_url = (char *)k->video, .for_client = k->forc };
	if (store_appt_add(c->st, &a, &id, err, sizeof err) != 0)
		return ctl_ioerr(err);
	ctl_outf(c, "appointment %lld booked: case %lld (%s), %s on %s, %ld "
	    "minutes, %s", id, k->case_id, k->label, appt_kind_name(k->kind),
	    when(t, buf, sizeof buf), k->dur, mode_words(k->mode));
	if (k->forc != 0)
		ctl_outf(c, ", for client %lld only", k->forc);
	clock_note(c, t, k->min);
	ctl_outf(c, "\n");
	return 0;
}

/* book's options and their presence.  0, DONE or an exit code. */
static int
book_opts(struct ctx *c, int argc, char **argv, struct book *k)
{
	static const struct option lo[] = {
		{ "case", required_argument, NULL, O_CASE },
		{ "at", required_argument, NULL, O_AT },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "kind", required_argument, NULL, O_KIND },
		{ "mode", required_argument, NULL, O_MODE },
		{ "video-url", required_argument, NULL, O_VIDEO },
		{ "weekly", required_argument, NULL, O_WEEKLY },
		{ "for", required_argument, NULL, O_FOR },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	int ch, rc;

	optind = 0;
	while ((ch = ctl_getopt(c, argc, argv, ":h", lo, &rc)) != -1) {
		rc = 0;
		switch (ch) {
		case O_CASE:
			rc = ctl_id_arg(c, "--case", optarg, &k->case_id);
			break;
		case O_AT: k->at = optarg; break;
		case O_DURATION:
			rc = ctl_num(c, "--duration", optarg, 5, 600, &k->dur);
			break;
		case O_KIND: k->kind_arg = optarg; break;
		case O_MODE: k->mode_arg = optarg; break;
		case O_VIDEO: k->video = optarg; break;
		case O_WEEKLY:
			rc = ctl_num(c, "--weekly", optarg, 1, 104, &k->weekly);
			break;
		case O_FOR:
			rc = ctl_id_arg(c, "--for", optarg, &k->forc);
			break;
		}
		if (rc != 0)
			return rc;
	}
	if (rc != 0)
		return rc;
	if ((rc = ctl_no_args(c, argc, argv)) != 0)
		return rc;
	if (k->case_id == 0 || k->at == NULL)
		return ctl_fail(EX_USAGE, "%s: --case and --at are required",
		    c->cmd);
	return 0;
}

int
cmd_book(struct ctx *c, int argc, char **argv)
{
	struct book k = { .kind_arg = "session", .weekly = 1 };
	char *label = NULL;
	long i;
	int rc;
	time_t now;

	if ((rc = book_opts(c, argc, argv, &k)) != 0)
		return rc == DONE ? 0 : rc;
	assert(k.at != NULL && k.case_id != 0);	/* book_opts requires them */
	if ((rc = book_check(c, &k)) != 0 ||
	    (rc = wall_time(c, "--at", k.at, &k.y, &k.mo, &k.d, &k.min)) != 0 ||
	    (rc = ctl_tx_begin(c)) != 0)
		return rc;
	if ((rc = open_case(c, k.case_id, &label)) != 0 ||
	    (k.forc != 0 && (rc = ctl_member_of(c, k.case_id, k.forc)) != 0)) {
		free(label);
		return ctl_tx_end(c, rc);
	}
	k.label = label;
	now = time(NULL);
	for (i = 0; i < k.weekly && rc == 0; i++)
		rc = book_one(c, &k, i, k.weekly > 1, now);
	free(label);
	return ctl_tx_end(c, rc);
}

int
cmd_cancel(struct ctx *c, int argc, char **argv)
{
	struct appt_row a;
	char err[512], buf[96];
	long long id;
	time_t t;
	int rc;

	if ((rc = ctl_id_tx(c, argc, argv, "appointment", &id)) != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = ctl_found(c, store_appt_row(c->st, id, &a, err, sizeof err),
	    "appointment", id, err)) != 0)
		return ctl_tx_end(c, rc);
	if (strcmp(a.status, "cancelled") == 0)
		rc = ctl_fail(EX_DATAERR, "%s: appointment %lld is cancelled "
		    "already", c->cmd, id);
	else if (store_appt_cancel(c->st, id, err, sizeof err) != 0)
		rc = ctl_ioerr(err);
	if (rc == 0) {
		ctl_outf(c, "appointment %lld cancelled: case %lld (%s), %s\n",
		    id, a.case_id, a.case_label ? a.case_label : "?",
		    tz_parse_any(a.starts_at, &t) == 0 ?
		    when(t, buf, sizeof buf) : a.starts_at);
		/* a cancel then a book tells the client "cancelled" first */
		ctl_outf(c, "(%sto change the time instead: nudgectl move %lld "
		    "--to 'YYYY-MM-DD HH:MM')\n", c->conf->notify_cancellation ?
		    "clients already reminded get a cancellation notice; " : "",
		    id);
	}
	appt_row_free(&a);
	return ctl_tx_end(c, rc);
}

/*
 * Move appointment a to t (in the transaction; min: the wall time typed):
 * refused when it is cancelled, its case closed, t past or its own time,
 * or t clashes.  0 or an exit code (reported); old gets the time it had,
 * as said.
 */
static int
move_one(struct ctx *c, const struct appt_row *a, time_t t, int min,
    char *old, size_t oldlen)
{
	char buf[96], err[512];
	long dur;
	time_t was;
	int rc;

	dur = a->duration_min >= 1 && a->duration_min <= 100000 ?
	    a->duration_min : 60;
	if (tz_parse_any(a->starts_at, &was) == 0)
		when(was, old, oldlen);
	else {
		snprintf(old, oldlen, "'%s'", a->starts_at);
		was = 0;
	}
	if (strcmp(a->status, "cancelled") == 0)
		return ctl_fail(EX_DATAERR, "%s: appointment %lld is cancelled",
		    c->cmd, a->id);
	if (a->case_closed)
		return ctl_fail(EX_DATAERR, "%s: case %lld (%s) is closed",
		    c->cmd, a->case_id, a->case_label);
	if (t <= time(NULL))
		return ctl_fail(EX_DATAERR, "%s: %s is in the past", c->cmd,
		    when(t, buf, sizeof buf));
	if (t == was)
		return ctl_fail(EX_DATAERR, "%s: appointment %lld is on %s "
		    "already", c->cmd, a->id, old);
	if ((rc = overlap(c, a->case_id, a->id, t, dur)) != 0 ||
	    (rc = double_booked(c, a->case_id, a->id, t, dur)) != 0)
		return rc;
	if (store_appt_move(c->st, a->id, t, err, sizeof err) != 0)
		return ctl_ioerr(err);
	ctl_outf(c, "appointment %lld moved: case %lld (%s), from %s to %s",
	    a->id, a->case_id, a->case_label ? a->case_label : "?", old,
	    when(t, buf, sizeof buf));
	clock_note(c, t, min);
	ctl_outf(c, "\n");
	return 0;
}

int
cmd_move(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "to", required_argument, NULL, O_TO },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	struct appt_row a;
	const char *to = NULL;
	char err[512], old[96];
	long long id;
	int ch, rc, y, mo, d, min;
	time_t t;

	optind = 0;
	while ((ch = ctl_getopt(c, argc, argv, ":h", lo, &rc)) != -1) {
		if (ch == O_TO)
			to = optarg;
	}
	if (rc != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = ctl_one_id(c, argc, argv, "appointment", &id)) != 0)
		return rc;
	if (to == NULL)
		return ctl_fail(EX_USAGE, "%s: --to is required", c->cmd);
	if ((rc = wall_time(c, "--to", to, &y, &mo, &d, &min)) != 0 ||
	    (rc = ctl_tx_begin(c)) != 0)
		return rc;
	if (tz_local_to_utc(y, mo, d, min / 60, min % 60, 0, &t) == -1)
		return ctl_tx_end(c, ctl_fail(EX_DATAERR, "%s: cannot place "
		    "'%s' in %s", c->cmd, to, c->conf->practice.timezone));
	if ((rc = ctl_found(c, store_appt_row(c->st, id, &a, err, sizeof err),
	    "appointment", id, err)) != 0)
		return ctl_tx_end(c, rc);
	rc = move_one(c, &a, t, min, old, sizeof old);
	appt_row_free(&a);
	return ctl_tx_end(c, rc);
}

int
cmd_appointments(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "case", required_argument, NULL, O_CASE },
		{ "all", no_argument, NULL, O_ALL },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	struct appt_row *v;
	long long case_id = 0;
	char buf[32], err[512];
	int ch, rc, all = 0, n = 0;
	size_t i, nv;
	time_t t, now = time(NULL);

	optind = 0;
	while ((ch = ctl_getopt(c, argc, argv, ":h", lo, &rc)) != -1) {
		if (ch == O_CASE) {
			if ((rc = ctl_id_arg(c, "--case", optarg,
			    &case_id)) != 0)
				return rc;
		} else if (ch == O_ALL)
			all = 1;
	}
	if (rc != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = ctl_no_args(c, argc, argv)) != 0 ||
	    (rc = ctl_ctx_open(c)) != 0)
		return rc;
	if (store_appt_rows(c->st, case_id, &v, &nv, err, sizeof err) != 0)
		return ctl_ioerr(err);
	for (i = 0; i < nv; i++) {
		const struct appt_row *a = &v[i];

		if (!all && (strcmp(a->status, "booked") != 0 ||
		    (tz_parse_any(a->starts_at, &t) == 0 && t < now)))
			continue;
		if (n++ == 0)
			printf("%-5s %-16s %-5s %-20s %-10s %-9s %4s  %s\n", "ID",
			    "WHEN", "CASE", "LABEL", "KIND", "MODE", "MIN",
			    "STATUS");
		printf("%-5lld %-16s %-5lld ", a->id,
		    ctl_when_short(a->starts_at, buf, sizeof buf), a->case_id);
		ctl_pad(a->case_label ? a->case_label : "", 20);
		printf(" %-10s %-9s %4d  %s", a->kind, a->mode,
		    a->duration_min, a->status);
		/* who gets its messages, when not the whole case (book --for) */
		if (a->for_client != 0)
			printf(" (for client %lld only)", a->for_client);
		putchar('\n');
	}
	appt_rows_free(v, nv);
	if (n == 0)
		printf("no %sappointments\n", all ? "" : "upcoming ");
	return 0;
}

/* ---- homework ---- */


/*
 * homework add's dates: --starts-on and --ends-on (YYYY-MM-DD, the end not
 * before the start) into h and, as text, sd and ed; --at (HH:MM) into
 * h->at and hm (left -1 and untouched without it).  0 or an exit code
 * (reported).
 */
static int
hw_dates(struct ctx *c, const char *starts, const char *ends, const char *at,
    char sd[static 40], char ed[static 40], char hm[static 24],
    struct homework *h)
{
	if (tz_parse_date(starts, &h->start_y, &h->start_m, &h->start_d) == -1)
		return ctl_bad_date(c, "--starts-on", starts, "9999-99-99",
		    "a date YYYY-MM-DD");
	if (ends && tz_parse_date(ends, &h->end_y, &h->end_m,
	    &h->end_d) == -1)
		return ctl_bad_date(c, "--ends-on", ends, "9999-99-99",
		    "a date YYYY-MM-DD");
	if (at && tz_parse_hhmm(at, &h->at) == -1)
		return ctl_fail(EX_USAGE, "%s: --at wants HH:MM, not '%s'",
		    c->cmd, at);
	snprintf(sd, 40, "%04d-%02d-%02d", h->start_y, h->start_m, h->start_d);
	if (ends) {
		h->has_end = 1;
		snprintf(ed, 40, "%04d-%02d-%02d", h->end_y, h->end_m, h->end_d);
		if (tz_days_from_civil(h->end_y, h->end_m, h->end_d) <
		    tz_days_from_civil(h->start_y, h->start_m, h->start_d))
			return ctl_fail(EX_DATAERR, "%s: --ends-on %s is "
			    "before --starts-on %s", c->cmd, ed, sd);
	}
	if (h->at >= 0)
		snprintf(hm, 24, "%02d:%02d", h->at / 60, h->at % 60);
	return 0;
}

/* nudged would refuse the same time in its config: say so now.  0 or EX_DATAERR. */
static int
hw_quiet(struct ctx *c, int min, const char *hm)
{
	int k, rc = 0;

	for (k = 0; k < CHAN_N && rc == 0; k++)
		if (c->conf->homework.channels[k] &&
		    conf_quiet_at(c->conf, (enum chan)k, min))
			rc = ctl_fail(EX_DATAERR, "%s: --at %s falls in quiet "
			    "hours (%02d:%02d-%02d:%02d) on %s", c->cmd, hm,
			    c->conf->quiet.from / 60, c->conf->quiet.from % 60,
			    c->conf->quiet.to / 60, c->conf->quiet.to % 60,
			    chan_name((enum chan)k));
	return rc;
}

/* What homework add did, printed once committed. */
static void
hw_added(struct ctx *c, long long id, long long case_id, const char *label,
    const char *title, long every, const char *sd, const char *ends,
    const char *ed, int min, const char *hm)
{
	ctl_outf(c, "homework %lld added: case %lld (%s), \"%s\", "
	    "every ", id, case_id, label, title);
	if (every == 1)
		ctl_outf(c, "day");
	else
		ctl_outf(c, "%ld days", every);
	ctl_outf(c, " from %s until %s at ", sd, ends ? ed :
	    "the next session");
	if (min >= 0)
		ctl_outf(c, "%s\n", hm);
	else
		ctl_outf(c, "%02d:%02d (homework.at)\n",
		    c->conf->homework.at / 60, c->conf->homework.at % 60);
}

/*
 * Homework without --ends-on lasts until the case's next session, or
 * PLAN_HW_OPEN days without one (the planner's rule).  With none booked,
 * its last day into last ("YYYY-MM-DD") and 1, else 0.
 */
static int
hw_open_ended(struct ctx *c, long long case_id, const struct homework *h,
    char last[static 16])
{
	time_t *starts = NULL;
	size_t n = 0;
	long day;
	int y = 1970, m = 1, d = 1, open;

	if (store_case_sessions(c->st, case_id, &starts, &n) != 0)
		return 0;
	open = plan_hw_open_last(h, starts, n, &day);
	free(starts);
	if (!open)
		return 0;
	tz_date_add_days(&y, &m, &d, day);
	snprintf(last, 16, "%04d-%02d-%02d", y, m, d);
	return 1;
}

/* What homework add was asked for. */
struct hw_opts {
	const char	*title, *prompt, *starts, *ends, *at;
	long long	 case_id;
	long		 every;
};

/* homework add's options and their presence.  0, DONE or an exit code. */
static int
hw_opts(struct ctx *c, int argc, char **argv, struct hw_opts *o)
{
	static const struct option lo[] = {
		{ "case", required_argument, NULL, O_CASE },
		{ "title", required_argument, NULL, O_TITLE },
		{ "prompt", required_argument, NULL, O_PROMPT },
		{ "starts-on", required_argument, NULL, O_STARTS },
		{ "ends-on", required_argument, NULL, O_ENDS },
		{ "every", required_argument, NULL, O_EVERY },
		{ "at", required_argument, NULL, O_AT },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	int ch, rc;

	*o = (struct hw_opts){ .every = 2 };
	optind = 0;
	while ((ch = ctl_getopt(c, argc, argv, ":h", lo, &rc)) != -1) {
		rc = 0;
		switch (ch) {
		case O_CASE:
			rc = ctl_id_arg(c, "--case", optarg, &o->case_id);
			break;
		case O_TITLE: o->title = optarg; break;
		case O_PROMPT: o->prompt = optarg; break;
		case O_STARTS: o->starts = optarg; break;
		case O_ENDS: o->ends = optarg; break;
		case O_EVERY:
			rc = ctl_num(c, "--every", optarg, 1, 365, &o->every);
			break;
		case O_AT: o->at = optarg; break;
		}
		if (rc != 0)
			return rc;
	}
	if (rc != 0)
		return rc;
	if ((rc = ctl_no_args(c, argc, argv)) != 0)
		return rc;
	if (o->case_id == 0 || o->title == NULL || o->prompt == NULL ||
	    o->starts == NULL)
		return ctl_fail(EX_USAGE, "%s: --case, --title, --prompt and "
		    "--starts-on are required", c->cmd);
	return 0;
}

int
cmd_homework_add(struct ctx *c, int argc, char **argv)
{
	struct hw_opts o;
	char *label = NULL, sd[40], ed[40], hm[24], err[512], last[16];
	struct homework h = { .at = -1 };
	long long id;
	int rc, open_ended;

	if ((rc = hw_opts(c, argc, argv, &o)) != 0)
		return rc == DONE ? 0 : rc;
	/* hw_opts requires them */
	assert(o.title != NULL && o.prompt != NULL && o.starts != NULL);
	if ((rc = hw_dates(c, o.starts, o.ends, o.at, sd, ed, hm, &h)) != 0)
		return rc;
	if ((rc = ctl_text_ok(c, "--title", o.title, 200)) != 0 ||
	    (rc = ctl_text_ok(c, "--prompt", o.prompt, 2000)) != 0 ||
	    (rc = ctl_tx_begin(c)) != 0)
		return rc;
	if (h.at >= 0)
		rc = hw_quiet(c, h.at, hm);
	if (rc == 0)
		rc = open_case(c, o.case_id, &label);
	h.case_id = o.case_id;
	h.title = (char *)o.title;
	h.prompt = (char *)o.prompt;
	h.every_days = (int)o.every;
	if (rc == 0 && store_homework_add(c->st, &h, &id, err, sizeof err) != 0)
		rc = ctl_ioerr(err);
	if (rc == 0)
		hw_added(c, id, o.case_id, label, o.title, o.every, sd, o.ends,
		    ed, h.at, hm);
	open_ended = rc == 0 && o.ends == NULL &&
	    hw_open_ended(c, o.case_id, &h, last);
	free(label);
	/* said once the homework is there, as what was done is */
	if ((rc = ctl_tx_end(c, rc)) == 0 && open_ended)
		ctl_warn(c, "no session of case %lld is booked after %s: its "
		    "prompts stop after %s (%d days) unless one is booked before; "
		    "--ends-on gives them another end", o.case_id, sd, last,
		    PLAN_HW_OPEN);
	return rc;
}

int
cmd_homework_list(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "case", required_argument, NULL, O_CASE },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	struct homework_row *v;
	long long case_id = 0;
	char at[16], err[512];
	size_t i, n;
	int ch, rc;

	optind = 0;
	while ((ch = ctl_getopt(c, argc, argv, ":h", lo, &rc)) != -1) {
		if (ch == O_CASE) {
			if ((rc = ctl_id_arg(c, "--case", optarg,
			    &case_id)) != 0)
				return rc;
		}
	}
	if (rc != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = ctl_no_args(c, argc, argv)) != 0 ||
	    (rc = ctl_ctx_open(c)) != 0)
		return rc;
	if (store_homework_rows(c->st, case_id, &v, &n, err, sizeof err) != 0)
		return ctl_ioerr(err);
	snprintf(at, sizeof at, "%02d:%02d", c->conf->homework.at / 60,
	    c->conf->homework.at % 60);
	for (i = 0; i < n; i++) {
		const struct homework_row *h = &v[i];

		if (i == 0)
			printf("%-5s %-5s %-20s %-8s %-28s %s\n", "ID", "CASE",
			    "LABEL", "STATUS", "TITLE", "SCHEDULE");
		printf("%-5lld %-5lld ", h->id, h->case_id);
		ctl_pad(h->case_label ? h->case_label : "", 20);
		printf(" %-8s ", h->active ? "active" : "stopped");
		ctl_pad(h->title, 28);
		printf(" every %d day(s) from %s until %s at %s\n",
		    h->every_days, h->starts_on,
		    h->ends_on ? h->ends_on : "next session",
		    h->at_time ? h->at_time : at);
	}
	homework_rows_free(v, n);
	if (n == 0)
		printf("no homework\n");
	return 0;
}

int
cmd_homework_stop(struct ctx *c, int argc, char **argv)
{
	struct homework_row h;
	char err[512];
	long long id;
	int rc;

	if ((rc = ctl_id_tx(c, argc, argv, "homework", &id)) != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = ctl_found(c, store_homework_row(c->st, id, &h, err,
	    sizeof err), "homework", id, err)) != 0)
		return ctl_tx_end(c, rc);
	if (!h.active)
		rc = ctl_fail(EX_DATAERR, "%s: homework %lld is stopped "
		    "already", c->cmd, id);
	else if (store_homework_stop(c->st, id, err, sizeof err) != 0)
		rc = ctl_ioerr(err);
	if (rc == 0)
		ctl_outf(c, "homework %lld stopped: case %lld, \"%s\"\n", id,
		    h.case_id, h.title);
	homework_row_free(&h);
	return ctl_tx_end(c, rc);
}
