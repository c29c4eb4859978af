"""nudged's command line: exit codes follow sysexits.h (64 for usage)."""

import pytest

EX_USAGE = 64


def test_version(practice):
    r = practice.run("--version", conf=False)
    assert r.returncode == 0, r.stderr
    assert "nudged" in r.stdout
    assert any(c.isdigit() for c in r.stdout)


def test_help(practice):
    r = practice.run("--help", conf=False)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for opt in ("--config", "--check-config", "--once", "--now", "--dry-run"):
        assert opt in out, opt


def test_unknown_option(practice):
    r = practice.run("--frobnicate", conf=False)
    assert r.returncode == EX_USAGE
    assert r.stderr.strip()


def test_unexpected_argument(practice, ready):
    r = ready.run("--once", "extra-argument")
    assert r.returncode == EX_USAGE


@pytest.mark.parametrize("bad", [
    "2026-12-01T14:00:00",         # no Z
    "2026-12-01 14:00:00Z",        # no T
    "2026-12-01T14:00Z",           # no seconds
    "2026-12-01T14:00:00+00:00",   # another form
    "2026-02-30T10:00:00Z",        # impossible date
    "2026-13-01T10:00:00Z",
    "2026-12-01T24:00:00Z",
    "2026-12-01T14:00:00Zjunk",
    "tomorrow",
    "",
])
def test_bad_now_is_usage_error(ready, bad):
    before = ready.messages()
    r = ready.run("--once", "--now", bad)
    assert r.returncode == EX_USAGE, (bad, r.returncode, r.stderr)
    assert ready.messages() == before


def test_now_needs_once_or_dry_run(ready):
    r = ready.run("--now", "2026-12-01T14:00:00Z", timeout=20)
    assert r.returncode == EX_USAGE


def test_now_missing_value(ready):
    r = ready.run("--once", "--now")
    assert r.returncode == EX_USAGE


def test_good_now_accepted(ready):
    r = ready.once("2026-12-01T14:00:00Z")
    assert r.returncode == 0, r.stderr
    r = ready.run("--dry-run", "--now", "2026-12-01T14:00:00Z")
    assert r.returncode == 0, r.stderr


def test_leap_day_accepted(ready):
    r = ready.once("2028-02-29T10:00:00Z")
    assert r.returncode == 0, r.stderr


def test_dry_run_on_a_missing_database_says_so(practice):
    """--dry-run writes nothing, so it does not create the database: a
    missing one is exit 74 with the reason, not SQLite's bare "unable to
    open database file"."""
    practice.write_conf()
    assert not practice.db.exists()
    r = practice.run("--dry-run", "--now", "2026-12-01T14:00:00Z")
    assert r.returncode == 74, r.stderr
    assert f"{practice.db}: cannot open database: No such file or directory" \
        in r.stderr, r.stderr
    assert not practice.db.exists()


def test_once_creates_database(practice, smtp):
    practice.write_conf()
    assert not practice.db.exists()
    r = practice.once("2026-12-01T14:00:00Z")
    assert r.returncode == 0, r.stderr
    assert practice.db.exists()
    assert practice.messages() == []
    v = practice.query("PRAGMA user_version")[0]["user_version"]
    assert v >= 1


def test_database_that_cannot_be_created(practice, smtp, tmp_path):
    practice.write_conf(database=str(tmp_path / "no" / "such" / "dir" / "x.db"))
    r = practice.once("2026-12-01T14:00:00Z")
    assert r.returncode == 74, (r.returncode, r.stderr)


def test_adopts_booking_tool_database(practice, smtp):
    """A database whose contract tables a booking tool made (user_version 0)."""
    import sqlite3
    from conftest import CONTRACT_SCHEMA
    con = sqlite3.connect(str(practice.db))
    con.executescript(CONTRACT_SCHEMA)
    con.close()
    practice.write_conf()
    sam, alex, case, appt = practice.couple("2026-12-03T14:00:00Z")
    r = practice.once("2026-12-01T14:00:00Z")
    assert r.returncode == 0, r.stderr
    smtp.wait_for(2)
    assert {tuple(m["rcpt_tos"]) for m in smtp.messages} == {
        ("sam@example.org",), ("alex@example.org",)}
    assert practice.query("SELECT count(*) AS n FROM clients")[0]["n"] == 2
