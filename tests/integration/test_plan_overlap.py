"""A large plan sends while it is written (issue 12): the planner leaves
the lock free between two chunks of appointments (pass_plan.c), and the
pass spends that time sending what the chunks before made due
(deliver_run.c, dl_loop_gap), not sleeping it.  Each message still goes
once, and a slow server never holds the rest of the plan for more than
the first batch.

The planner leaves a gap only once it held the lock PASS_PLAN_GAP_MS
(2 ms) since the last one, and a gap runs at least one turn of the send
loop: how many gaps a pass has depends on how fast the build plans.  An
-O2 build plans a chunk of 32 appointments in well under 2 ms, so seven
chunks left one gap, too few for a batch to be claimed, sent and
recorded; the sanitizer build, slower, left four.  The first test
therefore makes the planner's writes take a known minimum time
(SLOW_PLAN_SHIM), so that every chunk holds the lock long enough to
leave a gap after it, whatever the build."""

import os
import re
import shutil

import pytest

from conftest import build_shim, fmt_utc, preload_env
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


def sent_before_planned(stderr, k):
    """The outcomes recorded before the planner wrote its k-th message
    (the planner logs each with -v, chunk after chunk)."""
    n = 0
    for line in stderr.splitlines():
        if re.search(r"\bmsg=\d+ planned\b", line):
            k -= 1
            if k == 0:
                return n
        if "status=sent" in line:
            n += 1
    raise AssertionError("fewer messages planned than expected")


# The planner's insert of a message (store_outbox.c, store_insert_msg)
# takes at least INSERT_US more: a chunk of PLAN_TXN appointments then
# holds the lock at least PLAN_TXN * INSERT_US = 6.4 ms, more than
# PASS_PLAN_GAP_MS, so the planner leaves a gap after every chunk on any
# build.  The statement is matched by its text; the send loop inserts
# none here (no fallback, no alert).
INSERT_US = 200
SLOW_PLAN_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>
#include <time.h>

typedef struct sqlite3_stmt sqlite3_stmt;

int
sqlite3_step(sqlite3_stmt *st)
{
	static int (*real)(sqlite3_stmt *);
	static const char *(*sql)(sqlite3_stmt *);
	const char *q;

	if (real == NULL) {
		real = (int (*)(sqlite3_stmt *))dlsym(RTLD_NEXT, "sqlite3_step");
		sql = (const char *(*)(sqlite3_stmt *))dlsym(RTLD_NEXT,
		    "sqlite3_sql");
	}
	q = sql(st);
	if (q != NULL && strncmp(q, "INSERT INTO messages ", 21) == 0)
		nanosleep(&(struct timespec){ 0, """ + str(INSERT_US) + r"""000L },
		    NULL);
	return real(st);
}
"""


def once_verbose(practice, env=None):
    r = practice.run("--once", "-v", timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    return r


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_large_plan_sends_between_its_chunks_each_message_once(practice,
                                                               fast_smtp,
                                                               tmp_path):
    """Seven chunks of appointments, each holding the lock long enough to
    leave a gap after it (SLOW_PLAN_SHIM): sending begins before the last
    chunk is written, and every message still arrives once, recorded sent
    once."""
    n = 7 * PLAN_TXN
    due_now(practice, fast_smtp, n, PLAIN)
    shim = build_shim(tmp_path, "slowplan", SLOW_PLAN_SHIM)
    r = once_verbose(practice, env=preload_env(shim))
    # The shim took: each full chunk (all alike) held the lock past
    # PASS_PLAN_GAP_MS.
    m = re.search(r"plan: (\d+) transactions, the longest ([\d.]+) ms",
                  r.stderr)
    assert m, r.stderr[-2000:]
    assert int(m.group(1)) == 7, m.group(0)
    assert float(m.group(2)) >= PLAN_TXN * INSERT_US / 1000, m.group(0)
    early, seen = sent_before_plan(r.stderr)
    assert seen, r.stderr[-2000:]
    assert early > 0, "nothing was sent while the plan was written"
    # ... and between its chunks: the first batch went before the last
    # chunk wrote its first message.
    assert sent_before_planned(r.stderr, 6 * PLAN_TXN + 1) > 0, \
        r.stderr[-4000:]
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
