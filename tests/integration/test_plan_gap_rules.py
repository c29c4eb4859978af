"""The planner's gaps send (issue 12, deliver_run.c: dl_loop_gap), but
only what the plan has already judged: a due row whose appointment a
later chunk plans may still be skipped by it (the overdue rules), which
the claim's re-check alone does not do."""

from conftest import (as_utc, build_shim, client_mails, fmt_utc, mails_to,
                      preload_env, rules, shift)
from test_plan_overlap import SLOW_PLAN_SHIM
from test_send_batch import copies
from test_service import (PLAIN, add_many, add_single, due_now,  # noqa: F401
                          fast_smtp)

T = "2026-12-03T14:00:00Z"          # Thursday 14:00 GMT
PLAN_TXN = 32                       # pass_plan.c: appointments per chunk
N = 4 * PLAN_TXN                    # so that the plan has gaps


def test_downtime_many_sends_only_closest_overdue(practice, smtp):
    """Downtime over a diary of several chunks: each client gets the
    reminder closest to the appointment only, whichever chunk plans it
    (test_planner_rules' test_downtime_sends_only_closest_overdue, for a
    plan that sends in its gaps)."""
    practice.write_conf(reminders=rules("48h", "24h", "3h"), late_limit="1h")
    practice.init()
    add_many(practice, N, T)
    r = practice.once(shift(T, hours=-72))
    assert r.returncode == 0, r.stderr
    assert len(practice.messages("status = 'pending'")) == 3 * N
    # nudged was down from 72h before until 20h before
    r = practice.once(shift(T, hours=-20))
    assert r.returncode == 0, r.stderr
    twice = [i for i in range(N)
             if len(mails_to(smtp, f"c{i}@example.org")) != 1]
    assert twice == [], f"{len(twice)} clients did not get exactly one"
    rows = practice.messages("purpose = 'reminder' AND status = 'sent'")
    assert len(rows) == N
    assert {fmt_utc(as_utc(r["due_at"])) for r in rows} == {shift(T, hours=-24)}


def test_rule_gone_from_config_sends_nothing_from_any_chunk(practice, smtp):
    """A rule taken out of the config: its due reminders are cancelled by
    the plan (its rule is no longer in the config), whichever chunk plans
    their appointment; none goes in the gaps before."""
    practice.write_conf(reminders=rules("48h", "24h"), late_limit="1h")
    practice.init()
    add_many(practice, N, T)
    r = practice.once(shift(T, hours=-72))
    assert r.returncode == 0, r.stderr
    practice.write_conf(reminders=rules("24h"), late_limit="1h")
    # the 48h reminders are an hour overdue, the 24h ones not yet due
    r = practice.once(shift(T, hours=-47))
    assert r.returncode == 0, r.stderr
    assert [m["rcpt_tos"] for m in smtp.messages] == []
    gone = practice.messages("status = 'cancelled'")
    assert len(gone) == N, gone[:3]


def test_plan_failing_half_way_keeps_what_its_gaps_sent(practice, fast_smtp,
                                                      tmp_path):
    """The plan fails in its fifth chunk (a booking tool's trigger refuses
    an insert, as a full disk would) after its gaps sent what the chunks
    before made due: the pass fails, saying why once; what went is
    recorded sent, nothing is left 'sending' or claimed after; the next
    pass sends the rest, each message once.  The planner's inserts are
    slowed (test_plan_overlap's SLOW_PLAN_SHIM), so that every chunk leaves
    a gap however fast the build plans."""
    n = 6 * PLAN_TXN
    due_now(practice, fast_smtp, n, PLAIN)
    practice.set("CREATE TRIGGER full BEFORE INSERT ON messages WHEN"
                 f" NEW.appointment_id = {4 * PLAN_TXN + 3}"
                 " BEGIN SELECT RAISE(ABORT, 'no room left'); END")
    shim = build_shim(tmp_path, "slowplan", SLOW_PLAN_SHIM)
    r = practice.run("--once", timeout=60, env=preload_env(shim))
    assert r.returncode == 74, r.stderr
    assert r.stderr.count("no room left") == 1, r.stderr
    went = len(fast_smtp.messages)
    assert 0 < went <= 4 * PLAN_TXN, went
    by = {x["status"]: x["n"] for x in practice.query(
        "SELECT status, count(*) AS n FROM messages GROUP BY status")}
    # every row the four chunks wrote went, on a slow machine
    want = {"sent": went, "pending": 4 * PLAN_TXN - went}
    assert by == {k: v for k, v in want.items() if v}, by
    practice.set("DROP TRIGGER full")
    r = practice.run("--once", timeout=60)
    assert r.returncode == 0, r.stderr
    got = copies(fast_smtp)
    assert sorted(got) == sorted(f"c{i}@example.org" for i in range(n))
    assert set(got.values()) == {1}, got


def test_overdue_row_of_a_later_chunk_goes_before_the_gaps_sends(
        practice, fast_smtp):
    """After downtime, the most overdue reminder belongs to the diary's
    last appointment, which the last chunk plans: the gaps send nothing
    before it (they stop at the first due row the plan has yet to judge),
    so it goes first, not behind the earlier chunks' reminders."""
    n = 12 * PLAN_TXN              # chunks long enough to leave gaps
    practice.use_smtp(fast_smtp)
    practice.write_conf(email=PLAIN, reminders=rules("24h"), late_limit="1h")
    practice.init()
    add_many(practice, n, T)
    con = practice.connect()
    try:
        with con:
            add_single(con, n, shift(T, hours=-12))     # the last id
    finally:
        con.close()
    r = practice.once(shift(T, hours=-72))
    assert r.returncode == 0, r.stderr
    assert len(practice.messages("status = 'pending'")) == n + 1
    # down until 20 h before T: every reminder overdue, the last one most
    r = practice.once(shift(T, hours=-20))
    assert r.returncode == 0, r.stderr
    order = [m["rcpt_tos"][0] for m in fast_smtp.messages]
    assert len(order) == n + 1 and set(order) == \
        {f"c{i}@example.org" for i in range(n + 1)}, order
    assert order[0] == f"c{n}@example.org", order.index(f"c{n}@example.org")


def test_rule_gone_from_config_far_ahead_not_sent_when_due(practice, smtp):
    """A 14-day rule taken out of the config while its reminder waits
    (planned 8 days ahead): the appointment is beyond the window the
    reload's whole pass reads (now + horizon + the longest lead of the
    rules left) and beyond every band until after the reminder falls due.
    The reload's pass cancels it all the same (it reads every pending
    row's appointment), and nothing goes when it falls due.  Were it still
    pending then, the claim's re-check would cancel it (test_plan.c
    test_recheck): a pass inside the minute's grace, as a service's, does
    not read its appointment again (pass_plan.c)."""
    practice.write_conf(reminders=rules("14d", "48h"), late_limit="1h")
    practice.init()
    sam, alex, case, appt = practice.couple(T)
    r = practice.once(shift(T, days=-20))
    assert r.returncode == 0, r.stderr
    assert len(practice.messages("status = 'pending'")) == 2    # 14d, each
    practice.write_conf(reminders=rules("48h"), late_limit="1h")
    r = practice.once(shift(T, days=-18))                       # the reload
    assert r.returncode == 0, r.stderr
    # the reload's whole pass reads every pending row's appointment too
    gone = practice.messages("status = 'cancelled'")
    assert len(gone) == 2, practice.messages()
    assert {m["last_error"] for m in gone} == \
        {"its rule is no longer in the config"}, gone
    r = practice.once(shift(T, days=-14, seconds=30))           # 30 s after due
    assert r.returncode == 0, r.stderr
    assert client_mails(smtp) == [], [m["rcpt_tos"] for m in smtp.messages]
    assert len(practice.messages("status = 'pending'")) == 0, practice.messages()
