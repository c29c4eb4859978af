"""libcurl, libssl and libical are opened when first needed (issue 12).

An idle service (nothing due) carried ~11 MiB of their pages when they
were linked; now it never maps them: each pass runs in a process of its
own, which opens them when something is sent and gives them back when it
exits (libssl cannot be unloaded from a process once opened).  A library that cannot be opened is an error at
the edge that needs it: the messages stay pending (exit 75 for --once),
the log names the library, nothing is lost, and the next run delivers.
NUDGED_TEST_DL_MISSING (nudged(8), ENVIRONMENT) makes a library "missing".
"""

import datetime as dt
import os
import re
import subprocess
import time

import pytest

from conftest import NUDGECTL, NUDGED, fmt_utc, mails_to, shift
from test_service import (TWO_H, notify, services, status_counts,  # noqa: F401
                          wait_until, whole_second_after)
from test_sms import DUE as SMS_DUE, configure, sms_couple, twilio  # noqa: F401

LAZY = re.compile(r"/lib(curl|ical|ssl)\.so")
T = "2026-12-03T14:00:00Z"
DUE_48H = shift(T, hours=-48)
SAM, ALEX = "sam@example.org", "alex@example.org"
EX_TEMPFAIL = 75


def lazy_maps(pid):
    """The libcurl/libical/libssl files mapped into pid."""
    with open(f"/proc/{pid}/maps") as f:
        return sorted({line.split()[-1] for line in f if LAZY.search(line)})


@pytest.mark.parametrize("binary", [NUDGED, NUDGECTL])
def test_not_linked(binary):
    """No DT_NEEDED for them: the dynamic loader does not map them at start."""
    out = subprocess.run(["readelf", "-d", binary], capture_output=True,
                         text=True, check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)
    assert needed, out
    assert [n for n in needed if LAZY.search("/" + n) or "crypto" in n] == []


def test_idle_service_maps_none_before_or_after_sending(practice, smtp,
                                                        services, notify):
    practice.write_conf(reminders=TWO_H, late_limit="1h")
    practice.init()
    # something planned, nothing due: the pass reads it and sends nothing
    later = fmt_utc(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3))
    _, _, case, _ = practice.couple(later)
    svc = services(practice, notify)
    svc.ready()
    notify.wait("STATUS=", 5)          # the first pass is over: idle
    assert lazy_maps(svc.pid) == [], svc.log
    # due in a moment: the pass's process opens them and sends
    practice.book(case, fmt_utc(whole_second_after(2 * 3600 + 1)))
    smtp.wait_for(2, timeout=15)
    wait_until(lambda: status_counts(practice).get("sent") == 2, 10,
               "both reminders recorded as sent")
    # the pass that sent them is over (its status line is the loop's)
    wait_until(lambda: any("last pass: 2 sent" in line
                           for line in notify.drain()), 10,
               "the sending pass's status")
    # ... and took them with it: the service idles as small as before
    assert lazy_maps(svc.pid) == [], svc.log
    # the reminder carries its calendar entry: libical was opened (there)
    [msg] = mails_to(smtp, SAM)
    assert any(p.get_content_type() == "text/calendar" for p in msg.walk())
    rc, _ = svc.stop()
    assert rc == 0, svc.log


def test_email_without_libcurl_stays_pending(ready, smtp):
    sam, alex, _, _ = ready.couple(T)
    r = ready.once(DUE_48H, env={"NUDGED_TEST_DL_MISSING": "libcurl.so.4"})
    assert r.returncode == EX_TEMPFAIL, (r.returncode, r.stderr)
    assert "cannot load libcurl.so.4" in r.stderr, r.stderr
    assert smtp.messages == []
    rows = ready.messages("purpose = 'reminder'")
    assert [m["status"] for m in rows] == ["pending", "pending"]
    # the library is back: the next pass delivers both, once
    r = ready.once(shift(DUE_48H, minutes=10))
    assert r.returncode == 0, r.stderr
    assert len(mails_to(smtp, SAM)) == 1 and len(mails_to(smtp, ALEX)) == 1
    assert status_counts(ready) == {"sent": 2}


def test_missing_libcurl_is_logged_once(ready, smtp):
    """Both reminders of the batch are refused for the one reason: one
    refusal, one pause, one error line (not one per message)."""
    ready.couple(T)
    r = ready.once(DUE_48H, env={"NUDGED_TEST_DL_MISSING": "libcurl.so.4"})
    assert r.returncode == EX_TEMPFAIL, (r.returncode, r.stderr)
    assert r.stderr.count("cannot load libcurl.so.4") == 1, r.stderr
    assert [m["status"] for m in ready.messages("purpose = 'reminder'")] == \
        ["pending", "pending"]


def test_sms_without_libcurl_stays_pending(practice, smtp, twilio):
    configure(practice, twilio)
    sms_couple(practice)
    r = practice.once(SMS_DUE, env={"NUDGED_TEST_DL_MISSING": "libcurl.so.4"})
    assert r.returncode == EX_TEMPFAIL, (r.returncode, r.stderr)
    assert "cannot load libcurl.so.4" in r.stderr, r.stderr
    # one line for the batch (the digest's own failure is another line)
    assert r.stderr.count("channel=sms refused") == 1, r.stderr
    assert twilio.requests == []
    rows = practice.messages("channel = 'sms' AND purpose = 'reminder'")
    assert [m["status"] for m in rows] == ["pending", "pending"]
    r = practice.once(shift(SMS_DUE, minutes=10))
    assert r.returncode == 0, r.stderr
    assert len(twilio.requests) == 2


def test_email_without_libical_goes_without_its_calendar_entry(ready, smtp):
    """libical only writes the attachment: the reminder goes on time, as
    when an entry cannot be written, and the log says why it is missing."""
    ready.couple(T)
    r = ready.once(DUE_48H, env={"NUDGED_TEST_DL_MISSING": "libical.so.3"})
    assert r.returncode == 0, r.stderr
    assert "cannot load libical.so.3" in r.stderr, r.stderr
    [msg] = mails_to(smtp, SAM)
    assert not any(p.get_content_type() == "text/calendar" for p in msg.walk())
    assert status_counts(ready) == {"sent": 2}


def test_calendar_import_without_libical_is_an_error(ready, tmp_path):
    ics = tmp_path / "diary.ics"
    ics.write_text("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
                   "END:VCALENDAR\r\n")
    r = ready.ctl("import", str(ics),
                  env={"NUDGED_TEST_DL_MISSING": "libical.so.3"})
    assert r.returncode != 0
    assert "cannot load libical.so.3" in r.stderr, r.stderr


@pytest.mark.parametrize("lib", ["libcurl.so.4", "libical.so.3"])
def test_check_config_warns_of_a_missing_library(practice, smtp, lib):
    """Found at installation, not at the first reminder: a warning (the
    file itself is fine, so still exit 0)."""
    practice.write_conf()
    r = practice.run("--check-config")
    assert r.returncode == 0 and "cannot load" not in r.stderr, r.stderr
    r = practice.run("--check-config", env={"NUDGED_TEST_DL_MISSING": lib})
    assert r.returncode == 0, r.stderr
    assert f"warning: cannot load {lib}:" in r.stderr, r.stderr


@pytest.mark.slow
def test_passes_close_together_share_one_process(practice, smtp, services,
                                                 notify):
    """A pass's process that sent lingers for the next pass (10 s; 2 s
    here), so a burst opens libcurl and OpenSSL once, not at every pass
    (20-50 ms each); then it ends, and what it opened with it."""
    from test_service import pass_processes
    practice.write_conf(reminders=TWO_H, late_limit="1h")
    practice.init()
    later = fmt_utc(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3))
    _, _, case, _ = practice.couple(later)
    svc = services(practice, notify, env={"NUDGED_TEST_TIMING": "linger=2"})
    svc.ready()
    notify.wait("STATUS=", 5)
    # nothing sent: its process did not stay
    assert pass_processes(svc.pid) == [], svc.log
    practice.book(case, fmt_utc(whole_second_after(2 * 3600 + 1)))
    smtp.wait_for(2, timeout=15)
    wait_until(lambda: len(pass_processes(svc.pid)) == 1, 5,
               "the sending pass's process to linger")
    [first] = pass_processes(svc.pid)
    assert any("libcurl" in m for m in lazy_maps(first)), svc.log
    # the next pass, a moment later, runs in the same process
    practice.book(case, fmt_utc(whole_second_after(2 * 3600 + 1)))
    smtp.wait_for(4, timeout=15)
    assert pass_processes(svc.pid) == [first], svc.log
    # then it ends, and the service maps none of it
    wait_until(lambda: pass_processes(svc.pid) == [], 6,
               "the lingering process to end")
    assert lazy_maps(svc.pid) == [], svc.log
    assert status_counts(practice).get("sent") == 4
    rc, _ = svc.stop()
    assert rc == 0, svc.log


@pytest.mark.slow
def test_pass_process_stops_lingering_once_it_has_lived_long(practice, smtp,
                                                            services, notify):
    """Passes closer together than the linger (a booking tool writing every
    few seconds) must not keep one process, and its heap, all day: once
    it has lived DAEMON_REUSE (300 s; 1 s here) it ends after its pass and
    the next pass has a new one.  (Without the cap the same process runs
    them all: test_passes_close_together_share_one_process.)"""
    from test_service import pass_processes
    practice.write_conf(reminders=TWO_H, late_limit="1h")
    practice.init()
    later = fmt_utc(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3))
    _, _, case, _ = practice.couple(later)
    svc = services(practice, notify,
                   env={"NUDGED_TEST_TIMING": "linger=10,reuse=1"})
    svc.ready()
    notify.wait("STATUS=", 5)
    practice.book(case, fmt_utc(whole_second_after(2 * 3600 + 1)))
    smtp.wait_for(2, timeout=15)
    wait_until(lambda: len(pass_processes(svc.pid)) == 1, 5,
               "the sending pass's process to linger")
    [first] = pass_processes(svc.pid)
    time.sleep(1.2)
    # its next pass, past reuse: it runs it, then ends (not 10 s later)
    practice.book(case, fmt_utc(whole_second_after(2 * 3600 + 1)))
    smtp.wait_for(4, timeout=15)
    wait_until(lambda: not os.path.exists(f"/proc/{first}/fd"), 5,
               "the old process to end after its pass")
    assert first not in pass_processes(svc.pid), svc.log
    rc, _ = svc.stop()
    assert rc == 0, svc.log
