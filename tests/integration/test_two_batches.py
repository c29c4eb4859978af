"""The send loop with two batches on the connections at once (the next
batch's email handed over behind the last exchanges of the one before):
what a refusal, a stop or a crash in one batch does to the other.  Run
against the ASan/UBSan build: any sanitizer report fails a test.
"""

import asyncio
import signal
import subprocess
import time

import pytest

from conftest import NUDGED, PRACTICE_EMAIL, fmt_utc, shift
from smtp_server import SmtpServer, _CountingSMTP, _Handler
from test_send_batch import SlowDataSmtp, copies
from test_send_seq import book_runs
from test_service import (PLAIN, TWO_H, add_many, due_now,  # noqa: F401
                          fast_smtp, notify, services, wait_until,
                          whole_second_after)
from test_sms import DUE, configure, once, twilio  # noqa: F401


class _SlowRefusal(_Handler):
    """RCPT TO for owner.refuse: answered 530 (the channel refused, as a
    server that wants a login it no longer takes says it) after
    owner.slow seconds, so that the next batch is on the connection by
    then; every other recipient is taken at once."""

    async def handle_RCPT(self, server, session, envelope, address, opts):
        o = self.owner
        if address.lower() == o.refuse:
            await asyncio.sleep(o.slow)
            return "530 5.7.0 Authentication required"
        return await super().handle_RCPT(server, session, envelope, address,
                                         opts)


class SlowRefusalSmtp(SmtpServer):
    def __init__(self, workdir, refuse, slow):
        super().__init__(workdir, tls="none", auth=None)
        self.refuse = refuse
        self.slow = slow

    def _factory(self):
        with self._cond:
            self.connections += 1
        return _CountingSMTP(self, _SlowRefusal(self), hostname="localhost",
                             decode_data=False, ident="nudged-refusing-smtpd")


def test_channel_refused_in_a_batch_stops_the_next_one_queued(practice,
                                                             tmp_path):
    """email.connections = 1, 20 reminders: the server refuses the
    channel (530) at the 16th message, the last of the first batch, while
    the second batch is already handed to the connection.  The refusal
    pauses the channel for the pass at once: not one message of the
    second batch goes (before, the connection went on with the next
    batch, which the refusal's record had not yet reached, and sent it
    all after the refusal), nothing is lost, nothing is left 'sending'."""
    n = 20
    srv = SlowRefusalSmtp(tmp_path / "refuse", "c15@example.org",
                          slow=0.2).start()
    try:
        due_now(practice, srv, n, dict(PLAIN, connections=1, url=srv.url))
        r = practice.run("--once", timeout=30)
    finally:
        srv.stop()
    assert r.returncode == 75, r.stderr
    got = sorted(rc for m in srv.messages for rc in m["rcpt_tos"])
    assert got == sorted(f"c{k}@example.org" for k in range(15)), got
    rows = practice.messages("purpose = 'reminder'")
    pending = [x for x in rows if x["status"] == "pending"]
    assert {x["recipient"] for x in pending} == {
        f"c{k}@example.org" for k in range(15, n)}, rows
    assert sorted(x["attempts"] for x in pending) == [0, 0, 0, 0, 1], rows
    assert {x["status"] for x in rows} == {"sent", "pending"}, rows


def test_record_refused_while_two_batches_are_queued(practice, fast_smtp,
                                                     services, notify):
    """40 reminders over one fast connection (the next batch is handed
    over while the one before is still going), and the database refuses
    the 'sent' of the 16th message (a trigger: a stand-in for a lock held
    past the wait, or a full disk).  Nothing more is sent while that
    outcome cannot be recorded, from either batch on the connection;
    once the database takes it again everything goes, each message once,
    nothing lost, nothing left 'sending'."""
    n = 40
    practice.use_smtp(fast_smtp)
    practice.write_conf(email=dict(PLAIN, connections=1, url=fast_smtp.url),
                        reminders=TWO_H, late_limit="1h")
    practice.init()
    practice.set("CREATE TRIGGER block_sent BEFORE UPDATE OF status ON"
                 " messages WHEN NEW.status = 'sent' AND NEW.id = 16 BEGIN"
                 " SELECT RAISE(ABORT, 'simulated: database is locked'); END")
    add_many(practice, n, fmt_utc(whole_second_after(2 * 3600 - 3)))
    svc = services(practice, notify)
    svc.ready()
    wait_until(lambda: "cannot record its outcome" in svc.log, 10,
               "the refused record")
    time.sleep(0.3)
    held = len(fast_smtp.messages)
    time.sleep(1.0)
    assert len(fast_smtp.messages) == held, (held, len(fast_smtp.messages))
    assert held < n
    practice.set("DROP TRIGGER block_sent")
    wait_until(lambda: {x["status"] for x in practice.messages(
        "purpose = 'reminder'")} == {"sent"}, 10, "every message sent")
    rc, _ = svc.stop()
    assert rc == 0, svc.log
    got = sorted(rc for m in fast_smtp.messages for rc in m["rcpt_tos"])
    assert got == sorted(f"c{k}@example.org" for k in range(n)), got


@pytest.mark.parametrize("conns", [1, 4])
def test_kill_9_with_two_batches_on_the_connections(practice, tmp_path,
                                                    conns):
    """`nudged --once` killed (-9) while its connections carry the end of
    one batch and the start of the next (a server slow to answer the
    final dot).  At the kill: at most two batches are 'sending'; a
    message the server took is marked (a mark can be lost, never
    invented: an unmarked row never reached it).  The next run recovers:
    nothing lost, nothing left 'sending', each message at most twice, and
    no more duplicates than marks."""
    n = 20
    srv = SlowDataSmtp(tmp_path / "slow", delay=0.08).start()
    try:
        due_now(practice, srv, n, {"connections": conns})
        p = subprocess.Popen([NUDGED, "-c", str(practice.conf), "--once"],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            # into the second batch: 16 taken, more going
            srv.wait_for(17 if conns == 1 else 18, 20)
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait()
        time.sleep(2 * 0.08)    # what was in DATA is answered
        at_kill = {r["recipient"].lower(): 0 for r in practice.messages(
            "purpose = 'reminder'")}
        ids = {r["id"]: r["recipient"].lower() for r in practice.messages(
            "purpose = 'reminder'")}
        got = copies(srv)
        sending = practice.sending()
        assert len(sending) <= 2 * 16, sending
        marked = [ids[r["id"]] for r in sending if r["uploaded"]]
        for r in sending:
            if not r["uploaded"]:
                assert got.get(ids[r["id"]], 0) == 0, (r, got)
        r = practice.run("--once", timeout=60)
        assert r.returncode == 0, r.stderr
    finally:
        srv.stop()
    got = copies(srv)
    assert set(got) == set(at_kill), got
    assert max(got.values()) <= 2, got
    dups = sorted(a for a, k in got.items() if k == 2)
    assert set(dups) <= set(marked), (dups, marked)
    assert {x["status"] for x in practice.messages(
        "purpose = 'reminder'")} == {"sent"}


def test_refusal_whose_row_is_deleted_in_flight_holds_nothing_after(
        practice, tmp_path):
    """The channel refused (530) at the 16th message, whose outcome the
    database will not take (a trigger), and which another program then
    deletes: the refusal is never recorded, so no pause is.  It held the
    next batch while its record was pending, and holds nothing after it
    is let go: the rest is sent, the pass ends (a refusal held for the
    whole pass without a pause would unclaim and claim the held rows again
    for ever)."""
    n = 20
    srv = SlowRefusalSmtp(tmp_path / "refuse", "c15@example.org",
                          slow=0.2).start()
    log = tmp_path / "nudged.log"
    try:
        practice.use_smtp(srv)
        practice.write_conf(email=dict(PLAIN, connections=1, url=srv.url),
                            reminders=TWO_H, late_limit="1h")
        practice.init()
        practice.set("CREATE TRIGGER block16 BEFORE UPDATE ON messages"
                     " WHEN OLD.id = 16 AND NEW.status <> 'sending' BEGIN"
                     " SELECT RAISE(ABORT, 'simulated: database is locked');"
                     " END")
        add_many(practice, n, fmt_utc(whole_second_after(2 * 3600 - 3)))
        with open(log, "w") as f:
            p = subprocess.Popen([NUDGED, "-c", str(practice.conf),
                                  "--once"], stdout=subprocess.DEVNULL,
                                 stderr=f)
        try:
            wait_until(lambda: "msg=16 cannot record" in log.read_text(),
                       10, "the refusal's record to be refused")
            practice.set("DELETE FROM messages WHERE id = 16")
            p.wait(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    finally:
        srv.stop()
    text = log.read_text()
    assert "deleted by another program while in flight" in text, text
    got = sorted(rc for m in srv.messages for rc in m["rcpt_tos"])
    assert got == sorted(f"c{k}@example.org" for k in range(n) if k != 15)
    assert {x["status"] for x in practice.messages(
        "purpose = 'reminder'")} == {"sent"}


def test_database_locked_while_two_batches_are_queued(practice, fast_smtp):
    """Another program holds the database's write lock for 1.5 s while
    `nudged --once` has two batches on its connection (80 reminders, one
    fast connection): no more than the two batches' worth goes while no
    outcome can be recorded; once the lock clears, everything goes, each
    message once, nothing lost, nothing left 'sending'."""
    n = 80
    due_now(practice, fast_smtp, n, dict(PLAIN, connections=1, url=fast_smtp.url))
    p = subprocess.Popen([NUDGED, "-c", str(practice.conf), "--once"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        fast_smtp.wait_for(8, 20)
        con = practice.connect()
        con.isolation_level = None
        con.execute("BEGIN IMMEDIATE")
        at_lock = len(fast_smtp.messages)
        time.sleep(1.5)
        during = len(fast_smtp.messages) - at_lock
        con.execute("ROLLBACK")
        con.close()
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert during <= 2 * 16, during
    got = sorted(rc for m in fast_smtp.messages for rc in m["rcpt_tos"])
    assert got == sorted(f"c{k}@example.org" for k in range(n)), got
    assert {x["status"] for x in practice.messages(
        "purpose = 'reminder'")} == {"sent"}


def test_sms_refused_while_the_next_batch_email_is_queued(practice, smtp,
                                                          twilio):
    """Batches of SMS and email in turn ("email, SMS, email, ..."), the
    SMS provider refusing the login (401) at the 6th text: the SMS channel
    pauses at once, in that batch and in every one after (one request
    refused, no more), while the email, its next batch already on the
    connection, goes on: every email once, nothing lost, nothing left
    'sending'."""
    configure(practice, twilio, email={"connections": 2},
              reminders=[{"before": "3h", "channel": "email"},
                         {"before": "3h", "channel": "sms"}],
              late_limit="2h")
    twilio.script(["201"] * 5 + ["401"] + ["201"] * 60)
    emails, phones = book_runs(practice, [("email", 10), ("sms", 10),
                                          ("email", 12), ("sms", 12),
                                          ("email", 12)])
    once(practice, shift(DUE, minutes=40), code=75)
    got = sorted(r for m in smtp.messages for r in m["rcpt_tos"]
                 if r != PRACTICE_EMAIL)
    assert got == sorted(emails), got
    assert len(twilio.requests) == 6, len(twilio.requests)
    assert len(twilio.messages) == 5
    rows = practice.messages("purpose = 'reminder' AND channel = 'sms'")
    assert {x["status"] for x in rows} == {"sent", "pending"}, rows
    pending = [x for x in rows if x["status"] == "pending"]
    assert sorted(x["attempts"] for x in pending) == [0] * 16 + [1], rows
