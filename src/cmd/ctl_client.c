/*
 * ctl_client: nudgectl's commands about what clients receive (issue 9):
 * `edit APPOINTMENT` (mode, duration, link, who it is for) and
 * `templates [GROUP]` (the built-in wording, printed as it is written).
 *
 * `edit` only changes the row.  The planner notices the change (the
 * details a client was last sent differ) and sends those already reminded
 * a 'moved' notice with an updated calendar entry, instead of the
 * cancellation a cancel-and-rebook would have sent.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cmd/ctl.h"
#include "base/tmpl.h"

/* The appointment as it is: case, kind, mode, duration, link, status, for. */
#define EDIT_SQL "SELECT case_id, kind, mode, duration_min, video_url, " \
	"status, for_client FROM appointments WHERE id = ?1"

/* Is client a member of case? 0, or an exit code. */
int
ctl_member_of(struct ctx *c, long long case_id, long long client)
{
	sqlite3_stmt *s;
	int r;

	if ((s = ctl_q_prep(c, "SELECT 1 FROM case_members WHERE case_id = ?1 "
	    "AND client_id = ?2", "II", case_id, client)) == NULL)
		return EX_IOERR;
	r = ctl_q_step(c, s);
	sqlite3_finalize(s);
	if (r == -1)
		return EX_IOERR;
	if (r == 0)
		return ctl_fail(EX_DATAERR, "%s: client %lld is not a member of "
		    "case %lld", c->cmd, client, case_id);
	return 0;
}

/* What appointment edit was asked to change. */
struct appt_edit {
	const char	*mode_arg, *video;	/* mode_arg: --mode as typed */
	enum appt_mode	 mode;		/* parsed by edit_check */
	long long	 forc;
	long		 dur;
	int		 everyone;
};

/* The options' own checks, before the database.  0 or an exit code. */
static int
edit_check(struct ctx *c, struct appt_edit *e)
{
	int rc;

	if (e->mode_arg == NULL && e->video == NULL && e->dur == 0 &&
	    e->forc == 0 && !e->everyone)
		return ctl_fail(EX_USAGE, "%s: nothing to change (see --help)",
		    c->cmd);
	if (e->forc != 0 && e->everyone)
		return ctl_fail(EX_USAGE, "%s: --for or --everyone, not both",
		    c->cmd);
	if (e->mode_arg != NULL && appt_mode_parse(e->mode_arg, &e->mode) == -1)
		return ctl_fail(EX_USAGE, "%s: --mode is in_person, online or "
		    "phone, not '%s'", c->cmd, e->mode_arg);
	if (e->video != NULL &&
	    ((rc = ctl_text_ok(c, "--video-url", e->video, 500)) != 0 ||
	    (strncmp(e->video, "https://", 8) != 0 &&
	    strncmp(e->video, "http://", 7) != 0) ||
	    strchr(e->video, ' ') != NULL))
		return rc ? rc : ctl_fail(EX_DATAERR, "%s: --video-url must be "
		    "an http(s):// link without spaces", c->cmd);
	return 0;
}

/* The changes, in the transaction.  0 or an exit code (reported). */
static int
edit_apply(struct ctx *c, const struct appt_edit *e, long long id)
{
	int rc = 0;

	/* Leaving online drops its own link: the next online one gets practice.video_url. */
	if (e->mode_arg != NULL && e->mode != MODE_ONLINE)
		rc = ctl_q_exec(c, "UPDATE appointments SET video_url = NULL "
		    "WHERE id = ?1", "I", id);
	if (rc == 0 && e->mode_arg != NULL)
		rc = ctl_q_exec(c, "UPDATE appointments SET mode = ?1 WHERE "
		    "id = ?2", "tI", appt_mode_name(e->mode), id);
	if (rc == 0 && e->video != NULL)
		rc = ctl_q_exec(c, "UPDATE appointments SET video_url = ?1 "
		    "WHERE id = ?2", "tI", e->video, id);
	if (rc == 0 && e->dur != 0)
		rc = ctl_q_exec(c, "UPDATE appointments SET duration_min = ?1 "
		    "WHERE id = ?2", "iI", (int)e->dur, id);
	if (rc == 0 && e->forc != 0)
		rc = ctl_q_exec(c, "UPDATE appointments SET for_client = ?1 "
		    "WHERE id = ?2", "II", e->forc, id);
	if (rc == 0 && e->everyone)
		rc = ctl_q_exec(c, "UPDATE appointments SET for_client = NULL "
		    "WHERE id = ?1", "I", id);
	return rc;
}

/* What changed, printed once committed; v: the row before (EDIT_SQL). */
static void
edit_report(struct ctx *c, const struct appt_edit *e, long long id, char **v)
{
	ctl_outf(c, "appointment %lld changed:", id);
	if (e->mode_arg != NULL)
		ctl_outf(c, " mode %s -> %s", v[2] ? v[2] : "?",
		    appt_mode_name(e->mode));
	if (e->dur != 0)
		ctl_outf(c, " duration %s -> %ld minutes", v[3] ? v[3] :
		    "?", e->dur);
	if (e->video != NULL)
		ctl_outf(c, " new video link");
	if (e->forc != 0)
		ctl_outf(c, " for client %lld only", e->forc);
	if (e->everyone)
		ctl_outf(c, " for every member of the case");
	ctl_outf(c, "\n");
	if (c->conf->notify_move)
		ctl_outf(c, "(clients already reminded get a change "
		    "notice)\n");
}

int
cmd_appt_edit(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "mode", required_argument, NULL, O_MODE },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "video-url", required_argument, NULL, O_VIDEO },
		{ "for", required_argument, NULL, O_FOR },
		{ "everyone", no_argument, NULL, O_EVERYONE },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	struct appt_edit e = { 0 };
	enum appt_mode was;	/* the stored mode, when readable */
	char *v[7];
	long long id, case_id;
	long n;
	int ch, rc;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		rc = 0;
		switch (ch) {
		case O_MODE: e.mode_arg = optarg; break;
		case O_VIDEO: e.video = optarg; break;
		case O_DURATION:
			rc = ctl_num(c, "--duration", optarg, 5, 600, &e.dur);
			break;
		case O_FOR:
			rc = ctl_id_arg(c, "--for", optarg, &e.forc);
			break;
		case O_EVERYONE: e.everyone = 1; break;
		case 'h':
			return ctl_help(c);
		default:
			return ctl_badopt(c, ch, argv);
		}
		if (rc != 0)
			return rc;
	}
	if ((rc = ctl_one_id(c, argc, argv, "appointment", &id)) != 0)
		return rc;
	if ((rc = edit_check(c, &e)) != 0)
		return rc;
	if ((rc = ctl_tx_begin(c)) != 0)
		return rc;
	if ((rc = ctl_q_row(c, "appointment", id, EDIT_SQL, v, 7)) != 0)
		return ctl_tx_end(c, rc);
	case_id = parse_long(v[0], 1, LONG_MAX, &n) == 0 ? n : 0;
	if (v[5] != NULL && strcmp(v[5], "cancelled") == 0)
		rc = ctl_fail(EX_DATAERR, "%s: appointment %lld is cancelled",
		    c->cmd, id);
	else if (e.video != NULL && (e.mode_arg != NULL ? e.mode :
	    appt_mode_parse(v[2], &was) == 0 ? was : MODE_N) != MODE_ONLINE)
		rc = ctl_fail(EX_USAGE, "%s: --video-url is for an online "
		    "appointment (add --mode online)", c->cmd);
	else if (e.forc != 0)
		rc = ctl_member_of(c, case_id, e.forc);
	if (rc == 0)
		rc = edit_apply(c, &e, id);
	if (rc == 0)
		edit_report(c, &e, id, v);
	ctl_free_row(v, 7);
	return ctl_tx_end(c, rc);
}

static void
print_group(const char *g)
{
	for (size_t k = 0; tmpl_keys[k] != NULL; k++) {
		const char *t = tmpl_builtin(g, tmpl_keys[k]);

		printf("[%s.%s]\n%s%s\n", g, tmpl_keys[k], t != NULL ? t : "",
		    t != NULL && t[0] != '\0' && t[strlen(t) - 1] == '\n' ? "" :
		    "\n");
	}
}

int
cmd_templates(struct ctx *c, int argc, char **argv)
{
	static const struct option lo[] = { HELP_OPT, { NULL, 0, NULL, 0 } };
	int ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (ch == 'h')
			return ctl_help(c);
		return ctl_badopt(c, ch, argv);
	}
	if (argc - optind > 1)
		return ctl_fail(EX_USAGE, "%s: at most one GROUP (see --help)",
		    c->cmd);
	if (argc - optind == 1) {
		if (!tmpl_builtin_group(argv[optind]))
			return ctl_fail(EX_USAGE, "%s: no built-in group '%s' "
			    "(nudgectl templates lists them)", c->cmd,
			    argv[optind]);
		print_group(argv[optind]);
		return 0;
	}
	/* Without a group: the names, then the values they may use. */
	printf("built-in template groups (nudgectl templates GROUP prints "
	    "one):\n");
	for (size_t g = 0; tmpl_groups[g] != NULL; g++)
		printf("  %s\n", tmpl_groups[g]);
	printf("\nvalues a template may use:\n");
	for (size_t i = 0; tmpl_names[i] != NULL; i++)
		printf("  {{%s}}\n", tmpl_names[i]);
	return 0;
}
