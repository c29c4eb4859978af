"""nudgectl end to end: every subcommand's happy path and its errors.

Self-contained (own fixtures, prefixed ctl_): a temp config with the
database in tmp_path, the real nudgectl binary from $NUDGED_BUILD (default
build/), and the SQLite file read back directly.  Exit codes are the
sysexits the contract promises: 64 usage, 65 data refused, 74 database,
75 a send that may work later, 78 config.
"""

import datetime as dt
import os
import re
import sqlite3
import subprocess
import threading
from zoneinfo import ZoneInfo

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("NUDGED_BUILD") or os.path.join(ROOT, "build")
if not os.path.isabs(BUILD):
    BUILD = os.path.join(ROOT, BUILD)
CTL = os.path.join(BUILD, "nudgectl")
LONDON = ZoneInfo("Europe/London")
UTC = dt.timezone.utc

CONF = """\
practice = {{
  name = "Hughes Relationship Therapy";
  practitioner = "Christian Hughes";
  timezone = "Europe/London";
  email = "christian@example.org";
  video_url = "https://meet.example.org/hughes";
}};
database = "{db}";
email = {{
  enabled = true;
  url = "smtp://127.0.0.1:{port}";
  tls = "none";
  from = "Christian Hughes <appointments@example.org>";
  timeout = "5s";
}};
reminders = ( {{ before = "48h"; channel = "email"; }} );
"""

ALL_COMMANDS = [
    ["init"], ["client", "add"], ["client", "list"], ["client", "show"],
    ["client", "edit"], ["client", "opt-out"], ["client", "opt-in"],
    ["case", "add"], ["case", "list"], ["case", "close"], ["book"],
    ["cancel"], ["move"], ["homework", "add"], ["homework", "list"],
    ["homework", "stop"], ["upcoming"], ["outbox"], ["send-test"],
    ["status"], ["problems"], ["report"], ["case", "reopen"],
    ["client", "delete"],
]


def _closed_port():
    """A loopback port nobody listens on (connections are refused)."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Ctl:
    def __init__(self, tmp_path, port=None):
        self.dir = tmp_path
        self.db = tmp_path / "practice.db"
        self.conf = tmp_path / "nudged.conf"
        self.write_conf(port or _closed_port())

    def write_conf(self, port):
        self.conf.write_text(CONF.format(db=self.db, port=port))
        os.chmod(self.conf, 0o600)

    def run(self, *args, conf=None):
        assert os.access(CTL, os.X_OK), f"{CTL} missing: run make"
        argv = [CTL, "-c", str(conf or self.conf)] + [str(a) for a in args]
        return subprocess.run(argv, capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)

    def ok(self, *args):
        r = self.run(*args)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        assert r.stderr == "" or "warning" in r.stderr, r.stderr
        return r.stdout

    def fails(self, code, *args):
        r = self.run(*args)
        assert r.returncode == code, (args, r.returncode, r.stdout, r.stderr)
        assert r.stdout == "", r.stdout     # nothing claimed as done
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr    # one clear line
        assert lines[0].startswith("nudgectl: ")
        return lines[0]

    def q(self, sql, *params):
        con = sqlite3.connect(str(self.db))
        con.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in con.execute(sql, params)]
        finally:
            con.close()

    def count(self, table):
        return self.q(f"SELECT count(*) AS n FROM {table}")[0]["n"]

    def snapshot(self):
        return {t: self.q(f"SELECT * FROM {t} ORDER BY rowid")
                for t in ("clients", "cases", "case_members", "appointments",
                          "homework", "messages")}


@pytest.fixture
def ctl_env(tmp_path):
    c = Ctl(tmp_path)
    out = c.ok("init")
    assert out.startswith(f"database {c.db} ready (schema ")
    return c


@pytest.fixture
def ctl_couple(ctl_env):
    c = ctl_env
    c.ok("client", "add", "--name", "Sam Taylor", "--email", "sam@example.org",
         "--phone", "07700 900123", "--sms-consent")
    c.ok("client", "add", "--name", "Alex Moore", "--email", "alex@example.org")
    c.ok("case", "add", "--label", "Sam & Alex", "--client", "1",
         "--client", "2")
    return c


def future_local(days=30, hour=14, minute=0):
    d = dt.datetime.now(LONDON).date() + dt.timedelta(days=days)
    return dt.datetime(d.year, d.month, d.day, hour, minute, tzinfo=LONDON)


def at_arg(t):
    return t.strftime("%Y-%m-%d %H:%M")


def utc_text(t):
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def last_sunday(year, month):
    d = dt.date(year, month + 1, 1) - dt.timedelta(days=1)
    return d - dt.timedelta(days=(d.weekday() + 1) % 7)


def next_year():
    return dt.date.today().year + 1


# ---- help, usage, config, database -----------------------------------------

def test_top_level_help_lists_commands(tmp_path):
    r = subprocess.run([CTL, "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for cmd in ALL_COMMANDS:
        assert " ".join(cmd) in r.stdout


@pytest.mark.parametrize("cmd", ALL_COMMANDS, ids=" ".join)
def test_every_command_help_exits_0_without_config(cmd):
    r = subprocess.run([CTL, "-c", "/nonexistent/nudged.conf"] + cmd +
                       ["--help"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: nudgectl " + " ".join(cmd))


@pytest.mark.parametrize("group", ["client", "case", "homework"])
def test_group_help(group):
    r = subprocess.run([CTL, group, "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    assert f"nudgectl {group} add" in r.stdout


@pytest.mark.parametrize("argv", [
    [], ["frobnicate"], ["client"], ["client", "frob"], ["client", "list", "--bogus"],
    ["book", "--case"], ["client", "show", "abc"], ["cancel", "1", "2"], ["-x"],
])
def test_usage_errors_exit_64(ctl_env, argv):
    ctl_env.fails(64, *argv)


def test_missing_config_exits_78(tmp_path):
    missing = tmp_path / "nope.conf"
    r = subprocess.run([CTL, "-c", str(missing), "client", "list"],
                       capture_output=True, text=True)
    assert r.returncode == 78
    assert str(missing) in r.stderr
    assert not (tmp_path / "practice.db").exists()


def test_bad_config_exits_78_naming_the_file(tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text('practice = { name = "x"; };\nbogus_key = 1;\n')
    os.chmod(bad, 0o600)
    r = subprocess.run([CTL, "-c", str(bad), "init"], capture_output=True,
                       text=True)
    assert r.returncode == 78
    assert str(bad) in r.stderr


def test_unopenable_database_exits_74(tmp_path):
    c = Ctl(tmp_path)
    c.conf.write_text(CONF.format(db=tmp_path / "no" / "such" / "dir.db",
                                  port=_closed_port()))
    r = c.run("init")
    assert r.returncode == 74, r.stderr
    assert r.stderr.startswith("nudgectl: ")


def test_init_creates_schema_and_is_repeatable(ctl_env):
    c = ctl_env
    version = c.q("PRAGMA user_version")[0]["user_version"]
    assert version >= 1
    out = c.ok("init")
    assert out == f"database {c.db} ready (schema {version})\n"
    for t in ("clients", "cases", "case_members", "appointments", "homework",
              "messages"):
        assert c.count(t) == 0


# ---- clients ---------------------------------------------------------------

def test_client_add_and_read_back(ctl_env):
    c = ctl_env
    out = c.ok("client", "add", "--name", "Sam Taylor", "--email",
               "sam@example.org", "--phone", "07700 900123", "--sms-consent",
               "--discreet")
    assert out == "client 1 added: Sam Taylor\n"
    out = c.ok("client", "add", "--name", "Zoë Ångström", "--first-name", "Zo",
               "--no-email-consent")
    assert out == "client 2 added: Zoë Ångström\n"
    rows = c.q("SELECT * FROM clients ORDER BY id")
    assert rows[0] == dict(id=1, name="Sam Taylor", first_name=None,
                           email="sam@example.org", phone="07700 900123",
                           email_consent=1, sms_consent=1, discreet=1,
                           opted_out_at=None)
    assert rows[1]["first_name"] == "Zo" and rows[1]["email_consent"] == 0
    assert rows[1]["sms_consent"] == 0 and rows[1]["email"] is None

    listing = c.ok("client", "list")
    assert re.search(r"^1 +Sam Taylor +sam@example\.org +07700 900123 +"
                     r"email sms discreet$", listing, re.M)
    assert re.search(r"^2 +Zoë Ångström +- +- *$", listing, re.M)
    show = c.ok("client", "show", "1")
    assert "Sam Taylor" in show and "sam@example.org" in show
    assert "07700 900123" in show


@pytest.mark.parametrize("args", [
    ["--name", "X", "--email", "not-an-address"],
    ["--name", "X", "--email", "sam@example.org\r\nBcc: evil@example.org"],
    ["--name", "X", "--email", "Sam <sam@example.org>"],
    ["--name", "Sam\r\nBcc: evil@example.org"],
    ["--name", "Tab\there"],
    ["--name", ""],
    ["--name", "X", "--first-name", "A\nB"],
    ["--name", "X", "--phone", "0770"],
    ["--name", "X", "--phone", "call me"],
    ["--name", b"bad \xff utf8".decode("utf-8", "surrogateescape")],
])
def test_client_add_refuses_bad_data(ctl_env, args):
    ctl_env.fails(65, "client", "add", *args)
    assert ctl_env.count("clients") == 0


def test_client_add_needs_a_name(ctl_env):
    ctl_env.fails(64, "client", "add", "--email", "sam@example.org")
    assert ctl_env.count("clients") == 0


def test_client_show_unknown(ctl_env):
    assert "client 7 does not exist" in ctl_env.fails(65, "client", "show", "7")


def test_client_edit(ctl_couple):
    c = ctl_couple
    out = c.ok("client", "edit", "1", "--email", "sam.t@example.org",
               "--no-sms-consent", "--clear-phone", "--first-name", "Sammy")
    assert out.startswith("client 1 updated: Sam Taylor (")
    row = c.q("SELECT * FROM clients WHERE id = 1")[0]
    assert row["email"] == "sam.t@example.org" and row["phone"] is None
    assert row["sms_consent"] == 0 and row["first_name"] == "Sammy"
    assert row["email_consent"] == 1 and row["name"] == "Sam Taylor"
    c.ok("client", "edit", "1", "--clear-first-name", "--no-email-consent",
         "--discreet")
    row = c.q("SELECT * FROM clients WHERE id = 1")[0]
    assert row["first_name"] is None and row["email_consent"] == 0
    assert row["discreet"] == 1


def test_client_edit_errors_change_nothing(ctl_couple):
    c = ctl_couple
    before = c.snapshot()
    c.fails(65, "client", "edit", "9", "--discreet")
    c.fails(64, "client", "edit", "1")
    c.fails(64, "client", "edit", "1", "--email", "a@b.org", "--clear-email")
    c.fails(65, "client", "edit", "1", "--name", "Sam", "--email", "bad@")
    c.fails(65, "client", "edit", "2", "--phone", "12")
    assert c.snapshot() == before


def test_client_opt_out_and_in(ctl_couple):
    c = ctl_couple
    out = c.ok("client", "opt-out", "2")
    assert out.startswith("client 2 opted out: Alex Moore")
    stamp = c.q("SELECT opted_out_at FROM clients WHERE id = 2")[0]["opted_out_at"]
    when = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((dt.datetime.now(UTC) - when).total_seconds()) < 120
    c.fails(65, "client", "opt-out", "2")
    assert c.ok("client", "list").count("OPTED-OUT") == 1
    assert c.ok("client", "opt-in", "2") == "client 2 opted in: Alex Moore\n"
    assert c.q("SELECT opted_out_at FROM clients WHERE id = 2")[0]["opted_out_at"] is None
    c.fails(65, "client", "opt-in", "2")
    c.fails(65, "client", "opt-out", "42")


# ---- cases -----------------------------------------------------------------

def test_case_add_list_close(ctl_couple):
    c = ctl_couple
    assert c.q("SELECT * FROM case_members ORDER BY client_id") == [
        dict(case_id=1, client_id=1), dict(case_id=1, client_id=2)]
    c.ok("client", "add", "--name", "Kim Lee", "--email", "kim@example.org")
    out = c.ok("case", "add", "--label", "Kim", "--client", "3")
    assert out == "case 2 added: Kim (client 3 Kim Lee)\n"
    listing = c.ok("case", "list")
    assert re.search(r"^1 +open +Sam & Alex +1 Sam Taylor, 2 Alex Moore$",
                     listing, re.M)
    out = c.ok("case", "close", "2")
    assert out.startswith("case 2 closed: Kim")
    assert c.q("SELECT closed_at FROM cases WHERE id = 2")[0]["closed_at"]
    assert re.search(r"^2 +closed +Kim", c.ok("case", "list"), re.M)
    c.fails(65, "case", "close", "2")
    c.fails(65, "case", "close", "99")


def test_case_add_errors_write_nothing(ctl_couple):
    c = ctl_couple
    before = c.snapshot()
    # the second client does not exist: neither the case nor member 1 stays
    assert "client 99 does not exist" in c.fails(
        65, "case", "add", "--label", "X", "--client", "1", "--client", "99")
    c.fails(64, "case", "add", "--label", "X", "--client", "1",
            "--client", "2", "--client", "1")
    c.fails(64, "case", "add", "--label", "X", "--client", "1", "--client", "1")
    c.fails(64, "case", "add", "--client", "1")
    c.fails(65, "case", "add", "--label", "A\nB", "--client", "1")
    assert c.snapshot() == before


# ---- appointments ----------------------------------------------------------

def test_book_defaults_and_local_time(ctl_couple):
    c = ctl_couple
    t = future_local(days=40, hour=14)
    out = c.ok("book", "--case", "1", "--at", at_arg(t))
    day = f"{t:%A} {t.day} {t:%B %Y}"
    assert out == (f"appointment 1 booked: case 1 (Sam & Alex), session on "
                   f"{day} at 14:00, 60 minutes, in person\n")
    c.ok("book", "--case", "1", "--at", at_arg(t + dt.timedelta(days=1)),
         "--kind", "assessment", "--video-url", "https://meet.example.org/x")
    c.ok("book", "--case", "1", "--at", at_arg(t + dt.timedelta(days=2)),
         "--kind", "call")
    c.ok("book", "--case", "1", "--at", at_arg(t + dt.timedelta(days=3)),
         "--duration", "45", "--mode", "online")
    rows = c.q("SELECT * FROM appointments ORDER BY id")
    assert rows[0]["starts_at"] == utc_text(t)
    assert [(r["kind"], r["duration_min"], r["mode"], r["video_url"],
             r["status"]) for r in rows] == [
        ("session", 60, "in_person", None, "booked"),
        ("assessment", 90, "online", "https://meet.example.org/x", "booked"),
        ("call", 15, "phone", None, "booked"),
        ("session", 45, "online", None, "booked")]
    listing = c.ok("appointments")
    assert listing.count("booked") == 4


def test_book_weekly_across_october_change_keeps_local_time(ctl_couple):
    c = ctl_couple
    change = last_sunday(next_year(), 10)
    first = change - dt.timedelta(days=10)
    out = c.ok("book", "--case", "1", "--at", f"{first} 18:00", "--weekly", "3")
    assert out.count("booked") == 3 and out.count(" at 18:00,") == 3
    rows = c.q("SELECT starts_at FROM appointments ORDER BY id")
    assert [r["starts_at"][11:] for r in rows] == [
        "17:00:00Z", "17:00:00Z", "18:00:00Z"]
    for i, r in enumerate(rows):
        local = dt.datetime.strptime(r["starts_at"], "%Y-%m-%dT%H:%M:%SZ") \
            .replace(tzinfo=UTC).astimezone(LONDON)
        assert (local.date(), local.hour, local.minute) == \
            (first + dt.timedelta(days=7 * i), 18, 0)


def test_book_in_spring_gap_means_an_hour_later(ctl_couple):
    c = ctl_couple
    gap = last_sunday(next_year(), 3)
    out = c.ok("book", "--case", "1", "--at", f"{gap} 01:30")
    assert " at 02:30," in out and "does not exist" in out
    assert c.q("SELECT starts_at FROM appointments")[0]["starts_at"] == \
        f"{gap}T01:30:00Z"


def test_book_and_move_in_autumn_repeat_say_which_one(ctl_couple):
    # 01:30 comes twice on the day the clocks go back: the first (BST) is
    # meant, and the practitioner is told so, as for the spring gap
    c = ctl_couple
    repeat = last_sunday(next_year(), 10)
    out = c.ok("book", "--case", "1", "--at", f"{repeat} 01:30")
    assert " at 01:30," in out and "comes twice" in out and "01:30 BST" in out
    assert c.q("SELECT starts_at FROM appointments")[0]["starts_at"] == \
        f"{repeat}T00:30:00Z"
    # an hour either side, and the day after, are said as they are
    for at in (f"{repeat} 00:30", f"{repeat} 02:30",
               f"{repeat + dt.timedelta(days=1)} 01:30"):
        out = c.ok("move", "1", "--to", at)
        assert "comes twice" not in out and "does not exist" not in out, out
    out = c.ok("move", "1", "--to", f"{repeat} 01:00")
    assert "comes twice" in out and "01:00 BST" in out
    gap = last_sunday(next_year(), 3)
    out = c.ok("move", "1", "--to", f"{gap} 01:15")
    assert " at 02:15" in out and "does not exist" in out, out


def test_book_series_is_all_or_nothing(ctl_couple):
    c = ctl_couple
    first = future_local(days=20, hour=18)
    third = first + dt.timedelta(days=14)
    c.ok("book", "--case", "1", "--at", at_arg(third))
    before = c.snapshot()
    line = c.fails(65, "book", "--case", "1", "--at", at_arg(first),
                   "--weekly", "3")
    assert "already has appointment 1" in line
    assert c.snapshot() == before       # weeks 1 and 2 were rolled back


def test_book_errors(ctl_couple):
    c = ctl_couple
    c.ok("client", "add", "--name", "Kim Lee")
    c.ok("case", "add", "--label", "Kim", "--client", "3")
    c.ok("case", "close", "2")
    t = at_arg(future_local(days=10))
    before = c.snapshot()
    assert "closed" in c.fails(65, "book", "--case", "2", "--at", t)
    assert "case 9 does not exist" in c.fails(65, "book", "--case", "9",
                                              "--at", t)
    assert "past" in c.fails(65, "book", "--case", "1", "--at",
                             "2020-06-01 10:00")
    for bad in ("tomorrow", "2030-02-30 10:00", "2030-01-01 25:00",
                "2030-01-01T10:00:00Z", "2030-01-01"):
        c.fails(64, "book", "--case", "1", "--at", bad)
    c.fails(64, "book", "--case", "1", "--at", t, "--kind", "therapy")
    c.fails(64, "book", "--case", "1", "--at", t, "--mode", "zoom")
    c.fails(64, "book", "--case", "1", "--at", t, "--duration", "0")
    c.fails(64, "book", "--case", "1", "--at", t, "--weekly", "x")
    c.fails(64, "book", "--case", "1", "--at", t, "--mode", "phone",
            "--video-url", "https://x.example.org/")
    c.fails(65, "book", "--case", "1", "--at", t, "--video-url", "ftp://x")
    c.fails(64, "book", "--at", t)
    assert c.snapshot() == before


def test_cancel(ctl_couple):
    c = ctl_couple
    t = future_local(days=12, hour=10)
    c.ok("book", "--case", "1", "--at", at_arg(t))
    out = c.ok("cancel", "1")
    first, hint = out.splitlines()
    assert first.startswith("appointment 1 cancelled: case 1 (Sam & Alex), ")
    assert first.endswith("at 10:00")
    # a cancel then a book would tell the client "cancelled" first
    assert hint == ("(clients already reminded get a cancellation notice; to"
                    " change the time instead: nudgectl move 1 --to"
                    " 'YYYY-MM-DD HH:MM')"), hint
    assert c.q("SELECT status FROM appointments")[0]["status"] == "cancelled"
    assert "cancelled already" in c.fails(65, "cancel", "1")
    c.fails(65, "cancel", "5")
    c.fails(64, "cancel", "x")
    c.fails(64, "cancel")


def test_move(ctl_couple):
    c = ctl_couple
    t = future_local(days=12, hour=10)
    c.ok("book", "--case", "1", "--at", at_arg(t), "--weekly", "2")
    new = t + dt.timedelta(days=1, hours=3)
    out = c.ok("move", "1", "--to", at_arg(new))
    assert out.startswith("appointment 1 moved: case 1 (Sam & Alex), from ")
    assert out.rstrip().endswith(" at 13:00")
    assert c.q("SELECT starts_at FROM appointments WHERE id = 1")[0][
        "starts_at"] == utc_text(new)
    before = c.snapshot()
    c.fails(65, "move", "1", "--to", "2020-01-01 10:00")
    c.fails(65, "move", "1", "--to", at_arg(t + dt.timedelta(days=7)))  # overlaps 2
    c.fails(65, "move", "1", "--to", at_arg(new))                       # no change
    c.fails(65, "move", "9", "--to", at_arg(new))
    c.fails(64, "move", "1", "--to", "next week")
    c.fails(64, "move", "1")
    c.ok("cancel", "2")
    before = c.snapshot()
    c.fails(65, "move", "2", "--to", at_arg(new + dt.timedelta(days=3)))
    assert c.snapshot() == before


# ---- homework --------------------------------------------------------------

def test_homework_add_list_stop(ctl_couple):
    c = ctl_couple
    start = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    out = c.ok("homework", "add", "--case", "1", "--title",
               "Pause before replying", "--prompt",
               "Take one breath before you answer.", "--starts-on", start)
    assert out.startswith('homework 1 added: case 1 (Sam & Alex), '
                          '"Pause before replying", every 2 days')
    end = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    c.ok("homework", "add", "--case", "1", "--title", "Walk", "--prompt",
         "A walk together.", "--starts-on", start, "--ends-on", end,
         "--every", "1", "--at", "08:30")
    rows = c.q("SELECT * FROM homework ORDER BY id")
    assert (rows[0]["every_days"], rows[0]["at_time"], rows[0]["ends_on"],
            rows[0]["active"], rows[0]["starts_on"]) == (2, None, None, 1, start)
    assert (rows[1]["every_days"], rows[1]["at_time"], rows[1]["ends_on"]) == \
        (1, "08:30", end)
    listing = c.ok("homework", "list")
    assert "Pause before replying" in listing and "Walk" in listing
    assert c.ok("homework", "list", "--case", "9") == "no homework\n"
    assert c.ok("homework", "stop", "1").startswith("homework 1 stopped")
    assert c.q("SELECT active FROM homework WHERE id = 1")[0]["active"] == 0
    assert "stopped" in c.ok("homework", "list").splitlines()[1]
    c.fails(65, "homework", "stop", "1")
    c.fails(65, "homework", "stop", "3")


def test_homework_without_an_end_or_a_next_session_is_warned_of(ctl_couple):
    """Homework without --ends-on lasts until the case's next session on a
    later day, or 28 days without one: with none booked, nudgectl adds it
    and says when its prompts stop; a session booked on a later day (or
    --ends-on) is an end.  A session on its first day is not (homework is
    often set during a session, starting that day)."""
    c = ctl_couple
    # one London date for every day below, taken once
    today = dt.datetime.now(LONDON).date()
    first = today + dt.timedelta(days=3)
    start = first.isoformat()
    last = (first + dt.timedelta(days=27)).isoformat()

    def at(days, hour=14):
        d = today + dt.timedelta(days=days)
        return f"{d.isoformat()} {hour:02d}:00"

    add = ["homework", "add", "--case", "1", "--title", "T", "--prompt", "P",
           "--starts-on", start]
    r = c.run(*add)
    assert r.returncode == 0, r.stderr
    assert r.stderr == (f"nudgectl: homework add: warning: no session of case 1"
                        f" is booked after {start}: its prompts stop after"
                        f" {last} (28 days) unless one is booked before;"
                        " --ends-on gives them another end\n"), r.stderr
    assert r.stdout.startswith("homework 1 added")
    # sessions before it, or on its first day, do not end it
    c.ok("book", "--case", "1", "--at", at(1))
    c.ok("book", "--case", "1", "--at", at(3, hour=10))
    assert "warning: no session" in c.run(*add).stderr
    c.ok("book", "--case", "1", "--at", at(9))
    assert c.run(*add).stderr == ""
    end = (today + dt.timedelta(days=5)).isoformat()
    c.ok("case", "add", "--label", "Sam", "--client", "1")
    r = c.run("homework", "add", "--case", "2", "--title", "T", "--prompt", "P",
              "--starts-on", start, "--ends-on", end)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_homework_errors_write_nothing(ctl_couple):
    c = ctl_couple
    c.ok("client", "add", "--name", "Kim Lee")
    c.ok("case", "add", "--label", "Kim", "--client", "3")
    c.ok("case", "close", "2")
    before = c.snapshot()
    base = ["homework", "add", "--title", "T", "--prompt", "P"]
    c.fails(65, *base, "--case", "2", "--starts-on", "2030-01-01")
    c.fails(65, *base, "--case", "7", "--starts-on", "2030-01-01")
    c.fails(65, *base, "--case", "1", "--starts-on", "2030-01-10",
            "--ends-on", "2030-01-01")
    # SMS prompts have quiet hours 21:00-08:00 by default
    assert "quiet hours" in c.fails(65, *base, "--case", "1", "--starts-on",
                                    "2030-01-01", "--at", "22:00")
    c.fails(64, *base, "--case", "1", "--starts-on", "2030-02-30")
    c.fails(64, *base, "--case", "1", "--starts-on", "2030-01-01", "--at", "7pm")
    c.fails(64, *base, "--case", "1", "--starts-on", "2030-01-01", "--every", "0")
    c.fails(64, "homework", "add", "--case", "1", "--title", "T",
            "--starts-on", "2030-01-01")
    c.fails(65, "homework", "add", "--case", "1", "--title", "T\r\nX",
            "--prompt", "P", "--starts-on", "2030-01-01")
    assert c.snapshot() == before


# ---- upcoming, outbox, send-test -------------------------------------------

@pytest.mark.parametrize("now", ["2030-01-03T09:00:00", "2030-02-30T09:00:00Z",
                                 "2030-01-03 09:00:00Z", "tomorrow"])
def test_upcoming_bad_now_is_usage(ctl_env, now):
    ctl_env.fails(64, "upcoming", "--now", now)


def test_upcoming_previews_and_writes_nothing(ctl_couple):
    c = ctl_couple
    t = future_local(days=30, hour=10)
    c.ok("book", "--case", "1", "--at", at_arg(t))
    before = c.snapshot()
    now = utc_text(t - dt.timedelta(hours=49))
    r = c.run("upcoming", "--now", now, "--days", "1")
    assert r.returncode == 0, r.stderr
    assert "Sam" in r.stdout and "Alex" in r.stdout
    assert c.snapshot() == before
    c.fails(64, "upcoming", "--days", "0")
    # nothing in the window: it says up to when it looked (local time)
    quiet = t - dt.timedelta(days=20)
    r = c.run("upcoming", "--now", utc_text(quiet), "--days", "2")
    assert r.returncode == 0, r.stderr
    end = (quiet.astimezone(UTC) + dt.timedelta(days=2)).astimezone(LONDON)
    assert r.stdout == (f"nothing to send until {end:%A} {end.day} "
                        f"{end:%B %Y at %H:%M}\n"), r.stdout


def _add_message(c, **kw):
    """An outbox row as nudged writes it (extra NOT NULL columns filled)."""
    con = sqlite3.connect(str(c.db))
    try:
        cols = con.execute("PRAGMA table_info(messages)").fetchall()
        row = dict(purpose="reminder", channel="email",
                   recipient="sam@example.org", status="sent", attempts=1)
        row.update(kw)
        for _, name, typ, notnull, default, pk in cols:
            if notnull and default is None and not pk and name not in row:
                row[name] = "2030-01-01T00:00:00Z" if typ == "TEXT" else 0
        names = ", ".join(row)
        with con:
            con.execute(f"INSERT INTO messages ({names}) VALUES "
                        f"({', '.join('?' for _ in row)})", list(row.values()))
    finally:
        con.close()


def test_outbox(ctl_env):
    c = ctl_env
    assert c.ok("outbox") == "no messages\n"
    _add_message(c, due_at="2030-01-02T09:00:00Z", sent_at="2030-01-02T09:00:05Z")
    _add_message(c, due_at="2030-07-02T09:00:00Z", channel="sms",
                 recipient="+447700900123", status="failed", attempts=3,
                 last_error="21211 invalid 'To' phone number\r\nsecond line")
    _add_message(c, due_at="2030-07-03T09:00:00Z", status="pending", attempts=0)
    out = c.ok("outbox")
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["ID", "DUE", "PURPOSE"]
    # settled ones newest first, then what waits (issue 8); local times
    # (BST in July), the reason on its own line
    assert re.match(r"^2 +2030-07-02 10:00 +reminder +sms +failed +3 +- +"
                    r"\+447700900123$", lines[1])
    assert lines[2].strip() == "why: 21211 invalid 'To' phone number  second line"
    assert re.match(r"^1 +2030-01-02 09:00 .* sam@example.org  sent 2030-01-02 09:00$",
                    lines[3])
    assert re.match(r"^3 +2030-07-03 10:00 +reminder +email +pending +0 ", lines[4])
    failed = c.ok("outbox", "--failed").splitlines()
    assert len(failed) == 3 and failed[1].startswith("2 ")
    since = c.ok("outbox", "--since", "2030-07-03").splitlines()
    assert len(since) == 2 and since[1].startswith("3 ")
    assert len(c.ok("outbox", "--limit", "1").splitlines()) == 3  # row, why
    c.fails(64, "outbox", "--since", "July")
    c.fails(64, "outbox", "--limit", "-1")

    # the "sent" column lines up whatever the recipient's length
    _add_message(c, due_at="2030-01-01T09:00:00Z", sent_at="2030-01-01T09:00:05Z",
                 channel="sms", recipient="+447700900123")
    rows = [l for l in c.ok("outbox").splitlines() if "  sent 20" in l]
    assert len(rows) == 2 and len({l.index("  sent 20") for l in rows}) == 1, rows


def test_send_test_unreachable_server_is_tempfail(ctl_env):
    line = ctl_env.fails(75, "send-test", "--to", "sam@example.org")
    assert "sam@example.org" in line


def test_send_test_errors(ctl_env):
    ctl_env.fails(64, "send-test")
    ctl_env.fails(65, "send-test", "--to", "sam@example.org\r\nRCPT TO:<x@y>")


def test_send_test_refused_while_a_deliverer_holds_the_lock(tmp_path):
    """send-test takes nudged's single-deliverer lock: while another
    process holds it (an flock on the database file, as nudged's), the
    test message is not sent and not recorded, and the exit is nudged's
    for the same case (75, the holder named)."""
    import fcntl
    c = Ctl(tmp_path)
    c.ok("init")
    with open(c.db, "rb") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        line = c.fails(75, "send-test", "--to", "sam@example.org")
    assert f"(pid {os.getpid()}) is already delivering" in line, line
    assert "nothing was sent" in line, line
    assert c.count("messages") == 0


def test_send_test_delivers_through_smtp(tmp_path):
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    got = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            got.append((envelope.mail_from, list(envelope.rcpt_tos),
                        envelope.content))
            return "250 OK"

    port = _closed_port()
    srv = aiosmtpd.Controller(Handler(), hostname="127.0.0.1", port=port)
    srv.start()
    try:
        c = Ctl(tmp_path, port=port)
        c.ok("init")
        out = c.ok("send-test", "--to", "sam@example.org")
        assert out == "test message sent to sam@example.org\n"
    finally:
        srv.stop()
    assert len(got) == 1 and got[0][1] == ["sam@example.org"]
    row = c.q("SELECT * FROM messages")[0]
    assert (row["purpose"], row["status"], row["recipient"]) == \
        ("test", "sent", "sam@example.org")
    assert re.search(r"^1 .* test +email +sent .*sam@example.org",
                     c.ok("outbox"), re.M)
