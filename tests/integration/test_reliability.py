"""Nothing lost, nothing stuck (issue 13): what a crash, a stuck lock, a
stop or a restart does to the outbox.

Each test reproduces one defect an adversarial run found, against the
real daemon (service or --once), a real SMTP server or fake SMS provider
on loopback, and the SQLite file written the way a booking tool does.
"""

import asyncio
import os
import random
import signal
import socket
import subprocess
import threading
import time

import pytest
from aiosmtpd.smtp import SMTP

from conftest import NUDGED, fmt_utc, shift
from fake_sms import FakeTwilio
from smtp_server import SmtpServer
from test_service import (PLAIN, STOP_LIMIT, TWO_H, SlowSmtp, add_many,  # noqa: F401
                          db_lock_free, fast_smtp, notify, services,
                          wait_until, whole_second_after)
from test_sms import FROM, sms_group


# ---------------------------------------------------------------------------
# servers that misbehave

class SilentServer:
    """Accepts TCP connections and never says a word (no SMTP greeting)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.held = []
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    @property
    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def _run(self):
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.held.append(c)
            self.accepted += 1

    def close(self):
        self._stop = True
        self._t.join(2)
        for c in self.held:
            c.close()
        self.sock.close()


class _NoQuitSmtp(SMTP):
    """Accepts mail, then never answers QUIT."""

    async def smtp_QUIT(self, arg):
        await asyncio.sleep(3600)


class NoQuitSmtp(SmtpServer):
    def __init__(self, workdir):
        super().__init__(workdir, tls="none", auth=None)

    def _factory(self):
        from smtp_server import _Handler
        with self._cond:
            self.connections += 1
        return _NoQuitSmtp(_Handler(self), hostname="localhost",
                           decode_data=False, ident="nudged-noquit-smtpd")


@pytest.fixture
def silent():
    s = SilentServer()
    yield s
    s.close()


def rows(practice):
    return practice.messages("purpose = 'reminder'")


def client_copies(srv, addr):
    return sum(1 for m in srv.messages for r in m["rcpt_tos"] if r.lower() == addr)


BLOCK_SENT = ("CREATE TRIGGER block_sent BEFORE UPDATE OF status ON messages"
              " WHEN NEW.status = 'sent' BEGIN"
              " SELECT RAISE(ABORT, 'simulated: database or disk is full'); END")


# ---------------------------------------------------------------------------
# Defect 1: an outcome that could not be recorded is kept until it is

def test_outcome_kept_until_recorded(practice, fast_smtp, services, notify):
    """The server accepted the email; recording 'sent' fails (a stand-in
    for a full disk or a lock held past our wait: a trigger refuses it).
    The outcome is kept and recorded once the database takes it again:
    the row never stays 'sending', and a restart sends nothing twice."""
    practice.use_smtp(fast_smtp)
    practice.write_conf(email=dict(PLAIN, url=fast_smtp.url,
                                   ca_file=fast_smtp.ca_file),
                        reminders=TWO_H, late_limit="1h")
    practice.init()
    practice.set(BLOCK_SENT)
    add_many(practice, 1, fmt_utc(whole_second_after(2 * 3600 - 3)))
    svc = services(practice, notify)
    svc.ready()
    fast_smtp.wait_for(1, 10)
    time.sleep(1.5)
    assert [r["status"] for r in rows(practice)] == ["sending"]
    practice.set("DROP TRIGGER block_sent")
    wait_until(lambda: [r["status"] for r in rows(practice)] == ["sent"], 10,
               "the kept outcome to be recorded")
    rc, _ = svc.stop()
    assert rc == 0, svc.log
    svc2 = services(practice, notify)
    svc2.ready()
    time.sleep(1.0)
    rc, _ = svc2.stop()
    assert rc == 0, svc2.log
    assert client_copies(fast_smtp, "c0@example.org") == 1
    assert "cannot record its outcome" in svc.log


def test_outcome_of_a_row_deleted_in_flight_is_let_go(practice, fast_smtp,
                                                      services, notify):
    """A row another program deletes while its outcome waits to be
    recorded: retrying would never end; nudged lets it go and goes on."""
    practice.use_smtp(fast_smtp)
    practice.write_conf(email=dict(PLAIN, url=fast_smtp.url,
                                   ca_file=fast_smtp.ca_file),
                        reminders=TWO_H, late_limit="1h")
    practice.init()
    practice.set(BLOCK_SENT.replace("WHEN NEW.status = 'sent'",
                                    "WHEN NEW.status = 'sent' AND NEW.id = 1"))
    add_many(practice, 2, fmt_utc(whole_second_after(2 * 3600 - 3)))
    svc = services(practice, notify)
    svc.ready()
    fast_smtp.wait_for(1, 10)
    wait_until(lambda: "cannot record its outcome" in svc.log, 5, "the retry")
    practice.set("DELETE FROM messages WHERE id = 1")
    wait_until(lambda: [r["status"] for r in practice.messages(
        "recipient = 'c1@example.org'")] == ["sent"], 10, "the other message to go")
    assert "deleted by another program while in flight" in svc.log
    rc, _ = svc.stop()
    assert rc == 0, svc.log


def test_stop_while_an_outcome_cannot_be_recorded(practice, fast_smtp, services,
                                                 notify):
    """SIGTERM while recording keeps failing: one last try, then exit in
    time; the row is left to start-up recovery (resent at most once)."""
    practice.use_smtp(fast_smtp)
    practice.write_conf(email=dict(PLAIN, url=fast_smtp.url,
                                   ca_file=fast_smtp.ca_file),
                        reminders=TWO_H, late_limit="1h")
    practice.init()
    practice.set(BLOCK_SENT)
    add_many(practice, 1, fmt_utc(whole_second_after(2 * 3600 - 3)))
    svc = services(practice, notify)
    svc.ready()
    fast_smtp.wait_for(1, 10)
    time.sleep(0.5)
    rc, took = svc.stop()
    assert rc == 0, svc.log
    assert took < STOP_LIMIT
    assert "not recorded" in svc.log
    r = practice.sending()
    assert len(r) == 1 and r[0]["uploaded"] == 1, r


def test_uncertain_reminder_counts_for_the_cancellation_notice(ready, smtp):
    """A reminder that may have arrived (an uncertain attempt, resent later)
    is treated as sent when the appointment is cancelled: the client hears
    of the cancellation."""
    t = "2026-12-03T14:00:00Z"
    ready.write_conf(reminders=[{"before": "48h", "channel": "email"}],
                     late_limit="1h")
    sam = ready.add_client("Sam Taylor", email="sam@example.org")
    case = ready.add_case("Sam", [sam])
    appt = ready.book(case, t)
    assert ready.once(shift(t, hours=-48)).returncode == 0
    # as after a crash during the upload and start-up recovery: pending again
    ready.set("UPDATE messages SET status = 'pending', recovered = 1,"
              " next_at = ?, sent_at = NULL", shift(t, hours=-40))
    ready.set("UPDATE appointments SET status = 'cancelled' WHERE id = ?", appt)
    r = ready.once(shift(t, hours=-47))
    assert r.returncode == 0, r.stderr
    notices = ready.messages("purpose = 'cancellation'")
    assert [(n["recipient"], n["status"]) for n in notices] == \
        [("sam@example.org", "sent")]


# ---------------------------------------------------------------------------
# Defect 2: how far a send got; a stop aborts what has not begun

def test_sigterm_during_connect_exits_at_once(practice, silent, services, notify):
    """A server that never greets: SIGTERM is acted on during the transfer
    (the contract's 5 s), and the claim is undone without an attempt."""
    practice.write_conf(email=dict(PLAIN, url=silent.url, timeout="30s"),
                        reminders=TWO_H, late_limit="1h")
    practice.init()
    add_many(practice, 1, fmt_utc(whole_second_after(2 * 3600 - 3)))
    svc = services(practice, notify)
    svc.ready()
    wait_until(lambda: silent.accepted >= 1 and
               rows(practice)[0]["status"] == "sending", 10, "the connection")
    rc, took = svc.stop()
    assert rc == 0, svc.log
    assert took < STOP_LIMIT
    r = rows(practice)[0]
    assert (r["status"], r["attempts"], r["recovered"]) == ("pending", 0, 0), r


def test_kills_during_connect_never_fail_a_message(practice, silent, services,
                                                   notify, fast_smtp):
    """Killed while connecting, again and again: the message never left the
    machine, so it is neither failed as "may have arrived" nor charged
    attempts; it goes once the server answers."""
    practice.write_conf(email=dict(PLAIN, url=silent.url, timeout="30s"),
                        reminders=TWO_H, late_limit="1h")
    practice.init()
    add_many(practice, 1, fmt_utc(whole_second_after(2 * 3600 - 3)))
    for i in range(3):
        svc = services(practice, notify)
        wait_until(lambda: silent.accepted >= i + 1 and
                   rows(practice)[0]["status"] == "sending", 10, "the connection")
        svc.proc.send_signal(signal.SIGKILL)
        svc.proc.wait(10)
        # and its pass's process with it, a moment later (test_service.py)
        wait_until(lambda: db_lock_free(practice), 10, "the lock released")
    practice.use_smtp(fast_smtp)
    practice.write_conf(email=dict(PLAIN, url=fast_smtp.url,
                                   ca_file=fast_smtp.ca_file),
                        reminders=TWO_H, late_limit="1h")
    r = practice.run("--once")
    assert r.returncode == 0, r.stderr
    row = rows(practice)[0]
    assert (row["status"], row["attempts"], row["recovered"]) == ("sent", 1, 0), row
    assert client_copies(fast_smtp, "c0@example.org") == 1


def test_sigterm_waiting_for_the_verdict_exits_in_time(practice, tmp_path,
                                                       services, notify):
    """The whole message went up, the server sits on its reply: nudged
    waits a moment, then gives up within the 5 s; the outcome is unknown
    (resent once, same Message-ID), never lost."""
    srv = SlowSmtp(tmp_path / "slow", delay=30.0).start()
    try:
        practice.use_smtp(srv)
        practice.write_conf(email=dict(PLAIN, url=srv.url, ca_file=srv.ca_file,
                                       timeout="30s"),
                            reminders=TWO_H, late_limit="1h")
        practice.init()
        add_many(practice, 1, fmt_utc(whole_second_after(2 * 3600 - 3)))
        svc = services(practice, notify)
        svc.ready()
        srv.wait_in_data(1, 10)
        rc, took = svc.stop()
        assert rc == 0, svc.log
        assert took < STOP_LIMIT
        r = rows(practice)[0]
        assert (r["status"], r["recovered"]) == ("pending", 1), r
        assert "outcome unknown" in r["last_error"]
    finally:
        srv.stop()


# ---------------------------------------------------------------------------
# Defect 3: one deliverer per database, whatever path names it

@pytest.mark.parametrize("how", ["symlink", "hardlink"])
def test_second_nudged_through_another_path_is_refused(practice, fast_smtp,
                                                       services, notify, how):
    practice.use_smtp(fast_smtp)
    practice.write_conf(email=dict(PLAIN, url=fast_smtp.url,
                                   ca_file=fast_smtp.ca_file),
                        reminders=TWO_H, late_limit="1h")
    practice.init()
    svc = services(practice, notify)
    svc.ready()
    other = practice.dir / "other"
    other.mkdir()
    alias = other / "alias.db"
    if how == "symlink":
        alias.symlink_to(practice.db)
    else:
        os.link(practice.db, alias)
    conf2 = other / "nudged.conf"
    conf2.write_text(practice.text.replace(str(practice.db), str(alias)))
    os.chmod(conf2, 0o600)
    r = subprocess.run([NUDGED, "-c", str(conf2), "--once"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 75, (r.returncode, r.stderr)
    assert f"another nudged (pid {svc.pid}) is already delivering" in r.stderr
    rc, _ = svc.stop()
    assert rc == 0, svc.log


# ---------------------------------------------------------------------------
# Defect 4: each SMS of a batch is recorded as its answer comes

@pytest.mark.slow
def test_sms_recorded_as_each_answer_comes(practice, smtp):
    """Four texts in flight, one answer slow: the three answered are 'sent'
    before the slow one returns, so a kill -9 then duplicates at most the
    one still in flight."""
    t = "2026-12-03T14:00:00Z"
    with FakeTwilio(token="tw-token-1") as tw:
        practice.write_conf(sms=sms_group(tw, concurrency=4),
                            reminders=[{"before": "3h", "channel": "sms"}])
        practice.init()
        for i in range(4):
            c = practice.add_client(f"Client{i} Test", phone=f"+4477009001{i:02d}",
                                    sms_consent=1)
            practice.book(practice.add_case(f"c{i}", [c]), t)
        tw.script(["201", "201", "201", ("slow", 6)])
        p = subprocess.Popen([NUDGED, "-c", str(practice.conf), "--once", "--now",
                              shift(t, hours=-3)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: len(tw.messages) >= 3, 10, "three answers")
            wait_until(lambda: len(practice.messages("status = 'sent'")) >= 3, 3,
                       "the three answered texts to be recorded")
        finally:
            p.kill()
            p.wait(10)
        wait_until(lambda: len(tw.messages) >= 4, 10, "the slow answer")
        r = practice.once(shift(t, hours=-3, minutes=5))
        assert r.returncode == 0, r.stderr
        per = {}
        for m in tw.messages:
            per[m["To"]] = per.get(m["To"], 0) + 1
        assert sorted(per.values()) in ([1, 1, 1, 1], [1, 1, 1, 2]), per
        assert all(r["status"] == "sent" for r in practice.messages()), \
            practice.messages()


# ---------------------------------------------------------------------------
# Defect 6: email.timeout bounds every wait, QUIT's reply included

def test_quit_reply_waits_no_longer_than_the_timeout(practice, tmp_path):
    """A server that takes the message and never answers QUIT: libcurl's
    own 120 s wait would hold a --once run (and a stopping service)."""
    srv = NoQuitSmtp(tmp_path / "noquit").start()
    try:
        practice.use_smtp(srv)
        practice.write_conf(email=dict(PLAIN, url=srv.url, ca_file=srv.ca_file,
                                       timeout="2s"),
                            reminders=TWO_H, late_limit="1h")
        practice.init()
        add_many(practice, 1, fmt_utc(whole_second_after(2 * 3600 - 3)))
        t = time.monotonic()
        r = practice.run("--once", timeout=30)
        took = time.monotonic() - t
        assert r.returncode == 0, r.stderr
        assert took < 8, f"--once took {took:.1f} s with email.timeout = 2s"
        assert [x["status"] for x in rows(practice)] == ["sent"]
    finally:
        srv.stop()


# ---------------------------------------------------------------------------
# Defect 5: the mode rule for every file that holds a secret

def _include_conf(practice, inc_text, inc_mode):
    sub = practice.dir / "conf.d"
    sub.mkdir(exist_ok=True)
    inc = sub / "secret.conf"
    inc.write_text(inc_text)
    os.chmod(inc, inc_mode)
    text = practice.conf_text(email=False) + '@include "conf.d/secret.conf"\n'
    practice.write_conf(text, mode=0o600)
    return inc


@pytest.mark.parametrize("mode,ok", [(0o644, False), (0o640, False), (0o600, True)])
def test_inline_secret_in_an_included_file(practice, tmp_path, mode, ok):
    """The included file is named relative to the config's folder; run from
    elsewhere (pytest's cwd), its mode must still be checked."""
    inc = _include_conf(practice, 'email = { enabled = true; url = '
                        '"smtp://127.0.0.1:2525"; tls = "none"; '
                        'from = "a@example.org"; username = "u"; '
                        'password = "s3cret-inline"; };\n', mode)
    r = practice.run("--check-config")
    out = r.stdout + r.stderr
    assert "s3cret-inline" not in out
    if ok:
        assert r.returncode == 0, out
    else:
        assert r.returncode == 78, out
        assert str(inc) in r.stderr and "inline" in r.stderr, r.stderr


def test_secret_file_readable_by_everyone_refused(practice):
    secret = practice.write_password("s3cret")
    os.chmod(secret, 0o644)
    practice.write_conf()
    r = practice.run("--check-config")
    assert r.returncode == 78, r.stdout + r.stderr
    assert str(secret) in r.stderr and "others" in r.stderr, r.stderr
    os.chmod(secret, 0o640)          # group nudged may read it
    assert practice.run("--check-config").returncode == 0


# ---------------------------------------------------------------------------
# Defect 7: a generic gateway's JSON body is checked at load

@pytest.mark.parametrize("body,ok", [
    ('{"to": {{to}}, "text": "{{text}}"}', False),
    ('{"to": "{{to}}", "text": "{{text}}",}', False),
    ('{"to": "{{to}}", "from": "{{from}}", "text": "{{text}}"}', True),
])
def test_generic_json_body_checked_at_load(practice, body, ok):
    practice.write_conf(sms={"enabled": True, "provider": "generic",
                             "url": "http://127.0.0.1:9/send", "from": FROM,
                             "content_type": "application/json", "body": body},
                        reminders=[{"before": "3h", "channel": "sms"}])
    r = practice.run("--check-config")
    if ok:
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode == 78, r.stderr
        line = practice.line_of("body =")
        assert f"{practice.conf}:{line}: " in r.stderr, r.stderr
        assert "must be JSON" in r.stderr


# ---------------------------------------------------------------------------
# kill -9 everywhere: during connect, upload and record; slow server; lock

class SlowLink:
    """A TCP proxy in front of an SMTP server: each new connection waits
    greet_delay before it is put through (a slow connect and greeting), and
    what the client sends goes on in small, slow pieces (a slow upload)."""

    def __init__(self, upstream_port, greet_delay=0.4, piece=512, pause=0.01):
        self.upstream = upstream_port
        self.greet_delay, self.piece, self.pause = greet_delay, piece, pause
        self.connecting = 0             # connections in their greet delay
        self.uploading = False          # a message between DATA and its dot
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def _accept(self):
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _pipe(self, src, dst, slow):
        tail = b""
        try:
            while True:
                data = src.recv(self.piece)
                if not data:
                    break
                if slow:
                    # between DATA and the final dot: the message goes up
                    seen = tail + data
                    if b"\r\n.\r\n" in seen:
                        self.uploading = False
                    elif b"DATA\r\n" in seen:
                        self.uploading = True
                    tail = seen[-8:]
                dst.sendall(data)
                if slow:
                    time.sleep(self.pause)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _serve(self, c):
        with self._lock:
            self.connecting += 1
        time.sleep(self.greet_delay)
        with self._lock:
            self.connecting -= 1
        try:
            u = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
        except OSError:
            c.close()
            return
        u.settimeout(None)
        threading.Thread(target=self._pipe, args=(u, c, False), daemon=True).start()
        self._pipe(c, u, True)

    def close(self):
        self._stop = True
        self.sock.close()


class _QueueThenWait:
    """Like a real MTA: the message is queued when its final dot arrives,
    the 250 comes owner.delay later (a kill in between: delivered, but
    nudged never learns it)."""

    def __init__(self, owner):
        self.owner = owner

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.owner.in_data.append(time.monotonic())
        self.owner._record(envelope, dropped=False)
        await asyncio.sleep(self.owner.delay)
        return "250 2.0.0 OK queued"


class QueueThenWaitSmtp(SlowSmtp):
    def _factory(self):
        with self._cond:
            self.connections += 1
        return SMTP(_QueueThenWait(self), hostname="localhost",
                    decode_data=False, ident="nudged-queue-smtpd")


class HoldLock:
    """Hold the database's write lock from a thread, as a booking tool's
    long transaction does."""

    def __init__(self, db, seconds):
        self.held = threading.Event()
        self.t = threading.Thread(target=self._run, args=(db, seconds), daemon=True)
        self.t.start()
        self.held.wait(5)

    def _run(self, db, seconds):
        import sqlite3
        con = sqlite3.connect(str(db), timeout=30, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        self.held.set()
        time.sleep(seconds)
        con.execute("COMMIT")
        con.close()

    def join(self):
        self.t.join(10)


BATCH = 32     # 2 * DL_BATCH: the most ever in flight (nudged(8))


@pytest.mark.slow
@pytest.mark.parametrize("conns", [1, 4])
def test_kill_9_everywhere(practice, tmp_path, services, notify, measurement,
                           conns):
    """kill -9 aimed at each moment of a delivery, in turn: while
    connecting (a slow greeting), while the message goes up (a slow link),
    while the outcome waits to be recorded (a booking tool holds the lock),
    and at random, against a server slow to answer, with claims and
    records in batches and email.connections = conns.  Then: nothing lost,
    no row left 'sending' once the next start has recovered, every row
    sent, and the documented bound: the duplicates are at most the
    messages in flight at the kills (handed over whole, outcome not
    recorded: what each kill left 'sending' with uploaded = 1), each at
    most once, in flight never more than a batch; with one connection and
    a slow server, at most one per kill that could hit a message waiting
    for its verdict."""
    n = 16 * conns          # the same time under way with more connections
    srv = QueueThenWaitSmtp(tmp_path / "slow", delay=0.3).start()
    link = SlowLink(srv.port)
    kinds = ["connect", "upload", "record", "random"]
    kills = {k: 0 for k in kinds}
    try:
        practice.use_smtp(srv)
        practice.write_conf(email=dict(PLAIN, url=link.url, ca_file=srv.ca_file,
                                       timeout="5s", connections=conns),
                            reminders=TWO_H, late_limit="1h")
        practice.init()
        add_many(practice, n, fmt_utc(whole_second_after(2 * 3600 - 3)))
        inflight = []

        def q(sql):
            return practice.query(sql)

        def sending():
            return practice.sending()

        def settled():
            return q("SELECT count(*) AS c FROM messages WHERE status IN"
                     " ('sent', 'failed')")[0]["c"] == n

        def start_ready():
            # this process's READY=1, not an earlier one's
            seen = len(notify.lines)
            svc = services(practice, notify)
            notify.wait("READY=1", 5, after=seen)
            return svc

        t0 = time.monotonic()
        tries = {k: 0 for k in kinds}
        while not settled() and time.monotonic() - t0 < 14:
            # the moment hit least so far (then tried least): on a loaded
            # machine a narrow moment gets more tries, not the same number
            kind = min(kinds, key=lambda k: (kills[k], tries[k]))
            tries[kind] += 1
            svc = start_ready()
            # recovery ran before READY: at most the batch now claimed
            assert len(sending()) <= BATCH, sending()
            lock = None
            hit = False
            end = time.monotonic() + 4
            while time.monotonic() < end and not settled() and svc.alive():
                s = sending()
                # claimed in batches: any row of the batch may be the one
                waiting = any(not r["uploaded"] for r in s)
                if kind == "connect" and link.connecting > 0 and waiting:
                    hit = True
                elif kind == "upload" and link.uploading and waiting:
                    hit = True
                elif kind == "record":
                    if lock is None and srv.in_data and \
                            any(r["uploaded"] for r in s):
                        lock = HoldLock(practice.db, 1.5)
                    elif lock is not None and s and \
                            len(srv.messages) > len(q("SELECT id FROM messages"
                                                     " WHERE status = 'sent'")):
                        time.sleep(0.1)     # the verdict came; recording waits
                        hit = True
                elif kind == "random":
                    time.sleep(random.uniform(0.1, 0.8))
                    hit = True
                if hit:
                    break
                time.sleep(0.01)
            assert svc.alive(), svc.log[-2000:]
            svc.proc.send_signal(signal.SIGKILL)
            svc.proc.wait(10)
            # and its pass's process with it, a moment later (test_service.py)
            wait_until(lambda: db_lock_free(practice), 10, "the lock released")
            # what this crash can cost: start-up resends exactly these
            inflight.append(sum(1 for r in sending() if r["uploaded"]))
            assert inflight[-1] <= BATCH, inflight
            if hit:
                kills[kind] += 1
            if lock is not None:
                lock.join()
        # the last start recovers and finishes the work
        svc = start_ready()
        wait_until(settled, 20, "every message to be sent")
        rc, took = svc.stop()
        assert rc == 0, svc.log[-2000:]
    finally:
        link.close()
        srv.stop()
    got = {}
    for m in srv.messages:
        for r in m["rcpt_tos"]:
            got[r.lower()] = got.get(r.lower(), 0) + 1
    lost = [f"c{k}@example.org" for k in range(n) if f"c{k}@example.org" not in got]
    dups = sum(c - 1 for c in got.values())
    # a message killed twice while its verdict was awaited is failed ("it may
    # have arrived"): it did arrive, and it is not resent a third time
    statuses = {r["status"] for r in rows(practice)}
    uncertain = [r for r in rows(practice) if r["status"] == "failed"]
    summary = (f"kill -9 everywhere, {conns} connection(s): {n} messages, kills "
               f"{kills}, in flight at the kills {inflight}, duplicates {dups}, "
               f"lost {len(lost)}, {time.monotonic() - t0:.1f} s")
    print("\n" + summary)
    measurement(summary)
    assert not lost, summary
    assert practice.messages("status = 'sending'") == [], summary
    assert statuses <= {"sent", "failed"}, (summary, statuses)
    assert all("may have arrived" in r["last_error"] and
               got.get(r["recipient"], 0) >= 1 for r in uncertain), uncertain
    assert max(got.values()) <= 2, (summary, got)
    # the documented bound: at most what was in flight at each kill
    assert dups <= sum(inflight), summary
    if conns == 1:
        # a kill while connecting or uploading costs nothing; one while the
        # verdict or its recording is awaited at most one duplicate
        assert dups <= kills["record"] + kills["random"], summary
    assert kills["connect"] >= 1 and kills["upload"] >= 1 and kills["record"] >= 1, \
        summary


def test_sigterm_while_an_sms_provider_does_not_answer(practice, silent, services,
                                                       notify):
    """A provider that accepts the connection and never completes the TLS
    handshake: the SMS has not gone up, so SIGTERM drops it at once (no
    attempt) and the service exits within the 5 s."""
    practice.write_conf(sms={"enabled": True, "provider": "twilio",
                             "url": f"https://127.0.0.1:{silent.port}",
                             "account": "AC" + "0" * 32, "token": "t",
                             "from": FROM, "region": "GB", "timeout": "30s"},
                        reminders=[{"before": "3h", "channel": "sms"}],
                        late_limit="1h", quiet_hours={"channels": []})
    practice.init()
    c = practice.add_client("Sam Taylor", phone="+447700900123", sms_consent=1)
    practice.book(practice.add_case("Sam", [c]),
                  fmt_utc(whole_second_after(3 * 3600 - 3)))
    svc = services(practice, notify)
    svc.ready()
    wait_until(lambda: silent.accepted >= 1 and
               rows(practice)[0]["status"] == "sending", 10, "the request")
    rc, took = svc.stop()
    assert rc == 0, svc.log
    assert took < STOP_LIMIT
    r = rows(practice)[0]
    assert (r["status"], r["attempts"], r["recovered"]) == ("pending", 0, 0), r
