/*
 * daemon: the service loop.
 *
 * It never detaches.  Each pass runs in a child process of its own
 * (daemon_pass: its own database connection, the lock shared, killed
 * with us by PR_SET_PDEATHSIG), so what a pass maps and allocates --
 * libcurl and OpenSSL, which cannot be unloaded, libical, the planner's
 * memory -- is the system's again when it exits, and the service idles
 * small (issue 12).  Between passes it sleeps in ppoll() until the
 * earliest due message, a change to the database (inotify on its folder:
 * the file and its -wal, filtered by PRAGMA data_version so our own
 * writes do not wake us), a signal, or the safety rescan (DAEMON_RESCAN seconds).  Signal
 * handlers only set flags; they are blocked except inside ppoll() and
 * during a pass, where a stop request ends the pass after the message in
 * flight.
 *
 *   SIGHUP           reload the config; an invalid one is logged, the old stays
 *   SIGTERM, SIGINT  finish the message in flight, STOPPING=1, exit 0
 *
 * systemd: READY=1 once the database is open and the config valid,
 * STATUS= after each pass, WATCHDOG=1 while the loop (or a transfer)
 * makes progress, RELOADING=1/READY=1 around a reload, STOPPING=1 at the
 * end — written to $NOTIFY_SOCKET directly (the documented protocol), and
 * nothing at all without it.
 */
#ifndef NUDGED_DAEMON_H
#define NUDGED_DAEMON_H

#include "conf/conf.h"
#include "store/store.h"

#define DAEMON_RESCAN	120	/* seconds between safety rescans */

/* Send one sd_notify message; silently nothing without $NOTIFY_SOCKET. */
void	 daemon_notify(const char *msg);
/*
 * What a crash left in 'sending' recovered (store_recover) and said in
 * the log as "after AFTER: ...": at start-up, and when a pass's process
 * dies.  0, or -1 (logged).
 */
int	 daemon_recover(struct store *, time_t now, const char *after);

/*
 * Run until SIGTERM/SIGINT.  *confp may be replaced on SIGHUP (the caller
 * frees what is left in it).  Returns an exit code (0, or 74 when the
 * database fails for good).
 */
int	 daemon_run(struct conf **confp, struct store *);

#endif
