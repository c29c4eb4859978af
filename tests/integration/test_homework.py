"""Homework prompts and follow-ups, observed from outside (issue 5).

A couple has daily prompts for the week between two sessions; nudged runs
one pass at each day's prompt time, and the test counts who got what on
which channel, what nudgectl upcoming promised, and what stopping the
homework, moving a session, opting out or closing the case does to the
rest.  Follow-up rules (`after`) go one day after an assessment ENDS.

November 2026 is GMT, so homework.at 19:00 local is 19:00Z.
"""

import re

import pytest

from conftest import (as_utc, client_mails, mails_to, parse_utc,
                      shift, text_body)
from fake_sms import FakeTwilio

SAM, ALEX = "sam@example.org", "alex@example.org"
SAM_PHONE, ALEX_PHONE = "+447700900123", "+447700900456"

S1 = "2026-11-03T10:00:00Z"            # Tuesday: session 1
S2 = "2026-11-10T10:00:00Z"            # Tuesday a week later: session 2
S2_DATE = "Tuesday 10 November 2026"
DAYS = ["2026-11-04", "2026-11-05", "2026-11-06", "2026-11-07",
        "2026-11-08", "2026-11-09"]
TITLE = "Pause before replying"
PROMPT = "When a sharp reply rises, take three slow breaths first."


def at19(day):
    return f"{day}T19:00:00Z"


# ---------------------------------------------------------------- helpers

@pytest.fixture
def twilio():
    with FakeTwilio() as tw:
        yield tw


def sms_conf(tw):
    return {"enabled": True, "provider": "twilio", "url": tw.url,
            "account": tw.account, "token": tw.token, "from": "+447700900000"}


def week(practice, sms=None, alex_discreet=0, reminders=(), ctl=False):
    """Config, database, the couple, sessions 1 and 2 and the homework row
    (daily from the day after session 1, no end: until session 2), written
    as a booking tool would, or with nudgectl homework add."""
    practice.write_conf(sms=sms, reminders=list(reminders))
    practice.init()
    sam = practice.add_client("Sam Taylor", email=SAM, phone="07700 900123",
                              sms_consent=1)
    alex = practice.add_client("Alex Morgan", email=ALEX, phone="07700 900456",
                               sms_consent=1, discreet=alex_discreet)
    case = practice.add_case("Sam & Alex", [sam, alex])
    a1 = practice.book(case, S1)
    a2 = practice.book(case, S2)
    if ctl:
        r = practice.ctl("homework", "add", "--case", str(case), "--title", TITLE,
                         "--prompt", PROMPT, "--starts-on", DAYS[0], "--every", "1")
        assert r.returncode == 0, r.stderr
        hw = int(re.search(r"homework (\d+) added", r.stdout).group(1))
    else:
        hw = practice.set(
            "INSERT INTO homework (case_id, title, prompt, starts_on, ends_on,"
            " every_days) VALUES (?,?,?,?,NULL,1)", case, TITLE, PROMPT, DAYS[0])
    return dict(sam=sam, alex=alex, case=case, a1=a1, a2=a2, hw=hw)


def once_ok(practice, now):
    r = practice.once(now)
    assert r.returncode == 0, f"--once --now {now}: rc={r.returncode}\n{r.stderr}"
    return r


class Seen:
    """What reached the SMTP server and the SMS fake since the last look."""

    def __init__(self, smtp, tw=None):
        self.smtp, self.tw = smtp, tw
        self.nmail = self.nsms = 0

    def new(self):
        mails = client_mails(self.smtp)[self.nmail:]
        self.nmail += len(mails)
        texts = []
        if self.tw is not None:
            texts = self.tw.messages[self.nsms:]
            self.nsms += len(texts)
        return mails, texts


def mail_rcpt(m):
    assert len(m["rcpt_tos"]) == 1, m["rcpt_tos"]
    return m["rcpt_tos"][0].lower()


def hw_rows(practice, where="1", *params):
    return practice.query(
        "SELECT * FROM messages WHERE purpose = 'homework' AND " + where +
        " ORDER BY id", *params)


UPCOMING = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) \((.*?)\) (email|sms) "
                      r"to (.+?) \S+: (\w+), (?:msg=\d+|not yet in the outbox)$")


def upcoming(practice, now, days=8, bodies=None):
    """nudgectl upcoming, parsed: [(utc, channel, client name, purpose)];
    bodies, when a dict, gets each entry's rendered lines under that key."""
    r = practice.ctl("upcoming", "--days", str(days), "--now", now)
    assert r.returncode == 0, r.stderr
    out = []
    for line in r.stdout.splitlines():
        m = UPCOMING.match(line)
        if m:
            out.append((m.group(1), m.group(3), m.group(4), m.group(5)))
            if bodies is not None:
                bodies[out[-1]] = ""
        elif out and bodies is not None and line.startswith("  "):
            bodies[out[-1]] += line[2:].lstrip("| ") + "\n"
    return out, r.stdout


# ---------------------------------------------------------------- the week

CASES = {
    # name: (sms on?, alex discreet?, who gets what each day)
    "email": (False, 0, {("Sam Taylor", "email"), ("Alex Morgan", "email")}),
    "sms": (True, 0, {("Sam Taylor", "email"), ("Alex Morgan", "email"),
                      ("Sam Taylor", "sms"), ("Alex Morgan", "sms")}),
    "discreet": (True, 1, {("Sam Taylor", "email"), ("Alex Morgan", "email"),
                           ("Sam Taylor", "sms")}),
}


@pytest.mark.parametrize("variant", list(CASES))
def test_daily_prompts_for_a_week(practice, smtp, twilio, variant):
    sms_on, discreet, each_day = CASES[variant]
    w = week(practice, sms=sms_conf(twilio) if sms_on else None,
             alex_discreet=discreet)
    addr = {"Sam Taylor": (SAM, SAM_PHONE), "Alex Morgan": (ALEX, ALEX_PHONE)}
    expected = {(at19(d), ch, who) for d in DAYS for who, ch in each_day}

    # What upcoming promises, from the morning of the first day.
    listed, text = upcoming(practice, "2026-11-04T08:00:00Z")
    assert len(listed) == len(DAYS) * len(each_day), text
    assert all(p == "homework" for *_, p in listed), text
    assert {(t, ch, who) for t, ch, who, _ in listed} == expected, text
    assert not practice.messages(), "upcoming wrote to the outbox"

    seen = Seen(smtp, twilio)
    once_ok(practice, "2026-11-04T08:00:00Z")
    assert seen.new() == ([], []), "a prompt went before its time"
    pending = hw_rows(practice, "status = 'pending'")
    names = {w["sam"]: "Sam Taylor", w["alex"]: "Alex Morgan"}
    assert {(r["due_at"], r["channel"], names[r["client_id"]])
            for r in pending} == expected

    for n, day in enumerate(DAYS, 1):
        once_ok(practice, at19(day))
        mails, texts = seen.new()
        want = {ch_who for ch_who in each_day}
        got = {(who, "email") for who in addr
               for m in mails if mail_rcpt(m) == addr[who][0]}
        got |= {(who, "sms") for who in addr
                for t in texts if t["To"] == addr[who][1]}
        assert got == want, f"day {n} ({day})"
        assert len(mails) + len(texts) == len(want), f"day {n}: duplicates"
        for m in mails:
            msg = m["message"]
            assert msg["Subject"] == f"For today: {TITLE}"
            body = text_body(msg)
            assert f"{TITLE} (day {n})" in body, body
            assert PROMPT in body
            assert S2_DATE in body and "10:00" in body, body
        for t in texts:
            assert f"(day {n})" in t["Body"] and PROMPT in t["Body"], t["Body"]

    # Session 2's day, and the day after: nothing.
    once_ok(practice, at19("2026-11-10"))
    once_ok(practice, at19("2026-11-11"))
    assert seen.new() == ([], [])

    rows = hw_rows(practice)
    assert all(r["status"] == "sent" for r in rows), rows
    assert all(r["homework_id"] == w["hw"] for r in rows)
    assert {(r["due_at"], r["channel"], names[r["client_id"]])
            for r in rows} == expected
    assert len(rows) == len(expected)
    for r in rows:
        assert as_utc(r["sent_at"]) == as_utc(r["due_at"]), r
    assert not [r for r in rows if r["due_at"].startswith("2026-11-10")]


def test_upcoming_lists_only_what_the_schedule_implies(practice, smtp):
    # Every 3 days with an explicit end: 4th, 7th, 10th (session day), and
    # the 13th is after ends_on; so the 4th and the 7th only, at 18:30.
    w = week(practice)
    practice.set("UPDATE homework SET every_days = 3, ends_on = '2026-11-12',"
                 " at_time = '18:30' WHERE id = ?", w["hw"])
    listed, text = upcoming(practice, "2026-11-04T08:00:00Z", days=10)
    assert sorted((t, who) for t, ch, who, _ in listed) == sorted(
        (f"{d}T18:30:00Z", who) for d in ("2026-11-04", "2026-11-07")
        for who in ("Sam Taylor", "Alex Morgan")), text
    assert "(day 2)" in text and "(day 3)" not in text, text


def test_day_number_skips_a_session_day(practice, smtp):
    # ends_on past session 2: the 10th has no prompt and is not counted;
    # after session 2 there is no next session to name.
    w = week(practice)
    practice.set("UPDATE homework SET ends_on = '2026-11-12' WHERE id = ?", w["hw"])
    bodies = {}
    listed, text = upcoming(practice, "2026-11-04T08:00:00Z", days=10,
                            bodies=bodies)
    days = DAYS + ["2026-11-11", "2026-11-12"]
    assert sorted((t, who) for t, ch, who, _ in listed) == sorted(
        (at19(d), who) for d in days for who in ("Sam Taylor", "Alex Morgan")), text
    for key, body in bodies.items():
        n = days.index(key[0][:10]) + 1
        assert f"{TITLE} (day {n})" in body, body
        if n <= 6:
            assert S2_DATE in body, body
        else:
            assert "November 2026" not in body and "meet" not in body, body


@pytest.mark.parametrize("first,summer", [
    ("2026-03-26", [False, False, False, True, True, True, True]),
    ("2026-10-22", [True, True, True, False, False, False, False]),
])
def test_prompt_time_is_wall_clock_across_dst(practice, smtp, first, summer):
    practice.write_conf(reminders=[])
    practice.init()
    sam = practice.add_client("Sam Taylor", email=SAM)
    case = practice.add_case("Sam", [sam])
    days = [shift(first + "T12:00:00Z", days=i)[:10] for i in range(7)]
    practice.set("INSERT INTO homework (case_id, title, prompt, starts_on,"
                 " ends_on, every_days) VALUES (?,?,?,?,?,1)",
                 case, TITLE, PROMPT, days[0], days[-1])
    listed, text = upcoming(practice, first + "T08:00:00Z", days=8)
    assert [t for t, *_ in listed] == [
        f"{d}T{'18' if s else '19'}:00:00Z" for d, s in zip(days, summer)], text
    # and the local time shown is 19:00 every day
    assert text.count(" 19:00) email to Sam Taylor") == 7, text


def test_downtime_missed_prompts(practice, smtp):
    # Down from the morning of the 4th: the 4th's prompt is lost; the 5th's,
    # 2h59 late, still goes (as day 2); the 6th's, 3h01 late, does not.
    week(practice)
    once_ok(practice, "2026-11-04T08:00:00Z")
    once_ok(practice, "2026-11-05T21:59:00Z")
    mails = client_mails(smtp)
    assert sorted(mail_rcpt(m) for m in mails) == [ALEX, SAM]
    for m in mails:
        assert f"{TITLE} (day 2)" in text_body(m["message"])
    once_ok(practice, "2026-11-06T22:01:00Z")
    assert len(client_mails(smtp)) == 2
    by_day = {}
    for r in hw_rows(practice):
        by_day.setdefault(r["due_at"][:10], set()).add(r["status"])
    assert by_day["2026-11-04"] == {"skipped"}
    assert by_day["2026-11-05"] == {"sent"}
    assert by_day["2026-11-06"] == {"skipped"}
    assert all(r["last_error"] for r in hw_rows(practice, "status = 'skipped'"))
    once_ok(practice, at19("2026-11-07"))
    got = client_mails(smtp)[2:]
    assert len(got) == 2
    for m in got:
        assert f"{TITLE} (day 4)" in text_body(m["message"])


def test_prompt_time_changed_pending_prompts_follow(practice, smtp):
    """The week's prompts are planned at 19:00 (homework.at).  The
    practitioner moves homework.at to 20:00 (a reload), later a booking
    tool sets this homework's own at_time to 18:30: the prompts already
    planned go at the new time, as prompts planned afterwards would
    (each occurrence's key kept them from being planned again, so they
    went at 19:00)."""
    week(practice)
    once_ok(practice, "2026-11-03T12:00:00Z")
    assert len(hw_rows(practice, "status = 'pending'")) == 12
    practice.write_conf(reminders=[], homework={"at": "20:00"})
    once_ok(practice, "2026-11-04T12:00:00Z")               # the reload
    once_ok(practice, "2026-11-04T19:00:30Z")
    assert client_mails(smtp) == []
    once_ok(practice, "2026-11-04T20:00:30Z")
    assert sorted(mail_rcpt(m) for m in client_mails(smtp)) == [ALEX, SAM]
    practice.set("UPDATE homework SET at_time = '18:30'")
    once_ok(practice, "2026-11-05T12:00:00Z")
    once_ok(practice, "2026-11-05T18:30:30Z")
    assert len(client_mails(smtp)) == 4
    due = {r["due_at"] for r in hw_rows(practice, "status = 'pending'")}
    assert due == {f"2026-11-0{d}T18:30:00Z" for d in (6, 7, 8, 9)}, due


def test_homework_starting_on_a_session_day(practice, smtp):
    # Set during session 1 to start that day: that day has no prompt, and
    # the homework runs until the NEXT session, not the one it was set in.
    w = week(practice)
    practice.set("UPDATE homework SET starts_on = '2026-11-03' WHERE id = ?",
                 w["hw"])
    listed, text = upcoming(practice, "2026-11-03T12:00:00Z")
    assert sorted((t, who) for t, ch, who, _ in listed) == sorted(
        (at19(d), who) for d in DAYS for who in ("Sam Taylor", "Alex Morgan")), text


def test_session_moved_earlier_then_back(practice, smtp):
    # Moved by mistake and put back: the prompts of the 7th-9th come back,
    # as reminders do for an appointment booked again at the same time.
    w = week(practice)
    once_ok(practice, at19(DAYS[0]))
    practice.set("UPDATE appointments SET starts_at = '2026-11-07T10:00:00Z'"
                 " WHERE id = ?", w["a2"])
    once_ok(practice, shift(at19(DAYS[0]), hours=1))
    assert len(hw_rows(practice, "status = 'cancelled'")) == 6
    practice.set("UPDATE appointments SET starts_at = ? WHERE id = ?", S2, w["a2"])
    once_ok(practice, shift(at19(DAYS[0]), hours=2))
    listed, text = upcoming(practice, "2026-11-05T08:00:00Z")
    assert sorted((t, who) for t, ch, who, _ in listed) == sorted(
        (at19(d), who) for d in DAYS[1:] for who in ("Sam Taylor", "Alex Morgan")), text


# ---------------------------------------------------------------- stopping

@pytest.mark.parametrize("how", ["nudgectl", "sql"])
def test_stopped_mid_way(practice, smtp, how):
    w = week(practice, ctl=how == "nudgectl")
    seen = Seen(smtp)
    for day in DAYS[:2]:
        once_ok(practice, at19(day))
    assert len(seen.new()[0]) == 4
    assert len(hw_rows(practice, "status = 'pending'")) == 8

    if how == "nudgectl":
        r = practice.ctl("homework", "stop", str(w["hw"]))
        assert r.returncode == 0, r.stderr
        assert "stopped" in r.stdout
        lst = practice.ctl("homework", "list")
        assert "stopped" in lst.stdout, lst.stdout
    else:
        practice.set("UPDATE homework SET active = 0 WHERE id = ?", w["hw"])

    once_ok(practice, shift(at19(DAYS[1]), hours=1))
    assert hw_rows(practice, "status = 'pending'") == []
    cancelled = hw_rows(practice, "status = 'cancelled'")
    assert len(cancelled) == 8
    assert all(r["last_error"] for r in cancelled)
    assert {r["due_at"][:10] for r in cancelled} == set(DAYS[2:])
    for day in DAYS[2:]:
        once_ok(practice, at19(day))
    assert seen.new() == ([], [])
    assert len(hw_rows(practice, "status = 'sent'")) == 4


def test_session_moved_earlier(practice, smtp):
    w = week(practice)
    seen = Seen(smtp)
    for day in DAYS[:2]:
        once_ok(practice, at19(day))
    assert len(seen.new()[0]) == 4
    # Session 2 moves from Tuesday 10th to Saturday 7th.
    practice.set("UPDATE appointments SET starts_at = '2026-11-07T10:00:00Z'"
                 " WHERE id = ?", w["a2"])

    listed, text = upcoming(practice, "2026-11-06T08:00:00Z")
    assert sorted((t, who) for t, ch, who, p in listed if p == "homework") == \
        sorted((at19("2026-11-06"), who) for who in ("Alex Morgan", "Sam Taylor")), \
        text

    once_ok(practice, at19("2026-11-06"))
    mails, _ = seen.new()
    assert sorted(mail_rcpt(m) for m in mails) == [ALEX, SAM]
    for m in mails:
        body = text_body(m["message"])
        assert "(day 3)" in body and "Saturday 7 November 2026" in body, body
    later = hw_rows(practice, "due_at >= '2026-11-07'")
    assert later and all(r["status"] == "cancelled" for r in later), later
    for day in DAYS[3:]:
        once_ok(practice, at19(day))
    assert [m for m in seen.new()[0]
            if m["message"]["Subject"].startswith("For today")] == []
    assert len(hw_rows(practice, "status = 'sent'")) == 6


# ---------------------------------------------------------------- opt-out, closed case

@pytest.mark.parametrize("how", ["opt-out sql", "opt-out nudgectl",
                                 "close sql", "close nudgectl"])
def test_opt_out_or_close_stops_the_rest(practice, smtp, how):
    w = week(practice)
    seen = Seen(smtp)
    once_ok(practice, at19(DAYS[0]))
    assert len(seen.new()[0]) == 2

    if how == "opt-out sql":
        practice.set("UPDATE clients SET opted_out_at = '2026-11-04T19:30:00Z'"
                     " WHERE id = ?", w["alex"])
    elif how == "opt-out nudgectl":
        r = practice.ctl("client", "opt-out", str(w["alex"]))
        assert r.returncode == 0, r.stderr
    elif how == "close sql":
        practice.set("UPDATE cases SET closed_at = '2026-11-04T19:30:00Z'"
                     " WHERE id = ?", w["case"])
    else:
        r = practice.ctl("case", "close", str(w["case"]))
        assert r.returncode == 0, r.stderr
    gone = [w["alex"]] if how.startswith("opt-out") else [w["sam"], w["alex"]]
    kept = [c for c in (w["sam"], w["alex"]) if c not in gone]

    # The next pass, before any further prompt is due, cancels at once.
    once_ok(practice, shift(at19(DAYS[0]), hours=1))
    for c in gone:
        assert hw_rows(practice, "client_id = ? AND status = 'pending'", c) == []
        rows = hw_rows(practice, "client_id = ? AND status = 'cancelled'", c)
        assert len(rows) == 5 and all(r["last_error"] for r in rows), rows
    for c in kept:
        assert len(hw_rows(practice, "client_id = ? AND status = 'pending'", c)) == 5

    for day in DAYS[1:3]:
        once_ok(practice, at19(day))
    mails, _ = seen.new()
    assert sorted(mail_rcpt(m) for m in mails) == [SAM] * 2 * len(kept)


# ---------------------------------------------------------------- follow-ups

FOLLOW = {"after": "1d", "channel": "email", "kinds": ["assessment"],
          "template": "assessment_follow_up"}


def follow_setup(practice, kind="assessment", status="booked"):
    practice.write_conf(reminders=[FOLLOW])
    practice.init()
    sam, alex, case, appt = practice.couple(S1, kind=kind, duration=90,
                                            status=status)
    return sam, alex, case, appt


DUE_FU = shift(S1, days=1, minutes=90)      # start + 90 min + 1 day


def test_assessment_follow_up_one_day_after_it_ends(practice, smtp):
    sam, alex, case, appt = follow_setup(practice)
    once_ok(practice, shift(S1, minutes=100))     # just after it ended
    once_ok(practice, shift(DUE_FU, minutes=-1))
    assert client_mails(smtp) == [], "follow-up before end + 1d"
    rows = practice.messages("purpose = 'follow_up'")
    assert len(rows) == 2 and {r["client_id"] for r in rows} == {sam, alex}
    assert all(as_utc(r["due_at"]) == parse_utc(DUE_FU) for r in rows), rows

    once_ok(practice, DUE_FU)
    once_ok(practice, shift(DUE_FU, hours=2))
    rows = practice.messages("purpose = 'follow_up'")
    assert [r["status"] for r in rows] == ["sent", "sent"], rows
    assert all(r["appointment_id"] == appt and r["channel"] == "email"
               for r in rows)
    assert not practice.messages("purpose != 'follow_up'")
    for addr, partner in ((SAM, "Alex"), (ALEX, "Sam")):
        got = mails_to(smtp, addr)
        assert len(got) == 1, addr
        body = text_body(got[0])
        assert "Tuesday 3 November 2026" in got[0]["Subject"]
        assert f"take some time with {partner} to decide together whether " \
               "you would like to continue" in " ".join(body.split()), body
    assert len(client_mails(smtp)) == 2


@pytest.mark.parametrize("when", ["before", "after planning"])
def test_no_follow_up_after_cancelled_assessment(practice, smtp, when):
    sam, alex, case, appt = follow_setup(
        practice, status="cancelled" if when == "before" else "booked")
    once_ok(practice, shift(S1, minutes=100))
    if when != "before":
        assert len(practice.messages("purpose = 'follow_up' AND status = 'pending'")) == 2
        practice.set("UPDATE appointments SET status = 'cancelled' WHERE id = ?", appt)
        once_ok(practice, shift(S1, minutes=110))   # cancelled at once
        assert [r["status"] for r in practice.messages(
            "purpose = 'follow_up'")] == ["cancelled", "cancelled"]
    once_ok(practice, DUE_FU)
    once_ok(practice, shift(DUE_FU, hours=3))
    assert client_mails(smtp) == []
    assert practice.messages("status IN ('pending', 'sent', 'sending')") == []
    for r in practice.messages("purpose = 'follow_up'"):
        assert r["status"] == "cancelled" and r["last_error"], r


def test_no_follow_up_for_a_session(practice, smtp):
    follow_setup(practice, kind="session")
    for t in (shift(S1, minutes=100), DUE_FU, shift(DUE_FU, hours=3)):
        once_ok(practice, t)
    assert client_mails(smtp) == []
    assert practice.messages("purpose = 'follow_up'") == []


def test_closed_case_cancels_pending_follow_up(practice, smtp):
    sam, alex, case, appt = follow_setup(practice)
    once_ok(practice, shift(S1, minutes=100))
    assert len(practice.messages("purpose = 'follow_up' AND status = 'pending'")) == 2
    practice.set("UPDATE cases SET closed_at = '2026-11-03T12:00:00Z' WHERE id = ?",
                 case)
    once_ok(practice, shift(S1, minutes=110))       # well before it is due
    rows = practice.messages("purpose = 'follow_up'")
    assert [r["status"] for r in rows] == ["cancelled", "cancelled"], rows
    once_ok(practice, DUE_FU)
    assert client_mails(smtp) == []


# ---------------------------------------------------------------- config

@pytest.mark.parametrize("at,chans,bad", [
    ("22:00", ["email", "sms"], True),
    ("07:30", ["email", "sms"], True),
    ("20:00", ["email", "sms"], False),
    ("22:00", ["email"], False),
])
def test_check_config_homework_in_quiet_hours(practice, at, chans, bad):
    practice.write_conf(
        email={"url": "smtp://127.0.0.1:1", "ca_file": "/dev/null"},
        sms={"enabled": True, "provider": "twilio", "url": "http://127.0.0.1:9",
             "account": "AC0123456789abcdef0123456789abcdef", "token": "tok",
             "from": "+447700900000"},
        homework={"at": at, "channels": chans})
    r = practice.run("--check-config")
    if not bad:
        assert r.returncode == 0, r.stderr
        assert f"{practice.conf}: OK" in r.stdout + r.stderr
        return
    assert r.returncode == 78, (r.returncode, r.stderr)
    line = practice.line_of(f'at = "{at}"')
    assert re.search(rf"^{re.escape(str(practice.conf))}:{line}: .*quiet",
                     r.stderr, re.M), r.stderr
