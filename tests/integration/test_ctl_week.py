"""A practice's first week with nudgectl (issue 8): send-test without a
password, status, problems, the outbox's filters, the weekly report, the
warnings before a mistake, dates, column widths, upcoming's numbers.

Uses test_nudgectl's Ctl helper (a temp config and database, the real
binary, the SQLite file read back directly).
"""

import datetime as dt
import os
import sqlite3
import subprocess
import unicodedata

import pytest

from test_nudgectl import CONF, CTL, LONDON, Ctl, _closed_port  # noqa: F401

NUDGED = os.path.join(os.path.dirname(CTL), "nudged")


@pytest.fixture
def c(tmp_path):
    c = Ctl(tmp_path)
    c.ok("init")
    return c


def future(days, hour=14, today=None):
    """days after today (or the date given), at hour:00, for --at."""
    d = (today or dt.date.today()) + dt.timedelta(days=days)
    return f"{d.isoformat()} {hour:02d}:00"


def london_today():
    """Today in the practice's zone, which nudgectl's "today" is in (not
    necessarily this machine's: London's Monday begins on Sunday at
    23:00 UTC in summer)."""
    return dt.datetime.now(LONDON).date()


def monday_of(d):
    return d - dt.timedelta(days=d.weekday())


# ---- 4. send-test with the secret only in systemd's hands ------------------

def test_send_test_without_any_password_says_so(tmp_path):
    c = Ctl(tmp_path)
    c.conf.write_text(CONF.format(db=c.db, port=_closed_port()).replace(
        'timeout = "5s";', 'timeout = "5s"; username = "appointments";'))
    c.ok("init")
    line = c.fails(78, "send-test", "--to", "sam@example.org")
    assert "no SMTP password was available to nudgectl" in line
    assert "password_file" in line and "systemd-run" in line
    assert "LoadCredential=smtp-password:" in line
    # the command to copy: this config, and the credential file its unit
    # loads (DIR/smtp-password for nudged.conf, DIR/NAME.smtp-password
    # for NAME.conf, as nudged@NAME.service)
    conf = os.path.abspath(c.conf)
    d, base = os.path.split(conf)
    name = base[:-5] if base.endswith(".conf") else base
    cred = os.path.join(d, "smtp-password" if name == "nudged"
                        else f"{name}.smtp-password")
    assert line.endswith(f"LoadCredential=smtp-password:{cred} nudgectl -c "
                         f"{conf} send-test --to ADDRESS"), line
    assert c.count("messages") == 0         # nothing was tried


# ---- 5. status, and a paused channel in --once's summary -------------------

from conftest import PRACTICE_EMAIL, mails_to, text_body  # noqa: E402

APPT = "2026-12-10T14:00:00Z"
NOW = "2026-12-08T14:00:00Z"        # the 48h reminder is due


def test_status_all_well_exits_0(c):
    r = c.run("status")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert f"database:    {c.db}" in out
    assert "service:     not running" in out
    assert "last pass:   none recorded yet" in out
    assert "email        on, working" in out
    assert "sms          off in the config" in out
    assert "waiting:     0 messages" in out
    assert "nothing needs attention" in out


def test_paused_channel_in_once_summary_and_status(ready):
    ready.write_password("wrong")
    sam, alex, case, appt = ready.couple(APPT)
    r = ready.once(NOW)
    assert r.returncode == 75, r.stderr
    summary = [l for l in r.stderr.splitlines() if "pass done" in l]
    assert len(summary) == 1 and "email channel PAUSED" in summary[0], \
        r.stderr
    r = ready.ctl("status")
    assert r.returncode == 1, (r.stdout, r.stderr)
    out = r.stdout
    assert "email        PAUSED: " in out
    assert "waiting: 2, next try" in out
    assert "last pass:   2026-12-08 14:00: 2 planned, 0 sent" in out
    assert "waiting:     2 messages; next: message" in out
    assert "ATTENTION:   email channel paused" in out


def test_status_shows_the_running_service(c):
    p = subprocess.Popen([NUDGED, "-c", str(c.conf)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import time
        deadline = time.time() + 10
        while True:
            r = c.run("status")
            if f"running (pid {p.pid})" in r.stdout or time.time() > deadline:
                break
            time.sleep(0.05)
        assert f"service:     running (pid {p.pid})" in r.stdout, r.stdout
    finally:
        p.terminate()
        p.wait(timeout=15)


# ---- 6. problems, and the digest pointing at it ---------------------------

def test_problems_lists_unreadable_rows_and_digest_points_there(ready):
    sam, alex, case, appt = ready.couple(APPT)
    ready.set("INSERT INTO appointments (case_id, starts_at) VALUES (?, ?)",
              case, "next tuesday")
    r = ready.ctl("problems")
    assert r.returncode == 0 and "no unreadable rows" in r.stdout
    r = ready.once(NOW)
    assert r.returncode == 0, r.stderr
    r = ready.ctl("problems")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["TABLE", "ROW", "SINCE", "PROBLEM"]
    assert lines[1].startswith("appointments")
    assert "next tuesday" in lines[1]
    digest = mails_to(ready.smtp, PRACTICE_EMAIL)
    assert len(digest) == 1
    body = text_body(digest[0])
    assert "nudgectl problems" in body
    assert "outbox --failed" not in body
    r = ready.ctl("status")
    assert r.returncode == 1
    assert "unreadable:  1 booking row (see: nudgectl problems)" in r.stdout


# ---- 7. outbox filters, names, order; the weekly report --------------------

def seed_outbox(c):
    c.ok("client", "add", "--name", "Sam Taylor", "--email", "sam@example.org")
    c.ok("client", "add", "--name", "Zoë Ångström", "--email", "zoe@example.org")
    con = sqlite3.connect(str(c.db))
    rows = [
        # id, client, status, due, sent
        (1, 1, "sent", "2026-11-30T09:00:00Z", "2026-11-30T09:00:05Z"),
        (2, 2, "failed", "2026-12-01T09:00:00Z", None),
        (3, 1, "sent", "2026-12-02T09:00:00Z", "2026-12-02T09:00:03Z"),
        (4, 2, "cancelled", "2026-12-03T09:00:00Z", None),
        (5, 1, "pending", "2026-12-09T09:00:00Z", None),
        (6, 2, "pending", "2026-12-08T09:00:00Z", None),
        (7, 1, "sent", "2026-11-20T09:00:00Z", "2026-11-20T09:00:01Z"),
    ]
    with con:
        for i, cl, st, due, sent in rows:
            con.execute(
                "INSERT INTO messages (id, purpose, client_id, channel,"
                " recipient, due_at, status, attempts, last_error, sent_at,"
                " created_at, updated_at) VALUES (?, 'reminder', ?, 'email',"
                " ?, ?, ?, 1, ?, ?, ?, ?)",
                (i, cl, "sam@example.org" if cl == 1 else "zoe@example.org",
                 due, st, "550 no such user" if st == "failed" else None,
                 sent, due, sent or due))
    con.close()


def ids(out):
    return [int(l.split()[0]) for l in out.splitlines()[1:]
            if l and l[0].isdigit()]


def test_outbox_names_filters_and_order(c):
    seed_outbox(c)
    out = c.ok("outbox")
    head = out.splitlines()[0].split()
    assert "CLIENT" in head
    assert "Zoë Ångström" in out and "Sam Taylor" in out
    # Newest settled first, then what waits (next due first).
    assert ids(out) == [4, 3, 2, 1, 7, 6, 5]
    assert ids(c.ok("outbox", "--status", "sent")) == [3, 1, 7]
    assert ids(c.ok("outbox", "--failed")) == [2]
    assert ids(c.ok("outbox", "--client", "2")) == [4, 2, 6]
    assert ids(c.ok("outbox", "--since", "2026-11-30",
                    "--until", "2026-12-02")) == [3, 2, 1]
    assert ids(c.ok("outbox", "--status", "pending", "--client", "1")) == [5]
    assert "no pending messages matching" in c.ok(
        "outbox", "--status", "pending", "--until", "2026-11-01")
    line = c.fails(64, "outbox", "--status", "lost")
    assert "--status is one of" in line


def test_report_week_per_client(c):
    seed_outbox(c)
    out = c.ok("report", "--week", "2026-12-02")
    lines = out.splitlines()
    assert lines[0] == ("Messages due from Monday 30 November 2026 to "
                        "Sunday 6 December 2026")
    assert lines[1].split() == ["CLIENT", "NAME", "SENT", "FAILED",
                                "CANCELLED", "SKIPPED", "WAITING"]
    sam = [l for l in lines if "Sam Taylor" in l][0]
    zoe = [l for l in lines if "Zoë Ångström" in l][0]
    assert sam.split()[-5:] == ["2", "0", "0", "0", "0"]
    assert zoe.split()[-5:] == ["0", "1", "1", "0", "0"]
    total = [l for l in lines if l.split()[:1] == ["total"]][0]
    assert total.split()[-5:] == ["2", "1", "1", "0", "0"]
    assert "nudgectl outbox --status failed --since 2026-11-30" in out
    # "cancelled" is not "cancellation notices": said under the table
    assert ("Cancelled and skipped: planned messages not sent, because the"
            " appointment moved") in out
    assert ("nudgectl outbox --status cancelled, or --status skipped, --since"
            " 2026-11-30") in out
    # Columns line up whatever the letters (display width, not bytes).
    assert len(sam) == len(zoe) == len(lines[1])
    assert c.ok("report", "--week=2026-12-06") == out
    assert c.ok("report", "2026-11-30") == out
    assert "no messages that week" in c.ok("report", "--week", "2026-10-01")
    # No date: the week of today in London.  report has no --now, so the
    # two runs read the clock at two moments: when London's week changed
    # around them (Sunday to Monday, midnight), they are compared once
    # more.
    for _ in range(2):
        today = london_today()
        plain = c.ok("report")
        dated = c.ok("report", "--week", today.isoformat())
        if monday_of(london_today()) == monday_of(today):
            break
    assert plain == dated


# ---- 10. impossible dates -------------------------------------------------

@pytest.mark.parametrize("args,needle", [
    (["outbox", "--since", "2026-02-30"], "February 2026 has 28 days"),
    (["report", "--week", "2026-12-32"], "December 2026 has 31 days"),
    (["book", "--case", "1", "--at", "2026-13-01 10:00"], "no month 13"),
    (["book", "--case", "1", "--at", "2026-12-01 25:00"],
     "25:00 is not a time of day"),
    (["upcoming", "--now", "2026-02-29T10:00:00Z"],
     "February 2026 has 28 days"),
    (["homework", "add", "--case", "1", "--title", "t", "--prompt", "p",
      "--starts-on", "2026-04-31"], "April 2026 has 30 days"),
])
def test_impossible_dates_are_called_impossible(c, args, needle):
    line = c.fails(64, *args)
    assert "impossible date" in line and needle in line, line


def test_malformed_dates_still_show_the_form(c):
    line = c.fails(64, "outbox", "--since", "30/11/2026")
    assert "wants a date YYYY-MM-DD" in line and "impossible" not in line


def test_nudged_now_impossible(c):
    r = subprocess.run([NUDGED, "-c", str(c.conf), "--once", "--now",
                        "2026-12-32T10:00:00Z"], capture_output=True,
                       text=True)
    assert r.returncode == 64
    assert "impossible date" in r.stderr and "December 2026 has 31 days" \
        in r.stderr, r.stderr
    r = subprocess.run([NUDGED, "-c", str(c.conf), "--once", "--now",
                        "2026-12-01 10:00"], capture_output=True, text=True)
    assert r.returncode == 64 and "not a time of the form" in r.stderr


# ---- 9. columns line up with non-ASCII names --------------------------------

def test_columns_line_up_by_display_width(c):
    names = ["Sam Taylor", "Zoë Ångström", "李小龍 Lee"]
    for n in names:
        c.ok("client", "add", "--name", n, "--email", "x@example.org")
    c.ok("case", "add", "--label", "Zoë & Ångström", "--client", "2")
    c.ok("case", "add", "--label", "Sam", "--client", "1")
    c.ok("book", "--case", "1", "--at", future(3))
    c.ok("book", "--case", "2", "--at", future(4))

    def width(s):
        return sum(0 if unicodedata.combining(ch) else
                   2 if unicodedata.east_asian_width(ch) in "WF" else 1
                   for ch in s)

    def col_of(line, text):
        return width(line[:line.index(text)])

    out = c.ok("client", "list").splitlines()
    at = [col_of(l, "x@example.org") for l in out[1:]]
    assert at == [col_of(out[0], "EMAIL")] * 3, out
    out = c.ok("appointments").splitlines()
    at = [col_of(l, "session") for l in out[1:]]
    assert at == [col_of(out[0], "KIND")] * 2, out
    out = c.ok("case", "list").splitlines()
    assert col_of(out[1], " 2 Zoë") == col_of(out[2], " 1 Sam"), out


# ---- 8. warnings before the practice gets hurt; undo commands --------------

def warnings(r):
    return [l for l in r.stderr.splitlines() if "warning" in l]


def test_client_warnings_change_still_made(c):
    c.ok("client", "add", "--name", "Sam Taylor", "--email", "sam@example.org")
    r = c.run("client", "add", "--name", "sam taylor", "--email",
              "other@example.org")
    assert r.returncode == 0 and "client 2 added" in r.stdout
    w = warnings(r)
    assert len(w) == 1 and "client 1 has the same name" in w[0], r.stderr
    r = c.run("client", "add", "--name", "Alex Morgan", "--email",
              "SAM@example.org")
    assert r.returncode == 0
    assert "client 1 has the same email address" in r.stderr
    r = c.run("client", "add", "--name", "Kim Lee", "--email", "kim@gmailcom")
    assert r.returncode == 0 and c.count("clients") == 4
    assert "no dot in its domain" in r.stderr
    r = c.run("client", "add", "--name", "Nobody Reachable")
    assert r.returncode == 0 and "client 5 added" in r.stdout
    assert "no email and no phone" in r.stderr
    # edit: only what changed is checked
    r = c.run("client", "edit", "5", "--email", "kim@gmailcom")
    assert r.returncode == 0
    assert "client 4 has the same email" in r.stderr
    r = c.run("client", "edit", "5", "--clear-email")
    assert "no email and no phone" in r.stderr
    r = c.run("client", "edit", "1", "--first-name", "Sammy")
    assert r.returncode == 0 and r.stderr == ""
    # a number without consent to text it, and no email: nobody is reached
    r = c.run("client", "add", "--name", "Pat Quinn", "--phone", "07700 900123")
    assert r.returncode == 0 and "client 6 added" in r.stdout
    assert "has no email and no consent to SMS: nudged can never" in r.stderr
    r = c.run("client", "edit", "6", "--sms-consent")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    r = c.run("client", "edit", "1", "--no-email-consent")
    assert "has no consent to email and no phone" in r.stderr


def test_client_name_of_blanks_refused(c):
    """A name of blanks would be a row nudged cannot use (every message
    held): refused with one line, for a new client and an edit alike,
    and nothing changed."""
    line = c.fails(65, "client", "add", "--name", "   ", "--email",
                   "s@example.org")
    assert "name must not be only blanks" in line, line
    assert "s@example.org" not in c.ok("client", "list")
    c.ok("client", "add", "--name", "Sam Jones", "--email", "s@example.org")
    line = c.fails(65, "client", "edit", "1", "--name", "  ")
    assert "name must not be only blanks" in line, line
    assert "Sam Jones" in c.ok("client", "list")


def test_double_booking_is_warned_but_booked(c):
    c.ok("client", "add", "--name", "Sam Taylor", "--email", "s@example.org")
    c.ok("client", "add", "--name", "Kim Lee", "--email", "k@example.org")
    c.ok("case", "add", "--label", "Sam", "--client", "1")
    c.ok("case", "add", "--label", "Kim", "--client", "2")
    today = dt.date.today()     # once: the clashes are on the same day
    c.ok("book", "--case", "1", "--at", future(5, 14, today))
    r = c.run("book", "--case", "2", "--at", future(5, 14, today).replace(
        ":00", ":30"))
    assert r.returncode == 0 and "appointment 2 booked" in r.stdout
    assert "double-booked: appointment 1 of case 1 (Sam)" in r.stderr
    r = c.run("book", "--case", "2", "--at", future(6, 10, today))
    assert r.returncode == 0 and r.stderr == ""
    r = c.run("move", "3", "--to", future(5, 13, today).replace(":00", ":30"))
    assert r.returncode == 0 and "double-booked" in r.stderr
    assert c.count("appointments") == 3


def test_case_close_with_future_appointments(c):
    c.ok("client", "add", "--name", "Sam Taylor", "--email", "s@example.org")
    c.ok("case", "add", "--label", "Sam", "--client", "1")
    c.ok("book", "--case", "1", "--at", future(5), "--weekly", "2")
    r = c.run("case", "close", "1")
    assert r.returncode == 0 and "case 1 closed" in r.stdout
    assert "still has 2 booked appointments ahead" in r.stderr
    assert "--cancel-future" in r.stderr
    # on a closed case, --cancel-future still cancels what is ahead
    out = c.ok("case", "close", "1", "--cancel-future")
    assert "2 future appointments of case 1 cancelled" in out
    assert [a["status"] for a in c.q("SELECT status FROM appointments")] == \
        ["cancelled", "cancelled"]
    c.fails(65, "case", "close", "1", "--cancel-future")   # nothing left
    out = c.ok("case", "reopen", "1")
    assert out.startswith("case 1 reopened: Sam")
    assert c.q("SELECT closed_at FROM cases")[0]["closed_at"] is None
    assert "is open" in c.fails(65, "case", "reopen", "1")
    c.ok("book", "--case", "1", "--at", future(20))
    out = c.ok("case", "close", "1", "--cancel-future")
    assert "1 future appointment of case 1 cancelled" in out
    assert "case 1 closed" in out


def test_client_delete_only_without_appointments(c):
    c.ok("client", "add", "--name", "Sam Taylor", "--email", "s@example.org")
    c.ok("client", "add", "--name", "Typo Taylor", "--email", "t@example.org")
    c.ok("case", "add", "--label", "Sam", "--client", "1")
    c.ok("case", "add", "--label", "Typo", "--client", "2")
    c.ok("book", "--case", "1", "--at", future(5))
    line = c.fails(65, "client", "delete", "1")
    assert "1 appointment" in line and "opt-out" in line
    out = c.ok("client", "delete", "2")
    assert out == "client 2 deleted: Typo Taylor\n"
    assert [r["id"] for r in c.q("SELECT id FROM clients")] == [1]
    assert [r["id"] for r in c.q("SELECT id FROM cases")] == [1]
    assert "client 9 does not exist" in c.fails(65, "client", "delete", "9")


def test_weekly_series_skips_practice_closed_dates(c):
    start = dt.date.today() + dt.timedelta(days=3)
    holiday = start + dt.timedelta(days=7)
    c.conf.write_text(c.conf.read_text().replace(
        'video_url = "https://meet.example.org/hughes";',
        'video_url = "https://meet.example.org/hughes";\n'
        f'  closed = ["{holiday.isoformat()}", "2099-12-25"];'))
    c.ok("client", "add", "--name", "Sam Taylor", "--email", "s@example.org")
    c.ok("case", "add", "--label", "Sam", "--client", "1")
    out = c.ok("book", "--case", "1", "--at", f"{start} 14:00", "--weekly", "3")
    assert f"{holiday} skipped: the practice is closed" in out
    days = sorted(r["starts_at"][:10] for r in
                  c.q("SELECT starts_at FROM appointments"))
    assert holiday.isoformat() not in days and len(days) == 2
    r = c.run("book", "--case", "1", "--at", f"{holiday} 09:00")
    assert r.returncode == 0 and "closed on" in r.stderr
    bad = c.conf.read_text().replace('"2099-12-25"', '"2099-12-32"')
    c.conf.write_text(bad)
    r = c.run("client", "list")
    assert r.returncode == 78 and "closed" in r.stderr


# ---- 11. --check-config names example values still in place ---------------

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def test_check_config_warns_about_example_values():
    shipped = os.path.join(ROOT, "conf", "nudged.conf")
    r = subprocess.run([NUDGED, "-c", shipped, "--check-config"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and f"{shipped}: OK" in r.stdout
    w = [l for l in r.stderr.splitlines() if "example config" in l]
    assert len(w) == 1, r.stderr
    for key in ("email.url (\"smtp://mail.example.org:587\")",
                "practice.phone", "practice.email", "sms.account",
                "email.from"):
        assert key in w[0], w[0]


def test_check_config_quiet_for_a_real_practice(tmp_path):
    conf = tmp_path / "nudged.conf"
    conf.write_text("""
practice = { name = "Riverside Couples Practice"; practitioner = "Dana Reed";
             email = "dana@riverside-couples.co.uk"; phone = "0117 496 0000"; };
database = "%s/x.db";
email = { enabled = true; url = "smtp://smtp.riverside-couples.co.uk:587";
          from = "Dana Reed <diary@riverside-couples.co.uk>"; };
""" % tmp_path)
    r = subprocess.run([NUDGED, "-c", str(conf), "--check-config"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "example config" not in r.stderr


# ---- 12. upcoming shows no made-up message ids ----------------------------

def test_upcoming_shows_only_real_message_ids(ready):
    sam, alex, case, appt = ready.couple(APPT)
    r = ready.ctl("upcoming", "--now", "2026-12-07T09:00:00Z", "--days", "3")
    assert r.returncode == 0, r.stderr
    heads = [l for l in r.stdout.splitlines() if l.startswith("2026-")]
    assert len(heads) == 2, r.stdout
    assert all(l.endswith(", not yet in the outbox") for l in heads), heads
    assert "msg=" not in r.stdout
    # Once nudged planned them, the ids shown are the outbox's own.
    assert ready.once("2026-12-07T09:00:00Z").returncode == 0
    real = {m["id"] for m in ready.messages()}
    r = ready.ctl("upcoming", "--now", "2026-12-07T09:00:00Z", "--days", "3")
    shown = {int(l.rsplit("msg=", 1)[1]) for l in r.stdout.splitlines()
             if "msg=" in l}
    assert shown == real and len(real) == 2
