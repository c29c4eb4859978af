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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
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
/* In a pass's own process: the pipe to the service loop; -1 elsewhere. */
static int daemon_pass_fd = -1;
static long long daemon_born;	/* ... and when it started (monotonic, µs) */
static int daemon_born_loaded;	/* ... with libcurl open already (xfer_loaded) */

#define DAEMON_TICK	'w'	/* down the pipe: progress, feed the watchdog */
#define DAEMON_DONE	'r'	/* then the pass's struct daemon_result */
#define DAEMON_LATE	'l'	/* then 1: another program wrote after its last look;
				   then 1: it lingers for the next pass */
#define DAEMON_PASS	'p'	/* up the other pipe: run another pass */
#define DAEMON_LINGER	10	/* seconds a pass's process that sent waits for more */
#define DAEMON_REUSE	300	/* seconds after which it no longer waits (its heap) */

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
	/* A pass's process tells the loop, which alone may notify (NotifyAccess=main). */
	if (daemon_pass_fd < 0)
		daemon_notify("WATCHDOG=1");
	else {
		/* a full pipe: the loop has ticks enough */
		ssize_t n = write(daemon_pass_fd, &(char){ DAEMON_TICK }, 1);

		(void)n;
	}
}

/*
 * A tick from the pass's process, which keeps the pace itself (every
 * half period, counted from the same start): passed on as it comes.  Our
 * own half-period check would count from when the last tick arrived, and
 * drop one that arrived a little sooner after it than that one did after
 * its own: a whole period without WATCHDOG=1, and systemd kills us.
 */
static void
daemon_watchdog_tick(void)
{
	clock_gettime(CLOCK_MONOTONIC, &daemon_wd_last);
	daemon_notify("WATCHDOG=1");
}

static void
daemon_on_signal(int sig)
{
	if (sig == SIGHUP)
		daemon_hup_flag = 1;
	else {
		daemon_stop_flag = 1;
		/* atomic: the mail session's threads read it (xfer_stopping) */
		__atomic_store_n(&daemon_stop, 1, __ATOMIC_RELAXED);
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
	long long	 seen;		/* data_version after the last pass */
	int		 again;		/* another program wrote during it: once more */
	int		 recover;	/* a pass's process died: recover 'sending' */
	int		 crashed;	/* ... of this signal, a crash (daemon_crashed) */
	pid_t		 child;		/* a pass's process lingering; 0: none */
	int		 cfd, cback;	/* its pipes meanwhile */
	long		 linger;	/* DAEMON_LINGER (or the test timing) */
	long		 reuse;		/* DAEMON_REUSE (or the test timing) */
	time_t		 cal_next;	/* the next feed fetch; 0: none */
	int		 failures;	/* passes failed in a row */
	long		 rescan;	/* the safety rescan, seconds */
};

/* What a pass tells the loop (from its own process, down the pipe). */
struct daemon_result {
	struct deliver_stats	 stats;
	time_t			 cal_next;	/* the next feed fetch; 0: none */
	int			 failed;	/* the pass failed (logged) */
	int			 others;	/* another program wrote meanwhile */
};

/*
 * The pass itself: feeds whose time has come, the outbox, the daily
 * retention.  Signals are deliverable during it so SIGTERM can end it
 * early.  *end: the connection's data_version at its last look.
 */
static void
daemon_pass_run(struct daemon_loop *l, const struct conf *c,
    struct daemon_result *res, long long *end)
{
	long long seen = store_data_version(l->st);
	char err[512];

	memset(res, 0, sizeof(*res));
	sigprocmask(SIG_SETMASK, &l->waitmask, NULL);
	/* calendar feeds whose time has come (issue 10), before planning */
	res->cal_next = cal_sync_due(c, l->st, time(NULL));
	if (deliver_pass(c, l->st, time(NULL), 1, 0, NULL, &daemon_stop,
	    &res->stats, err, sizeof(err)) != 0) {
		log_err("pass failed: %s", err);
		res->failed = 1;
	}
	/* issue 14: outbox and diary reduced once a day */
	if (!res->failed && !daemon_stop && retain_daily(c, l->st, time(NULL),
	    err, sizeof(err)) != 0)
		log_err("retention failed: %s", err);
	sigprocmask(SIG_BLOCK, &l->blocked, NULL);
	/* a booking tool's commit while a slow server held us: once more */
	*end = store_data_version(l->st);
	res->others = *end != seen;
}

/*
 * One pass in the pass's process: its result down the pipe, then, once
 * the loop has opened its own connection and read its data_version
 * baseline (it says so), one more look: another program's commit after
 * our last look and before that baseline would wake neither of us; our
 * connection, still open, sees it.  1 when it lingers for another pass.
 */
static int
daemon_child_pass(struct daemon_loop *l, const struct conf *c, int fd,
    int back)
{
	char msg[1 + sizeof(struct daemon_result)] = { DAEMON_DONE };
	char late[3] = { DAEMON_LATE, 0, 0 }, ack, err[512];
	struct daemon_result res = { .failed = 1 };
	long long end = -1;

	if (store_reconnect(l->st, err, sizeof(err)) != 0)
		log_err("pass failed: %s", err);
	else
		daemon_pass_run(l, c, &res, &end);
	memcpy(msg + 1, &res, sizeof(res));
	/* one write under PIPE_BUF: whole or not at all */
	if (write(fd, msg, sizeof(msg)) != (ssize_t)sizeof(msg))
		exit(EX_IOERR);
	if (end < 0 || read(back, &ack, 1) != 1)
		return 0;
	late[1] = store_data_version(l->st) != end;
	/*
	 * What is worth keeping: libcurl and OpenSSL, 20-50 ms to open.  Not
	 * for ever: passes closer than the linger (a booking tool writing
	 * every few seconds) would keep one process, and its heap, all day.
	 * Nor when the service had them open when it forked us (it ran a
	 * pass itself, fork refused): the next process gets them the same way.
	 */
	late[2] = l->linger > 0 && xfer_loaded() && !daemon_born_loaded &&
	    !daemon_stop &&
	    daemon_mono_now() - daemon_born < l->reuse * 1000000LL;
	return write(fd, late, sizeof(late)) == (ssize_t)sizeof(late) &&
	    late[2];
}

/*
 * Run now the handlers of signals that came with what ppoll returned for.
 * ppoll reports a ready descriptor before a pending signal, and then puts
 * the mask back: a stop systemd sent the whole unit at that moment would
 * wait, blocked, while the event starts a pass.
 */
static void
daemon_take_signals(const struct daemon_loop *l)
{
	sigset_t old;

	sigprocmask(SIG_SETMASK, &l->waitmask, &old);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/*
 * After a pass that opened libcurl: wait up to l->linger seconds for the
 * loop's next pass (DAEMON_PASS), so that a burst of passes opens it
 * once; then the memory goes back.  1: run another pass.
 */
static int
daemon_child_linger(struct daemon_loop *l, int back)
{
	struct pollfd p = { .fd = back, .events = POLLIN };
	struct timespec ts = { .tv_sec = l->linger };
	char cmd;

	if (ppoll(&p, 1, &ts, &l->waitmask) != 1)
		return 0;
	/* asked for a pass and told to stop at once: no pass after a stop */
	daemon_take_signals(l);
	if (daemon_stop)
		return 0;
	return read(back, &cmd, 1) == 1 && cmd == DAEMON_PASS;
}

/*
 * The pass's process: its own connection (one must not cross a fork),
 * its passes, then exit (the sanitizers' leak check runs there, over the
 * passes).  It dies with the service, kill -9 included, so no sender
 * outlives the deliverer's lock.
 */
static void __attribute__((noreturn))
daemon_child(struct daemon_loop *l, const struct conf *c, pid_t parent,
    int fd, int back)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(EX_OSERR);
	daemon_born = daemon_mono_now();
	daemon_born_loaded = xfer_loaded();
	daemon_pass_fd = fd;
	if (l->ifd >= 0)
		close(l->ifd);
	while (daemon_child_pass(l, c, fd, back) &&
	    daemon_child_linger(l, back))
		;
	store_disconnect(l->st);
	exit(EX_OK);
}

/* End a lingering pass's process (a reload, a stop, or it ended itself). */
static void
daemon_linger_end(struct daemon_loop *l)
{
	char b;
	int status;

	if (l->child <= 0)
		return;
	close(l->cback);
	while (read(l->cfd, &b, 1) > 0)
		;	/* until it is gone: it ends at once */
	close(l->cfd);
	while (waitpid(l->child, &status, 0) < 0 && errno == EINTR)
		;
	l->child = 0;
	l->cfd = l->cback = -1;
}

/*
 * The loop's connection again, with its data_version baseline (l->seen),
 * while the pass's process still has its own; then it is told to take
 * its last look (DAEMON_LATE).  *back is closed when not, so it never
 * waits for us in vain.  1, or 0 when not connected (daemon_pass tries
 * again and says why).
 */
static int
daemon_baseline(struct daemon_loop *l, int *back)
{
	char err[512];
	int ok = store_reconnect(l->st, err, sizeof(err)) == 0;
	ssize_t n;

	if (ok) {
		l->seen = store_data_version(l->st);
		n = write(*back, &(char){ 'k' }, 1);
		(void)n;
	} else {
		close(*back);
		*back = -1;
	}
	return ok;
}

/*
 * What the pass's process says of one pass, until it is all said and
 * the process lingers (the last byte), or it is gone: its watchdog ticks
 * passed on, a stop request passed on (systemd signals the whole unit;
 * kill(1) only us), the baseline taken once the result is in.  *have:
 * the bytes in buf.  *based: l->seen was taken (daemon_baseline).
 */
static void
daemon_listen(struct daemon_loop *l, pid_t pid, int fd, int *back,
    char *buf, size_t size, size_t *have, int *based)
{
	struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN },
	    { .fd = l->ifd, .events = POLLIN } };
	int told = 0;
	ssize_t n;

	while (*have < size || buf[size - 1] == 0) {
		if (daemon_stop_flag && !told)
			told = kill(pid, SIGTERM) == 0;
		/*
		 * Its own writes; another program's are in res->others.  Not
		 * after the baseline: what comes then is daemon_wait's.
		 */
		if (ppoll(pfd, l->ifd >= 0 && !*based ? 2 : 1, NULL,
		    &l->waitmask) < 0)
			continue;	/* a signal */
		if (!*based && (pfd[1].revents & POLLIN))
			daemon_drain(l->ifd, l->base);
		if (pfd[0].revents == 0)
			continue;
		if ((n = read(fd, buf + *have, *have == 0 ? 1 : size -
		    *have)) <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;		/* it is gone */
		}
		if (*have == 0 && buf[0] == DAEMON_TICK)
			daemon_watchdog_tick();
		else
			*have += (size_t)n;
		if (*have >= size - 3 && !*based && *back >= 0)
			*based = daemon_baseline(l, back);
	}
}

/*
 * Wait for the pass's process and read its result: 1 with *res, 0 when
 * it ended without one (logged), -1 when it had ended its lingering as it
 * was asked for a pass (nothing ran).  *stays: it lingers, not reaped.
 */
static int
daemon_reap(struct daemon_loop *l, pid_t pid, int fd, int *back,
    struct daemon_result *res, int *based, int *stays)
{
	const size_t full = 1 + sizeof(*res);
	char buf[1 + sizeof(*res) + 3];
	size_t have = 0;
	int status = 0;

	daemon_listen(l, pid, fd, back, buf, sizeof(buf), &have, based);
	*stays = have == sizeof(buf) && buf[full + 2] != 0;
	if (!*stays)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	if (have >= full && buf[0] == DAEMON_DONE) {
		memcpy(res, buf + 1, sizeof(*res));
		if (have == sizeof(buf) && buf[full] == DAEMON_LATE &&
		    buf[full + 1] != 0)
			res->others = 1;
		return 1;
	}
	if (have == 0 && WIFEXITED(status) && WEXITSTATUS(status) == EX_OK)
		return -1;
	if (WIFSIGNALED(status)) {
		log_err("pass failed: its process was killed by signal %d",
		    WTERMSIG(status));
		l->crashed = WTERMSIG(status);
	} else
		log_err("pass failed: its process ended (exit %d) without a "
		    "result", WEXITSTATUS(status));
	return 0;
}

/*
 * A pass's process that crashed (a bug: not a kill, which the next pass
 * simply follows) takes the service down with the same signal once its
 * rows are recovered, as when the pass ran in the service: systemd
 * restarts it, and a crash at every pass reaches the unit's start limit
 * and OnFailure, so the practitioner hears of it, instead of a loop of
 * failed passes that ends, half an hour later, in a restart that starts
 * it over.
 */
static void
daemon_crashed(int sig)
{
	sigset_t one;

	if (sig != SIGSEGV && sig != SIGBUS && sig != SIGILL &&
	    sig != SIGFPE && sig != SIGABRT && sig != SIGSYS)
		return;
	log_err("stopping: a pass crashed (signal %d)", sig);
	daemon_notify("STOPPING=1");
	signal(sig, SIG_DFL);
	sigemptyset(&one);
	sigaddset(&one, sig);
	sigprocmask(SIG_UNBLOCK, &one, NULL);
	raise(sig);
	_exit(EX_SOFTWARE);	/* not reached */
}

int
daemon_recover(struct store *st, time_t now, const char *after)
{
	struct store_recovery rec;
	char err[512];

	if (store_recover(st, now, &rec, err, sizeof(err)) != 0) {
		log_err("after %s: %s", after, err);
		return -1;
	}
	if (rec.resent + rec.failed > 0)
		log_warn("after %s: %d message%s to resend, %d failed (outcome "
		    "unknown)", after, rec.resent, rec.resent == 1 ? "" : "s",
		    rec.failed);
	if (rec.unstarted > 0)
		log_info("after %s: %d message%s had not started to go up; "
		    "sending as planned", after, rec.unstarted,
		    rec.unstarted == 1 ? "" : "s");
	return 0;
}

/* After a pass's process that died: its rows recovered; a crash ends us. */
static void
daemon_aftermath(struct daemon_loop *l)
{
	/*
	 * What it left in 'sending' has no sender any more, as at start-up
	 * after a crash of the whole service; left there, it would wait for
	 * the next start.  We hold the deliverer's lock: no other nudged
	 * sends meanwhile.  Here, or after a reconnect that failed, before
	 * the next pass.
	 */
	if (l->recover && daemon_recover(l->st, time(NULL),
	    "the pass's process ended") == 0)
		l->recover = 0;
	if (l->crashed != 0)
		daemon_crashed(l->crashed);
	l->crashed = 0;
}

/* A new pass's process: its pid and pipes, or -1 with errno. */
static pid_t
daemon_spawn(struct daemon_loop *l, const struct conf *c, int *fd,
    int *back)
{
	int fds[2] = { -1, -1 }, bk[2] = { -1, -1 }, e;
	pid_t pid = -1, parent = getpid();

	store_disconnect(l->st);
	fflush(NULL);
	if (pipe2(fds, O_CLOEXEC) == 0 && pipe2(bk, O_CLOEXEC) == 0 &&
	    (pid = fork()) == 0) {
		close(fds[0]);
		close(bk[1]);
		daemon_child(l, c, parent, fds[1], bk[0]);
	}
	e = errno;
	if (fds[1] >= 0)
		close(fds[1]);
	if (bk[0] >= 0)
		close(bk[0]);
	if (pid < 0) {
		if (fds[0] >= 0)
			close(fds[0]);
		if (bk[1] >= 0)
			close(bk[1]);
		fds[0] = bk[1] = -1;
	}
	*fd = fds[0];
	*back = bk[1];
	errno = e;
	return pid;
}

/*
 * The pass in a process of its own: the one lingering since the last
 * pass, or a new one.  1 with *res, 0 when it ended without one, -1 when
 * none could start (errno).
 */
static int
daemon_pass_child(struct daemon_loop *l, const struct conf *c,
    struct daemon_result *res, int *based)
{
	int fd, back, r, stays, fresh;
	pid_t pid;

	for (;;) {
		fresh = !(l->child > 0 &&
		    write(l->cback, &(char){ DAEMON_PASS }, 1) == 1);
		if (!fresh) {
			pid = l->child;
			fd = l->cfd;
			back = l->cback;
			l->child = 0;
			l->cfd = l->cback = -1;
		} else {
			daemon_linger_end(l);	/* none, or gone */
			if ((pid = daemon_spawn(l, c, &fd, &back)) < 0)
				return -1;
		}
		r = daemon_reap(l, pid, fd, &back, res, based, &stays);
		if (stays) {
			l->child = pid;
			l->cfd = fd;
			l->cback = back;
			return r;
		}
		close(fd);
		if (back >= 0)
			close(back);
		/*
		 * It had ended its lingering as it was asked: a new one, but
		 * not when a stop ended it (systemd signals the whole unit):
		 * no pass starts after a stop.
		 */
		if (r >= 0 || fresh || daemon_stop_flag)
			return r < 0 ? 0 : r;
	}
}

/*
 * One pass, in a process of its own (issue 12): what it maps and
 * allocates (libcurl, OpenSSL and libical once something is sent; the
 * planner's snapshots) goes back to the system when it exits, so the
 * service idles small however much it has sent.  One that sent lingers
 * DAEMON_LINGER seconds for the next pass, so a burst opens libcurl once.
 * Without a process (fork refused) the pass runs here, on the loop's own
 * connection: what it opened stays mapped in the service (libcurl and
 * OpenSSL, which cannot be unloaded; accepted for a system short of
 * processes), the processes forked after it have it from the start and
 * do not linger for it (daemon_child_pass), and what must not be shared
 * with them is reset at the fork (mail_random's pool).  Then the loop's
 * connection is opened again.
 */
static void
daemon_pass(struct daemon_loop *l, const struct conf *c)
{
	struct daemon_result res = { .failed = 1 };
	int ran, based = 0;
	long long end;
	char err[512];

	if ((ran = daemon_pass_child(l, c, &res, &based)) < 0)
		log_warn("cannot start a process for the pass (%s): running it "
		    "in the service's own", strerror(errno));
	if (ran == 0)
		l->recover = 1;
	if (store_reconnect(l->st, err, sizeof(err)) != 0) {
		log_err("pass failed: %s", err);
		l->failures++;
		return;
	}
	daemon_aftermath(l);
	if (ran < 0) {
		daemon_pass_run(l, c, &res, &end);
		ran = 1;
		/* the same look: nothing falls between the two */
		l->seen = end;
		based = 1;
	}
	l->failures = ran && !res.failed ? 0 : l->failures + 1;
	l->cal_next = res.cal_next;
	/* after a pass's process that died: the retry comes anyway */
	if (!based)
		l->seen = store_data_version(l->st);
	/* a change logged since the pass took the log (a booking tool) */
	l->again = l->failures == 0 && (res.others ||
	    store_dirty_pending(l->st, err, sizeof(err)) == 1);
	/* and what the loop itself used goes back too */
	store_release_memory(l->st);
	malloc_trim(0);
	daemon_status(l->st, &res.stats);
	daemon_watchdog();
}

/*
 * Sleep until the next due message, a feed, the safety rescan (or the
 * retry of a failed pass), another process's write, or a signal.
 */
static void
daemon_wait(struct daemon_loop *l)
{
	struct pollfd pfd[2] = { { .fd = l->ifd, .events = POLLIN },
	    { .events = POLLIN } };
	struct timespec ts;
	time_t now, next;
	long long until, cap;
	int n;

	/* monotonic: a clock that jumps does not stretch or skip it */
	until = daemon_mono_now() + 1000000LL * (l->failures == 0 ?
	    l->rescan : l->failures < 6 ? 1L << l->failures : 60);
	if (l->again) {
		l->again = 0;
		return;
	}
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
		/* a lingering pass's process: its end (poll skips fd -1) */
		pfd[1].fd = l->cfd;
		n = ppoll(pfd, 2, &ts, &l->waitmask);
		if (n > 0)
			daemon_take_signals(l);
		if (n > 0 && pfd[1].revents != 0)
			daemon_linger_end(l);
		if (n > 0 && (pfd[0].revents & POLLIN) &&
		    daemon_drain(l->ifd, l->base) &&
		    store_data_version(l->st) != l->seen)
			return;	/* another process wrote; our own writes do not count */
		daemon_watchdog();
	}
}

int
daemon_run(struct conf **confp, struct store *st)
{
	struct daemon_loop l = { .st = st, .ifd = -1, .cfd = -1, .cback = -1 };
	int rc = EX_OK;

	daemon_wd_usec = daemon_wd_period();
	/* test-only: a shorter safety rescan (nudged(8), ENVIRONMENT) */
	l.rescan = util_test_timing("rescan", DAEMON_RESCAN);
	l.linger = util_test_timing("linger", DAEMON_LINGER);
	l.reuse = util_test_timing("reuse", DAEMON_REUSE);
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
			/* the next pass in a new process, with the new config */
			daemon_linger_end(&l);
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
	daemon_linger_end(&l);
	daemon_notify("STOPPING=1");
	log_info("stopping");
	if (l.ifd >= 0)
		close(l.ifd);
	free(l.base);
	return rc;
}
