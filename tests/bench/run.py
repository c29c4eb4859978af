#!/usr/bin/python3
"""nudged benchmarks: nudged, a naive peer and the machine's limits, one run.

    /usr/bin/python3 tests/bench/run.py --build build     (what `make bench` runs)
    /usr/bin/python3 tests/bench/run.py --quick           (small sizes, ~1 minute)

Everything runs on loopback against real servers this script starts
(tests/bench/servers.py): Postfix's smtp-sink receives the email, an nginx
stub answers SMS requests like Twilio's Messages API.  `make bench-deps`
(tests/bench/deps.sh) installs them.  In a temporary directory:

  throughput  N couples (default N = 1,000 and 10,000), each partner due
              one email and one SMS at T: 4N messages.  On fresh copies of
              the same database: `nudged --once --now T`; the naive peer
              (naive_peer.py: stdlib Python, one durable commit per
              outcome); nudged with email alone (one SMTP connection) and
              with SMS alone; then email alone and email+SMS again with
              email.connections = 4 (--email-connections).  The limits
              from the same run: smtp-source
              -s1 and -s4 (-d: connections kept open) sending 2N messages
              of the size nudged sends to the same smtp-sink, and -s1
              again with a spin loop at nice 19 keeping one CPU awake (on
              a VM whose idle vCPUs are slow to wake, one connection
              alone waits for a wake-up at each round trip; nudged's
              other threads keep a CPU awake while it sends, so its one
              connection is judged against both figures); wrk with 1
              and 4 connections against the stub; and the floor of the
              stack nudged is built on: libcurl alone (curl_floor.c), 2N
              such emails over one connection (also with the CPU kept
              awake, against the awake -s1) and 2N SMS-like POSTs over
              one kept-alive connection, no database; and both again
              with only the outbox bookkeeping the contract asks for (a
              claim and a record per batch, durable; an upload mark per
              message before its final dot, or before an SMS's body,
              appended to a file as nudged's are) in a fresh SQLite file.  msg/s = messages the servers received /
              wall time of the program.  Each nudged run also gives its
              main thread's CPU time and how busy the machine was.
  year        1,000,000 appointments over a year around T, 100 messages
              due: one `nudged --once` pass on a fresh copy, then again
              (nothing new), then 30 minutes later (nothing due: the
              service's steady state, a pass reading the horizon's new
              band); wall time and peak RSS by /usr/bin/time; and SQLite
              alone writing the rows those passes wrote into an empty
              copy of the outbox table (rows_floor), the least any first
              pass that writes them can cost here.  During
              the first pass a booking tool's thread writes in a loop on
              its own connection (ToolWriter): the longest it waits for
              the lock.
  latency     nudged as a service (real clock): a booking tool inserts
              couples whose reminders fall due over the next seconds; due
              -> received is the sink's receipt (the dump file's mtime;
              nginx's $msec for SMS) minus the due second.  p50/p99/max.
  idle        one service on a 2,000-case practice plus 20 on 100-case
              practices, each with its own config, database and state,
              nothing due for days; the big one with nothing to send at
              all (so libcurl is never opened), and once more with two
              unreadable rows, whose failure digest makes it send once,
              like the small ones: RSS/PSS from /proc/PID/smaps_rollup,
              CPU ticks and wakeups (context switches) over 60 s.  The
              window runs while the other steps do (an idle process's
              ticks and wakeups are its own), which saves a minute.

Results: a table on stdout, tests/bench/results/latest.md (--md) and
BUILD/bench.json.  The exit status is non-zero only when a run fails (an
error exit, a timeout, messages lost or duplicated), never because a
number is large.  The whole run is bounded (--budget, default 540 s): a
step that would start after the budget is skipped and says so.
"""

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # practice_conf
sys.dont_write_bytecode = True  # no __pycache__ left in the source tree

import bench_data  # noqa: E402
import practice_conf  # noqa: E402
import servers  # noqa: E402

NOW = dt.datetime(2026, 12, 8, 10, 0, tzinfo=dt.timezone.utc)  # a Tuesday, 10:00 GMT
NOW_S = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
ACCOUNT = "AC0123456789abcdef0123456789abcdef"
RUN_TIMEOUT = 300
EMAIL_SMS = '({ before = "3h"; channel = "email"; }, { before = "3h"; channel = "sms"; })'
EMAIL_ONLY = '({ before = "3h"; channel = "email"; })'
SMS_ONLY = '({ before = "3h"; channel = "sms"; })'


class BenchError(Exception):
    pass


def conf_text(db, smtp_url, sms_url, reminders, extra="", connections=1,
              calendar=True):
    """The practice's config (tests/practice_conf.py): plain SMTP to the
    sink over `connections` connections, SMS to the stub (or off);
    reminders is libconfig text; calendar=False: no .ics attached."""
    sms = ({"enabled": False} if sms_url is None else
           {"enabled": True, "provider": "twilio", "url": sms_url,
            "account": ACCOUNT, "token": "bench-token", "from": "+447700900000"})
    email = {"enabled": True, "url": smtp_url, "tls": "none",
             "from": practice_conf.FROM}
    if connections != 1:
        email["connections"] = connections
    if not calendar:
        email["calendar"] = False
    return practice_conf.conf_text(
        db, comment="nudged benchmark configuration (tests/bench/run.py)",
        email=email,
        sms=sms, reminders=practice_conf.Raw(reminders), extra=extra)


def write_conf(path, text):
    # 0600: it holds the (fake) SMS token inline
    practice_conf.write_conf(path, text)


def rows_floor(db, wd, runs=3):
    """SQLite alone writing the outbox rows a first pass wrote: the same
    table and indexes, empty, in a file of its own (WAL, synchronous=FULL,
    as nudged keeps it), filled by one INSERT ... SELECT in one
    transaction.  No appointment read, no rule, no dedupe check, no gap
    left for other writers: the least a pass that writes those rows can
    cost on this disk and CPU.  Median wall and CPU seconds, and the rows."""
    src = sqlite3.connect(db)
    try:
        ddl = [r[0] for r in src.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'messages' AND "
            "type IN ('table', 'index') AND sql IS NOT NULL "
            "ORDER BY type DESC")]
        n = src.execute("SELECT count(*) FROM messages").fetchone()[0]
    finally:
        src.close()
    walls, cpus = [], []
    for k in range(runs):
        path = os.path.join(wd, f"rows-floor-{k}.db")
        con = sqlite3.connect(path, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")
            for sql in ddl:
                con.execute(sql)
            con.execute("ATTACH ? AS src", (db,))
            c0, t0 = time.process_time(), time.perf_counter()
            con.execute("BEGIN IMMEDIATE")
            con.execute("INSERT INTO main.messages SELECT * FROM src.messages")
            con.execute("COMMIT")
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        finally:
            con.close()
        for suf in ("", "-wal", "-shm"):
            if os.path.exists(path + suf):
                os.unlink(path + suf)
    return dict(rows=n, wall_s=statistics.median(walls),
                cpu_s=statistics.median(cpus))


def spinner():
    """A spin loop at the lowest priority: it keeps a CPU from going idle
    (on a VM whose idle vCPUs are slow to wake, a lone round-trip flow
    waits for a wake-up at each step) and yields it to any other program,
    so it takes no CPU from what is measured.  Kill and wait for it."""
    return subprocess.Popen(["nice", "-n", "19", sys.executable, "-c",
                             "while True: pass"])


def init_db(build, workdir, name):
    """An empty database made by `nudgectl init`; returns (db, conf)."""
    db = os.path.join(workdir, name + ".db")
    conf = os.path.join(workdir, name + "-init.conf")
    write_conf(conf, conf_text(db, "smtp://127.0.0.1:9", None, "()"))
    r = subprocess.run([os.path.join(build, "nudgectl"), "-c", conf, "init"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise BenchError(f"nudgectl init: {r.stderr.strip()}")
    return db


def fresh_copy(template, db):
    for ext in ("", "-wal", "-shm"):
        if os.path.exists(db + ext):
            os.unlink(db + ext)
    shutil.copyfile(template, db)


def cpu_ticks():
    """(busy, all) clock ticks of the whole machine so far (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]          # idle, iowait
    return sum(v[:8]) - idle, sum(v[:8])


def tree_cpu(pid):
    """CPU seconds (user + sys) used so far by a live process and its live
    descendants (nginx's workers under their master)."""
    ticks, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, ValueError, IndexError):
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


class MainThread:
    """The CPU time of the main thread of the program /usr/bin/time (pid)
    runs, sampled every 10 ms (the last sample before it exits: within a
    tick or so of the whole).  The threads a program starts for a while
    (nudged's mail connection, a batch's disk sync) are not in it, so the
    main thread's share of the wall time says whether it is the one that
    bounds the run."""

    def __init__(self, time_pid):
        self.time_pid = time_pid
        self.ticks = 0
        self.done = threading.Event()
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def run(self):
        pid = None
        while not self.done.is_set():
            try:
                if pid is None:
                    with open(f"/proc/{self.time_pid}/task/{self.time_pid}/children") as f:
                        kids = f.read().split()
                    pid = int(kids[0]) if kids else None
                if pid is not None:
                    with open(f"/proc/{pid}/task/{pid}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    self.ticks = int(fields[11]) + int(fields[12])
            except (OSError, ValueError, IndexError):
                pass
            self.done.wait(0.01)

    def stop(self):
        self.done.set()
        self.th.join()
        return self.ticks / os.sysconf("SC_CLK_TCK")


def timed(argv, workdir, name, timeout=RUN_TIMEOUT, env=None):
    """Run argv under /usr/bin/time: dict(rc, wall_s, cpu_s, maxrss_kb, out,
    err, main_s: its main thread's CPU time, busy: the share of all the
    machine's CPUs busy meanwhile, whoever used them).  On timeout the
    whole process group goes (time and the program under it)."""
    tfile = os.path.join(workdir, name + ".time")
    b0, a0 = cpu_ticks()
    t0 = time.perf_counter()
    p = subprocess.Popen(["/usr/bin/time", "-f", "%e %U %S %M", "-o", tfile, *argv],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    main = MainThread(p.pid)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise
    finally:
        main_s = main.stop()
    wall = time.perf_counter() - t0
    b1, a1 = cpu_ticks()
    with open(tfile) as f:
        last = f.read().strip().splitlines()[-1].split()
    return dict(rc=p.returncode, wall_s=wall, cpu_s=float(last[1]) + float(last[2]),
                user_s=float(last[1]), sys_s=float(last[2]),
                maxrss_kb=int(last[3]), out=out, err=err, main_s=main_s,
                busy=(b1 - b0) / (a1 - a0) if a1 > a0 else 0.0)


def must(r, what, ok=(0,)):
    if r["rc"] not in ok:
        tail = "\n".join(r["err"].splitlines()[-15:])
        raise BenchError(f"{what}: exit {r['rc']}\n{tail}")
    return r


def statuses(db):
    con = sqlite3.connect(db)
    try:
        return dict(con.execute("SELECT status, count(*) FROM messages"
                                " GROUP BY status").fetchall())
    finally:
        con.close()


def median_run(runs, key="wall_s"):
    return sorted(runs, key=lambda r: r[key])[len(runs) // 2]


class ToolWriter:
    """A booking tool writing in a loop while nudged runs: small write
    transactions (BEGIN IMMEDIATE; UPDATE; COMMIT) on its own connection,
    one every ~2 ms, waiting for the lock as such tools do, with SQLite's
    busy timeout (30 s; its handler retries after growing sleeps).  The
    figure is the longest wait for the lock."""

    def __init__(self, db):
        self.db = db
        self.waits = []
        self.failed = 0
        self.stop = threading.Event()
        con = sqlite3.connect(db, isolation_level=None, timeout=30)
        con.execute("CREATE TABLE IF NOT EXISTS bench_tool (n INTEGER)")
        if con.execute("SELECT count(*) FROM bench_tool").fetchone()[0] == 0:
            con.execute("INSERT INTO bench_tool VALUES (0)")
        con.close()

    def run(self):
        con = sqlite3.connect(self.db, isolation_level=None, timeout=30,
                              check_same_thread=False)
        con.execute("PRAGMA synchronous=NORMAL")  # the tool's own fsyncs are not measured
        while not self.stop.is_set():
            t0 = time.perf_counter()
            try:
                con.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                self.failed += 1
                continue
            # the wait is until the lock is ours (a checkpoint the tool's
            # COMMIT may run is the tool's own work)
            self.waits.append(time.perf_counter() - t0)
            con.execute("UPDATE bench_tool SET n = n + 1")
            con.execute("COMMIT")
            time.sleep(0.002)
        con.close()

    def __enter__(self):
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        return False

    def result(self):
        w = sorted(self.waits)
        return dict(writes=len(w), failed=self.failed,
                    max_ms=round(w[-1] * 1000, 1) if w else None,
                    p99_ms=round(pct(w, 99) * 1000, 1) if w else None)


class Bench:
    def __init__(self, a, tmp):
        self.a = a
        self.build = os.path.abspath(a.build)
        self.nudged = os.path.join(self.build, "nudged")
        self.tmp = tmp
        self.t0 = time.monotonic()
        self.res = dict(now=NOW_S, measured_at=dt.datetime.now(dt.timezone.utc)
                        .strftime("%Y-%m-%dT%H:%M:%SZ"), quick=a.quick,
                        host=host_info(), skipped=[])

    def left(self):
        return self.a.budget - (time.monotonic() - self.t0)

    def timed(self, argv, workdir, name):
        """timed(), stopped when the budget (and 30 s of grace) runs out;
        with servers_s, the CPU time the servers (smtp-sink, nginx) used
        meanwhile, read once they have received everything (the caller's
        wait), so that the CPU a message costs on the machine is whole."""
        self._srv0 = self.servers_cpu()
        return timed(argv, workdir, name,
                     timeout=max(5, min(RUN_TIMEOUT, self.left() + 30)))

    def servers_cpu(self):
        return sum(tree_cpu(x.proc.pid) for x in (self.sink, self.stub)
                   if x.proc is not None)

    def servers_since(self, r):
        r["servers_s"] = self.servers_cpu() - self._srv0

    def step(self, name, need_s, fn, *args):
        if self.left() < need_s:
            self.res["skipped"].append(f"{name}: needs ~{need_s:.0f} s, {self.left():.0f} s"
                                       f" left of the {self.a.budget} s budget")
            print(f"bench: skipping {name} (time budget)", file=sys.stderr)
            return None
        t = time.monotonic()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        try:
            out = fn(*args)
        except subprocess.TimeoutExpired:
            self.res["skipped"].append(f"{name}: stopped at the {self.a.budget} s budget")
            print(f"bench: {name} stopped (time budget)", file=sys.stderr)
            return None
        print(f"bench: {name} done in {time.monotonic() - t:.0f} s", file=sys.stderr,
              flush=True)
        return out

    # -- throughput ---------------------------------------------------------

    def nudged_once(self, template, wd, name, reminders, sms, runs, connections=1,
                    calendar=True, planned=False):
        """Runs of nudged --once on fresh copies; each checked complete.
        planned: an untimed pass five minutes before plans the rows first
        (nothing is due then), as a service does when they are booked, so
        the timed pass only sends."""
        db = os.path.join(wd, name + ".db")
        conf = os.path.join(wd, name + ".conf")
        write_conf(conf, conf_text(db, self.sink.url, self.stub.url if sms else None,
                                   reminders, connections=connections,
                                   calendar=calendar))
        out = []
        for i in range(runs):
            fresh_copy(template, db)
            if planned:
                before = (NOW - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
                must(timed([self.nudged, "-c", conf, "--once", "--now", before], wd,
                           f"{name}-{i}-plan"), f"nudged --once ({name}, planning)")
                if set(statuses(db)) != {"pending"}:
                    raise BenchError(f"{name}: the planning pass left {statuses(db)}")
            m0, s0 = self.sink.messages(), self.stub.requests()
            r = must(self.timed([self.nudged, "-c", conf, "--once", "--now", NOW_S], wd,
                           f"{name}-{i}"), f"nudged --once ({name})")
            st = statuses(db)
            r["emails"] = self.sink.wait_messages(m0 + st.get("sent", 0), 2) - m0
            r["sms"] = self.stub.requests() - s0
            r["statuses"] = st
            self.servers_since(r)
            out.append(r)
        return out

    def naive(self, template, wd, name, runs):
        db = os.path.join(wd, name + ".db")
        out = []
        for i in range(runs):
            fresh_copy(template, db)
            m0, s0 = self.sink.messages(), self.stub.requests()
            r = must(self.timed([sys.executable, os.path.join(HERE, "naive_peer.py"),
                            "--db", db, "--now", NOW_S,
                            "--smtp", f"127.0.0.1:{self.sink.port}",
                            "--sms-url", self.stub.url, "--account", ACCOUNT], wd,
                           f"{name}-{i}"), "naive peer")
            st = statuses(db)
            r["emails"] = self.sink.wait_messages(m0 + st.get("sent", 0) // 2, 2) - m0
            r["sms"] = self.stub.requests() - s0
            r["statuses"] = st
            self.servers_since(r)
            out.append(r)
        return out

    def throughput(self, n, runs, naive_runs=None):
        """Every row of N couples, runs times each (the naive peer
        naive_runs times: at N = 10,000 one run of it is a minute)."""
        wd = os.path.join(self.tmp, f"n{n}")
        os.makedirs(wd)
        template = init_db(self.build, wd, "template")
        data = bench_data.couples(template, n, NOW)
        naive_runs = runs if naive_runs is None else min(runs, naive_runs)
        res = dict(data=data, runs=runs, naive_runs=naive_runs)

        def summary(rs, expect_email, expect_sms):
            for r in rs:
                if (r["emails"], r["sms"]) != (expect_email, expect_sms):
                    raise BenchError(
                        f"N={n}: the servers received {r['emails']} emails and "
                        f"{r['sms']} SMS, expected {expect_email} and {expect_sms}"
                        f" (statuses {r['statuses']})")
            m = median_run(rs)
            total = expect_email + expect_sms
            return dict(wall_s=m["wall_s"], cpu_s=m["cpu_s"], user_s=m["user_s"],
                        sys_s=m["sys_s"],
                        maxrss_kb=max(r["maxrss_kb"] for r in rs),
                        msgs=total, msgs_per_s=total / m["wall_s"],
                        walls=[round(r["wall_s"], 3) for r in rs],
                        statuses=m["statuses"], main_s=m["main_s"],
                        busy=m["busy"], servers_s=m["servers_s"])

        two = 2 * n
        res["nudged"] = summary(self.nudged_once(template, wd, "both", EMAIL_SMS,
                                                 True, runs), two, two)
        res["naive"] = summary(self.naive(template, wd, "naive", naive_runs), two, two)
        res["nudged_email"] = summary(self.nudged_once(template, wd, "email",
                                                       EMAIL_ONLY, False, runs), two, 0)
        res["nudged_sms"] = summary(self.nudged_once(template, wd, "sms", SMS_ONLY,
                                                     True, runs), 0, two)
        # email.connections > 1 (issue 12): against smtp-source -s4
        for c in self.a.email_connections[1:]:
            res[f"nudged_email_c{c}"] = summary(self.nudged_once(
                template, wd, f"email-c{c}", EMAIL_ONLY, False, runs, c), two, 0)
            res[f"nudged_c{c}"] = summary(self.nudged_once(
                template, wd, f"both-c{c}", EMAIL_SMS, True, runs, c), two, two)
        # what the .ics costs: the same emails without it (email.calendar)
        c = self.a.email_connections[-1]
        res[f"nudged_email_c{c}_nocal"] = summary(self.nudged_once(
            template, wd, f"email-c{c}-nocal", EMAIL_ONLY, False, runs, c,
            calendar=False), two, 0)
        # the service's case: planned when booked, only sent when due
        res[f"nudged_email_c{c}_planned"] = summary(self.nudged_once(
            template, wd, f"email-c{c}-planned", EMAIL_ONLY, False, runs, c,
            planned=True), two, 0)
        for s, busy in ((1, False), (4, False), (1, True)):
            walls = []
            # A spin loop keeps one CPU from going idle: on a VM whose vCPUs
            # are slow to wake, a lone round-trip flow pays that at each step
            # (nudged's other threads keep a CPU awake as it sends).
            spin = spinner() if busy else None
            try:
                for _ in range(runs):
                    m0 = self.sink.messages()
                    walls.append(servers.smtp_source(self.sink.port, s, two,
                                                     self.a.mail_size,
                                                     timeout=max(5, self.left() + 30)))
                    if self.sink.wait_messages(m0 + two) - m0 != two:
                        raise BenchError(f"smtp-source -s{s}: the sink did not get {two}")
            finally:
                if spin is not None:
                    spin.kill()
                    spin.wait()
            w = statistics.median(walls)
            res[f"smtp_source_s{s}" + ("_busy" if busy else "")] = dict(
                wall_s=w, msgs=two, msgs_per_s=two / w,
                walls=[round(x, 3) for x in walls])
        res.update(self.curl_floor(two, runs))
        return res

    def curl_floor(self, count, runs):
        """libcurl alone (curl_floor.c): the same number of emails of the
        same size over one connection, and as many SMS-sized POSTs over
        one kept-alive connection; no database, no rendering.  Then the
        same in parallel as nudged sends them: the emails over four
        connections (a thread each), and the emails and the SMS together
        (two programs, as nudged's mail thread and main thread), what
        libcurl itself allows against the targets on this machine."""
        prog = os.path.join(self.build, "curl_floor")
        db = os.path.join(self.tmp, f"curl_floor-{count}.db")
        sms_url = self.stub.url + f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"

        def smtp(k, book=False):
            return ([prog, "smtp-db" if book else "smtp", self.sink.url, str(k),
                     str(self.a.mail_size)] + ([db] if book else []))

        def http(k, book=False):
            return [prog, "http-db" if book else "http", sms_url, str(k)] + \
                ([db] if book else [])

        out = {}
        for kind, argvs in (
                ("curl_smtp", [smtp(count)]),
                ("curl_smtp_busy", [smtp(count)]),
                ("curl_smtp_db", [smtp(count, True)]),
                ("curl_http", [http(count)]),
                ("curl_http_db", [http(count, True)]),
                ("curl_smtp_c4", [smtp(count) + ["4"]]),
                ("curl_smtp_db_c4", [smtp(count, True) + ["4"]]),
                ("curl_both", [smtp(count), http(count)]),
                ("curl_both_c4", [smtp(count) + ["4"], http(count)])):
            emails = sum(int(a[3]) for a in argvs if a[1].startswith("smtp"))
            posts = sum(int(a[3]) for a in argvs if a[1].startswith("http"))
            walls, cpus = [], []
            # as smtp-source -s1 with one CPU kept busy (reaped after the
            # runs: its CPU time is never counted as theirs)
            spin = spinner() if kind.endswith("_busy") else None
            try:
                self.floor_runs(kind, argvs, db, runs, emails, posts, walls, cpus)
            finally:
                if spin is not None:
                    spin.kill()
                    spin.wait()
            w = statistics.median(walls)
            out[kind] = dict(wall_s=w, msgs=emails + posts,
                             msgs_per_s=(emails + posts) / w,
                             walls=[round(x, 3) for x in walls],
                             cpu_s=statistics.median(c for c, _ in cpus),
                             servers_s=statistics.median(v for _, v in cpus))
        return out

    def floor_runs(self, kind, argvs, db, runs, emails, posts, walls, cpus):
        """runs of curl_floor's argvs started together; each run's span
        into walls, its CPU (theirs, the servers') into cpus."""
        for _ in range(runs):
            e0, h0 = self.sink.messages(), self.stub.requests()
            for f in (db, db + "-wal", db + "-shm"):
                if os.path.exists(f):
                    os.unlink(f)
            t0, s0 = os.times(), self.servers_cpu()
            procs = [subprocess.Popen(a, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True,
                                      env=dict(os.environ, CURL_FLOOR_SYNC="1"))
                     for a in argvs]
            # all loaded and set up, then all go at once
            unready = [p for p in procs if p.stdout.readline() != "ready\n"]
            for p in procs:
                if p not in unready:
                    p.stdin.write("go\n")
                    p.stdin.flush()
            spans, fails = [], []
            for p in procs:
                try:
                    o, e = p.communicate(timeout=max(5, self.left() + 30))
                except subprocess.TimeoutExpired:
                    p.kill()
                    o, e = p.communicate()
                if p.returncode != 0 or p in unready:
                    fails.append(f"exit {p.returncode}: {e[-300:]}")
                else:
                    spans.append([float(x) for x in o.split()])
            t1 = os.times()
            if fails:
                raise BenchError(f"curl_floor {kind}: {fails[0]}")
            # both servers write a message down just after answering
            # it: nginx's access-log line can land after curl_floor exits
            if emails:
                self.sink.wait_messages(e0 + emails)
            if posts:
                self.stub.wait_requests(h0 + posts)
            if (self.sink.messages() - e0, self.stub.requests() - h0) != (emails, posts):
                raise BenchError(f"curl_floor {kind}: the servers got "
                                 f"{self.sink.messages() - e0} emails and "
                                 f"{self.stub.requests() - h0} requests, not "
                                 f"{emails} and {posts}")
            # from the first start to the last end (no start-up)
            walls.append(max(x[2] for x in spans) - min(x[1] for x in spans))
            cpus.append((t1.children_user - t0.children_user
                         + t1.children_system - t0.children_system,
                         self.servers_cpu() - s0))

    def mail_size(self):
        """Bytes of one of nudged's reminder emails (smtp-source sends that
        much per message, so the limit moves the same bytes)."""
        wd = os.path.join(self.tmp, "size")
        os.makedirs(wd)
        template = init_db(self.build, wd, "template")
        bench_data.couples(template, 1, NOW)
        with servers.SmtpSink(wd, dump=True) as sink:
            db = os.path.join(wd, "size.db")
            conf = os.path.join(wd, "size.conf")
            write_conf(conf, conf_text(db, sink.url, None, EMAIL_ONLY))
            fresh_copy(template, db)
            must(self.timed([self.nudged, "-c", conf, "--once", "--now", NOW_S], wd,
                       "size"), "nudged --once (size)")
            sink.wait_messages(2)
            sizes = [os.path.getsize(os.path.join(sink.dump, f))
                     for f in os.listdir(sink.dump)]
        if not sizes:
            raise BenchError("no email reached the dumping sink")
        # The dump adds smtp-sink's X- lines (~150 bytes); close enough.
        return int(statistics.mean(sizes))

    def http_limit(self):
        wd = os.path.join(self.tmp, "wrk")
        os.makedirs(wd)
        s0 = self.stub.requests()
        out = {f"wrk_c{c}": dict(req_per_s=servers.wrk_post(self.stub.url, wd, c,
                                                            self.a.wrk_seconds))
               for c in (1, 4)}
        out["requests"] = self.stub.requests() - s0
        return out

    # -- one pass over a year -----------------------------------------------

    def year(self):
        wd = os.path.join(self.tmp, "year")
        os.makedirs(wd)
        template = init_db(self.build, wd, "template")
        t = time.perf_counter()
        data = bench_data.year(template, NOW, appointments=self.a.year_appointments)
        data["populate_s"] = round(time.perf_counter() - t, 1)
        db = os.path.join(wd, "year.db")
        conf = os.path.join(wd, "year.conf")
        write_conf(conf, conf_text(db, self.sink.url, self.stub.url, EMAIL_SMS))
        fresh_copy(template, db)
        m0, s0 = self.sink.messages(), self.stub.requests()
        # A booking tool writing while the first pass runs: how long does
        # it wait for the lock?
        with ToolWriter(db) as tool:
            first = must(self.timed([self.nudged, "-c", conf, "--once", "--now", NOW_S],
                                    wd, "year-1"), "nudged --once (year)")
        got = (self.sink.wait_messages(m0 + data["due"] // 2) - m0
               + self.stub.requests() - s0)
        if got != data["due"]:
            raise BenchError(f"year: {got} messages received, {data['due']} due")
        again = must(self.timed([self.nudged, "-c", conf, "--once", "--now", NOW_S], wd,
                           "year-2"), "nudged --once again (year)")
        if self.sink.messages() - m0 + self.stub.requests() - s0 != data["due"]:
            raise BenchError("year: the second pass sent something")
        # Half an hour on (nothing falls due in it): the service's steady
        # state, where each pass reads the new band of the horizon.
        later_s = (NOW + dt.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        later = must(self.timed([self.nudged, "-c", conf, "--once", "--now", later_s],
                                wd, "year-3"), "nudged --once 30 min later (year)")
        if self.sink.messages() - m0 + self.stub.requests() - s0 != data["due"]:
            raise BenchError("year: the pass 30 min later sent something")
        keep = ("wall_s", "cpu_s", "user_s", "sys_s", "maxrss_kb")
        return dict(data=data, first={k: first[k] for k in keep}, writer=tool.result(),
                    again={k: again[k] for k in keep},
                    later={k: later[k] for k in keep}, statuses=statuses(db),
                    floor=rows_floor(db, wd))


    # -- service: due -> received ---------------------------------------------

    def latency(self):
        wd = os.path.join(self.tmp, "latency")
        os.makedirs(wd)
        db = init_db(self.build, wd, "latency")
        conf = os.path.join(wd, "latency.conf")
        couples = self.a.latency_couples
        with servers.SmtpSink(wd, dump=True) as sink:
            # Real clock: quiet hours off so the SMS go whatever the hour.
            write_conf(conf, conf_text(db, sink.url, self.stub.url, EMAIL_SMS,
                                       'quiet_hours = { from = "21:00"; to = "08:00";'
                                       ' channels = []; };'))
            svc = Service(self.nudged, conf, wd, "latency")
            try:
                svc.start()
                base = int(time.time()) + 3
                con = sqlite3.connect(db)
                with con:
                    bench_data._insert_couples(con.cursor(), couples)
                    con.executemany(
                        "INSERT INTO appointments (case_id, starts_at) VALUES (?, ?)",
                        [(c, time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                           time.gmtime(base + 3 * 3600 + (c - 1) // 2)))
                         for c in range(1, couples + 1)])
                con.close()
                last_due = base + (couples - 1) // 2
                deadline = time.time() + (last_due - time.time()) + 15
                want = 4 * couples
                while time.time() < deadline:
                    if statuses(db).get("sent", 0) >= want:
                        break
                    time.sleep(0.2)
                sink.wait_messages(2 * couples, 3)
            finally:
                rc = svc.stop()
            if rc != 0:
                raise BenchError(f"service exit {rc} after SIGTERM: {svc.err_tail()}")
            con = sqlite3.connect(db)
            rows = con.execute("SELECT channel, recipient, provider_ref, due_at, status"
                               " FROM messages").fetchall()
            con.close()
            mails, sms = sink.received(), self.stub.received()
        lat = {"email": [], "sms": []}
        missing = 0
        for ch, rcpt, ref, due, status in rows:
            due_s = dt.datetime.strptime(due, "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=dt.timezone.utc).timestamp()
            got = mails.get(rcpt) if ch == "email" else sms.get(ref)
            if status != "sent" or got is None:
                missing += 1
                continue
            lat[ch].append((got - due_s) * 1000)
        if missing or len(rows) != 4 * couples:
            raise BenchError(f"latency: {missing} of {len(rows)} messages not received"
                             f" ({4 * couples} due)")
        every = sorted(lat["email"] + lat["sms"])
        return dict(messages=len(every), couples=couples,
                    spread_s=(couples - 1) // 2 + 1,
                    p50_ms=pct(every, 50), p99_ms=pct(every, 99), max_ms=every[-1],
                    min_ms=every[0],
                    email_p50_ms=pct(sorted(lat["email"]), 50),
                    email_p99_ms=pct(sorted(lat["email"]), 99),
                    sms_p50_ms=pct(sorted(lat["sms"]), 50),
                    sms_p99_ms=pct(sorted(lat["sms"]), 99))

    # -- idle ---------------------------------------------------------------

    def idle_start(self):
        """Start the idle services and, once settled, the 60 s window; the
        other steps run meanwhile (an idle service's ticks and wakeups are
        its own, whatever else the machine does).  idle_finish() ends it."""
        wd = os.path.join(self.tmp, "idle")
        os.makedirs(wd)
        today = dt.datetime.now(dt.timezone.utc).date()
        # Nothing due for a day: sessions from 4 days on (48h email, 3h
        # SMS), homework from 2 days on.
        kw = dict(first_day=today + dt.timedelta(days=4),
                  homework_from=today + dt.timedelta(days=8))
        # Instance 0 has nothing to send at all (libcurl never opened);
        # the last one is the same practice with two unreadable rows, so
        # its first pass sends the practitioner a digest: idle after a
        # transfer.  The small ones have such rows too.
        big = init_db(self.build, wd, "big-template")
        bench_data.populate(big, bad_rows=0, **kw)
        big_sent = init_db(self.build, wd, "big-sent-template")
        bench_data.populate(big_sent, **kw)
        small = init_db(self.build, wd, "small-template")
        bench_data.populate(small, cases=100, couples=75, homework=25, **kw)
        self.idle_svcs = svcs = []
        last = self.a.instances + 1
        for i in range(last + 1):
            d = os.path.join(wd, f"p{i}")
            os.makedirs(d)
            db = os.path.join(d, "nudged.db")
            fresh_copy(big if i == 0 else big_sent if i == last else small, db)
            conf = os.path.join(d, "nudged.conf")
            write_conf(conf, conf_text(db, self.sink.url, self.stub.url,
                                       '({ before = "48h"; channel = "email"; },'
                                       ' { before = "3h"; channel = "sms"; })'))
            svcs.append(Service(self.nudged, conf, d, f"idle{i}"))
        for s in svcs:
            s.start()
        # Settled: no CPU used for 2 s by any of them and no pass's
        # process left (a pass runs in a child: the first pass done).
        settle_until = time.monotonic() + 30
        prev = None
        while time.monotonic() < settle_until:
            cur = [proc_sample(s.pid)["ticks"] for s in svcs]
            if cur == prev and not any(children(s.pid) for s in svcs):
                break
            prev = cur
            time.sleep(2)
        self.idle_s0 = [proc_sample(s.pid) for s in svcs]
        self.idle_s1 = None

        def window():
            time.sleep(self.a.idle_seconds)
            self.idle_s1 = [proc_sample(s.pid) for s in svcs]

        self.idle_thread = threading.Thread(target=window, daemon=True)
        self.idle_thread.start()
        return True

    def idle_stop(self):
        rcs = [s.stop() for s in getattr(self, "idle_svcs", [])]
        self.idle_svcs = []
        return rcs

    def idle_finish(self):
        self.idle_thread.join()
        svcs = self.idle_svcs
        s0, s1 = self.idle_s0, self.idle_s1
        rcs = self.idle_stop()
        if any(rc != 0 for rc in rcs):
            bad = [i for i, rc in enumerate(rcs) if rc != 0]
            raise BenchError(f"idle services {bad} did not exit 0 on SIGTERM: "
                             f"{svcs[bad[0]].err_tail()}")

        def d(i, k):
            return s1[i][k] - s0[i][k]

        last = len(svcs) - 1
        rest = range(1, last)
        return dict(
            seconds=self.a.idle_seconds,
            one=dict(rss_kb=s1[0]["rss_kb"], pss_kb=s1[0]["pss_kb"],
                     private_kb=s1[0]["private_kb"], ticks=d(0, "ticks"),
                     wakeups=d(0, "switches"), data="2,000 cases, 24,000 appointments"),
            sent=dict(rss_kb=s1[last]["rss_kb"], pss_kb=s1[last]["pss_kb"],
                      private_kb=s1[last]["private_kb"], ticks=d(last, "ticks"),
                      wakeups=d(last, "switches")),
            many=dict(instances=len(rest),
                      rss_kb=sum(s1[i]["rss_kb"] for i in rest),
                      pss_kb=sum(s1[i]["pss_kb"] for i in rest),
                      private_kb=sum(s1[i]["private_kb"] for i in rest),
                      ticks=sum(d(i, "ticks") for i in rest),
                      wakeups=sum(d(i, "switches") for i in rest),
                      data="100 cases, 1,200 appointments each; each sent its"
                           " failure digest, then idle"))


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    k = (len(sorted_vals) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (k - lo)


def children(pid):
    """The pids of pid's child processes (a pass under way)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return f.read().split()
    except OSError:
        return []


def proc_sample(pid):
    out = dict(rss_kb=0, pss_kb=0, private_kb=0)
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k == "Rss":
                out["rss_kb"] = int(v.split()[0])
            elif k == "Pss":
                out["pss_kb"] = int(v.split()[0])
            elif k in ("Private_Clean", "Private_Dirty"):
                out["private_kb"] += int(v.split()[0])
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    out["ticks"] = int(fields[11]) + int(fields[12])   # utime + stime
    sw = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                sw += int(line.split()[1])
    out["switches"] = sw
    return out


class Service:
    """nudged as a service, READY=1 awaited on its own notify socket."""

    def __init__(self, nudged, conf, wd, name):
        self.argv = [nudged, "-c", conf]
        self.wd, self.name = wd, name
        self.sock_path = os.path.join(wd, name + ".notify")
        self.proc = None

    def start(self, timeout=20):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sock_path)
        self.sock.settimeout(0.2)
        env = dict(os.environ, NOTIFY_SOCKET=self.sock_path)
        for k in ("WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"):
            env.pop(k, None)
        self.errf = open(os.path.join(self.wd, self.name + ".err"), "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.errf, env=env)
        self.pid = self.proc.pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name}: exit {self.proc.returncode} at start:"
                                 f" {self.err_tail()}")
            try:
                if b"READY=1" in self.sock.recv(4096):
                    return
            except socket.timeout:
                pass
        raise BenchError(f"{self.name}: no READY=1 within {timeout} s")

    def stop(self, timeout=10):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return "no exit after SIGTERM"
        self.sock.close()
        self.errf.close()
        return self.proc.returncode

    def err_tail(self):
        try:
            with open(os.path.join(self.wd, self.name + ".err")) as f:
                return " | ".join(f.read().splitlines()[-5:])
        except OSError:
            return ""


def host_info():
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f
                          if ln.startswith("model name")), "?")
    except OSError:
        model = "?"
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return dict(machine=platform.machine(), cpus=os.cpu_count(), cpu=model,
                kernel=platform.release(), python=platform.python_version(),
                loadavg_at_start=load)


# ---------------------------------------------------------------------------
# the table

def fmt_int(x):
    return f"{x:,.0f}"


def mib(kb):
    return f"{kb / 1024:.1f} MiB"


def table(res):
    rows = []
    t = res.get("throughput", {})
    ns = sorted(t, key=int)
    lim = res.get("http_limit") or {}

    def per_n(key, fmt):
        vals = [fmt(t[n][key]) if key in t[n] else "-" for n in ns]
        return " / ".join(vals)

    CONNS = sorted({int(k[len("nudged_email_c"):]) for n in ns for k in t[n]
                    if k.startswith("nudged_email_c") and k[-1].isdigit()})
    if ns:
        nlabel = " / ".join(f"{int(n):,}" for n in ns)
        ratio = " / ".join(f"{t[n]['nudged']['msgs_per_s'] / t[n]['naive']['msgs_per_s']:.1f}x"
                           for n in ns)
        rows.append((f"email+SMS, durable, N = {nlabel} couples (4N messages)",
                     per_n("nudged", lambda d: f"{fmt_int(d['msgs_per_s'])}") + " msg/s",
                     "naive stdlib Python, WAL + FULL: " +
                     per_n("naive", lambda d: fmt_int(d["msgs_per_s"])) +
                     f" msg/s (nudged = {ratio})",
                     "≥ 10x naive and ≥ 5,000 msg/s"))
        def of_s1(k):
            return " / ".join(f"{t[n]['nudged_email']['msgs_per_s'] / t[n][k]['msgs_per_s']:.0%}"
                              for n in ns)
        busy = ""
        if all("smtp_source_s1_busy" in t[n] for n in ns):
            busy = ("; -s1 with one CPU kept busy (no vCPU idle wake-up at each"
                    " round trip): " + per_n("smtp_source_s1_busy",
                                             lambda d: fmt_int(d["msgs_per_s"]))
                    + f" ({of_s1('smtp_source_s1_busy')})")
        rows.append(("email alone, one connection, 2N emails",
                     per_n("nudged_email", lambda d: fmt_int(d["msgs_per_s"])) + " msg/s",
                     "`smtp-source -s1`: " +
                     per_n("smtp_source_s1", lambda d: fmt_int(d["msgs_per_s"])) +
                     f" ({of_s1('smtp_source_s1')}){busy}; `-s4`: " +
                     per_n("smtp_source_s4", lambda d: fmt_int(d["msgs_per_s"])),
                     "≥ 70% of -s1 (one conn.), ≥ 50% of -s4 (four)"))
        if all("curl_smtp_db" in t[n] for n in ns):
            def pct(a, b):
                return " / ".join(f"{t[n][a]['msgs_per_s'] / t[n][b]['msgs_per_s']:.0%}"
                                  for n in ns)
            rows.append(("the stack's floor, one connection (tests/bench/curl_floor.c):"
                         " libcurl alone; libcurl + the outbox's durable bookkeeping"
                         " (claim and record per batch of 32, an upload mark per"
                         " message appended to a file as nudged's), 2N emails",
                         f"nudged email alone = {pct('nudged_email', 'curl_smtp')} of"
                         f" libcurl alone, {pct('nudged_email', 'curl_smtp_db')} of"
                         " libcurl + bookkeeping",
                         per_n("curl_smtp", lambda d: fmt_int(d["msgs_per_s"])) + "; "
                         + per_n("curl_smtp_db", lambda d: fmt_int(d["msgs_per_s"]))
                         + " emails/s (libcurl alone = "
                         + pct("curl_smtp", "smtp_source_s1") + " of -s1)", "-"))
            if all("curl_smtp_busy" in t[n] and "smtp_source_s1_busy" in t[n]
                   for n in ns):
                def per_email(k, n):
                    d = t[n][k]
                    return (d["cpu_s"] + d["servers_s"]) / d["msgs"] * 1e6

                def need(n):
                    return 2 / (0.7 * t[n]["smtp_source_s1_busy"]["msgs_per_s"]) * 1e6

                rows.append(("one connection with a CPU kept awake (a spin loop at"
                             " nice 19): libcurl alone against -s1 likewise, and the"
                             " CPU per email (the program's + smtp-sink's) that 70% of"
                             " that -s1 allows with both CPUs fully busy",
                             "nudged email alone: " + " / ".join(
                                 f"{per_email('nudged_email', n):,.0f} µs" for n in ns)
                             + " per email",
                             "libcurl alone: " + per_n(
                                 "curl_smtp_busy", lambda d: fmt_int(d["msgs_per_s"]))
                             + " emails/s = " + pct("curl_smtp_busy", "smtp_source_s1_busy")
                             + " of awake -s1, " + " / ".join(
                                 f"{per_email('curl_smtp_busy', n):,.0f} µs" for n in ns)
                             + " per email",
                             "70% of awake -s1 needs ≤ " + " / ".join(
                                 f"{need(n):,.0f}" for n in ns) + " µs in all"))
            rows.append(("SMS: libcurl alone, one kept-alive connection; libcurl + the"
                         " same durable bookkeeping (the mark before each body), one"
                         " request at a time, 2N requests",
                         f"nudged SMS alone (sms.concurrency = 4) = "
                         f"{pct('nudged_sms', 'curl_http')} of libcurl alone"
                         + (f", {pct('nudged_sms', 'curl_http_db')} of libcurl +"
                            " bookkeeping" if all("curl_http_db" in t[n] for n in ns)
                            else ""),
                         per_n("curl_http", lambda d: fmt_int(d["msgs_per_s"])) + "; "
                         + per_n("curl_http_db", lambda d: fmt_int(d["msgs_per_s"]))
                         + " req/s", "-"))
        for c in CONNS:
            rows.append((f"email.connections = {c}: email alone / email+SMS",
                         per_n(f"nudged_email_c{c}", lambda d: fmt_int(d["msgs_per_s"]))
                         + " / " + per_n(f"nudged_c{c}", lambda d: fmt_int(d["msgs_per_s"]))
                         + " msg/s",
                         "email alone vs `smtp-source -s4`: " + " / ".join(
                             f"{t[n][f'nudged_email_c{c}']['msgs_per_s'] / t[n]['smtp_source_s4']['msgs_per_s']:.0%}"
                             if f"nudged_email_c{c}" in t[n] else "-" for n in ns)
                         + ("; rows planned before, as a service sends them: "
                            + " / ".join(
                                f"{t[n][f'nudged_email_c{c}_planned']['msgs_per_s'] / t[n]['smtp_source_s4']['msgs_per_s']:.0%}"
                                for n in ns)
                            if all(f"nudged_email_c{c}_planned" in t[n] for n in ns)
                            else ""),
                         "≥ 50% of -s4 (four)" if c == 4 else "-"))
        if all(k in t[n] for n in ns for k in ("curl_both", "curl_both_c4",
                                                "curl_smtp_c4")):
            def of(a, b):
                return " / ".join(f"{t[n][a]['msgs_per_s'] / t[n][b]['msgs_per_s']:.0%}"
                                  if a in t[n] else "-" for n in ns)

            def times(a):
                return " / ".join(f"{t[n][a]['msgs_per_s'] / t[n]['naive']['msgs_per_s']:.1f}x"
                                  for n in ns)

            conn = max(CONNS) if CONNS else None
            rows.append(("libcurl alone in parallel as nudged sends (a thread per"
                         " SMTP connection, the SMS beside them; no database, no"
                         " rendering: tests/bench/curl_floor.c): what the stack"
                         " itself allows against the targets, 2N emails and 2N SMS",
                         "email+SMS = " + of("nudged", "curl_both")
                         + " of libcurl alone's; "
                         + (f"email alone over {conn} connections = "
                            + of(f"nudged_email_c{conn}", "curl_smtp_c4")
                            + f", email+SMS over {conn} = "
                            + of(f"nudged_c{conn}", "curl_both_c4")
                            if conn else ""),
                         "email + SMS, one SMTP connection: "
                         + per_n("curl_both", lambda d: fmt_int(d["msgs_per_s"]))
                         + f" msg/s = {times('curl_both')} naive; four SMTP"
                         " connections + SMS: "
                         + per_n("curl_both_c4", lambda d: fmt_int(d["msgs_per_s"]))
                         + f" msg/s = {times('curl_both_c4')} naive; email alone over"
                         " four: "
                         + per_n("curl_smtp_c4", lambda d: fmt_int(d["msgs_per_s"]))
                         + " emails/s = " + of("curl_smtp_c4", "smtp_source_s4")
                         + " of -s4",
                         "a target above libcurl alone's figure is beyond the stack"
                         " on this machine"))
        http = (f"wrk -c1: {fmt_int(lim['wrk_c1']['req_per_s'])} req/s; -c4: "
                f"{fmt_int(lim['wrk_c4']['req_per_s'])}" if lim else "wrk: not run")
        rows.append(("SMS alone (sms.concurrency = 4), 2N SMS",
                     per_n("nudged_sms", lambda d: fmt_int(d["msgs_per_s"])) + " msg/s",
                     http, "-"))
        rows.append(("CPU time per message (user + sys), email+SMS",
                     per_n("nudged", lambda d: f"{d['cpu_s'] / d['msgs'] * 1e6:,.0f}") + " µs",
                     "naive: " + per_n("naive", lambda d: f"{d['cpu_s'] / d['msgs'] * 1e6:,.0f}")
                     + " µs (load changes CPU time little)", "-"))
        def cpu_bound(key, n):
            # every program's CPU per message, and what two CPUs allow at it
            d = t[n].get(key)
            if d is None or "servers_s" not in d:
                return None
            per = (d["cpu_s"] + d["servers_s"]) / d["msgs"]
            return per, d["servers_s"] / d["msgs"], 2 / per, d["msgs_per_s"] * per / 2

        if all(cpu_bound("nudged", n) and cpu_bound("naive", n) for n in ns):
            def us(v):
                return f"{v * 1e6:,.0f}"

            def stack(n):
                e, h = t[n]["curl_smtp"], t[n]["curl_http"]
                per = (e["cpu_s"] + e["servers_s"] + h["cpu_s"] + h["servers_s"]) \
                    / (e["msgs"] + h["msgs"])
                return f"{us(per)} µs → at most {fmt_int(2 / per)} msg/s"

            def said(key, n, with_servers):
                per, srv, most, reached = cpu_bound(key, n)
                return (f"{us(per)} µs" + (f" (servers {us(srv)})" if with_servers else "")
                        + f" → at most {fmt_int(most)} msg/s"
                        + (f"; reached {reached:.0%}" if with_servers else ""))

            rows.append(("the machine's CPU per message, email+SMS: nudged + the servers"
                         " (smtp-sink, nginx), and what two CPUs allow at that cost"
                         " (2 CPUs ÷ CPU per message)",
                         "nudged " + " / ".join(said("nudged", n, True) for n in ns),
                         "naive " + " / ".join(said("naive", n, False) for n in ns)
                         + (("; libcurl alone (curl_floor, no database, no"
                             " rendering), one email and one SMS with the servers' share: "
                             + " / ".join(stack(n) for n in ns))
                            if all("cpu_s" in t[n].get("curl_http", {}) and
                                   "cpu_s" in t[n].get("curl_smtp", {}) for n in ns)
                            else ""),
                         "5,000 msg/s needs ≤ 400 µs in all"))
            conn = max(CONNS) if CONNS else None
            if conn and all(cpu_bound(f"nudged_email_c{conn}", n) for n in ns):
                rows.append((f"the same, email alone over {conn} connections, against"
                             " `smtp-source -s4`'s pace",
                             "nudged " + " / ".join(said(f"nudged_email_c{conn}", n, True)
                                                    for n in ns),
                             f"libcurl alone over {conn} connections (no database, no"
                             " rendering), with smtp-sink's share: " + " / ".join(
                                 said(f"curl_smtp_c{conn}", n, True) for n in ns
                                 if cpu_bound(f"curl_smtp_c{conn}", n))
                             + ("; libcurl + the durable bookkeeping (claim and"
                                " record per batch of 32, overlapped with the sending"
                                " as nudged's; an upload mark per email): "
                                + " / ".join(
                                    said(f"curl_smtp_db_c{conn}", n, True) + " = "
                                    + f"{t[n][f'curl_smtp_db_c{conn}']['msgs_per_s'] / t[n]['smtp_source_s4']['msgs_per_s']:.0%} of -s4"
                                    for n in ns)
                                if all(cpu_bound(f"curl_smtp_db_c{conn}", n) for n in ns)
                                else "")
                             + (f"; nudged without the .ics (email.calendar = false): "
                                + " / ".join(said(f"nudged_email_c{conn}_nocal", n, True)
                                             + " = " + f"{t[n][f'nudged_email_c{conn}_nocal']['msgs_per_s'] / t[n]['smtp_source_s4']['msgs_per_s']:.0%} of -s4"
                                             for n in ns)
                                if all(cpu_bound(f"nudged_email_c{conn}_nocal", n)
                                       for n in ns) else "")
                             + ("; nudged sending rows planned before (as a service"
                                " does: planned when booked, sent when due): "
                                + " / ".join(said(f"nudged_email_c{conn}_planned", n, True)
                                             + " = " + f"{t[n][f'nudged_email_c{conn}_planned']['msgs_per_s'] / t[n]['smtp_source_s4']['msgs_per_s']:.0%} of -s4"
                                             for n in ns)
                                if all(cpu_bound(f"nudged_email_c{conn}_planned", n)
                                       for n in ns) else "")
                             + "; 50% of -s4 = " + " / ".join(
                                 fmt_int(t[n]["smtp_source_s4"]["msgs_per_s"] / 2)
                                 for n in ns) + " msg/s",
                             "50% of -s4 needs ≤ " + " / ".join(
                                 us(2 / (t[n]["smtp_source_s4"]["msgs_per_s"] / 2))
                                 for n in ns) + " µs in all"))
        n0 = ns[0]

        def bound(key, label):
            d = t[n0].get(key)
            if d is None or "main_s" not in d:
                return f"{label} -"
            return f"{label} {d['main_s'] / d['wall_s']:.0%} / {d['busy']:.0%}"

        rows.append((f"what bounds the wall time, N = {int(n0):,}: nudged's main "
                     "thread on a CPU / the machine's two CPUs busy (every program)",
                     "; ".join((bound("nudged", "email+SMS"),
                                bound("nudged_email", "email alone"),
                                bound("nudged_sms", "SMS alone"))),
                     "the main thread plans, claims, renders, records and sends the "
                     "SMS; the email goes from a thread of its own", "-"))
        rows.append(("peak RSS of the N-couple pass (email+SMS)",
                     per_n("nudged", lambda d: mib(d["maxrss_kb"])),
                     "naive: " + per_n("naive", lambda d: mib(d["maxrss_kb"])), "-"))
    y = res.get("year")
    if y:
        rows.append((f"one pass over {y['data']['appointments']:,} appointments "
                     f"({y['data']['due']} due)",
                     f"{y['first']['wall_s'] * 1000:,.0f} ms, then "
                     f"{y['again']['wall_s'] * 1000:,.0f} ms when nothing is new"
                     + (f", {y['later']['wall_s'] * 1000:,.0f} ms 30 min later"
                        if "later" in y else ""),
                     f"cpu {y['first']['cpu_s']:.2f} s / {y['again']['cpu_s']:.2f} s"
                     + (f" / {y['later']['cpu_s']:.2f} s" if "later" in y else "")
                     + (f"; SQLite alone writing the {y['floor']['rows']:,} outbox rows"
                        " the first pass wrote (same table and indexes, one INSERT ..."
                        f" SELECT, one transaction): {y['floor']['wall_s'] * 1000:,.0f} ms"
                        f" (cpu {y['floor']['cpu_s']:.2f} s)" if y.get("floor") else ""),
                     "< 100 ms"))
        w = y.get("writer")
        if w and w["max_ms"] is not None:
            rows.append(("a booking tool writing during the first pass",
                         f"a writer waits at most {w['max_ms']:,.0f} ms "
                         f"(p99 {w['p99_ms']:,.0f} ms)",
                         f"{w['writes']:,} small write transactions, one every ~2 ms,"
                         " busy timeout 30 s"
                         + (f", {w['failed']} gave up after 30 s" if w["failed"] else ""),
                         "< 100 ms"))
        rows.append(("peak RSS of that pass",
                     f"{mib(y['first']['maxrss_kb'])} / {mib(y['again']['maxrss_kb'])}"
                     + (f" / {mib(y['later']['maxrss_kb'])}" if "later" in y else ""),
                     "/usr/bin/time %M", "independent of table size, < 24 MiB"))
    i = res.get("idle")
    if i:
        o, m = i["one"], i["many"]
        rows.append(("idle service RSS (2,000-case practice), nothing sent yet",
                     f"{mib(o['rss_kb'])} (PSS {mib(o['pss_kb'])}, private "
                     f"{mib(o['private_kb'])})", "/proc/PID/smaps_rollup", "< 8 MiB"))
        if "sent" in i:
            t = i["sent"]
            rows.append(("the same, idle after one transfer (its failure digest)",
                         f"{mib(t['rss_kb'])} (PSS {mib(t['pss_kb'])}, private "
                         f"{mib(t['private_kb'])}); {t['ticks']} CPU ticks, "
                         f"{t['wakeups']} wakeups",
                         "each pass runs in a process of its own: libcurl,"
                         " OpenSSL and libical leave with it", "< 8 MiB"))
        rows.append((f"idle service, {i['seconds']} s",
                     f"{o['ticks']} CPU ticks, {o['wakeups']} wakeups", "-", "keep it"))
        rows.append((f"{m['instances']} idle instances side by side, {i['seconds']} s",
                     f"RSS {mib(m['rss_kb'])} in all (PSS {mib(m['pss_kb'])}); "
                     f"{m['ticks']} CPU ticks, {m['wakeups']} wakeups",
                     f"{m['data']}", "-"))
    lt = res.get("latency")
    if lt:
        rows.append((f"due → received (service), {lt['messages']} messages over "
                     f"{lt['spread_s']} s",
                     f"p50 {lt['p50_ms']:.0f} ms, p99 {lt['p99_ms']:.0f} ms "
                     f"(max {lt['max_ms']:.0f})",
                     f"email p50/p99 {lt['email_p50_ms']:.0f}/{lt['email_p99_ms']:.0f} ms;"
                     f" SMS {lt['sms_p50_ms']:.0f}/{lt['sms_p99_ms']:.0f} ms",
                     "p99 < 100 ms"))
    head = ("figure", "nudged now", "the same run's anchor", "target")
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def details(res):
    lines = []
    for n, t in sorted(res.get("throughput", {}).items(), key=lambda kv: int(kv[0])):
        naive = t.get("naive_runs", t["runs"])
        lines.append(f"N = {int(n):,} couples ({t['data']['due']:,} messages due),"
                     f" {t['runs']} run(s) each"
                     + (f" (the naive peer {naive})" if naive != t["runs"] else "")
                     + ", median wall time:")
        conns = sorted(int(k[len("nudged_email_c"):]) for k in t
                       if k.startswith("nudged_email_c") and k[-1].isdigit())
        for k, label in (("nudged", "nudged --once, email+SMS"),
                         ("naive", "naive peer, email+SMS"),
                         ("nudged_email", "nudged --once, email only"),
                         ("nudged_sms", "nudged --once, SMS only"),
                         *((f"nudged_email_c{c}", f"  email only, {c} conn.")
                           for c in conns),
                         *((f"nudged_c{c}", f"  email+SMS, {c} conn.")
                           for c in conns),
                         *((f"nudged_email_c{c}_nocal", f"  email only, {c}, no .ics")
                           for c in conns[-1:]),
                         *((f"nudged_email_c{c}_planned", f"  email only, {c}, planned")
                           for c in conns[-1:])):
            if k not in t:
                continue
            d = t[k]
            lines.append(f"  {label:<28} {d['wall_s']:7.2f} s  cpu {d['user_s']:5.2f}"
                         f" + {d['sys_s']:5.2f} s"
                         + (f" (servers {d['servers_s']:4.2f} s)" if "servers_s" in d else "")
                         + f"  {d['msgs_per_s']:8,.0f} msg/s"
                         f" ({d['msgs'] / max(d['cpu_s'], 0.01):,.0f} per cpu s)"
                         f"  RSS {mib(d['maxrss_kb'])}  runs {d['walls']}"
                         + (f"  main thread {d['main_s'] / d['wall_s']:.0%},"
                            f" machine {d['busy']:.0%} busy" if "main_s" in d else ""))
        for k, label in (("smtp_source_s1", "smtp-source -s1 -d"),
                         ("smtp_source_s4", "smtp-source -s4 -d"),
                         ("smtp_source_s1_busy", "  -s1, one CPU kept busy")):
            if k not in t:
                continue
            d = t[k]
            lines.append(f"  {label:<28} {d['wall_s']:7.2f} s"
                         f"  {'':>10}  {d['msgs_per_s']:8,.0f} msg/s  runs {d['walls']}")
        for k, label in (("curl_smtp", "libcurl alone, SMTP"),
                         ("curl_smtp_busy", "  one CPU kept busy"),
                         ("curl_smtp_db", "  + durable bookkeeping"),
                         ("curl_http", "libcurl alone, HTTP"),
                         ("curl_http_db", "  + durable bookkeeping"),
                         ("curl_smtp_c4", "libcurl alone, 4 SMTP conn."),
                         ("curl_smtp_db_c4", "  4 conn. + bookkeeping"),
                         ("curl_both", "libcurl alone, SMTP + HTTP"),
                         ("curl_both_c4", "  4 SMTP conn. + HTTP")):
            if k in t:
                d = t[k]
                lines.append(f"  {label:<28} {d['wall_s']:7.2f} s  {'':>10}"
                             f"  {d['msgs_per_s']:8,.0f} msg/s  runs {d['walls']}"
                             + (f"  cpu {d['cpu_s'] / d['msgs'] * 1e6:,.0f} µs/msg"
                                f" (servers {d['servers_s'] / d['msgs'] * 1e6:,.0f})"
                                if "cpu_s" in d else ""))
    y = res.get("year")
    if y:
        lines.append(f"year: {y['data']['appointments']:,} appointments, "
                     f"{y['data']['clients']:,} clients, populated in "
                     f"{y['data']['populate_s']} s; after the passes: {y['statuses']}")
    return "\n".join(lines)


def markdown(res):
    h = res["host"]
    skipped = "".join(f"\n- skipped: {s}" for s in res["skipped"])
    return f"""# nudged benchmark: latest result

`make bench` on {h['cpus']} × {h['cpu']} ({h['machine']}, Linux {h['kernel']}),
{res['measured_at']}, {'--quick sizes, ' if res['quick'] else ''}total {res.get('total_s', '?')} s.
**Measured under load**: the machine was shared with other builds and test
runs (load average {' '.join(h['loadavg_at_start'])} at the start,
{' '.join(h.get('loadavg_at_end', ['?']))} at the end), so wall times are noisy
and the msg/s figures are lower bounds; CPU time (user + sys, which load
hardly changes) is in the details.  Everything on loopback; the database on the same disk for every
program; `synchronous=FULL` for nudged and the naive peer alike.{skipped}

{table(res)}

```
{details(res)}
```

How each figure is measured: see the top of `tests/bench/run.py`.
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--json", help="default BUILD/bench.json")
    ap.add_argument("--md", help="default tests/bench/results/latest.md "
                    "(BUILD/bench.md with --quick)")
    ap.add_argument("--quick", action="store_true",
                    help="small sizes to try the bench out (~1 minute)")
    ap.add_argument("--sizes", help="comma-separated N (couples)")
    ap.add_argument("--repeat", type=int,
                    help="runs per program for N ≤ 1,000, median shown (default 3)")
    ap.add_argument("--repeat-large", type=int, default=3,
                    help="runs for N > 1,000, median shown (the naive peer: one)")
    ap.add_argument("--year-appointments", type=int, help="default 1,000,000")
    ap.add_argument("--latency-couples", type=int, help="default 30")
    ap.add_argument("--idle-seconds", type=int, help="default 60")
    ap.add_argument("--instances", type=int, help="default 20")
    ap.add_argument("--wrk-seconds", type=int, help="default 3")
    ap.add_argument("--email-connections", default="1,4",
                    help="email.connections to measure (the first is the main row; "
                    "1 only for a nudged without the key)")
    ap.add_argument("--budget", type=int, default=540, help="seconds for the whole run")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args(argv)
    # Options given win; then --quick's small sizes; then the full bench's.
    full = dict(sizes="1000,10000", year_appointments=1_000_000, idle_seconds=60,
                instances=20, latency_couples=30, wrk_seconds=3, repeat=3)
    quick = dict(sizes="100,1000", year_appointments=100_000, idle_seconds=10,
                 instances=5, latency_couples=10, wrk_seconds=1, repeat=1)
    for k, v in (quick if a.quick else full).items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    sizes = [int(x) for x in a.sizes.split(",")]
    a.email_connections = [int(x) for x in a.email_connections.split(",")]
    build = os.path.abspath(a.build)
    for prog in ("nudged", "nudgectl"):
        if not os.access(os.path.join(build, prog), os.X_OK):
            print(f"bench: {build}/{prog} not built (run make)", file=sys.stderr)
            return 2
    missing = servers.have_tools()
    if missing:
        print(f"bench: missing {' '.join(missing)}: run `make bench-deps`",
              file=sys.stderr)
        return 2
    json_path = a.json or os.path.join(build, "bench.json")
    md_path = a.md or (os.path.join(build, "bench.md") if a.quick else
                       os.path.join(HERE, "results", "latest.md"))

    tmp = tempfile.mkdtemp(prefix="nudged-bench-")
    os.chmod(tmp, 0o711)        # smtp-sink runs as nobody and dumps below it
    b = Bench(a, tmp)
    res = b.res
    rc = 0
    try:
        with servers.SmtpSink(tmp) as sink, servers.NginxStub(tmp) as stub:
            b.sink, b.stub = sink, stub
            a.mail_size = b.step("email size", 5, b.mail_size)
            res["mail_size"] = a.mail_size
            res["http_limit"] = b.step("wrk against the SMS stub", 2 * a.wrk_seconds + 5,
                                       b.http_limit)
            # The idle window runs beside the other steps (see idle_start).
            idle = b.step("idle services start", a.idle_seconds + 60, b.idle_start)
            try:
                res["throughput"] = {}
                small = [n for n in sizes if n <= 1000]
                large = [n for n in sizes if n > 1000]
                per_couple = 0.02      # seconds per couple and run, until measured
                for n in small:
                    t = time.monotonic()
                    r = b.step(f"throughput N={n:,}", n * a.repeat * per_couple,
                               b.throughput, n, a.repeat)
                    if r:
                        res["throughput"][str(n)] = r
                        per_couple = (time.monotonic() - t) / (n * a.repeat)
                res["year"] = b.step("one pass over a year", 45, b.year)
                res["latency"] = b.step("latency", a.latency_couples / 2 + 20, b.latency)
                for n in large:
                    # Predicted from the smaller N, as measured in this run
                    # (the naive peer, about half of a run, goes once).
                    r = b.step(f"throughput N={n:,}",
                               n * (a.repeat_large + 1) / 2 * per_couple,
                               b.throughput, n, a.repeat_large, 1)
                    if r:
                        res["throughput"][str(n)] = r
                if idle:
                    # Never skipped: the window is over, only its samples are read.
                    res["idle"] = b.idle_finish()
            finally:
                b.idle_stop()
        res["total_s"] = round(time.monotonic() - b.t0, 1)
        with open("/proc/loadavg") as f:
            res["host"]["loadavg_at_end"] = f.read().split()[:3]
        print(table(res))
        print()
        print(details(res))
        print(f"(total {res['total_s']} s)")
    except (BenchError, RuntimeError, subprocess.TimeoutExpired, OSError,
            sqlite3.Error) as e:
        print(f"bench: FAILED: {e}", file=sys.stderr)
        res["error"] = str(e)
        rc = 1
    finally:
        try:
            with open(json_path, "w") as f:
                json.dump(res, f, indent=2, sort_keys=True)
                f.write("\n")
            print(f"results: {json_path}")
            if rc == 0:
                os.makedirs(os.path.dirname(md_path), exist_ok=True)
                with open(md_path, "w") as f:
                    f.write(markdown(res))
                print(f"table: {md_path}")
        except OSError as e:
            print(f"bench: cannot write results: {e}", file=sys.stderr)
            rc = 1
        if a.keep or rc != 0:
            print(f"work directory kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
