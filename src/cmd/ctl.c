/*
 * nudgectl: the practitioner's tool: data entry, preview, outbox, test sends.
 *
 * Every command parses its options first (so --help needs no config or
 * database), then loads the config and opens the database, then does all
 * its reads and writes inside one BEGIN IMMEDIATE transaction.  What a
 * command did is collected and printed only after the commit: a line on
 * stdout always means the change is in the database, and an error (one
 * line on stderr, a sysexits code) means nothing was changed.
 *
 * Exit codes: 64 usage (unknown option, malformed number, date or time),
 * 65 data refused (unknown or closed id, bad address, a time in the past),
 * 74 database, 75 a test send that may succeed later, 78 config.
 *
 * nudgectl never plans or sends by itself: upcoming and send-test go
 * through deliver.c like the daemon does.
 *
 * This file: main, dispatch and the command table; the helpers every
 * command uses (options, errors, output, database) are in ctl_util.c, the
 * commands in ctl_people.c, ctl_diary.c, ctl_outbox.c, ctl_cal.c and the
 * other ctl_*.c (shared: ctl.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "cmd/ctl.h"
#include "transport/xfer.h"
#include "base/log.h"
#include "store/store.h"
#include "base/util.h"

#ifndef NUDGED_SYSCONFDIR
#define NUDGED_SYSCONFDIR	"/etc"
#endif
#define CTL_CONF	NUDGED_SYSCONFDIR "/nudged/nudged.conf"

struct cmd {
	const char	*group;		/* "client"; NULL: a command of its own */
	const char	*name;
	int		(*fn)(struct ctx *, int, char **);
	const char	*desc;
	const char	*usage;
};

/* ---- init: the database itself ---- */

static int
cmd_init(struct ctx *c, int argc, char **argv)
{
	char err[512];
	long v;
	int rc;

	c->init = 1;
	if ((rc = ctl_args_none(c, argc, argv)) != 0 ||
	    (rc = ctl_ctx_open(c)) != 0)
		return rc == DONE ? 0 : rc;
	/* err is not shown: ctl_dberr names the file and the cause. */
	if (store_user_version(c->st, &v, err, sizeof err) == -1)
		return ctl_dberr(c);
	printf("database %s ready (schema %ld)\n", c->conf->database, v);
	return 0;
}

/* ---- commands ---- */

#define CLIENT_OPTS \
	"  --name NAME            full name, e.g. 'Sam Taylor'\n" \
	"  --first-name NAME      greeting name (default: first word of the name)\n" \
	"  --email ADDRESS        plain address, e.g. sam@example.org\n" \
	"  --phone NUMBER         as typed: '07700 900123' or '+447700900123'\n" \
	"  --sms-consent          the client agreed to texts (default: no)\n" \
	"  --no-email-consent     no email (default: email allowed)\n" \
	"  --discreet             neutral wording, homework by email only\n"

static const struct cmd cmds[] = {
	{ NULL, "init", cmd_init, "create or migrate the database",
	  "usage: nudgectl init\n"
	  "Create the database named by the config (or migrate it forward).\n" },
	{ "client", "add", cmd_client_add, "add a client",
	  "usage: nudgectl client add --name NAME [--first-name NAME] "
	  "[--email ADDRESS]\n"
	  "                           [--phone NUMBER] [--sms-consent] "
	  "[--no-email-consent] [--discreet]\n" CLIENT_OPTS },
	{ "client", "list", cmd_client_list, "list clients",
	  "usage: nudgectl client list\n"
	  "FLAGS: email / sms = consents given; discreet; OPTED-OUT = sent "
	  "nothing.\n" },
	{ "client", "show", cmd_client_show, "show one client",
	  "usage: nudgectl client show ID\n" },
	{ "client", "edit", cmd_client_edit, "change a client",
	  "usage: nudgectl client edit ID [options of client add]\n"
	  "        [--no-sms-consent] [--email-consent] [--no-discreet]\n"
	  "        [--clear-first-name] [--clear-email] [--clear-phone]\n"
	  CLIENT_OPTS
	  "  --no-sms-consent, --email-consent, --no-discreet   the opposites\n"
	  "  --clear-first-name, --clear-email, --clear-phone   remove a value\n" },
	{ "client", "opt-out", cmd_client_optout, "send a client nothing more",
	  "usage: nudgectl client opt-out ID\n"
	  "Nothing more is sent to this client (until opt-in).\n" },
	{ "client", "opt-in", cmd_client_optin, "undo an opt-out",
	  "usage: nudgectl client opt-in ID\n" },
	{ "client", "delete", cmd_client_delete, "delete a client typed by "
	  "mistake",
	  "usage: nudgectl client delete ID\n"
	  "Only a client with no appointments and no messages on record "
	  "(else: opt-out).\n" },
	{ "client", "export", cmd_client_export, "everything held about a client",
	  "usage: nudgectl client export ID [--format json|text]\n"
	  "Everything the database holds about the client (a subject access\n"
	  "request): their row, cases, appointments, homework, outbox rows and\n"
	  "consent history; of a partner, only the name.  Default: JSON.\n" },
	{ "client", "forget", cmd_client_forget, "erase a client's personal data",
	  "usage: nudgectl client forget ID [--yes]\n"
	  "Remove the client's name, address and phone everywhere, cancel their\n"
	  "pending messages, take them out of their cases (a partner's case\n"
	  "becomes theirs alone) and compact the database file.  Asks first;\n"
	  "--yes: do not ask (for scripts).  Refused while a message to them is\n"
	  "being sent.\n" },
	{ "case", "add", cmd_case_add, "add a case (one person or a couple)",
	  "usage: nudgectl case add --label LABEL --client ID [--client ID]\n"
	  "A case has one client, or two for a couple; each must exist.\n" },
	{ "case", "list", cmd_case_list, "list cases and their members",
	  "usage: nudgectl case list\n" },
	{ "case", "close", cmd_case_close, "close a case: no more messages",
	  "usage: nudgectl case close ID [--cancel-future]\n"
	  "  --cancel-future  also cancel its booked appointments ahead (also "
	  "on a\n"
	  "                   closed case); without it they stay booked, "
	  "unreminded\n" },
	{ "case", "reopen", cmd_case_reopen, "reopen a closed case",
	  "usage: nudgectl case reopen ID\n" },
	{ NULL, "book", cmd_book, "book an appointment (or a weekly series)",
	  "usage: nudgectl book --case ID --at \"YYYY-MM-DD HH:MM\" "
	  "[--kind KIND] [--duration MIN]\n"
	  "                     [--mode MODE] [--video-url URL] [--weekly N]\n"
	  "                     [--for CLIENT]\n"
	  "  --at TIME        local time in practice.timezone\n"
	  "  --kind KIND      assessment, session (default) or call\n"
	  "  --duration MIN   default 60; 90 for an assessment, 15 for a call\n"
	  "  --mode MODE      in_person (default), online, phone (default for "
	  "a call)\n"
	  "  --video-url URL  link for an online session (default: "
	  "practice.video_url)\n"
	  "  --weekly N       N appointments, a week apart, at the same local "
	  "time;\n"
	  "                   dates in practice.closed are skipped\n"
	  "  --for CLIENT     only this member of the case gets its messages\n"
	  "                   (e.g. the partner who booked the free call)\n"
	  "Another case's appointment at the same time is warned about.\n" },
	{ NULL, "appointments", cmd_appointments, "list appointments",
	  "usage: nudgectl appointments [--case ID] [--all]\n"
	  "Booked appointments from now on; --all: past and cancelled too.\n" },
	{ NULL, "cancel", cmd_cancel, "cancel an appointment",
	  "usage: nudgectl cancel ID\n"
	  "Pending reminders are withdrawn; a client who already had one gets "
	  "a notice.\n" },
	{ NULL, "move", cmd_move, "move an appointment to another time",
	  "usage: nudgectl move ID --to \"YYYY-MM-DD HH:MM\"\n"
	  "  --to TIME        the new local time in practice.timezone\n" },
	{ "homework", "add", cmd_homework_add, "add homework prompts for a case",
	  "usage: nudgectl homework add --case ID --title TITLE --prompt TEXT "
	  "--starts-on DATE\n"
	  "                             [--ends-on DATE] [--every DAYS] "
	  "[--at HH:MM]\n"
	  "  --starts-on DATE  first day, YYYY-MM-DD (local)\n"
	  "  --ends-on DATE    last day (default: until the next session)\n"
	  "  --every DAYS      1 = daily (default 2)\n"
	  "  --at HH:MM        local time of the prompt (default: homework.at)\n" },
	{ "homework", "list", cmd_homework_list, "list homework",
	  "usage: nudgectl homework list [--case ID]\n" },
	{ "homework", "stop", cmd_homework_stop, "stop a homework's prompts",
	  "usage: nudgectl homework stop ID\n" },
	{ NULL, "edit", cmd_appt_edit, "change an appointment's mode, length, "
	  "link or who it is for",
	  "usage: nudgectl edit APPOINTMENT [--mode MODE] [--duration MIN]\n"
	  "                     [--video-url URL] [--for CLIENT | --everyone]\n"
	  "  --mode MODE      in_person, online or phone\n"
	  "  --duration MIN   its length in minutes\n"
	  "  --video-url URL  its own link (online only)\n"
	  "  --for CLIENT     only this member of the case gets its messages\n"
	  "  --everyone       every member of the case does again\n"
	  "Clients already reminded get a change notice (notify_move), not a "
	  "cancellation.\n" },
	{ NULL, "templates", cmd_templates, "print the built-in wording",
	  "usage: nudgectl templates [GROUP]\n"
	  "Without GROUP: the built-in groups and the values templates may "
	  "use.\nWith GROUP: its email_subject, email_text and sms, as "
	  "written.\n" },
	{ NULL, "upcoming", cmd_upcoming, "what will be sent, when, to whom",
	  "usage: nudgectl upcoming [--days N] [--now YYYY-MM-DDTHH:MM:SSZ]\n"
	  "Every message due in the next N days (default 14), rendered. "
	  "Writes nothing.\n" },
	{ NULL, "outbox", cmd_outbox, "what was sent or failed, and why",
	  "usage: nudgectl outbox [--status STATUS] [--failed] [--client ID]\n"
	  "                       [--since YYYY-MM-DD] [--until YYYY-MM-DD] "
	  "[--limit N]\n"
	  "  --status STATUS  pending, sending, sent, failed, skipped or "
	  "cancelled\n"
	  "  --failed         the same as --status failed\n"
	  "  --client ID      messages to that client only\n"
	  "  --since DATE     due on or after that local date\n"
	  "  --until DATE     due on or before that local date\n"
	  "  --limit N        at most N rows (default 50)\n"
	  "Settled messages first, the newest first; then those waiting, the "
	  "next first.\n" },
	{ NULL, "report", cmd_report, "the week's messages per client",
	  "usage: nudgectl report [--week] [YYYY-MM-DD]\n"
	  "Per client: messages sent, failed, cancelled, skipped and waiting "
	  "in the\n"
	  "week (Monday to Sunday) holding the date (default: today).\n" },
	{ NULL, "status", cmd_status, "is all well? (exit 1: needs attention)",
	  "usage: nudgectl status [--since YYYY-MM-DD]\n"
	  "Whether nudged is running, its last pass, paused channels, what "
	  "waits,\n"
	  "what was sent and failed since the date (default: 7 days ago), "
	  "unreadable\n"
	  "rows and the digest.  Exit 0: nothing needs attention; 1: a "
	  "channel is\n"
	  "paused, failures not yet reported, or unreadable rows.\n" },
	{ NULL, "problems", cmd_problems, "booking rows nudged cannot read",
	  "usage: nudgectl problems\n"
	  "Rows of the booking tables that nudged skips because it cannot "
	  "read them.\n" },
	{ NULL, "alert", cmd_alert, "mail the practitioner that nudged failed",
	  "usage: nudgectl alert --service-failed\n"
	  "Mail practice.email that the service stopped for good (run by\n"
	  "systemd's nudged-failed.service through OnFailure=), with the same\n"
	  "SMTP settings as nudged.\n" },
	{ NULL, "send-test", cmd_send_test, "send one real test message",
	  "usage: nudgectl send-test --to ADDRESS_OR_PHONE\n"
	  "An email address goes by email, a phone number by SMS.\n" },
	{ NULL, "import", cmd_import, "book appointments from an .ics or .csv file",
	  "usage: nudgectl import FILE [--dry-run] [--columns MAP] "
	  "[--now YYYY-MM-DDTHH:MM:SSZ]\n"
	  "Events are matched to cases by [case label] in the summary or by an\n"
	  "attendee's email; the same file imported again changes nothing.\n"
	  "  --dry-run       print what would be booked, moved, cancelled and\n"
	  "                  left unmatched; write nothing\n"
	  "  --columns MAP   CSV: our column = their header, e.g.\n"
	  "                  'start=Start Date & Time,email=Invitee Email'\n" },
	{ "calendar", "sync", cmd_calendar_sync, "fetch the calendar feeds now",
	  "usage: nudgectl calendar sync [NAME]\n"
	  "Fetch every feed of the config (or the one named) once and apply it.\n"
	  "Exit 75 when a feed could not be read (nothing of it changed).\n" },
	{ "calendar", "unmatched", cmd_calendar_unmatched,
	  "calendar events that matched no case",
	  "usage: nudgectl calendar unmatched\n"
	  "Events the last sync of each feed (or the last import) could not\n"
	  "match to a case, and why. They are never booked.\n" },
};
#define NCMDS	(sizeof cmds / sizeof cmds[0])

static void
usage_main(FILE *f)
{
	char name[32];
	size_t i;

	fputs("usage: nudgectl [-c FILE] COMMAND [OPTIONS]\n"
	    "       nudgectl COMMAND --help\n\n"
	    "  -c, --config FILE   default " CTL_CONF "\n\ncommands:\n", f);
	for (i = 0; i < NCMDS; i++) {
		snprintf(name, sizeof name, "%s%s%s", cmds[i].group ?
		    cmds[i].group : "", cmds[i].group ? " " : "", cmds[i].name);
		fprintf(f, "  %-18s %s\n", name, cmds[i].desc);
	}
}

static int
usage_group(const char *group)
{
	size_t i;

	for (i = 0; i < NCMDS; i++)
		if (cmds[i].group && strcmp(cmds[i].group, group) == 0)
			fputs(cmds[i].usage, stdout);
	return 0;
}

static int
dispatch(struct ctx *c, int argc, char **argv)
{
	const char *group = NULL;
	size_t i;

	for (i = 0; i < NCMDS; i++)
		if (cmds[i].group && strcmp(cmds[i].group, argv[0]) == 0)
			group = cmds[i].group;
	if (group != NULL) {
		if (argc < 2)
			return ctl_fail(EX_USAGE, "%s: which one? (see "
			    "nudgectl %s --help)", group, group);
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
			return usage_group(group);
		argc--, argv++;
	}
	for (i = 0; i < NCMDS; i++) {
		if (strcmp(cmds[i].name, argv[0]) != 0 || (group == NULL) !=
		    (cmds[i].group == NULL) || (group &&
		    strcmp(group, cmds[i].group) != 0))
			continue;
		snprintf(c->cmd, sizeof c->cmd, "%s%s%s", group ? group : "",
		    group ? " " : "", cmds[i].name);
		c->usage = cmds[i].usage;
		return cmds[i].fn(c, argc, argv);
	}
	if (group != NULL)
		return ctl_fail(EX_USAGE, "%s: unknown subcommand '%s' (see "
		    "nudgectl %s --help)", group, argv[0], group);
	return ctl_fail(EX_USAGE, "unknown command '%s' (see nudgectl --help)",
	    argv[0]);
}

int
main(int argc, char *argv[])
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		HELP_OPT,
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctx c;
	int ch, rc;

	memset(&c, 0, sizeof c);
	c.confpath = CTL_CONF;
	log_init("nudgectl", 0);
	/* Files we create (the database, its -wal/-shm) stay group-shared, never others'. */
	umask(0007);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:c:hV", lo, NULL)) != -1) {
		switch (ch) {
		case 'c':
			c.confpath = optarg;
			break;
		case 'h':
			usage_main(stdout);
			return 0;
		case 'V':
#ifdef NUDGED_VERSION
			printf("nudgectl %s\n", NUDGED_VERSION);
#endif
			return 0;
		default:
			if (ch == ':')
				return ctl_fail(EX_USAGE, "option %s needs a "
				    "value (see nudgectl --help)",
				    argv[optind - 1]);
			return ctl_fail(EX_USAGE, "unknown option %s (see "
			    "nudgectl --help)", optopt > 0 && optopt < 128 ?
			    (char[3]){ '-', (char)optopt, '\0' } : argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return ctl_fail(EX_USAGE, "no command given (see nudgectl "
		    "--help)");
	/* libcurl is opened by the first command that needs it (issue 12) */
	rc = dispatch(&c, argc - optind, argv + optind);
	xfer_global_cleanup();
	fflush(stdout);
	if (ferror(stdout) && rc == 0)
		rc = ctl_fail(EX_IOERR, "cannot write the output");
	store_close(c.st);
	conf_free(c.conf);
	sbuf_free(&c.out);
	return rc;
}
