"""Quiet hours whose 'to' falls in the hour the autumn change repeats
(review of the DST audit, 6af1431's autumn sibling)."""

import subprocess

import pytest

from fake_sms import FakeTwilio
from test_sms import SAM_E164, configure, one, reqs_to, sms_rows, solo


@pytest.fixture
def twilio():
    with FakeTwilio(token="tw-token-1") as fake:
        yield fake


def test_quiet_to_in_the_autumn_repeat_does_not_hold_for_ever(practice, twilio):
    """Quiet 21:00-01:30 on Sunday 25 October 2026: 01:30 comes twice
    (00:30 and 01:30 UTC) and means its first occurrence, so quiet hours
    end at 00:30 UTC.  At 01:10 UTC (01:10 GMT, the repeat) the clock reads
    01:10 again: the send-time check called that quiet and held the SMS
    'to the end of quiet hours', which plan_quiet put at 00:30 UTC, already
    past: the row was due again at once, held again, and the pass never
    ended (nor sent anything else)."""
    configure(practice, twilio, reminders=[{"before": "10h50m",
              "channel": "sms"}], late_limit="1h",
              quiet_hours={"from": "21:00", "to": "01:30",
                           "channels": ["sms"]})
    solo(practice, starts_at="2026-10-25T12:00:00Z")
    try:
        r = practice.once("2026-10-25T01:10:00Z", timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("the pass did not end: the quiet-hours hold livelocks")
    assert r.returncode in (0, 75), r.stderr[-2000:]
    row = one(sms_rows(practice))
    # never held to a time already past
    assert row["status"] == "sent" or row["due_at"] > "2026-10-25T01:10:00Z", row
    assert len(reqs_to(twilio, SAM_E164)) == (1 if row["status"] == "sent" else 0)
