"""nudged --check-config: the practitioner's first contact with nudged.

Exit 0 and "FILE: OK", or exit 78 with one "FILE:LINE: message" line per
problem on stderr.  It never touches the database or the network.
"""

import os
import re
import subprocess

import pytest

from conftest import NUDGED, ROOT, Raw, rules

# A server nobody listens on and a CA bundle that exists: --check-config
# must not need either to be reachable.
OFFLINE = {"url": "smtp://127.0.0.1:9", "ca_file": "/etc/ssl/certs/ca-certificates.crt"}

EX_CONFIG = 78


def check(prac, /, **kw):
    kw.setdefault("email", dict(OFFLINE))
    prac.write_conf(**kw)
    return prac.run("--check-config")


def assert_ok(practice, r):
    assert r.returncode == 0, r.stderr
    assert f"{practice.conf}: OK" in r.stdout


def assert_error_at(practice, r, needle, *words):
    """Exit 78 and a "FILE:LINE:" line for the config line holding needle."""
    assert r.returncode == EX_CONFIG, (r.returncode, r.stdout, r.stderr)
    line = practice.line_of(needle)
    prefix = f"{practice.conf}:{line}:"
    hits = [l for l in r.stderr.splitlines() if l.startswith(prefix)]
    assert hits, f"no line starting {prefix!r} in stderr:\n{r.stderr}"
    for w in words:
        assert any(w.lower() in h.lower() for h in hits), (w, hits)
    assert "OK" not in r.stdout


def test_shipped_config_passes():
    shipped = os.path.join(ROOT, "conf", "nudged.conf")
    assert os.path.exists(shipped), "conf/nudged.conf is missing"
    r = subprocess.run([NUDGED, "-c", shipped, "--check-config"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"{shipped}: OK" in r.stdout


def test_test_config_passes(practice):
    r = check(practice)
    assert_ok(practice, r)


def test_syntax_error_names_file_and_line(practice):
    r = check(practice, extra="# a comment\nbroken = = ;\n")
    assert_error_at(practice, r, "broken = = ;")


def test_unknown_key_has_its_line(practice):
    r = check(practice, practice={"colour": "blue"})
    assert_error_at(practice, r, "colour", "colour")


def test_unknown_top_level_key(practice):
    r = check(practice, remindrs=Raw("()"))
    assert_error_at(practice, r, "remindrs", "remindrs")


def test_bad_duration(practice):
    r = check(practice, late_limit="soon")
    assert_error_at(practice, r, "late_limit")


def test_bad_duration_in_a_rule(practice):
    r = check(practice, reminders=[{"before": "48 hours", "channel": "email"}])
    assert_error_at(practice, r, "48 hours")


def test_bad_time_zone(practice):
    r = check(practice, practice={"timezone": "Mars/Olympus_Mons"})
    assert_error_at(practice, r, "Mars/Olympus_Mons")


def test_config_lines_keep_their_level_in_the_journal(practice):
    """Under systemd (JOURNAL_STREAM set) the config's errors and warnings
    at start carry sd-daemon priority prefixes, so the journal does not
    file an exit-78 error at info level; on a terminal they stay plain
    FILE:LINE: lines."""
    practice.write_conf(email=dict(OFFLINE), practice={"colour": "blue"},
                        extra='sms = { enabled = true; provider = "twilio";'
                              ' account = "AC0123"; from = "+447700900000"; };\n')
    env = dict(os.environ, JOURNAL_STREAM="8:12345")
    r = subprocess.run([NUDGED, "-c", str(practice.conf), "--once"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == EX_CONFIG, r.stderr
    line = practice.line_of("colour")
    assert f"<3>{practice.conf}:{line}: unknown key 'colour'" in r.stderr, r.stderr
    warned = [l for l in r.stderr.splitlines() if "warning:" in l]
    assert warned and all(l.startswith(f"<4>{practice.conf}") for l in warned), r.stderr
    assert all(l.startswith("<") for l in r.stderr.splitlines()), r.stderr
    r = practice.run("--once")
    assert r.returncode == EX_CONFIG
    assert f"\n{practice.conf}:{line}: unknown key" in "\n" + r.stderr, r.stderr
    assert "<3>" not in r.stderr and "<4>" not in r.stderr


def test_rule_shorter_than_late_limit(practice):
    r = check(practice, reminders=rules("48h", "30m"), late_limit="1h")
    assert r.returncode == EX_CONFIG, r.stderr
    assert str(practice.conf) in r.stderr


TEMPLATE = """templates = {{
  reminder = {{
    email_text = "Hello {{{{first_name}}}}, see you on {{{{date}}}}.";
    email_subject = "{subject}";
  }};
}};
"""


def test_template_unknown_name(practice):
    r = check(practice, extra=TEMPLATE.format(subject="Hi {{nickname}} on {{date}}"))
    assert_error_at(practice, r, "email_subject")


def test_template_unclosed_section(practice):
    r = check(practice,
              extra=TEMPLATE.format(subject="{{#video_url}}Online on {{date}}"))
    assert_error_at(practice, r, "email_subject")


def test_valid_template_override_passes(practice):
    r = check(practice, extra=TEMPLATE.format(
        subject="{{#video_url}}Online: {{/video_url}}{{date}} at {{time}}"))
    assert_ok(practice, r)


@pytest.mark.parametrize("key", ["name", "practitioner", "email"])
def test_missing_required_practice_key_names_file(practice, key):
    r = check(practice, practice={key: None})
    assert r.returncode == EX_CONFIG, r.stderr
    assert str(practice.conf) in r.stderr
    assert key in r.stderr


def test_missing_from_when_email_enabled(practice):
    r = check(practice, email=dict(OFFLINE, **{"from": None}))
    assert r.returncode == EX_CONFIG, r.stderr
    assert str(practice.conf) in r.stderr
    assert "from" in r.stderr


def test_missing_config_file(practice, tmp_path):
    missing = tmp_path / "nowhere" / "nudged.conf"
    r = practice.run("-c", str(missing), "--check-config", conf=False)
    assert r.returncode == EX_CONFIG
    assert str(missing) in r.stderr


def test_missing_config_file_also_for_once(practice, tmp_path):
    missing = tmp_path / "nowhere.conf"
    r = practice.run("-c", str(missing), "--once", conf=False)
    assert r.returncode == EX_CONFIG
    assert str(missing) in r.stderr


def inline_password(**extra):
    return dict(OFFLINE, password="s3cret", password_file=None, **extra)


def test_inline_password_in_readable_file_refused(practice):
    practice.write_conf(email=inline_password(), mode=0o644)
    r = practice.run("--check-config")
    assert r.returncode == EX_CONFIG, r.stdout
    assert str(practice.conf) in r.stderr
    assert "s3cret" not in r.stderr + r.stdout


def test_inline_password_in_group_readable_file_refused(practice):
    practice.write_conf(email=inline_password(), mode=0o640)
    r = practice.run("--check-config")
    assert r.returncode == EX_CONFIG, r.stdout


def test_inline_password_in_private_file_ok(practice):
    practice.write_conf(email=inline_password(), mode=0o600)
    r = practice.run("--check-config")
    assert_ok(practice, r)


def test_readable_file_without_inline_secret_ok(practice):
    practice.write_conf(email=dict(OFFLINE), mode=0o644)
    r = practice.run("--check-config")
    assert_ok(practice, r)


def test_password_given_twice_refused(practice):
    practice.write_conf(email=dict(OFFLINE, password="s3cret"), mode=0o600)
    r = practice.run("--check-config")
    assert r.returncode == EX_CONFIG, r.stdout
    assert_error_line = [l for l in r.stderr.splitlines()
                         if l.startswith(str(practice.conf))]
    assert assert_error_line, r.stderr


def test_check_config_never_creates_database(practice, tmp_path):
    db = tmp_path / "data" / "nudged.db"
    (tmp_path / "data").mkdir()
    r = check(practice, database=str(db))
    assert_ok(practice, r)
    assert not db.exists()
    assert list((tmp_path / "data").iterdir()) == []


def test_check_config_does_not_open_existing_database(practice, tmp_path):
    # A file that is not a database at all: touching it would fail.
    db = tmp_path / "not-a-db"
    db.write_bytes(b"this is not sqlite")
    r = check(practice, database=str(db))
    assert_ok(practice, r)
    assert db.read_bytes() == b"this is not sqlite"


def test_check_config_contacts_no_server(practice, smtp):
    practice.write_conf()          # pointing at a live server
    r = practice.run("--check-config")
    assert_ok(practice, r)
    assert smtp.connections == 0


def test_every_problem_reported_at_once(practice):
    r = check(practice, late_limit="soon", practice={"colour": "blue"})
    assert r.returncode == EX_CONFIG
    lines = [l for l in r.stderr.splitlines() if re.match(
        re.escape(str(practice.conf)) + r":\d+:", l)]
    assert len(lines) >= 2, r.stderr


@pytest.mark.parametrize("value", ["4294967297", "100000000000", "-4294967295"])
def test_integer_that_libconfig_would_wrap_is_refused(practice, value):
    """libconfig 1.5 wraps unsuffixed integers to 32 bits: 4294967297 reads as 1."""
    r = check(practice, extra=f"retry = {{ attempts = {value}; }};")
    assert_error_at(practice, r, f"attempts = {value}")
    assert "out of range" in r.stderr
