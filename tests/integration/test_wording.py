"""Wording that fits the couple (issue 9), checked on what arrives at the
SMTP server and the fake SMS gateway: the assessment follow-up only when
nothing is booked after, the free call for the member it is for and worded
for who calls whom, today/tomorrow, a link never run into the next
sentence, the assessment email, change notices from `nudgectl edit`, names
transliterated for SMS, and `nudgectl templates`."""

import pytest
from icalendar import Calendar

from conftest import mails_to, shift, text_body
from test_sms import SAM_PHONE, sms_group, twilio  # noqa: F401 (fixture)

T = "2026-12-03T14:00:00Z"          # Thursday 3 December 2026, 14:00 GMT
SAM = "sam@example.org"
ALEX = "alex@example.org"
LINK = "https://meet.example.org/room-42"
# nudgectl refuses to book in the past: its tests use a later date
F = "2027-03-04T14:00:00Z"          # Thursday 4 March 2027, 14:00 GMT
F_LOCAL = "2027-03-04 14:00"


def followup_conf(practice):
    practice.write_conf(reminders=[{"after": "1d", "channel": "email",
                                    "kinds": ["assessment"],
                                    "template": "assessment_follow_up"}])
    practice.init()


def test_assessment_follow_up_skipped_when_a_session_is_booked(practice, smtp):
    followup_conf(practice)
    sam, alex, case, appt = practice.couple(T, kind="assessment", duration=90)
    practice.book(case, shift(T, days=7))
    due = shift(T, minutes=90, days=1)
    assert practice.once(due).returncode == 0
    assert mails_to(smtp, SAM) == []
    rows = practice.messages("purpose = 'follow_up'")
    assert len(rows) == 2
    for r in rows:
        assert r["status"] == "skipped", r
        assert "later session is already booked" in r["last_error"]


def test_assessment_follow_up_goes_when_nothing_is_booked(practice, smtp):
    followup_conf(practice)
    sam, alex, case, appt = practice.couple(T, kind="assessment", duration=90)
    # a later appointment that was cancelled does not count
    practice.book(case, shift(T, days=7), status="cancelled")
    assert practice.once(shift(T, minutes=90, days=1)).returncode == 0
    [m] = mails_to(smtp, SAM)
    body = text_body(m)
    assert "decide together whether you would like to continue" in body
    assert "Alex" in body


def test_free_call_goes_to_the_member_it_is_for(practice, smtp):
    practice.write_conf(practice={"calls_client": False})
    practice.init()
    sam, alex, case, _ = practice.couple()
    r = practice.ctl("book", "--case", str(case), "--at", F_LOCAL,
                     "--kind", "call", "--for", str(sam))
    assert r.returncode == 0, r.stderr
    assert f"for client {sam} only" in r.stdout
    [row] = practice.query("SELECT id, for_client FROM appointments")
    assert row["for_client"] == sam
    # the diary says so too, not only the booking
    r = practice.ctl("appointments")
    assert f"booked (for client {sam} only)" in r.stdout, r.stdout
    # not a member of the case: refused, nothing written
    r = practice.ctl("book", "--case", str(case), "--at", "2027-03-05 14:00",
                     "--kind", "call", "--for", "999")
    assert r.returncode != 0 and "not a member" in r.stderr
    assert practice.once(shift(F, hours=-48)).returncode == 0
    assert mails_to(smtp, ALEX) == []
    [m] = mails_to(smtp, SAM)
    body = text_body(m)
    assert "Please call 01384 000000 at 14:00." in body, body
    assert "number you gave" not in body and "will call you" not in body


def test_today_and_tomorrow(practice, smtp, twilio):  # noqa: F811
    practice.write_conf(sms=sms_group(twilio),
                        reminders=[{"before": "48h", "channel": "email"},
                                   {"before": "24h", "channel": "email"},
                                   {"before": "3h", "channel": "sms"}])
    practice.init()
    sam = practice.add_client("Sam Taylor", email=SAM, phone=SAM_PHONE,
                              sms_consent=1)
    case = practice.add_case("Sam", [sam])
    practice.book(case, T, mode="online", video_url=LINK)
    for h in (48, 24, 3):
        assert practice.once(shift(T, hours=-h)).returncode == 0
    far, near = mails_to(smtp, SAM)
    # two days ahead: the When: line gives the date, the opening does not
    # say it again
    far_body = text_body(far).replace("\r\n", "\n")
    assert "your appointment with Christian Hughes.\n" in far_body, far_body
    assert far_body.count("Thursday 3 December 2026") == 1, far_body
    assert "your appointment with Christian Hughes tomorrow." in text_body(near)
    [req] = twilio.requests
    body = req["form"]["Body"]
    assert "today, Thursday 3 December 2026, at 14:00" in body, body
    # the link ends its line: the next sentence starts on the next one
    assert f"Join: {LINK}\nTo rearrange" in body, body


def test_assessment_email_after_a_free_call(ready, smtp):
    sam, alex, case, _ = ready.couple()
    ready.book(case, shift(T, days=-7), kind="call", mode="phone", duration=15)
    ready.book(case, T, kind="assessment", duration=90)
    assert ready.once(shift(T, hours=-48)).returncode == 0
    [m] = mails_to(smtp, SAM)
    body = text_body(m)
    assert "first meeting" not in body
    assert body.lower().count("first") == 1, body
    assert "It is for you and Alex together" in body
    # the length once, on the When: line (not "It lasts 90 minutes" too)
    body = body.replace("\r\n", "\n")
    assert "When: Thursday 3 December 2026 at 14:00 (90 minutes)\n" in body
    assert body.count("90 minutes") == 1, body


@pytest.mark.parametrize("calls", [True, False])
def test_call_email_and_sms_say_each_thing_once(practice, smtp, twilio,  # noqa: F811
                                                calls):
    """The free call's reminder: the date once (on the When: line, with the
    length), and the practitioner named once in the SMS."""
    practice.write_conf(practice={"calls_client": calls}, sms=sms_group(twilio),
                        reminders=[{"before": "48h", "channel": "email"},
                                   {"before": "48h", "channel": "sms"}])
    practice.init()
    sam = practice.add_client("Sam Taylor", email=SAM, phone=SAM_PHONE,
                              sms_consent=1)
    case = practice.add_case("Sam", [sam])
    practice.book(case, T, kind="call", mode="phone", duration=15)
    assert practice.once(shift(T, hours=-48)).returncode == 0
    [m] = mails_to(smtp, SAM)
    body = text_body(m).replace("\r\n", "\n")
    assert body.count("Thursday 3 December 2026") == 1, body
    assert body.count("15 minutes") == 1, body
    assert "When: Thursday 3 December 2026 at 14:00 (15 minutes)\n" in body
    [req] = twilio.requests
    sms = req["form"]["Body"]
    assert sms.count("Christian Hughes") == 1, sms
    if calls:
        assert "Just a reminder of your free phone call.\n" in body, body
        assert "(15 minutes) on Thursday 3 December 2026. Christian Hughes " \
            "will call you at 14:00." in sms, sms
    else:
        assert ("Just a reminder of your free phone call with Christian "
                "Hughes.\n") in body, body
        assert "(15 minutes) with Christian Hughes on Thursday 3 December " \
            "2026. Please call 01384 000000 at 14:00." in sms, sms


def test_edit_sends_a_change_notice_not_a_cancellation(practice, smtp):
    practice.write_conf()
    practice.init()
    sam, alex, case, _ = practice.couple()
    r = practice.ctl("book", "--case", str(case), "--at", F_LOCAL)
    assert r.returncode == 0, r.stderr
    [appt] = [x["id"] for x in practice.query("SELECT id FROM appointments")]
    assert practice.once(shift(F, hours=-48)).returncode == 0
    r = practice.ctl("edit", str(appt), "--mode", "online", "--video-url", LINK,
                     "--duration", "50")
    assert r.returncode == 0, r.stderr
    assert (f"changed: mode in_person -> online, duration 60 -> 50 minutes,"
            f" video link {LINK}\n") in r.stdout, r.stdout
    assert practice.once(shift(F, hours=-47)).returncode == 0
    for addr in (SAM, ALEX):
        first, notice = mails_to(smtp, addr)
        body = text_body(notice)
        assert "have changed" in body and f"Join: {LINK}" in body, body
        # the time did not move: the subject does not say "is now on"
        assert notice["Subject"] == ("Changed: the details of your appointment"
                                     " with Christian Hughes on Thursday 4"
                                     " March 2027 at 14:00"), notice["Subject"]
        assert "50 minutes" in body
        [p1] = [p for p in first.walk() if p.get_content_type() == "text/calendar"]
        [p2] = [p for p in notice.walk() if p.get_content_type() == "text/calendar"]
        [e1] = Calendar.from_ical(p1.get_payload(decode=True)).walk("VEVENT")
        [e2] = Calendar.from_ical(p2.get_payload(decode=True)).walk("VEVENT")
        assert str(e1["UID"]) == str(e2["UID"])
        assert int(e2["SEQUENCE"]) > int(e1["SEQUENCE"])
        assert str(e2["URL"]) == LINK
    assert not practice.messages("purpose = 'cancellation'")
    assert len(practice.messages("purpose = 'moved' AND status = 'sent'")) == 2
    # planning again sends nothing more
    assert practice.once(shift(F, hours=-46)).returncode == 0
    assert len(mails_to(smtp, SAM)) == 2


def test_names_transliterated_in_sms(practice, smtp, twilio):  # noqa: F811
    practice.write_conf(sms=sms_group(twilio),
                        reminders=[{"before": "3h", "channel": "sms"}])
    practice.init()
    zoe = practice.add_client("Zoë Łukasiewicz", first_name="Zoë",
                              phone=SAM_PHONE, sms_consent=1)
    case = practice.add_case("Zoë", [zoe])
    practice.book(case, T)
    out = practice.ctl("upcoming", "--now", shift(T, hours=-4), "--days", "1")
    assert out.returncode == 0, out.stderr
    # GSM-7: two segments, where the ë would make it three in UCS-2
    assert "Hi Zoe," in out.stdout and "(2 SMS segments, GSM-7)" in out.stdout, out.stdout
    assert practice.once(shift(T, hours=-3)).returncode == 0
    [req] = twilio.requests
    body = req["form"]["Body"]
    assert body.startswith("Hi Zoe,"), body
    assert all(ord(ch) < 128 for ch in body), body


def test_transliteration_off(practice, smtp, twilio):  # noqa: F811
    practice.write_conf(sms=sms_group(twilio, transliterate=False),
                        reminders=[{"before": "3h", "channel": "sms"}])
    practice.init()
    zoe = practice.add_client("Zoë Adams", first_name="Zoë", phone=SAM_PHONE,
                              sms_consent=1)
    case = practice.add_case("Zoë", [zoe])
    practice.book(case, T)
    out = practice.ctl("upcoming", "--now", shift(T, hours=-4), "--days", "1")
    assert "(3 SMS segments, UCS-2)" in out.stdout, out.stdout
    assert practice.once(shift(T, hours=-3)).returncode == 0
    [req] = twilio.requests
    assert req["form"]["Body"].startswith("Hi Zoë,")


def test_templates_command(practice):
    practice.write_conf()
    r = practice.ctl("templates")
    assert r.returncode == 0, r.stderr
    for g in ("reminder", "moved", "moved_discreet", "call_discreet", "alert"):
        assert f"  {g}\n" in r.stdout
    assert "{{when_relative}}" in r.stdout and "{{old_date}}" in r.stdout
    r = practice.ctl("templates", "moved")
    assert r.returncode == 0, r.stderr
    assert "[moved.email_subject]" in r.stdout and "[moved.sms]" in r.stdout
    assert "{{old_date}} at {{old_time}}" in r.stdout
    r = practice.ctl("templates", "nope")
    assert r.returncode == 64 and "nope" in r.stderr


def test_calls_client_false_needs_a_number(practice):
    practice.write_conf(practice={"calls_client": False, "phone": None})
    r = practice.run("--check-config")
    assert r.returncode == 0, r.stderr
    line = practice.line_of("calls_client")
    assert f":{line}: warning: calls_client = false" in r.stderr, r.stderr
    practice.write_conf(practice={"calls_client": False})
    r = practice.run("--check-config")
    assert "calls_client = false" not in r.stderr, r.stderr
