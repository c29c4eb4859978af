"""Review of the calendar audit: a session the practitioner cancelled stays
cancelled, whichever feed or command cancelled it."""

import pytest

from conftest import Raw
from feed_server import FeedServer
# feed is the fixture of test_calendar_feeds
from test_calendar_feeds import (appts, calendar, day, feed,  # noqa: F401,F811
                                 people, vevent)


@pytest.fixture
def feed2(tmp_path):
    srv = FeedServer(tmp_path / "feed2").start()
    yield srv
    srv.stop()


def two_feeds(p, feed, feed2):
    from conftest import lc
    f1 = {"name": "own", "url": feed.url, "ca_file": feed.ca_file}
    f2 = {"name": "shared", "url": feed2.url, "ca_file": feed2.ca_file}
    p.write_conf(email=False, calendar=Raw(
        "{ feeds = ( " + lc(f1) + ", " + lc(f2) + " ); }"))


def sync(p):
    r = p.ctl("calendar", "sync")
    assert r.returncode == 0, r.stderr
    return r


def shared_session(p, feed, feed2):
    """The couple's session in both feeds (one UID), synced once: the
    event, for a later version of it."""
    people(p)
    two_feeds(p, feed, feed2)
    ev = vevent("shared-uid@google.com", day(3), "[Sam & Alex] Session")
    feed.body = feed2.body = calendar(ev)
    sync(p)
    return ev


def test_cancelled_with_nudgectl_not_booked_again_by_second_feed(ready, feed, feed2):
    """The same invitation in two feeds; the practitioner cancels the session
    with nudgectl (as the empty-feed digest tells them to): the other feed
    must not book it again, with fresh reminders to the clients."""
    p = ready
    people(p)
    two_feeds(p, feed, feed2)
    feed.body = feed2.body = calendar(
        vevent("shared-uid@google.com", day(3), "[Sam & Alex] Session"))
    sync(p)
    [a] = appts(p)
    r = p.ctl("cancel", str(a["id"]))
    assert r.returncode == 0, r.stderr
    for _ in range(2):
        r = sync(p)
    assert appts(p, "status = 'booked'") == [], r.stdout


def test_cancelled_in_one_feed_not_booked_again_by_the_other(ready, feed, feed2):
    """The feed that booked it shows it cancelled; the other feed still has
    the old copy (it is fetched less often, or updates later): the session
    stays cancelled, it is not booked again at the same time."""
    p = ready
    ev = shared_session(p, feed, feed2)
    feed.body = calendar(ev.replace("SUMMARY:", "STATUS:CANCELLED\r\nSUMMARY:"))
    r = sync(p)
    assert appts(p, "status = 'booked'") == [], r.stdout


def test_empty_feed_problem_says_what_to_do(ready, feed):
    """The practitioner whose last session really went (an export that holds
    only future events) reads in the digest how to get out of the 'failing
    feed' state: it is not a feed that 'could not be read', and the
    instruction to cancel with nudgectl is part of the line."""
    p = ready
    people(p)
    from test_calendar_feeds import feed_conf
    feed_conf(p, feed)
    feed.body = calendar(vevent("a", day(3), "[Robin] Session"))
    sync(p)
    feed.body = calendar()
    p.ctl("calendar", "sync")
    [what] = [r["what"] for r in
              p.query("SELECT what FROM problems WHERE tbl = 'calendar'")]
    print(what)
    assert "nudgectl cancel" in what, what
    assert "could not be read" not in what, what


def test_client_taken_off_the_invitation_is_reported(ready, feed):
    """The practitioner cancels Robin's session by taking Robin off the
    invitation (Google tells Robin it is cancelled).  The appointment is
    kept (an address changed in nudged looks the same), so its reminders
    would still go: the practitioner must hear of it in the digest, not
    only in 'nudgectl calendar unmatched'."""
    p = ready
    people(p)
    from test_calendar_feeds import feed_conf
    feed_conf(p, feed)
    org = "ORGANIZER:mailto:christian@example.org\r\n"
    feed.body = calendar(vevent(
        "b", day(5), "Session", extra=org +
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:robin@example.org\r\n"))
    assert "1 booked" in sync(p).stdout
    feed.body = calendar(vevent("b", day(5), "Session", extra=org))
    r = sync(p)
    [a] = appts(p)
    assert a["status"] == "booked", r.stdout
    what = [x["what"] for x in
            p.query("SELECT what FROM problems WHERE tbl = 'calendar'")]
    assert any(f"appointment {a['id']}" in w and "nudgectl cancel" in w
               for w in what), (what, r.stdout)
    # and it goes when the event is cancelled in the calendar
    feed.body = calendar(vevent("b", day(5), "Session",
                                extra=org + "STATUS:CANCELLED\r\n"))
    sync(p)
    assert appts(p)[0]["status"] == "cancelled"
    assert not p.query("SELECT what FROM problems WHERE tbl = 'calendar'")


def test_cancelled_in_the_feed_that_did_not_book_it(ready, feed, feed2):
    """The session is cancelled; the shared calendar already shows it
    cancelled, the practitioner's own (which booked it) still has the old
    copy: a cancellation in the calendar is no glitch, it cancels."""
    p = ready
    ev = shared_session(p, feed, feed2)
    assert appts(p)[0]["source"] == "feed:own"
    feed2.body = calendar(ev.replace("SUMMARY:", "STATUS:CANCELLED\r\nSUMMARY:"))
    r = sync(p)
    assert appts(p, "status = 'booked'") == [], r.stdout
    # the stale copy does not book it again
    r = sync(p)
    assert appts(p, "status = 'booked'") == [], r.stdout


def test_cancelled_after_the_booking_feed_was_removed(ready, feed, feed2):
    """The practitioner stops syncing the calendar that booked the session
    and keeps the shared one: a cancellation there still cancels."""
    from conftest import lc
    p = ready
    ev = shared_session(p, feed, feed2)
    f2 = {"name": "shared", "url": feed2.url, "ca_file": feed2.ca_file}
    p.write_conf(email=False, calendar=Raw("{ feeds = ( " + lc(f2) + " ); }"))
    feed2.body = calendar(ev.replace("SUMMARY:", "STATUS:CANCELLED\r\nSUMMARY:"))
    r = sync(p)
    assert appts(p, "status = 'booked'") == [], r.stdout


def test_one_instance_of_a_series_moved_beyond_the_window(ready, feed):
    """One session of a weekly series moved three months on (an override
    whose RECURRENCE-ID is in the window): moved, not cancelled."""
    from test_calendar_feeds import feed_conf, ical_time
    p = ready
    people(p)
    feed_conf(p, feed)
    s = day(2, 10)
    master = vevent("w", s, "[Robin] Session",
                    extra="RRULE:FREQ=WEEKLY;COUNT=2\r\n")
    feed.body = calendar(master)
    assert "2 booked" in sync(p).stdout
    import datetime as dt
    far = day(100, 10)
    ovr = vevent("w", far, "[Robin] Session",
                 extra=f"RECURRENCE-ID:{ical_time(s + dt.timedelta(days=7))}\r\n")
    feed.body = calendar(master, ovr)
    for _ in range(3):
        r = sync(p)
    assert appts(p, "status = 'cancelled'") == [], r.stdout
    from conftest import fmt_utc
    assert fmt_utc(far) in [a["starts_at"] for a in appts(p)], r.stdout


def test_unmatched_booked_event_still_moves_its_appointment(ready, feed):
    """Robin's address changed in nudged (the event no longer matches, the
    appointment is kept); then the practitioner moves the session in the
    calendar: the appointment moves too, Robin is not reminded of the old
    time."""
    from conftest import fmt_utc
    p = ready
    people(p)
    from test_calendar_feeds import feed_conf
    feed_conf(p, feed)
    att = "ATTENDEE;PARTSTAT=ACCEPTED:mailto:robin@example.org\r\n"
    feed.body = calendar(vevent("b", day(5), "Session", extra=att))
    assert "1 booked" in sync(p).stdout
    p.set("UPDATE clients SET email = 'robin.lee@example.net' WHERE email = "
          "'robin@example.org'")
    sync(p)
    feed.body = calendar(vevent("b", day(6, 15), "Session", extra=att))
    r = sync(p)
    [a] = appts(p)
    assert a["status"] == "booked" and a["starts_at"] == fmt_utc(day(6, 15)), r.stdout


def test_event_moved_to_the_other_calendar_is_not_lost(ready, feed, feed2):
    """The practitioner moves a session from one configured calendar to the
    other (Google's 'change calendar' keeps the UID): the session is still
    booked, not cancelled (no cancellation notice) nor lost."""
    p = ready
    people(p)
    two_feeds(p, feed, feed2)
    ev = vevent("moved-uid@google.com", day(3), "[Sam & Alex] Session")
    feed.body = calendar(ev)
    feed2.body = calendar()
    sync(p)
    feed.body = calendar(vevent("other", day(9), "[Robin] Session"))
    feed2.body = calendar(ev)
    for _ in range(3):
        r = sync(p)
    rows = appts(p, "source_uid = 'moved-uid@google.com'")
    assert [a["status"] for a in rows] == ["booked"], (rows, r.stdout)


@pytest.mark.xfail(strict=True, reason="not fixed: a database from before "
                   "458920f keeps both rows (policy/cal_match.c cal_one sees "
                   "each feed's own row first); settling one needs a silent "
                   "cancel (no cancellation notice), which does not exist")
def test_duplicate_booked_before_the_fix_is_settled(ready, feed, feed2):
    """Before 'the same event in two feeds books one appointment', each feed
    booked its own row for a shared UID, and each row gets its own
    reminders: after the upgrade the clients still get every reminder
    twice."""
    from conftest import fmt_utc
    p = ready
    case, _ = people(p)
    two_feeds(p, feed, feed2)
    ev = vevent("dup@google.com", day(3), "[Sam & Alex] Session")
    feed.body = feed2.body = calendar(ev)
    for src in ("feed:own", "feed:shared"):
        p.set("INSERT INTO appointments (case_id, starts_at, duration_min,"
              " source, source_uid) VALUES (?, ?, 50, ?, 'dup@google.com')",
              case, fmt_utc(day(3)), src)
    for _ in range(2):
        r = sync(p)
    assert len(appts(p, "status = 'booked'")) == 1, r.stdout
