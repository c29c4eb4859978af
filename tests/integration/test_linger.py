"""The pass's process that sent lingers for the next pass (issue 12).

A reload, a stop and kill -9 of the service while it lingers: the next
pass uses the new config, nothing is left behind, the loop's own file
descriptors do not grow with the passes.
"""

import datetime as dt
import fcntl
import os
import signal
import time

import pytest

from conftest import fmt_utc
from test_service import (TWO_H, _reload,  # noqa: F401
                          _pass_over, add_homework_ahead, add_single,
                          notify,
                          pass_processes, slow_practice,
                          services, status_counts, wait_until,
                          watchdog_pings, whole_second_after)

LINGER = {"NUDGED_TEST_TIMING": "linger=30"}


def _sent_pass_over(notify, after):
    """The STATUS= of the pass that sent two, from index after on."""
    wait_until(lambda: any("last pass: 2 sent" in m
                           for _, m in notify.lines[after:]), 10,
               "the sending pass to be over")


def _lingering(practice, smtp, services, notify):
    """A service whose pass sent two emails, its process lingering."""
    practice.write_conf(reminders=TWO_H, late_limit="1h")
    practice.init()
    later = fmt_utc(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3))
    _, _, case, _ = practice.couple(later)
    svc = services(practice, notify, env=LINGER)
    svc.ready()
    notify.wait("STATUS=", 5)
    after = len(notify.lines)
    practice.book(case, fmt_utc(whole_second_after(2 * 3600 + 1)))
    smtp.wait_for(2, timeout=15)
    _sent_pass_over(notify, after)
    wait_until(lambda: len(pass_processes(svc.pid)) == 1, 5,
               "the sending pass's process to linger")
    [child] = pass_processes(svc.pid)
    return svc, case, child


def _fds(pid):
    d = f"/proc/{pid}/fd"
    out = []
    for n in sorted(os.listdir(d), key=int):
        try:
            out.append((n, os.readlink(f"{d}/{n}").split(":[")[0]))
        except OSError:
            pass
    return out


def test_sighup_while_it_lingers_the_next_pass_has_the_new_config(
        practice, smtp, services, notify):
    """The lingering process holds the config of its fork: a reload ends
    it, so the next pass plans with the rule the reload added."""
    svc, case, child = _lingering(practice, smtp, services, notify)
    practice.write_conf(reminders=TWO_H + [{"before": "25h",
                                            "channel": "email"}],
                        late_limit="1h")
    _reload(svc, notify)
    assert not os.path.exists(f"/proc/{child}/fd"), "old process lingers"
    # due at once under the new rule only
    practice.book(case, fmt_utc(whole_second_after(25 * 3600 + 1)))
    smtp.wait_for(4, timeout=15)
    wait_until(lambda: status_counts(practice).get("sent") == 4, 10,
               "the new rule's two emails 'sent'")
    rc, _ = svc.stop()
    assert rc == 0, svc.log


def test_sigterm_while_it_lingers(practice, smtp, services, notify):
    svc, _, child = _lingering(practice, smtp, services, notify)
    rc, took = svc.stop()
    assert rc == 0, svc.log
    assert took < 5, svc.log
    assert not os.path.exists(f"/proc/{child}/fd"), "pass process left"
    assert "pass failed" not in svc.log, svc.log


def test_kill_9_while_it_lingers_takes_it_along(practice, smtp, services,
                                                notify):
    svc, _, child = _lingering(practice, smtp, services, notify)
    svc.signal(signal.SIGKILL)
    svc.proc.wait(5)
    wait_until(lambda: not os.path.exists(f"/proc/{child}/fd"), 5,
               "the lingering process gone with the service")
    with open(practice.db, "rb") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)


@pytest.mark.slow
def test_reused_process_keeps_the_loops_fds_steady(practice, smtp, services,
                                                   notify):
    """Passes in the lingering process, then in fresh ones once it ended:
    the loop's descriptors are those it had, none left per pass."""
    svc, case, child = _lingering(practice, smtp, services, notify)
    before = _fds(svc.pid)
    for i in range(3):
        after = len(notify.lines)
        practice.book(case, fmt_utc(whole_second_after(2 * 3600 + 1)))
        smtp.wait_for(4 + 2 * i, timeout=15)
        _sent_pass_over(notify, after)
        wait_until(lambda: pass_processes(svc.pid) == [child], 5,
                   "the same process to linger again")
        wait_until(lambda: _fds(svc.pid) == before, 5,
                   f"the loop's fds as they were: {before}, not "
                   f"{_fds(svc.pid)}")
    assert "pass failed" not in svc.log, svc.log
    rc, _ = svc.stop()
    assert rc == 0, svc.log


def _reused_sending(practice, tmp_path, services, notify, delay, env):
    """A slow server; the second message goes up in the process that
    sent the first and lingered.  The server, the service, that pid."""
    srv = slow_practice(practice, tmp_path, 1, delay)
    svc = services(practice, notify, env=dict(LINGER, **env))
    svc.ready()
    srv.wait_for(1, 15)
    wait_until(lambda: status_counts(practice) == {"sent": 1}, 5, "sent")
    [child] = pass_processes(svc.pid)
    con = practice.connect()
    with con:
        add_single(con, 1, fmt_utc(whole_second_after(2 * 3600 - 5)))
    con.close()
    srv.wait_in_data(2, 10)
    assert pass_processes(svc.pid) == [child], svc.log
    return srv, svc, child


@pytest.mark.slow
def test_watchdog_fed_during_a_reused_process_long_exchange(
        practice, tmp_path, services, notify):
    srv, svc, _ = _reused_sending(practice, tmp_path, services, notify, 3.0,
                                  # see test_service's long-exchange test
                                  {"WATCHDOG_USEC": "1500000"})
    try:
        t = time.monotonic()
        srv.wait_for(2, 15)
        done = time.monotonic()
        pings = watchdog_pings(notify, t, done)
        assert done - t >= 2.0
        assert len(pings) >= 2, f"only {len(pings)} WATCHDOG=1 in " \
                                f"{done - t:.1f} s"
        rc, _ = svc.stop()
        assert rc == 0, svc.log
    finally:
        srv.stop()


def test_reused_process_that_crashes_takes_the_service_down(
        practice, tmp_path, services, notify):
    srv, svc, child = _reused_sending(practice, tmp_path, services, notify,
                                      1.5, {})
    try:
        os.kill(child, signal.SIGABRT)
        assert svc.proc.wait(10) == -signal.SIGABRT, svc.log
        assert "a pass crashed (signal 6)" in svc.log, svc.log
        assert practice.messages("status = 'sending'") == []
    finally:
        srv.stop()


def test_change_after_a_reused_process_looked_last_is_not_missed(
        practice, tmp_path, services, notify):
    """As test_change_after_the_pass_process_looked_last_is_not_missed,
    in a pass that ran in the lingering process: the loop kept its own
    connection through it, and the process its own since the last pass."""
    srv, svc, child = _reused_sending(practice, tmp_path, services, notify,
                                      1.0, {})
    try:
        practice.set("INSERT INTO appointments (case_id, starts_at) "
                     "VALUES (1, ?)", fmt_utc(whole_second_after(3 * 86400)))
        svc.signal(signal.SIGSTOP)
        try:
            wait_until(lambda: status_counts(practice) == {"sent": 2}, 10,
                       "the reused pass to send")
            wait_until(lambda: _pass_over(child), 10,
                       "the reused pass's process to make its last write")
            add_homework_ahead(practice, 1)
        finally:
            svc.signal(signal.SIGCONT)
        wait_until(lambda: practice.messages("homework_id IS NOT NULL"), 8,
                   "the homework added meanwhile to be planned")
        rc, _ = svc.stop()
        assert rc == 0, svc.log
    finally:
        srv.stop()


def test_sigterm_to_the_whole_unit_while_a_reused_process_sends(
        practice, tmp_path, services, notify):
    """KillMode=control-group during a pass in the lingering process: its
    message in flight finishes, it does not linger again, exit 0."""
    srv, svc, child = _reused_sending(practice, tmp_path, services, notify,
                                      1.5, {})
    try:
        t = time.monotonic()
        os.kill(child, signal.SIGTERM)
        svc.signal(signal.SIGTERM)
        assert svc.proc.wait(5) == 0, svc.log
        assert time.monotonic() - t <= 5
        assert not os.path.exists(f"/proc/{child}/fd"), "pass process left"
        assert "pass failed" not in svc.log, svc.log
        assert len(srv.messages) == 2, "the message in flight was abandoned"
        assert practice.messages("status = 'sending'") == []
    finally:
        srv.stop()


def _in_listen(pid):
    """The loop waits on the pass's process (ppoll with no timeout), not
    in daemon_wait (a timeout)."""
    with open(f"/proc/{pid}/syscall") as f:
        s = f.read().split()
    return s[0] == "271" and s[3] == "0x0"


def test_stop_as_the_lingering_process_ends_starts_no_pass(
        practice, smtp, services, notify):
    """Asked for a pass just as a stop ends its lingering (systemd signals
    the whole unit), the process ends without one: the service stops, it
    does not start a new process for a pass."""
    svc, case, child = _lingering(practice, smtp, services, notify)
    os.kill(child, signal.SIGSTOP)
    os.kill(child, signal.SIGTERM)      # its linger ends when it goes on
    before = len(practice.messages())
    practice.book(case, fmt_utc(whole_second_after(2 * 3600 + 1)))
    wait_until(lambda: _in_listen(svc.pid), 5, "the loop to ask for a pass")
    svc.signal(signal.SIGTERM)
    time.sleep(0.2)
    os.kill(child, signal.SIGCONT)
    assert svc.proc.wait(5) == 0, svc.log
    assert len(practice.messages()) == before, \
        "a pass ran after the stop: " + svc.log


@pytest.mark.slow
def test_idle_cpu_while_it_lingers_and_after_it_ended(practice, smtp,
                                                      services, notify):
    """Waiting on the lingering process costs the loop nothing, nor does
    its end (the loop reaps it and polls its pipe no more)."""
    practice.write_conf(reminders=TWO_H, late_limit="1h")
    practice.init()
    later = fmt_utc(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3))
    _, _, case, _ = practice.couple(later)
    svc = services(practice, notify, env={"NUDGED_TEST_TIMING": "linger=3"})
    svc.ready()
    notify.wait("STATUS=", 5)
    after = len(notify.lines)
    practice.book(case, fmt_utc(whole_second_after(2 * 3600 + 1)))
    smtp.wait_for(2, timeout=15)
    _sent_pass_over(notify, after)
    [child] = pass_processes(svc.pid)
    before = svc.cpu_ticks()
    wait_until(lambda: pass_processes(svc.pid) == [], 6,
               "the lingering process to end")
    assert svc.cpu_ticks() - before < 5, "busy while it lingered"
    assert not os.path.exists(f"/proc/{child}"), "not reaped (a zombie)"
    before = svc.cpu_ticks()
    time.sleep(3.0)
    assert svc.cpu_ticks() - before < 5, "busy polling after it ended"
    rc, _ = svc.stop()
    assert rc == 0, svc.log


@pytest.mark.slow
def test_passes_of_every_mix_in_one_lingering_process(practice, smtp,
                                                      services, notify):
    """One pass's process carries passes of email and SMS, then SMS only,
    then email only, then one email among texts before a batch of email
    (email.connections 4, sms.concurrency 3): each pass opens and closes
    its sessions in the same process; every message goes once, and the
    process's exit at the stop finds nothing leaked over the passes (the
    sanitizer build's leak check)."""
    from fake_sms import FakeTwilio
    from test_send_seq import _book_at
    from test_sms import configure
    with FakeTwilio(token="tw-token-1") as twilio:
        configure(practice, twilio, sms={"concurrency": 3},
                  email={"connections": 4},
                  reminders=[{"before": "3h", "channel": "email"},
                             {"before": "3h", "channel": "sms"}],
                  late_limit="2h",
                  # real time: SMS quiet hours would hold these in the evening
                  quiet_hours={"channels": []})
        svc = services(practice, notify, env=LINGER)
        svc.ready()
        emails, phones, child = [], [], None
        for runs in ([("email", 5), ("sms", 3), ("email", 12)],
                     [("sms", 10)], [("email", 20)],
                     [("email", 1), ("sms", 15), ("email", 16)]):
            at = fmt_utc(whole_second_after(3 * 3600 + 1))
            for chan, n in runs:
                e, p = _book_at(practice, chan, n, at)
                emails += e
                phones += p
            wait_until(lambda: status_counts(practice).get("sent") ==
                       len(emails) + len(phones), 15, "the pass's sends")
            kids = pass_processes(svc.pid)
            child = child or kids[0]
            assert kids == [child], (kids, child)
        rc, _ = svc.stop()
        assert rc == 0, svc.log
        assert "pass failed" not in svc.log, svc.log
        got = sorted(r for m in smtp.messages for r in m["rcpt_tos"])
        assert got == sorted(emails), got
        assert sorted(m["To"] for m in twilio.messages) == sorted(phones)
