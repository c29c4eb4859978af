"""The documented layout, as a practice sets it up (issue 8, points 2-3).

The service runs as user nudged; the state folder is nudged:nudged 2770
(setgid); the database and its -wal/-shm are 0660 in group nudged; a
practitioner in group nudged runs every nudgectl command on it.  The
accounts are simulated with setpriv as root (tests that need them skip
cleanly otherwise); the mode tests run as anyone.
"""

import glob
import grp
import os
import pwd
import shutil
import signal
import sqlite3
import stat
import subprocess
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("NUDGED_BUILD") or os.path.join(ROOT, "build")
if not os.path.isabs(BUILD):
    BUILD = os.path.join(ROOT, BUILD)
NUDGED = os.path.join(BUILD, "nudged")
CTL = os.path.join(BUILD, "nudgectl")

CONF = """\
practice = {{
  name = "Hughes Relationship Therapy";
  practitioner = "Christian Hughes";
  email = "christian@example.org";
}};
database = "{db}";
email = {{
  enabled = true;
  url = "smtp://127.0.0.1:9";
  tls = "none";
  from = "Christian Hughes <appointments@example.org>";
  timeout = "2s";
}};
reminders = ( {{ before = "48h"; channel = "email"; }} );
"""

PRACTITIONER = "nudgedprac"


def mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


def run(argv, user=None, env=None, timeout=60):
    full = dict(os.environ)
    full.update(env or {})
    if user is not None:
        argv = ["setpriv", f"--reuid={user['uid']}", f"--regid={user['gid']}",
                f"--groups={','.join(str(g) for g in user['groups'])}",
                "--"] + argv
    return subprocess.run(argv, capture_output=True, text=True, env=full,
                          timeout=timeout, stdin=subprocess.DEVNULL)


# ---- as anyone -----------------------------------------------------------

def write_conf(d, db):
    conf = os.path.join(d, "nudged.conf")
    with open(conf, "w") as f:
        f.write(CONF.format(db=db))
    os.chmod(conf, 0o640)
    return conf


def test_database_created_0660_by_nudgectl_and_nudged(tmp_path):
    for prog in ("ctl", "nudged"):
        d = tmp_path / prog
        d.mkdir()
        db = str(d / "nudged.db")
        conf = write_conf(str(d), db)
        argv = ([CTL, "-c", conf, "init"] if prog == "ctl" else
                [NUDGED, "-c", conf, "--once"])
        r = run(argv)
        assert r.returncode == 0, r.stderr
        assert mode(db) == 0o660, (prog, oct(mode(db)))


def test_wal_and_shm_are_0660_while_the_service_runs(tmp_path):
    db = str(tmp_path / "nudged.db")
    conf = write_conf(str(tmp_path), db)
    p = subprocess.Popen([NUDGED, "-c", conf], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 10
        while time.time() < deadline and not (
                os.path.exists(db + "-wal") and os.path.exists(db + "-shm")):
            time.sleep(0.05)
        for f in (db, db + "-wal", db + "-shm"):
            assert os.path.exists(f), f
            assert mode(f) == 0o660, (f, oct(mode(f)))
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=15)


def test_wrong_mode_repaired_at_start_with_a_warning(tmp_path):
    db = str(tmp_path / "nudged.db")
    conf = write_conf(str(tmp_path), db)
    assert run([CTL, "-c", conf, "init"]).returncode == 0
    # nudged repairs only its own files; as root, init gives the database to
    # the user nudged when that user exists (another test may have made it).
    os.chown(db, os.geteuid(), -1)
    os.chmod(db, 0o640)
    r = run([NUDGED, "-c", conf, "--once"])
    assert r.returncode == 0, r.stderr
    assert mode(db) == 0o660
    assert "warning" in r.stderr and "repaired" in r.stderr, r.stderr
    assert db in r.stderr and "0640" in r.stderr
    # Repaired once: the next start says nothing.
    r = run([NUDGED, "-c", conf, "--once"])
    assert "wrong mode" not in r.stderr


def _group_exists():
    try:
        grp.getgrnam("nudged")
        return True
    except KeyError:
        return False


def test_init_creates_the_missing_state_folder(tmp_path):
    state = tmp_path / "state"
    db = str(state / "nudged.db")
    conf = write_conf(str(tmp_path), db)
    before = _group_exists()
    r = run([CTL, "-c", conf, "init"])
    after = _group_exists()                 # another test may make or remove it
    assert r.returncode == 0, r.stderr
    assert stat.S_ISDIR(os.stat(state).st_mode)
    assert mode(state) & 0o7777 == 0o2770, oct(mode(state))
    assert f"folder {state} created" in r.stdout
    assert mode(db) == 0o660
    # root with no nudged user yet: told that the service could not open it
    if os.geteuid() == 0 and before == after:
        warned = "there is no nudged user or group yet" in r.stderr
        assert warned == (not before), r.stderr
        if warned:
            assert f"chown -R nudged:nudged {state}\n" in r.stderr, r.stderr


def test_error_names_the_database_path_once(tmp_path):
    db = str(tmp_path / "missing" / "deeper" / "nudged.db")
    conf = write_conf(str(tmp_path), db)
    r = run([CTL, "-c", conf, "client", "list"])
    assert r.returncode == 74
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1, r.stderr
    assert line.count(db) == 1, line
    r = run([CTL, "-c", conf, "init"])      # the parent of the folder is missing
    assert r.returncode != 0
    assert "cannot create the folder" in r.stderr, r.stderr


# ---- as the service and a practitioner (root only) -----------------------

def _need_root():
    if os.geteuid() != 0:
        pytest.skip("needs root to simulate the nudged and practitioner users")
    for tool in ("setpriv", "useradd", "groupadd", "userdel"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not available")


@pytest.fixture
def accounts():
    """User and group nudged (made if missing) and a practitioner in it."""
    _need_root()
    made = []
    try:
        grp.getgrnam("nudged")
    except KeyError:
        subprocess.run(["groupadd", "-r", "nudged"], check=True)
        made.append(("group", "nudged"))
    try:
        pwd.getpwnam("nudged")
    except KeyError:
        subprocess.run(["useradd", "-r", "-g", "nudged", "-M", "-d",
                        "/nonexistent", "-s", "/usr/sbin/nologin", "nudged"],
                       check=True)
        made.append(("user", "nudged"))
    try:
        pwd.getpwnam(PRACTITIONER)
    except KeyError:
        subprocess.run(["useradd", "-M", "-d", "/nonexistent", "-s",
                        "/usr/sbin/nologin", PRACTITIONER], check=True)
        made.append(("user", PRACTITIONER))
    g = grp.getgrnam("nudged").gr_gid
    svc = pwd.getpwnam("nudged")
    pr = pwd.getpwnam(PRACTITIONER)
    yield {
        "service": {"uid": svc.pw_uid, "gid": g, "groups": [g]},
        "practitioner": {"uid": pr.pw_uid, "gid": pr.pw_gid,
                         "groups": [pr.pw_gid, g]},
        "outsider": {"uid": pr.pw_uid, "gid": pr.pw_gid,
                     "groups": [pr.pw_gid]},
        "gid": g,
    }
    for kind, name in reversed(made):
        subprocess.run(["userdel" if kind == "user" else "groupdel", name],
                       capture_output=True)


@pytest.fixture
def layout(accounts):
    """/tmp/X/etc/nudged.conf (root:nudged 0640), /tmp/X/state (nudged:nudged
    2770), sanitizer reports to a folder every user may write."""
    top = tempfile.mkdtemp(prefix="nudged-layout-", dir="/tmp")
    os.chmod(top, 0o755)
    etc = os.path.join(top, "etc")
    state = os.path.join(top, "state")
    san = os.path.join(top, "san")
    os.mkdir(etc, 0o750)
    os.chown(etc, 0, accounts["gid"])
    os.mkdir(state)
    os.chown(state, accounts["service"]["uid"], accounts["gid"])
    os.chmod(state, 0o2770)
    os.mkdir(san)
    os.chmod(san, 0o1777)
    db = os.path.join(state, "nudged.db")
    conf = write_conf(etc, db)
    os.chown(conf, 0, accounts["gid"])
    env = {"ASAN_OPTIONS": f"log_path={san}/asan:detect_leaks=1",
           "UBSAN_OPTIONS": f"log_path={san}/ubsan:halt_on_error=1"}
    yield {"conf": conf, "db": db, "state": state, "env": env, **accounts}
    reports = glob.glob(f"{san}/*")
    text = "".join(open(r, errors="replace").read() for r in reports)
    shutil.rmtree(top, ignore_errors=True)
    assert not reports, text


def as_(lay, who, *args, prog=None):
    return run([prog or CTL, "-c", lay["conf"]] + [str(a) for a in args],
               user=lay[who], env=lay["env"])


@pytest.mark.slow
def test_practitioner_runs_every_command_on_the_service_database(layout):
    L = layout
    # The service starts first and creates the database.
    r = as_(L, "service", "--once", prog=NUDGED)
    assert r.returncode == 0, r.stderr
    st = os.stat(L["db"])
    assert st.st_uid == L["service"]["uid"] and st.st_gid == L["gid"]
    assert mode(L["db"]) == 0o660

    def ok(*args, codes=(0,)):
        r = as_(L, "practitioner", *args)
        assert r.returncode in codes, (args, r.returncode, r.stderr)
        assert "readonly" not in r.stderr and "ermission" not in r.stderr, \
            (args, r.stderr)
        return r.stdout

    ok("init")
    ok("client", "add", "--name", "Sam Taylor", "--email", "sam@example.org")
    ok("client", "add", "--name", "Alex Morgan", "--email", "alex@example.org")
    ok("client", "add", "--name", "Typo Person", "--email", "t@example.org")
    ok("client", "list")
    ok("client", "show", "1")
    ok("client", "edit", "1", "--first-name", "Sammy")
    ok("client", "opt-out", "2")
    ok("client", "opt-in", "2")
    ok("client", "delete", "3")
    ok("case", "add", "--label", "Sam & Alex", "--client", "1", "--client", "2")
    ok("case", "list")
    ok("book", "--case", "1", "--at", "2099-03-03 14:00")
    ok("book", "--case", "1", "--at", "2099-03-10 14:00")
    ok("appointments")
    ok("move", "2", "--to", "2099-03-11 15:00")
    ok("cancel", "2")
    ok("homework", "add", "--case", "1", "--title", "Pause",
       "--prompt", "Breathe.", "--starts-on", "2099-03-04")
    ok("homework", "list")
    ok("homework", "stop", "1")
    ok("upcoming", "--now", "2099-03-01T10:00:00Z", "--days", "3")
    ok("outbox")
    ok("outbox", "--status", "pending", "--client", "1")
    ok("status", codes=(0, 1))
    ok("problems")
    ok("report", "--week")
    ok("send-test", "--to", "christian@example.org", codes=(75,))
    ok("case", "close", "1", "--cancel-future")
    ok("case", "reopen", "1")
    # The service goes on writing the same files.
    r = as_(L, "service", "--once", prog=NUDGED)
    assert r.returncode in (0, 75), r.stderr
    for f in glob.glob(L["db"] + "*"):
        if f.endswith(".lock"):
            continue
        assert os.stat(f).st_gid == L["gid"], f
        assert mode(f) == 0o660, (f, oct(mode(f)))


def test_permission_problem_names_the_file(layout):
    L = layout
    assert as_(L, "service", "init").returncode == 0
    os.chmod(L["db"], 0o640)            # as SQLite alone would leave it
    r = as_(L, "practitioner", "client", "add", "--name", "Sam Taylor",
            "--email", "sam@example.org")
    assert r.returncode == 74, r.stderr
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1, r.stderr
    assert "permission problem" in line and L["db"] in line, line
    assert "readonly" not in line
    assert f"user {PRACTITIONER} cannot write" in line, line
    # Someone outside group nudged cannot even enter the folder.
    os.chmod(L["db"], 0o660)
    os.chmod(os.path.dirname(L["conf"]), 0o755)
    os.chmod(L["conf"], 0o644)
    r = as_(L, "outsider", "client", "list")
    assert r.returncode == 74
    assert "permission problem" in r.stderr and L["state"] in r.stderr, \
        r.stderr


def test_init_as_root_gives_the_new_folder_to_nudged(layout):
    L = layout
    os.rmdir(L["state"])
    init = run([CTL, "-c", L["conf"], "init"], env=L["env"])
    assert init.returncode == 0, init.stderr
    assert init.stdout.count(f"folder {L['state']} created") == 1
    st = os.stat(L["state"])
    assert st.st_uid == L["service"]["uid"] and st.st_gid == L["gid"]
    assert stat.S_IMODE(st.st_mode) == 0o2770
    db = os.stat(L["db"])
    assert (db.st_uid, db.st_gid) == (L["service"]["uid"], L["gid"])
    assert mode(L["db"]) == 0o660
    # The service takes over from there, and the practitioner too.
    r = as_(L, "service", "--once", prog=NUDGED)
    assert r.returncode == 0 and "wrong mode" not in r.stderr, r.stderr
    r = as_(L, "practitioner", "client", "add", "--name", "Sam Taylor",
            "--email", "sam@example.org")
    assert r.returncode == 0, r.stderr
