"""A large plan sends while it is written (issue 12): the planner leaves
the lock free between two chunks of appointments (pass_plan.c), and the
pass spends that time sending what the chunks before made due
(deliver_run.c, dl_loop_gap), not sleeping it.  Each message still goes
once, and a slow server never holds the rest of the plan for more than
the first batch."""

import os

from conftest import fmt_utc
from test_send_batch import SlowDataSmtp, copies
from test_service import (PLAIN, add_many, due_now, fast_smtp,  # noqa: F401
                          whole_second_after)

DL_BATCH = 16          # deliver_int.h: messages claimed at once
PLAN_TXN = 32          # pass_plan.c: appointments per chunk


def sent_before_plan(stderr):
    """The outcomes recorded before the planner wrote its last chunk, and
    whether that moment is in the log at all."""
    n, seen = 0, False
    for line in stderr.splitlines():
        if "plan: " in line and "appointments read" in line:
            seen = True
            break
        if "status=sent" in line:
            n += 1
    return n, seen


def once_verbose(practice):
    r = practice.run("--once", "-v", timeout=60)
    assert r.returncode == 0, r.stderr
    return r


def test_large_plan_sends_between_its_chunks_each_message_once(practice,
                                                               fast_smtp):
    """Seven chunks of appointments: sending begins before the last is
    written, and every message still arrives once, recorded sent once."""
    n = 7 * PLAN_TXN
    due_now(practice, fast_smtp, n, PLAIN)
    r = once_verbose(practice)
    early, seen = sent_before_plan(r.stderr)
    assert seen, r.stderr[-2000:]
    assert early > 0, "nothing was sent while the plan was written"
    got = copies(fast_smtp)
    assert sorted(got) == sorted(f"c{i}@example.org" for i in range(n))
    assert set(got.values()) == {1}, got
    rows = practice.messages("purpose = 'reminder'")
    assert [x["status"] for x in rows] == ["sent"] * n
    assert all(x["attempts"] == 1 for x in rows), rows
    assert not os.path.exists(f"{practice.db}-inflight")


def test_slow_server_holds_the_plan_for_one_batch_at_most(practice,
                                                          tmp_path):
    """Behind a server slower than DL_FLUSH_MS a message, a turn between
    two chunks would hold the plan for a whole batch each time: only the
    first batch (the server not yet timed) may go before the plan is
    written; after it the gaps are slept, and the rest follows the plan.
    Two batches are due, in the first chunk; four more chunks of
    appointments further ahead make the gaps."""
    n = 2 * DL_BATCH
    srv = SlowDataSmtp(tmp_path / "slow", delay=0.06).start()
    try:
        due_now(practice, srv, n, {"connections": 1})
        add_many(practice, 4 * PLAN_TXN, fmt_utc(whole_second_after(3 * 86400)),
                 domain="later.example.org")
        r = once_verbose(practice)
    finally:
        srv.stop()
    early, seen = sent_before_plan(r.stderr)
    assert seen, r.stderr[-2000:]
    assert early <= DL_BATCH, early
    rows = practice.messages("purpose = 'reminder' AND status = 'sent'")
    assert len(rows) == n, rows
    assert set(copies(srv).values()) == {1}
