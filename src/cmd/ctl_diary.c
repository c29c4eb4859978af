/*
 * ctl_diary: nudgectl's appointment and homework commands (book,
 * appointments, cancel, move; homework add, list, stop).  Times are
 * typed as local wall time in practice.timezone and stored in UTC.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <sqlite3.h>

#include "conf/conf.h"
#include "cmd/ctl.h"
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
	char *v[2];
	int rc;

	*label = NULL;
	if ((rc = ctl_q_row(c, "case", id, "SELECT label, closed_at FROM cases "
	    "WHERE id = ?1", v, 2)) != 0)
		return rc;
	if (v[1] != NULL) {
		rc = ctl_fail(EX_DATAERR, "%s: case %lld (%s) is closed",
		    c->cmd, id, v[0]);
		ctl_free_row(v, 2);
		return rc;
	}
	*label = v[0];
	return 0;
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
	sqlite3_stmt *s;
	char buf[96];
	time_t t;
	int r = 0, rc = 0;

	if ((s = ctl_q_prep(c, "SELECT id, starts_at, duration_min FROM "
	    "appointments WHERE case_id = ?1 AND status = 'booked' AND "
	    "id <> ?2", "II", case_id, skip)) == NULL)
		return EX_IOERR;
	while (rc == 0 && (r = ctl_q_step(c, s)) == 1) {
		/* An unreadable row is nudged's to report, not ours. */
		if (tz_parse_any(ctl_ctext(s, 1), &t) == -1)
			continue;
		if (t < start + dur * 60 &&
		    start < t + sqlite3_column_int64(s, 2) * 60)
			rc = ctl_fail(EX_DATAERR, "%s: case %lld already has "
			    "appointment %lld on %s", c->cmd, case_id,
			    (long long)sqlite3_column_int64(s, 0),
			    when(t, buf, sizeof buf));
	}
	sqlite3_finalize(s);
	return r == -1 ? EX_IOERR : rc;
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
	    sizeof err)) == -1)
		return ctl_fail(EX_IOERR, "%s", err);
	if (r == 1)
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
	const char	*video, *label;
	long		 dur;
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
	if (k->mode_arg != NULL && appt_mode_parse(k->mode_arg, &k->mode) == -1)
		return ctl_fail(EX_USAGE, "%s: --mode is in_person, online or "
		    "phone, not '%s'", c->cmd, k->mode_arg);
	if (k->mode_arg == NULL)
		k->mode = k->video ? MODE_ONLINE : k->kind == KIND_CALL ?
		    MODE_PHONE : MODE_IN_PERSON;
	if (k->video != NULL && k->mode != MODE_ONLINE)
		return ctl_fail(EX_USAGE, "%s: --video-url is for --mode "
		    "online", c->cmd);
	if (k->video != NULL &&
	    ((rc = ctl_text_ok(c, "--video-url", k->video, 500)) != 0 ||
	    (strncmp(k->video, "https://", 8) != 0 &&
	    strncmp(k->video, "http://", 7) != 0) || strchr(k->video, ' ') != NULL))
		return rc ? rc : ctl_fail(EX_DATAERR, "%s: --video-url must be "
		    "an http(s):// link without spaces", c->cmd);
	if (k->dur == 0)
		k->dur = k->kind == KIND_ASSESSMENT ? 90 :
		    k->kind == KIND_CALL ? 15 : 60;
	return 0;
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
	char buf[96];
	struct tm tm;
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
	tz_format_utc(t, buf);
	if ((rc = ctl_q_exec(c, "INSERT INTO appointments (case_id, "
	    "starts_at, duration_min, kind, mode, video_url, status) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'booked')", "Itittt",
	    k->case_id, buf, (int)k->dur, appt_kind_name(k->kind),
	    appt_mode_name(k->mode), k->video)) != 0)
		return rc;
	if (k->forc != 0 && (rc = ctl_q_exec(c, "UPDATE appointments SET "
	    "for_client = ?1 WHERE id = ?2", "II", k->forc,
	    (long long)sqlite3_last_insert_rowid(c->db))) != 0)
		return rc;
	ctl_outf(c, "appointment %lld booked: case %lld (%s), %s on "
	    "%s, %ld minutes, %s",
	    (long long)sqlite3_last_insert_rowid(c->db),
	    k->case_id, k->label, appt_kind_name(k->kind),
	    when(t, buf, sizeof buf), k->dur,
	    mode_words(k->mode));
	if (k->forc != 0)
		ctl_outf(c, ", for client %lld only", k->forc);
	tz_to_local(t, &tm);
	if (tm.tm_hour * 60 + tm.tm_min != k->min)
		ctl_outf(c, " (%02d:%02d does not exist that day: the "
		    "clocks go forward)", k->min / 60, k->min % 60);
	ctl_outf(c, "\n");
	return 0;
}

int
cmd_book(struct ctx *c, int argc, char **argv)
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
	struct book k = { .kind_arg = "session" };
	const char *at = NULL;
	char *label = NULL;
	long weekly = 1, i;
	int ch, rc;
	time_t now;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		rc = 0;
		switch (ch) {
		case O_CASE:
			rc = ctl_id_arg(c, "--case", optarg, &k.case_id);
			break;
		case O_AT: at = optarg; break;
		case O_DURATION:
			rc = ctl_num(c, "--duration", optarg, 5, 600, &k.dur);
			break;
		case O_KIND: k.kind_arg = optarg; break;
		case O_MODE: k.mode_arg = optarg; break;
		case O_VIDEO: k.video = optarg; break;
		case O_WEEKLY:
			rc = ctl_num(c, "--weekly", optarg, 1, 104, &weekly);
			break;
		case O_FOR:
			rc = ctl_id_arg(c, "--for", optarg, &k.forc);
			break;
		case 'h':
			return ctl_help(c);
		default:
			return ctl_badopt(c, ch, argv);
		}
		if (rc != 0)
			return rc;
	}
	if ((rc = ctl_no_args(c, argc, argv)) != 0)
		return rc;
	if (k.case_id == 0 || at == NULL)
		return ctl_fail(EX_USAGE, "%s: --case and --at are required",
		    c->cmd);
	if ((rc = book_check(c, &k)) != 0 ||
	    (rc = wall_time(c, "--at", at, &k.y, &k.mo, &k.d, &k.min)) != 0 ||
	    (rc = ctl_tx_begin(c)) != 0)
		return rc;
	if ((rc = open_case(c, k.case_id, &label)) != 0 ||
	    (k.forc != 0 && (rc = ctl_member_of(c, k.case_id, k.forc)) != 0)) {
		free(label);
		return ctl_tx_end(c, rc);
	}
	k.label = label;
	now = time(NULL);
	for (i = 0; i < weekly && rc == 0; i++)
		rc = book_one(c, &k, i, weekly > 1, now);
	free(label);
	return ctl_tx_end(c, rc);
}

/* Appointment id's case, start, status, duration, label, case closed_at. */
#define APPT_SQL	"SELECT a.case_id, a.starts_at, a.status, " \
	"a.duration_min, k.label, k.closed_at FROM appointments a " \
	"LEFT JOIN cases k ON k.id = a.case_id WHERE a.id = ?1"

int
cmd_cancel(struct ctx *c, int argc, char **argv)
{
	char *v[6], buf[96];
	long long id;
	time_t t;
	int rc;

	if ((rc = ctl_id_row(c, argc, argv, "appointment", APPT_SQL, v, 6,
	    &id)) != 0)
		return rc == DONE ? 0 : rc;
	if (v[2] != NULL && strcmp(v[2], "cancelled") == 0)
		rc = ctl_fail(EX_DATAERR, "%s: appointment %lld is cancelled "
		    "already", c->cmd, id);
	else
		rc = ctl_q_exec(c, "UPDATE appointments SET status = "
		    "'cancelled' WHERE id = ?1", "I", id);
	if (rc == 0)
		ctl_outf(c, "appointment %lld cancelled: case %s (%s), %s\n",
		    id, v[0], v[4] ? v[4] : "?", tz_parse_any(v[1], &t) == 0 ?
		    when(t, buf, sizeof buf) : v[1]);
	ctl_free_row(v, 6);
	return ctl_tx_end(c, rc);
}

int
cmd_move(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "to", required_argument, NULL, O_TO },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	const char *to = NULL;
	char *v[6], buf[96], old[96];
	long long id, case_id;
	long dur, n;
	int ch, rc, y, mo, d, min;
	time_t t, was;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (ch == O_TO)
			to = optarg;
		else if (ch == 'h')
			return ctl_help(c);
		else
			return ctl_badopt(c, ch, argv);
	}
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
	if ((rc = ctl_q_row(c, "appointment", id, APPT_SQL, v, 6)) != 0)
		return ctl_tx_end(c, rc);
	case_id = parse_long(v[0], 1, LONG_MAX, &n) == 0 ? n : 0;
	if (v[3] == NULL || parse_long(v[3], 1, 100000, &dur) == -1)
		dur = 60;
	if (tz_parse_any(v[1], &was) == 0)
		when(was, old, sizeof old);
	else {
		snprintf(old, sizeof old, "'%s'", v[1]);
		was = 0;
	}
	if (v[2] != NULL && strcmp(v[2], "cancelled") == 0)
		rc = ctl_fail(EX_DATAERR, "%s: appointment %lld is cancelled",
		    c->cmd, id);
	else if (v[5] != NULL)
		rc = ctl_fail(EX_DATAERR, "%s: case %lld (%s) is closed",
		    c->cmd, case_id, v[4]);
	else if (t <= time(NULL))
		rc = ctl_fail(EX_DATAERR, "%s: %s is in the past", c->cmd,
		    when(t, buf, sizeof buf));
	else if (t == was)
		rc = ctl_fail(EX_DATAERR, "%s: appointment %lld is on %s "
		    "already", c->cmd, id, old);
	else if ((rc = overlap(c, case_id, id, t, dur)) == 0 &&
	    (rc = double_booked(c, case_id, id, t, dur)) == 0) {
		tz_format_utc(t, buf);
		rc = ctl_q_exec(c, "UPDATE appointments SET starts_at = ?1 "
		    "WHERE id = ?2", "tI", buf, id);
	}
	if (rc == 0)
		ctl_outf(c, "appointment %lld moved: case %lld (%s), from %s "
		    "to %s\n", id, case_id, v[4] ? v[4] : "?", old,
		    when(t, buf, sizeof buf));
	ctl_free_row(v, 6);
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
	sqlite3_stmt *s;
	long long case_id = 0;
	char buf[32];
	int ch, rc, r, all = 0, n = 0;
	time_t t, now = time(NULL);

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (ch == O_CASE) {
			if ((rc = ctl_id_arg(c, "--case", optarg,
			    &case_id)) != 0)
				return rc;
		} else if (ch == O_ALL)
			all = 1;
		else if (ch == 'h')
			return ctl_help(c);
		else
			return ctl_badopt(c, ch, argv);
	}
	if ((rc = ctl_no_args(c, argc, argv)) != 0 ||
	    (rc = ctl_ctx_open(c)) != 0)
		return rc;
	if ((s = ctl_q_prep(c, "SELECT a.id, a.case_id, k.label, a.starts_at, "
	    "a.duration_min, a.kind, a.mode, a.status FROM appointments a "
	    "LEFT JOIN cases k ON k.id = a.case_id WHERE ?1 = 0 OR "
	    "a.case_id = ?1 ORDER BY a.starts_at, a.id", "I", case_id)) == NULL)
		return EX_IOERR;
	while ((r = ctl_q_step(c, s)) == 1) {
		if (!all && (strcmp(ctl_ctext(s, 7), "booked") != 0 ||
		    (tz_parse_any(ctl_ctext(s, 3), &t) == 0 && t < now)))
			continue;
		if (n++ == 0)
			printf("%-5s %-16s %-5s %-20s %-10s %-9s %4s  %s\n", "ID",
			    "WHEN", "CASE", "LABEL", "KIND", "MODE", "MIN",
			    "STATUS");
		printf("%-5lld %-16s %-5lld ",
		    (long long)sqlite3_column_int64(s, 0),
		    ctl_when_short(ctl_ctext(s, 3), buf, sizeof buf),
		    (long long)sqlite3_column_int64(s, 1));
		ctl_pad(ctl_ctext(s, 2), 20);
		printf(" %-10s %-9s %4d  %s\n",
		    ctl_ctext(s, 5), ctl_ctext(s, 6), sqlite3_column_int(s, 4),
		    ctl_ctext(s, 7));
	}
	sqlite3_finalize(s);
	if (r == -1)
		return EX_IOERR;
	if (n == 0)
		printf("no %sappointments\n", all ? "" : "upcoming ");
	return 0;
}

/* ---- homework ---- */


/*
 * homework add's dates: --starts-on and --ends-on (YYYY-MM-DD, the end not
 * before the start) into sd and ed, --at (HH:MM) into *min and hm (-1 and
 * untouched without it).  0 or an exit code (reported).
 */
static int
hw_dates(struct ctx *c, const char *starts, const char *ends, const char *at,
    char sd[static 40], char ed[static 40], char hm[static 24], int *min)
{
	int y, mo, d, y2 = 0, mo2 = 0, d2 = 0;

	if (tz_parse_date(starts, &y, &mo, &d) == -1)
		return ctl_bad_date(c, "--starts-on", starts, "9999-99-99",
		    "a date YYYY-MM-DD");
	if (ends && tz_parse_date(ends, &y2, &mo2, &d2) == -1)
		return ctl_bad_date(c, "--ends-on", ends, "9999-99-99",
		    "a date YYYY-MM-DD");
	if (at && tz_parse_hhmm(at, min) == -1)
		return ctl_fail(EX_USAGE, "%s: --at wants HH:MM, not '%s'",
		    c->cmd, at);
	snprintf(sd, 40, "%04d-%02d-%02d", y, mo, d);
	if (ends) {
		snprintf(ed, 40, "%04d-%02d-%02d", y2, mo2, d2);
		if (tz_days_from_civil(y2, mo2, d2) < tz_days_from_civil(y, mo, d))
			return ctl_fail(EX_DATAERR, "%s: --ends-on %s is "
			    "before --starts-on %s", c->cmd, ed, sd);
	}
	if (*min >= 0)
		snprintf(hm, 24, "%02d:%02d", *min / 60, *min % 60);
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
hw_added(struct ctx *c, long long case_id, const char *label,
    const char *title, long every, const char *sd, const char *ends,
    const char *ed, int min, const char *hm)
{
	ctl_outf(c, "homework %lld added: case %lld (%s), \"%s\", "
	    "every ", (long long)sqlite3_last_insert_rowid(c->db),
	    case_id, label, title);
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

int
cmd_homework_add(struct ctx *c, int argc, char **argv)
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
	const char *title = NULL, *prompt = NULL, *starts = NULL, *ends = NULL;
	const char *at = NULL;
	char *label = NULL, sd[40], ed[40], hm[24];
	long long case_id = 0;
	long every = 2;
	int ch, rc, min = -1;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		rc = 0;
		switch (ch) {
		case O_CASE:
			rc = ctl_id_arg(c, "--case", optarg, &case_id);
			break;
		case O_TITLE: title = optarg; break;
		case O_PROMPT: prompt = optarg; break;
		case O_STARTS: starts = optarg; break;
		case O_ENDS: ends = optarg; break;
		case O_EVERY:
			rc = ctl_num(c, "--every", optarg, 1, 365, &every);
			break;
		case O_AT: at = optarg; break;
		case 'h':
			return ctl_help(c);
		default:
			return ctl_badopt(c, ch, argv);
		}
		if (rc != 0)
			return rc;
	}
	if ((rc = ctl_no_args(c, argc, argv)) != 0)
		return rc;
	if (case_id == 0 || title == NULL || prompt == NULL || starts == NULL)
		return ctl_fail(EX_USAGE, "%s: --case, --title, --prompt and "
		    "--starts-on are required", c->cmd);
	if ((rc = hw_dates(c, starts, ends, at, sd, ed, hm, &min)) != 0)
		return rc;
	if ((rc = ctl_text_ok(c, "--title", title, 200)) != 0 ||
	    (rc = ctl_text_ok(c, "--prompt", prompt, 2000)) != 0 ||
	    (rc = ctl_tx_begin(c)) != 0)
		return rc;
	if (min >= 0)
		rc = hw_quiet(c, min, hm);
	if (rc == 0)
		rc = open_case(c, case_id, &label);
	if (rc == 0)
		rc = ctl_q_exec(c, "INSERT INTO homework (case_id, title, "
		    "prompt, starts_on, ends_on, every_days, at_time) VALUES "
		    "(?1, ?2, ?3, ?4, ?5, ?6, ?7)", "Ittttit", case_id, title,
		    prompt, sd, ends ? ed : NULL, (int)every,
		    min >= 0 ? hm : NULL);
	if (rc == 0)
		hw_added(c, case_id, label, title, every, sd, ends, ed, min, hm);
	free(label);
	return ctl_tx_end(c, rc);
}

int
cmd_homework_list(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "case", required_argument, NULL, O_CASE },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	sqlite3_stmt *s;
	long long case_id = 0;
	char at[16];
	int ch, rc, r, n = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (ch == O_CASE) {
			if ((rc = ctl_id_arg(c, "--case", optarg,
			    &case_id)) != 0)
				return rc;
		} else if (ch == 'h')
			return ctl_help(c);
		else
			return ctl_badopt(c, ch, argv);
	}
	if ((rc = ctl_no_args(c, argc, argv)) != 0 ||
	    (rc = ctl_ctx_open(c)) != 0)
		return rc;
	if ((s = ctl_q_prep(c, "SELECT h.id, h.case_id, k.label, h.title, "
	    "h.starts_on, h.ends_on, h.every_days, h.at_time, h.active "
	    "FROM homework h LEFT JOIN cases k ON k.id = h.case_id "
	    "WHERE ?1 = 0 OR h.case_id = ?1 ORDER BY h.id", "I",
	    case_id)) == NULL)
		return EX_IOERR;
	snprintf(at, sizeof at, "%02d:%02d", c->conf->homework.at / 60,
	    c->conf->homework.at % 60);
	while ((r = ctl_q_step(c, s)) == 1) {
		if (n++ == 0)
			printf("%-5s %-5s %-20s %-8s %-28s %s\n", "ID", "CASE",
			    "LABEL", "STATUS", "TITLE", "SCHEDULE");
		printf("%-5lld %-5lld ", (long long)sqlite3_column_int64(s, 0),
		    (long long)sqlite3_column_int64(s, 1));
		ctl_pad(ctl_ctext(s, 2), 20);
		printf(" %-8s ", sqlite3_column_int(s, 8) ? "active" :
		    "stopped");
		ctl_pad(ctl_ctext(s, 3), 28);
		printf(" every %d day(s) from %s "
		    "until %s at %s\n", sqlite3_column_int(s, 6), ctl_ctext(s, 4),
		    sqlite3_column_type(s, 5) == SQLITE_NULL ? "next session" :
		    ctl_ctext(s, 5),
		    sqlite3_column_type(s, 7) == SQLITE_NULL ? at :
		    ctl_ctext(s, 7));
	}
	sqlite3_finalize(s);
	if (r == -1)
		return EX_IOERR;
	if (n == 0)
		printf("no homework\n");
	return 0;
}

int
cmd_homework_stop(struct ctx *c, int argc, char **argv)
{
	char *v[3];
	long long id;
	long active = 1;
	int rc;

	if ((rc = ctl_id_row(c, argc, argv, "homework", "SELECT title, "
	    "active, case_id FROM homework WHERE id = ?1", v, 3, &id)) != 0)
		return rc == DONE ? 0 : rc;
	if (v[1] != NULL && parse_long(v[1], LONG_MIN, LONG_MAX, &active) == 0 &&
	    active == 0)
		rc = ctl_fail(EX_DATAERR, "%s: homework %lld is stopped "
		    "already", c->cmd, id);
	else
		rc = ctl_q_exec(c, "UPDATE homework SET active = 0 WHERE "
		    "id = ?1", "I", id);
	if (rc == 0)
		ctl_outf(c, "homework %lld stopped: case %s, \"%s\"\n", id,
		    v[2], v[0]);
	ctl_free_row(v, 3);
	return ctl_tx_end(c, rc);
}
