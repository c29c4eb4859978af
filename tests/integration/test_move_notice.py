"""A move that brings a reminder due at the moment its change notice would
go: only one of the two goes (plan_notice.c).  By email the notice (the
old time and the new one) and the reminder is skipped; by SMS the
reminder, whose text is the shorter and which falls back to email.  The
scenarios two reviews found for that rule: the news is never lost, and
"the same moment" holds with quiet hours and after a move back."""

from conftest import client_mails, mails_to, rules, shift, text_body
from test_sms import configure, once, solo, twilio  # noqa: F401

T = "2026-12-03T14:00:00Z"          # Thursday 14:00 GMT
SAM = "sam@example.org"
SMS_48_3 = [{"before": "48h", "channel": "sms"}, {"before": "3h", "channel": "sms"}]
SKIPPED_WHY = "the change notice that goes now gives the new details"


def rows(practice):
    return [(m["purpose"], m["channel"], m["status"]) for m in practice.messages()]


def test_sms_reminder_goes_not_the_notice_and_falls_back(practice, smtp, twilio):  # noqa: F811
    """Told Thursday 14:00 by SMS; moved to Tuesday 20:00, which brings the
    48h reminder due at once.  By SMS the reminder goes, not a notice (its
    text is the shorter, and it has a fallback): the provider refuses the
    number for good (21610, unsubscribed), and the reminder goes by email
    with the new time."""
    configure(practice, twilio, reminders=SMS_48_3, quiet_hours={"channels": []})
    sam, appt = solo(practice)
    once(practice, shift(T, hours=-48))
    assert len(twilio.messages) == 1
    now = shift(T, hours=-47)                  # Tuesday 15:00
    T3 = shift(now, hours=5)                   # Tuesday 20:00
    practice.set("UPDATE appointments SET starts_at = ? WHERE id = ?", T3, appt)
    twilio.script([("400", 21610)])
    once(practice, now)
    assert not practice.messages("purpose = 'moved'"), rows(practice)
    [sms] = practice.messages("channel = 'sms' AND purpose = 'reminder' AND"
                              " appt_start = ? AND status = 'failed'", T3)
    assert "sent by email instead" in sms["last_error"], sms
    [mail] = mails_to(smtp, SAM)
    text = mail["Subject"] + text_body(mail)
    assert "Tuesday 1 December 2026" in text and "20:00" in text, text
    for h in (-3, -2):
        once(practice, shift(T3, hours=h))
    assert len(mails_to(smtp, SAM)) == 1
    assert len(twilio.messages) == 1           # the 48h reminder (21610: not kept)


def test_quiet_hours_sms_reminder_not_a_notice_too(practice, smtp, twilio):  # noqa: F811
    """SMS, quiet 21:00-08:00.  Told Thursday 14:00; at 22:00 on Tuesday
    moved to Wednesday 10:00: a notice would wait for 08:00, and so do the
    new time's reminders (the 48h one overdue, the 3h one at 07:00, inside
    quiet hours).  At 08:00 the reminders go with the new time, and no
    notice beside them, nor in a pass meanwhile; and of the two held to
    08:00 only the closer one (test_planner_rules.py
    test_quiet_hours_late_booking_only_the_closest_goes)."""
    configure(practice, twilio, reminders=SMS_48_3,
              quiet_hours={"from": "21:00", "to": "08:00", "channels": ["sms"]})
    sam, appt = solo(practice)
    once(practice, shift(T, hours=-48))
    assert len(twilio.messages) == 1
    T2 = "2026-12-02T10:00:00Z"
    practice.set("UPDATE appointments SET starts_at = ? WHERE id = ?", T2, appt)
    once(practice, "2026-12-01T22:00:00Z")
    once(practice, "2026-12-01T23:00:00Z")
    assert len(twilio.messages) == 1
    once(practice, "2026-12-02T08:00:00Z")
    bodies = [m["Body"] for m in twilio.messages[1:]]
    assert len(bodies) == 1 and all("Wednesday 2 December 2026" in b and
                                    "has moved" not in b for b in bodies), bodies
    assert not practice.messages("purpose = 'moved'"), rows(practice)
    n = len(twilio.messages)
    once(practice, "2026-12-02T09:00:00Z")
    assert len(twilio.messages) == n


def test_moved_back_revived_reminder_not_sent_with_the_notice(practice, smtp):
    """Email, 48h and 3h.  Told Thursday 14:00; moved to Friday (notice
    sent); moved back to Thursday at 11:30, when Thursday's 3h reminder,
    cancelled by the first move, comes back due: the 'moved back' notice
    goes, and the revived reminder is skipped for it."""
    practice.write_conf(reminders=rules("48h", "3h"))
    practice.init()
    sam = practice.add_client("Sam Taylor", email=SAM)
    case = practice.add_case("Sam", [sam])
    appt = practice.book(case, T)
    assert practice.once(shift(T, hours=-48)).returncode == 0
    practice.set("UPDATE appointments SET starts_at = ? WHERE id = ?",
                 shift(T, days=1), appt)
    assert practice.once(shift(T, hours=-4)).returncode == 0
    assert len(client_mails(smtp)) == 2        # the reminder, the notice (Friday)
    practice.set("UPDATE appointments SET starts_at = ? WHERE id = ?", T, appt)
    assert practice.once(shift(T, hours=-2, minutes=-30)).returncode == 0
    new = [m["message"] for m in client_mails(smtp)[2:]]
    assert len(new) == 1, [m["Subject"] for m in new]
    assert "Thursday 3 December 2026" in new[0]["Subject"] + text_body(new[0])
    assert "has moved" in text_body(new[0])
    assert practice.messages("purpose = 'reminder' AND status = 'skipped' AND"
                             " last_error = ?", SKIPPED_WHY), rows(practice)
    assert practice.once(shift(T, hours=-1)).returncode == 0
    assert len(client_mails(smtp)) == 3
