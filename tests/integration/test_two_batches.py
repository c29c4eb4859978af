"""The send loop with two batches on the connections at once (the next
batch's email handed over behind the last exchanges of the one before):
what a refusal, a stop or a crash in one batch does to the other.  Run
against the ASan/UBSan build: any sanitizer report fails a test.
"""

import asyncio

from conftest import fmt_utc
from smtp_server import SmtpServer, _CountingSMTP, _Handler
from test_service import PLAIN, TWO_H, add_many, whole_second_after


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
        practice.use_smtp(srv)
        practice.write_conf(email=dict(PLAIN, connections=1, url=srv.url),
                            reminders=TWO_H, late_limit="1h")
        practice.init()
        add_many(practice, n, fmt_utc(whole_second_after(2 * 3600 - 3)))
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
