"""systemd/nudged.service: valid for systemd, hardened, with what the issue asks.

systemd-analyze verify exits 0 even on a misspelt key (it only logs
"Unknown key name ..."), so its output is checked too, and a deliberately
misspelt copy proves that check catches one.  ExecStart must name an
existing binary for verify, so the copies under test point it at the
built nudged.
"""

import os
import re
import shutil
import subprocess

import pytest

from conftest import NUDGED, ROOT

ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
UNIT = os.path.join(ROOT, "systemd", "nudged.service")
INSTALLED_PATH = "/usr/local/sbin/nudged"
MAX_EXPOSURE = 2.0
BAD_WORDS = ("Unknown key", "Unknown section", "Failed", "Invalid", "ignoring")

needs_analyze = pytest.mark.skipif(
    not os.access(ANALYZE, os.X_OK),
    reason=f"{ANALYZE} is absent (Debian package systemd); cannot check the unit")


def unit_text():
    with open(UNIT) as f:
        return f.read()


def copy_unit(tmp_path, edit=None, name="nudged.service"):
    text = unit_text()
    assert INSTALLED_PATH in text, f"ExecStart no longer names {INSTALLED_PATH}"
    assert os.access(NUDGED, os.X_OK), f"{NUDGED} is missing: run `make`"
    text = text.replace(INSTALLED_PATH, NUDGED)
    if edit:
        text = edit(text)
    path = tmp_path / name
    path.write_text(text)
    return path


def analyze(*args):
    return subprocess.run([ANALYZE, *args], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def problems(r):
    out = r.stdout + r.stderr
    return [line for line in out.splitlines()
            if any(w.lower() in line.lower() for w in BAD_WORDS)]


# ---------------------------------------------------------------------------
# systemd-analyze verify

@needs_analyze
def test_verify_is_clean(tmp_path):
    r = analyze("verify", "--man=no", str(copy_unit(tmp_path)))
    assert r.returncode == 0, r.stdout + r.stderr
    assert problems(r) == [], r.stdout + r.stderr


@needs_analyze
@pytest.mark.parametrize("edit,expect", [
    (lambda t: t.replace("ProtectHome=", "ProtectHomme=", 1), "Unknown key"),
    (lambda t: t.replace("NoNewPrivileges=", "NoNewPrivilege=", 1), "Unknown key"),
    (lambda t: t + "\n[Servise]\nUser=nudged\n", "Unknown section"),
])
def test_verify_check_catches_mistakes(tmp_path, edit, expect):
    """The check above can fail: verify exits 0 on these, its output does not."""
    r = analyze("verify", "--man=no", str(copy_unit(tmp_path, edit)))
    out = r.stdout + r.stderr
    assert expect in out, out
    assert problems(r), out


# ---------------------------------------------------------------------------
# systemd-analyze security

def exposure(r):
    m = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", r.stdout + r.stderr)
    assert m, "no overall exposure level in:\n" + r.stdout + r.stderr
    return float(m.group(1))


@needs_analyze
def test_security_exposure(tmp_path, measurement):
    r = analyze("security", "--offline=true", str(copy_unit(tmp_path)))
    assert r.returncode == 0, r.stdout + r.stderr
    level = exposure(r)
    print(f"\nsystemd-analyze security: overall exposure {level}")
    measurement(f"systemd-analyze security: overall exposure {level} "
                f"(at most {MAX_EXPOSURE})")
    assert level <= MAX_EXPOSURE, r.stdout


@needs_analyze
def test_security_check_can_fail(tmp_path):
    """A unit stripped of its sandboxing scores far worse: the parse is real."""
    def strip(text):
        head, _, _ = text.partition("# Sandboxing")
        head = re.sub(r"(?m)^(User|Group|UMask|DynamicUser)=.*\n", "", head)
        return head + "\n[Install]\nWantedBy=multi-user.target\n"

    r = analyze("security", "--offline=true", str(copy_unit(tmp_path, strip)))
    assert exposure(r) > MAX_EXPOSURE, r.stdout


# ---------------------------------------------------------------------------
# the keys the issue requires

def parse_unit(text):
    """{section: {key: [values in order]}}; continuation lines joined."""
    units, section = {}, None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        while line.endswith("\\") and i < len(lines):
            line = line[:-1] + " " + lines[i].strip()
            i += 1
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = units.setdefault(line[1:-1], {})
            continue
        assert section is not None and "=" in line, f"stray line {line!r}"
        k, _, v = line.partition("=")
        section.setdefault(k.strip(), []).append(v.strip())
    return units


YES = ("yes", "true", "1", "on")


def one(sec, key):
    assert key in sec, f"{key}= is missing"
    return sec[key][-1]


def words(sec, key):
    assert key in sec, f"{key}= is missing"
    out = []
    for v in sec[key]:
        if v == "":
            out = []          # an empty assignment resets a list
        else:
            out.extend(v.split())
    return out


def check_required(text):
    u = parse_unit(text)
    unit, svc = u["Unit"], u["Service"]
    assert "Install" in u and "multi-user.target" in words(u["Install"], "WantedBy")

    assert {"network-online.target", "time-sync.target"} <= set(words(unit, "After"))
    assert "network-online.target" in words(unit, "Wants")

    assert one(svc, "Type") == "notify"
    assert one(svc, "ExecStart").split()[0] == INSTALLED_PATH
    assert (one(svc, "DynamicUser").lower() in YES if "DynamicUser" in svc
            else one(svc, "User") and one(svc, "Group")), "no User/Group/DynamicUser"
    if "User" in svc:
        assert one(svc, "User") not in ("root", "0")
    assert "nudged" in words(svc, "StateDirectory")
    assert "nudged" in words(svc, "ConfigurationDirectory")
    creds = [v.split(":", 1)[0] for v in svc.get("LoadCredential", [])]
    assert "smtp-password" in creds, svc.get("LoadCredential")
    assert one(svc, "Restart") == "on-failure"
    assert {"64", "78"} <= set(words(svc, "RestartPreventExitStatus"))
    wd = one(svc, "WatchdogSec")
    assert wd and wd not in ("0", "infinity"), wd

    assert one(svc, "ProtectSystem") == "strict"
    assert one(svc, "ProtectHome").lower() in YES + ("read-only", "tmpfs")
    assert one(svc, "PrivateTmp").lower() in YES
    assert one(svc, "NoNewPrivileges").lower() in YES
    assert sorted(words(svc, "RestrictAddressFamilies")) == \
        ["AF_INET", "AF_INET6", "AF_UNIX"]
    filters = words(svc, "SystemCallFilter")
    assert "@system-service" in filters, filters
    assert svc.get("CapabilityBoundingSet") is not None, "CapabilityBoundingSet= is missing"
    assert words(svc, "CapabilityBoundingSet") == [], "capabilities are left"
    assert one(svc, "MemoryDenyWriteExecute").lower() in YES
    assert one(svc, "LimitCORE") == "0"
    assert one(svc, "ProtectProc") == "invisible"


def test_unit_has_required_keys():
    check_required(unit_text())


@pytest.mark.parametrize("pattern,repl", [
    (r"(?m)^Type=notify$", "Type=simple"),
    (r"(?m)^ProtectProc=invisible$", "ProtectProc=default"),
    (r"(?m)^LimitCORE=.*\n", ""),
    (r"(?m)^RestrictAddressFamilies=.*$", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK"),
    (r"(?m)^CapabilityBoundingSet=$", "CapabilityBoundingSet=CAP_NET_RAW"),
    (r"(?m)^RestartPreventExitStatus=.*$", "RestartPreventExitStatus=64"),
    (r"(?m)^After=.*$", "After=network.target"),
    (r"(?m)^LoadCredential=smtp-password:.*\n", ""),
])
def test_unit_key_check_can_fail(pattern, repl):
    """The checker rejects a unit with any one requirement broken."""
    text, n = re.subn(pattern, repl, unit_text())
    assert n >= 1, f"{pattern} not in the unit"
    with pytest.raises(AssertionError):
        check_required(text)
