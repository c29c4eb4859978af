"""Email reminders end to end: what arrives at the server, header by header.

nudged --once --now T runs one pass as of T; a real SMTP server with
STARTTLS and AUTH on loopback receives the messages.
"""

import email.utils
import re

import pytest

from conftest import (PRACTICE_EMAIL, as_utc, client_mails, header_block,
                      mails_to, shift, text_body)

T = "2026-12-03T14:00:00Z"          # Thursday, GMT
DUE_48H = shift(T, hours=-48)


def whole_text(msg):
    return msg["Subject"] + "\n" + text_body(msg)


def test_couple_each_partner_gets_their_own(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    r = ready.once(DUE_48H)
    assert r.returncode == 0, r.stderr
    got = client_mails(smtp)
    assert len(got) == 2, [m["rcpt_tos"] for m in smtp.messages]
    assert sorted(m["rcpt_tos"][0] for m in got) == ["alex@example.org",
                                                    "sam@example.org"]
    msgids = set()
    for who, name, first, addr in ((sam, "Sam Taylor", "Sam", "sam@example.org"),
                                   (alex, "Alex Morgan", "Alex", "alex@example.org")):
        [rec] = [m for m in got if m["rcpt_tos"] == [addr]]
        m = rec["message"]
        to = m["To"].addresses
        assert len(to) == 1
        assert to[0].display_name == name
        assert to[0].addr_spec == addr
        assert m["Cc"] is None and m["Bcc"] is None
        assert [a.addr_spec for a in m["Reply-To"].addresses] == [PRACTICE_EMAIL]
        assert m["From"].addresses[0].addr_spec == "appointments@example.org"
        assert m["From"].addresses[0].display_name == "Christian Hughes"
        assert rec["mail_from"] == "appointments@example.org"
        assert m["Auto-Submitted"] == "auto-generated"
        assert m["Date"] is not None
        assert email.utils.parsedate_to_datetime(str(m["Date"])) is not None
        assert m["MIME-Version"] == "1.0"
        # the partner's address never shows in this one's message
        other = "alex@example.org" if addr.startswith("sam") else "sam@example.org"
        assert other.encode() not in rec["data"]

        body = text_body(m)
        assert first in body
        assert "Thursday 3 December 2026" in whole_text(m)
        assert "14:00" in whole_text(m)

        [row] = ready.messages("client_id = ? AND purpose = 'reminder'", who)
        assert row["status"] == "sent"
        assert row["attempts"] == 1
        assert row["channel"] == "email"
        assert row["recipient"] == addr
        assert row["appointment_id"] == appt
        assert row["last_error"] is None
        assert as_utc(row["sent_at"]) is not None
        assert as_utc(row["due_at"]) == as_utc(DUE_48H)
        mid = m["Message-ID"].strip()
        assert mid.startswith("<") and mid.endswith(">")
        assert row["provider_ref"] == mid[1:-1]
        msgids.add(mid)
    assert len(msgids) == 2

    # A second pass, and a later one, send nothing more.
    for now in (DUE_48H, shift(DUE_48H, minutes=30)):
        r = ready.once(now)
        assert r.returncode == 0, r.stderr
        assert len(smtp.messages) == 2
    assert [r["status"] for r in ready.messages("purpose = 'reminder'"
                                               " AND status = 'sent'")] == ["sent"] * 2


def test_summer_time_shown_in_bst(ready, smtp):
    sam, alex, case, appt = ready.couple("2026-07-02T13:00:00Z")
    r = ready.once("2026-06-30T13:00:00Z")
    assert r.returncode == 0, r.stderr
    [m] = mails_to(smtp, "sam@example.org")
    text = whole_text(m)
    assert "Thursday 2 July 2026" in text
    assert "14:00" in text
    assert "13:00" not in text


def test_48h_reminder_due_exactly(ready, smtp):
    ready.couple(T)
    r = ready.once(shift(DUE_48H, seconds=-1))
    assert r.returncode == 0, r.stderr
    assert smtp.messages == []
    assert all(row["status"] == "pending" for row in ready.messages())
    r = ready.once(DUE_48H)
    assert r.returncode == 0, r.stderr
    assert len(client_mails(smtp)) == 2


def test_calendar_attachment(ready, smtp):
    ready.couple(T)
    assert ready.once(DUE_48H).returncode == 0
    [m] = mails_to(smtp, "sam@example.org")
    cal = [p for p in m.walk() if p.get_content_type() == "text/calendar"]
    assert len(cal) == 1
    ics = cal[0].get_content()
    if isinstance(ics, bytes):
        ics = ics.decode()
    assert "BEGIN:VCALENDAR" in ics and "BEGIN:VEVENT" in ics
    unfolded = ics.replace("\r\n ", "").replace("\n ", "")
    assert ("DTSTART:20261203T140000Z" in unfolded
            or re.search(r"DTSTART;TZID=Europe/London:20261203T140000", unfolded)), ics


def test_no_calendar_when_off(practice, smtp):
    practice.write_conf(email={"calendar": False})
    practice.init()
    practice.couple(T)
    assert practice.once(DUE_48H).returncode == 0
    [m] = mails_to(smtp, "sam@example.org")
    assert not [p for p in m.walk() if p.get_content_type() == "text/calendar"]
    assert not [p for p in m.walk() if p.get_content_type() == "text/html"]
    assert "3 December 2026" in text_body(m)


@pytest.mark.parametrize("kind,duration,words", [
    ("assessment", 90, "90 minutes"),
    ("assessment", 75, "75 minutes"),
    ("call", 15, "15 minutes"),
    ("call", 20, "20 minutes"),      # the wording follows the booking
    ("session", 50, "50 minutes"),
])
def test_kind_wording_has_duration(ready, smtp, kind, duration, words):
    ready.couple(T, kind=kind, duration=duration)
    assert ready.once(DUE_48H).returncode == 0
    for addr in ("sam@example.org", "alex@example.org"):
        [m] = mails_to(smtp, addr)
        assert words in whole_text(m)
        assert "Thursday 3 December 2026" in whole_text(m)


def test_online_session_has_video_link(ready, smtp):
    ready.couple(T, mode="online")
    assert ready.once(DUE_48H).returncode == 0
    [m] = mails_to(smtp, "sam@example.org")
    assert "https://meet.example.org/hughes" in text_body(m)


def test_online_session_own_video_link(ready, smtp):
    ready.couple(T, mode="online", video_url="https://meet.example.org/room-7")
    assert ready.once(DUE_48H).returncode == 0
    [m] = mails_to(smtp, "sam@example.org")
    assert "https://meet.example.org/room-7" in text_body(m)


def test_in_person_session_has_no_video_link(ready, smtp):
    ready.couple(T)
    assert ready.once(DUE_48H).returncode == 0
    [m] = mails_to(smtp, "sam@example.org")
    assert "meet.example.org" not in text_body(m)


def test_practitioner_template_used(practice, smtp):
    practice.write_conf(extra="""templates = {
  reminder = {
    email_subject = "See you {{date}} at {{time}}, {{first_name}}";
    email_text = "Dear {{name}},\\nsee you at {{location}} for {{duration}}.\\n";
  };
};
""")
    practice.init()
    practice.couple(T, duration=50)
    assert practice.once(DUE_48H).returncode == 0
    [m] = mails_to(smtp, "alex@example.org")
    assert m["Subject"] == "See you Thursday 3 December 2026 at 14:00, Alex"
    body = text_body(m)
    assert "Dear Alex Morgan," in body
    assert "see you at 1 High Street, Stourbridge DY8 1AA for 50 minutes." in body


CLINICAL = ("therapy", "therapist", "counselling", "psychotherapy")


def test_discreet_client(ready, smtp):
    sam = ready.add_client("Sam Taylor", email="sam@example.org", discreet=1)
    alex = ready.add_client("Alex Morgan", email="alex@example.org")
    case = ready.add_case("Sam & Alex", [sam, alex])
    ready.book(case, T, kind="assessment", duration=90)
    r = ready.once(DUE_48H)
    assert r.returncode == 0, r.stderr
    [m] = mails_to(smtp, "sam@example.org")
    subject = str(m["Subject"])
    low = subject.lower()
    assert "hughes" not in low, subject
    assert "relationship" not in low, subject
    for w in CLINICAL:
        assert w not in low, subject
    assert "Thursday 3 December 2026" in subject or "3 December" in subject, subject
    assert "14:00" in subject, subject
    body = text_body(m)
    assert "Thursday 3 December 2026" in body and "14:00" in body
    # the partner is not discreet and still gets a reminder
    assert len(mails_to(smtp, "alex@example.org")) == 1


def test_non_ascii_name_encoded(ready, smtp):
    zoe = ready.add_client("Zoë Ødegård", email="zoe@example.org")
    case = ready.add_case("Zoë", [zoe])
    ready.book(case, T)
    assert ready.once(DUE_48H).returncode == 0
    [rec] = [m for m in smtp.messages if m["rcpt_tos"] == ["zoe@example.org"]]
    head = header_block(rec["data"])
    head.decode("ascii")            # every header octet is ASCII
    assert b"=?" in head
    assert not any(len(l) > 998 for l in head.split(b"\r\n"))
    m = rec["message"]
    assert m["To"].addresses[0].display_name == "Zoë Ødegård"
    assert m["To"].addresses[0].addr_spec == "zoe@example.org"
    assert "Zoë" in text_body(m)


def test_crlf_in_name_never_reaches_headers(ready, smtp):
    sam = ready.add_client("Sam\r\nBcc: evil@example.org", email="sam@example.org")
    alex = ready.add_client("Alex Morgan", email="alex@example.org")
    case = ready.add_case("Sam & Alex", [sam, alex])
    ready.book(case, T)
    r = ready.once(DUE_48H)
    assert r.returncode == 0, r.stderr
    for rec in smtp.messages:
        assert len(rec["rcpt_tos"]) == 1, rec["rcpt_tos"]
        assert "evil@example.org" not in [a.lower() for a in rec["rcpt_tos"]]
        head = header_block(rec["data"])
        assert not re.search(rb"(?im)^bcc:", head), head
        assert b"\r\nBcc" not in head and b"\nBcc" not in head
        m = rec["message"]
        assert m["Bcc"] is None
        for h in ("To", "Cc", "Reply-To", "From", "Sender"):
            if m[h] is not None:
                addrs = [a.addr_spec.lower() for a in m[h].addresses]
                assert "evil@example.org" not in addrs, (h, addrs)
        assert len(m["To"].addresses) == 1
    to_sam = mails_to(smtp, "sam@example.org")
    assert len(to_sam) <= 1
    [row] = ready.messages("client_id = ? AND purpose = 'reminder'", sam)
    if to_sam:                      # sanitised rather than refused
        assert row["status"] == "sent"
        name = to_sam[0]["To"].addresses[0].display_name
        assert "\r" not in name and "\n" not in name
    else:
        assert row["status"] == "failed"
        assert row["last_error"]
    # the partner is unaffected
    assert len(mails_to(smtp, "alex@example.org")) == 1


def test_crlf_in_address_never_reaches_envelope(ready, smtp):
    sam = ready.add_client("Sam Taylor",
                           email="sam@example.org\r\nRCPT TO:<evil@example.org>")
    alex = ready.add_client("Alex Morgan", email="alex@example.org")
    case = ready.add_case("Sam & Alex", [sam, alex])
    ready.book(case, T)
    r = ready.once(DUE_48H)
    assert r.returncode == 0, r.stderr
    for rec in smtp.messages:
        assert len(rec["rcpt_tos"]) == 1, rec["rcpt_tos"]
        assert "evil@example.org" not in [a.lower() for a in rec["rcpt_tos"]]
    assert mails_to(smtp, "sam@example.org") == []
    for row in ready.messages("client_id = ?", sam):
        assert row["status"] in ("failed", "skipped"), row
    assert len(mails_to(smtp, "alex@example.org")) == 1


def test_dry_run_changes_nothing(ready, smtp):
    ready.couple(T)
    before = ready.messages()
    r = ready.run("--dry-run", "--now", DUE_48H)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert re.search(r"s\*+@example\.org", out), out
    assert re.search(r"a\*+@example\.org", out), out
    assert "sam@example.org" not in out and "alex@example.org" not in out
    assert "email" in out
    assert "3 December 2026" in out
    assert ready.messages() == before
    assert smtp.connections == 0 and smtp.messages == []


def test_dry_run_after_planning_changes_nothing(ready, smtp):
    ready.couple(T)
    assert ready.once(shift(DUE_48H, hours=-5)).returncode == 0
    before = ready.messages()
    assert before and all(r["status"] == "pending" for r in before)
    r = ready.run("--dry-run", "--now", shift(DUE_48H, minutes=1))
    assert r.returncode == 0, r.stderr
    assert "3 December 2026" in r.stdout
    assert ready.messages() == before
    assert smtp.connections == 0
    # and the real pass afterwards still sends them
    assert ready.once(shift(DUE_48H, minutes=1)).returncode == 0
    assert len(client_mails(smtp)) == 2


def test_logs_keep_addresses_and_text_private(ready, smtp):
    sam = ready.add_client("Sam Taylor", email="sam@example.org")
    alex = ready.add_client("Alex Morgan", email="alex@example.org")
    case = ready.add_case("Sam & Alex", [sam, alex])
    ready.book(case, T)
    smtp.script("alex@example.org", ["550 5.1.1 <alex@example.org>: no such user"])
    r = ready.run("-v", "--once", "--now", DUE_48H)
    assert r.returncode == 0, r.stderr
    log = r.stdout + r.stderr
    assert log.strip(), "nothing logged with -v"
    for secret in ("sam@example.org", "alex@example.org", "Thursday 3 December 2026"):
        assert secret not in log, secret
    [m] = mails_to(smtp, "sam@example.org")
    assert str(m["Subject"]) not in log
    for line in text_body(m).splitlines():
        if len(line.strip()) >= 20:
            assert line.strip() not in log, line
    [row] = ready.messages("client_id = ? AND purpose = 'reminder'", alex)
    assert row["status"] == "failed" and "550" in row["last_error"]


def test_dry_run_does_not_log_addresses(ready, smtp):
    ready.couple(T)
    r = ready.run("-v", "--dry-run", "--now", DUE_48H)
    assert r.returncode == 0
    assert "sam@example.org" not in r.stderr
    assert "alex@example.org" not in r.stderr
