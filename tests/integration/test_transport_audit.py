"""Delivery under hostile servers and providers (the transport audit):
each test holds one defect a run against a misbehaving server found."""

import json
import signal
import subprocess
import time
import types

import pytest

from conftest import NUDGED, PRACTICE_EMAIL, as_utc, fmt_utc, mails_to, shift
from fake_sms import FakeTwilio
from test_reliability import SilentServer
from test_send_batch import copies
from test_service import (PLAIN, SlowSmtp, add_many, fast_smtp,  # noqa: F401
                          whole_second_after)
from test_sms import configure, one, sms_rows, solo

T = "2026-12-03T14:00:00Z"          # the appointment
DUE = shift(T, hours=-3)            # its 3h SMS reminder
DEFAULT_RETRY = {"attempts": 8, "first": "1m", "max": "1h"}


@pytest.fixture
def twilio():
    with FakeTwilio(token="tw-token-1") as fake:
        yield fake


def passes_until_settled(practice, start, limit=40):
    """Run --once the way the service wakes: at the row's next try, until
    the SMS reminder is settled.  Returns the time of the last pass."""
    now = start
    for _ in range(limit):
        practice.once(now)
        row = one(sms_rows(practice))
        if row["status"] != "pending":
            return now
        assert row["next_at"], row
        now = max(row["next_at"], shift(now, minutes=1))
    raise AssertionError("still pending after %d passes" % limit)


def test_refused_sms_channel_gives_up_while_the_email_can_still_go(
        practice, smtp, twilio):
    """The SMS credentials are refused on every try.  The reminder must not
    wait on the channel's pause past the moment it may still go (late_limit
    before the appointment): it is given up then, like a retry that would
    come too late, and goes by email (the fallback).  Before: the pause's
    next try (doubling from 5 min) fell after that moment, the reminder
    ended 'failed: less than late_limit before the appointment' when no
    email could go any more, and the client got nothing."""
    twilio.script(["401"] * 40)
    configure(practice, twilio, retry=DEFAULT_RETRY)
    sam, appt = solo(practice)
    passes_until_settled(practice, DUE)
    row = one(sms_rows(practice))
    assert row["status"] == "failed", row
    # the reason names the real cause, for the practitioner to act on
    assert "20003" in row["last_error"] or "401" in row["last_error"], row
    assert "sent by email instead" in row["last_error"], row
    emails = practice.messages("channel = 'email' AND purpose = 'reminder'")
    fb = one(emails)
    assert fb["status"] == "sent", fb
    assert as_utc(T) - as_utc(fb["sent_at"]) >= \
        as_utc(T) - as_utc(shift(T, hours=-1)), fb
    assert len(mails_to(smtp, "sam@example.org")) == 1
    assert twilio.messages == []


def test_refused_sms_channel_couple_both_fall_back_once(practice, smtp, twilio):
    """The same with two messages on the refused channel: the second one,
    held back by the pause (at its claim or before its start), is given up
    with the fallback too, and nobody gets two emails."""
    from test_sms import sms_couple
    twilio.script(["401"] * 80)
    configure(practice, twilio, retry=DEFAULT_RETRY)
    sms_couple(practice)
    now = DUE
    for _ in range(40):
        practice.once(now)
        rows = sms_rows(practice)
        if all(r["status"] != "pending" for r in rows):
            break
        now = max(min(r["next_at"] for r in rows if r["status"] == "pending"),
                  shift(now, minutes=1))
    assert [r["status"] for r in rows] == ["failed", "failed"], rows
    for addr in ("sam@example.org", "alex@example.org"):
        assert len(mails_to(smtp, addr)) == 1, addr


def test_address_a_server_quotes_in_a_url_is_masked(ready, smtp):
    """A refusal that quotes the recipient inside a link (greylisting and
    block-list replies do: '?to=sam%40example.org') keeps the address out
    of the log and the practitioner's digest.  Before: only a bare '@'
    was masked, the URL-encoded address went out whole."""
    from conftest import text_body
    ready.couple("2026-12-03T14:00:00Z")
    smtp.script("sam@example.org", [
        "550 5.7.1 Rejected, see https://rbl.example/lookup?to=sam%40example.org"])
    r = ready.once(shift("2026-12-03T14:00:00Z", hours=-48))
    assert r.returncode == 0, r.stderr
    assert "Rejected" in r.stderr
    assert "sam%40" not in r.stderr and "sam@" not in r.stderr, r.stderr
    digest = mails_to(smtp, PRACTICE_EMAIL)
    assert len(digest) == 1
    body = text_body(digest[0])
    assert "Rejected" in body and "sam%40" not in body, body


@pytest.mark.parametrize("answer", [
    {"code": 21211, "message": "The 'To' number is not a valid phone number.",
     "status": 400},
    {"sid": "SM0123", "status": "failed", "error_code": 30008,
     "error_message": "Unknown error"},
])
def test_twilio_2xx_error_answer_is_not_sent(practice, smtp, answer):
    """A Twilio answer with a 2xx status whose body is an error (its error
    shape without a sid, or a message that failed at once): the text did
    not go, so it is failed, falls back to email and is reported.  Before:
    recorded 'sent' (with an empty provider id), nothing reported, no
    fallback: the reminder was lost without a word."""
    from hostile_http import HostileHttp, http
    srv = HostileHttp([http(200, json.dumps(answer).encode(),
                            ["Content-Type: application/json"])])
    try:
        srv.account, srv.token = "AC" + "0" * 32, "tok"
        configure(practice, srv)
        solo(practice)
        practice.once(DUE)
        row = one(sms_rows(practice))
        assert row["status"] == "failed", row
        assert "sent by email instead" in row["last_error"], row
        assert len(mails_to(smtp, "sam@example.org")) == 1
        assert len(mails_to(smtp, PRACTICE_EMAIL)) == 1
    finally:
        srv.close()


@pytest.mark.parametrize("conns", [1, 4])
def test_silent_smtp_server_costs_a_pass_one_timeout(practice, fast_smtp, conns):
    """A server that accepts and never greets: before, every due email
    waited out email.timeout in turn, so a pass took (emails / connections)
    timeouts (100 emails: 50 minutes at the default 30 s), holding up the
    service.  The server's silence concerns every message: after the first
    attempts time out, the pass's other emails wait for their retry without
    a try (no attempt counted), and the pass ends after one timeout.  The
    next pass, the server back, sends each once."""
    n = 12
    silent = SilentServer()
    try:
        email = dict(PLAIN, url=silent.url, ca_file=None, timeout="2s",
                     connections=conns)
        practice.write_conf(email=email, reminders=[{"before": "2h",
                            "channel": "email"}], late_limit="1h")
        practice.init()
        start = whole_second_after(2 * 3600 - 3)
        add_many(practice, n, fmt_utc(start))
        now = fmt_utc(whole_second_after(0))
        t = time.monotonic()
        r = practice.once(now, timeout=60)
        took = time.monotonic() - t
    finally:
        silent.close()
    assert r.returncode == 75, r.stderr
    assert took < 3 * 2 + 3, (took, r.stderr[-2000:])
    assert "no usable connection to the server" in r.stderr, r.stderr[-2000:]
    rows = practice.messages("purpose = 'reminder'")
    assert [x["status"] for x in rows] == ["pending"] * n, rows
    tried = [x for x in rows if x["attempts"] == 1]
    waiting = [x for x in rows if x["attempts"] == 0]
    assert 1 <= len(tried) <= conns and len(tried) + len(waiting) == n, rows
    assert all(x["next_at"] for x in rows), rows
    assert all("not tried: no connection to the email server" in x["last_error"]
               for x in waiting), waiting[0]
    # the server is back: the next pass, at the retry, sends each once
    practice.use_smtp(fast_smtp)
    practice.write_conf(email=dict(PLAIN, connections=conns),
                        reminders=[{"before": "2h", "channel": "email"}],
                        late_limit="1h")
    later = max(x["next_at"] for x in rows)
    r = practice.once(later)
    assert r.returncode == 0, r.stderr
    got = copies(fast_smtp)
    assert sorted(got) == sorted(f"c{i}@example.org" for i in range(n)), got
    assert set(got.values()) == {1}, got


def test_silent_sms_provider_costs_a_pass_one_timeout(practice):
    """The same for SMS: a provider whose TLS handshake never answers
    (nothing of the request went).  Six reminders, one request at a time:
    one times out, the five others wait for its retry without a try."""
    n = 6
    silent = SilentServer()        # any silent socket will do
    provider = types.SimpleNamespace(
        url=f"https://127.0.0.1:{silent.port}/sms", account="AC" + "0" * 32,
        token="tw-token-1")
    try:
        configure(practice, provider, sms={"timeout": "2s", "concurrency": 1},
                  late_limit="1h")
        for i in range(n):
            practice.add_case(f"C{i}", [practice.add_client(
                f"Client {i}", phone=f"07700 90{i:04d}", sms_consent=1)])
        for case in range(1, n + 1):
            practice.book(case, T)
        t = time.monotonic()
        r = practice.once(DUE, timeout=60)
        took = time.monotonic() - t
    finally:
        silent.close()
    assert r.returncode == 75, r.stderr
    assert took < 2 * 2 + 3, (took, r.stderr[-2000:])
    rows = sms_rows(practice)
    assert [x["status"] for x in rows] == ["pending"] * n, rows
    assert sorted(x["attempts"] for x in rows) == [0] * (n - 1) + [1], rows
    assert all(x["next_at"] for x in rows), rows


def test_silent_server_wait_is_a_first_retry_not_anothers_backoff(practice):
    """Review of ec70e31: a message that waits for a silent server without
    a try (dl_down_wait) must wait for a first retry (retry.first), not for
    the backoff of whichever message met the silence first.  That one may
    be at its 7th try (about an hour away, or past the end of quiet hours
    on SMS), and a reminder that never had a try then went out up to an
    hour late after the server came back a minute later."""
    silent = SilentServer()
    try:
        practice.write_conf(email=dict(PLAIN, url=silent.url, ca_file=None,
                                       timeout="2s"),
                            reminders=[{"before": "24h", "channel": "email"}],
                            late_limit="1h", retry=DEFAULT_RETRY)
        practice.init()
        appt = "2026-12-04T14:00:00Z"
        for i in range(2):
            c = practice.add_client(f"Client {i}", email=f"c{i}@example.org")
            practice.book(practice.add_case(f"C{i}", [c]), appt)
        now = "2026-12-03T14:00:00Z"
        practice.once(now, timeout=60)
        a, b = practice.messages("purpose = 'reminder'")
        # a has been failing for a while: its 7th try is the next one
        practice.set("UPDATE messages SET attempts = 6 WHERE id = ?", a["id"])
        later = shift(now, minutes=30)
        practice.set("UPDATE messages SET next_at = ? WHERE purpose = "
                     "'reminder'", later)
        r = practice.once(later, timeout=60)
    finally:
        silent.close()
    assert r.returncode == 75, r.stderr
    a, b = practice.messages("purpose = 'reminder'")
    assert (a["attempts"], b["attempts"]) == (7, 0), (a, b)
    wait = (as_utc(b["next_at"]) - as_utc(later)).total_seconds()
    assert wait <= 75, (wait, b["last_error"])


def test_once_stopped_by_sigterm_leaves_nothing_sending(practice, tmp_path):
    """SIGTERM to `nudged --once` (a timer unit stopped, ^C) ends it as it
    ends the service: nothing more is claimed, what is on its way finishes
    within its grace, no row is left 'sending' for recovery to guess at,
    and the exit status says messages wait (75).  Before, --once had no
    handler: it died at once, mid-exchange."""
    n = 20
    slow = SlowSmtp(tmp_path / "slow", delay=0.3).start()
    try:
        practice.write_conf(email=dict(PLAIN, url=slow.url, ca_file=None),
                            reminders=[{"before": "2h", "channel": "email"}],
                            late_limit="1h")
        practice.init()
        add_many(practice, n, fmt_utc(whole_second_after(2 * 3600 - 3)))
        p = subprocess.Popen([NUDGED, "-c", str(practice.conf), "--once"],
                             stderr=subprocess.PIPE, text=True)
        slow.wait_in_data(2, 20)
        t = time.monotonic()
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=20)
        took = time.monotonic() - t
    finally:
        slow.stop()
    assert p.returncode == 75, err
    assert took < 6, took
    assert "stopped by a signal" in err, err[-2000:]
    rows = practice.messages("purpose = 'reminder'")
    by = {}
    for x in rows:
        by[x["status"]] = by.get(x["status"], 0) + 1
    assert "sending" not in by, by
    assert 2 <= by.get("sent", 0) < n and by["sent"] + by["pending"] == n, by
    # what the server got is exactly what is recorded sent
    got = copies(slow)
    assert set(got.values()) == {1}, got
    assert sorted(got) == sorted(x["recipient"] for x in rows
                                 if x["status"] == "sent"), got
