"""Shared fixtures for nudged's end-to-end tests.

Every test runs the real binaries (build/nudged, build/nudgectl, or the
directory named by $NUDGED_BUILD) against a real SMTP server on loopback
(smtp_server.py: STARTTLS with a private CA, AUTH nudged/s3cret) and a real
SQLite file that the test fills the way a booking tool would.

`make check` points NUDGED_BUILD at an -fsanitize=address,undefined build.
Every subprocess a test starts inherits ASAN_OPTIONS/UBSAN_OPTIONS that
send reports to files in a per-test directory; the autouse `sanitizer_gate`
fixture fails the test when any report appeared, so every end-to-end test
is also a memory-error test.
"""

import atexit
import datetime as dt
import glob
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import practice_conf  # noqa: E402
from practice_conf import (FROM, PRACTICE_EMAIL, SMTP_PASSWORD,  # noqa: E402,F401
                           SMTP_USER, Raw, group, lc)
from smtp_server import SmtpServer  # noqa: E402

BUILD = os.environ.get("NUDGED_BUILD") or os.path.join(ROOT, "build")
if not os.path.isabs(BUILD):
    BUILD = os.path.join(ROOT, BUILD)
NUDGED = os.path.join(BUILD, "nudged")
NUDGECTL = os.path.join(BUILD, "nudgectl")
TIMEOUT = 60

# The contract's tables, exactly as a booking tool may create them.
CONTRACT_SCHEMA = """
CREATE TABLE IF NOT EXISTS clients (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, first_name TEXT, email TEXT,
  phone TEXT, email_consent INTEGER NOT NULL DEFAULT 1,
  sms_consent INTEGER NOT NULL DEFAULT 0, discreet INTEGER NOT NULL DEFAULT 0,
  opted_out_at TEXT);
CREATE TABLE IF NOT EXISTS cases (
  id INTEGER PRIMARY KEY, label TEXT NOT NULL, closed_at TEXT);
CREATE TABLE IF NOT EXISTS case_members (
  case_id INTEGER NOT NULL REFERENCES cases(id),
  client_id INTEGER NOT NULL REFERENCES clients(id),
  PRIMARY KEY (case_id, client_id));
CREATE TABLE IF NOT EXISTS appointments (
  id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL REFERENCES cases(id),
  starts_at TEXT NOT NULL, duration_min INTEGER NOT NULL DEFAULT 60,
  kind TEXT NOT NULL DEFAULT 'session', mode TEXT NOT NULL DEFAULT 'in_person',
  video_url TEXT, status TEXT NOT NULL DEFAULT 'booked');
CREATE TABLE IF NOT EXISTS homework (
  id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL REFERENCES cases(id),
  title TEXT NOT NULL, prompt TEXT NOT NULL, starts_on TEXT NOT NULL,
  ends_on TEXT, every_days INTEGER NOT NULL DEFAULT 2, at_time TEXT,
  active INTEGER NOT NULL DEFAULT 1);
"""


# ---------------------------------------------------------------------------
# time helpers

def parse_utc(s):
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.timezone.utc)


def fmt_utc(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def shift(s, **delta):
    """shift("2026-12-03T14:00:00Z", hours=-48) -> "2026-12-01T14:00:00Z"."""
    return fmt_utc(parse_utc(s) + dt.timedelta(**delta))


# ---------------------------------------------------------------------------
# libconfig text (lc, group, Raw: tests/practice_conf.py)

def rules(*specs):
    """rules("48h", "24h") -> email before-rules; dicts are taken as they are."""
    out = []
    for s in specs:
        out.append(s if isinstance(s, dict) else {"before": s, "channel": "email"})
    return out


def as_utc(s):
    """A time nudged stored (its UTC form, or SQLite's) as an aware datetime."""
    assert s, "no time stored"
    for f in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return dt.datetime.strptime(s, f).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            pass
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


# ---------------------------------------------------------------------------
# mail helpers

def mails_to(smtp, addr):
    """Every message the server accepted for addr (parsed EmailMessages)."""
    return [m["message"] for m in smtp.messages
            if addr.lower() in [r.lower() for r in m["rcpt_tos"]]]


def client_mails(smtp):
    """Messages to anyone but the practitioner (whose are failure alerts)."""
    return [m for m in smtp.messages
            if [r.lower() for r in m["rcpt_tos"]] != [PRACTICE_EMAIL]]


def text_body(msg):
    """The text/plain body of a parsed EmailMessage."""
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None, "message has no text/plain part"
    return part.get_content()


def header_block(raw):
    """The raw header section of a message (bytes, up to the first blank line)."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        end = raw.find(b"\n\n")
    return raw if end < 0 else raw[:end]


# ---------------------------------------------------------------------------
# the practice: config, database, binaries

class Practice:
    def __init__(self, tmp_path, get_smtp):
        self.dir = tmp_path
        self.db = tmp_path / "nudged.db"
        self.conf = tmp_path / "nudged.conf"
        self.password_file = tmp_path / "smtp-password"
        self._get_smtp = get_smtp
        self._smtp = None
        self.text = ""
        self.write_password(SMTP_PASSWORD)

    @property
    def smtp(self):
        if self._smtp is None:
            self._smtp = self._get_smtp()
        return self._smtp

    def use_smtp(self, server):
        """Point later write_conf() calls at another server."""
        self._smtp = server

    # ---- config --------------------------------------------------------

    def write_password(self, secret, path=None):
        return practice_conf.write_password(path or self.password_file, secret)

    def conf_text(self, *, practice=None, email=None, sms=None, reminders=None,
                  database=None, extra="", **top):
        """The config text (tests/practice_conf.py).  practice/email override
        keys of those groups (a value of None drops the key); email=False
        drops the group; reminders is a list of rule dicts (rules() helps)
        or Raw text; other keyword arguments are top-level keys
        (late_limit="1h", ...)."""
        e = False
        if email is not False:
            e = {"enabled": True}
            given = email or {}
            if "url" not in given or "ca_file" not in given:
                e.update(url=self.smtp.url, ca_file=self.smtp.ca_file)
            e.update({
                "tls": "required",
                "username": SMTP_USER,
                "password_file": str(self.password_file),
                "from": FROM,
            })
            e.update(email or {})
        return practice_conf.conf_text(database or self.db, practice=practice,
                                       email=e, sms=sms, reminders=reminders,
                                       extra=extra, **top)

    def write_conf(self, text=None, mode=0o600, **kw):
        self.text = text if text is not None else self.conf_text(**kw)
        practice_conf.write_conf(self.conf, self.text, mode)
        return self.conf

    def line_of(self, needle):
        """1-based line of the first config line containing needle."""
        for i, line in enumerate(self.text.splitlines(), 1):
            if needle in line:
                return i
        raise AssertionError(f"{needle!r} not in the config")

    # ---- binaries --------------------------------------------------------

    def run(self, *args, conf=True, timeout=TIMEOUT, env=None):
        argv = [NUDGED] + (["-c", str(self.conf)] if conf else []) + list(args)
        return _run(argv, timeout, env)

    def once(self, now, *args, **kw):
        return self.run("--once", "--now", now, *args, **kw)

    def ctl(self, *args, conf=True, timeout=TIMEOUT, env=None):
        argv = [NUDGECTL] + (["-c", str(self.conf)] if conf else []) + list(args)
        return _run(argv, timeout, env)

    def init(self):
        """Create the database the way the practitioner does: nudgectl init
        (a new one: a copy of what it made, see _init_template)."""
        if not self.conf.exists():
            self.write_conf()
        if self._fresh_default_db():
            _copy_db(_init_template(), self.db)
            return None
        r = _init(self.conf)
        assert self.db.exists()
        return r

    def _fresh_default_db(self):
        """The config names self.db (once, plainly) and there is no such
        database yet: what nudgectl init would make is the template."""
        with open(self.conf, encoding="utf-8", errors="replace") as f:
            found = re.findall(r'^database = "(.*)";$', f.read(), re.M)
        return (found == [str(self.db)] and not any(
            os.path.exists(f"{self.db}{s}") for s in ("", "-wal", "-journal")))

    # ---- data, as a booking tool writes it --------------------------------

    def connect(self):
        con = sqlite3.connect(str(self.db), timeout=30)
        con.row_factory = sqlite3.Row
        return con

    def set(self, sql, *params):
        con = self.connect()
        try:
            with con:
                cur = con.execute(sql, params)
                return cur.lastrowid
        finally:
            con.close()

    def query(self, sql, *params):
        con = self.connect()
        try:
            return [dict(r) for r in con.execute(sql, params)]
        finally:
            con.close()

    def add_client(self, name, email=None, phone=None, email_consent=1,
                   sms_consent=0, discreet=0, first_name=None, opted_out_at=None,
                   id=None):
        return self.set(
            "INSERT INTO clients (id, name, first_name, email, phone, email_consent,"
            " sms_consent, discreet, opted_out_at) VALUES (?,?,?,?,?,?,?,?,?)",
            id, name, first_name, email, phone, email_consent, sms_consent,
            discreet, opted_out_at)

    def add_case(self, label, clients, closed_at=None):
        con = self.connect()
        try:
            with con:
                cid = con.execute("INSERT INTO cases (label, closed_at) VALUES (?,?)",
                                  (label, closed_at)).lastrowid
                for c in clients:
                    con.execute("INSERT INTO case_members (case_id, client_id)"
                                " VALUES (?,?)", (cid, c))
            return cid
        finally:
            con.close()

    def book(self, case_id, starts_at, kind="session", mode="in_person",
             duration=60, video_url=None, status="booked", id=None):
        return self.set(
            "INSERT INTO appointments (id, case_id, starts_at, duration_min, kind,"
            " mode, video_url, status) VALUES (?,?,?,?,?,?,?,?)",
            id, case_id, starts_at, duration, kind, mode, video_url, status)

    def couple(self, starts_at=None, **book_kw):
        """Sam Taylor and Alex Morgan, one case, optionally one appointment.
        Returns (sam, alex, case, appointment-or-None)."""
        sam = self.add_client("Sam Taylor", email="sam@example.org")
        alex = self.add_client("Alex Morgan", email="alex@example.org")
        case = self.add_case("Sam & Alex", [sam, alex])
        appt = self.book(case, starts_at, **book_kw) if starts_at else None
        return sam, alex, case, appt

    def messages(self, where="1", *params):
        return self.query(f"SELECT * FROM messages WHERE {where} ORDER BY id",
                          *params)

    def inflight(self):
        """The send loop's upload marks (DATABASE-inflight, see
        src/store/store_inflight.c): {(id, attempt)} of the valid records."""
        return inflight_marks(f"{self.db}-inflight")

    def sending(self):
        """Rows in 'sending', each with uploaded = 1 when its whole message
        went up in this attempt: marked in the database (the digest,
        send-test) or in the -inflight file (the send loop)."""
        marks = self.inflight()
        rows = self.query("SELECT id, attempts, uploaded FROM messages"
                          " WHERE status = 'sending' ORDER BY id")
        for r in rows:
            r["uploaded"] = int(bool(r["uploaded"]) or
                                (r["id"], r["attempts"]) in marks)
        return rows


def build_shim(d, name, source):
    """Compile an LD_PRELOAD shim (C source) into d/name.so; its path."""
    src = d / f"{name}.c"
    src.write_text(source)
    shim = d / f"{name}.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(shim), str(src), "-ldl"],
                   check=True)
    return shim


def preload_env(shim, **more):
    """The environment that loads shim into a sanitizer build (ASan wants
    to come first in the link order; a preloaded shim is not)."""
    env = {"LD_PRELOAD": str(shim),
           "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
           ":verify_asan_link_order=0"}
    env.update(more)
    return env


def inflight_marks(path):
    """Records of 16 bytes: id (int64), attempt (int32), check (uint32),
    native order; a record whose check fails is ignored, as nudged does."""
    import struct
    try:
        data = open(path, "rb").read()
    except FileNotFoundError:
        return set()
    marks = set()
    for off in range(0, len(data) - 15, 16):
        i, a, c = struct.unpack_from("=qiI", data, off)
        h = (i * 0x9e3779b97f4a7c15 ^ (a & 0xffffffff)) & 0xffffffffffffffff
        if i > 0 and c == ((h >> 32) ^ (h & 0xffffffff) ^ 0x6e756467):
            marks.add((i, a))
    return marks


def _init(conf):
    """nudgectl -c conf init, which must succeed.  Set-up: under ASan and
    UBSan like every run, but without the leak check at exit, which costs
    as much again as the rest of the run; test_nudgectl.py,
    test_practice_access.py and test_ctl_week.py run `nudgectl init`
    with it."""
    r = _run([NUDGECTL, "-c", str(conf), "init"], TIMEOUT, {
        "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "").replace(
            "detect_leaks=1", "detect_leaks=0")})
    assert r.returncode == 0, f"nudgectl init failed: {r.stderr}"
    return r


# A new database from `nudgectl init` is the same file whatever the config
# (the schema holds none of it; the folder exists, so init only creates the
# file and, as root, gives it to the service), but for one value: the
# installation id, random per database.  So it is made once per test
# process, by the real command, and copied with its mode and owner for
# each test, with an id of its own.  Set-up ran init before nearly every
# test, each time a sanitizer process start (a fifth of the suite's CPU
# time).  A database that exists already (a migration) or elsewhere still
# goes through nudgectl init.
_TEMPLATE = {}


def _init_template():
    if NUDGECTL not in _TEMPLATE:
        made = []
        for _ in range(2):
            d = tempfile.mkdtemp(prefix="nudged-init-")
            atexit.register(shutil.rmtree, d, True)
            db = os.path.join(d, "nudged.db")
            conf = os.path.join(d, "nudged.conf")
            practice_conf.write_conf(conf, practice_conf.conf_text(db, email=False))
            _init(conf)
            made.append(db)
        # Two inits differ in the installation id only: anything else made
        # afresh per database would need a fresh value in _copy_db too.
        dumps = [_dump(db) for db in made]
        differ = [line for line in dumps[0] if line not in dumps[1]]
        assert len(differ) == 1 and "installation_id" in differ[0], differ
        d = os.path.dirname(made[0])
        assert sorted(os.listdir(d)) == ["nudged.conf", "nudged.db"], \
            os.listdir(d)
        _TEMPLATE[NUDGECTL] = made[0]
    return _TEMPLATE[NUDGECTL]


def _dump(db):
    con = sqlite3.connect(db)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def _copy_db(src, dst):
    st = os.stat(src)
    shutil.copyfile(src, dst)
    os.chmod(dst, stat.S_IMODE(st.st_mode))
    os.chown(dst, st.st_uid, st.st_gid)
    con = sqlite3.connect(dst)
    try:
        with con:
            con.execute("UPDATE state SET value = lower(hex(randomblob(8)))"
                        " WHERE key = 'installation_id'")
    finally:
        con.close()


def _run(argv, timeout, env):
    assert os.access(argv[0], os.X_OK), \
        f"{argv[0]} is missing: run `make` (or set NUDGED_BUILD)"
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          env=full_env, stdin=subprocess.DEVNULL)


# ---------------------------------------------------------------------------
# fixtures

def _killed_in_leak_check(path):
    """A log holding only LeakSanitizer's tracer losing a thread: the
    process was killed (a test's SIGKILL, or its parent's death signal)
    while its exit-time leak check ran.  No finding, and nothing else."""
    with open(path, errors="replace") as f:
        lines = [l for l in f.read().splitlines() if l.strip()]
    return bool(lines) and all(
        re.fullmatch(r"==\d+==Unable to get registers from thread \d+\.", l)
        for l in lines)


@pytest.fixture(autouse=True)
def sanitizer_gate(tmp_path_factory, monkeypatch):
    """Route sanitizer reports of every subprocess to files; any file fails."""
    d = tmp_path_factory.mktemp("sanitizer")
    monkeypatch.setenv("ASAN_OPTIONS",
                       f"log_path={d}/asan:detect_leaks=1:abort_on_error=0")
    monkeypatch.setenv("UBSAN_OPTIONS",
                       f"log_path={d}/ubsan:print_stacktrace=1:halt_on_error=1")
    # Never let the tester's own environment leak into a run.
    for var in ("CREDENTIALS_DIRECTORY", "NOTIFY_SOCKET", "JOURNAL_STREAM"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    yield d
    reports = [r for r in sorted(glob.glob(f"{d}/asan*") + glob.glob(f"{d}/ubsan*"))
               if not _killed_in_leak_check(r)]
    if reports:
        text = []
        for r in reports:
            with open(r, errors="replace") as f:
                text.append(f"==== {os.path.basename(r)}\n{f.read()}")
        pytest.fail("sanitizer report(s):\n" + "\n".join(text), pytrace=False)


@pytest.fixture
def smtp_factory(tmp_path):
    """make(tls=..., auth=...) -> a started SmtpServer, stopped after the test."""
    servers = []

    def make(tls="starttls", auth=(SMTP_USER, SMTP_PASSWORD), name=None):
        d = tmp_path / (name or f"smtp{len(servers)}")
        srv = SmtpServer(d, tls=tls, auth=auth)
        srv.start()
        servers.append(srv)
        return srv

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def smtp(smtp_factory):
    return smtp_factory(name="smtp")


@pytest.fixture
def practice(tmp_path, request):
    # The server starts only when a test needs it (config tests do not).
    return Practice(tmp_path, lambda: request.getfixturevalue("smtp"))


@pytest.fixture
def ready(practice):
    """A practice with the default config written and the database created."""
    practice.write_conf()
    practice.init()
    return practice


# ---------------------------------------------------------------------------
# order: the slow tests early, spread out

def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: several seconds of wall time (started early, spread out)")


def pytest_collection_modifyitems(config, items):
    """Spread the tests marked slow through the first half of the run:
    pytest-xdist hands out tests in collection order, so a slow one left
    near the end keeps one worker busy while the others have finished,
    and several in a row would all go to the same worker."""
    slow = [it for it in items if it.get_closest_marker("slow")]
    if not slow or len(slow) == len(items):
        return
    rest = [it for it in items if not it.get_closest_marker("slow")]
    step = max(1, len(rest) // (2 * len(slow)))
    out = []
    for i, it in enumerate(slow):
        out.append(it)
        out.extend(rest[i * step:(i + 1) * step])
    out.extend(rest[len(slow) * step:])
    assert len(out) == len(items)
    items[:] = out


# Measurements a test wants shown even when it passes (pytest -q hides
# print output): collected here, printed in the run's closing summary.
_MEASUREMENTS = []


@pytest.fixture
def measurement():
    return _MEASUREMENTS.append


def pytest_sessionfinish(session):
    # Under pytest-xdist each worker hands its measurements to the controller.
    out = getattr(session.config, "workeroutput", None)
    if out is not None:
        out["nudged_measurements"] = list(_MEASUREMENTS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    _MEASUREMENTS.extend(
        getattr(node, "workeroutput", {}).get("nudged_measurements", []))


def pytest_terminal_summary(terminalreporter):
    if _MEASUREMENTS:
        terminalreporter.section("nudged measurements")
        for line in _MEASUREMENTS:
            terminalreporter.write_line(line)
