"""Calendar entries as they arrive (issue 9), parsed with an independent
parser (python3-icalendar): every field of a PUBLISH for online, in-person
and phone appointments, the UID with its installation id, a CANCEL naming
its attendee for the same UID, and a change notice ('moved') that updates
the same event with a higher SEQUENCE."""

import datetime as dt
import re

import pytest
from icalendar import Calendar

from conftest import as_utc, mails_to, shift, text_body
from test_sms import SAM_PHONE, sms_group, twilio  # noqa: F401 (fixture)

T = "2026-12-03T14:00:00Z"          # Thursday 3 December 2026, GMT
DUE_48H = shift(T, hours=-48)
SAM = "sam@example.org"
LINK = "https://meet.example.org/room?a=1,b=2;c"
NOTE = "Join from a private space; one device or two, as you like."
DIRECTIONS = "Parking behind the building, entrance in Mill Lane."


def calendar_of(msg):
    """The one text/calendar part of a delivered message, parsed."""
    parts = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, [p.get_content_type() for p in msg.walk()]
    raw = parts[0].get_payload(decode=True)
    # RFC 5545 3.1: CRLF, lines of at most 75 octets
    for line in raw.split(b"\r\n")[:-1]:
        assert len(line) <= 75, line
        assert b"\n" not in line and b"\r" not in line
    cal = Calendar.from_ical(raw)
    [ev] = cal.walk("VEVENT")
    return cal, ev, parts[0]


def installation(practice):
    [row] = practice.query("SELECT value FROM state WHERE key = 'installation_id'")
    assert re.fullmatch(r"[0-9a-f]{16}", row["value"]), row
    return row["value"]


def utc(ev, name):
    return ev.decoded(name).astimezone(dt.timezone.utc)


def test_online_entry_has_the_way_in(practice, smtp):
    practice.write_conf(practice={"online_note": NOTE})
    practice.init()
    sam, alex, case, appt = practice.couple(T, mode="online", video_url=LINK,
                                            duration=50)
    assert practice.once(DUE_48H).returncode == 0
    [m] = mails_to(smtp, SAM)
    cal, ev, part = calendar_of(m)
    assert part.get_param("method") == "PUBLISH"
    assert str(cal["METHOD"]) == "PUBLISH" and str(cal["VERSION"]) == "2.0"
    assert str(cal["CALSCALE"]) == "GREGORIAN"
    assert str(ev["TRANSP"]) == "OPAQUE"
    assert "nudged" in str(cal["PRODID"])
    assert str(ev["UID"]) == f"appointment-{appt}-{installation(practice)}@example.org"
    assert int(ev["SEQUENCE"]) > 0
    assert utc(ev, "DTSTART") == as_utc(T)
    assert utc(ev, "DTEND") == as_utc(T) + dt.timedelta(minutes=50)
    assert utc(ev, "DTSTAMP") == as_utc(DUE_48H)
    assert str(ev["SUMMARY"]) == "Appointment with Christian Hughes"
    # the way in, three times: URL, LOCATION, DESCRIPTION (escaped on the wire)
    assert str(ev["URL"]) == LINK
    assert str(ev["LOCATION"]) == LINK
    assert str(ev["DESCRIPTION"]) == f"Join online: {LINK}\n\n{NOTE}"
    raw = part.get_payload(decode=True).decode().replace("\r\n ", "")
    assert "LOCATION:https://meet.example.org/room?a=1\\,b=2\\;c\r\n" in raw
    org = ev["ORGANIZER"]
    assert str(org) == "mailto:christian@example.org"
    assert org.params["CN"] == "Christian Hughes"
    assert "ATTENDEE" not in ev           # RFC 5546 3.2.1: none in a PUBLISH
    assert str(ev["STATUS"]) == "CONFIRMED"
    # the text says the same
    body = text_body(m)
    assert f"Join: {LINK}" in body and NOTE in body


def test_in_person_entry_has_address_and_directions(practice, smtp):
    practice.write_conf(practice={"directions": DIRECTIONS})
    practice.init()
    practice.couple(T)
    assert practice.once(DUE_48H).returncode == 0
    [m] = mails_to(smtp, SAM)
    _, ev, _ = calendar_of(m)
    assert str(ev["LOCATION"]) == "1 High Street, Stourbridge DY8 1AA"
    assert str(ev["DESCRIPTION"]) == DIRECTIONS
    assert "URL" not in ev
    body = text_body(m)
    assert "Where: 1 High Street, Stourbridge DY8 1AA" in body
    assert DIRECTIONS in body


@pytest.mark.parametrize("calls,says", [
    (True, "Christian Hughes will call you."),
    (False, "Please call Christian Hughes on 01384 000000."),
])
def test_phone_call_entry_says_who_calls_whom(practice, smtp, calls, says):
    practice.write_conf(practice={"calls_client": calls})
    practice.init()
    practice.couple(T, kind="call", mode="phone", duration=20)
    assert practice.once(DUE_48H).returncode == 0
    [m] = mails_to(smtp, SAM)
    _, ev, _ = calendar_of(m)
    assert str(ev["SUMMARY"]) == "Phone call with Christian Hughes"
    assert str(ev["LOCATION"]) == "By phone"
    assert str(ev["DESCRIPTION"]) == says
    body = text_body(m)
    assert "number you gave" not in body
    if calls:
        assert "Christian Hughes will call you at 14:00." in body
    else:
        assert "Please call 01384 000000 at 14:00." in body


def test_publish_then_cancel_same_uid(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    assert ready.once(DUE_48H).returncode == 0
    ready.set("UPDATE appointments SET status = 'cancelled' WHERE id = ?", appt)
    assert ready.once(shift(DUE_48H, hours=2)).returncode == 0
    first, second = mails_to(smtp, SAM)
    _, ev1, _ = calendar_of(first)
    cal2, ev2, part2 = calendar_of(second)
    assert part2.get_param("method") == "CANCEL"
    assert str(cal2["METHOD"]) == "CANCEL"
    assert str(ev2["UID"]) == str(ev1["UID"])
    assert int(ev2["SEQUENCE"]) > int(ev1["SEQUENCE"])
    assert str(ev2["STATUS"]) == "CANCELLED"
    # RFC 5546 3.2.5: the attendee being removed
    att = ev2["ATTENDEE"]
    assert str(att) == f"mailto:{SAM}" and att.params["CN"] == "Sam Taylor"
    assert str(ev2["ORGANIZER"]) == "mailto:christian@example.org"
    assert utc(ev2, "DTSTART") == as_utc(T)


def test_uid_is_stable_and_unique_per_database(practice, smtp, tmp_path):
    practice.write_conf()
    practice.init()
    sam, alex, case, appt = practice.couple(T)
    assert practice.once(DUE_48H).returncode == 0
    uid1 = str(calendar_of(mails_to(smtp, SAM)[0])[1]["UID"])
    # the same practice on one mail domain, with a database made afresh
    practice.db.rename(tmp_path / "old.db")
    practice.init()
    sam2, _, case2, appt2 = practice.couple(T)
    assert appt2 == appt
    assert practice.once(DUE_48H).returncode == 0
    uid2 = str(calendar_of(mails_to(smtp, SAM)[-1])[1]["UID"])
    assert uid1.startswith(f"appointment-{appt}-") and uid2.startswith(f"appointment-{appt}-")
    assert uid1 != uid2


def test_moved_notice_updates_the_same_event(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    assert ready.once(DUE_48H).returncode == 0
    T2 = shift(T, days=5)                       # Tuesday 8 December 2026
    ready.set("UPDATE appointments SET starts_at = ? WHERE id = ?", T2, appt)
    assert ready.once(shift(DUE_48H, hours=1)).returncode == 0
    for addr in (SAM, "alex@example.org"):
        first, notice = mails_to(smtp, addr)
        _, ev1, _ = calendar_of(first)
        cal2, ev2, part2 = calendar_of(notice)
        assert part2.get_param("method") == "PUBLISH"
        assert str(ev2["UID"]) == str(ev1["UID"])
        assert int(ev2["SEQUENCE"]) > int(ev1["SEQUENCE"])
        assert utc(ev2, "DTSTART") == as_utc(T2)
        text = text_body(notice)
        assert "Thursday 3 December 2026 at 14:00 has moved" in text, text
        assert "Tuesday 8 December 2026" in text
        assert "Tuesday 8 December 2026" in notice["Subject"]
    rows = ready.messages("purpose = 'moved'")
    assert len(rows) == 2 and {r["status"] for r in rows} == {"sent"}
    assert not ready.messages("purpose = 'cancellation'")
    # planning again sends nothing more
    assert ready.once(shift(DUE_48H, hours=2)).returncode == 0
    assert len(mails_to(smtp, SAM)) == 2


def test_no_moved_notice_when_off_or_not_reminded(practice, smtp):
    practice.write_conf(notify_move=False)
    practice.init()
    sam, alex, case, appt = practice.couple(T)
    assert practice.once(DUE_48H).returncode == 0
    practice.set("UPDATE appointments SET starts_at = ? WHERE id = ?",
                 shift(T, days=5), appt)
    assert practice.once(shift(DUE_48H, hours=1)).returncode == 0
    assert len(mails_to(smtp, SAM)) == 1
    assert not practice.messages("purpose = 'moved'")


def test_cancelled_then_rebooked_keeps_the_cancellation(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    assert ready.once(DUE_48H).returncode == 0
    ready.set("UPDATE appointments SET status = 'cancelled' WHERE id = ?", appt)
    assert ready.once(shift(DUE_48H, hours=1)).returncode == 0
    ready.set("UPDATE appointments SET status = 'booked', starts_at = ? WHERE id = ?",
              shift(T, days=5), appt)
    assert ready.once(shift(DUE_48H, hours=2)).returncode == 0
    purposes = [r["purpose"] for r in ready.messages("client_id = ? AND status = 'sent'", sam)]
    assert purposes == ["reminder", "cancellation"]
    assert not ready.messages("purpose = 'moved'")


def test_moved_notice_by_sms(practice, smtp, twilio):  # noqa: F811
    practice.write_conf(sms=sms_group(twilio),
                        reminders=[{"before": "3h", "channel": "sms"}])
    practice.init()
    sam = practice.add_client("Sam Taylor", email=SAM, phone=SAM_PHONE,
                              sms_consent=1)
    dee = practice.add_client("Dee Quinn", email="dee@example.org",
                              phone="07700 900456", sms_consent=1, discreet=1)
    case = practice.add_case("Sam & Dee", [sam, dee])
    appt = practice.book(case, T)
    assert practice.once(shift(T, hours=-3)).returncode == 0
    assert len(twilio.requests) == 2
    T2 = shift(T, days=1)                       # Friday 4 December, 14:00
    practice.set("UPDATE appointments SET starts_at = ? WHERE id = ?", T2, appt)
    assert practice.once(shift(T, hours=-2)).returncode == 0
    notices = {r["form"]["To"]: r["form"]["Body"] for r in twilio.requests[2:]}
    assert set(notices) == {"+447700900123", "+447700900456"}
    sam_text = notices["+447700900123"]
    assert ("your appointment with Christian Hughes on Thursday 3 December 2026 "
            "at 14:00 has moved to tomorrow, Friday 4 December 2026, at 14:00"
            in sam_text), sam_text
    dee_text = notices["+447700900456"]
    assert "has moved to tomorrow, Friday 4 December 2026, at 14:00" in dee_text
    for w in ("hughes", "christian", "therap", "counsel"):
        assert w not in dee_text.lower(), dee_text
    assert {r["status"] for r in practice.messages("purpose = 'moved'")} == {"sent"}
    # no emails went: the reminder went by SMS only
    assert mails_to(smtp, SAM) == []
