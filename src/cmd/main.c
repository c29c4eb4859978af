/*
 * nudged: options and exit codes (sysexits.h), nothing else.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <sys/stat.h>
#include <time.h>

#include "engine/check.h"
#include "conf/conf.h"
#include "cmd/daemon.h"
#include "transport/xfer.h"
#include "engine/deliver.h"
#include "base/log.h"
#include "engine/retain.h"
#include "store/store.h"
#include "base/tz.h"

#ifndef NUDGED_SYSCONFDIR
#define NUDGED_SYSCONFDIR "/etc"
#endif

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: nudged [-c FILE | --config FILE] [--check-config] [--once [--now TIME]]\n"
	    "              [--dry-run] [-v] [--version] [--help]\n"
	    "\n"
	    "  -c, --config FILE  configuration (default %s/nudged/nudged.conf)\n"
	    "      --check-config validate the configuration and its templates, then exit\n"
	    "      --once         one pass: plan, send what is due, exit\n"
	    "      --now TIME     with --once or --dry-run: take TIME (YYYY-MM-DDTHH:MM:SSZ) as now\n"
	    "      --dry-run      plan and print what would be sent; write and send nothing\n"
	    "  -v, --verbose      debug logging\n"
	    "      --version      print the version\n"
	    "  -h, --help         this help\n",
	    NUDGED_SYSCONFDIR);
}

static int
load_conf(const char *path, struct conf **out)
{
	struct conf_diag errs = { 0 }, warns = { 0 };
	int rc = 0;

	/* "FILE:LINE: ..." as the practitioner reads it, leveled in the journal */
	if (conf_load(path, out, &errs, &warns) != 0) {
		for (size_t i = 0; i < errs.n; i++)
			log_line(3, errs.lines[i]);
		rc = EX_CONFIG;
	}
	for (size_t i = 0; i < warns.n; i++)
		log_line(4, warns.lines[i]);
	conf_diag_free(&errs);
	conf_diag_free(&warns);
	return rc;
}

static void
log_start(const struct conf *c, const char *mode)
{
	size_t nrules = 0;

	for (size_t i = 0; i < c->nrules; i++)
		if ((c->rules[i].channel == CHAN_EMAIL && c->email.enabled) ||
		    (c->rules[i].channel == CHAN_SMS && c->sms.enabled))
			nrules++;
	log_info("nudged %s %s: config %s, database %s, zone %s, email %s, "
	    "sms %s, %zu rule%s in force", NUDGED_VERSION, mode, c->path,
	    c->database, c->practice.timezone, c->email.enabled ? "on" : "off",
	    c->sms.enabled ? c->sms.provider : "off", nrules,
	    nrules == 1 ? "" : "s");
}

struct main_opts {
	const char	*path;
	const char	*nowarg;
	int		 check, once, dry, verbose;
};

/* The options into o: -1 to go on, else the exit code (help, usage). */
static int
main_args(int argc, char **argv, struct main_opts *o)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'k' },
		{ "once", no_argument, NULL, 'o' },
		{ "now", required_argument, NULL, 'n' },
		{ "dry-run", no_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:vh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->path = optarg;
			break;
		case 'k':
			o->check = 1;
			break;
		case 'o':
			o->once = 1;
			break;
		case 'n':
			o->nowarg = optarg;
			break;
		case 'd':
			o->dry = 1;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'V':
			printf("nudged %s\n", NUDGED_VERSION);
			return EX_OK;
		case 'h':
			usage(stdout);
			return EX_OK;
		case ':':
			fprintf(stderr, "nudged: option %s needs a value\n",
			    argv[optind - 1]);
			usage(stderr);
			return EX_USAGE;
		default:
			fprintf(stderr, "nudged: unknown option %s\n",
			    argv[optind - 1]);
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "nudged: unexpected argument '%s'\n", argv[optind]);
		return EX_USAGE;
	}
	return -1;
}

/* --now into *now (left alone without it).  0 or EX_USAGE. */
static int
main_now(const struct main_opts *o, time_t *now)
{
	char err[512];

	if (o->nowarg == NULL)
		return 0;
	if (!o->once && !o->dry) {
		fprintf(stderr, "nudged: --now needs --once or --dry-run\n");
		return EX_USAGE;
	}
	if (tz_parse_utc(o->nowarg, now) == 0)
		return 0;
	if (tz_impossible(o->nowarg, "9999-99-99T99:99:99Z", err, sizeof(err)))
		fprintf(stderr, "nudged: --now '%s' is an impossible date: %s\n",
		    o->nowarg, err);
	else
		fprintf(stderr, "nudged: --now '%s' is not a time of the form "
		    "YYYY-MM-DDTHH:MM:SSZ\n", o->nowarg);
	return EX_USAGE;
}

/*
 * The delivering process's start: the files' modes, the lock, and what a
 * crash left in 'sending'.  0, or the exit code.
 */
static int
main_take_over(const struct conf *c, struct store *st, time_t now)
{
	char err[512];
	int r;

	/* A practitioner in group nudged must be able to write it too. */
	if (store_perm_repair(c->database, err, sizeof(err)) > 0)
		log_warn("database files had the wrong mode or group, "
		    "repaired: %s", err);
	if ((r = store_lock(st, err, sizeof(err))) != STORE_OK) {
		log_err("%s", err);
		return r == STORE_HELD ? EX_TEMPFAIL : EX_IOERR;
	}
	return daemon_recover(st, now, "an interruption") == 0 ? 0 : EX_IOERR;
}

static volatile sig_atomic_t main_stop;	/* polled by deliver_pass */

static void
main_on_signal(int sig)
{
	(void)sig;
	/* atomic: the mail session's threads read it (xfer_stopping) */
	__atomic_store_n(&main_stop, 1, __ATOMIC_RELAXED);
	xfer_stop_requested();
}

/*
 * SIGTERM or SIGINT (a timer unit stopped, ^C) ends a --once pass as it
 * ends the service's: nothing more is claimed, what is on its way gets its
 * grace (xfer.h), and no row is left 'sending' for recovery to guess at.
 */
static void
main_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = main_on_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
}

/* --once and --dry-run: one pass, then retention.  The exit code. */
static int
main_once(const struct conf *c, struct store *st, time_t now, int live,
    int dry)
{
	struct deliver_stats stats;
	char err[512], paused[64] = "", held[96] = "";
	int rc;

	main_signals();
	if (deliver_pass(c, st, now, live, dry, stdout, &main_stop, &stats, err,
	    sizeof(err)) != 0) {
		log_err("%s", err);
		return EX_IOERR;
	}
	/* Visible without the journal: a paused channel is why messages wait. */
	for (int k = 0; k < CHAN_N; k++)
		if (stats.paused[k])
			snprintf(paused + strlen(paused), sizeof(paused) -
			    strlen(paused), "; %s channel PAUSED",
			    chan_name((enum chan)k));
	/* Not counted as pending (the exit code's), but not to be missed. */
	if (stats.held_due > 0)
		snprintf(held, sizeof(held), ", %ld held by a row that cannot "
		    "be read (nudgectl problems)", stats.held_due);
	log_info("pass done%s: %d planned, %d %s, %d failed, %d "
	    "skipped, %d cancelled, %ld still pending%s%s",
	    dry ? " (dry run, nothing written)" : "", stats.planned,
	    stats.sent, dry ? "would be sent" : "sent", stats.failed,
	    stats.skipped, stats.cancelled, stats.pending_due, held, paused);
	rc = (!dry && stats.pending_due > 0) ? EX_TEMPFAIL : EX_OK;
	if (main_stop) {
		log_info("stopped by a signal: what was not sent stays pending "
		    "for the next pass");
		return rc;
	}
	/* issue 14: retention runs in every --once (and says so in --dry-run) */
	if (retain_run(c, st, now, dry, stdout, err, sizeof(err)) != 0) {
		log_err("retention: %s", err);
		rc = EX_IOERR;
	}
	return rc;
}

int
main(int argc, char **argv)
{
	struct main_opts o = { NUDGED_SYSCONFDIR "/nudged/nudged.conf", NULL,
	    0, 0, 0, 0 };
	struct conf *c = NULL;
	struct store *st = NULL;
	time_t now;
	char err[512], line[1024];
	int rc, curl = 0;

	if ((rc = main_args(argc, argv, &o)) != -1)
		return rc;
	log_init("nudged", o.verbose);
	/* The database and its -wal/-shm are shared with group nudged, never others. */
	umask(0007);
	now = time(NULL);
	if ((rc = main_now(&o, &now)) != 0)
		return rc;

	if ((rc = load_conf(o.path, &c)) != 0)
		goto out;
	if (tz_set(c->practice.timezone, err, sizeof(err)) != 0) {
		snprintf(line, sizeof(line), "%s: %s", o.path, err);
		log_line(3, line);
		rc = EX_CONFIG;
		goto out;
	}
	if (o.check) {
		rc = check_templates(c, stderr) == 0 ? EX_OK : EX_CONFIG;
		check_examples(c, stderr);
		check_libraries(c, stderr);
		if (rc == EX_OK)
			printf("%s: OK\n", o.path);
		goto out;
	}
	/* libcurl starts at the first transfer (xfer_global_init; issue 12) */
	curl = 1;
	/* A preview works on a private copy: no lock taken, nothing written. */
	st = o.dry ? store_open_copy(c->database, err, sizeof(err)) :
	    store_open(c->database, err, sizeof(err));
	if (st == NULL) {
		log_err("%s", err);
		rc = EX_IOERR;
		goto out;
	}
	log_start(c, o.dry ? "dry run" : o.once ? "single pass" : "service");
	if (!o.dry && (rc = main_take_over(c, st, now)) != 0)
		goto out;
	if (o.once || o.dry)
		rc = main_once(c, st, now, o.nowarg == NULL, o.dry);
	else
		rc = daemon_run(&c, st);
out:
	store_close(st);
	conf_free(c);
	if (curl)
		xfer_global_cleanup();
	return rc;
}
