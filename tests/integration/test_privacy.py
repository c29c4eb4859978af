"""Data care (issue 14): erasure, subject access export, the consent record,
retention, the weekly summary and the service-failed alert.

Each test runs the real binaries against the real SMTP server of conftest
and reads the SQLite file back: what the database holds and what arrived at
the server are both checked.
"""

import datetime as dt
import getpass
import json
import os
import re
import sqlite3
import subprocess
from zoneinfo import ZoneInfo

import pytest

from conftest import (NUDGECTL, PRACTICE_EMAIL, ROOT, Raw, mails_to, rules,
                      shift, text_body)
from fake_sms import FakeTwilio
from test_sms import configure as sms_configure, solo as sms_solo

T = "2026-12-03T14:00:00Z"          # Thursday 3 December 2026, 14:00 GMT
DUE_48H = shift(T, hours=-48)
DUE_24H = shift(T, hours=-24)

SAM = {"name": "Sam Taylor", "email": "sam@example.org",
       "phone": "07700 900123", "e164": "+447700900123"}
ALEX_EMAIL = "alex@example.org"

# A reminder that names the partner when there is one.
PARTNER_TEMPLATE = Raw(
    '{ reminder = { email_text = "Hello {{first_name}}'
    '{{#partner_first_name}}, and {{partner_first_name}} too{{/partner_first_name}}'
    ': see you on {{date}} at {{time}}."; }; }')

EX_TEMPFAIL = 75


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r


def insert_msg(practice, client, status, due, purpose="reminder",
               channel="email", recipient="x@example.org", last_error=None,
               alerted=1):
    return practice.set(
        "INSERT INTO messages (purpose, client_id, channel, recipient, due_at,"
        " status, last_error, created_at, alerted) VALUES (?,?,?,?,?,?,?,?,?)",
        purpose, client, channel, recipient, due, status, last_error, due,
        alerted)


def couple_with_phone(practice, starts_at=T):
    sam = practice.add_client(SAM["name"], email=SAM["email"], phone=SAM["phone"],
                              sms_consent=1)
    alex = practice.add_client("Alex Morgan", email=ALEX_EMAIL)
    case = practice.add_case("Sam & Alex", [sam, alex])
    return sam, alex, case, practice.book(case, starts_at)


def every_text_value(db):
    """(table, column, value) for every value of every table, as text."""
    con = sqlite3.connect(str(db))
    try:
        out = []
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        for t in tables:
            cur = con.execute(f'SELECT * FROM "{t}"')
            cols = [d[0] for d in cur.description]
            for row in cur:
                for c, v in zip(cols, row):
                    if v is not None:
                        out.append((t, c, str(v)))
        return out
    finally:
        con.close()


# ---------------------------------------------------------------------------
# erasure

def test_forget_leaves_no_trace_and_the_partner_is_not_named(practice, smtp):
    practice.write_conf(reminders=rules("48h", "24h"),
                        extra=f"templates = {PARTNER_TEMPLATE};")
    practice.init()
    sam, alex, case, appt = couple_with_phone(practice)
    practice.set("INSERT INTO homework (case_id, title, prompt, starts_on)"
                 " VALUES (?, 'Listening', 'Sam Taylor speaks first; write to"
                 " SAM@example.org', '2026-12-01')", case)
    ok(practice.once(DUE_48H))
    # Before: both were reminded, each with the partner named.
    [to_sam] = mails_to(smtp, SAM["email"])
    [to_alex] = mails_to(smtp, ALEX_EMAIL)
    assert "and Alex too" in text_body(to_sam)
    assert "and Sam too" in text_body(to_alex)
    # A failure reply quoting Sam's number, and a 24h reminder still pending.
    insert_msg(practice, sam, "failed", DUE_48H, channel="sms",
               recipient=SAM["e164"],
               last_error=f"21211 {SAM['e164']} is not a valid number")
    pending = practice.messages("client_id = ? AND status = 'pending'", sam)
    assert pending, "the 24h reminder should be planned"

    # Another connection (a booking tool, idle) keeps the -wal file alive.
    tool = sqlite3.connect(str(practice.db))
    tool.execute("SELECT count(*) FROM clients").fetchall()
    wal = str(practice.db) + "-wal"
    r = ok(practice.ctl("client", "forget", str(sam), "--yes"))
    assert f"client {sam} forgotten" in r.stdout
    assert "database compacted" in r.stdout

    # Not one byte of the file (after VACUUM and a TRUNCATE checkpoint).
    needles = [SAM["name"], SAM["email"], SAM["phone"], SAM["e164"],
               "07700900123"]
    assert os.path.exists(wal) and os.path.getsize(wal) == 0
    for path in (practice.db, wal):
        data = open(path, "rb").read().lower()
        for n in needles:
            assert n.lower().encode() not in data, (path, n)
    tool.close()
    # Nor any column of any table.
    for t, c, v in every_text_value(practice.db):
        for n in needles:
            assert n.lower() not in v.lower(), (t, c, v)

    row = practice.query("SELECT * FROM clients WHERE id = ?", sam)[0]
    assert row["name"] == "forgotten client"
    assert row["email"] is None and row["phone"] is None
    assert row["first_name"] is None
    assert (row["email_consent"], row["sms_consent"]) == (0, 0)
    assert row["opted_out_at"] is not None
    # The couple's case is Alex's alone now, and no longer named after Sam.
    assert [m["client_id"] for m in practice.query(
        "SELECT client_id FROM case_members WHERE case_id = ?", case)] == [alex]
    assert practice.query("SELECT label FROM cases WHERE id = ?",
                          case)[0]["label"] == "Alex Morgan"
    for m in practice.messages("client_id = ?", sam):
        assert m["recipient"] == "" and m["provider_ref"] is None
        assert m["status"] != "pending"
    assert [m["last_error"] for m in practice.messages(
        "client_id = ? AND status = 'cancelled'", sam)] == \
        ["client forgotten"] * len(pending)
    # The consent record keeps what happened, without the person.
    how = practice.query("SELECT DISTINCT how FROM consent_log WHERE"
                         " client_id = ? AND how LIKE '%forget%'", sam)
    assert how and how[0]["how"].startswith("nudgectl client forget (user ")

    # The 24h reminders: only Alex gets one, and it does not name Sam.
    before = len(smtp.messages)
    ok(practice.once(DUE_24H))
    new = smtp.messages[before:]
    assert [m["rcpt_tos"] for m in new] == [[ALEX_EMAIL]]
    body = text_body(new[0]["message"])
    assert "Sam" not in body and "too" not in body, body
    assert mails_to(smtp, SAM["email"]) == [to_sam]


def test_forget_is_refused_while_a_message_to_them_is_sending(practice, smtp):
    practice.write_conf()
    practice.init()
    sam, alex, case, appt = couple_with_phone(practice)
    insert_msg(practice, sam, "sending", DUE_48H, recipient=SAM["email"])
    r = practice.ctl("client", "forget", str(sam), "--yes")
    assert r.returncode == EX_TEMPFAIL, (r.stdout, r.stderr)
    assert "sending" in r.stderr and r.stdout == ""
    row = practice.query("SELECT name, email FROM clients WHERE id = ?", sam)[0]
    assert row == {"name": SAM["name"], "email": SAM["email"]}
    assert practice.query("SELECT count(*) AS n FROM case_members WHERE"
                          " client_id = ?", sam)[0]["n"] == 1
    assert smtp.messages == []


def test_forget_asks_first(practice):
    practice.write_conf(email=False)
    practice.init()
    sam = practice.add_client(SAM["name"], email=SAM["email"])

    def forget(answer):
        return subprocess.run([NUDGECTL, "-c", str(practice.conf), "client",
                               "forget", str(sam)], input=answer, text=True,
                              capture_output=True, timeout=60)

    r = forget("no\n")
    assert r.returncode == 1 and "not confirmed" in r.stderr
    assert "Sam Taylor" in r.stderr          # the prompt says who
    assert practice.query("SELECT name FROM clients")[0]["name"] == SAM["name"]
    r = forget("")                             # no answer at all
    assert r.returncode == 1
    r = forget("yes\n")
    assert r.returncode == 0, r.stderr
    assert practice.query("SELECT name FROM clients")[0]["name"] == \
        "forgotten client"


# ---------------------------------------------------------------------------
# subject access export

def test_export_holds_everything_about_the_client_and_only_the_partners_name(
        practice, smtp):
    practice.write_conf(reminders=rules("48h"))
    practice.init()
    sam, alex, case, appt = couple_with_phone(practice)
    practice.set("UPDATE clients SET phone = '07700 900456' WHERE id = ?", alex)
    hw = practice.set("INSERT INTO homework (case_id, title, prompt, starts_on)"
                      " VALUES (?, 'Pause', 'Take three breaths.', '2026-12-04')",
                      case)
    ok(practice.once(DUE_48H))
    ok(practice.ctl("client", "edit", str(sam), "--no-sms-consent"))
    [mail] = mails_to(smtp, SAM["email"])

    r = ok(practice.ctl("client", "export", str(sam)))
    data = json.loads(r.stdout)
    assert data["client"]["name"] == SAM["name"]
    assert data["client"]["email"] == SAM["email"]
    assert data["client"]["phone"] == SAM["phone"]
    assert [c["id"] for c in data["cases"]] == [case]
    assert data["partners"] == [{"case_id": case, "name": "Alex Morgan"}]
    assert [a["id"] for a in data["appointments"]] == [appt]
    assert [h["id"] for h in data["homework"]] == [hw]
    assert data["homework"][0]["prompt"] == "Take three breaths."
    msgs = data["messages"]
    assert msgs and all(m["client_id"] == sam for m in msgs)
    sent = [m for m in msgs if m["status"] == "sent"]
    assert len(sent) == 1 and sent[0]["recipient"] == SAM["email"]
    # the Message-ID the SMTP server received is the one recorded
    assert mail["Message-ID"].strip("<>") == sent[0]["provider_ref"]
    assert "not stored" in data["note"]
    changes = [(c["what"], c["old_value"], c["new_value"])
               for c in data["consent_log"]]
    assert ("sms_consent", 1, 0) in changes
    # Nothing of Alex's but the name.
    for needle in (ALEX_EMAIL, "07700 900456", f'"id": {alex}'):
        assert needle not in r.stdout, needle
    assert all(m["client_id"] != alex for m in msgs)

    t = ok(practice.ctl("client", "export", str(sam), "--format", "text")).stdout
    assert "== client" in t and f"email: {SAM['email']}" in t
    assert "== messages" in t and "== consent_log" in t
    assert ALEX_EMAIL not in t and "name: Alex Morgan" in t
    # read by the client: every column under messages is explained
    legend = [l for l in t.splitlines() if l.startswith("How to read it:")]
    assert len(legend) == 1, t
    cols = {row["name"] for row in practice.query("PRAGMA table_info(messages)")}
    assert {c for c in cols if c not in legend[0]} <= {"id", "appointment_id",
                                                      "homework_id", "client_id"}

    r = practice.ctl("client", "export", "99")
    assert r.returncode == 65 and "does not exist" in r.stderr
    r = practice.ctl("client", "export", str(sam), "--format", "xml")
    assert r.returncode == 64


# ---------------------------------------------------------------------------
# consent record

def test_consent_changes_are_logged_with_who_and_how(practice, smtp):
    practice.write_conf(reminders=rules("48h"))
    practice.init()
    r = ok(practice.ctl("client", "add", "--name", "Sam Taylor", "--email",
                        SAM["email"]))
    sam = int(r.stdout.split()[1])
    alex = practice.add_client("Alex Morgan", email=ALEX_EMAIL)
    case = practice.add_case("Sam & Alex", [sam, alex])
    practice.book(case, T)
    user = getpass.getuser()

    ok(practice.ctl("client", "edit", str(sam), "--discreet"))
    ok(practice.ctl("client", "opt-out", str(sam)))
    ok(practice.ctl("client", "opt-in", str(sam)))
    # A booking tool withdraws email consent behind nudgectl's back.
    practice.set("UPDATE clients SET email_consent = 0 WHERE id = ?", sam)
    ok(practice.once(DUE_48H))

    log = practice.query("SELECT * FROM consent_log WHERE client_id = ?"
                         " ORDER BY id", sam)
    got = [(x["what"], x["old_value"], x["new_value"], x["how"]) for x in log]
    add = f"nudgectl client add (user {user})"
    assert got[:4] == [("email_consent", None, 1, add),
                       ("sms_consent", None, 0, add),
                       ("opted_out", None, 0, add),
                       ("discreet", None, 0, add)]
    assert got[4:] == [
        ("discreet", 0, 1, f"nudgectl client edit (user {user})"),
        ("opted_out", 0, 1, f"nudgectl client opt-out (user {user})"),
        ("opted_out", 1, 0, f"nudgectl client opt-in (user {user})"),
        ("email_consent", 1, 0, "changed outside nudged (seen by nudged)"),
    ]
    assert log[-1]["changed_at"] == DUE_48H     # the pass that noticed it
    # Alex, written by the tool, is recorded as first seen by that pass.
    first = practice.query("SELECT what, new_value, how FROM consent_log"
                           " WHERE client_id = ? ORDER BY id", alex)
    assert [x["how"] for x in first] == ["first seen by nudged"] * 4
    # The withdrawn consent held: only Alex was mailed.
    assert mails_to(smtp, SAM["email"]) == []
    assert len(mails_to(smtp, ALEX_EMAIL)) == 1
    # A second pass records nothing new.
    n = len(log)
    ok(practice.once(shift(DUE_48H, minutes=5)))
    assert practice.query("SELECT count(*) AS n FROM consent_log WHERE"
                          " client_id = ?", sam)[0]["n"] == n

    show = ok(practice.ctl("client", "show", str(sam))).stdout
    assert "consent history:" in show
    assert "email_consent 1 -> 0  changed outside nudged" in show
    assert f"opted_out 0 -> 1  nudgectl client opt-out (user {user})" in show


def test_stop_reply_is_logged_as_the_providers(practice, smtp):
    with FakeTwilio(token="tw-token-1") as twilio:
        sms_configure(practice, twilio)
        sam, appt = sms_solo(practice)
        twilio.script([("400", 21610)])
        ok(practice.once(shift(T, hours=-3)))
    log = practice.query("SELECT what, old_value, new_value, how FROM consent_log"
                         " WHERE client_id = ? AND old_value IS NOT NULL", sam)
    assert len(log) == 1, log
    assert (log[0]["what"], log[0]["old_value"], log[0]["new_value"]) == \
        ("sms_consent", 1, 0)
    assert "provider reply" in log[0]["how"] and "21610" in log[0]["how"]
    # the SMS reminder failed; the email fallback reached the client
    assert len(mails_to(smtp, "sam@example.org")) == 1


# ---------------------------------------------------------------------------
# retention

def test_retention_reduces_old_rows_and_dry_run_says_what(practice, smtp):
    practice.write_conf(reminders=rules("48h"),
                        privacy={"keep_messages": "400d",
                                 "keep_appointments": "30d"})
    practice.init()
    sam, alex, case, appt = couple_with_phone(practice)
    practice.set("UPDATE appointments SET mode = 'online', video_url ="
                 " 'https://meet.example.org/room-sam' WHERE id = ?", appt)
    hw = practice.set("INSERT INTO homework (case_id, title, prompt, starts_on,"
                      " ends_on) VALUES (?, 'Pause', 'Take three breaths.',"
                      " '2026-11-20', '2026-12-02')", case)
    ok(practice.once(DUE_48H))
    assert len(mails_to(smtp, SAM["email"])) == 1
    assert len(mails_to(smtp, ALEX_EMAIL)) == 1
    sent = practice.messages("status = 'sent'")
    assert len(sent) == 2

    # 35 days on: the appointment's link and the homework's words go,
    # the outbox (kept 400 days) does not.
    later = shift(T, days=35)
    r = ok(practice.run("--dry-run", "--now", later))
    assert "would remove" in r.stdout
    assert "of 0 outbox rows" in r.stdout
    assert "video links of 1 appointment " in r.stdout
    assert "words of 1 homework" in r.stdout
    assert practice.query("SELECT video_url FROM appointments")[0]["video_url"]
    r = ok(practice.once(later))
    assert "retention: 0 outbox rows" in r.stderr
    assert "1 appointment and 1 homework" in r.stderr
    assert practice.query("SELECT video_url FROM appointments WHERE id = ?",
                          appt)[0]["video_url"] is None
    h = practice.query("SELECT title, prompt, active FROM homework WHERE id = ?",
                       hw)[0]
    assert h == {"title": "", "prompt": "", "active": 0}
    # the outbox keeps its rows; only its copy of the link (detail) goes
    assert [dict(m, detail=None) for m in practice.messages(
        "status = 'sent'")] == [dict(m, detail=None) for m in sent]
    assert all(m["detail"] is None for m in practice.messages())

    # 401 days on: the outbox rows keep only what statistics need.
    much_later = shift(T, days=401)
    settled = practice.messages("status <> 'pending'")
    assert len(settled) >= 2         # the reminders, skipped homework prompts
    n = len(settled)
    r = ok(practice.run("--dry-run", "--now", much_later))
    assert f"of {n} outbox rows settled before" in r.stdout
    assert practice.messages("status <> 'pending'") == settled  # dry: unchanged
    r = ok(practice.once(much_later))
    assert f"retention: {n} outbox rows settled before" in r.stderr
    for m in practice.messages("status <> 'pending'"):
        assert m["recipient"] == "" and m["last_error"] is None
    after = practice.messages("status = 'sent'")
    for old, new in zip(sent, after):
        assert new["recipient"] == "" and new["provider_ref"] is None
        assert new["last_error"] is None
        for k in ("id", "purpose", "channel", "status", "due_at", "sent_at",
                  "client_id", "appointment_id"):
            assert new[k] == old[k], k
    r = ok(practice.once(shift(much_later, minutes=1)))
    assert "retention: 0 outbox rows" in r.stderr
    # nothing more was sent because of any of it
    assert len(smtp.messages) == 2


def test_retention_names_only_what_is_set(practice):
    """With one of the two privacy keys set, retention speaks of that one
    alone, with its date (no "0 outbox rows settled before -")."""
    practice.write_conf(email=False, privacy={"keep_messages": "",
                                              "keep_appointments": "30d"})
    practice.init()
    r = ok(practice.run("--dry-run", "--now", T))
    line = [l for l in r.stdout.splitlines() if l.startswith("retention")]
    assert len(line) == 1, r.stdout
    assert re.fullmatch(r"retention \(privacy\.keep_appointments\)"
                        r" would remove: video links of 0 appointments and the"
                        r" words of 0 homework before 2026-11-03", line[0]), line
    r = ok(practice.once(T))
    assert ("retention: 0 appointments and 0 homework before 2026-11-03 "
            "reduced\n") in r.stderr, r.stderr
    assert "outbox rows" not in r.stderr and " -" not in line[0]


def test_retention_settings_are_checked(practice):
    practice.write_conf(email=False, privacy={"keep_messages": "3d"})
    r = practice.run("--check-config")
    assert r.returncode == 78
    assert f":{practice.line_of('keep_messages')}:" in r.stderr
    assert "at least" in r.stderr
    practice.write_conf(email=False, privacy={"keep_messages": "soon"})
    r = practice.run("--check-config")
    assert r.returncode == 78 and "400d" in r.stderr
    practice.write_conf(email=False, alerts={"weekly": "Funday 16:00"})
    r = practice.run("--check-config")
    assert r.returncode == 78 and "Fri 16:00" in r.stderr
    assert f":{practice.line_of('weekly')}:" in r.stderr
    practice.write_conf(email=False, privacy={"keep_messages": "",
                                              "keep_appointments": "3650d"},
                        alerts={"weekly": "friday 09:30", "names": True})
    r = practice.run("--check-config")
    assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------------------
# weekly summary

FRI = "2026-12-04T16:00:00Z"        # Friday 4 December 2026, 16:00 GMT


def weekly_mails(smtp):
    return [m for m in mails_to(smtp, PRACTICE_EMAIL)
            if "weekly summary" in m["Subject"]]


def test_weekly_summary_once_a_week(practice, smtp):
    practice.write_conf(reminders=rules("48h"),
                        alerts={"weekly": "Fri 16:00"})
    practice.init()
    sam, alex, case, appt = couple_with_phone(practice,
                                              starts_at="2026-12-08T10:00:00Z")
    week = shift(FRI, days=-3)
    insert_msg(practice, sam, "sent", week)
    insert_msg(practice, alex, "sent", week)
    failed = insert_msg(practice, sam, "failed", week,
                        last_error="550 no such user")
    insert_msg(practice, sam, "cancelled", week)
    insert_msg(practice, sam, "skipped", week, last_error="no SMS consent")
    insert_msg(practice, alex, "skipped", week, last_error="no SMS consent")
    insert_msg(practice, sam, "sent", shift(FRI, days=-9))   # last week
    practice.set("INSERT INTO problems (tbl, row_id, what, first_seen, alerted)"
                 " VALUES ('appointments', 77, 'unreadable starts_at', ?, 1)", week)
    practice.set("INSERT INTO state (key, value) VALUES ('pause.sms',"
                 " '2 authentication refused')")

    # Never sent yet: the week to the last Friday's moment goes at once.
    ok(practice.once(shift(FRI, minutes=-5)))
    [first] = weekly_mails(smtp)
    assert "Friday 27 November 2026" in first["Subject"]
    assert "- sent: 1" in text_body(first).splitlines()
    ok(practice.once(shift(FRI, minutes=-1)))
    assert len(weekly_mails(smtp)) == 1
    ok(practice.once(shift(FRI, minutes=5)))
    [_, w] = weekly_mails(smtp)
    body = text_body(w)
    assert "Friday 4 December 2026" in w["Subject"]
    for line in ("- sent: 2", "- failed: 1", "- cancelled: 1", "- skipped: 2",
                 "2 skipped: no SMS consent", f"failed: message {failed}",
                 "could not be read: 1", "sms channel is paused now: "
                 "authentication refused",
                 "Sessions booked in the coming week: 1",
                 f"appointment {appt}, case {case}, Tuesday 8 December 2026"
                 " at 10:00"):
        assert line in body, (line, body)
    # ids and dates only: no names, no addresses
    for n in ("Sam", "Alex", "example.org"):
        assert n not in body
    # at most once a week, in any later pass (each --once is a new process)
    ok(practice.once(shift(FRI, minutes=10)))
    ok(practice.once(shift(FRI, days=6)))
    assert len(weekly_mails(smtp)) == 2
    rows = practice.messages("purpose = 'alert' AND status = 'sent'")
    assert any(r["recipient"] == PRACTICE_EMAIL for r in rows)
    ok(practice.once(shift(FRI, days=7, minutes=1)))
    assert len(weekly_mails(smtp)) == 3


@pytest.mark.parametrize("fri1,fri2,due,session,booked", [
    # autumn 2027: Fri 29 Oct 16:00 BST (15:00Z), Fri 5 Nov 16:00 GMT
    # (16:00Z), 7 days and an hour apart: a message due at 16:30 BST on the
    # first Friday is in the second summary's week, a session at 15:30 GMT
    # on the second Friday in the first summary's coming week
    ("2027-10-29T15:00:00Z", "2027-11-05T16:00:00Z", "2027-10-29T15:30:00Z",
     "2027-11-05T15:30:00Z", [1, 0]),
    # spring 2027: Fri 26 Mar 16:00 GMT, Fri 2 Apr 16:00 BST (15:00Z), an
    # hour short of 7 days: a message due at 15:30 GMT on the first Friday
    # is in the first summary's week only, a session at 16:30 BST on the
    # second Friday in the second summary's coming week only
    ("2027-03-26T16:00:00Z", "2027-04-02T15:00:00Z", "2027-03-26T15:30:00Z",
     "2027-04-02T15:30:00Z", [0, 1]),
])
def test_weekly_summary_weeks_meet_across_the_clock_change(
        practice, smtp, fri1, fri2, due, session, booked):
    """Each message is counted in exactly one weekly summary, and each
    session is listed in the coming week of exactly one, in the weeks
    the clocks change: the weeks run from one Friday 16:00 (London) to
    the next, not 7 x 24 hours back from the latest."""
    practice.write_conf(reminders=[], alerts={"weekly": "Fri 16:00"})
    practice.init()
    sam, alex, case, _ = couple_with_phone(practice, starts_at=session)
    insert_msg(practice, sam, "sent", due)
    ok(practice.once(shift(fri1, minutes=5)))
    ok(practice.once(shift(fri2, minutes=5)))
    first, second = (text_body(w).replace("\r\n", "\n")
                     for w in weekly_mails(smtp))
    sent = [int(re.search(r"^- sent: (\d+)$", w, re.M).group(1))
            for w in (first, second)]
    listed = [int(re.search(r"coming week: (\d+)$", w, re.M).group(1))
              for w in (first, second)]
    assert sum(sent) == 1, (sent, first, second)
    assert listed == booked, (listed, first, second)


def test_weekly_summary_names_only_when_asked(practice, smtp):
    practice.write_conf(reminders=rules("48h"),
                        alerts={"weekly": "Fri 16:00", "names": True})
    practice.init()
    couple_with_phone(practice, starts_at="2026-12-08T10:00:00Z")
    ok(practice.once(shift(FRI, minutes=1)))
    [w] = weekly_mails(smtp)
    assert "(Sam & Alex)" in text_body(w)


def test_no_weekly_summary_by_default(practice, smtp):
    practice.write_conf(reminders=rules("48h"))
    practice.init()
    couple_with_phone(practice, starts_at="2026-12-08T10:00:00Z")
    ok(practice.once(shift(FRI, minutes=1)))
    assert weekly_mails(smtp) == []


def test_weekly_summary_that_could_not_go_is_tried_again_later(practice, smtp):
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    dead = f"smtp://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()                       # nobody listens: connection refused
    practice.write_conf(reminders=rules("48h"), email={"url": dead},
                        alerts={"weekly": "Fri 16:00", "every": "1h"})
    practice.init()
    ok(practice.once(shift(FRI, minutes=1)))
    tries = practice.messages("purpose = 'alert'")
    assert [t["status"] for t in tries] == ["failed"]
    assert practice.query("SELECT value FROM state WHERE key = 'weekly.last'") == []
    # within alerts.every: no new try
    ok(practice.once(shift(FRI, minutes=30)))
    assert len(practice.messages("purpose = 'alert'")) == 1
    # the server is back, an hour later: it goes, once
    practice.write_conf(reminders=rules("48h"),
                        alerts={"weekly": "Fri 16:00", "every": "1h"})
    ok(practice.once(shift(FRI, minutes=62)))
    ok(practice.once(shift(FRI, minutes=63)))
    [w] = weekly_mails(smtp)
    assert "Friday 4 December 2026" in w["Subject"]
    assert [t["status"] for t in practice.messages("purpose = 'alert'")] == \
        ["failed", "sent"]


# ---------------------------------------------------------------------------
# service failed

def test_service_failed_alert_mails_the_practitioner(practice, smtp):
    practice.write_conf()
    practice.init()
    r = ok(practice.ctl("alert", "--service-failed", env={
        "MONITOR_SERVICE_RESULT": "exit-code", "MONITOR_EXIT_CODE": "exited",
        "MONITOR_EXIT_STATUS": "74"}))
    assert "alert sent to" in r.stdout
    [m] = mails_to(smtp, PRACTICE_EMAIL)
    assert "nudged has stopped" in m["Subject"]
    body = text_body(m)
    assert "exit-code, exited 74" in body and "journalctl -u nudged" in body
    [row] = practice.messages("purpose = 'alert'")
    assert row["status"] == "sent"
    assert row["provider_ref"] == m["Message-ID"].strip("<>")


def test_service_failed_alert_goes_without_a_database(practice, smtp):
    practice.write_conf(database=str(practice.dir / "missing" / "x.db"))
    r = ok(practice.ctl("alert", "--service-failed"))
    assert "without an outbox row" in r.stderr
    [m] = mails_to(smtp, PRACTICE_EMAIL)
    assert "could not be opened" in text_body(m)


def test_service_failed_alert_needs_its_option(practice):
    practice.write_conf(email=False)
    r = practice.ctl("alert")
    assert r.returncode == 64 and "--service-failed" in r.stderr


def test_units_wire_the_failure_alert():
    unit = open(os.path.join(ROOT, "systemd", "nudged.service")).read()
    assert "OnFailure=nudged-failed.service" in unit
    # a crash loop must end in "failed" for OnFailure= to fire at all
    assert re.search(r"(?m)^StartLimitBurst=\d+$", unit)
    assert re.search(r"(?m)^StartLimitIntervalSec=\S+$", unit)
    failed = open(os.path.join(ROOT, "systemd", "nudged-failed.service")).read()
    assert re.search(r"(?m)^ExecStart=/usr/local/bin/nudgectl .*"
                     r"alert --service-failed$", failed)
    assert "User=nudged" in failed
    assert "LoadCredential=smtp-password:" in failed


def test_failed_unit_verifies(tmp_path):
    import shutil
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is absent (Debian package systemd)")
    text = open(os.path.join(ROOT, "systemd", "nudged-failed.service")).read()
    unit = tmp_path / "nudged-failed.service"
    unit.write_text(text.replace("/usr/local/bin/nudgectl", NUDGECTL))
    r = subprocess.run([analyze, "verify", "--man=no", str(unit)],
                       capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    bad = [line for line in out.splitlines() if any(
        w in line.lower() for w in ("unknown", "failed", "invalid", "ignoring"))]
    assert bad == [], out


def monday_9_now():
    """The weekly moment of alerts.weekly = "Mon 09:00" now (the last
    Monday 09:00 London not after now, as policy/weekly.c's weekly_slot),
    written as the state key weekly.last holds it."""
    now = dt.datetime.now(ZoneInfo("Europe/London"))
    t = dt.datetime.combine(now.date() - dt.timedelta(days=now.weekday()),
                            dt.time(9, 0), tzinfo=now.tzinfo)
    if t > now:
        t -= dt.timedelta(days=7)
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_service_runs_retention_and_the_weekly_summary(practice, smtp):
    import time
    from test_service import Service
    practice.write_conf(reminders=rules("48h"),
                        alerts={"weekly": "Mon 09:00"})
    practice.init()
    sam = practice.add_client(SAM["name"], email=SAM["email"])
    old = insert_msg(practice, sam, "sent", "2024-01-05T10:00:00Z",
                     recipient=SAM["email"])
    svc = Service(practice)
    try:
        end = time.monotonic() + 15
        while time.monotonic() < end and not (
                weekly_mails(smtp) and "retention:" in svc.log):
            time.sleep(0.1)
        assert len(weekly_mails(smtp)) == 1, svc.log
        assert "retention: 1 outbox row settled before" in svc.log
        row = practice.query("SELECT recipient, status FROM messages"
                             " WHERE id = ?", old)[0]
        assert row == {"recipient": "", "status": "sent"}
        rc, _ = svc.stop()
        assert rc == 0, svc.log
    finally:
        svc.close()
    # a restart does not send the week's summary again.  The services
    # run on the real clock: a new week (Monday 09:00 London) that began
    # after the summary went makes the next one due, and it goes at the
    # next pass (a restart, or the service's own rescan).  A restart is
    # the check only when it ran wholly inside the week summarised; else
    # it may send the new week's summary, no more, and is tried again
    # (three tries reach a restart inside the new week).
    for _ in range(3):
        [last] = practice.query("SELECT value FROM state"
                                " WHERE key = 'weekly.last'")
        sent = len(weekly_mails(smtp))
        svc = Service(practice)
        try:
            time.sleep(1.5)
            assert svc.alive(), svc.log
            again = len(weekly_mails(smtp)) - sent
            rc, _ = svc.stop()
            assert rc == 0, svc.log
        finally:
            svc.close()
        if monday_9_now() == last["value"]:
            break
        assert again <= 1, svc.log
    else:
        pytest.fail(f"weekly.last {last['value']} is not {monday_9_now()}")
    assert again == 0, svc.log
