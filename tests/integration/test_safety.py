"""Never send twice, never send late, never send unnoticed: the guards a
review of the first version asked for, end to end."""

import fcntl
import hashlib
import os

from conftest import NUDGED, PRACTICE_EMAIL, mails_to, shift

T = "2026-12-03T14:00:00Z"
DUE_48H = shift(T, hours=-48)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_second_delivering_nudged_is_refused(ready, smtp):
    """A --once beside a running nudged would resend what it is sending."""
    ready.couple(T)
    # the lock is on the database file itself (any path to it meets it)
    lock = open(str(ready.db), "rb")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)   # "the service"
        r = ready.once(DUE_48H)
        assert r.returncode == 75, r.stderr
        assert f"another nudged (pid {os.getpid()})" in r.stderr
        assert smtp.messages == []
        assert ready.messages() == []
    finally:
        lock.close()
    # once the other one is gone, the pass runs
    assert ready.once(DUE_48H).returncode == 0
    assert len(smtp.messages) == 2


def test_dry_run_on_a_missing_database_creates_nothing(practice):
    practice.write_conf()
    assert not practice.db.exists()
    r = practice.run("--dry-run", "--now", DUE_48H)
    assert r.returncode == 74, r.stderr
    assert not practice.db.exists()


def test_previews_leave_the_file_untouched(ready, smtp):
    ready.couple(T)
    before = digest(ready.db)
    r = ready.run("--dry-run", "--now", DUE_48H)
    assert r.returncode == 0, r.stderr
    assert "sam" in r.stdout.lower()
    r = ready.ctl("upcoming", "--days", "3", "--now", DUE_48H)
    assert r.returncode == 0, r.stderr
    assert "Subject:" in r.stdout
    assert digest(ready.db) == before
    assert smtp.messages == []


def test_dry_run_does_not_migrate_a_booking_tools_database(practice, tmp_path):
    """An adopted database (user_version 0) is migrated in the preview's copy only."""
    import sqlite3
    practice.write_conf()
    con = sqlite3.connect(str(practice.db))
    con.executescript(
        "CREATE TABLE clients (id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " first_name TEXT, email TEXT, phone TEXT, email_consent INTEGER NOT NULL"
        " DEFAULT 1, sms_consent INTEGER NOT NULL DEFAULT 0, discreet INTEGER NOT"
        " NULL DEFAULT 0, opted_out_at TEXT);")
    con.close()
    before = digest(practice.db)
    r = practice.run("--dry-run", "--now", DUE_48H)
    assert r.returncode == 0, r.stderr
    assert digest(practice.db) == before


def test_before_equal_to_late_limit_is_sent(ready, smtp):
    """Due exactly late_limit before the start: on time, so it goes."""
    ready.write_conf(reminders=[{"before": "1h", "channel": "email"}],
                     late_limit="1h")
    ready.couple(T)
    r = ready.once(shift(T, hours=-1, seconds=20))
    assert r.returncode == 0, r.stderr
    assert len(smtp.messages) == 2
    # but reached late (a pass more than a minute after), it is skipped
    ready.couple("2026-12-04T14:00:00Z")
    r = ready.once("2026-12-04T13:02:00Z")
    assert r.returncode == 0, r.stderr
    assert len(smtp.messages) == 2


def test_moved_back_gets_its_reminders_again(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    assert ready.once(shift(T, hours=-60)).returncode == 0      # planned
    ready.set("UPDATE appointments SET starts_at = ? WHERE id = ?",
              "2026-12-04T14:00:00Z", appt)
    assert ready.once(shift(T, hours=-59)).returncode == 0      # moved
    ready.set("UPDATE appointments SET starts_at = ? WHERE id = ?", T, appt)
    assert ready.once(shift(T, hours=-58)).returncode == 0      # moved back
    assert ready.once(DUE_48H).returncode == 0
    assert sorted(m["To"].addresses[0].addr_spec for m in
                  (x["message"] for x in smtp.messages)) == [
        "alex@example.org", "sam@example.org"]


def test_opt_out_then_in_again_before_the_reminder(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    assert ready.once(shift(T, hours=-60)).returncode == 0
    assert ready.ctl("client", "opt-out", str(sam)).returncode == 0
    assert ready.once(shift(T, hours=-59)).returncode == 0
    assert [m["status"] for m in ready.messages("client_id = ?", sam)] == ["cancelled"]
    assert ready.ctl("client", "opt-in", str(sam)).returncode == 0
    assert ready.once(DUE_48H).returncode == 0
    assert len(mails_to(smtp, "sam@example.org")) == 1


def test_padded_address_is_used_and_a_broken_one_is_reported(ready, smtp):
    sam = ready.add_client("Sam Taylor", email="  sam@example.org ")
    alex = ready.add_client("Alex Morgan", email="alex at example.org")
    ready.add_case("Sam & Alex", [sam, alex])
    ready.book(1, T)
    r = ready.once(DUE_48H)
    assert r.returncode == 0, r.stderr
    assert len(mails_to(smtp, "sam@example.org")) == 1
    [row] = ready.messages("client_id = ?", alex)
    assert row["status"] == "failed" and "invalid email address" in row["last_error"]
    assert row["attempts"] == 0
    [alert] = mails_to(smtp, PRACTICE_EMAIL)
    assert f"client {alex}" in alert.get_body(("plain",)).get_content()


def test_invalid_phone_never_in_the_log(ready, smtp):
    from fake_sms import FakeTwilio
    with FakeTwilio() as tw:
        ready.write_conf(
            reminders=[{"before": "3h", "channel": "sms"}],
            sms={"enabled": True, "provider": "twilio", "url": tw.url,
                 "account": tw.account, "token": tw.token, "from": "+447700900000"})
        sam = ready.add_client("Sam Taylor", email="sam@example.org",
                               phone="7700 900123", sms_consent=1)
        ready.add_case("Sam", [sam])
        ready.book(1, T)
        r = ready.once(shift(T, hours=-3), "-v")
        assert r.returncode == 0, r.stderr
        assert tw.requests == []
        digits = "".join(ch for ch in "7700 900123" if ch.isdigit())
        assert digits not in "".join(ch for ch in r.stderr if ch.isdigit() or ch == "\n")
        assert "900123" not in r.stderr


def test_appointment_of_a_missing_case_is_reported(ready, smtp):
    ready.couple(T)
    orphan = ready.book(99, T)           # a booking tool's broken reference
    r = ready.once(DUE_48H)
    assert r.returncode == 0, r.stderr
    assert f"appointments row {orphan}: case 99 does not exist" in r.stderr
    assert len(smtp.messages) == 3       # both partners, and the digest
    [alert] = mails_to(smtp, PRACTICE_EMAIL)
    assert "case 99 does not exist" in alert.get_body(("plain",)).get_content()
    # reported once, not at every pass
    r = ready.once(shift(DUE_48H, minutes=5))
    assert "case 99" not in r.stderr
