"""The practitioner edits the config while reminders are already planned
and pending (an audit's cases).  Each case plans under the old config,
reloads (a --once under the new file: a whole pass, the config's
fingerprint changed), then runs when the row falls due.  Before the fix
each failed:

- a rule's `kinds` narrowed: nudged.conf(5) "kinds ... Limit the rule to
  some appointment kinds"; a pending row of a kind the rule no longer
  covered still went (the rule was judged by lead and channel only);
- a rule's `template` changed: the row kept the group it was planned
  with (messages.template), so the old wording went (plan_template now
  takes the rule's group at send time);
- quiet hours added: CONTRACT.md "A message on a quiet-hours channel that
  would fall inside quiet hours goes earlier, one minute before quiet
  hours begin ..., never later"; a pending row due inside the new quiet
  hours was not moved earlier: held to their end, then skipped by
  late_limit, the reminder never went (plan.c plan_requiet now moves it
  at the reload);
- notify_cancellation or notify_move turned off while a notice waits
  (held by quiet hours): it still went (plan.c plan_notice_off);
- quiet hours taken out while an SMS is held to their end: it waited for
  an end they no longer had (plan_requiet now lets it go)."""

from conftest import mails_to, shift
from test_sms import RETRY, configure, reqs_to, sms_group, solo, SAM_E164
from test_sms import twilio  # noqa: F401  (fixture)

T = "2026-12-03T14:00:00Z"          # Thursday 14:00 GMT


def test_kinds_narrowed_pending_row_of_a_kind_no_longer_covered(practice, smtp, twilio):  # noqa: F811
    configure(practice, twilio, reminders=[{"before": "48h", "channel": "email"}])
    _, appt = solo(practice)
    practice.set("UPDATE appointments SET kind = 'call' WHERE id = ?", appt)
    r = practice.once(shift(T, hours=-72))
    assert r.returncode == 0, r.stderr
    assert len(practice.messages("status = 'pending'")) == 1, practice.messages()
    # 48h emails now only for sessions: a call gets none
    practice.write_conf(sms=sms_group(twilio), retry=RETRY,
                        reminders=[{"before": "48h", "channel": "email",
                                    "kinds": ["session"]}])
    r = practice.once(shift(T, hours=-60))                  # the reload
    assert r.returncode == 0, r.stderr
    r = practice.once(shift(T, hours=-48, seconds=30))
    assert r.returncode == 0, r.stderr
    sent = mails_to(smtp, "sam@example.org")
    assert sent == [], [m["Subject"] for m in sent]
    [row] = practice.messages()
    assert row["status"] == "cancelled", row


TEMPLATES = """templates = {{
  {name} = {{ email_subject = "{subject} {{{{date}}}}"; }};
}};"""


def test_template_changed_pending_row_uses_the_new_group(practice, smtp, twilio):  # noqa: F811
    configure(practice, twilio,
              reminders=[{"before": "48h", "channel": "email", "template": "warm"}],
              extra=TEMPLATES.format(name="warm", subject="Warm greetings for"))
    solo(practice)
    r = practice.once(shift(T, hours=-72))
    assert r.returncode == 0, r.stderr
    practice.write_conf(sms=sms_group(twilio), retry=RETRY,
                        reminders=[{"before": "48h", "channel": "email",
                                    "template": "crisp"}],
                        extra=TEMPLATES.format(name="crisp", subject="Crisp note for"))
    r = practice.once(shift(T, hours=-60))                  # the reload
    assert r.returncode == 0, r.stderr
    r = practice.once(shift(T, hours=-48, seconds=30))
    assert r.returncode == 0, r.stderr
    [m] = mails_to(smtp, "sam@example.org")
    assert m["Subject"].startswith("Crisp note for"), m["Subject"]


A = "2026-12-03T08:30:00Z"          # Thursday 08:30 GMT: the 3h SMS is due 05:30


def test_quiet_hours_added_pending_sms_goes_before_them(practice, smtp, twilio):  # noqa: F811
    configure(practice, twilio, reminders=[{"before": "3h", "channel": "sms"}],
              quiet_hours={"channels": []})
    solo(practice, starts_at=A)
    r = practice.once(shift(A, hours=-72))
    assert r.returncode == 0, r.stderr
    assert len(practice.messages("status = 'pending'")) == 1, practice.messages()
    # quiet hours for SMS 21:00-08:00 from now on (reloaded Wednesday 12:30)
    practice.write_conf(sms=sms_group(twilio), retry=RETRY,
                        reminders=[{"before": "3h", "channel": "sms"}],
                        quiet_hours={"from": "21:00", "to": "08:00",
                                     "channels": ["sms"]})
    r = practice.once(shift(A, hours=-20))                  # the reload
    assert r.returncode == 0, r.stderr
    # the contract: it goes earlier, at 20:59 on Wednesday, never later
    for now in (shift(A, hours=-11, minutes=-31, seconds=30),   # 20:59:30
                shift(A, hours=-3, seconds=30),                 # 05:30:30
                shift(A, minutes=-30, seconds=30)):             # 08:00:30
        r = practice.once(now)
        assert r.returncode == 0, r.stderr
    rows = [(m["status"], m["due_at"], m["last_error"]) for m in practice.messages()]
    assert len(reqs_to(twilio, SAM_E164)) == 1, rows
    assert [r[0] for r in rows] == ["sent"], rows


F = "2026-12-03T14:00:00Z"          # Thursday 14:00 GMT, an assessment of 90 minutes


def test_template_changed_to_assessment_follow_up_moot_with_the_new_group(practice, smtp):
    """The moot rule (plan_followup_moot: an assessment follow-up, "decide
    whether to continue", is skipped when a later session is booked)
    judged the group the row was planned with while plan_template sent
    the rule's group now: a follow-up rule given template
    assessment_follow_up after planning asked a client with a session
    already booked whether they wanted to continue."""
    practice.write_conf(reminders=[{"after": "1d", "channel": "email",
                                    "kinds": ["assessment"]}])
    practice.init()
    _, _, case, _ = practice.couple(F, kind="assessment", duration=90)
    practice.book(case, shift(F, days=7))
    r = practice.once(shift(F, hours=-1))
    assert r.returncode == 0, r.stderr
    assert len(practice.messages("purpose = 'follow_up'")) == 2
    practice.write_conf(reminders=[{"after": "1d", "channel": "email",
                                    "kinds": ["assessment"],
                                    "template": "assessment_follow_up"}])
    r = practice.once(shift(F, minutes=90, days=1, seconds=30))
    assert r.returncode == 0, r.stderr
    sent = mails_to(smtp, "sam@example.org")
    assert sent == [], [m["Subject"] for m in sent]
    for row in practice.messages("purpose = 'follow_up'"):
        assert row["status"] == "skipped", row
        assert "later session is already booked" in row["last_error"], row


Q = {"from": "21:00", "to": "08:00", "channels": ["sms"]}
SMS_48 = [{"before": "48h", "channel": "sms"}]


def notice_held(practice, twilio, change):
    """Sam reminded by SMS on Tuesday 14:00; at 22:00 the booking changes
    (change(appointment)) and the notice waits for the end of quiet hours."""
    configure(practice, twilio, reminders=SMS_48, quiet_hours=Q)
    _, appt = solo(practice)
    r = practice.once(shift(T, hours=-48))
    assert r.returncode == 0, r.stderr
    assert len(reqs_to(twilio, SAM_E164)) == 1
    change(appt)
    r = practice.once("2026-12-01T22:00:00Z")
    assert r.returncode == 0, r.stderr
    [n] = practice.messages("purpose IN ('cancellation', 'moved')")
    assert n["status"] == "pending", n
    return n


def turned_off_before_it_goes(practice, twilio, key, n):
    practice.write_conf(sms=sms_group(twilio), retry=RETRY, reminders=SMS_48,
                        quiet_hours=Q, **{key: False})
    r = practice.once("2026-12-01T23:00:00Z")               # the reload
    assert r.returncode == 0, r.stderr
    r = practice.once("2026-12-02T08:00:30Z")
    assert r.returncode == 0, r.stderr
    assert len(reqs_to(twilio, SAM_E164)) == 1, [m["Body"] for m in twilio.messages]
    [row] = practice.messages("id = ?", n["id"])
    assert (row["status"], row["last_error"]) == ("cancelled", f"{key} is off"), row


def test_notify_cancellation_turned_off_while_the_notice_waits(practice, smtp, twilio):  # noqa: F811
    """nudged.conf(5): notify_cancellation false sends no cancellation
    notice.  One already planned, held by quiet hours, went anyway."""
    n = notice_held(practice, twilio, lambda appt: practice.set(
        "UPDATE appointments SET status = 'cancelled' WHERE id = ?", appt))
    turned_off_before_it_goes(practice, twilio, "notify_cancellation", n)


def test_notify_move_turned_off_while_the_notice_waits(practice, smtp, twilio):  # noqa: F811
    """The same for a change notice (notify_move): moved a week on at
    22:00, the notice waits; turned off, it does not go."""
    n = notice_held(practice, twilio, lambda appt: practice.set(
        "UPDATE appointments SET starts_at = ? WHERE id = ?",
        shift(T, days=7), appt))
    turned_off_before_it_goes(practice, twilio, "notify_move", n)


def test_quiet_hours_taken_out_held_sms_goes_now(practice, smtp, twilio):  # noqa: F811
    """Booked late, at 22:00 on Wednesday, for Thursday 10:00: the 24h SMS
    is overdue, and inside quiet hours it is held to 08:00.  The
    practitioner takes the quiet hours out at 23:00: it goes at that
    reload, not at the end of quiet hours that are no longer there.  (A
    reminder whose rule's time is still ahead, say a 3h one, moves back
    to that time: plan_requiet did that before.)"""
    sms24 = [{"before": "24h", "channel": "sms"}]
    configure(practice, twilio, reminders=sms24, quiet_hours=Q)
    solo(practice, starts_at="2026-12-03T10:00:00Z")
    r = practice.once("2026-12-02T22:00:00Z")
    assert r.returncode == 0, r.stderr
    [row] = practice.messages()
    assert (row["status"], row["due_at"]) == ("pending", "2026-12-03T08:00:00Z"), row
    practice.write_conf(sms=sms_group(twilio), retry=RETRY, reminders=sms24,
                        quiet_hours={"channels": []})
    r = practice.once("2026-12-02T23:00:00Z")               # the reload
    assert r.returncode == 0, r.stderr
    assert len(reqs_to(twilio, SAM_E164)) == 1, practice.messages()
    r = practice.once("2026-12-03T08:00:30Z")
    assert r.returncode == 0, r.stderr
    assert len(reqs_to(twilio, SAM_E164)) == 1


def test_quiet_hours_taken_out_two_held_only_the_closest_goes(practice, smtp, twilio):  # noqa: F811
    """Review (b0b56b5): booked at 22:00 on Wednesday for Thursday 10:00
    with a 24h and a 12h SMS rule.  The 12h one is held to 08:00 and the
    24h one, overdue and due by then too, is skipped at once (e9c0bf8).
    Quiet hours taken out at 23:00: the 12h rule's time has passed, so it
    is overdue and goes now, once; the 24h one stays skipped (CONTRACT
    "Late booking and downtime").  Before the review's fix, plan_requiet
    moved every held row to now past plan_overdue; test_plan.c
    test_released_rows_judged_overdue_together has two held rows."""
    rules = [{"before": "24h", "channel": "sms"}, {"before": "12h", "channel": "sms"}]
    configure(practice, twilio, reminders=rules, quiet_hours=Q)
    solo(practice, starts_at="2026-12-03T10:00:00Z")
    r = practice.once("2026-12-02T22:00:00Z")
    assert r.returncode == 0, r.stderr
    got = {(m["rule"], m["status"], m["due_at"]) for m in practice.messages()}
    assert got == {("b86400", "skipped", "2026-12-02T10:00:00Z"),
                   ("b43200", "pending", "2026-12-03T08:00:00Z")}, got
    practice.write_conf(sms=sms_group(twilio), retry=RETRY, reminders=rules,
                        quiet_hours={"channels": []})
    r = practice.once("2026-12-02T23:00:00Z")               # the reload
    assert r.returncode == 0, r.stderr
    assert len(reqs_to(twilio, SAM_E164)) == 1, [m["Body"] for m in twilio.messages]
    by_rule = {m["rule"]: m for m in practice.messages()}
    assert by_rule["b43200"]["status"] == "sent", by_rule
    assert by_rule["b86400"]["status"] == "skipped", by_rule


def turned_off_and_on_again(practice, twilio, key):
    """The switch turned off (the waiting notice is cancelled), then on
    again before the appointment: the notice goes after all, as a rule
    taken out and put back brings its reminders back."""
    for on, at in ((False, "2026-12-01T23:00:00Z"), (True, "2026-12-01T23:30:00Z")):
        practice.write_conf(sms=sms_group(twilio), retry=RETRY, reminders=SMS_48,
                            quiet_hours=Q, **{key: on})
        r = practice.once(at)                               # a reload
        assert r.returncode == 0, r.stderr
    r = practice.once("2026-12-02T08:00:30Z")
    assert r.returncode == 0, r.stderr
    assert len(reqs_to(twilio, SAM_E164)) == 2, [m["Body"] for m in twilio.messages]


def test_notify_cancellation_off_and_on_again_the_notice_goes(practice, smtp, twilio):  # noqa: F811
    """Review (067e85c): the notice cancelled as "notify_cancellation is
    off" kept its key (plan_notices: plan_has_key) and never came back:
    Sam, reminded, was never told the appointment is cancelled."""
    notice_held(practice, twilio, lambda appt: practice.set(
        "UPDATE appointments SET status = 'cancelled' WHERE id = ?", appt))
    turned_off_and_on_again(practice, twilio, "notify_cancellation")


def test_notify_move_off_and_on_again_the_notice_goes(practice, smtp, twilio):  # noqa: F811
    """The same for a change notice: plan_move_seen found the cancelled
    row's key ("notify_move is off" is not a cause that can go again) and
    planned nothing."""
    notice_held(practice, twilio, lambda appt: practice.set(
        "UPDATE appointments SET starts_at = ? WHERE id = ?",
        shift(T, days=7), appt))
    turned_off_and_on_again(practice, twilio, "notify_move")


def test_closer_rule_taken_out_overnight_the_skipped_one_goes(practice, smtp, twilio):  # noqa: F811
    """Review 2 (e9c0bf8): booked at 22:30 on Wednesday for Thursday 10:00
    with a 24h and a 12h SMS rule: the 24h one is skipped for the 12h one,
    held to 08:00.  At 23:00 the 12h rule is taken out: its row is
    cancelled, and Sam would get no reminder at all, though one could go
    at 08:00, two hours ahead.  The skipped one comes back and goes at
    08:00, once."""
    rules = [{"before": "24h", "channel": "sms"}, {"before": "12h", "channel": "sms"}]
    configure(practice, twilio, reminders=rules, quiet_hours=Q)
    solo(practice, starts_at="2026-12-03T10:00:00Z")
    r = practice.once("2026-12-02T22:30:00Z")
    assert r.returncode == 0, r.stderr
    practice.write_conf(sms=sms_group(twilio), retry=RETRY, reminders=rules[:1],
                        quiet_hours=Q)
    r = practice.once("2026-12-02T23:00:00Z")               # the reload
    assert r.returncode == 0, r.stderr
    assert len(reqs_to(twilio, SAM_E164)) == 0
    r = practice.once("2026-12-03T08:00:30Z")
    assert r.returncode == 0, r.stderr
    by_rule = {m["rule"]: m for m in practice.messages()}
    assert by_rule["b43200"]["status"] == "cancelled", by_rule
    assert by_rule["b86400"]["status"] == "sent", by_rule
    assert len(reqs_to(twilio, SAM_E164)) == 1, [m["Body"] for m in twilio.messages]


def test_rebooked_overdue_reminder_goes_at_once(practice, smtp, twilio):  # noqa: F811
    """Review 3: a 48h email planned, the appointment cancelled (the row
    cancelled with it), then booked again a day before: the row comes back
    (its key allows no other), overdue, the only one: CONTRACT.md "Late
    booking and downtime" sends it at once.  On 033fee2 it was skipped as
    "superseded" by itself (plan_overdue_cands counted it twice)."""
    configure(practice, twilio, reminders=[{"before": "48h", "channel": "email"}])
    _, appt = solo(practice)
    r = practice.once(shift(T, hours=-72))
    assert r.returncode == 0, r.stderr
    practice.set("UPDATE appointments SET status = 'cancelled' WHERE id = ?", appt)
    r = practice.once(shift(T, hours=-60))
    assert r.returncode == 0, r.stderr
    assert practice.messages()[0]["status"] == "cancelled", practice.messages()
    practice.set("UPDATE appointments SET status = 'booked' WHERE id = ?", appt)
    r = practice.once(shift(T, hours=-24))
    assert r.returncode == 0, r.stderr
    [row] = practice.messages("purpose = 'reminder'")
    assert row["status"] == "sent", row
    assert len(mails_to(smtp, "sam@example.org")) == 1


def test_closer_rule_replaced_overnight_one_sms_only(practice, smtp, twilio):  # noqa: F811
    """Review 3: as above, but the 12h rule is replaced by a 90min one at
    23:00: its row goes at 08:30, so the 24h one, skipped for the 12h one,
    stays skipped.  On 033fee2 it came back and went at 08:00 too: two
    SMS half an hour apart where Sam had one."""
    rules = [{"before": "24h", "channel": "sms"}, {"before": "12h", "channel": "sms"}]
    configure(practice, twilio, reminders=rules, quiet_hours=Q)
    solo(practice, starts_at="2026-12-03T10:00:00Z")
    r = practice.once("2026-12-02T22:30:00Z")
    assert r.returncode == 0, r.stderr
    practice.write_conf(sms=sms_group(twilio), retry=RETRY, quiet_hours=Q,
                        reminders=[rules[0], {"before": "90m", "channel": "sms"}])
    r = practice.once("2026-12-02T23:00:00Z")               # the reload
    assert r.returncode == 0, r.stderr
    for at in ("2026-12-03T08:00:30Z", "2026-12-03T08:30:30Z"):
        r = practice.once(at)
        assert r.returncode == 0, r.stderr
    by_rule = {m["rule"]: m for m in practice.messages()}
    assert by_rule["b86400"]["status"] == "skipped", by_rule
    assert by_rule["b5400"]["status"] == "sent", by_rule
    assert len(reqs_to(twilio, SAM_E164)) == 1, [m["Body"] for m in twilio.messages]
