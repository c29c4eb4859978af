"""The send loop's upload marks in DATABASE-inflight (issue 12), when that
file cannot take them: a full disk for it (an LD_PRELOAD shim makes its
write(2) fail, or write part of a record, while a flag file exists), a
file that is not a regular file.  The pass sends nothing it cannot mark,
says so once naming the file (no address), loses nothing, and sends
again once the file can be written; recovery never reads a mark that a
torn record put out of step as lost.
"""

import asyncio
import os
import re
import shutil
import signal
import stat
import subprocess
import time

import pytest

from aiosmtpd.smtp import SMTP

from conftest import NUDGED, build_shim, fmt_utc, preload_env, shift
from smtp_server import SmtpServer, _Handler
from test_send_batch import SlowDataSmtp, copies
from test_service import (PLAIN, TWO_H, add_many, add_single,  # noqa: F401
                          due_now, fast_smtp, services, wait_until,
                          whole_second_after)
from test_sms import DUE, T, configure, once, person, twilio  # noqa: F401

pytestmark = pytest.mark.skipif(shutil.which("cc") is None,
                                reason="needs a C compiler")

_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * write(2) to a file whose name ends in "-inflight", while the file named
 * by $NUDGED_TEST_INFLIGHT_FULL exists: "full" refuses it (ENOSPC);
 * "short" writes 5 bytes of it the first time (what fitted on the disk),
 * refuses the rest, and writes whole again once the flag is gone;
 * "after1" lets the process's first one through and refuses the rest.
 */
ssize_t
write(int fd, const void *buf, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);
	const char *flag = getenv("NUDGED_TEST_INFLIGHT_FULL");
	char link[64], path[4096], mode[16] = "";
	static int torn, writes;
	ssize_t len;
	FILE *f;

	if (real == NULL)
		real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT,
		    "write");
	if (flag == NULL || (f = fopen(flag, "re")) == NULL)
		return real(fd, buf, n);
	if (fgets(mode, sizeof(mode), f) == NULL)
		mode[0] = '\0';
	fclose(f);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	len = readlink(link, path, sizeof(path) - 1);
	if (len < 9 || memcmp(path + len - 9, "-inflight", 9) != 0)
		return real(fd, buf, n);
	if (strncmp(mode, "after1", 6) == 0 && writes++ == 0)
		return real(fd, buf, n);
	if (strncmp(mode, "short", 5) == 0 && !torn && n > 5) {
		torn = 1;
		return real(fd, buf, 5);
	}
	errno = ENOSPC;
	return -1;
}
"""


@pytest.fixture(scope="module")
def full_shim(tmp_path_factory):
    return build_shim(tmp_path_factory.mktemp("inflightfull"), "full", _SHIM)


def _env(shim, flag):
    return preload_env(shim, NUDGED_TEST_INFLIGHT_FULL=str(flag))


def _mentions(text, needle):
    return [line for line in text.splitlines() if needle in line]


@pytest.mark.parametrize("conns", [1, 4])
def test_marks_refused_send_nothing_say_once_then_send(practice, tmp_path,
                                                       fast_smtp, full_shim,
                                                       conns):
    """The -inflight file cannot be written (ENOSPC): not one message goes
    (none could be marked), the pass ends instead of claiming the same rows
    again and again, the file is named once (no address), every row is
    pending with no attempt counted; once the disk has room, each message
    goes once."""
    n = 6
    flag = tmp_path / "full"
    flag.write_text("full")
    due_now(practice, fast_smtp, n, dict(PLAIN, connections=conns))
    t = time.monotonic()
    r = practice.run("--once", timeout=15, env=_env(full_shim, flag))
    took = time.monotonic() - t
    assert fast_smtp.messages == [], copies(fast_smtp)
    rows = practice.messages("purpose = 'reminder'")
    assert [(x["status"], x["attempts"]) for x in rows] == \
        [("pending", 0)] * n, rows
    assert took < 10, took
    said = _mentions(r.stderr, "nudged.db-inflight")
    assert len(said) == 1, r.stderr
    assert "No space left on device" in said[0], said
    assert not re.search(r"c\d+@example", r.stderr), r.stderr
    assert r.returncode != 0, r.stderr
    # room again: each goes once
    flag.unlink()
    r = practice.run("--once", timeout=30, env=_env(full_shim, flag))
    assert r.returncode == 0, r.stderr
    got = copies(fast_smtp)
    assert sorted(got) == sorted(f"c{i}@example.org" for i in range(n)), got
    assert set(got.values()) == {1}, got
    assert [x["status"] for x in practice.messages(
        "purpose = 'reminder'")] == ["sent"] * n
    assert not os.path.exists(f"{practice.db}-inflight")


def test_torn_record_loses_no_later_mark(practice, tmp_path, full_shim,
                                        services):
    """The service: a full disk took part of a record (a short write), so
    that pass stops.  The disk has room again, the next pass (same service,
    same file: no recovery between) marks its first message, and the
    service is killed before the final dot's answer.  Recovery must read
    that mark (the torn record must not put every later one out of step,
    taking them all for lost): the message counts as one that may have
    arrived (recovered = 1), not as one that never started."""
    flag = tmp_path / "full"
    flag.write_text("short")
    srv = SlowDataSmtp(tmp_path / "slow", delay=3).start()
    try:
        due_now(practice, srv, 2, {"connections": 1})
        svc = services(practice, env=_env(full_shim, flag))
        wait_until(lambda: "short write" in svc.log, 15, "the torn record")
        flag.unlink()
        wait_until(lambda: srv.in_data > 0, 30, "a message in DATA")
        svc.proc.send_signal(signal.SIGKILL)
        svc.proc.wait(10)
    finally:
        srv.stop()
    # start-up recovery (nothing to send to: the server is gone)
    practice.run("--once", timeout=15)
    rows = practice.messages("purpose = 'reminder'")
    assert sorted(x["recovered"] for x in rows) == [0, 1], rows


_NOCREATE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/types.h>

/* Creating a file named *-inflight fails (EACCES); reading one does not. */
int
open(const char *path, int flags, ...)
{
	static int (*real)(const char *, int, ...);
	size_t n = strlen(path);
	mode_t mode = 0;
	va_list ap;

	if (real == NULL)
		real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	if (flags & O_CREAT) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
		if (n > 9 && strcmp(path + n - 9, "-inflight") == 0) {
			errno = EACCES;
			return -1;
		}
	}
	return real(path, flags, mode);
}
"""


def test_marks_file_that_cannot_be_made_still_plans(practice, tmp_path,
                                                    fast_smtp):
    """DATABASE-inflight cannot be created (the directory no longer
    writable for it): no message goes, the file is named once, but the
    plan is written all the same, as before the send loop opened first
    (its cancellations, skips and problems must not wait for the marks);
    once the file can be made, each message goes once."""
    n = 3
    due_now(practice, fast_smtp, n, dict(PLAIN, connections=1))
    shim = build_shim(tmp_path, "nocreate", _NOCREATE)
    r = practice.run("--once", timeout=15, env=preload_env(shim))
    assert r.returncode != 0, r.stderr
    assert fast_smtp.messages == [], copies(fast_smtp)
    said = _mentions(r.stderr, "nudged.db-inflight")
    assert len(said) == 1 and "Permission denied" in said[0], r.stderr
    rows = practice.messages("purpose = 'reminder'")
    assert [(x["status"], x["attempts"]) for x in rows] == \
        [("pending", 0)] * n, rows
    r = practice.run("--once", timeout=15)
    assert r.returncode == 0, r.stderr
    got = copies(fast_smtp)
    assert sorted(got) == sorted(f"c{i}@example.org" for i in range(n)), got
    assert set(got.values()) == {1}, got


@pytest.mark.parametrize("kind", ["symlink", "device"])
def test_marks_file_not_a_file(practice, tmp_path, fast_smtp, kind):
    """DATABASE-inflight is a link someone put there, or not a regular
    file (a device that takes every write, or gives zeros for ever): no
    message goes, the file is named once, nothing is lost; once it is
    removed, each message goes once."""
    n = 3
    due_now(practice, fast_smtp, n, dict(PLAIN, connections=1))
    path = f"{practice.db}-inflight"
    if kind == "symlink":
        os.symlink(tmp_path / "elsewhere", path)
    else:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero
    r = practice.run("--once", timeout=15)
    assert r.returncode != 0, r.stderr
    assert fast_smtp.messages == [], copies(fast_smtp)
    said = _mentions(r.stderr, "nudged.db-inflight")
    assert len(said) == 1, r.stderr
    assert not re.search(r"c\d+@example", r.stderr), r.stderr
    # recovery refused to start: nothing planned yet, or all still to go
    assert all((x["status"], x["attempts"]) == ("pending", 0)
               for x in practice.messages()), practice.messages()
    assert not (tmp_path / "elsewhere").exists()
    os.unlink(path)
    r = practice.run("--once", timeout=15)
    assert r.returncode == 0, r.stderr
    got = copies(fast_smtp)
    assert sorted(got) == sorted(f"c{i}@example.org" for i in range(n)), got
    assert set(got.values()) == {1}, got


def test_kill_9_with_sms_in_flight(practice, twilio):
    """sms.concurrency = 4, killed with four bodies at the provider (each
    marked before its last bytes, from the one thread): recovery reads
    the four marks, counts exactly those as uncertain (recovered = 1) and
    resends them; the two that had not started go as planned, no attempt
    counted; every text arrives, none more than twice."""
    n = 6
    configure(practice, twilio, sms={"concurrency": 4}, late_limit="2h")
    phones = []
    for k in range(n):
        phones.append("+447700" + f"9{k:05d}")
        _, case = person(practice, f"Client {k}", f"07700 9{k:05d}")
        practice.book(case, T)
    twilio.script([("slow", 2)] * 4)
    p = subprocess.Popen([NUDGED, "-c", str(practice.conf), "--once",
                          "--now", shift(DUE, minutes=40)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: twilio._active >= 4, 15, "four bodies")
        p.send_signal(signal.SIGKILL)
    finally:
        p.wait(10)
    # the slow answers come after the kill: which four were up
    wait_until(lambda: len(twilio.requests) >= 4, 10, "the slow answers")
    first = [m["To"] for m in twilio.messages]
    assert len(first) == 4, first
    once(practice, shift(DUE, minutes=41))
    got = {}
    for m in twilio.messages:
        got[m["To"]] = got.get(m["To"], 0) + 1
    assert sorted(got) == sorted(phones), got
    twice = sorted(k for k, v in got.items() if v == 2)
    assert twice == sorted(first) and max(got.values()) == 2, got
    rows = practice.messages("purpose = 'reminder'")
    assert {x["status"] for x in rows} == {"sent"}, rows
    again = sorted(x["recipient"] for x in rows if x["recovered"] == 1)
    assert again == sorted(first), rows


def test_sms_marks_refused_send_nothing(practice, tmp_path, twilio,
                                        full_shim):
    """The same with SMS (sms.concurrency 4, marked from the one thread):
    no text goes, the file is named once, no attempt is counted; each
    text goes once when the file has room."""
    n = 5
    flag = tmp_path / "full"
    flag.write_text("full")
    configure(practice, twilio, sms={"concurrency": 4}, late_limit="2h")
    for k in range(n):
        _, case = person(practice, f"Client {k}", f"07700 9{k:05d}")
        practice.book(case, T)
    r = practice.once(shift(DUE, minutes=40), timeout=15,
                      env=_env(full_shim, flag))
    assert twilio.messages == [], twilio.messages
    assert len(_mentions(r.stderr, "nudged.db-inflight")) == 1, r.stderr
    assert "+447700" not in r.stderr and "07700" not in r.stderr, r.stderr
    assert [(x["status"], x["attempts"]) for x in practice.messages(
        "purpose = 'reminder'")] == [("pending", 0)] * n
    flag.unlink()
    once(practice, shift(DUE, minutes=41))
    assert sorted(m["To"] for m in twilio.messages) == sorted(
        "+447700" + f"9{k:05d}" for k in range(n))


class _StallRcpt(_Handler):
    """Holds RCPT owner.stall seconds (when set): the message has not
    begun to go up, so no mark may count for it."""

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        o = self.owner
        if o.stall:
            with o._cond:
                o.in_rcpt += 1
            await asyncio.sleep(o.stall)
        return await super().handle_RCPT(server, session, envelope, address,
                                         rcpt_options)


class StallSmtp(SmtpServer):
    def __init__(self, workdir):
        super().__init__(workdir, tls="none", auth=None)
        self.stall = 0
        self.in_rcpt = 0

    def _factory(self):
        with self._cond:
            self.connections += 1
        return SMTP(_StallRcpt(self), hostname="localhost", decode_data=False,
                    ident="nudged-stall-smtpd")


def test_left_over_mark_never_counts_for_a_reused_id(practice, tmp_path,
                                                    full_shim, services):
    """The service: a pass marks message 1, sends it, and fails (the
    next mark refused): its marks stay in DATABASE-inflight.  Another
    program deletes the outbox's rows; a booking makes a new message.
    SQLite would give it id 1 again (no AUTOINCREMENT): an id claimed
    since the marks were last cleared is never lent (store_insert_msg), and
    the next pass folds the left-over marks into the database before it
    plans, so no record names the id it lends.  It claims it in attempt 1, and is
    killed before its upload began (held at RCPT).  The left-over record
    (1, 1) must not make recovery count it as one that may have arrived:
    it never started (recovered = 0)."""
    flag = tmp_path / "full"
    flag.write_text("after1")
    srv = StallSmtp(tmp_path / "stall").start()
    try:
        practice.use_smtp(srv)
        practice.write_conf(email=dict(PLAIN, connections=1),
                            reminders=TWO_H, late_limit="1h")
        practice.init()
        starts = fmt_utc(whole_second_after(2 * 3600 - 3))
        add_many(practice, 2, starts)
        svc = services(practice, env=_env(full_shim, flag))
        wait_until(lambda: "cannot write" in svc.log, 15, "the refused mark")
        assert practice.inflight() == {(1, 1)}, practice.inflight()
        flag.unlink()
        srv.stall = 30
        con = practice.connect()
        try:
            with con:
                con.execute("DELETE FROM messages")
                add_single(con, 7, starts)
        finally:
            con.close()
        wait_until(lambda: srv.in_rcpt > 0, 15, "the new message at RCPT")
        [new] = practice.query("SELECT id, attempts FROM messages WHERE"
                               " status = 'sending'")
        # The pass folds the left-over marks into the database and clears
        # the file before it plans (deliver.c: the send loop opens first),
        # so the id may be lent again then; what matters is that no record
        # names it in this attempt.
        assert new["attempts"] == 1, new
        assert (new["id"], 1) not in practice.inflight(), practice.inflight()
        svc.proc.send_signal(signal.SIGKILL)
        svc.proc.wait(10)
    finally:
        srv.stop()
    r = practice.run("--once", timeout=15)
    assert "to resend" not in r.stderr, r.stderr
    row = practice.messages("id = ?", new["id"])[0]
    assert row["recovered"] == 0, row


_NOTHREAD = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>

/* No thread can start (a unit's TasksMax reached counts threads too). */
int
pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *),
    void *arg)
{
	(void)t; (void)a; (void)fn; (void)arg;
	return EAGAIN;
}
"""


def test_no_thread_can_start(practice, tmp_path, fast_smtp, twilio):
    """pthread_create refused (email.connections 4): the email goes on one
    connection from the main thread (the idle hook called there without
    the session's lock), the sync runs in place; each email and text once,
    every row sent, the marks' file gone."""
    shim = build_shim(tmp_path, "nothread", _NOTHREAD)
    configure(practice, twilio, sms={"concurrency": 4},
              email=dict(PLAIN, connections=4, url=fast_smtp.url),
              reminders=[{"before": "3h", "channel": "email"},
                         {"before": "3h", "channel": "sms"}],
              late_limit="2h")
    for k in range(20):
        _, case = person(practice, f"Client {k}", f"07700 9{k:05d}",
                         email=f"c{k}@example.org")
        practice.book(case, T)
    r = practice.once(shift(DUE, minutes=40), timeout=30,
                      env=preload_env(shim))
    assert r.returncode == 0, r.stderr
    got = copies(fast_smtp)
    assert sorted(got) == sorted(f"c{k}@example.org" for k in range(20)), got
    assert set(got.values()) == {1}, got
    # one connection: no thread of the mail session could start
    assert fast_smtp.connections == 1, fast_smtp.connections
    assert len(twilio.messages) == 20
    assert {x["status"] for x in practice.messages(
        "purpose = 'reminder'")} == {"sent"}
    assert not os.path.exists(f"{practice.db}-inflight")


class _HalfAuthSmtp(SlowDataSmtp):
    """Takes the first `good` logins, refuses (535) the ones after."""

    def __init__(self, workdir, good, delay):
        super().__init__(workdir, delay=delay)
        self.good = good

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        res = super()._authenticate(server, session, envelope, mechanism,
                                    auth_data)
        with self._cond:
            if res.success and self.good <= 0:
                self.auth_failures += 1
                return type(res)(success=False, handled=False)
            self.good -= 1
        return res


def test_login_refused_on_some_connections_mid_batch(practice, tmp_path):
    """email.connections = 4, the server takes two logins and refuses the
    other two while the first messages are in DATA: what went is recorded
    sent once, the rest stays pending (the channel paused: the refusal
    stops the batch), nothing in 'sending', nothing sent twice, no
    marks' file left."""
    n = 12
    srv = _HalfAuthSmtp(tmp_path / "half", good=2, delay=0.3).start()
    try:
        due_now(practice, srv, n, {"connections": 4})
        r = practice.run("--once", timeout=30)
    finally:
        srv.stop()
    assert r.returncode == 75, r.stderr
    assert srv.auth_failures >= 1
    got = copies(srv)
    assert set(got.values()) <= {1}, got
    rows = practice.messages("purpose = 'reminder'")
    sent = sorted(x["recipient"] for x in rows if x["status"] == "sent")
    assert sent == sorted(got), (sent, got)
    assert {x["status"] for x in rows} <= {"sent", "pending"}, rows
    assert len(sent) < n, rows
    assert all(x["attempts"] <= 1 for x in rows), rows
    assert not os.path.exists(f"{practice.db}-inflight")
