/*
 * daemon: the service loop.  See daemon.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "engine/cal_sync.h"
#include "cmd/daemon.h"
#include "engine/deliver.h"
#include "transport/feed_fetch.h"
#include "base/log.h"
#include "engine/retain.h"
#include "base/tz.h"
#include "base/util.h"
#include "transport/xfer.h"

/* passes failed in a row (backing off to a minute) before exiting EX_IOERR */
#define DAEMON_MAX_FAILURES	30

static volatile sig_atomic_t daemon_stop_flag;
static volatile sig_atomic_t daemon_hup_flag;
static volatile sig_atomic_t daemon_stop;	/* polled by deliver_pass */
static long long daemon_wd_usec;
static struct timespec daemon_wd_last;

void
daemon_notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	int fd;

	if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof(sa.sun_path))
		return;
	len = strlen(path);
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')	/* abstract namespace */
		sa.sun_path[0] = '\0';
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	/*
	 * Never wait: a receiver whose queue is full (a datagram socket holds
	 * few messages) must not stop deliveries; a status line may be lost.
	 */
	(void)sendto(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT,
	    (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	close(fd);
}

static long long
daemon_mono_usec(const struct timespec *t)
{
	return (long long)t->tv_sec * 1000000LL + t->tv_nsec / 1000;
}

/* Feed the watchdog at most every half period; also called during transfers. */
static void
daemon_watchdog(void)
{
	struct timespec now;

	if (daemon_wd_usec <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (daemon_mono_usec(&now) - daemon_mono_usec(&daemon_wd_last) <
	    daemon_wd_usec / 2)
		return;
	daemon_wd_last = now;
	daemon_notify("WATCHDOG=1");
}

static void
daemon_on_signal(int sig)
{
	if (sig == SIGHUP)
		daemon_hup_flag = 1;
	else {
		daemon_stop_flag = 1;
		daemon_stop = 1;
		/* A transfer in flight gets its grace from now (xfer.h). */
		xfer_stop_requested();
	}
}

static int
daemon_signals(sigset_t *blocked, sigset_t *waitmask)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = daemon_on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0 ||
	    sigaction(SIGHUP, &sa, NULL) != 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(blocked);
	sigaddset(blocked, SIGTERM);
	sigaddset(blocked, SIGINT);
	sigaddset(blocked, SIGHUP);
	return sigprocmask(SIG_BLOCK, blocked, waitmask);
}

/* Watch the database's folder; -1 when inotify is unavailable (we still rescan). */
static int
daemon_watch(const char *dbpath, char **base)
{
	char *dir = xstrdup(dbpath), *slash = strrchr(dir, '/');
	int fd;

	if (slash == NULL) {
		free(dir);
		dir = xstrdup(".");
		*base = xstrdup(dbpath);
	} else {
		*base = xstrdup(slash + 1);
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd >= 0 && inotify_add_watch(fd, dir, IN_MODIFY | IN_CLOSE_WRITE |
	    IN_MOVED_TO | IN_CREATE) < 0) {
		log_warn("cannot watch %s (%s): changes are seen at the next rescan",
		    dir, strerror(errno));
		close(fd);
		fd = -1;
	}
	free(dir);
	return fd;
}

/* 1 when an event concerned the database file or its WAL. */
static int
daemon_drain(int fd, const char *base)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	size_t blen = strlen(base);
	int hit = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n; ) {
			struct inotify_event *ev = (struct inotify_event *)p;

			if (ev->len > 0 && strncmp(ev->name, base, blen) == 0 &&
			    (ev->name[blen] == '\0' || strcmp(ev->name + blen, "-wal") == 0))
				hit = 1;
			p += sizeof(*ev) + ev->len;
		}
	}
	return hit;
}

static void
daemon_status(struct store *st, const struct deliver_stats *s)
{
	char buf[256], when[TZ_UTC_LEN] = "none";
	time_t next = store_next_wake(st);

	if (next != 0)
		tz_format_utc(next, when);
	snprintf(buf, sizeof(buf), "STATUS=next message %s; last pass: %d sent, "
	    "%d failed, %d waiting to retry", when, s->sent, s->failed, s->retry);
	daemon_notify(buf);
}

static void
daemon_reload(struct conf **confp)
{
	struct conf_diag errs = { 0 }, warns = { 0 };
	struct conf *nc;
	char err[256];

	daemon_notify("RELOADING=1");
	if (conf_load((*confp)->path, &nc, &errs, &warns) != 0) {
		for (size_t i = 0; i < errs.n; i++)
			log_err("%s", errs.lines[i]);
		log_err("reload refused: keeping the configuration in force");
	} else if (tz_set(nc->practice.timezone, err, sizeof(err)) != 0) {
		log_err("reload refused: %s", err);
		conf_free(nc);
	} else {
		for (size_t i = 0; i < warns.n; i++)
			log_warn("%s", warns.lines[i]);
		if (strcmp(nc->database, (*confp)->database) != 0)
			log_warn("database changed in the config: restart nudged "
			    "to use %s", nc->database);
		conf_free(*confp);
		*confp = nc;
		log_info("configuration reloaded from %s", nc->path);
	}
	conf_diag_free(&errs);
	conf_diag_free(&warns);
	daemon_notify("READY=1");
}

static long long
daemon_mono_now(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return daemon_mono_usec(&now);
}

/*
 * The timeout until the wall-clock instant t (a whole second: "due at t"
 * means "not before t"; 0: no such instant), at most cap_usec.  Sub-second
 * precision keeps a message from going up to a second late.  Due times
 * are wall-clock by nature (they are stored); everything else, the rescan
 * and the watchdog, runs on the monotonic clock, so a clock that jumps
 * back or forward does not stretch or skip them.
 */
static void
daemon_until(time_t t, long long cap_usec, struct timespec *ts)
{
	struct timespec now;
	long long us = cap_usec;

	if (t != 0) {
		clock_gettime(CLOCK_REALTIME, &now);
		us = ((long long)t - (long long)now.tv_sec) * 1000000LL -
		    now.tv_nsec / 1000;
		if (us > cap_usec)
			us = cap_usec;
	}
	if (us < 0)
		us = 0;
	ts->tv_sec = (time_t)(us / 1000000);
	ts->tv_nsec = (long)(us % 1000000) * 1000;
}

/* $WATCHDOG_USEC, when it is meant for this process ($WATCHDOG_PID). */
static long long
daemon_wd_period(void)
{
	const char *wd = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	long v, p;

	if (wd == NULL || parse_long(wd, 1, LONG_MAX, &v) != 0)
		return 0;
	if (pid != NULL && (parse_long(pid, 1, LONG_MAX, &p) != 0 ||
	    p != (long)getpid()))
		return 0;
	return v;
}

/* What the loop carries from one pass to the next. */
struct daemon_loop {
	struct store	*st;
	sigset_t	 blocked, waitmask;
	int		 ifd;		/* inotify on the database's folder; -1 */
	char		*base;		/* the database's file name in it */
	long long	 seen;		/* data_version before the last pass */
	time_t		 cal_next;	/* the next feed fetch; 0: none */
	int		 failures;	/* passes failed in a row */
	long		 rescan;	/* the safety rescan, seconds */
};

/*
 * One pass: feeds whose time has come, the outbox, the daily retention;
 * then the memory the pass used goes back.  Signals are deliverable
 * during it so SIGTERM can end it early.
 */
static void
daemon_pass(struct daemon_loop *l, const struct conf *c)
{
	struct deliver_stats stats;
	char err[512];

	/*
	 * Taken before the pass: a booking tool's commit during the pass
	 * (while a slow server holds us) must wake us after it.
	 */
	l->seen = store_data_version(l->st);
	sigprocmask(SIG_SETMASK, &l->waitmask, NULL);
	/* calendar feeds whose time has come (issue 10), before planning */
	l->cal_next = cal_sync_due(c, l->st, time(NULL));
	if (deliver_pass(c, l->st, time(NULL), 0, NULL, &daemon_stop, &stats,
	    err, sizeof(err)) != 0) {
		log_err("pass failed: %s", err);
		l->failures++;
	} else
		l->failures = 0;
	/* issue 14: outbox and diary reduced once a day */
	if (l->failures == 0 && !daemon_stop && retain_daily(c, l->st,
	    time(NULL), err, sizeof(err)) != 0)
		log_err("retention failed: %s", err);
	sigprocmask(SIG_BLOCK, &l->blocked, NULL);
	/*
	 * Idle between passes on as little memory as we can (issue 12):
	 * SQLite's page cache and the heap the pass freed go back to the
	 * system.
	 */
	store_release_memory(l->st);
	malloc_trim(0);
	daemon_status(l->st, &stats);
	daemon_watchdog();
}

/*
 * Sleep until the next due message, a feed, the safety rescan (or the
 * retry of a failed pass), another process's write, or a signal.
 */
static void
daemon_wait(struct daemon_loop *l)
{
	struct pollfd pfd = { .fd = l->ifd, .events = POLLIN };
	struct timespec ts;
	time_t now, next;
	long long until, cap;

	/* monotonic: a clock that jumps does not stretch or skip it */
	until = daemon_mono_now() + 1000000LL * (l->failures == 0 ?
	    l->rescan : l->failures < 6 ? 1L << l->failures : 60);
	for (;;) {
		if (daemon_stop_flag || daemon_hup_flag)
			return;
		if ((cap = until - daemon_mono_now()) <= 0)
			return;
		now = time(NULL);
		next = l->failures == 0 ? store_next_wake(l->st) : 0;
		if (l->cal_next != 0 && (next == 0 || l->cal_next < next))
			next = l->cal_next;
		if (next != 0 && next <= now)
			return;
		/* the watchdog is fed at least every half period */
		if (daemon_wd_usec > 0 && cap > daemon_wd_usec / 2)
			cap = daemon_wd_usec / 2;
		daemon_until(next, cap, &ts);
		if (ppoll(l->ifd >= 0 ? &pfd : NULL, l->ifd >= 0 ? 1 : 0, &ts,
		    &l->waitmask) > 0 && l->ifd >= 0 &&
		    daemon_drain(l->ifd, l->base) &&
		    store_data_version(l->st) != l->seen)
			return;	/* another process wrote; our own writes do not count */
		daemon_watchdog();
	}
}

int
daemon_run(struct conf **confp, struct store *st)
{
	struct daemon_loop l = { .st = st, .ifd = -1 };
	int rc = EX_OK;

	daemon_wd_usec = daemon_wd_period();
	/* test-only: a shorter safety rescan (nudged(8), ENVIRONMENT) */
	l.rescan = util_test_timing("rescan", DAEMON_RESCAN);
	if (getenv("NUDGED_TEST_TIMING") != NULL)
		log_warn("NUDGED_TEST_TIMING is set: test timings, not for production");
	if (getenv("NUDGED_TEST_DL_MISSING") != NULL)
		log_warn("NUDGED_TEST_DL_MISSING is set: libraries made missing, "
		    "not for production");
	xfer_set_tick(daemon_watchdog);
	feed_set_stop(&daemon_stop);
	if (daemon_signals(&l.blocked, &l.waitmask) != 0) {
		log_err("cannot install signal handlers: %s", strerror(errno));
		return EX_OSERR;
	}
	l.ifd = daemon_watch((*confp)->database, &l.base);
	daemon_notify("READY=1");
	log_info("running: waiting for due messages");
	while (!daemon_stop_flag) {
		if (daemon_hup_flag) {
			daemon_hup_flag = 0;
			daemon_reload(confp);
		}
		daemon_pass(&l, *confp);
		/* the database has been failing for about half an hour */
		if (l.failures >= DAEMON_MAX_FAILURES) {
			rc = EX_IOERR;
			break;
		}
		daemon_wait(&l);
	}
	daemon_notify("STOPPING=1");
	log_info("stopping");
	if (l.ifd >= 0)
		close(l.ifd);
	free(l.base);
	return rc;
}
