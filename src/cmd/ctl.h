/*
 * ctl.h: what the pieces of nudgectl share; private to ctl*.c.
 *
 * ctl.c: main, dispatch; ctl_util.c: option and output helpers, opening
 * the database, transactions (the SQL is store/'s: store_people.c,
 * store_diary.c);
 * ctl_people.c: clients and cases; ctl_diary.c: appointments and
 * homework; ctl_outbox.c: upcoming, outbox, send-test.
 *
 * The helpers that report an error write one line on stderr and return
 * the sysexits code to exit with (see the top of ctl.c); the option
 * parsers also return DONE once --help was printed.
 */
#ifndef NUDGED_CTL_H
#define NUDGED_CTL_H

#include <stddef.h>
#include <time.h>

#include "conf/conf.h"
#include "store/store.h"
#include "base/util.h"

struct ctx {
	const char	*confpath;
	char		 cmd[40];	/* "client add", for messages */
	const char	*usage;
	struct conf	*conf;
	struct store	*st;
	struct sbuf	 out;		/* printed once committed */
	int		 preview;	/* open a private copy of the database */
	int		 init;		/* create the database's folder if missing */
};

enum {
	O_NAME = 256, O_FIRST, O_EMAIL, O_PHONE, O_SMS, O_NO_SMS, O_EMAIL_OK,
	O_NO_EMAIL, O_DISCREET, O_NO_DISCREET, O_CLR_EMAIL, O_CLR_PHONE,
	O_CLR_FIRST, O_LABEL, O_CLIENT, O_CASE, O_AT, O_DURATION, O_KIND,
	O_MODE, O_VIDEO, O_WEEKLY, O_TO, O_TITLE, O_PROMPT, O_STARTS, O_ENDS,
	O_EVERY, O_DAYS, O_NOW, O_FAILED, O_SINCE, O_LIMIT, O_ALL,
	O_STATUS, O_UNTIL, O_WEEK, O_CANCEL_FUTURE, O_FORCE,
	O_FOR, O_EVERYONE	/* issue 9 */
};

#define HELP_OPT	{ "help", no_argument, NULL, 'h' }

/* Returned by option parsers when --help was printed: exit 0. */
#define DONE	(-1)

/* ---- errors and output ---- */
int	 ctl_fail(int, const char *, ...) __attribute__((format(printf, 2, 3)));
void	 ctl_outf(struct ctx *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 ctl_warn(const struct ctx *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
const char *ctl_when_short(const char *, char *, size_t);
void	 ctl_pad(const char *, int width);
int	 ctl_bad_date(const struct ctx *, const char *opt, const char *,
	    const char *form, const char *want);
int	 ctl_date_arg(const struct ctx *, const char *opt, const char *,
	    time_t *);

/* ---- options and arguments ---- */
int	 ctl_help(const struct ctx *);
/*
 * The next option (getopt_long: shorts, with ":h" first, and lo; set
 * optind = 0 before the first), or -1 at the end.  --help (printed) and
 * a bad option (reported) end it too: *rc is then DONE or the exit code,
 * else 0.
 */
struct option;
int	 ctl_getopt(struct ctx *, int, char **, const char *shorts,
	    const struct option *lo, int *rc);
int	 ctl_badopt(const struct ctx *, int, char **);
int	 ctl_no_args(const struct ctx *, int, char **);
int	 ctl_num(const struct ctx *, const char *opt, const char *, long min,
	    long max, long *);
int	 ctl_id_arg(const struct ctx *, const char *opt, const char *,
	    long long *);
int	 ctl_one_id(const struct ctx *, int, char **, const char *what,
	    long long *);
int	 ctl_text_ok(const struct ctx *, const char *what, const char *,
	    size_t max);
int	 ctl_args_none(struct ctx *, int, char **);
/* --mode into *mode.  0 or EX_USAGE (reported). */
int	 ctl_mode_arg(const struct ctx *, const char *, enum appt_mode *);
/* --video-url: an http(s):// link, no spaces.  0 or an exit code (reported). */
int	 ctl_video_arg(const struct ctx *, const char *);
int	 ctl_args_id(struct ctx *, int, char **, const char *what, long long *);

/* ---- configuration, database, transactions ---- */
int	 ctl_ctx_open(struct ctx *);
/* Report the database's last error (a permission problem named as one): EX_IOERR. */
int	 ctl_dberr(struct ctx *);
int	 ctl_tx_begin(struct ctx *);
int	 ctl_tx_end(struct ctx *, int);
/* A store call's -1: err reported, EX_IOERR. */
int	 ctl_ioerr(const char *err);
/*
 * A one-row read's enum store_rc: 0 when found, else reported and the
 * exit code: EX_DATAERR "<what> N does not exist", EX_IOERR with err.
 */
int	 ctl_found(const struct ctx *, int found, const char *what, long long,
	    const char *err);
/*
 * The start of cancel, client opt-out, case close, ...: the command's one
 * id (ctl_args_id) and a transaction.  0: go on inside it; else DONE or
 * an exit code, with nothing left open.
 */
int	 ctl_id_tx(struct ctx *, int, char **, const char *what, long long *);

/* ---- commands (ctl_people.c) ---- */
int	 cmd_client_add(struct ctx *, int, char **);
int	 cmd_client_list(struct ctx *, int, char **);
int	 cmd_client_show(struct ctx *, int, char **);
int	 cmd_client_edit(struct ctx *, int, char **);
int	 cmd_client_optout(struct ctx *, int, char **);
int	 cmd_client_optin(struct ctx *, int, char **);
int	 cmd_case_add(struct ctx *, int, char **);
int	 cmd_case_list(struct ctx *, int, char **);
int	 cmd_case_close(struct ctx *, int, char **);
int	 cmd_case_reopen(struct ctx *, int, char **);
int	 cmd_client_delete(struct ctx *, int, char **);

/* ---- commands (ctl_diary.c) ---- */
int	 cmd_book(struct ctx *, int, char **);
int	 cmd_appointments(struct ctx *, int, char **);
int	 cmd_cancel(struct ctx *, int, char **);
int	 cmd_move(struct ctx *, int, char **);
int	 cmd_homework_add(struct ctx *, int, char **);
int	 cmd_homework_list(struct ctx *, int, char **);
int	 cmd_homework_stop(struct ctx *, int, char **);

/* consent_log.how for this command (ctl_util.c). */
const char *ctl_how(const struct ctx *, char *, size_t);

/* ---- data care (ctl_privacy.c, issue 14) ---- */
int	 ctl_consent_history(struct ctx *, long long client_id);
int	 cmd_client_export(struct ctx *, int, char **);
int	 cmd_client_forget(struct ctx *, int, char **);
int	 cmd_alert(struct ctx *, int, char **);
/* ---- commands (ctl_client.c, issue 9) ---- */
int	 cmd_appt_edit(struct ctx *, int, char **);
int	 cmd_templates(struct ctx *, int, char **);
/* Is client a member of case?  0, or an exit code (reported). */
int	 ctl_member_of(struct ctx *, long long case_id, long long client);

/* ---- commands (ctl_outbox.c) ---- */
int	 cmd_upcoming(struct ctx *, int, char **);
int	 cmd_outbox(struct ctx *, int, char **);
int	 cmd_send_test(struct ctx *, int, char **);

/* ---- commands (ctl_cal.c, issue 10) ---- */
int	 cmd_import(struct ctx *, int, char **);
int	 cmd_calendar_sync(struct ctx *, int, char **);
int	 cmd_calendar_unmatched(struct ctx *, int, char **);
/* nudgectl status: one line per feed; 1 when one is failing (why gets ", ..."). */
int	 ctl_cal_status(struct ctx *, struct sbuf *why);
/* ---- commands (ctl_report.c) ---- */
int	 cmd_report(struct ctx *, int, char **);

/* ---- commands (ctl_status.c) ---- */
int	 cmd_status(struct ctx *, int, char **);
int	 cmd_problems(struct ctx *, int, char **);

#endif
