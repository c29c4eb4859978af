#!/usr/bin/python3
"""make demo: a local end-to-end run of nudged, readable by a practitioner.

It starts a private SMTP server on this machine (STARTTLS with its own
certificate authority, a login, exactly like a real mail provider), writes
a config and a small practice database, lets nudged send the reminders
that are due, and prints every email as the clients would receive it.
Nothing leaves this machine.

    /usr/bin/python3 tests/demo.py --build build [--keep]
"""

import argparse
import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from zoneinfo import ZoneInfo

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "integration"))

import practice_conf  # noqa: E402
from smtp_server import SmtpServer  # noqa: E402

LONDON = ZoneInfo("Europe/London")
WIDTH = 72
PRACTICE_EMAIL = practice_conf.PRACTICE_EMAIL


def banner(title):
    print()
    print("=" * WIDTH)
    print(f"  {title}")
    print("=" * WIDTH)


def say(text=""):
    for para in text.split("\n"):
        print(textwrap.fill(para, WIDTH) if para else "")


def utc(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def local(s):
    """A stored UTC time, as the practice reads it."""
    if not s:
        return "-"
    try:
        t = dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return s
    return t.astimezone(LONDON).strftime("%a %d %b %H:%M")


class Demo:
    def __init__(self, build, workdir):
        self.nudged = os.path.join(build, "nudged")
        self.nudgectl = os.path.join(build, "nudgectl")
        self.dir = workdir
        self.conf = os.path.join(workdir, "nudged.conf")
        self.db = os.path.join(workdir, "nudged.db")
        self.problems = []

    def problem(self, text):
        self.problems.append(text)
        print(f"  !! {text}")

    def run(self, argv, brief=False):
        """Run a program and show its output.  brief: only the lines that
        are not indented (nudgectl's one-line summaries, not the texts)."""
        shown = [os.path.basename(a) if a in (self.nudged, self.nudgectl) else a
                 for a in argv]
        print(f"\n$ {' '.join(shown)}")
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        lines = (r.stdout + r.stderr).rstrip().splitlines()
        if brief:
            short = [l for l in lines if l.strip() and not l[:1].isspace()]
            if short and len(short) < len(lines):
                lines = short + ["(the full texts follow below, as the clients "
                                 "receive them)"]
        for line in lines:
            print(f"  | {line}")
        print(f"  (exit status {r.returncode})")
        return r

    # ---- setting up ---------------------------------------------------------

    def write_config(self, smtp):
        pw = practice_conf.write_password(os.path.join(self.dir, "smtp-password"))
        text = practice_conf.conf_text(
            self.db, comment="nudged demo configuration (written by tests/demo.py)",
            email={"enabled": True, "url": smtp.url, "tls": "required",
                   "ca_file": smtp.ca_file, "username": practice_conf.SMTP_USER,
                   "password_file": pw, "from": practice_conf.FROM},
            reminders=[{"before": "48h", "channel": "email"},
                       {"before": "3h", "channel": "email"}])
        practice_conf.write_conf(self.conf, text)

    def create_database(self):
        r = self.run([self.nudgectl, "-c", self.conf, "init"])
        if r.returncode != 0 or not os.path.exists(self.db):
            self.problem("nudgectl init did not create the database")
            return False
        return True

    def add_data(self, start):
        """The practice's diary, written the way a booking tool writes it."""
        con = sqlite3.connect(self.db, timeout=30)
        with con:
            def client(name, email, **kw):
                cols = ["name", "email"] + list(kw)
                vals = [name, email] + list(kw.values())
                q = ",".join("?" * len(vals))
                return con.execute(f"INSERT INTO clients ({','.join(cols)}) VALUES ({q})",
                                   vals).lastrowid

            def case(label, members):
                cid = con.execute("INSERT INTO cases (label) VALUES (?)", (label,)).lastrowid
                for m in members:
                    con.execute("INSERT INTO case_members VALUES (?,?)", (cid, m))
                return cid

            def book(cid, when, kind, minutes, mode="in_person"):
                con.execute("INSERT INTO appointments (case_id, starts_at, duration_min,"
                            " kind, mode) VALUES (?,?,?,?,?)",
                            (cid, utc(when), minutes, kind, mode))

            sam = client("Sam Taylor", "sam@example.org")
            alex = client("Alex Morgan", "alex@example.org")
            jordan = client("Jordan Lee", "jordan@example.org")
            casey = client("Casey Brown", "casey@example.org",
                           opted_out_at=utc(start - dt.timedelta(days=10)))
            book(case("Sam & Alex", [sam, alex]), start, "assessment", 90)
            book(case("Jordan", [jordan]), start + dt.timedelta(hours=3), "session", 60,
                 "online")
            book(case("Casey", [casey]), start + dt.timedelta(hours=-3), "session", 60)
        con.close()
        self.expected = {"sam@example.org", "alex@example.org", "jordan@example.org"}
        self.never = {"casey@example.org"}

    # ---- showing ------------------------------------------------------------

    def show_mail(self, n, rec):
        m = rec["message"]
        print()
        print(f"  ---- email {n} " + "-" * (WIDTH - 16))
        for h in ("From", "To", "Reply-To", "Subject", "Date"):
            if m[h] is not None:
                print(f"  {h + ':':<10}{m[h]}")
        body = m.get_body(preferencelist=("plain",))
        print()
        text = body.get_content() if body else "(no text part)"
        for line in text.replace("\r\n", "\n").rstrip().split("\n"):
            wrapped = textwrap.wrap(line, WIDTH - 4, break_long_words=False,
                                    break_on_hyphens=False) or [""]
            for w in wrapped:
                print(f"    {w}")
        extra = [p for p in m.walk()
                 if not p.is_multipart() and p is not body]
        for p in extra:
            name = p.get_filename() or "(unnamed)"
            print(f"\n    [attached: {name}, {p.get_content_type()}]")

    def summary(self):
        con = sqlite3.connect(self.db)
        con.row_factory = sqlite3.Row
        rows = con.execute(
            "SELECT m.id, m.purpose, m.channel, m.status, m.attempts, m.due_at,"
            " m.sent_at, m.last_error, c.name FROM messages m"
            " LEFT JOIN clients c ON c.id = m.client_id ORDER BY m.id").fetchall()
        con.close()
        print(f"\n  {'#':>3}  {'client':<14}{'what':<16}{'due':<17}{'status':<10}"
              f"{'tries':>5}  sent")
        for r in rows:
            print(f"  {r['id']:>3}  {(r['name'] or '-')[:13]:<14}"
                  f"{r['purpose'] + '/' + r['channel']:<16}{local(r['due_at']):<17}"
                  f"{r['status']:<10}{r['attempts']:>5}  {local(r['sent_at'])}")
            if r["last_error"]:
                print(f"  {'':>5}{'':<14}why: {r['last_error']}")
        return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(os.path.dirname(HERE), "build"))
    ap.add_argument("--keep", action="store_true", help="keep the demo directory")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    for b in ("nudged", "nudgectl"):
        if not os.access(os.path.join(build, b), os.X_OK):
            print(f"demo: {build}/{b} is missing; run `make` first", file=sys.stderr)
            return 1

    workdir = tempfile.mkdtemp(prefix="nudged-demo-")
    demo = Demo(build, workdir)
    smtp = SmtpServer(os.path.join(workdir, "smtp"), tls="starttls",
                      auth=(practice_conf.SMTP_USER, practice_conf.SMTP_PASSWORD))
    smtp.start()
    try:
        return run_demo(demo, smtp)
    finally:
        smtp.stop()
        if a.keep:
            print(f"\n(demo files kept in {workdir})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def run_demo(demo, smtp):
    # The diary: three days from today, in the practice's own time.
    today = dt.datetime.now(LONDON).date()
    day = today + dt.timedelta(days=3)
    start = dt.datetime(day.year, day.month, day.day, 14, 0, tzinfo=LONDON)
    later = start + dt.timedelta(hours=3)
    # The moment both 48-hour reminders are due (the later one's due time).
    now = later - dt.timedelta(hours=48)

    banner("nudged demo: appointment reminders by email")
    say(f"A private mail server is listening on this machine ({smtp.url}); "
        "it insists on an encrypted connection and a login, like a real provider. "
        "Nothing leaves this computer.")

    banner("1. Configuration")
    demo.write_config(smtp)
    r = demo.run([demo.nudged, "-c", demo.conf, "--check-config"])
    if r.returncode != 0:
        demo.problem("the configuration was not accepted")
        return 1

    banner("2. The practice diary")
    if not demo.create_database():
        return 1
    demo.add_data(start)
    fmt = lambda t: t.strftime("%A %-d %B, %H:%M")  # noqa: E731
    say(f"* Sam Taylor and Alex Morgan (a couple): assessment, 90 minutes, "
        f"{fmt(start)}.")
    say(f"* Jordan Lee: online session, {fmt(later)}.")
    say(f"* Casey Brown: session, {fmt(start - dt.timedelta(hours=3))} - but Casey has "
        "asked not to be contacted (opted out), so nudged must send Casey nothing.")
    say("\nRules: an email 48 hours before, and another 3 hours before.")

    when = now.astimezone(LONDON).strftime("%A %-d %B %Y, %H:%M")
    banner(f"3. What nudged plans to send (as of {when})")
    r = demo.run([demo.nudgectl, "-c", demo.conf, "upcoming", "--days", "3",
                  "--now", utc(now)], brief=True)
    if r.returncode != 0:
        demo.problem(f"nudgectl upcoming exited with status {r.returncode}")

    banner(f"4. nudged runs once, as if it were {when}")
    r = demo.run([demo.nudged, "-c", demo.conf, "--once", "--now", utc(now)])
    if r.returncode != 0:
        demo.problem(f"nudged --once exited with status {r.returncode}")
    try:
        smtp.wait_for(len(demo.expected), timeout=5)
    except TimeoutError:
        pass
    got = list(smtp.messages)
    say(f"\nThe mail server received {len(got)} email(s):")
    for n, rec in enumerate(got, 1):
        demo.show_mail(n, rec)
    rcpts = [x for rec in got for x in rec["rcpt_tos"]]
    if sorted(rcpts) != sorted(demo.expected):
        demo.problem(f"expected one email each to {sorted(demo.expected)}, "
                     f"got {sorted(rcpts)}")
    if demo.never & set(rcpts):
        demo.problem("an opted-out client was sent an email")

    banner("5. Running again a few minutes later")
    again = now + dt.timedelta(minutes=5)
    r = demo.run([demo.nudged, "-c", demo.conf, "--once", "--now", utc(again)])
    if r.returncode != 0:
        demo.problem(f"second nudged --once exited with status {r.returncode}")
    new = smtp.messages[len(got):]
    if new:
        demo.problem(f"the second run sent {len(new)} more email(s)")
    else:
        say("\nNothing more to send: every reminder went exactly once.")

    banner("6. The outbox (nudged's record of every message)")
    rows = demo.summary()
    sent = [r for r in rows if r["status"] == "sent"]
    if len(sent) != len(demo.expected):
        demo.problem(f"{len(sent)} messages marked sent, expected {len(demo.expected)}")
    pending = [r for r in rows if r["status"] == "pending"]
    say(f"\n{len(sent)} sent; {len(pending)} waiting for their time "
        "(the 3-hour reminders).")

    banner("Result")
    if demo.problems:
        say("The demo found problems:")
        for p in demo.problems:
            say(f"  - {p}")
        return 1
    say("Everything worked: each partner got their own reminder, the opted-out "
        "client got nothing, and nothing was sent twice.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
