#!/usr/bin/python3
"""Where nudged's time and memory go: the evidence behind
tests/bench/results/profile-*.md (issue 12, item 6).

    /usr/bin/python3 tests/bench/profiles.py --build build [--out build/profile]

Instruction counts (callgrind) do not depend on the load of a shared
machine, so they compare before and after where wall time cannot:

  pass        `nudged --once` on a year of appointments (--appointments,
              default 200,000; 100 due), then the same pass again
              (nothing new)
  send        `nudged --once` sending 4N messages (N couples, email and SMS)
              to smtp-sink and the nginx stub
  idle        a service on the 2,000-case practice (bench_data.populate),
              and one on an empty database: /proc/PID/smaps grouped by
              mapping (what the idle RSS is made of), and massif's heap
              at the end of the run (who holds the heap while idle)

Raw files (callgrind.out.*, massif.out.*, smaps-*.txt) and the annotated
summaries go to --out; the summary prints on stdout.  Needs valgrind and
what `make bench-deps` installs.  Takes a few minutes.
"""

import argparse
import collections
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import bench_data  # noqa: E402
import run  # noqa: E402
import servers  # noqa: E402

VG = "/usr/bin/valgrind"


def callgrind(build, conf, out, label, timeout=900):
    path = os.path.join(out, f"callgrind.out.{label}")
    r = subprocess.run([VG, "--tool=callgrind", f"--callgrind-out-file={path}",
                        os.path.join(build, "nudged"), "-c", conf, "--once", "--now",
                        run.NOW_S], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise run.BenchError(f"callgrind {label}: exit {r.returncode}: {r.stderr[-800:]}")
    rows = {}
    for incl in ("no", "yes"):
        a = subprocess.run(["callgrind_annotate", "--auto=no", f"--inclusive={incl}",
                            "--threshold=99.9", path],
                           capture_output=True, text=True, timeout=300)
        with open(os.path.join(out, f"annotate.{label}.{'incl' if incl == 'yes' else 'self'}"),
                  "w") as f:
            f.write(a.stdout)
        rows[incl] = parse_annotate(a.stdout, 40)
    total = None
    with open(path) as f:
        for line in f:
            m = re.match(r"(?:summary|totals):\s+(\d+)", line)
            if m:
                total = int(m.group(1))
    return total, rows["no"], rows["yes"]


def parse_annotate(text, n):
    rows, seen = [], set()
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(\S.*)$", line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        fn = m.group(3)
        # An unnamed function: say which library it is in.
        fn = re.sub(r"^\?\?\?:(0x[0-9a-f]+)\s+\[.*/([^/\]]+)\]$", r"\2:\1", fn)
        fn = re.sub(r"\s+\[[^\]]*\]$", "", fn)
        fn = re.sub(r"^.*/(src/[^/]+:)", r"\1", fn)
        fn = re.sub(r"^\./[^:]*/([^/:]+:)", r"\1", fn)
        if fn in seen:
            continue
        seen.add(fn)
        rows.append((int(m.group(1).replace(",", "")), float(m.group(2)), fn))
        if len(rows) == n:
            break
    return rows


def smaps_groups(pid):
    """{mapping name: [rss_kb, private_kb]} from /proc/PID/smaps."""
    groups = collections.defaultdict(lambda: [0, 0])
    name = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                parts = line.split(None, 5)
                name = parts[5].strip() if len(parts) > 5 else "[anon]"
                name = os.path.basename(name) if name.startswith("/") else name
                name = re.sub(r"\.so[.\d]*$", ".so", name)
            elif line.startswith("Rss:"):
                groups[name][0] += int(line.split()[1])
            elif line.startswith(("Private_Clean:", "Private_Dirty:")):
                groups[name][1] += int(line.split()[1])
    return dict(groups)


def idle_memory(build, tmp, out, sink, stub):
    today = dt.datetime.now(dt.timezone.utc).date()
    kw = dict(first_day=today + dt.timedelta(days=4),
              homework_from=today + dt.timedelta(days=8))
    res = {}
    for label, populate in (("practice", True), ("empty", False)):
        wd = os.path.join(tmp, "idle-" + label)
        os.makedirs(wd)
        db = run.init_db(build, wd, "idle")
        if populate:
            bench_data.populate(db, **kw)
        conf = os.path.join(wd, "idle.conf")
        run.write_conf(conf, run.conf_text(db, sink.url, stub.url,
                                           '({ before = "48h"; channel = "email"; },'
                                           ' { before = "3h"; channel = "sms"; })'))
        svc = run.Service(os.path.join(build, "nudged"), conf, wd, label)
        try:
            svc.start()
            time.sleep(3)
            groups = smaps_groups(svc.pid)
            with open(os.path.join(out, f"smaps-{label}.txt"), "w") as f:
                for k, (rss, priv) in sorted(groups.items(), key=lambda kv: -kv[1][0]):
                    f.write(f"{rss:8d} kB rss {priv:8d} kB private  {k}\n")
            res[label] = dict(groups=groups, sample=run.proc_sample(svc.pid))
        finally:
            svc.stop()
        if label == "practice":
            # The same service under massif: the heap while idle.
            mpath = os.path.join(out, "massif.out.idle")
            env = dict(os.environ)
            p = subprocess.Popen([VG, "--tool=massif", f"--massif-out-file={mpath}",
                                  "--time-unit=ms", "--detailed-freq=1",
                                  os.path.join(build, "nudged"), "-c", conf],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=open(os.path.join(wd, "massif.err"), "wb"), env=env)
            time.sleep(25)      # start, first pass, then idle under valgrind
            p.terminate()
            p.wait(60)
            ms = subprocess.run(["ms_print", mpath], capture_output=True, text=True,
                                timeout=120)
            with open(os.path.join(out, "massif.idle.txt"), "w") as f:
                f.write(ms.stdout)
    return res


def show(title, total, self_rows, incl_rows, n=18):
    print(f"\n== {title}: {total:,} instructions")
    print("   own instructions:")
    for ir, pct, fn in self_rows[:n]:
        print(f"   {pct:5.1f}%  {ir:>14,}  {fn}")
    print("   inclusive (nudged's functions):")
    for ir, pct, fn in [r for r in incl_rows if "src/" in r[2] or ":" not in r[2]][:n]:
        print(f"   {pct:5.1f}%  {ir:>14,}  {fn}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "profile"))
    ap.add_argument("--appointments", type=int, default=200_000)
    ap.add_argument("--couples", type=int, default=500)
    ap.add_argument("--skip", default="", help="comma-separated: pass,send,idle")
    a = ap.parse_args(argv)
    build = os.path.abspath(a.build)
    os.makedirs(a.out, exist_ok=True)
    skip = set(a.skip.split(",")) - {""}
    tmp = tempfile.mkdtemp(prefix="nudged-profile-")
    os.chmod(tmp, 0o711)
    try:
        with servers.SmtpSink(tmp) as sink, servers.NginxStub(tmp) as stub:
            if "pass" not in skip:
                wd = os.path.join(tmp, "year")
                os.makedirs(wd)
                db = run.init_db(build, wd, "year")
                data = bench_data.year(db, run.NOW, appointments=a.appointments,
                                       cases=max(100, a.appointments // 100))
                conf = os.path.join(wd, "year.conf")
                run.write_conf(conf, run.conf_text(db, sink.url, stub.url, run.EMAIL_SMS))
                show(f"pass over {data['appointments']:,} appointments, {data['due']} due",
                     *callgrind(build, conf, a.out, "pass"))
                show("the same pass again (nothing new)",
                     *callgrind(build, conf, a.out, "pass-again"))
            if "send" not in skip:
                wd = os.path.join(tmp, "send")
                os.makedirs(wd)
                db = run.init_db(build, wd, "send")
                data = bench_data.couples(db, a.couples, run.NOW)
                conf = os.path.join(wd, "send.conf")
                run.write_conf(conf, run.conf_text(db, sink.url, stub.url, run.EMAIL_SMS))
                show(f"send loop: {data['due']:,} messages (email and SMS)",
                     *callgrind(build, conf, a.out, "send"))
            if "idle" not in skip:
                res = idle_memory(build, tmp, a.out, sink, stub)
                for label, r in res.items():
                    s = r["sample"]
                    print(f"\n== idle service, {label} database: RSS {s['rss_kb']} kB, "
                          f"PSS {s['pss_kb']} kB, private {s['private_kb']} kB")
                    for k, (rss, priv) in sorted(r["groups"].items(),
                                                 key=lambda kv: -kv[1][0])[:16]:
                        print(f"   {rss:7d} kB rss {priv:7d} kB private  {k}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nraw profiles: {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
