"""Calendar feeds as calendar apps really export them, and as broken or
hostile servers send them: what a practitioner expects is that nothing is
booked twice, and nothing moved or cancelled by a glitch."""

import datetime as dt
import time

import pytest

from conftest import Raw, fmt_utc
# feed and one_today are the fixtures of test_calendar_feeds
from test_calendar_feeds import (appts, calendar, day, feed, feed_conf,  # noqa: F401,F811
                                 ical_time, one_today, people, vevent)


def london(t):
    """t (aware) as a Europe/London wall time, for TZID=... values."""
    from zoneinfo import ZoneInfo
    return t.astimezone(ZoneInfo("Europe/London")).strftime("%Y%m%dT%H%M%S")


VTZ_WINDOWS = (
    "BEGIN:VTIMEZONE\r\nTZID:GMT Standard Time\r\nBEGIN:STANDARD\r\n"
    "DTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0000\r\n"
    "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:16010101T010000\r\nTZOFFSETFROM:+0000\r\n"
    "TZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\r\n"
    "END:DAYLIGHT\r\nEND:VTIMEZONE\r\n")


def sync(p, *args):
    r = p.ctl("calendar", "sync", *args)
    return r


def reminded_diary(p, feed):
    """A practice with email reminders 48h ahead and the feed as its
    diary, its people added; now, for its passes."""
    from conftest import lc
    f = {"name": "diary", "url": feed.url, "ca_file": feed.ca_file}
    p.write_conf(reminders=[{"before": "48h", "channel": "email"}],
                 calendar=Raw("{ feeds = ( " + lc(f) + " ); }"))
    p.init()
    people(p)
    return fmt_utc(dt.datetime.now(dt.timezone.utc))


# ------------------------------------------------------- real exports

def test_outlook_weekly_series_with_exdate_override_and_cancelled(ready, feed):
    """Outlook: Windows zone name with its VTIMEZONE, X- properties, a weekly
    series with an EXDATE, one instance moved (RECURRENCE-ID) and one
    cancelled (an override with STATUS:CANCELLED)."""
    p = ready
    couple, _ = people(p)
    feed_conf(p, feed)
    s = day(2, 10)
    tz = "TZID=GMT Standard Time"
    body = ("BEGIN:VCALENDAR\r\nPRODID:Microsoft Exchange Server 2010\r\n"
            "VERSION:2.0\r\nMETHOD:PUBLISH\r\n" + VTZ_WINDOWS +
            "BEGIN:VEVENT\r\nUID:040000008200E00074C5B7101A82E008\r\n"
            "SUMMARY:[Sam & Alex] Session\r\n"
            f"DTSTART;{tz}:{london(s)}\r\n"
            f"DTEND;{tz}:{london(s + dt.timedelta(minutes=50))}\r\n"
            "RRULE:FREQ=WEEKLY;COUNT=5\r\n"
            f"EXDATE;{tz}:{london(s + dt.timedelta(days=7))}\r\n"
            "X-MICROSOFT-CDO-BUSYSTATUS:BUSY\r\nDTSTAMP:20261001T000000Z\r\n"
            "END:VEVENT\r\n"
            "BEGIN:VEVENT\r\nUID:040000008200E00074C5B7101A82E008\r\n"
            f"RECURRENCE-ID;{tz}:{london(s + dt.timedelta(days=14))}\r\n"
            "SUMMARY:[Sam & Alex] Session\r\n"
            f"DTSTART;{tz}:{london(s + dt.timedelta(days=15, hours=5))}\r\n"
            f"DTEND;{tz}:{london(s + dt.timedelta(days=15, hours=6))}\r\n"
            "DTSTAMP:20261001T000000Z\r\nEND:VEVENT\r\n"
            "BEGIN:VEVENT\r\nUID:040000008200E00074C5B7101A82E008\r\n"
            f"RECURRENCE-ID;{tz}:{london(s + dt.timedelta(days=21))}\r\n"
            "SUMMARY:[Sam & Alex] Session\r\nSTATUS:CANCELLED\r\n"
            f"DTSTART;{tz}:{london(s + dt.timedelta(days=21))}\r\n"
            f"DTEND;{tz}:{london(s + dt.timedelta(days=21, minutes=50))}\r\n"
            "DTSTAMP:20261001T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    feed.body = body
    r = sync(p)
    assert r.returncode == 0, r.stderr
    rows = appts(p, "status = 'booked'")
    assert sorted(a["starts_at"] for a in rows) == sorted([
        fmt_utc(s), fmt_utc(s + dt.timedelta(days=15, hours=5)),
        fmt_utc(s + dt.timedelta(days=28))]), r.stdout
    assert {a["duration_min"] for a in rows} == {50, 60}


def test_until_and_count(ready, feed):
    p = ready
    people(p)
    feed_conf(p, feed)
    s = day(1, 9)
    until = s + dt.timedelta(days=14)
    feed.body = calendar(
        vevent("until", s, "[Sam & Alex] Session",
               extra=f"RRULE:FREQ=WEEKLY;UNTIL={ical_time(until)}\r\n"),
        vevent("count", day(1, 14), "[Robin] Session",
               extra="RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=2\r\n"))
    r = sync(p)
    assert r.returncode == 0, r.stderr
    assert "5 booked" in r.stdout, r.stdout


def test_apple_floating_and_lf_only_folded(ready, feed):
    """iCloud: LF line ends (as some servers send), a folded SUMMARY split
    inside a UTF-8 letter, TZID=Europe/London without VTIMEZONE."""
    p = ready
    sam = p.add_client("Zoë Ławson", email="zoe@example.org")
    case = p.add_case("Zoë & Łukasz", [sam])
    feed_conf(p, feed)
    s = day(3, 11)
    summ = "[Zoë & Łukasz] Sesja".encode()
    # fold after 9 octets: inside "ë" (c3 ab)
    cut = summ.index("ë".encode()) + 1
    line = b"SUMMARY:" + summ[:cut] + b"\n " + summ[cut:]
    body = (b"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Apple Inc.//iCloud//EN\n"
            b"BEGIN:VEVENT\nUID:5F0C1E2A-1111-4A4A-9999-ABCDEF012345\n"
            b"DTSTART;TZID=Europe/London:" + london(s).encode() + b"\n"
            b"DURATION:PT45M\n" + line + b"\nX-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTO"
            b"MATIC\nEND:VEVENT\nEND:VCALENDAR\n")
    feed.raw = body
    r = sync(p)
    assert r.returncode == 0, r.stderr
    rows = appts(p)
    assert [(a["case_id"], a["starts_at"], a["duration_min"]) for a in rows] == [
        (case, fmt_utc(s), 45)], r.stdout


def test_all_day_and_no_dtend(ready, feed):
    p = ready
    people(p)
    feed_conf(p, feed)
    d = day(4).strftime("%Y%m%d")
    feed.body = calendar(
        "BEGIN:VEVENT\r\nUID:allday\r\nDTSTAMP:20261001T000000Z\r\n"
        f"DTSTART;VALUE=DATE:{d}\r\nSUMMARY:[Robin] Holiday\r\nEND:VEVENT\r\n",
        "BEGIN:VEVENT\r\nUID:noend\r\nDTSTAMP:20261001T000000Z\r\n"
        f"DTSTART:{ical_time(day(5))}\r\nSUMMARY:[Robin] Session\r\nEND:VEVENT\r\n")
    r = sync(p)
    assert r.returncode == 0, r.stderr
    assert [(a["source_uid"], a["duration_min"]) for a in appts(p)] == [("noend", 60)]


# -------------------------------------------------- hostile servers

@pytest.mark.parametrize("mode", ["html", "empty", "redirect-html", "big",
                                  "bad-utf8"])
def test_hostile_bodies_change_nothing(ready, feed, mode):
    """A login page (200), an empty body, a redirect to a login page, 50 MB
    of calendar, and (for the record) invalid UTF-8: the first four are a
    failing feed, nothing is booked, moved or cancelled."""
    p = ready
    people(p)
    feed_conf(p, feed, timeout="5s")
    good = calendar(vevent("a", day(3), "[Sam & Alex] Session"),
                    vevent("b", day(4), "[Robin] Session"))
    feed.body = good
    assert sync(p).returncode == 0
    before = appts(p)
    if mode == "html":
        feed.body = "<!DOCTYPE html><html><body>Sign in</body></html>"
    elif mode == "empty":
        feed.body = ""
    elif mode == "redirect-html":
        feed.mode = "redirect"
        feed.body = "<html>Sign in to continue</html>"
    elif mode == "big":
        feed.mode = "big"
    for _ in range(2):
        t = time.monotonic()
        r = sync(p)
        if mode == "bad-utf8":
            break
        assert r.returncode == 75, (r.stdout, r.stderr)
        assert time.monotonic() - t < 20
    assert appts(p) == before


def test_redirect_is_followed(ready, feed):
    p = ready
    people(p)
    feed_conf(p, feed)
    feed.mode = "redirect"
    feed.body = calendar(vevent("a", day(3), "[Sam & Alex] Session"))
    r = sync(p)
    assert r.returncode == 0 and "1 booked" in r.stdout, (r.stdout, r.stderr)


def test_hostile_summary_is_shown_safely(ready, feed):
    """Invalid UTF-8 and a terminal escape in a SUMMARY never reach the
    practitioner's terminal as they are (nudgectl prints summaries)."""
    import subprocess
    from conftest import NUDGECTL
    p = ready
    people(p)
    feed_conf(p, feed)
    feed.raw = calendar(vevent("a", day(3), "Supervision XX")).encode() \
        .replace(b"XX", b"\xff\xfe\xc3 \x1b]0;owned\x07\x1b[2J")
    for args in (["calendar", "sync"], ["calendar", "unmatched"]):
        r = subprocess.run([NUDGECTL, "-c", str(p.conf)] + args,
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert b"Supervision" in r.stdout
        r.stdout.decode("utf-8")            # valid UTF-8
        assert b"\x1b" not in r.stdout and b"\x07" not in r.stdout


# ----------------------------------------------- the calendar empties

def test_feed_suddenly_empty_cancels_nothing(ready, feed):
    """A calendar app that exports an empty calendar (a broken export, the
    wrong calendar chosen, an account signed out) is no reason to cancel
    every session and tell every client so."""
    p = ready
    people(p)
    feed_conf(p, feed)
    feed.body = calendar(vevent("a", day(3), "[Sam & Alex] Session"),
                         vevent("b", day(4), "[Robin] Session"))
    assert sync(p).returncode == 0
    before = appts(p)
    feed.body = calendar()
    for _ in range(3):
        r = sync(p)
    assert appts(p) == before, r.stdout
    # the practitioner is told
    probs = p.query("SELECT what FROM problems WHERE tbl = 'calendar'")
    assert probs and "no events" in probs[0]["what"], probs


# ----------------------------------------- deleted and moved: clients told

def test_deleted_event_cancelled_and_clients_told(practice, feed, smtp):
    p = practice
    now = reminded_diary(p, feed)
    feed.body = calendar(vevent("a", day(1, 12), "[Sam & Alex] Session"),
                         vevent("keep", day(3), "[Robin] Session"))
    assert sync(p).returncode == 0
    assert p.once(now).returncode == 0
    assert len([m for m in p.messages() if m["status"] == "sent"]) == 2
    feed.body = calendar(vevent("keep", day(3), "[Robin] Session"))
    r = sync(p)
    assert "1 missing" in r.stdout
    assert p.once(now).returncode == 0
    assert appts(p, "source_uid = 'a'")[0]["status"] == "booked"
    r = sync(p)
    assert "1 cancelled" in r.stdout
    assert p.once(now).returncode == 0
    c = p.messages("purpose = 'cancellation'")
    assert len(c) == 2 and {m["status"] for m in c} == {"sent"}


def test_moved_event_sends_moved_notice(practice, feed, smtp):
    p = practice
    now = reminded_diary(p, feed)
    feed.body = calendar(vevent("a", day(1, 12), "[Sam & Alex] Session"))
    assert sync(p).returncode == 0
    assert p.once(now).returncode == 0
    feed.body = calendar(vevent("a", day(1, 15), "[Sam & Alex] Session"))
    r = sync(p)
    assert "1 moved" in r.stdout
    assert p.once(now).returncode == 0
    m = p.messages("purpose = 'moved'")
    assert len(m) == 2 and {x["status"] for x in m} == {"sent"}
    assert not p.messages("purpose = 'cancellation'")


def test_event_moved_beyond_window_is_not_cancelled(ready, feed):
    """A session moved from next week to three months on (beyond the 60-day
    window) was moved, not cancelled: no cancellation notice for it."""
    p = ready
    people(p)
    feed_conf(p, feed)
    feed.body = calendar(vevent("a", day(3), "[Sam & Alex] Session"))
    assert sync(p).returncode == 0
    feed.body = calendar(vevent("a", day(90), "[Sam & Alex] Session"))
    for _ in range(3):
        r = sync(p)
    a = appts(p)
    assert [x["status"] for x in a] == ["booked"], r.stdout
    assert a[0]["starts_at"] == fmt_utc(day(90))


# -------------------------------------------------- the same UID twice

def test_same_uid_in_two_feeds_books_once(ready, feed, tmp_path):
    """The practitioner's own calendar and a shared 'Sessions' calendar both
    hold the invitation (one UID): one appointment, one set of reminders."""
    from conftest import lc
    p = ready
    people(p)
    body = calendar(vevent("shared-uid@google.com", day(3), "[Sam & Alex] Session"))
    feed.body = body
    f1 = {"name": "own", "url": feed.url, "ca_file": feed.ca_file}
    f2 = {"name": "shared", "url": feed.url, "ca_file": feed.ca_file}
    p.write_conf(email=False, calendar=Raw(
        "{ feeds = ( " + lc(f1) + ", " + lc(f2) + " ); }"))
    for _ in range(2):
        r = sync(p)
        assert r.returncode == 0, r.stderr
    assert len(appts(p, "status = 'booked'")) == 1, appts(p)


def test_exdate_list_and_cancelled_series(ready, feed):
    """EXDATE with several values on one line (as Google and Apple write
    them), and a whole series cancelled later."""
    p = ready
    people(p)
    feed_conf(p, feed)
    s = day(1, 10)
    ex = ",".join(london(s + dt.timedelta(days=7 * k)) for k in (1, 2))
    body = calendar(
        "BEGIN:VEVENT\r\nUID:w\r\nDTSTAMP:20261001T000000Z\r\n"
        f"DTSTART;TZID=Europe/London:{london(s)}\r\nDURATION:PT50M\r\n"
        "RRULE:FREQ=WEEKLY;COUNT=4\r\n"
        f"EXDATE;TZID=Europe/London:{ex}\r\n"
        "SUMMARY:[Robin] Session\r\nEND:VEVENT\r\n")
    feed.body = body
    r = sync(p)
    assert r.returncode == 0 and "2 booked" in r.stdout, r.stdout
    feed.body = body.replace("SUMMARY:", "STATUS:CANCELLED\r\nSUMMARY:")
    r = sync(p)
    assert "2 cancelled" in r.stdout, r.stdout


def test_client_email_changed_cancels_nothing(ready, feed):
    """Robin's address changes in nudged, the calendar's invitations still
    carry the old one: the sessions are not cancelled (and Robin is not
    told they are); the practitioner is told the event no longer matches."""
    p = ready
    _, robin = people(p)
    feed_conf(p, feed)
    feed.body = calendar(vevent(
        "b", day(5), "Session",
        extra="ATTENDEE;PARTSTAT=ACCEPTED:mailto:robin@example.org\r\n"))
    assert "1 booked" in sync(p).stdout
    p.set("UPDATE clients SET email = 'robin.lee@example.net' WHERE email = "
          "'robin@example.org'")
    r = sync(p)
    assert appts(p)[0]["status"] == "booked", r.stdout


def test_google_this_and_following_moves(ready, feed):
    """Google's "this and following events" ends the series (UNTIL) and
    starts a new one with a new UID (uid_R<date>): the later sessions moved
    an hour, they were not cancelled and booked again."""
    p = ready
    people(p)
    feed_conf(p, feed)
    s = day(1, 10)
    old = vevent("abc@google.com", s, "[Sam & Alex] Session",
                 extra="RRULE:FREQ=WEEKLY;COUNT=4\r\n")
    feed.body = calendar(old)
    assert "4 booked" in sync(p).stdout
    split = s + dt.timedelta(days=14)
    ended = vevent("abc@google.com", s, "[Sam & Alex] Session",
                   extra=f"RRULE:FREQ=WEEKLY;UNTIL={ical_time(split - dt.timedelta(days=1))}\r\n")
    new = vevent(f"abc_R{ical_time(split)[:15]}@google.com",
                 split + dt.timedelta(hours=1), "[Sam & Alex] Session",
                 extra="RRULE:FREQ=WEEKLY;COUNT=2\r\n")
    feed.body = calendar(ended, new)
    for _ in range(2):
        r = sync(p)
    assert len(appts(p, "status = 'booked'")) == 4, r.stdout
    assert not appts(p, "status = 'cancelled'"), r.stdout
    hour = dt.timedelta(hours=1)
    want = [s, s + dt.timedelta(days=7), split + hour, split + dt.timedelta(days=7) + hour]
    got = sorted(a["starts_at"] for a in appts(p, "status = 'booked'"))
    assert got == [fmt_utc(t) for t in want], r.stdout
