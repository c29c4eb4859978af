"""Send sequences the other tests never drive (issue 12): batches whose
email/SMS mix changes from one to the next, more connections or slots than
messages, handles reused across batches, a stop in each phase.  Run
against the ASan/UBSan build: any sanitizer report fails a test.
"""

import asyncio
import itertools
import time

import pytest

from conftest import PRACTICE_EMAIL, Raw, mails_to, shift, text_body
from smtp_server import SmtpServer, _CountingSMTP, _Handler
from test_service import (PLAIN, SlowSmtp, fmt_utc, notify,  # noqa: F401
                          services, wait_until, whole_second_after)
from test_sms import DUE, T, configure, once, person, twilio  # noqa: F401


def test_sms_slots_added_after_a_batch_with_one_sms(practice, smtp, twilio):
    """sms.concurrency = 4, and the first batch of the pass holds one SMS
    among email: one slot (easy handle) is made for it.  The next batch,
    all SMS, makes three more.  The first slot's handle holds its slot's
    address (READDATA, WRITEDATA, SEEKDATA, the error buffer): the slots
    must not move when more are made (before, they did, and its next SMS
    read freed memory)."""
    configure(practice, twilio, sms={"concurrency": 4},
              reminders=[{"before": "3h", "channel": "email"},
                         {"before": "3h", "channel": "sms"}], late_limit="2h")
    _, case = person(practice, "Client S0", "07700 900100")
    practice.book(case, T)
    for i in range(15):
        _, case = person(practice, f"Client E{i}", None,
                         email=f"e{i}@example.org", sms_consent=0)
        practice.book(case, shift(T, minutes=1))
    for i in range(20):
        _, case = person(practice, f"Client S{i + 1}", f"07700 9002{i:02d}")
        practice.book(case, shift(T, minutes=30))
    once(practice, shift(DUE, minutes=35))
    assert len(twilio.messages) == 21
    got = sorted(r for m in smtp.messages for r in m["rcpt_tos"])
    assert got == sorted(f"e{i}@example.org" for i in range(15)), got
    rows = practice.messages("purpose = 'reminder'")
    assert {x["status"] for x in rows} == {"sent"}, rows


_clients = itertools.count(1)


def _book_at(practice, chan, n, starts_at):
    """n one-person cases of a channel (email, or SMS with consent),
    each with an appointment at starts_at.  (emails, numbers)."""
    emails, phones = [], []
    for _ in range(n):
        k = next(_clients)
        if chan == "email":
            emails.append(f"c{k}@example.org")
            _, case = person(practice, f"Client {k}", None, email=emails[-1],
                             sms_consent=0)
        else:
            phones.append("+447700" + f"9{k:05d}")
            _, case = person(practice, f"Client {k}", f"07700 9{k:05d}")
        practice.book(case, starts_at)
    return emails, phones


def book_runs(practice, runs, start=0):
    """Appointments whose reminders fall due in the order of runs, a list
    of (channel, count), from start minutes after T: the pass claims them
    in that order, DL_BATCH (16) at a time.  Returns the email addresses
    and the numbers expected."""
    emails, phones = [], []
    for minute, (chan, count) in enumerate(runs, start):
        e, p = _book_at(practice, chan, count, shift(T, minutes=minute))
        emails += e
        phones += p
    return emails, phones


def assert_each_once(practice, smtp, twilio, emails, phones, failed=0):
    got = sorted(r for m in smtp.messages for r in m["rcpt_tos"]
                 if r != PRACTICE_EMAIL)
    assert got == sorted(emails), got
    texts = sorted(m["To"] for m in twilio.messages)
    assert texts == sorted(phones), texts
    rows = practice.messages("purpose = 'reminder' AND status = 'sent'")
    assert len(rows) == len(emails) + len(phones)
    rows = practice.messages("purpose = 'reminder' AND status <> 'sent'")
    assert len(rows) == failed, rows


MIXES = {
    # the batches' email/SMS mix changes from one to the next
    "sms-then-email": [("sms", 16), ("email", 16), ("sms", 3)],
    "email-then-one": [("email", 16), ("email", 1), ("sms", 15), ("email", 2)],
    "alternating": [("email", 1), ("sms", 15), ("email", 15), ("sms", 1),
                    ("sms", 2), ("email", 14), ("email", 1)],
    # a batch with one of a kind before a bigger one: the connections or
    # slots made for the first are kept while more are made
    "one-sms-then-many": [("email", 15), ("sms", 1), ("sms", 15),
                          ("email", 1), ("email", 16)],
    "one-email-then-many": [("sms", 15), ("email", 1), ("email", 16),
                            ("sms", 3)],
    # fewer messages than connections, in every batch
    "few": [("email", 3)],
    "few-each": [("email", 2), ("sms", 14), ("email", 5), ("sms", 11)],
}


@pytest.mark.parametrize("conns,conc", [(2, 3), (8, 8)])
@pytest.mark.parametrize("mix", sorted(MIXES))
def test_batches_whose_mix_changes(practice, smtp, twilio, mix, conns, conc):
    """Batches of email only, SMS only, both, one of a kind, fewer than
    the connections or slots: every message goes once, every row 'sent',
    no sanitizer report (connections and slots made in one batch are
    reused by the next ones)."""
    configure(practice, twilio, sms={"concurrency": conc},
              email={"connections": conns},
              reminders=[{"before": "3h", "channel": "email"},
                         {"before": "3h", "channel": "sms"}], late_limit="2h")
    emails, phones = book_runs(practice, MIXES[mix])
    once(practice, shift(DUE, minutes=40))
    assert_each_once(practice, smtp, twilio, emails, phones)


def test_render_failures_beside_messages_sent(practice, smtp, twilio):
    """A text too long to go (x->bad: it fails unsent) in each of three
    batches, beside email and SMS that go, each batch claimed and rendered
    while the one before is on the connections: each fails once, with its
    reason, no attempt counted; the others go once; the failure digest
    goes after the batches over the same SMTP session (four connections)."""
    prefix = "Hi {{first_name}}, "
    filler = "a" * (160 - len("Hi Client, "))
    configure(practice, twilio, sms={"concurrency": 3, "max_segments": 1},
              email={"connections": 4},
              reminders=[{"before": "3h", "channel": "email"},
                         {"before": "3h", "channel": "sms"}], late_limit="2h",
              extra="templates = { reminder = { sms = %s; }; };"
              % Raw('"' + prefix + filler + '"'))
    emails, phones = [], []
    for b in range(3):
        e, p = book_runs(practice, [("email", 6), ("sms", 5)], start=3 * b)
        _, case = person(practice, f"Longername{b} Client", f"07701 90000{b}")
        practice.book(case, shift(T, minutes=3 * b + 1))
        e2, p2 = book_runs(practice, [("sms", 2), ("email", 2)],
                           start=3 * b + 1)
        emails += e + e2
        phones += p + p2
    once(practice, shift(DUE, minutes=40))
    assert_each_once(practice, smtp, twilio, emails, phones, failed=3)
    bad = practice.messages("purpose = 'reminder' AND status <> 'sent'")
    for row in bad:
        assert row["status"] == "failed" and row["attempts"] == 0, row
        assert "2 segments" in row["last_error"], row
    [digest] = mails_to(smtp, PRACTICE_EMAIL)
    text = text_body(digest)
    assert all(str(row["id"]) in text for row in bad), text


class _OneMessage(_Handler):
    """Drops a connection, without a word, at its second MAIL FROM: what a
    kept connection that the server closed meanwhile looks like to a
    client that did not see the close coming."""

    async def handle_MAIL(self, server, session, envelope, address, opts):
        if getattr(session, "nudged_sent", 0) >= 1:
            with self.owner._cond:
                self.owner.dropped_at_mail += 1
            if self.owner.say_421:
                # Exim's smtp_accept_max_per_connection: a reply, then
                # the close
                await server.push("421 4.7.0 Too many messages on this"
                                  " connection, closing")
                server.transport.close()
            else:
                server.transport.abort()
            await asyncio.sleep(3600)
        return await super().handle_MAIL(server, session, envelope, address,
                                         opts)

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        session.nudged_sent = getattr(session, "nudged_sent", 0) + 1
        return reply


class OneMessageSmtp(SmtpServer):
    def __init__(self, workdir, say_421=False):
        super().__init__(workdir)
        self.dropped_at_mail = 0
        self.say_421 = say_421

    def _factory(self):
        with self._cond:
            self.connections += 1
        return _CountingSMTP(self, _OneMessage(self), hostname="localhost",
                             decode_data=False, ident="nudged-one-smtpd",
                             auth_require_tls=True, require_starttls=True,
                             tls_context=self._ssl,
                             authenticator=self._authenticate)


@pytest.mark.parametrize("conns,say_421", [(1, False), (3, False), (1, True),
                                          (3, True)],
                         ids=["1-dropped", "3-dropped", "1-421", "3-421"])
def test_kept_connections_dropped_at_mail_from(practice, tmp_path, twilio,
                                               conns, say_421):
    """Every kept connection is dropped at the next MAIL FROM, without a
    word (the server closed it while it idled) or with a 421 (a server's
    limit of messages per connection, Exim's smtp_accept_max_per_connection):
    each message is sent again at once on a fresh connection, and goes
    once, its one attempt counted.  Nothing of it had reached the server."""
    srv = OneMessageSmtp(tmp_path / "one", say_421=say_421).start()
    try:
        practice.use_smtp(srv)
        configure(practice, twilio, sms={"concurrency": 2},
                  email={"connections": conns},
                  reminders=[{"before": "3h", "channel": "email"},
                             {"before": "3h", "channel": "sms"}],
                  late_limit="2h")
        emails, phones = book_runs(practice, [("email", 5), ("sms", 12),
                                              ("email", 14), ("sms", 1)])
        once(practice, shift(DUE, minutes=40))
    finally:
        srv.stop()
    assert srv.dropped_at_mail > 0
    assert_each_once(practice, srv, twilio, emails, phones)
    rows = practice.messages("purpose = 'reminder' AND channel = 'email'")
    assert all(x["attempts"] == 1 for x in rows), rows


def copies(items):
    got = {}
    for x in items:
        got[x] = got.get(x, 0) + 1
    return got


@pytest.mark.parametrize("after", [0.0, 0.1, 0.25, 0.5])
def test_stop_in_each_phase(practice, tmp_path, twilio, services, notify,
                            after):
    """SIGTERM at moments that fall in different phases of the pipelined
    turn (email on three connections, SMS two at a time, the next cycle,
    the rendering, the digest): nudged exits in time, cleanly (no
    sanitizer report, leaks included), leaves no row 'sending'; the next
    pass sends the rest, each message once (twice only when its outcome
    was unknown at the stop)."""
    srv = SlowSmtp(tmp_path / "slow", delay=0.05).start()
    try:
        practice.use_smtp(srv)
        configure(practice, twilio, sms={"concurrency": 2},
                  email=dict(PLAIN, url=srv.url, connections=3),
                  reminders=[{"before": "3h", "channel": "email"},
                             {"before": "3h", "channel": "sms"}],
                  late_limit="2h",
                  # real time: SMS quiet hours would hold these in the evening
                  quiet_hours={"channels": []})
        twilio.script([("slow", 0.05)] * 200)
        start = whole_second_after(3 * 3600 - 2)
        emails, phones = [], []
        for i, (chan, n) in enumerate([("email", 10), ("sms", 10),
                                       ("email", 12), ("sms", 4),
                                       ("email", 12)]):
            e, p = _book_at(practice, chan, n, fmt_utc(start))
            emails += e
            phones += p
        svc = services(practice, notify)
        svc.ready()
        wait_until(lambda: srv.messages or twilio.requests, 15, "a send")
        time.sleep(after)
        rc, took = svc.stop()
        assert rc == 0, svc.log
        assert practice.messages("status = 'sending'") == []
        r = practice.run("--once", timeout=60)
        assert r.returncode == 0, r.stderr
    finally:
        srv.stop()
    rows = practice.messages("purpose = 'reminder'")
    assert {x["status"] for x in rows} == {"sent"}, rows
    twice = {x["recipient"] for x in rows if x["recovered"]}
    got = copies(r for m in srv.messages for r in m["rcpt_tos"])
    assert sorted(got) == sorted(emails), got
    got.update(copies(m["To"] for m in twilio.messages))
    for who, n in got.items():
        assert n == 1 or (n == 2 and who in twice), (who, n, twice)


def test_sms_handles_reused_after_odd_answers(practice, smtp, twilio):
    """An answer too large to keep, a request read and never answered, a
    500, among forty texts over three slots and three batches: each odd
    one is settled for what it is, and the handle it ran on carries the
    next texts as before."""
    configure(practice, twilio, sms={"concurrency": 3},
              reminders=[{"before": "3h", "channel": "sms"}],
              late_limit="2h")
    odd = ["huge", "drop", "500"]
    twilio.script(["201"] * 2 + odd + ["201"] * 12 + odd + ["201"] * 20)
    _, phones = book_runs(practice, [("sms", 14), ("sms", 14), ("sms", 12)])
    once(practice, shift(DUE, minutes=40), code=75)
    rows = practice.messages("purpose = 'reminder'")
    assert len(rows) == 40
    sent = [x for x in rows if x["status"] == "sent"]
    assert len(sent) == 34, [(x["status"], x["last_error"]) for x in rows]
    left = [x["last_error"] for x in rows if x["status"] != "sent"]
    assert sum("outcome unknown (HTTP 201: response too large" in e
               for e in left) == 2, left
    assert sum("outcome unknown (no answer after the whole request" in e
               for e in left) == 2, left
    assert sum("HTTP 500" in e for e in left) == 2, left
    # the huge answers' texts were queued; the dropped ones' were not
    assert len(twilio.messages) == 36
    assert sorted({m["To"] for m in twilio.messages} | {
        x["recipient"] for x in rows if x["status"] != "sent"}) == sorted(phones)


class _NoTlsOnSecond(_CountingSMTP):
    """Refuses STARTTLS (454) on the server's second connection only."""

    def __init__(self, owner, nth, *a, **kw):
        super().__init__(owner, *a, **kw)
        self._refuse = nth == 2

    async def smtp_STARTTLS(self, arg):
        if self._refuse:
            await self.push("454 4.7.0 TLS not available right now")
            return
        await super().smtp_STARTTLS(arg)


class NoTlsOnSecondSmtp(SmtpServer):
    def _factory(self):
        with self._cond:
            self.connections += 1
            nth = self.connections
        return _NoTlsOnSecond(self, nth, _Handler(self), hostname="localhost",
                              decode_data=False, ident="nudged-tls-smtpd",
                              auth_require_tls=True, require_starttls=True,
                              tls_context=self._ssl,
                              authenticator=self._authenticate)


def test_starttls_refused_on_one_of_several_connections(practice, tmp_path,
                                                        twilio):
    """One of four connections is refused STARTTLS (454, transient): its
    message waits for a retry, nothing goes in clear, the channel is not
    paused; the other connections carry the batches, and that connection's
    handle makes a new one for its next message."""
    srv = NoTlsOnSecondSmtp(tmp_path / "tls").start()
    try:
        practice.use_smtp(srv)
        configure(practice, twilio, email={"connections": 4},
                  reminders=[{"before": "3h", "channel": "email"},
                             {"before": "3h", "channel": "sms"}],
                  late_limit="2h")
        emails, phones = book_runs(practice, [("email", 9), ("sms", 7),
                                              ("email", 20)])
        once(practice, shift(DUE, minutes=40), code=75)
    finally:
        srv.stop()
    rows = practice.messages("purpose = 'reminder' AND status <> 'sent'")
    [row] = rows
    assert row["status"] == "pending" and "STARTTLS" in row["last_error"], row
    assert row["attempts"] == 1, row
    got = sorted(r for m in srv.messages for r in m["rcpt_tos"])
    assert got == sorted(set(emails) - {row["recipient"]}), got
    assert len(twilio.messages) == len(phones)
    assert srv.connections >= 5, srv.connections


class IdleCloseSmtp(SmtpServer):
    """Closes a connection idle for 0.3 s (aiosmtpd's timeout), as servers
    do with kept connections."""

    def _factory(self):
        with self._cond:
            self.connections += 1
        return _CountingSMTP(self, _Handler(self), hostname="localhost",
                             decode_data=False, ident="nudged-idle-smtpd",
                             auth_require_tls=True, require_starttls=True,
                             tls_context=self._ssl, timeout=0.3,
                             authenticator=self._authenticate)


@pytest.mark.parametrize("conns", [1, 4])
def test_server_closes_idle_connections_between_batches(practice, tmp_path,
                                                        twilio, conns):
    """A batch of texts keeps the connections idle past the server's idle
    timeout, which closes them: the next batches' email goes on new ones,
    each message once and on its first attempt."""
    srv = IdleCloseSmtp(tmp_path / "idle").start()
    try:
        practice.use_smtp(srv)
        configure(practice, twilio, sms={"concurrency": 1},
                  email={"connections": conns},
                  reminders=[{"before": "3h", "channel": "email"},
                             {"before": "3h", "channel": "sms"}],
                  late_limit="2h")
        twilio.script(["201"] * 3 + [("slow", 0.8)])
        emails, phones = book_runs(practice, [("email", 6), ("sms", 10),
                                              ("email", 16), ("email", 3)])
        once(practice, shift(DUE, minutes=40))
    finally:
        srv.stop()
    assert srv.connections >= 2 * conns, srv.connections
    assert_each_once(practice, srv, twilio, emails, phones)
    rows = practice.messages("purpose = 'reminder'")
    assert all(x["attempts"] == 1 for x in rows), rows
