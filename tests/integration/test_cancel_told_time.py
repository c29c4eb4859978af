"""A cancellation notice names the time the client was told (issue: wrong
time in a cancellation notice after an unannounced move).

Reminded of t1, the appointment moved to t2 without a move notice going
(notify_move off, or the notice still held by quiet hours), then
cancelled: the notice names t1, the only time the client knows.  Once a
move notice for t2 went, it names t2."""

import email

from conftest import mails_to, rules, shift, text_body

T1 = "2026-12-03T14:00:00Z"         # Thursday 3 December 14:00 GMT
T2 = "2026-12-04T15:00:00Z"         # Friday 4 December 15:00 GMT
DUE_48H = shift(T1, hours=-48)      # Tuesday 1 December 14:00
SAM = "sam@example.org"


def cancellation(smtp):
    [m] = [m for m in mails_to(smtp, SAM)
           if m["Subject"].startswith("Cancelled")]
    return m


def calendar_part(m):
    for part in m.walk():
        if part.get_content_type() == "text/calendar":
            return part.get_payload(decode=True).decode()
    return ""


def remind_move_cancel(practice, smtp, move_at, cancel_at, send_at):
    sam, alex, case, appt = practice.couple(T1)
    assert practice.once(DUE_48H).returncode == 0
    assert len(mails_to(smtp, SAM)) == 1                     # told T1
    practice.set("UPDATE appointments SET starts_at = ? WHERE id = ?", T2, appt)
    assert practice.once(move_at).returncode == 0
    practice.set("UPDATE appointments SET status = 'cancelled' WHERE id = ?",
                 appt)
    assert practice.once(cancel_at).returncode == 0
    if send_at:
        assert practice.once(send_at).returncode == 0
    return sam, appt


def test_unannounced_move_names_the_time_told(practice, smtp):
    practice.write_conf(reminders=rules("48h"), notify_move=False)
    practice.init()
    remind_move_cancel(practice, smtp, shift(DUE_48H, hours=1),
                       shift(DUE_48H, hours=2), None)
    m = cancellation(smtp)
    text = m["Subject"] + "\n" + text_body(m)
    assert "Thursday 3 December 2026" in text and "14:00" in text, text
    assert "Friday 4 December" not in text and "15:00" not in text, text
    # the calendar entry it cancels is the one the reminder sent (T1)
    ics = calendar_part(m)
    assert "DTSTART" in ics and "20261203T140000Z" in ics, ics


def test_move_notice_held_by_quiet_hours_names_the_time_told(practice, smtp):
    practice.write_conf(reminders=rules("48h"),
                        quiet_hours={"from": "21:00", "to": "08:00",
                                     "channels": ["email"]})
    practice.init()
    # moved at 22:00 (the notice waits for 08:00), cancelled at 23:00
    sam, appt = remind_move_cancel(practice, smtp, "2026-12-01T22:00:00Z",
                                   "2026-12-01T23:00:00Z",
                                   "2026-12-02T08:00:00Z")
    [moved] = practice.messages("purpose = 'moved' AND client_id = ?", sam)
    assert moved["status"] == "cancelled"
    text = text_body(cancellation(smtp))
    # sent at 08:00 on the 2nd: "tomorrow", as the reminder would say
    assert "tomorrow, Thursday 3 December 2026, at 14:00" in text, text


def test_announced_move_names_the_new_time(practice, smtp):
    practice.write_conf(reminders=rules("48h"))
    practice.init()
    remind_move_cancel(practice, smtp, shift(DUE_48H, hours=1),
                       shift(DUE_48H, hours=2), None)
    assert len([m for m in mails_to(smtp, SAM)
                if m["Subject"].startswith("Changed")]) == 1
    text = text_body(cancellation(smtp))
    assert "Friday 4 December 2026 at 15:00" in text, text


def test_told_time_past_names_the_current_time(practice, smtp):
    """Told of t1, moved to a later t2 with no notice, cancelled after t1
    has passed: the notice names t2, the appointment that is cancelled,
    not a time already gone (a cancellation of a past time reads as a
    mistake); its calendar entry is the current one."""
    t2 = "2026-12-07T10:00:00Z"     # Monday 7 December 10:00 GMT
    practice.write_conf(reminders=rules("48h"), notify_move=False)
    practice.init()
    sam, alex, case, appt = practice.couple(T1)
    assert practice.once(DUE_48H).returncode == 0
    assert len(mails_to(smtp, SAM)) == 1                     # told T1
    practice.set("UPDATE appointments SET starts_at = ? WHERE id = ?", t2, appt)
    assert practice.once(shift(DUE_48H, hours=1)).returncode == 0
    practice.set("UPDATE appointments SET status = 'cancelled' WHERE id = ?",
                 appt)
    assert practice.once(shift(T1, hours=1)).returncode == 0  # t1 has passed
    m = cancellation(smtp)
    text = m["Subject"] + "\n" + text_body(m)
    assert "Monday 7 December 2026" in text and "10:00" in text, text
    assert "Thursday 3 December" not in text and "14:00" not in text, text
    assert "20261207T100000Z" in calendar_part(m)
