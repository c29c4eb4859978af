"""Discreet mode without leaks (issue 9): what a discreet client's mail
list, lock screen and calendar show, byte for byte as delivered, and the
--check-config warnings that catch a leaking sender or template."""

import pytest
from icalendar import Calendar

from conftest import Raw, mails_to, shift, text_body
from test_sms import SAM_PHONE, sms_group, twilio  # noqa: F401 (fixture)

T = "2026-12-03T14:00:00Z"
DUE_48H = shift(T, hours=-48)
DUE_3H = shift(T, hours=-3)
SAM = "sam@example.org"
ALEX = "alex@example.org"
LEAKS = ("hughes", "christian", "therap", "counsel", "psycho", "relationship")


def calendar_event(msg):
    [part] = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    [ev] = Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT")
    return ev, part.get_payload(decode=True).decode()


def header_text(raw):
    end = raw.find(b"\r\n\r\n")
    return raw[:end].decode("ascii", "replace").lower()


def delivered(smtp, addr):
    return [m for m in smtp.messages if addr in m["rcpt_tos"]]


def discreet_couple(practice, **book):
    sam = practice.add_client("Sam Taylor", email=SAM, discreet=1)
    alex = practice.add_client("Alex Morgan", email=ALEX)
    case = practice.add_case("Sam & Alex", [sam, alex])
    return sam, alex, practice.book(case, T, **book)


def test_discreet_senders_and_calendar(practice, smtp):
    practice.write_conf(email={"discreet_from": "Appointments <diary@example.org>",
                               "discreet_reply_to": "Diary <diary@example.org>"})
    practice.init()
    discreet_couple(practice)
    assert practice.once(DUE_48H).returncode == 0
    [d] = delivered(smtp, SAM)
    msg = d["message"]
    assert msg["From"] == "Appointments <diary@example.org>"
    assert msg["Reply-To"] == "diary@example.org"
    heads = header_text(d["data"])
    for w in LEAKS:
        assert w not in heads, (w, heads)
    ev, raw = calendar_event(msg)
    assert str(ev["ORGANIZER"]) == "mailto:diary@example.org"
    assert "CN" not in ev["ORGANIZER"].params
    assert str(ev["SUMMARY"]) == "Appointment"
    for w in LEAKS:
        assert w not in raw.lower(), (w, raw)
    # the partner who is not discreet gets the practice as usual
    [a] = delivered(smtp, ALEX)
    assert a["message"]["From"] == "Christian Hughes <appointments@example.org>"
    assert a["message"]["Reply-To"] == "christian@example.org"
    aev, _ = calendar_event(a["message"])
    assert aev["ORGANIZER"].params["CN"] == "Christian Hughes"


def test_discreet_without_own_sender_gets_bare_address(ready, smtp):
    discreet_couple(ready)
    assert ready.once(DUE_48H).returncode == 0
    [d] = delivered(smtp, SAM)
    assert d["message"]["From"] == "appointments@example.org"
    ev, _ = calendar_event(d["message"])
    # no ORGANIZER naming the practitioner, not even by address
    assert str(ev["ORGANIZER"]) == "mailto:appointments@example.org"
    assert "CN" not in ev["ORGANIZER"].params


@pytest.mark.parametrize("show", [True, False])
def test_address_shown_in_text_and_entry_alike(practice, smtp, show):
    practice.write_conf(practice={"discreet_address": show,
                                  "directions": "Side door, Mill Lane."})
    practice.init()
    discreet_couple(practice)
    assert practice.once(DUE_48H).returncode == 0
    [d] = delivered(smtp, SAM)
    body = text_body(d["message"])
    ev, _ = calendar_event(d["message"])
    in_text = "1 High Street" in body and "Side door" in body
    in_entry = (str(ev.get("LOCATION", "")) == "1 High Street, Stourbridge DY8 1AA"
                and "Side door" in str(ev.get("DESCRIPTION", "")))
    assert in_text == show and in_entry == show, (body, ev)
    if not show:
        assert "1 High Street" not in body and "LOCATION" not in ev
        assert "Where:" not in body


def test_discreet_sms_sender(practice, smtp, twilio):  # noqa: F811
    practice.write_conf(sms=sms_group(twilio, **{"from": "HughesRT",
                                                 "discreet_from": "+447700900999"}),
                        reminders=[{"before": "3h", "channel": "sms"}])
    practice.init()
    sam = practice.add_client("Sam Taylor", email=SAM, phone=SAM_PHONE,
                              sms_consent=1, discreet=1)
    alex = practice.add_client("Alex Morgan", email=ALEX, phone="07700 900456",
                               sms_consent=1)
    case = practice.add_case("Sam & Alex", [sam, alex])
    practice.book(case, T)
    assert practice.once(DUE_3H).returncode == 0
    by_to = {r["form"]["To"]: r["form"] for r in twilio.requests}
    assert by_to["+447700900123"]["From"] == "+447700900999"
    assert by_to["+447700900456"]["From"] == "HughesRT"
    for w in LEAKS:
        assert w not in by_to["+447700900123"]["Body"].lower()


def warnings(prac, /, **conf):
    prac.write_conf(**conf)
    r = prac.run("--check-config")
    assert r.returncode == 0, r.stderr
    return [l for l in r.stderr.splitlines() if "warning" in l]


def test_check_config_warns_of_leaking_senders(practice, twilio):  # noqa: F811
    w = warnings(practice, email={"from": "Hughes Therapy <hughes@example.org>"},
                 sms=sms_group(twilio, **{"from": "HughesRT"}))
    text = "\n".join(w)
    from_line = practice.line_of('"Hughes Therapy')
    sms_line = practice.line_of('"HughesRT"')
    assert any(f":{from_line}:" in l and "email.discreet_from" in l
               for l in w), text
    assert any("practice.email" in l and "email.discreet_reply_to" in l
               for l in w), text
    assert any(f":{sms_line}:" in l and "sms.discreet_from" in l
               for l in w), text
    # the practice's meeting link names the practitioner: their SMS show it
    link_line = practice.line_of("meet.example.org/hughes")
    assert any(f":{link_line}:" in l and "practice.video_url" in l
               for l in w), text
    # neutral senders and link for discreet clients: no such warnings
    w = warnings(practice, email={"discreet_from": "diary@example.org",
                                  "discreet_reply_to": "diary@example.org"},
                 sms=sms_group(twilio, **{"discreet_from": "+447700900999"}),
                 practice={"video_url": "https://meet.example.org/r/4821"})
    assert not [l for l in w if "discreet" in l], w


def test_check_config_warns_of_clinical_words_in_discreet_templates(practice):
    extra = ('templates = {\n'
             '  reminder_discreet = {\n'
             '    sms = "Hi {{first_name}}, your session is on {{date}}.";\n'
             '    email_subject = "See you {{date}}";\n'
             '  };\n'
             '  moved_discreet = {\n'
             '    email_text = "Your counselling appointment moved to {{date}}.";\n'
             '  };\n'
             '  cancellation_discreet = { sms = "{{practitioner}} cancelled {{date}}"; };\n'
             '  reminder = { sms = "Your therapy session, {{date}}"; };\n'
             '};\n')
    w = warnings(practice, extra=Raw(extra))
    text = "\n".join(w)
    assert any(f":{practice.line_of('your session is')}:" in l and '"session"' in l
               for l in w), text
    assert any(f":{practice.line_of('Your counselling')}:" in l and '"counsel"' in l
               for l in w), text
    assert any(f":{practice.line_of('{{practitioner}} cancelled')}:" in l
               for l in w), text
    # only discreet groups are held to it
    assert not any(f":{practice.line_of('Your therapy session')}:" in l for l in w), text
    assert not any(f":{practice.line_of('See you')}:" in l for l in w), text
