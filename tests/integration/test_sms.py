"""SMS end to end: nudged --once against fake Twilio, Vonage and generic APIs.

Each test runs the real binaries (conftest's NUDGED_BUILD) with sms.url
pointing at a fake provider on loopback (fake_sms.py), and the real SMTP
server of conftest for the email fallback and the practitioner's digest.
What the provider saw is in fake.requests; what it accepted in
fake.messages; what nudged recorded in the messages table.
"""

import time

import pytest

from conftest import (PRACTICE_EMAIL, Raw, as_utc, client_mails, mails_to,
                      shift, text_body)
from fake_sms import FakeGeneric, FakeTwilio, FakeVonage, segments

T = "2026-12-03T14:00:00Z"          # Thursday 3 December 2026, GMT
DUE = shift(T, hours=-3)            # the 3h SMS reminder
DUE_48H = shift(T, hours=-48)

SAM_PHONE, SAM_E164 = "07700 900123", "+447700900123"
ALEX_PHONE, ALEX_E164 = "07700-900-456", "+447700900456"
FROM = "+447700900000"

SMS_ONLY = [{"before": "3h", "channel": "sms"}]
EMAIL_AND_SMS = [{"before": "48h", "channel": "email"},
                 {"before": "3h", "channel": "sms"}]
# Short, bounded delays: a pass 10 minutes later is always past the retry.
RETRY = {"attempts": 8, "first": "1m", "max": "10m"}

EX_OK, EX_TEMPFAIL = 0, 75


# ---------------------------------------------------------------------------
# fixtures and helpers

@pytest.fixture
def twilio():
    with FakeTwilio(token="tw-token-1") as fake:
        yield fake


@pytest.fixture
def vonage():
    with FakeVonage() as fake:
        yield fake


def sms_group(fake, provider="twilio", **over):
    g = {"enabled": True, "provider": provider, "url": fake.url,
         "account": getattr(fake, "account", None),
         "token": getattr(fake, "token", None),
         "from": FROM, "region": "GB"}
    g.update(over)
    return g


def configure(practice, fake, provider="twilio", sms=None, reminders=SMS_ONLY,
          retry=RETRY, **top):
    """Config with the fake as sms.url, database created."""
    practice.write_conf(sms=sms_group(fake, provider, **(sms or {})),
                        reminders=reminders, retry=retry, **top)
    practice.init()
    return practice


def person(practice, name, phone, email=None, sms_consent=1, **kw):
    """One client in a one-person case.  Returns (client, case)."""
    c = practice.add_client(name, email=email, phone=phone,
                            sms_consent=sms_consent, **kw)
    return c, practice.add_case(name, [c])


def sms_couple(practice, starts_at=T, sam_sms=1, alex_sms=1):
    sam = practice.add_client("Sam Taylor", email="sam@example.org",
                              phone=SAM_PHONE, sms_consent=sam_sms)
    alex = practice.add_client("Alex Morgan", email="alex@example.org",
                               phone=ALEX_PHONE, sms_consent=alex_sms)
    case = practice.add_case("Sam & Alex", [sam, alex])
    return sam, alex, case, practice.book(case, starts_at)


def solo(practice, phone=SAM_PHONE, email="sam@example.org", starts_at=T, **kw):
    """Sam alone, one appointment.  Returns (client, appointment)."""
    c, case = person(practice, "Sam Taylor", phone, email=email, **kw)
    return c, practice.book(case, starts_at)


def form_to(req):
    f = req.get("form") or req.get("parsed") or {}
    return f.get("To") or f.get("to")


def reqs_to(fake, number):
    """Requests the fake saw for one recipient (E.164 or Vonage digits)."""
    digits = number.lstrip("+")
    return [r for r in fake.requests if form_to(r) in (number, digits)]


def wait_requests(fake, n, timeout=8.0):
    """A slow answer is recorded only once the fake wakes up."""
    end = time.monotonic() + timeout
    while len(fake.requests) < n and time.monotonic() < end:
        time.sleep(0.05)
    return len(fake.requests)


def sms_rows(practice, where="1", *params):
    return practice.messages(f"channel = 'sms' AND purpose = 'reminder' AND ({where})",
                             *params)


def one(rows):
    assert len(rows) == 1, rows
    return rows[0]


def digests(smtp):
    return mails_to(smtp, PRACTICE_EMAIL)


def digest_text(msg):
    return msg["Subject"] + "\n" + text_body(msg)


def once(practice, now, code=EX_OK):
    r = practice.once(now)
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    return r


def assert_fallback(practice, smtp, client, appt, sms_row, addr="sam@example.org"):
    """The failed SMS reminder went by email in the same pass."""
    assert sms_row["status"] == "failed", sms_row
    assert "sent by email instead" in sms_row["last_error"], sms_row
    emails = practice.messages("channel = 'email' AND purpose = 'reminder' AND"
                               " client_id = ? AND appointment_id = ?", client, appt)
    # planned after the SMS failed (another rule's email came before)
    fb = [e for e in emails if e["id"] > sms_row["id"]]
    assert len(fb) == 1, emails
    assert fb[0]["status"] == "sent", fb[0]
    assert fb[0]["recipient"] == addr
    mails = [m for m in mails_to(smtp, addr)
             if "3 December 2026" in digest_text(m)]
    assert mails, [m["rcpt_tos"] for m in smtp.messages]
    return fb[0]


# ---------------------------------------------------------------------------
# the providers' requests

def test_twilio_couple(practice, smtp, twilio):
    configure(practice, twilio)
    sam, alex, case, appt = sms_couple(practice)
    once(practice, shift(DUE, seconds=-1))
    assert twilio.requests == []
    once(practice, DUE)
    assert len(twilio.requests) == 2
    assert twilio.errors == []
    path = "/2010-04-01/Accounts/%s/Messages.json" % twilio.account
    for who, first, e164 in ((sam, "Sam", SAM_E164), (alex, "Alex", ALEX_E164)):
        [req] = reqs_to(twilio, e164)
        assert req["method"] == "POST" and req["path"] == path
        assert req["auth_ok"], req["headers"].get("Authorization")
        assert set(req["form"]) >= {"To", "From", "Body"}
        assert req["form"]["From"] == FROM
        body = req["form"]["Body"]
        assert first in body
        assert "Thursday 3 December 2026" in body and "14:00" in body
        # the partner's number never shows in this one's text
        other = ALEX_E164 if who == sam else SAM_E164
        assert other not in body and other[3:] not in body
        [sent] = [m for m in twilio.messages if m["To"] == e164]
        row = one(sms_rows(practice, "client_id = ?", who))
        assert row["status"] == "sent" and row["attempts"] == 1
        assert row["recipient"] == e164
        assert row["provider_ref"] == sent["sid"]
        assert row["last_error"] is None and row["sent_at"]
        assert as_utc(row["due_at"]) == as_utc(DUE)
    assert client_mails(smtp) == [] and digests(smtp) == []
    # Nothing is sent twice.
    once(practice, DUE)
    once(practice, shift(DUE, minutes=30))
    assert len(twilio.requests) == 2


def test_vonage_couple(practice, smtp, vonage):
    configure(practice, vonage, "vonage", sms={"from": "Hughes"})
    sam, alex, case, appt = sms_couple(practice)
    once(practice, DUE)
    assert vonage.errors == []
    assert len(vonage.requests) == 2
    for who, first, e164 in ((sam, "Sam", SAM_E164), (alex, "Alex", ALEX_E164)):
        [req] = reqs_to(vonage, e164)
        f = req["form"]
        assert req["method"] == "POST" and req["path"].split("?")[0] == "/sms/json"
        assert f["api_key"] == vonage.account and f["api_secret"] == vonage.token
        assert f["to"] == e164[1:]                 # digits, no '+'
        assert f["from"] == "Hughes"
        assert f.get("type", "text") == "text"
        assert first in f["text"] and "14:00" in f["text"]
        [sent] = [m for m in vonage.messages if m["to"] == e164[1:]]
        row = one(sms_rows(practice, "client_id = ?", who))
        assert row["status"] == "sent" and row["attempts"] == 1
        assert row["recipient"] == e164
        assert row["provider_ref"] == ",".join(sent["ids"])
    once(practice, shift(DUE, minutes=20))
    assert len(vonage.requests) == 2


def test_generic_provider_from_the_config_alone(practice, smtp):
    body = '{"recipient": "{{to}}", "message": "{{text}}", "sender": "{{from}}"}'
    with FakeGeneric(expect_headers={"Authorization": "Bearer gen-secret-9"}) as gen:
        configure(practice, gen, "generic", sms={
            "url": gen.url + "/v2/messages", "account": None,
            "token": "gen-secret-9", "method": "POST",
            "headers": ["Authorization: Bearer {{token}}"],
            "content_type": "application/json", "body": body,
            "id_field": "id"})
        # quotes and a backslash in the name must survive the JSON template
        sam = practice.add_client('Jo "JJ" Back\\slash', first_name='Jo "JJ"',
                                  email="jo@example.org", phone=SAM_PHONE,
                                  sms_consent=1)
        case = practice.add_case("Jo", [sam])
        practice.book(case, T)
        once(practice, DUE)
        assert gen.errors == []
        [req] = gen.requests
        assert req["method"] == "POST" and req["path"] == "/v2/messages"
        assert req["headers"]["Content-Type"].startswith("application/json")
        p = req["parsed"]
        assert p["recipient"] == SAM_E164 and p["sender"] == FROM
        assert 'Jo "JJ"' in p["message"] and "14:00" in p["message"]
        row = one(sms_rows(practice))
        assert row["status"] == "sent"
        assert row["provider_ref"] == gen.messages[0]["id"] == "gen-1"


# ---------------------------------------------------------------------------
# every error class ends in its documented state

def test_twilio_invalid_number_fails_and_falls_back(practice, smtp, twilio):
    # The 48h email rule already went: another rule's email does not
    # prevent the fallback.
    configure(practice, twilio, reminders=EMAIL_AND_SMS)
    sam, appt = solo(practice)
    once(practice, DUE_48H)
    assert len(mails_to(smtp, "sam@example.org")) == 1
    twilio.script([("400", 21211)])
    once(practice, DUE)
    assert len(twilio.requests) == 1
    row = one(sms_rows(practice))
    assert "21211" in row["last_error"] or "not a valid" in row["last_error"]
    assert row["attempts"] == 1
    fb = assert_fallback(practice, smtp, sam, appt, row)
    assert as_utc(fb["sent_at"]) == as_utc(DUE)
    assert len(mails_to(smtp, "sam@example.org")) == 2
    [d] = digests(smtp)
    text = digest_text(d)
    assert str(row["id"]) in text and str(appt) in text
    assert "3 December 2026" in text
    # settled: nothing more, ever
    once(practice, shift(DUE, minutes=30))
    assert len(twilio.requests) == 1 and len(digests(smtp)) == 1
    assert len(mails_to(smtp, "sam@example.org")) == 2


def test_twilio_unsubscribed_turns_consent_off(practice, smtp, twilio):
    configure(practice, twilio)
    sam, appt = solo(practice)
    twilio.script([("400", 21610)])
    once(practice, DUE)
    row = one(sms_rows(practice))
    assert row["status"] == "failed"
    assert practice.query("SELECT sms_consent FROM clients WHERE id = ?",
                          sam)[0]["sms_consent"] == 0
    assert_fallback(practice, smtp, sam, appt, row)
    [d] = digests(smtp)
    text = digest_text(d).lower()
    assert "unsubscribed" in text and "consent" in text
    # a new appointment plans no SMS for them any more
    case = practice.query("SELECT case_id FROM case_members WHERE client_id = ?",
                          sam)[0]["case_id"]
    practice.book(case, shift(T, days=7))
    once(practice, shift(DUE, days=7))
    assert len(twilio.requests) == 1
    assert all(r["status"] != "sent" for r in sms_rows(practice))


def test_twilio_bad_credentials_pause_the_channel(practice, smtp):
    with FakeTwilio(token="the-right-one") as tw:
        configure(practice, tw, sms={"token": "a-wrong-one", "concurrency": 1})
        people = [person(practice, f"Client {i}", f"07700 90010{i}",
                         email=f"c{i}@example.org") for i in range(3)]
        for _, case in people:
            practice.book(case, T)
        r = once(practice, DUE, EX_TEMPFAIL)
        assert len(tw.requests) == 1, "the pause must stop the pass"
        assert tw.requests[0]["auth_ok"] is False
        rows = sms_rows(practice)
        assert [x["status"] for x in rows] == ["pending"] * 3, rows
        assert client_mails(smtp) == []          # no fallback: not the message's fault
        [d] = digests(smtp)
        text = digest_text(d).lower()
        assert "sms" in text and "paused" in text
        assert "a-wrong-one" not in r.stderr and "a-wrong-one" not in text
        # Still paused a minute later: no request, no second digest.
        once(practice, shift(DUE, minutes=1), EX_TEMPFAIL)
        assert len(tw.requests) == 1 and len(digests(smtp)) == 1
        # Credentials fixed: after the pause all three go, once each.
        configure(practice, tw, sms={"token": "the-right-one", "concurrency": 1})
        once(practice, shift(DUE, minutes=20))
        assert [x["status"] for x in sms_rows(practice)] == ["sent"] * 3
        assert len(tw.messages) == 3
        assert len({m["To"] for m in tw.messages}) == 3


def test_refused_batch_is_one_pause(practice, smtp):
    """Three requests in flight at once, all refused: that is one refusal,
    so all three wait the same first pause (5 min, deliver_record.c), not
    a pause that doubles once per message of the batch."""
    with FakeTwilio(token="the-right-one") as tw:
        configure(practice, tw, sms={"token": "a-wrong-one", "concurrency": 4})
        for i in range(3):
            _, case = person(practice, f"Client {i}", f"07700 90011{i}")
            practice.book(case, T)
        once(practice, DUE, EX_TEMPFAIL)
        assert len(tw.requests) == 3
        assert len(digests(smtp)) == 1
        configure(practice, tw, sms={"token": "the-right-one", "concurrency": 4})
        once(practice, shift(DUE, minutes=9))
        assert [x["status"] for x in sms_rows(practice)] == ["sent"] * 3
        assert len(tw.messages) == 3


def test_twilio_429_honours_retry_after(practice, smtp, twilio):
    configure(practice, twilio)
    solo(practice)
    twilio.script([("429", 1200)])           # 20 minutes
    once(practice, DUE, EX_TEMPFAIL)
    row = one(sms_rows(practice))
    assert row["status"] == "pending" and row["attempts"] == 1
    # The usual delay (at most retry.max = 10m) has passed; Retry-After not.
    # Still waiting for a retry after a transient failure: exit 75.
    once(practice, shift(DUE, minutes=15), EX_TEMPFAIL)
    assert len(twilio.requests) == 1
    once(practice, shift(DUE, minutes=21))
    assert len(twilio.requests) == 2
    row = one(sms_rows(practice))
    assert row["status"] == "sent" and row["attempts"] == 2
    assert row["provider_ref"] == twilio.messages[0]["sid"]
    assert digests(smtp) == []


def test_twilio_500_retried_across_passes(practice, smtp, twilio):
    configure(practice, twilio)
    sam, appt = solo(practice)
    twilio.script(["500", "500"])
    once(practice, DUE, EX_TEMPFAIL)
    once(practice, shift(DUE, minutes=11), EX_TEMPFAIL)
    row = one(sms_rows(practice))
    assert row["status"] == "pending" and row["attempts"] == 2
    assert len(twilio.requests) == 2 and twilio.messages == []
    once(practice, shift(DUE, minutes=22))
    row = one(sms_rows(practice))
    assert row["status"] == "sent" and row["attempts"] == 3
    assert len(reqs_to(twilio, SAM_E164)) == 3 and len(twilio.messages) == 1
    once(practice, shift(DUE, minutes=40))
    assert len(twilio.requests) == 3
    assert digests(smtp) == [] and client_mails(smtp) == []


def test_retries_used_up_fail_and_fall_back(practice, smtp, twilio):
    configure(practice, twilio, retry={"attempts": 2, "first": "1m", "max": "10m"})
    sam, appt = solo(practice)
    twilio.script(["500", "500", "500"])
    once(practice, DUE, EX_TEMPFAIL)
    assert client_mails(smtp) == []
    once(practice, shift(DUE, minutes=11))
    row = one(sms_rows(practice))
    assert row["attempts"] == 2
    assert "2 attempts" in row["last_error"]
    assert_fallback(practice, smtp, sam, appt, row)
    assert len(digests(smtp)) == 1
    once(practice, shift(DUE, minutes=30))
    assert len(twilio.requests) == 2


@pytest.mark.parametrize("how", ["slow", "drop"])
def test_unknown_outcome_resent_once(practice, smtp, twilio, how):
    configure(practice, twilio, sms={"timeout": "1s"})
    solo(practice)
    twilio.script([("slow", 2.5) if how == "slow" else "drop"])
    once(practice, DUE, EX_TEMPFAIL)
    assert wait_requests(twilio, 1) == 1
    row = one(sms_rows(practice))
    assert row["status"] == "pending" and row["attempts"] == 1
    once(practice, shift(DUE, minutes=11))
    row = one(sms_rows(practice))
    assert row["status"] == "sent"
    once(practice, shift(DUE, minutes=30))
    time.sleep(0.2)
    assert len(reqs_to(twilio, SAM_E164)) == 2


@pytest.mark.parametrize("how", ["slow", "drop"])
def test_unknown_outcome_twice_never_a_third_time(practice, smtp, twilio, how):
    configure(practice, twilio, sms={"timeout": "1s"})
    solo(practice)
    ans = ("slow", 2.5) if how == "slow" else "drop"
    twilio.script([ans, ans])
    once(practice, DUE, EX_TEMPFAIL)
    wait_requests(twilio, 1)
    once(practice, shift(DUE, minutes=11))
    assert wait_requests(twilio, 2) == 2
    row = one(sms_rows(practice))
    assert row["status"] == "failed", row
    assert "unknown" in row["last_error"]
    for m in (20, 40, 90):
        once(practice, shift(DUE, minutes=m))
    time.sleep(0.2)
    assert len(reqs_to(twilio, SAM_E164)) == 2


def test_vonage_throttled_then_delivered(practice, smtp, vonage):
    configure(practice, vonage, "vonage")
    solo(practice)
    vonage.script(["throttled"])
    once(practice, DUE, EX_TEMPFAIL)
    row = one(sms_rows(practice))
    assert row["status"] == "pending" and row["attempts"] == 1
    once(practice, shift(DUE, minutes=11))
    row = one(sms_rows(practice))
    assert row["status"] == "sent" and row["attempts"] == 2
    assert len(vonage.requests) == 2 and len(vonage.messages) == 1
    assert digests(smtp) == []


def test_vonage_bad_credentials_pause(practice, smtp):
    with FakeVonage(api_secret="right-secret") as von:
        configure(practice, von, "vonage", sms={"token": "wrong-secret",
                                            "concurrency": 1})
        for i in range(2):
            _, case = person(practice, f"Client {i}", f"07700 90020{i}",
                             email=f"c{i}@example.org")
            practice.book(case, T)
        once(practice, DUE, EX_TEMPFAIL)
        assert len(von.requests) == 1
        assert [x["status"] for x in sms_rows(practice)] == ["pending"] * 2
        [d] = digests(smtp)
        assert "paused" in digest_text(d).lower()
        assert client_mails(smtp) == []


# ---------------------------------------------------------------------------
# the practitioner's digest

def test_one_digest_per_pass_and_not_again_within_alerts_every(practice, smtp,
                                                               twilio):
    configure(practice, twilio)
    appts = []
    for i, start in enumerate((T, shift(T, minutes=30))):
        c, case = person(practice, f"Client {i}", f"07700 90030{i}",
                         email=f"c{i}@example.org")
        appts.append(practice.book(case, start))
    # Two problems in the first pass: one digest naming both.
    c3, case3 = person(practice, "Client 3", "07700 900303", email="c3@example.org")
    practice.book(case3, T)
    twilio.script([("400", 21211), ("400", 21211), ("400", 21211)])
    once(practice, DUE)
    [d] = digests(smtp)
    failed = sms_rows(practice, "status = 'failed'")
    assert len(failed) == 2
    text = digest_text(d)
    for row in failed:
        assert f"{row['id']}" in text and f"client {row['client_id']}" in text
    # A new failure half an hour later: no digest within alerts.every ...
    once(practice, shift(DUE, minutes=30))
    assert len(sms_rows(practice, "status = 'failed'")) == 3
    assert len(digests(smtp)) == 1
    # ... then one, naming only what is new.
    once(practice, shift(DUE, minutes=61))
    assert len(digests(smtp)) == 2
    late = one(sms_rows(practice, "appointment_id = ?", appts[1]))
    text = digest_text(digests(smtp)[1])
    assert f"appointment {appts[1]}" in text
    assert f"Message {late['id']} " in text
    for row in failed:
        assert f"Message {row['id']} " not in text
    once(practice, shift(DUE, minutes=130))
    assert len(digests(smtp)) == 2


# ---------------------------------------------------------------------------
# quiet hours

def test_quiet_hours_send_the_evening_before(practice, smtp, twilio):
    configure(practice, twilio)
    start = "2026-12-04T09:00:00Z"           # Friday 09:00 GMT: 3h before is 06:00
    solo(practice, starts_at=start)
    once(practice, "2026-12-03T12:00:00Z")
    row = one(sms_rows(practice))
    assert as_utc(row["due_at"]) == as_utc("2026-12-03T20:59:00Z")
    once(practice, "2026-12-03T20:58:00Z")
    assert twilio.requests == []
    once(practice, "2026-12-03T20:59:00Z")
    assert len(twilio.requests) == 1
    assert one(sms_rows(practice))["status"] == "sent"
    once(practice, "2026-12-04T06:00:00Z")
    assert len(twilio.requests) == 1


def test_quiet_hours_late_booking_held_to_eight(practice, smtp, twilio):
    configure(practice, twilio)
    # Friday 3 July 2026 10:00 BST; booked at 22:30 BST the evening before.
    start = "2026-07-03T09:00:00Z"
    solo(practice, starts_at=start)
    r = once(practice, "2026-07-02T21:30:00Z", EX_OK)
    assert twilio.requests == []
    row = one(sms_rows(practice))
    assert row["status"] == "pending"
    assert as_utc(row["due_at"]) == as_utc("2026-07-03T07:00:00Z")   # 08:00 BST
    once(practice, "2026-07-03T06:59:00Z")
    assert twilio.requests == []
    once(practice, "2026-07-03T07:00:00Z")
    assert len(twilio.requests) == 1
    assert one(sms_rows(practice))["status"] == "sent"
    assert r.returncode == 0


def test_quiet_hours_from_in_the_spring_gap_begin_at_the_jump(practice, smtp,
                                                               twilio):
    # quiet_hours.from = 01:30, a wall time that does not exist on Sunday
    # 28 March 2027: the clocks go from 00:59 GMT to 02:00 BST, and quiet
    # hours begin then.  The 1h reminder of an appointment at 03:15 BST
    # (02:15Z) is due at 02:15 BST, inside them: it goes at 00:59 GMT, not
    # at 02:29 BST (inside quiet hours, after its due time), which the
    # planner took for a minute before quiet hours and which left the
    # reminder less than late_limit ahead, so it was never sent.
    configure(practice, twilio, reminders=[{"before": "1h", "channel": "sms"}],
              quiet_hours={"from": "01:30", "to": "07:00",
                           "channels": ["sms"]}, late_limit="1h")
    solo(practice, starts_at="2027-03-28T02:15:00Z")
    once(practice, "2027-03-27T12:00:00Z")
    row = one(sms_rows(practice))
    assert (row["status"], row["due_at"]) == ("pending", "2027-03-28T00:59:00Z")
    once(practice, "2027-03-28T00:59:00Z")
    assert one(sms_rows(practice))["status"] == "sent"
    assert len(twilio.requests) == 1


# ---------------------------------------------------------------------------
# consent, wording, encodings, numbers

def test_couple_one_partner_consents_to_sms(practice, smtp, twilio):
    configure(practice, twilio, reminders=EMAIL_AND_SMS)
    sam, alex, case, appt = sms_couple(practice, sam_sms=1, alex_sms=0)
    once(practice, DUE_48H)
    once(practice, DUE)
    assert [form_to(r) for r in twilio.requests] == [SAM_E164]
    assert len(mails_to(smtp, "sam@example.org")) == 1
    assert len(mails_to(smtp, "alex@example.org")) == 1
    assert all(r["status"] != "sent" for r in sms_rows(practice, "client_id = ?", alex))
    alex_mail = practice.messages("client_id = ? AND channel = 'email'", alex)
    assert [m["status"] for m in alex_mail] == ["sent"]


def test_emoji_name_goes_as_ucs2(practice, smtp, twilio, vonage):
    for fake, provider in ((twilio, "twilio"), (vonage, "vonage")):
        practice.write_conf(sms=sms_group(fake, provider), reminders=SMS_ONLY,
                            retry=RETRY)
        if not practice.db.exists():
            practice.init()
            solo(practice, first_name="Sam\U0001F308")
            case = practice.query("SELECT id FROM cases")[0]["id"]
            practice.book(case, shift(T, days=1))
        once(practice, DUE if provider == "twilio" else shift(DUE, days=1))
    [tw] = twilio.requests
    assert "Sam\U0001F308" in tw["form"]["Body"]
    [vn] = vonage.requests
    assert vonage.errors == []
    assert vn["form"]["type"] == "unicode"
    assert "Sam\U0001F308" in vn["form"]["text"]
    assert [r["status"] for r in sms_rows(practice)] == ["sent", "sent"]


@pytest.mark.parametrize("length,ok", [(160, True), (161, False)])
def test_segment_limit(practice, smtp, twilio, length, ok):
    prefix = "Hi {{first_name}}, "
    filler = "a" * (length - len("Hi Sam, "))
    configure(practice, twilio, sms={"max_segments": 1},
          extra="templates = { reminder = { sms = %s; }; };"
          % Raw('"' + prefix + filler + '"'))
    sam, appt = solo(practice)
    once(practice, DUE)
    row = one(sms_rows(practice))
    if ok:
        [req] = twilio.requests
        assert len(req["form"]["Body"]) == 160 and segments(req["form"]["Body"]) == 1
        assert row["status"] == "sent"
    else:
        assert twilio.requests == []
        assert "2 segments" in row["last_error"], row
        assert row["attempts"] == 0
        assert_fallback(practice, smtp, sam, appt, row)


def test_discreet_client_sms_wording(practice, smtp, twilio):
    configure(practice, twilio)
    solo(practice, discreet=1)
    once(practice, DUE)
    [req] = twilio.requests
    body = req["form"]["Body"]
    low = body.lower()
    for word in ("hughes", "christian", "relationship therapy", "therapy",
                 "therapist", "counselling", "psychotherapy"):
        assert word not in low, body
    assert "3 December" in body and "14:00" in body


# One number end to end (the fallback and the digest); which numbers
# cannot take texts, and why, is phone_sms_capable's unit test
# (tests/unit/test_phone.c: landlines, 070, premium rate, ...).
@pytest.mark.parametrize("phone,why", [("01384 000000", "landline")])
def test_number_that_cannot_take_texts(practice, smtp, twilio, phone, why):
    configure(practice, twilio)
    sam, appt = solo(practice, phone=phone)
    once(practice, DUE)
    assert twilio.requests == []
    row = one(sms_rows(practice))
    assert why in row["last_error"], row
    assert row["attempts"] == 0
    assert_fallback(practice, smtp, sam, appt, row)
    assert len(digests(smtp)) == 1


def test_concurrency_bounded(practice, smtp, twilio):
    configure(practice, twilio, sms={"concurrency": 4})
    for i in range(10):
        _, case = person(practice, f"Client {i}", f"07700 9004{i:02d}")
        practice.book(case, T)
    twilio.script([("slow", 0.3)] * 10)
    once(practice, DUE)
    assert len(twilio.requests) == 10
    assert 1 < twilio.max_concurrency <= 4, twilio.max_concurrency
    rows = sms_rows(practice)
    assert [r["status"] for r in rows] == ["sent"] * 10
    assert len({form_to(r) for r in twilio.requests}) == 10


def test_send_test_through_twilio(practice, smtp, twilio):
    configure(practice, twilio)
    r = practice.ctl("send-test", "--to", "07700900123")
    assert r.returncode == 0, r.stderr
    [req] = twilio.requests
    assert req["auth_ok"] and req["form"]["To"] == SAM_E164
    [row] = practice.messages("purpose = 'test'")
    assert row["status"] == "sent" and row["channel"] == "sms"
    assert row["recipient"] == SAM_E164
    assert row["provider_ref"] == twilio.messages[0]["sid"]
    # A landline: refused before any request, with a non-zero exit.
    r = practice.ctl("send-test", "--to", "01384 000000")
    assert r.returncode != 0 and "landline" in r.stderr, r.stderr
    assert len(twilio.requests) == 1


def test_connections_added_after_a_batch_with_one_email(practice, smtp, twilio):
    """email.connections = 4, and the first batch of the pass holds one
    email among SMS: one connection is made for it.  The next batch, all
    email, makes three more.  The connections made first must keep working
    (their libcurl callbacks hold the address of their slot: it must not
    move when more are made; before, it did, and the first connection's
    next email read freed memory, which the sanitizer build reports)."""
    configure(practice, twilio, sms={"concurrency": 4}, email={"connections": 4},
              reminders=[{"before": "3h", "channel": "email"},
                         {"before": "3h", "channel": "sms"}], late_limit="2h")
    _, case = person(practice, "Client E0", None, email="e0@example.org",
                     sms_consent=0)
    practice.book(case, T)
    for i in range(15):
        _, case = person(practice, f"Client S{i}", f"07700 9002{i:02d}")
        practice.book(case, shift(T, minutes=1))
    for i in range(20):
        _, case = person(practice, f"Client E{i + 1}", None,
                         email=f"e{i + 1}@example.org", sms_consent=0)
        practice.book(case, shift(T, minutes=30))
    once(practice, shift(DUE, minutes=35))
    assert len(twilio.messages) == 15
    got = sorted(r for m in smtp.messages for r in m["rcpt_tos"])
    assert got == sorted(f"e{i}@example.org" for i in range(21)), got
    rows = practice.messages("purpose = 'reminder'")
    assert {x["status"] for x in rows} == {"sent"}, rows

