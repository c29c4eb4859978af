/*
 * nudged: options and exit codes (sysexits.h), nothing else.
 */
#include <getopt.h>
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

	if (conf_load(path, out, &errs, &warns) != 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.lines[i]);
		rc = EX_CONFIG;
	}
	for (size_t i = 0; i < warns.n; i++)
		fprintf(stderr, "%s\n", warns.lines[i]);
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

int
main(int argc, char **argv)
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
	const char *path = NUDGED_SYSCONFDIR "/nudged/nudged.conf", *nowarg = NULL;
	int check = 0, once = 0, dry = 0, verbose = 0, ch, rc;
	struct conf *c = NULL;
	struct store *st;
	struct deliver_stats stats;
	time_t now;
	char err[512];

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:vh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'k':
			check = 1;
			break;
		case 'o':
			once = 1;
			break;
		case 'n':
			nowarg = optarg;
			break;
		case 'd':
			dry = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'V':
			printf("nudged %s\n", NUDGED_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
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
	log_init("nudged", verbose);
	/* The database and its -wal/-shm are shared with group nudged, never others. */
	umask(0007);
	now = time(NULL);
	if (nowarg != NULL) {
		if (!once && !dry) {
			fprintf(stderr, "nudged: --now needs --once or --dry-run\n");
			return EX_USAGE;
		}
		if (tz_parse_utc(nowarg, &now) != 0) {
			if (tz_impossible(nowarg, "9999-99-99T99:99:99Z", err,
			    sizeof(err)))
				fprintf(stderr, "nudged: --now '%s' is an "
				    "impossible date: %s\n", nowarg, err);
			else
				fprintf(stderr, "nudged: --now '%s' is not a time "
				    "of the form YYYY-MM-DDTHH:MM:SSZ\n", nowarg);
			return EX_USAGE;
		}
	}

	if ((rc = load_conf(path, &c)) != 0)
		return rc;
	if (tz_set(c->practice.timezone, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", path, err);
		conf_free(c);
		return EX_CONFIG;
	}
	if (check) {
		rc = check_templates(c, stderr) == 0 ? 0 : EX_CONFIG;
		check_examples(c, stderr);
		if (rc == 0)
			printf("%s: OK\n", path);
		conf_free(c);
		return rc;
	}

	if (xfer_global_init() == -1) {
		log_err("cannot initialise libcurl");
		conf_free(c);
		return EX_SOFTWARE;
	}
	/* A preview works on a private copy: no lock taken, nothing written. */
	st = dry ? store_open_copy(c->database, err, sizeof(err)) :
	    store_open(c->database, err, sizeof(err));
	if (st == NULL) {
		log_err("%s", err);
		conf_free(c);
		return EX_IOERR;
	}
	log_start(c, dry ? "dry run" : once ? "single pass" : "service");
	if (!dry) {
		struct store_recovery rec;

		/* A practitioner in group nudged must be able to write it too. */
		if (store_perm_repair(c->database, err, sizeof(err)) > 0)
			log_warn("database files had the wrong mode or group, "
			    "repaired: %s", err);

		if ((rc = store_lock(st, err, sizeof(err))) != 0) {
			log_err("%s", err);
			store_close(st);
			conf_free(c);
			return rc == 1 ? EX_TEMPFAIL : EX_IOERR;
		}
		if (store_recover(st, now, &rec, err, sizeof(err)) != 0) {
			log_err("%s", err);
			store_close(st);
			conf_free(c);
			return EX_IOERR;
		}
		if (rec.resent + rec.failed > 0)
			log_warn("after an interruption: %d message%s to resend, "
			    "%d failed (outcome unknown)", rec.resent,
			    rec.resent == 1 ? "" : "s", rec.failed);
		if (rec.unstarted > 0)
			log_info("after an interruption: %d message%s had not "
			    "started to go up; sending as planned", rec.unstarted,
			    rec.unstarted == 1 ? "" : "s");
	}

	if (once || dry) {
		if (deliver_pass(c, st, now, dry, stdout, NULL, &stats, err,
		    sizeof(err)) != 0) {
			log_err("%s", err);
			rc = EX_IOERR;
		} else {
			char paused[64] = "";

			/* Visible without the journal: a paused channel is why
			 * messages wait. */
			for (int k = 0; k < CHAN_N; k++)
				if (stats.paused[k])
					snprintf(paused + strlen(paused),
					    sizeof(paused) - strlen(paused),
					    "; %s channel PAUSED",
					    chan_name((enum chan)k));
			log_info("pass done%s: %d planned, %d %s, %d failed, %d "
			    "skipped, %d cancelled, %ld still pending%s",
			    dry ? " (dry run, nothing written)" : "", stats.planned,
			    stats.sent, dry ? "would be sent" : "sent", stats.failed,
			    stats.skipped, stats.cancelled, stats.pending_due,
			    paused);
			rc = (!dry && stats.pending_due > 0) ? EX_TEMPFAIL : 0;
		}
		/* issue 14: retention runs in every --once (and says so in --dry-run) */
		if (rc != EX_IOERR && retain_run(c, st, now, dry, stdout, err,
		    sizeof(err)) != 0) {
			log_err("retention: %s", err);
			rc = EX_IOERR;
		}
	} else
		rc = daemon_run(&c, st);
	store_close(st);
	conf_free(c);
	xfer_global_cleanup();
	return rc;
}
