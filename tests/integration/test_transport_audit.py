"""Delivery under hostile servers and providers (the transport audit):
each test holds one defect a run against a misbehaving server found."""

import json

import pytest

from conftest import PRACTICE_EMAIL, as_utc, mails_to, shift
from fake_sms import FakeTwilio
from test_sms import SAM_PHONE, configure, one, sms_rows, solo

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
