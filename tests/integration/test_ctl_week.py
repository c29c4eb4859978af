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

from test_nudgectl import CONF, CTL, Ctl, _closed_port  # noqa: F401

NUDGED = os.path.join(os.path.dirname(CTL), "nudged")


@pytest.fixture
def c(tmp_path):
    c = Ctl(tmp_path)
    c.ok("init")
    return c


def future(days, hour=14):
    d = dt.date.today() + dt.timedelta(days=days)
    return f"{d.isoformat()} {hour:02d}:00"


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
