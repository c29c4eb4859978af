"""The contract's planning rules, observed from outside: consent, late
bookings and downtime, cancel and move, re-checks at send time, time zones,
and rows nudged cannot read."""

import pytest

from conftest import (PRACTICE_EMAIL, as_utc, client_mails, mails_to, rules,
                      shift, text_body)

T = "2026-12-03T14:00:00Z"          # Thursday 14:00 GMT
DUE_48H = shift(T, hours=-48)
SAM, ALEX = "sam@example.org", "alex@example.org"


def assert_nothing_sent_to(practice, smtp, client_id, addr):
    assert mails_to(smtp, addr) == []
    for row in practice.messages("client_id = ? AND purpose != 'alert'", client_id):
        assert row["status"] in ("skipped", "cancelled"), row
        assert row["last_error"], row


def statuses(practice, client_id, purpose="reminder"):
    return [r["status"] for r in practice.query(
        "SELECT status FROM messages WHERE client_id = ? AND purpose = ?"
        " ORDER BY due_at, id", client_id, purpose)]


@pytest.fixture
def late_rules(practice, smtp):
    """Three email rules (48h, 24h, 3h), late_limit 1h, one client."""
    practice.write_conf(reminders=rules("48h", "24h", "3h"), late_limit="1h")
    practice.init()
    jordan = practice.add_client("Jordan Lee", email="jordan@example.org")
    case = practice.add_case("Jordan", [jordan])
    return practice, jordan, case


# ---------------------------------------------------------------- consent

def test_no_email_consent(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    ready.set("UPDATE clients SET email_consent = 0 WHERE id = ?", sam)
    r = ready.once(DUE_48H)
    assert r.returncode == 0, r.stderr
    assert_nothing_sent_to(ready, smtp, sam, SAM)
    assert len(mails_to(smtp, ALEX)) == 1


def test_opted_out(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    ready.set("UPDATE clients SET opted_out_at = '2026-11-01T10:00:00Z' WHERE id = ?",
              alex)
    r = ready.once(DUE_48H)
    assert r.returncode == 0, r.stderr
    assert_nothing_sent_to(ready, smtp, alex, ALEX)
    assert len(mails_to(smtp, SAM)) == 1


def test_closed_case(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    ready.set("UPDATE cases SET closed_at = '2026-11-20T10:00:00Z' WHERE id = ?", case)
    r = ready.once(DUE_48H)
    assert r.returncode == 0, r.stderr
    assert client_mails(smtp) == []
    assert_nothing_sent_to(ready, smtp, sam, SAM)
    assert_nothing_sent_to(ready, smtp, alex, ALEX)


@pytest.mark.parametrize("missing", [None, ""])
def test_partner_without_email(ready, smtp, missing):
    sam = ready.add_client("Sam Taylor", email=missing, phone="07700 900123")
    alex = ready.add_client("Alex Morgan", email=ALEX)
    case = ready.add_case("Sam & Alex", [sam, alex])
    ready.book(case, T)
    r = ready.once(DUE_48H)
    assert r.returncode == 0, r.stderr
    assert len(mails_to(smtp, ALEX)) == 1
    assert len(client_mails(smtp)) == 1
    for row in ready.messages("client_id = ?", sam):
        assert row["status"] in ("skipped", "failed", "cancelled"), row


def test_cancelled_appointment_never_reminded(ready, smtp):
    ready.couple(T, status="cancelled")
    r = ready.once(DUE_48H)
    assert r.returncode == 0, r.stderr
    assert client_mails(smtp) == []
    assert not ready.messages("status IN ('sent', 'pending')")


# ---------------------------------------------------------------- invariants

def test_planning_again_adds_nothing(ready, smtp):
    ready.couple(T)
    assert ready.once(shift(T, days=-6)).returncode == 0
    first = ready.messages()
    assert first, "nothing planned 6 days ahead"
    for h in (1, 2, 3):
        assert ready.once(shift(T, days=-6, hours=h)).returncode == 0
    assert ready.messages() == first
    keys = [(r["appointment_id"], r["client_id"], r["channel"], r["due_at"])
            for r in first]
    assert len(keys) == len(set(keys))
    assert smtp.messages == []


def test_sms_rule_on_disabled_channel_plans_nothing(ready, smtp):
    # The default rules are 48h email and 3h SMS; SMS is off here.
    ready.couple(T)
    assert ready.once(shift(T, hours=-2)).returncode == 0
    assert not ready.messages("channel = 'sms'")


# ---------------------------------------------------------------- late booking

def test_late_booking_sends_only_closest_overdue(late_rules, smtp):
    p, jordan, case = late_rules
    p.book(case, T)
    r = p.once(shift(T, hours=-10))
    assert r.returncode == 0, r.stderr
    assert len(mails_to(smtp, "jordan@example.org")) == 1
    rows = p.messages("client_id = ? AND purpose = 'reminder'", jordan)
    sent = [x for x in rows if x["status"] == "sent"]
    skipped = [x for x in rows if x["status"] == "skipped"]
    pending = [x for x in rows if x["status"] == "pending"]
    assert len(sent) == 1 and len(skipped) == 1 and len(pending) == 1, rows
    assert skipped[0]["last_error"]
    assert as_utc(skipped[0]["due_at"]) < as_utc(sent[0]["due_at"])
    assert as_utc(pending[0]["due_at"]) == as_utc(shift(T, hours=-3))

    # the 3h one goes when it is due, and nothing else
    r = p.once(shift(T, hours=-4))
    assert r.returncode == 0 and len(smtp.messages) == 1
    r = p.once(shift(T, hours=-3))
    assert r.returncode == 0, r.stderr
    assert len(mails_to(smtp, "jordan@example.org")) == 2
    assert sorted(statuses(p, jordan)) == ["sent", "sent", "skipped"]


def test_downtime_sends_only_closest_overdue(late_rules, smtp):
    p, jordan, case = late_rules
    p.book(case, T)
    assert p.once(shift(T, hours=-72)).returncode == 0
    assert len(p.messages()) == 3
    # nudged was down from 72h before until 20h before
    r = p.once(shift(T, hours=-20))
    assert r.returncode == 0, r.stderr
    assert len(mails_to(smtp, "jordan@example.org")) == 1
    assert statuses(p, jordan) == ["skipped", "sent", "pending"]


def test_booked_inside_late_limit_sends_nothing(late_rules, smtp):
    p, jordan, case = late_rules
    p.book(case, T)
    r = p.once(shift(T, minutes=-30))
    assert r.returncode == 0, r.stderr
    assert client_mails(smtp) == []
    for row in p.messages("client_id = ?", jordan):
        assert row["status"] == "skipped", row


def test_late_limit_boundary(late_rules, smtp):
    p, jordan, case = late_rules
    p.book(case, T)
    other = p.add_client("Robin Shaw", email="robin@example.org")
    case2 = p.add_case("Robin", [other])
    T2 = shift(T, minutes=-1)
    p.book(case2, T2)
    # exactly late_limit before T (goes), 59 minutes before T2 (does not)
    r = p.once(shift(T, hours=-1))
    assert r.returncode == 0, r.stderr
    assert len(mails_to(smtp, "jordan@example.org")) == 1
    assert mails_to(smtp, "robin@example.org") == []


def test_nothing_after_the_appointment_started(late_rules, smtp):
    p, jordan, case = late_rules
    p.book(case, T)
    for now in (T, shift(T, minutes=5), shift(T, hours=2)):
        r = p.once(now)
        assert r.returncode == 0, r.stderr
    assert client_mails(smtp) == []
    assert not p.messages("status IN ('sent', 'pending')")


# ---------------------------------------------------------------- cancel and move

@pytest.fixture
def two_rules(practice, smtp):
    def setup(**kw):
        practice.write_conf(reminders=rules("48h", "3h"), **kw)
        practice.init()
        return practice
    return setup


def test_cancel_after_reminder_sends_notice(two_rules, smtp):
    p = two_rules()
    sam, alex, case, appt = p.couple(T)
    assert p.once(DUE_48H).returncode == 0
    assert len(client_mails(smtp)) == 2
    p.set("UPDATE appointments SET status = 'cancelled' WHERE id = ?", appt)
    r = p.once(shift(DUE_48H, hours=1))
    assert r.returncode == 0, r.stderr
    assert len(client_mails(smtp)) == 4
    for who, addr in ((sam, SAM), (alex, ALEX)):
        assert len(mails_to(smtp, addr)) == 2
        notice = mails_to(smtp, addr)[1]
        assert "3 December 2026" in notice["Subject"] + text_body(notice)
        [row] = p.messages("client_id = ? AND purpose = 'cancellation'", who)
        assert row["status"] == "sent" and row["channel"] == "email"
        assert row["appointment_id"] == appt
        rem = p.messages("client_id = ? AND purpose = 'reminder'", who)
        assert sorted(x["status"] for x in rem) == ["cancelled", "sent"]
    # nothing more, ever
    for h in (2, 45, 47):
        assert p.once(shift(DUE_48H, hours=h)).returncode == 0
    assert len(client_mails(smtp)) == 4


def test_cancel_without_notify(two_rules, smtp):
    p = two_rules(notify_cancellation=False)
    sam, alex, case, appt = p.couple(T)
    assert p.once(DUE_48H).returncode == 0
    p.set("UPDATE appointments SET status = 'cancelled' WHERE id = ?", appt)
    for h in (1, 45):
        assert p.once(shift(DUE_48H, hours=h)).returncode == 0
    assert len(client_mails(smtp)) == 2
    assert not p.messages("purpose = 'cancellation' AND status = 'sent'")
    assert sorted(x["status"] for x in p.messages("purpose = 'reminder'")) == \
        ["cancelled", "cancelled", "sent", "sent"]


def test_cancel_before_any_reminder_sends_no_notice(two_rules, smtp):
    p = two_rules()
    sam, alex, case, appt = p.couple(T)
    assert p.once(shift(T, hours=-72)).returncode == 0
    p.set("UPDATE appointments SET status = 'cancelled' WHERE id = ?", appt)
    for h in (48, 45, 3):
        assert p.once(shift(T, hours=-h)).returncode == 0
    assert client_mails(smtp) == []
    assert not p.messages("purpose = 'cancellation' AND status = 'sent'")
    assert {x["status"] for x in p.messages()} <= {"cancelled"}


def test_notice_only_to_who_got_a_reminder(two_rules, smtp):
    p = two_rules()
    sam, alex, case, appt = p.couple(T)
    p.set("UPDATE clients SET email_consent = 0 WHERE id = ?", alex)
    assert p.once(DUE_48H).returncode == 0
    p.set("UPDATE appointments SET status = 'cancelled' WHERE id = ?", appt)
    assert p.once(shift(DUE_48H, hours=1)).returncode == 0
    assert len(mails_to(smtp, SAM)) == 2
    assert mails_to(smtp, ALEX) == []


def test_move_gets_fresh_reminders_and_no_notice(two_rules, smtp):
    p = two_rules()
    sam, alex, case, appt = p.couple(T)
    assert p.once(DUE_48H).returncode == 0
    T2 = shift(T, days=3)                       # Sunday 6 December
    p.set("UPDATE appointments SET starts_at = ? WHERE id = ?", T2, appt)
    r = p.once(shift(DUE_48H, hours=1))
    assert r.returncode == 0, r.stderr
    # no cancellation notice; each partner, already reminded, gets one
    # 'moved' notice (notify_move, on by default since issue 9)
    assert len(client_mails(smtp)) == 4
    assert len(p.messages("purpose = 'moved' AND status = 'sent'")) == 2
    assert not p.messages("purpose = 'cancellation'")
    # the old 3h reminders are cancelled
    for row in p.messages("purpose = 'reminder'"):
        if as_utc(row["due_at"]) == as_utc(shift(T, hours=-3)):
            assert row["status"] == "cancelled", row
    assert not p.messages("purpose = 'reminder' AND status = 'pending' AND due_at = ?",
                          shift(T, hours=-3))
    # the old 3h time passes quietly
    assert p.once(shift(T, hours=-3)).returncode == 0
    assert len(client_mails(smtp)) == 4
    # the new 48h reminders go for the new date
    r = p.once(shift(T2, hours=-48))
    assert r.returncode == 0, r.stderr
    assert len(client_mails(smtp)) == 6
    for addr in (SAM, ALEX):
        new = mails_to(smtp, addr)[-1]
        assert "Sunday 6 December 2026" in new["Subject"] + text_body(new)
    assert p.once(shift(T2, hours=-3)).returncode == 0
    assert len(client_mails(smtp)) == 8
    assert not p.messages("purpose = 'cancellation'")


def test_move_closer_sends_closest_at_once(two_rules, smtp):
    p = two_rules()
    sam, alex, case, appt = p.couple(T)
    assert p.once(DUE_48H).returncode == 0
    now = shift(DUE_48H, hours=1)
    T3 = shift(now, hours=5)                    # Tuesday 1 December, 20:00 GMT
    p.set("UPDATE appointments SET starts_at = ? WHERE id = ?", T3, appt)
    r = p.once(now)
    assert r.returncode == 0, r.stderr
    assert len(client_mails(smtp)) == 4
    # each partner, told Thursday 14:00, is told it moved (not only
    # reminded of a time they may not notice is new); the 48h reminder
    # the move brought due at once is skipped for the notice
    for addr in (SAM, ALEX):
        new = mails_to(smtp, addr)[-1]
        text = new["Subject"] + text_body(new)
        assert "Tuesday 1 December 2026" in text and "20:00" in text
        assert "Thursday 3 December 2026 at 14:00 has moved" in text, text
    assert len(p.messages("purpose = 'moved' AND status = 'sent'")) == 2
    told = p.messages("purpose = 'reminder' AND appt_start = ? AND status = 'skipped'",
                      T3)
    assert len(told) == 2, p.messages()
    assert {r["last_error"] for r in told} == {
        "the change notice that goes now gives the new details"}
    assert not p.messages("purpose = 'cancellation'")
    # the 3h reminder for the new time still goes, once
    assert p.once(shift(T3, hours=-3)).returncode == 0
    assert len(client_mails(smtp)) == 6
    for addr in (SAM, ALEX):
        assert "has moved" not in text_body(mails_to(smtp, addr)[-1])
    assert p.once(shift(T3, hours=-2)).returncode == 0
    assert len(client_mails(smtp)) == 6


# ---------------------------------------------------------------- re-checked at send time

def plan_then(practice, change, *params):
    """Plan a pass before the 48h reminders are due, change data, then send."""
    assert practice.once(shift(DUE_48H, hours=-1)).returncode == 0
    assert practice.messages() and \
        all(r["status"] == "pending" for r in practice.messages())
    practice.set(change, *params)
    r = practice.once(DUE_48H)
    assert r.returncode == 0, r.stderr


def test_changed_address_is_used(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    plan_then(ready, "UPDATE clients SET email = 'sam.new@example.org' WHERE id = ?", sam)
    assert mails_to(smtp, SAM) == []
    [m] = mails_to(smtp, "sam.new@example.org")
    assert m["To"].addresses[0].addr_spec == "sam.new@example.org"
    assert len(mails_to(smtp, ALEX)) == 1


def test_changed_name_is_used(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    plan_then(ready, "UPDATE clients SET name = 'Samantha Taylor', first_name = "
              "'Samantha' WHERE id = ?", sam)
    [m] = mails_to(smtp, SAM)
    assert m["To"].addresses[0].display_name == "Samantha Taylor"
    assert "Samantha" in text_body(m)


@pytest.mark.parametrize("change", [
    "UPDATE clients SET opted_out_at = '2026-11-30T10:00:00Z' WHERE id = ?",
    "UPDATE clients SET email_consent = 0 WHERE id = ?",
])
def test_withdrawn_between_plan_and_send(ready, smtp, change):
    sam, alex, case, appt = ready.couple(T)
    plan_then(ready, change, sam)
    assert_nothing_sent_to(ready, smtp, sam, SAM)
    assert len(mails_to(smtp, ALEX)) == 1


def test_case_closed_between_plan_and_send(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    plan_then(ready, "UPDATE cases SET closed_at = '2026-11-30T10:00:00Z' WHERE id = ?",
              case)
    assert client_mails(smtp) == []
    assert {r["status"] for r in ready.messages()} <= {"cancelled", "skipped"}


def test_cancelled_between_plan_and_send(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    plan_then(ready, "UPDATE appointments SET status = 'cancelled' WHERE id = ?", appt)
    assert client_mails(smtp) == []
    assert {r["status"] for r in ready.messages("purpose = 'reminder'")} == {"cancelled"}


def test_appointment_deleted_between_plan_and_send(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    plan_then(ready, "DELETE FROM appointments WHERE id = ?", appt)
    assert client_mails(smtp) == []
    assert not ready.messages("status IN ('sent', 'pending')")


# ---------------------------------------------------------------- time

# One of each family end to end (an offset; a bare time, which is the
# practice's local time); every accepted form and the refused ones are
# tz_parse_any's unit test (tests/unit/test_tz.c), and "...Z" is every
# other test here.
@pytest.mark.parametrize("starts_at", [
    "2026-07-02T15:00:00+02:00",
    "2026-07-02T14:00",           # bare: the practice's local time (BST)
])
def test_accepted_time_forms(ready, smtp, starts_at):
    sam, alex, case, appt = ready.couple(starts_at)
    assert ready.once("2026-06-30T12:59:59Z").returncode == 0
    assert smtp.messages == []
    r = ready.once("2026-06-30T13:00:00Z")
    assert r.returncode == 0, r.stderr
    [m] = mails_to(smtp, SAM)
    text = m["Subject"] + text_body(m)
    assert "Thursday 2 July 2026" in text and "14:00" in text


def test_elapsed_time_across_clock_change(practice, smtp):
    # 10:00 BST on Sunday 28 March 2027 (09:00Z): 24h before is 09:00 GMT Saturday
    practice.write_conf(reminders=rules("24h"))
    practice.init()
    practice.couple("2027-03-28T09:00:00Z")
    assert practice.once("2027-03-27T08:59:59Z").returncode == 0
    assert smtp.messages == []
    assert practice.once("2027-03-27T09:00:00Z").returncode == 0
    [m] = mails_to(smtp, SAM)
    text = m["Subject"] + text_body(m)
    assert "Sunday 28 March 2027" in text and "10:00" in text


def test_other_time_zone(practice, smtp):
    practice.write_conf(practice={"timezone": "America/New_York"})
    practice.init()
    practice.couple(T)                  # 09:00 EST
    assert practice.once(DUE_48H).returncode == 0
    [m] = mails_to(smtp, SAM)
    text = m["Subject"] + text_body(m)
    assert "Thursday 3 December 2026" in text and "09:00" in text


# ---------------------------------------------------------------- rows nudged cannot read

def test_unreadable_start_reported_and_others_sent(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    jordan = ready.add_client("Jordan Lee", email="jordan@example.org")
    case2 = ready.add_case("Jordan", [jordan])
    ready.book(case2, "next tuesday", id=4242)
    r = ready.once(DUE_48H)
    assert r.returncode == 0, r.stderr
    assert "4242" in r.stderr or "next tuesday" in r.stderr, r.stderr
    assert len(mails_to(smtp, SAM)) == 1
    assert len(mails_to(smtp, ALEX)) == 1
    assert mails_to(smtp, "jordan@example.org") == []
    # reported to the practitioner too, without quoting any message text
    alerts = mails_to(smtp, PRACTICE_EMAIL)
    assert len(alerts) == 1
    assert "4242" in text_body(alerts[0])
    [row] = ready.messages("purpose = 'alert'")
    assert row["status"] == "sent" and row["recipient"] == PRACTICE_EMAIL
    # a second pass still works and does not alert again at once
    r = ready.once(shift(DUE_48H, minutes=5))
    assert r.returncode == 0, r.stderr
    assert len(mails_to(smtp, PRACTICE_EMAIL)) == 1


@pytest.mark.parametrize("column,value", [
    ("duration_min", -5),
    ("kind", "séance"),
    ("mode", "carrier pigeon"),
    ("case_id", 999),
])
def test_other_bad_rows_do_not_stop_the_pass(ready, smtp, column, value):
    sam, alex, case, appt = ready.couple(T)
    jordan = ready.add_client("Jordan Lee", email="jordan@example.org")
    case2 = ready.add_case("Jordan", [jordan])
    bad = ready.book(case2, T)
    con = ready.connect()
    con.execute("PRAGMA foreign_keys = OFF")
    con.execute(f"UPDATE appointments SET {column} = ? WHERE id = ?", (value, bad))
    con.commit()
    con.close()
    r = ready.once(DUE_48H)
    assert r.returncode == 0, r.stderr
    assert len(mails_to(smtp, SAM)) == 1
    assert len(mails_to(smtp, ALEX)) == 1


# ---------------------------------------------------------------- quiet hours

@pytest.fixture
def quiet_email(practice, smtp):
    practice.write_conf(reminders=rules("48h"),
                        quiet_hours={"from": "21:00", "to": "08:00",
                                     "channels": ["email"]})
    practice.init()
    return practice


def test_quiet_hours_move_earlier(quiet_email, smtp):
    p = quiet_email
    p.couple("2026-12-03T22:00:00Z")          # due 22:00 GMT on the 1st: quiet
    assert p.once("2026-12-01T20:58:59Z").returncode == 0
    assert smtp.messages == []
    r = p.once("2026-12-01T20:59:00Z")
    assert r.returncode == 0, r.stderr
    assert len(client_mails(smtp)) == 2
    for row in p.messages("purpose = 'reminder'"):
        assert as_utc(row["due_at"]) == as_utc("2026-12-01T20:59:00Z")


def test_quiet_hours_hold_late_booking(quiet_email, smtp):
    p = quiet_email
    p.couple("2026-12-03T12:00:00Z")          # booked at 22:30 the night before
    for now in ("2026-12-02T22:30:00Z", "2026-12-03T03:00:00Z",
                "2026-12-03T07:59:00Z"):
        r = p.once(now)
        assert r.returncode == 0, r.stderr
        assert smtp.messages == [], now
    r = p.once("2026-12-03T08:00:00Z")
    assert r.returncode == 0, r.stderr
    assert len(client_mails(smtp)) == 2


def test_quiet_hours_late_booking_only_the_closest_goes(practice, smtp):
    """Email 48h and 3h, quiet for email 21:00-08:00; booked at 22:30 for
    10:00 the next day.  The 48h reminder is overdue and held to 08:00;
    the 3h one (07:00, too late for 20:59) is held to 08:00 as well.
    CONTRACT.md: the held message's due time is the end of quiet hours
    "and the rules above apply to that due time": of the two due at 08:00
    for one client and channel only the closer goes.  Before, each
    partner got two reminders at 08:00."""
    practice.write_conf(reminders=rules("48h", "3h"),
                        quiet_hours={"from": "21:00", "to": "08:00",
                                     "channels": ["email"]})
    practice.init()
    practice.couple("2026-12-03T10:00:00Z")
    for now in ("2026-12-02T22:30:00Z", "2026-12-03T08:00:30Z",
                "2026-12-03T09:00:00Z"):
        r = practice.once(now)
        assert r.returncode == 0, r.stderr
    assert len(mails_to(smtp, SAM)) == 1 and len(mails_to(smtp, ALEX)) == 1
    got = {(r["rule"], r["status"]) for r in practice.messages("purpose = 'reminder'")}
    assert got == {("b172800", "skipped"), ("b10800", "sent")}, got


def test_quiet_hours_do_not_touch_other_channels(ready, smtp):
    # default quiet hours are for SMS only: a 22:00 email goes at 22:00
    ready.couple("2026-12-03T22:00:00Z")
    assert ready.once("2026-12-01T21:59:59Z").returncode == 0
    assert smtp.messages == []
    assert ready.once("2026-12-01T22:00:00Z").returncode == 0
    assert len(client_mails(smtp)) == 2
