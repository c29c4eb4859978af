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

/* Is client a member of case? 0, or an exit code. */
int
ctl_member_of(struct ctx *c, long long case_id, long long client)
{
	char err[512];

	switch (store_case_member(c->st, case_id, client, err, sizeof err)) {
	case STORE_FOUND:
		return 0;
	case STORE_GONE:
		return ctl_fail(EX_DATAERR, "%s: client %lld is not a member of "
		    "case %lld", c->cmd, client, case_id);
	default:
		return ctl_ioerr(err);
	}
}

/* What appointment edit was asked for: the change, and --mode as typed. */
struct appt_edit {
	struct appt_change	 ch;
	const char		*mode_arg;
};

/* The options' own checks, before the database.  0 or an exit code. */
static int
edit_check(struct ctx *c, struct appt_edit *e)
{
	struct appt_change *ch = &e->ch;
	int rc;

	if (e->mode_arg == NULL && ch->video_url == NULL &&
	    ch->duration_min == 0 && ch->for_client == 0 && !ch->everyone)
		return ctl_fail(EX_USAGE, "%s: nothing to change (see --help)",
		    c->cmd);
	if (ch->for_client != 0 && ch->everyone)
		return ctl_fail(EX_USAGE, "%s: --for or --everyone, not both",
		    c->cmd);
	if (e->mode_arg != NULL &&
	    (rc = ctl_mode_arg(c, e->mode_arg, &ch->mode)) != 0)
		return rc;
	ch->set_mode = e->mode_arg != NULL;
	if (ch->video_url != NULL &&
	    (rc = ctl_video_arg(c, ch->video_url)) != 0)
		return rc;
	return 0;
}

/* What changed, printed once committed; a: the row before. */
static void
edit_report(struct ctx *c, const struct appt_change *e,
    const struct appt_row *a)
{
	const char *sep = " ";

	ctl_outf(c, "appointment %lld changed:", a->id);
	if (e->set_mode) {
		ctl_outf(c, "%smode %s -> %s", sep, a->mode,
		    appt_mode_name(e->mode));
		sep = ", ";
	}
	if (e->duration_min != 0) {
		ctl_outf(c, "%sduration %d -> %ld minutes", sep, a->duration_min,
		    e->duration_min);
		sep = ", ";
	}
	/* shown whole: a mistyped link is seen before a client gets it */
	if (e->video_url != NULL) {
		ctl_outf(c, "%svideo link %s", sep, e->video_url);
		sep = ", ";
	}
	if (e->for_client != 0) {
		ctl_outf(c, "%sfor client %lld only", sep, e->for_client);
		sep = ", ";
	}
	if (e->everyone)
		ctl_outf(c, "%sfor every member of the case", sep);
	ctl_outf(c, "\n");
	if (c->conf->notify_move)
		ctl_outf(c, "(clients already reminded get a change "
		    "notice)\n");
}

/* edit's options, checked (edit_check).  0, DONE or an exit code. */
static int
edit_opts(struct ctx *c, int argc, char **argv, struct appt_edit *e,
    long long *id)
{
	static const struct option lo[] = {
		{ "mode", required_argument, NULL, O_MODE },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "video-url", required_argument, NULL, O_VIDEO },
		{ "for", required_argument, NULL, O_FOR },
		{ "everyone", no_argument, NULL, O_EVERYONE },
		HELP_OPT, { NULL, 0, NULL, 0 }
	};
	int ch, rc;

	optind = 0;
	while ((ch = ctl_getopt(c, argc, argv, ":h", lo, &rc)) != -1) {
		switch (ch) {
		case O_MODE: e->mode_arg = optarg; break;
		case O_VIDEO: e->ch.video_url = optarg; break;
		case O_DURATION:
			rc = ctl_num(c, "--duration", optarg, 5, 600,
			    &e->ch.duration_min);
			break;
		case O_FOR:
			rc = ctl_id_arg(c, "--for", optarg, &e->ch.for_client);
			break;
		case O_EVERYONE: e->ch.everyone = 1; break;
		}
		if (rc != 0)
			return rc;
	}
	if (rc != 0 ||
	    (rc = ctl_one_id(c, argc, argv, "appointment", id)) != 0)
		return rc;
	return edit_check(c, e);
}

int
cmd_appt_edit(struct ctx *c, int argc, char **argv)
{
	struct appt_edit e = { { 0 }, NULL };
	struct appt_row a;
	enum appt_mode was;	/* the stored mode, when readable */
	char err[512];
	long long id = 0;
	int rc;

	if ((rc = edit_opts(c, argc, argv, &e, &id)) != 0)
		return rc == DONE ? 0 : rc;
	if ((rc = ctl_tx_begin(c)) != 0)
		return rc;
	if ((rc = ctl_found(c, store_appt_row(c->st, id, &a, err, sizeof err),
	    "appointment", id, err)) != 0)
		return ctl_tx_end(c, rc);
	if (strcmp(a.status, "cancelled") == 0)
		rc = ctl_fail(EX_DATAERR, "%s: appointment %lld is cancelled",
		    c->cmd, id);
	else if (e.ch.video_url != NULL && (e.ch.set_mode ? e.ch.mode :
	    appt_mode_parse(a.mode, &was) == 0 ? was : MODE_N) != MODE_ONLINE)
		rc = ctl_fail(EX_USAGE, "%s: --video-url is for an online "
		    "appointment (add --mode online)", c->cmd);
	else if (e.ch.for_client != 0)
		rc = ctl_member_of(c, a.case_id, e.ch.for_client);
	if (rc == 0 && store_appt_change(c->st, id, &e.ch, err,
	    sizeof err) != 0)
		rc = ctl_ioerr(err);
	if (rc == 0)
		edit_report(c, &e.ch, &a);
	appt_row_free(&a);
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
	int rc;

	optind = 0;
	while (ctl_getopt(c, argc, argv, ":h", lo, &rc) != -1)
		continue;
	if (rc != 0)
		return rc == DONE ? 0 : rc;
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
