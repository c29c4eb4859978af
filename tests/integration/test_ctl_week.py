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
