#!/usr/bin/python3
"""nudged benchmarks: speed and memory of real passes over a large database.

    /usr/bin/python3 tests/bench/run.py --build build     (what `make bench` runs)

In a temporary directory: `nudgectl init`, then a practice of 2,000 cases
(1,500 couples + 500 individuals = 3,500 clients, weekly sessions for 12
weeks = 24,000 appointments, 500 active homework rows; bench_data.py) and a
config whose email goes to a plain SMTP sink on loopback (SMS off).  Then:

  a  nudged --dry-run --now T     wall time, peak RSS, lines printed
  b  nudged --once --now T        first planning pass on a fresh copy of the
                                  database, delivering everything due at T
                                  (~1,000 emails): wall time, msg/s, RSS
  c  nudged --once --now T again  must plan and send nothing: wall time

a and c run --repeat times (default 3), b one time fewer; the table shows
the median wall time (the machine is shared) and the best, and CPU time
(user + sys), which separates nudged's own work from waiting on fsync and
the network.  The sink is bench_sink.py (counts only, so the numbers are
nudged's); --sink aiosmtpd uses tests/integration/smtp_server.py instead.
  d  callgrind, --dry-run on a smaller database: instructions (repeatable
     where wall time is not), and the functions that cost the most

Peak RSS is the child's own ru_maxrss from wait4(), not a delta of
RUSAGE_CHILDREN (which is a maximum over every child ever waited for).
Results print as a table and go as JSON to BUILD/bench.json.  Exit status
is non-zero only when a run fails (a non-zero exit, a timeout, a dry run
that wrote to the database, or a second pass that did anything), never
because a number is large.
"""

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ left in the source tree

import bench_data  # noqa: E402
from bench_sink import Sink  # noqa: E402

# Sessions run Monday 2 March 2026 onwards (the clocks go forward on 29
# March, inside the 12 weeks).  At T every 48h email for an appointment
# between T+1h and T+48h is due (all of Monday's and Tuesday's morning:
# ~850), and Sunday's 12:00 homework prompts (~200).
FIRST_DAY = dt.date(2026, 3, 2)
NOW = "2026-03-01T13:00:00Z"
RUN_TIMEOUT = 150


class BenchError(Exception):
    pass


def write_config(path, db, smtp_url):
    with open(path, "w") as f:
        f.write(f"""# nudged benchmark configuration
practice = {{
  name         = "Hughes Relationship Therapy";
  practitioner = "Christian Hughes";
  timezone     = "Europe/London";
  email        = "christian@example.org";
  phone        = "01384 000000";
  address      = "1 High Street, Stourbridge DY8 1AA";
  video_url    = "https://meet.example.org/hughes";
}};
database = "{db}";
email = {{
  enabled  = true;
  url      = "{smtp_url}";
  tls      = "none";
  from     = "Christian Hughes <appointments@example.org>";
  timeout  = "30s";
}};
sms = {{ enabled = false; }};
reminders = (
  {{ before = "48h"; channel = "email"; }},
  {{ after = "1d"; channel = "email"; kinds = ["assessment"]; template = "assessment_follow_up"; }}
);
homework = {{ at = "12:00"; channels = ["email"]; }};
""")
    os.chmod(path, 0o600)


def run(argv, workdir, name, timeout=RUN_TIMEOUT):
    """Run argv; returns dict(rc, wall_s, maxrss_kb, out, err)."""
    out_path = os.path.join(workdir, name + ".out")
    err_path = os.path.join(workdir, name + ".err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = t0 + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                break
            if time.perf_counter() > deadline:
                p.kill()
                os.wait4(p.pid, 0)
                p.returncode = -9
                raise BenchError(f"{name}: no exit after {timeout}s: {' '.join(argv)}")
            time.sleep(0.002)
        wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    with open(out_path, "rb") as f:
        so = f.read().decode("utf-8", "replace")
    with open(err_path, "rb") as f:
        se = f.read().decode("utf-8", "replace")
    return dict(rc=p.returncode, wall_s=wall, cpu_s=ru.ru_utime + ru.ru_stime,
                maxrss_kb=ru.ru_maxrss, out=so, err=se)


def must(r, name, ok=(0,)):
    if r["rc"] not in ok:
        tail = "\n".join(r["err"].splitlines()[-15:])
        raise BenchError(f"{name}: exit {r['rc']}\n{tail}")
    return r


def msg_total(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT count(*) FROM messages").fetchone()[0]
    finally:
        con.close()


def make_practice(build, workdir, smtp_url, **kw):
    conf = os.path.join(workdir, "nudged.conf")
    db = os.path.join(workdir, "nudged.db")
    write_config(conf, db, smtp_url)
    must(run([os.path.join(build, "nudgectl"), "-c", conf, "init"], workdir,
             "init"), "nudgectl init")
    t0 = time.perf_counter()
    counts = bench_data.populate(db, first_day=FIRST_DAY,
                                 homework_from=dt.date.fromisoformat(NOW[:10]), **kw)
    counts["populate_s"] = round(time.perf_counter() - t0, 2)
    return conf, db, counts


def _reset_db(db, saved):
    for ext in ("-wal", "-shm"):
        if os.path.exists(db + ext):
            os.unlink(db + ext)
    shutil.copyfile(saved, db)


def _summary(runs, **extra):
    """Median and best of repeated runs (wall time varies on a shared host)."""
    walls = sorted(r["wall_s"] for r in runs)
    d = dict(wall_s=walls[len(walls) // 2], wall_min_s=walls[0],
             wall_all_s=[round(r["wall_s"], 4) for r in runs],
             cpu_s=sorted(r["cpu_s"] for r in runs)[len(runs) // 2],
             maxrss_kb=max(r["maxrss_kb"] for r in runs), runs=len(runs))
    d.update(extra)
    return d


class _AioSink:
    """tests/integration/smtp_server.py behind bench_sink.Sink's counters."""

    def __init__(self, workdir):
        sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
        from smtp_server import SmtpServer
        self.srv = SmtpServer(os.path.join(workdir, "smtpd"), tls="none", auth=None)

    url = property(lambda self: self.srv.url)
    messages = property(lambda self: len(self.srv.messages))
    connections = property(lambda self: self.srv.connections)
    bytes = property(lambda self: sum(len(m["data"]) for m in self.srv.messages))

    def __enter__(self):
        self.srv.start()
        return self

    def __exit__(self, *exc):
        self.srv.stop()


def make_sink(kind, workdir):
    return _AioSink(workdir) if kind == "aiosmtpd" else Sink()


def bench_main(build, workdir, repeat, sink_kind="raw"):
    """Steps a, b, c on the full database.  Returns the results dict."""
    nudged = os.path.join(build, "nudged")
    os.makedirs(workdir)
    res = {}
    with make_sink(sink_kind, workdir) as sink:
        conf, db, counts = make_practice(build, workdir, sink.url)
        res["database"] = counts
        saved = os.path.join(workdir, "fresh.db")
        shutil.copyfile(db, saved)

        # a: dry run, which writes nothing, so it can simply repeat
        runs = []
        for i in range(repeat):
            r = must(run([nudged, "-c", conf, "--dry-run", "--now", NOW],
                         workdir, f"dry-run-{i}"), "dry run")
            if msg_total(db) != 0:
                raise BenchError("dry run wrote messages to the database")
            if sink.connections != 0:
                raise BenchError("dry run connected to the SMTP server")
            runs.append(r)
        res["dry_run"] = _summary(runs, stdout_lines=runs[0]["out"].count("\n"),
                                  would_send=len(re.findall(r"^\d{4}-\S+ \(.*\) email to ",
                                                            runs[0]["out"], re.M)))

        # b: first real pass, each time on a fresh copy of the database
        runs = []
        for i in range(max(1, repeat - 1)):
            _reset_db(db, saved)
            m0, b0, c0 = sink.messages, sink.bytes, sink.connections
            r = must(run([nudged, "-c", conf, "--once", "--now", NOW], workdir,
                         f"once-1-{i}"), "first --once")
            r["sent"] = sink.messages - m0
            r["bytes"] = sink.bytes - b0
            r["conns"] = sink.connections - c0
            runs.append(r)
        sent = runs[-1]["sent"]
        if any(r["sent"] != sent for r in runs):
            raise BenchError("first passes on identical databases sent "
                             f"different numbers of emails: {[r['sent'] for r in runs]}")
        st = bench_data.status_counts(db)
        b = _summary(runs, emails_received=sent, rows=msg_total(db), statuses=st,
                     smtp_connections=runs[-1]["conns"],
                     bytes_received=runs[-1]["bytes"])
        b["msgs_per_s"] = sent / b["wall_s"] if b["wall_s"] else 0
        res["once_first"] = b

        # c: the same instant again: nothing new to plan or send
        runs = []
        for i in range(repeat):
            before = (msg_total(db), bench_data.status_counts(db), sink.messages)
            r = must(run([nudged, "-c", conf, "--once", "--now", NOW], workdir,
                         f"once-2-{i}"), "second --once")
            after = (msg_total(db), bench_data.status_counts(db), sink.messages)
            if before != after:
                raise BenchError(
                    f"--once again at the same time changed things: rows "
                    f"{before[0]}->{after[0]}, statuses {before[1]} -> {after[1]},"
                    f" emails {before[2]}->{after[2]}")
            runs.append(r)
        res["once_again"] = _summary(runs, idempotent=True)
    return res


def bench_callgrind(build, workdir, cases):
    """d: one dry-run pass under callgrind on a smaller database."""
    vg = shutil.which("valgrind")
    if vg is None:
        return dict(skipped="valgrind not installed")
    os.makedirs(workdir)
    # The dry run contacts no server; the URL only has to be well formed.
    conf, db, counts = make_practice(build, workdir, "smtp://127.0.0.1:9",
                                     cases=cases, couples=cases * 3 // 4,
                                     homework=cases // 4)
    out = os.path.join(workdir, "callgrind.out")
    r = must(run([vg, "--tool=callgrind", f"--callgrind-out-file={out}",
                  os.path.join(build, "nudged"), "-c", conf, "--dry-run",
                  "--now", NOW], workdir, "callgrind"), "callgrind dry run")
    total = None
    with open(out) as f:
        for line in f:
            m = re.match(r"(?:summary|totals):\s+(\d+)", line)
            if m:
                total = int(m.group(1))
    if total is None:
        raise BenchError("callgrind wrote no instruction total")
    top = []
    ann = shutil.which("callgrind_annotate")
    if ann:
        a = subprocess.run([ann, "--auto=no", "--inclusive=no", out], capture_output=True,
                           text=True, timeout=60)
        top = parse_annotate(a.stdout, 12)
        a = subprocess.run([ann, "--auto=no", "--inclusive=yes", out], capture_output=True,
                           text=True, timeout=60)
        top_incl = parse_annotate(a.stdout, 60)
    else:
        top_incl = []
    return dict(database=counts, instructions=total, wall_s=r["wall_s"],
                top_self=top, top_inclusive=top_incl)


def parse_annotate(text, n):
    """(instructions, percent, function) rows from callgrind_annotate output."""
    rows = []
    seen = set()
    for line in text.splitlines():
        if line.startswith("-- Auto-annotated"):
            break
        m = re.match(r"\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(\S.*)$", line)
        if not m or "PROGRAM TOTALS" in line or "=>" in line:
            continue
        fn = re.sub(r"\s+\[[^\]]*\]$", "", m.group(3))
        # The same function appears under an absolute and a relative path.
        fn = re.sub(r"^.*/(src/[^/]+:)", r"\1", fn)
        if fn in seen:
            continue
        seen.add(fn)
        rows.append(dict(ir=int(m.group(1).replace(",", "")),
                         pct=float(m.group(2)), fn=fn))
        if len(rows) == n:
            break
    return rows


def table(res):
    m = res["main"]
    db = m["database"]
    lines = [f"nudged benchmark: now = {NOW}; {db['cases']} cases, {db['clients']} "
             f"clients, {db['appointments']} appointments, {db['homework']} homework"
             f" (populated in {db['populate_s']} s)",
             "wall = median of the runs (best in brackets); cpu = user+sys of nudged"]
    w = "{:<38} {:>17} {:>7} {:>10}  {}"
    lines.append(w.format("run", "wall s", "cpu s", "peak RSS", ""))
    lines.append("-" * 92)

    def row(label, d, note):
        lines.append(w.format(label, f"{d['wall_s']:.3f} ({d['wall_min_s']:.3f})",
                              f"{d['cpu_s']:.2f}", f"{d['maxrss_kb'] / 1024:.1f} MiB",
                              note))

    a = m["dry_run"]
    row(f"a  --dry-run --now T  x{a['runs']}", a,
        f"{a['would_send']} would go, {a['stdout_lines']} lines printed")
    b = m["once_first"]
    row(f"b  --once --now T, fresh db  x{b['runs']}", b,
        f"{b['emails_received']} emails, {b['msgs_per_s']:.0f} msg/s")
    lines.append("   after b: " + ", ".join(f"{k} {v}" for k, v in
                                             sorted(b["statuses"].items()))
                 + f" ({b['rows']} rows); {b['bytes_received'] / 1024:.0f} KiB"
                 f" over {b['smtp_connections']} SMTP connection(s)")
    c = m["once_again"]
    row(f"c  --once --now T again  x{c['runs']}", c,
        "planned and sent nothing" if c["idempotent"] else "CHANGED")
    d = res["callgrind"]
    if "skipped" in d:
        lines.append(f"d  callgrind: skipped ({d['skipped']})")
        return "\n".join(lines)
    dd = d["database"]
    lines.append(f"d  callgrind --dry-run --now T on {dd['cases']} cases / "
                 f"{dd['appointments']} appointments: {d['instructions']:,} "
                 f"instructions ({d['wall_s']:.1f} s under valgrind)")
    if d["top_inclusive"]:
        lines.append("   nudged functions, inclusive:")
        for t in [t for t in d["top_inclusive"] if t["fn"].startswith("src/")][:12]:
            lines.append(f"   {t['pct']:5.1f}%  {t['ir']:>13,}  {t['fn']}")
    if d["top_self"]:
        lines.append("   top functions, own instructions:")
        for t in d["top_self"][:8]:
            lines.append(f"   {t['pct']:5.1f}%  {t['ir']:>13,}  {t['fn']}")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="directory holding nudged and nudgectl")
    ap.add_argument("--json", help="where to write results (default BUILD/bench.json)")
    ap.add_argument("--callgrind-cases", type=int, default=200,
                    help="cases in the callgrind database (default 200)")
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of a and c (b: one fewer); the median is shown")
    ap.add_argument("--sink", choices=("raw", "aiosmtpd"), default="raw",
                    help="SMTP server: bench_sink.py (default) or smtp_server.py")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args(argv)
    build = os.path.abspath(a.build)
    for prog in ("nudged", "nudgectl"):
        if not os.access(os.path.join(build, prog), os.X_OK):
            print(f"bench: {build}/{prog} not built (run make)", file=sys.stderr)
            return 2
    tmp = tempfile.mkdtemp(prefix="nudged-bench-")
    res = dict(now=NOW, host=dict(machine=platform.machine(), cpus=os.cpu_count(),
                                  python=platform.python_version()))
    t0 = time.perf_counter()
    rc = 0
    try:
        res["main"] = bench_main(build, os.path.join(tmp, "main"), a.repeat,
                                 a.sink)
        res["sink"] = a.sink
        if a.no_callgrind:
            res["callgrind"] = dict(skipped="--no-callgrind")
        else:
            res["callgrind"] = bench_callgrind(build, os.path.join(tmp, "callgrind"),
                                               a.callgrind_cases)
        res["total_s"] = round(time.perf_counter() - t0, 1)
        print(table(res))
        print(f"(total {res['total_s']} s)")
    except (BenchError, subprocess.TimeoutExpired, OSError, sqlite3.Error) as e:
        print(f"bench: FAILED: {e}", file=sys.stderr)
        res["error"] = str(e)
        rc = 1
    finally:
        path = a.json or os.path.join(build, "bench.json")
        try:
            with open(path, "w") as f:
                json.dump(res, f, indent=2, sort_keys=True)
                f.write("\n")
            print(f"results: {path}")
        except OSError as e:
            print(f"bench: cannot write {path}: {e}", file=sys.stderr)
            rc = 1
        if a.keep or rc != 0:
            print(f"work directory kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
