"""Appointments from the practice's own calendar (issue 10): nudgectl
import of .ics and .csv files, and feeds over HTTPS (feed_server.py) that
nudgectl calendar sync and the service follow.  The rules under test:
re-importing changes nothing; a bad file imports nothing; moves move;
an event gone from a feed is cancelled only after two good fetches
without it; a failing feed (500, timeout, a body cut short) changes
nothing and reaches the practitioner's digest; appointments typed with
nudgectl are never touched."""

import datetime as dt
import os
import time

import pytest

from conftest import FROM, PRACTICE_EMAIL, Raw, fmt_utc, mails_to, text_body  # noqa: F401
from feed_server import FeedServer

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(os.path.dirname(HERE), "fixtures", "cal")
OCT = "2026-10-01T00:00:00Z"
BOOKING_MAP = ("uid=Booking ID,start=Start Date & Time,end=End Date & Time,"
               "email=Invitee Email,summary=Event Type Name,location=Notes,"
               "status=Canceled")


def ical_time(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


_began = None       # when the running test began (one_today)


@pytest.fixture(autouse=True)
def one_today():
    """day() counts from the moment the test began, not from each call:
    a test that runs across midnight (UTC) would otherwise book an event
    on day(4) and then look for it, or move it, on another day(4)."""
    global _began
    _began = dt.datetime.now(dt.timezone.utc)
    yield
    _began = None


def day(n, hour=10):
    """n days after the test began (one_today), at hour:00 UTC."""
    d = (_began or dt.datetime.now(dt.timezone.utc)) + dt.timedelta(days=n)
    return d.replace(hour=hour, minute=0, second=0, microsecond=0)


def vevent(uid, start, summary, minutes=50, extra=""):
    end = start + dt.timedelta(minutes=minutes)
    return (f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261001T000000Z\r\n"
            f"DTSTART:{ical_time(start)}\r\nDTEND:{ical_time(end)}\r\n"
            f"SUMMARY:{summary}\r\n{extra}END:VEVENT\r\n")


def calendar(*events):
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//nudged tests//EN\r\n"
            + "".join(events) + "END:VCALENDAR\r\n")


def people(p):
    """Sam & Alex (a couple), Robin (one person)."""
    sam = p.add_client("Sam Taylor", email="sam.taylor@example.org")
    alex = p.add_client("Alex Morgan", email="alex@example.org")
    case = p.add_case("Sam & Alex", [sam, alex])
    robin = p.add_client("Robin Lee", email="robin@example.org")
    return case, p.add_case("Robin", [robin])


def appts(p, where="1"):
    return p.query(f"SELECT * FROM appointments WHERE {where} ORDER BY id")


@pytest.fixture
def feed(tmp_path):
    srv = FeedServer(tmp_path / "feed").start()
    yield srv
    srv.stop()


def feed_conf(p, feed, **kw):
    f = {"name": "diary", "url": feed.url, "ca_file": feed.ca_file,
         "timeout": "2s"}
    f.update(kw)
    p.write_conf(email=False, calendar=Raw("{ feeds = ( " + _lc_group(f) + " ); }"))


def _lc_group(d):
    from conftest import lc
    return lc(d)


# ---------------------------------------------------------------- import

def test_import_ics_dry_run_then_once(ready):
    p = ready
    couple, robin = people(p)
    ics = os.path.join(FIX, "google.ics")
    r = p.ctl("import", "--dry-run", "--now", OCT, ics)
    assert r.returncode == 0, r.stderr
    assert "would import" in r.stdout and "5 booked" in r.stdout
    assert "unmatched" in r.stdout and "Zoë & Łukasz" in r.stdout
    assert appts(p) == []
    r = p.ctl("import", "--now", OCT, ics)
    assert r.returncode == 0, r.stderr
    rows = appts(p)
    assert len(rows) == 5
    assert {a["source"] for a in rows} == {"import"}
    first = [a for a in rows if a["source_uid"] ==
             "series-taylor@google.com;RECURRENCE-ID=20261006T090000Z"][0]
    assert first["starts_at"] == "2026-10-06T09:00:00Z"
    assert first["case_id"] == couple and first["mode"] == "online"
    assert first["video_url"] == "https://meet.google.com/abc-defg-hij"
    moved = [a for a in rows if a["source_uid"].endswith("20261013T090000Z")][0]
    assert moved["starts_at"] == "2026-10-15T15:00:00Z"
    call = [a for a in rows if a["source_uid"] == "declined@google.com"][0]
    assert (call["case_id"], call["kind"], call["mode"]) == (robin, "call", "phone")
    # the EXDATE'd and the cancelled instance were never booked
    assert not [a for a in rows if "20261020" in a["source_uid"] or
                "20261027" in a["source_uid"]]
    # again: nothing changes
    r = p.ctl("import", "--now", OCT, ics)
    assert r.returncode == 0, r.stderr
    assert "0 booked, 0 moved, 0 updated, 0 cancelled" in r.stdout
    assert appts(p) == rows
    r = p.ctl("calendar", "unmatched")
    assert "Zoë & Łukasz" in r.stdout and "no case labelled" in r.stdout


def test_import_bad_file_imports_nothing(ready):
    p = ready
    people(p)
    r = p.ctl("import", "--now", OCT, os.path.join(FIX, "outlook.ics"))
    assert r.returncode == 65
    assert "outlook-unknown-1" in r.stderr and "Atlantis Standard Time" in r.stderr
    assert "nothing imported" in r.stderr
    assert appts(p) == []
    bad = p.dir / "bad.csv"
    bad.write_text("start,email\n2026-11-20 10:00,sam@example.org\n"
                   "2026-11-21 10:00,\"alex@example.org\n")
    r = p.ctl("import", "--now", OCT, str(bad))
    assert r.returncode == 65
    assert "line 3: a quoted field is not closed" in r.stderr
    assert appts(p) == []
    r = p.ctl("import", "--now", OCT, str(p.dir / "missing.ics"))
    assert r.returncode == 65 and "No such file" in r.stderr


def test_import_csv_with_columns(ready):
    p = ready
    couple, robin = people(p)
    csv = os.path.join(FIX, "booking.csv")
    r = p.ctl("import", "--now", OCT, csv)
    assert r.returncode == 65 and "no 'start' column" in r.stderr
    r = p.ctl("import", "--now", OCT, "--columns", BOOKING_MAP, csv)
    assert r.returncode == 0, r.stderr
    rows = appts(p)
    assert [(a["source_uid"], a["starts_at"], a["duration_min"], a["kind"])
            for a in rows] == [
        ("b-101", "2026-11-20T10:00:00Z", 50, "session"),
        ("b-102", "2026-11-21T14:30:00Z", 90, "assessment")]
    r = p.ctl("import", "--now", OCT, "--columns", BOOKING_MAP, csv)
    assert "0 booked" in r.stdout and appts(p) == rows


def test_import_move_across_clock_change(ready):
    p = ready
    p.add_case("Sam & Alex", [p.add_client("Sam Taylor", email="sam@example.org")])
    r = p.ctl("import", "--now", OCT, os.path.join(FIX, "dst-before.ics"))
    assert r.returncode == 0, r.stderr
    before = {a["source_uid"]: a for a in appts(p)}
    assert before["moved-dst"]["starts_at"] == "2026-10-24T09:00:00Z"   # 10:00 BST
    assert before["weekly-dst;RECURRENCE-ID=20261027T100000Z"]["starts_at"] == \
        "2026-10-27T10:00:00Z"                                          # 10:00 GMT
    r = p.ctl("import", "--now", OCT, os.path.join(FIX, "dst-after.ics"))
    assert r.returncode == 0, r.stderr
    assert "1 moved" in r.stdout
    after = {a["source_uid"]: a for a in appts(p)}
    assert after["moved-dst"]["id"] == before["moved-dst"]["id"]
    assert after["moved-dst"]["starts_at"] == "2026-10-26T10:00:00Z"    # 10:00 GMT


# ----------------------------------------------------------------- feeds

def test_feed_books_moves_and_cancels_after_two_misses(ready, feed):
    p = ready
    couple, robin = people(p)
    feed_conf(p, feed)
    typed = p.book(couple, fmt_utc(day(4)))          # as nudgectl or a tool did
    a, b = day(3), day(5)
    feed.body = calendar(vevent("a", a, "[Sam & Alex] Session"),
                         vevent("b", b, "Session",
                                extra="ATTENDEE;PARTSTAT=ACCEPTED:mailto:robin@example.org\r\n"),
                         vevent("c", day(6), "Supervision"))
    r = p.ctl("calendar", "sync")
    assert r.returncode == 0, r.stderr
    assert "2 booked" in r.stdout and "1 unmatched" in r.stdout
    rows = {x["source_uid"]: x for x in appts(p, "source = 'feed:diary'")}
    assert rows["a"]["case_id"] == couple and rows["a"]["starts_at"] == fmt_utc(a)
    assert rows["b"]["case_id"] == robin
    assert "Supervision" in p.ctl("calendar", "unmatched").stdout

    # unchanged: a conditional GET answered 304, nothing changes
    r = p.ctl("calendar", "sync")
    assert r.returncode == 0 and "(not modified)" in r.stdout
    assert feed.statuses() == [200, 304]

    # a moved in the calendar: the same appointment moves
    a2 = day(7, 15)
    feed.body = calendar(vevent("a", a2, "[Sam & Alex] Session"),
                         vevent("c", day(6), "Supervision"))
    r = p.ctl("calendar", "sync")
    assert r.returncode == 0 and "1 moved" in r.stdout and "1 missing" in r.stdout
    now = {x["source_uid"]: x for x in appts(p, "source = 'feed:diary'")}
    assert now["a"]["id"] == rows["a"]["id"] and now["a"]["starts_at"] == fmt_utc(a2)
    # b gone once: still booked; gone twice (a 304 this time): cancelled
    assert now["b"]["status"] == "booked"
    r = p.ctl("calendar", "sync")
    assert r.returncode == 0 and "1 cancelled" in r.stdout, r.stdout
    assert feed.statuses()[-1] == 304
    assert appts(p, f"id = {rows['b']['id']}")[0]["status"] == "cancelled"
    # the typed appointment was never touched
    t = appts(p, f"id = {typed}")[0]
    assert (t["status"], t["source"], t["starts_at"]) == ("booked", None, fmt_utc(day(4)))


@pytest.mark.parametrize("mode", ["500", "truncated", "slow", "not-calendar"])
def test_failing_feed_changes_nothing(ready, feed, mode):
    p = ready
    couple, robin = people(p)
    feed_conf(p, feed, timeout="1s")
    feed.body = calendar(vevent("a", day(3), "[Sam & Alex] Session"),
                         vevent("b", day(4), "[Robin] Session"))
    assert p.ctl("calendar", "sync").returncode == 0
    before = appts(p)
    assert len(before) == 2
    # the calendar empties, but the feed fails: nothing may be cancelled
    if mode == "not-calendar":
        feed.body = "<html>Service unavailable</html>"
    else:
        feed.body = calendar()
        feed.mode = mode
    for _ in range(2):
        t = time.monotonic()
        r = p.ctl("calendar", "sync")
        assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
        assert "kept as they were" in r.stderr
        assert time.monotonic() - t < 10
    assert appts(p) == before
    st = p.query("SELECT * FROM calendar_feeds")[0]
    assert st["failures"] == 2 and st["last_error"]
    assert feed.url not in r.stderr          # the secret address is never shown
    probs = p.query("SELECT * FROM problems WHERE tbl = 'calendar'")
    assert len(probs) == 1 and probs[0]["what"].startswith("feed diary: ")
    # nudgectl status tells, apart from unreadable booking rows
    r = p.ctl("status")
    assert r.returncode == 1, r.stdout
    assert "feed diary: last good" in r.stdout and "FAILING (2 tries)" in r.stdout
    assert "calendar feed diary failing" in r.stdout
    assert "unreadable:  0 booking rows" in r.stdout
    assert feed.url not in r.stdout
    # a good fetch again clears the problem
    feed.mode = "ok"
    feed.body = calendar(vevent("a", day(3), "[Sam & Alex] Session"),
                         vevent("b", day(4), "[Robin] Session"))
    assert p.ctl("calendar", "sync").returncode == 0
    assert p.query("SELECT * FROM problems WHERE tbl = 'calendar'") == []
    r = p.ctl("status")
    assert "FAILING" not in r.stdout and "feed diary: last good" in r.stdout


def test_failing_feed_in_digest(practice, feed, smtp):
    p = practice
    f = {"name": "diary", "url": feed.url, "ca_file": feed.ca_file}
    from conftest import lc
    p.write_conf(calendar=Raw("{ feeds = ( " + lc(f) + " ); }"))
    p.init()
    people(p)
    feed.mode = "500"
    assert p.ctl("calendar", "sync").returncode == 75
    r = p.once(fmt_utc(dt.datetime.now(dt.timezone.utc)))
    assert r.returncode == 0, r.stderr
    alerts = mails_to(smtp, PRACTICE_EMAIL)
    assert len(alerts) == 1
    body = text_body(alerts[0])
    assert "Calendar feed diary: could not be read: the server answered HTTP 500" \
        in body
    assert feed.url not in body


def test_service_follows_feed(ready, feed):
    from test_service import Service
    p = ready
    couple, _ = people(p)
    feed_conf(p, feed, every="5s")
    feed.body = calendar(vevent("a", day(3), "[Sam & Alex] Session"))
    s = Service(p)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not appts(p):
            time.sleep(0.2)
        assert [a["source_uid"] for a in appts(p)] == ["a"], s.log
        # the next fetch comes by itself, `every` later, and moves it
        feed.body = calendar(vevent("a", day(4), "[Sam & Alex] Session"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and \
                appts(p)[0]["starts_at"] != fmt_utc(day(4)):
            time.sleep(0.2)
        assert appts(p)[0]["starts_at"] == fmt_utc(day(4)), s.log
        rc, took = s.stop()
        assert rc == 0
        assert "calendar feed diary: 1 booked" in s.log
        assert feed.url not in s.log
    finally:
        s.close()


def test_feed_config_errors(practice):
    p = practice
    p.write_conf(email=False, calendar=Raw(
        '{ window = "60d"; feeds = ( { name = "Diary!"; every = "1s"; '
        'match = ["guess"]; colour = "red"; } ); }'))
    r = p.run("--check-config")
    assert r.returncode == 78
    line = p.line_of("calendar")
    err = r.stderr
    assert f"{p.conf}:{line}:" in err
    assert "feed name \"Diary!\"" in err
    assert "'every' must be at least 5s" in err
    assert "\"guess\"" in err
    assert "colour" in err
    assert "has no url" in err


def test_feed_url_as_credential(practice, feed, tmp_path):
    p = practice
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "calendar-diary").write_text(feed.url + "\n")
    from conftest import lc
    f = {"name": "diary", "ca_file": feed.ca_file}
    p.write_conf(email=False, calendar=Raw("{ feeds = ( " + lc(f) + " ); }"))
    p.init()
    people(p)
    feed.body = calendar(vevent("a", day(3), "[Robin] Session"))
    r = p.ctl("calendar", "sync", env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert r.returncode == 0, r.stderr
    assert "1 booked" in r.stdout


def test_feed_move_and_cancel_replan_reminders(practice, feed, smtp):
    """What the planner makes of it: a move withdraws the pending reminder
    and plans one for the new time; a cancellation withdraws it."""
    p = practice
    from conftest import lc
    f = {"name": "diary", "url": feed.url, "ca_file": feed.ca_file}
    p.write_conf(reminders=[{"before": "48h", "channel": "email"}],
                 calendar=Raw("{ feeds = ( " + lc(f) + " ); }"))
    p.init()
    people(p)
    now = fmt_utc(dt.datetime.now(dt.timezone.utc))
    feed.body = calendar(vevent("a", day(5), "[Sam & Alex] Session"))
    assert p.ctl("calendar", "sync").returncode == 0
    assert p.once(now).returncode == 0
    first = p.messages()
    assert len(first) == 2 and {m["status"] for m in first} == {"pending"}
    assert {m["appt_start"] for m in first} == {fmt_utc(day(5))}
    feed.body = calendar(vevent("a", day(6), "[Sam & Alex] Session"))
    assert p.ctl("calendar", "sync").returncode == 0
    assert p.once(now).returncode == 0
    old = p.messages(f"appt_start = '{fmt_utc(day(5))}'")
    new = p.messages(f"appt_start = '{fmt_utc(day(6))}'")
    assert {m["status"] for m in old} == {"cancelled"}
    assert len(new) == 2 and {m["status"] for m in new} == {"pending"}
    feed.body = calendar(vevent("a", day(6), "[Sam & Alex] Session",
                                extra="STATUS:CANCELLED\r\n"))
    r = p.ctl("calendar", "sync")
    assert r.returncode == 0 and "1 cancelled" in r.stdout
    assert p.once(now).returncode == 0
    assert {m["status"] for m in p.messages(
        f"appt_start = '{fmt_utc(day(6))}'")} == {"cancelled"}
    assert client_count(smtp) == 0


def client_count(smtp):
    from conftest import client_mails
    return len(client_mails(smtp))


def test_service_stops_during_slow_fetch(ready, feed):
    """SIGTERM while a calendar server takes its time: out within the
    contract's 5 seconds, not after the fetch's timeout."""
    from test_service import Service
    p = ready
    people(p)
    feed_conf(p, feed, timeout="30s")
    feed.body = calendar(vevent("a", day(3), "[Sam & Alex] Session"))
    feed.mode = "slow"
    feed.slow_seconds = 10
    s = Service(p)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not feed.statuses():
            time.sleep(0.1)
        assert feed.statuses(), s.log
        rc, took = s.stop()
        assert rc == 0 and took < 5, (rc, took, s.log)
        assert appts(p) == []
        # stopping is not the feed's fault: nothing for the digest
        assert p.query("SELECT * FROM problems") == []
    finally:
        s.close()


def test_adopts_tool_database_with_source_columns(practice):
    """A booking tool that made its tables from the contract with its
    additions (appointments.source, source_uid) is adopted like any."""
    import sqlite3
    from conftest import CONTRACT_SCHEMA
    schema = CONTRACT_SCHEMA.replace(
        "status TEXT NOT NULL DEFAULT 'booked');",
        "status TEXT NOT NULL DEFAULT 'booked', source TEXT, source_uid TEXT);")
    assert "source_uid" in schema
    con = sqlite3.connect(str(practice.db))
    con.executescript(schema)
    con.close()
    practice.write_conf(email=False)
    r = practice.ctl("init")
    assert r.returncode == 0, r.stderr
    cols = [c["name"] for c in practice.query("PRAGMA table_info(appointments)")]
    assert cols.count("source") == 1 and cols.count("source_uid") == 1
    r = practice.ctl("import", "--now", OCT, os.path.join(FIX, "apple.ics"))
    assert r.returncode == 0, r.stderr


def test_import_and_feed_book_one_appointment_per_event(ready, feed):
    """A trial import of the diary, then the feed: one appointment per
    event (never two reminders), the feed takes it over, and the import's
    other appointments are not the feed's to cancel."""
    p = ready
    couple, robin = people(p)
    feed_conf(p, feed)
    body = calendar(vevent("a", day(3), "[Sam & Alex] Session"))
    f = p.dir / "trial.ics"
    f.write_text(calendar(vevent("a", day(3), "[Sam & Alex] Session"),
                          vevent("other", day(4), "[Robin] Session")))
    assert p.ctl("import", str(f)).returncode == 0
    feed.body = body
    for _ in range(3):
        r = p.ctl("calendar", "sync")
        assert r.returncode == 0, r.stderr
    rows = appts(p)
    assert [(a["source_uid"], a["source"], a["status"]) for a in rows] == [
        ("a", "feed:diary", "booked"), ("other", "import", "booked")]
    # and an import after the feed leaves the feed's appointment alone
    r = p.ctl("import", str(f))
    assert r.returncode == 0 and "0 booked" in r.stdout
    assert appts(p) == rows


def test_feed_url_inline_is_a_secret(practice, feed):
    """Google's secret address inline in a config others can read is
    refused like an inline password; a file path is no secret."""
    from conftest import lc
    p = practice
    f = {"name": "diary", "url": feed.url}
    p.write_conf(email=False, mode=0o640,
                 calendar=Raw("{ feeds = ( " + lc(f) + " ); }"))
    r = p.run("--check-config")
    assert r.returncode == 78
    assert "calendar feed diary.url inline" in r.stderr
    assert feed.url not in r.stderr
    f = {"name": "diary", "url": str(p.dir / "diary.ics")}
    p.write_conf(email=False, mode=0o640,
                 calendar=Raw("{ feeds = ( " + lc(f) + " ); }"))
    r = p.run("--check-config")
    assert r.returncode == 0, r.stderr


def test_feed_series_moved_as_a_whole(ready, feed):
    """A weekly series moved from 10:00 to 11:00 ("all events"): every
    instance gets a new RECURRENCE-ID, yet the same appointments move;
    nothing is booked twice or cancelled."""
    p = ready
    couple, _ = people(p)
    feed_conf(p, feed)

    def series(hour):
        start = day(2, hour)
        return calendar(vevent("weekly", start, "[Sam & Alex] Session",
                               extra="RRULE:FREQ=WEEKLY;COUNT=3\r\n"))
    feed.body = series(10)
    r = p.ctl("calendar", "sync")
    assert r.returncode == 0 and "3 booked" in r.stdout, r.stdout
    before = appts(p)
    feed.body = series(11)
    r = p.ctl("calendar", "sync")
    assert r.returncode == 0 and "3 moved" in r.stdout, r.stdout
    assert "0 booked" in r.stdout and "0 missing" in r.stdout
    after = appts(p)
    assert [a["id"] for a in after] == [a["id"] for a in before]
    assert [a["starts_at"] for a in after] == [fmt_utc(day(2 + 7 * i, 11))
                                               for i in range(3)]
    r = p.ctl("calendar", "sync")
    assert "0 booked, 0 moved, 0 updated, 0 cancelled, 0 unmatched, 0 missing" \
        in r.stdout
