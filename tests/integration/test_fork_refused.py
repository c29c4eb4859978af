"""The service's passes when fork() is refused (issue 12).

Each pass runs in a process of its own; when the system refuses one
(EAGAIN or ENOMEM: a unit's TasksMax= or LimitNPROC= reached), the pass
runs in the service itself, with a warning.  Root ignores RLIMIT_NPROC,
so the tests refuse fork() with an LD_PRELOAD shim instead, for the
service only, and only while a flag file exists: a test can refuse it for
some passes and allow it again for the next.

An in-process pass that sent leaves libcurl and OpenSSL mapped in the
service (libssl cannot be unloaded): that is expected, the price of a
system short of processes, and not checked here.  What must not be left
over is everything that makes the next pass's process differ from one
forked from a service that never ran a pass: descriptors, the loop's
connection and its data_version baseline, the linger state, random bytes
already drawn.
"""

import datetime as dt
import fcntl
import os
import re
import shutil
import signal
import time

import pytest

from conftest import build_shim, fmt_utc, mails_to, preload_env
from test_lazy_libs import lazy_maps
from test_service import (STOP_LIMIT, TEMPLATES, TWO_H,  # noqa: F401
                          add_single, notify, pass_processes, services,
                          slow_practice, status_counts, wait_until,
                          watchdog_pings, whole_second_after)

pytestmark = pytest.mark.skipif(shutil.which("cc") is None,
                                reason="needs a C compiler")

WARN = ("cannot start a process for the pass (Resource temporarily "
        "unavailable): running it in the service's own")
SAM, ALEX = "sam@example.org", "alex@example.org"

_NOFORK = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/*
 * fork() refused as at a unit's TasksMax (EAGAIN) while the file named by
 * $NUDGED_TEST_NOFORK exists.  Each refusal adds a byte to FILE.refused,
 * each fork made one to FILE.forked.
 */
static void
count(const char *flag, const char *what)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s.%s", flag, what);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		(void)!write(fd, "x", 1);
		close(fd);
	}
}

pid_t
fork(void)
{
	const char *flag = getenv("NUDGED_TEST_NOFORK");
	pid_t (*real)(void) = (pid_t (*)(void))dlsym(RTLD_NEXT, "fork");
	pid_t pid;
	int e;

	if (flag != NULL && access(flag, F_OK) == 0) {
		count(flag, "refused");
		errno = EAGAIN;
		return -1;
	}
	pid = real();
	e = errno;
	if (flag != NULL && pid > 0)
		count(flag, "forked");
	errno = e;
	return pid;
}
"""


@pytest.fixture(scope="module")
def nofork_shim(tmp_path_factory):
    return build_shim(tmp_path_factory.mktemp("nofork"), "nofork", _NOFORK)


class NoFork:
    """The switch: refuse() / allow() fork() for the service started with
    env(); refused(), forked(): how many forks it refused, made so far."""

    def __init__(self, shim, d):
        self.shim = shim
        self.flag = d / "nofork"

    def refuse(self):
        self.flag.touch()

    def allow(self):
        self.flag.unlink(missing_ok=True)

    def _count(self, what):
        try:
            return (self.flag.parent / f"nofork.{what}").stat().st_size
        except FileNotFoundError:
            return 0

    def refused(self):
        return self._count("refused")

    def forked(self):
        return self._count("forked")

    def env(self, **more):
        return preload_env(self.shim, NUDGED_TEST_NOFORK=str(self.flag),
                           **more)


@pytest.fixture
def nofork(nofork_shim, tmp_path):
    n = NoFork(nofork_shim, tmp_path)
    n.refuse()
    return n


def _warnings(svc):
    return [line for line in svc.log.splitlines()
            if "cannot start a process" in line]


def _fds(pid):
    """What pid's descriptors point to (the loop's connection is opened
    anew at each pass: the numbers change)."""
    d = f"/proc/{pid}/fd"
    out = []
    for n in os.listdir(d):
        try:
            out.append(os.readlink(f"{d}/{n}").split(":[")[0])
        except OSError:
            pass
    return sorted(out)


def _no_more_fds(pid, before):
    """None beyond those in before, but for the -wal: SQLite's descriptor,
    and store_sync's own, opened at the first pass that syncs (one that
    claims nothing never does) and kept with the connection."""
    now = _fds(pid)
    return all(now.count(f) <= (max(before.count(f), 2) if
                                f.endswith(".db-wal") else before.count(f))
               for f in now)


def _pass_over(notify, after, sent):
    """The STATUS= of a pass that sent `sent`, from notify index after."""
    return wait_until(lambda: any(f"last pass: {sent} sent" in m
                                  for _, m in notify.lines[after:]), 10,
                      f"a pass that sent {sent} to be over")


def _message_ids(srv):
    return [str(m["message"]["Message-ID"]) for m in srv.messages]


# ---------------------------------------------------------------------------
# 1. the passes run in the service: once each, logged once each

def test_fork_refused_the_passes_run_in_the_service(practice, smtp, services,
                                                    notify, nofork):
    practice.write_conf(reminders=TWO_H, late_limit="1h")
    practice.init()
    practice.couple(fmt_utc(whole_second_after(2 * 3600 - 5)))
    svc = services(practice, notify,
                   env=nofork.env(NUDGED_TEST_TIMING="rescan=1"))
    svc.ready()
    smtp.wait_for(2, timeout=10)
    wait_until(lambda: status_counts(practice) == {"sent": 2}, 5,
               "both rows 'sent'")
    # it ran here, not in a process of its own: the service mapped libcurl
    assert pass_processes(svc.pid) == []
    assert any("libcurl" in m for m in lazy_maps(svc.pid)), svc.log
    # a few more passes (the rescan every second): each refused, each run
    wait_until(lambda: nofork.refused() >= 3, 10, "three refused passes")
    wait_until(lambda: len(_warnings(svc)) >= 3, 5, "their warnings")
    rc, took = svc.stop()
    assert rc == 0, svc.log
    assert took <= STOP_LIMIT
    notify.wait("STOPPING=1", 1)
    # one warning per refused pass, naming the reason and nothing else
    warns = _warnings(svc)
    assert len(warns) == nofork.refused(), svc.log
    assert all(w.endswith(WARN) for w in warns), warns
    assert not any("@" in w or "Sam" in w or "Alex" in w for w in warns)
    assert "pass failed" not in svc.log, svc.log
    # each reminder exactly once
    assert len(mails_to(smtp, SAM)) == 1 and len(mails_to(smtp, ALEX)) == 1
    assert len(smtp.messages) == 2
    assert status_counts(practice) == {"sent": 2}


# ---------------------------------------------------------------------------
# 2. changes by another program are seen after an in-process pass

@pytest.mark.slow
def test_fork_refused_a_booking_made_meanwhile_is_picked_up(
        practice, tmp_path, services, notify, nofork):
    """A booking committed while an in-process pass waits for a slow
    server (the pass's own data_version look), and one committed while the
    service idles after it (the loop's baseline, the wake-up)."""
    srv = slow_practice(practice, tmp_path, 1, 1.0)
    try:
        svc = services(practice, notify, env=nofork.env())
        svc.ready()
        srv.wait_in_data(1, 10)
        assert pass_processes(svc.pid) == []
        con = practice.connect()
        with con:
            add_single(con, 1, fmt_utc(whole_second_after(2 * 3600 - 5)))
        con.close()
        srv.wait_for(2, 10)
        wait_until(lambda: status_counts(practice) == {"sent": 2}, 5,
                   "the booking made during the pass to be sent")
        # idle now (no rescan for two minutes): a booking due at once
        # wakes it (inotify, then data_version against the pass's last look)
        after = len(notify.lines)
        time.sleep(0.3)
        con = practice.connect()
        with con:
            add_single(con, 2, fmt_utc(whole_second_after(2 * 3600 - 5)))
        con.close()
        t = time.time()
        srv.wait_for(3, 10)
        assert srv.arrivals[2] - t <= 2.0 + srv.delay, srv.arrivals[2] - t
        notify.wait("STATUS=", 5, after)
        # idle again, with what the passes opened still mapped: no CPU,
        # and no thread of theirs left behind
        before = svc.cpu_ticks()
        time.sleep(1.5)
        assert svc.cpu_ticks() - before < 5, "busy after in-process passes"
        assert os.listdir(f"/proc/{svc.pid}/task") == [str(svc.pid)]
        assert nofork.refused() >= 2
        assert len(_warnings(svc)) == nofork.refused(), svc.log
        rc, _ = svc.stop()
        assert rc == 0, svc.log
        assert status_counts(practice) == {"sent": 3}
    finally:
        srv.stop()


# ---------------------------------------------------------------------------
# 3. SIGHUP and SIGTERM during an in-process pass

def test_fork_refused_sighup_during_a_pass(practice, tmp_path, services,
                                           notify, nofork):
    """As with a pass's process: the pass goes on undisturbed, the reload
    follows it, and the next pass has the new config."""
    srv = slow_practice(practice, tmp_path, 1, 1.0)
    try:
        svc = services(practice, notify, env=nofork.env())
        svc.ready()
        srv.wait_in_data(1, 10)
        email = dict(tls="none", username=None, password_file=None,
                     url=srv.url, ca_file=srv.ca_file)
        practice.write_conf(email=email, reminders=TWO_H, late_limit="1h",
                            practice={"name": "New Practice"},
                            extra=TEMPLATES)
        svc.signal(signal.SIGHUP)
        wait_until(lambda: "configuration reloaded" in svc.log, 10,
                   "the reload after the pass")
        assert len(srv.messages) == 1
        assert status_counts(practice) == {"sent": 1}, practice.messages()
        assert "pass failed" not in svc.log, svc.log
        assert not str(srv.messages[0]["message"]["Subject"]).startswith(
            "New Practice:")
        con = practice.connect()
        with con:
            add_single(con, 2, fmt_utc(whole_second_after(2 * 3600 - 5)))
        con.close()
        srv.wait_for(2, 10)
        assert str(srv.messages[1]["message"]["Subject"]).startswith(
            "New Practice:"), srv.messages[1]["message"]["Subject"]
        wait_until(lambda: status_counts(practice) == {"sent": 2}, 5,
                   "the second reminder 'sent'")
        assert pass_processes(svc.pid) == []
        rc, _ = svc.stop()
        assert rc == 0, svc.log
    finally:
        srv.stop()


def test_fork_refused_sigterm_finishes_the_message_in_flight(
        practice, tmp_path, services, notify, nofork):
    srv = slow_practice(practice, tmp_path, 3, 1.5)
    try:
        svc = services(practice, notify, env=nofork.env())
        svc.ready()
        srv.wait_in_data(1, 10)
        assert pass_processes(svc.pid) == []
        t = time.monotonic()
        svc.signal(signal.SIGTERM)
        rc = svc.proc.wait(STOP_LIMIT)
        assert rc == 0, svc.log
        assert time.monotonic() - t <= STOP_LIMIT
        notify.wait("STOPPING=1", 1)
        assert "pass failed" not in svc.log, svc.log
        assert len(srv.messages) == 1, "the message in flight was abandoned"
        assert practice.messages("status = 'sending'") == []
        assert len(practice.messages("status = 'sent'")) == 1
        assert len(practice.messages("status = 'pending'")) == 2
        assert len(_warnings(svc)) == 1, svc.log
    finally:
        srv.stop()


# ---------------------------------------------------------------------------
# 4. refused, then allowed again: the next pass has a process of its own

def test_fork_allowed_again_the_next_passes_run_in_a_process(
        practice, smtp, services, notify, nofork):
    """An in-process pass that sent, then passes in processes of their
    own, refused again, allowed again: every pass sends what is due once,
    the loop's descriptors do not grow, every Message-ID is its own
    (random bytes the service drew must not be handed to each process
    forked after it), and a pass's process does not linger for the next
    pass when the service has libcurl open already: the next one gets it
    with the fork, as this one did."""
    practice.write_conf(reminders=TWO_H, late_limit="1h")
    practice.init()
    later = fmt_utc(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3))
    _, _, case, _ = practice.couple(later)
    svc = services(practice, notify,
                   env=nofork.env(NUDGED_TEST_TIMING="linger=5"))
    svc.ready()
    notify.wait("STATUS=", 5)
    before = _fds(svc.pid)
    sent = 0

    def one_pass(refused):
        nonlocal sent
        after = len(notify.lines)
        n, forks = nofork.refused(), nofork.forked()
        practice.book(case, fmt_utc(whole_second_after(2 * 3600 - 5)))
        sent += 2
        smtp.wait_for(sent, timeout=10)
        _pass_over(notify, after, 2)
        if refused:
            assert nofork.refused() > n
        else:
            assert nofork.refused() == n, svc.log
            assert nofork.forked() > forks, svc.log
            # it is over, and does not linger
            wait_until(lambda: pass_processes(svc.pid) == [], 1,
                       "the pass's process to end, not linger")
        assert pass_processes(svc.pid) == []
        wait_until(lambda: _no_more_fds(svc.pid, before), 5,
                   f"the loop's fds as they were: {before}, not "
                   f"{_fds(svc.pid)}")

    one_pass(refused=True)
    nofork.allow()
    one_pass(refused=False)
    one_pass(refused=False)
    nofork.refuse()
    one_pass(refused=True)
    nofork.allow()
    one_pass(refused=False)
    assert "pass failed" not in svc.log, svc.log
    # (and the appointment three days off planned, pending)
    assert status_counts(practice) == {"sent": sent, "pending": 2}
    assert len(smtp.messages) == sent
    ids = _message_ids(smtp)
    rand = [re.match(r"<?([0-9a-f]{32})\.", i).group(1) for i in ids]
    assert len(set(rand)) == len(rand), ids
    rc, _ = svc.stop()
    assert rc == 0, svc.log


def test_fork_refused_kill_9_mid_send_loses_nothing(practice, tmp_path,
                                                    services, notify,
                                                    nofork):
    """kill -9 of the service while it sends in its own process: no
    process of a pass holds the lock on, and the restart recovers the row
    in flight as start-up recovery does; nothing lost, none sent twice
    but (at most) that one."""
    srv = slow_practice(practice, tmp_path, 3, 1.0)
    try:
        svc = services(practice, notify, env=nofork.env())
        svc.ready()
        srv.wait_in_data(1, 10)
        assert pass_processes(svc.pid) == []
        svc.signal(signal.SIGKILL)
        svc.proc.wait(5)
        with open(practice.db, "rb") as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert practice.messages("status = 'sending'"), practice.messages()
        nofork.allow()
        svc = services(practice, notify, env=nofork.env())
        svc.ready()
        wait_until(lambda: status_counts(practice) == {"sent": 3}, 15,
                   f"all three sent: {practice.messages()}")
        assert "after an interruption" in svc.log, svc.log
        got = {}
        for m in srv.messages:
            for r in m["rcpt_tos"]:
                got[r] = got.get(r, 0) + 1
        assert sorted(got) == [f"c{i}@example.org" for i in range(3)], got
        assert sum(got.values()) <= 4, got
        assert sum(r["recovered"] for r in practice.messages()) == 1
        rc, _ = svc.stop()
        assert rc == 0, svc.log
    finally:
        srv.stop()


# ---------------------------------------------------------------------------
# 5. the watchdog

def test_fork_refused_watchdog_fed_during_an_in_process_pass(
        practice, tmp_path, services, notify, nofork):
    srv = slow_practice(practice, tmp_path, 1, 3.0)
    try:
        svc = services(practice, notify,
                       # below 2 s: see test_watchdog_fed_during_a_long_smtp_exchange
                       env=nofork.env(WATCHDOG_USEC="1500000"))
        svc.ready()
        srv.wait_in_data(1, 10)
        assert pass_processes(svc.pid) == []
        t = time.monotonic()
        srv.wait_for(1, 10)
        done = time.monotonic()
        pings = watchdog_pings(notify, t, done)
        assert done - t >= 2.0
        assert len(pings) >= 2, f"only {len(pings)} WATCHDOG=1 in " \
                                f"{done - t:.1f} s"
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        assert not gaps or max(gaps) < 2.0, gaps
        rc, _ = svc.stop()
        assert rc == 0, svc.log
        assert len(_warnings(svc)) >= 1, svc.log
    finally:
        srv.stop()


def test_fork_refused_sighups_during_a_pass_interrupt_nothing(
        practice, smtp, services, notify, nofork):
    """A pass's process never gets the service's SIGHUP (systemd sends it
    to the main process); a pass in the service does, at any point of its
    work: a burst of them during one that sends over STARTTLS must fail
    nothing (a system call cut short by the handler) and send each
    reminder once."""
    from test_service import add_many
    practice.write_conf(reminders=TWO_H, late_limit="1h")
    practice.init()
    svc = services(practice, notify, env=nofork.env())
    svc.ready()
    notify.wait("STATUS=", 5)
    add_many(practice, 20, fmt_utc(whole_second_after(2 * 3600 - 5)))
    deadline = time.monotonic() + 15
    while len(smtp.messages) < 20 and time.monotonic() < deadline:
        svc.signal(signal.SIGHUP)
        time.sleep(0.005)
    wait_until(lambda: status_counts(practice) == {"sent": 20}, 10,
               f"all twenty sent: {status_counts(practice)}")
    assert len(smtp.messages) == 20
    assert "pass failed" not in svc.log, svc.log
    assert "tempfail" not in svc.log and "unknown" not in svc.log, svc.log
    # the reloads asked for follow the pass
    wait_until(lambda: "configuration reloaded" in svc.log, 5, "a reload")
    rc, _ = svc.stop()
    assert rc == 0, svc.log
