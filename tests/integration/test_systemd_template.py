"""systemd/nudged@.service: one nudged per practice (issue 12, item 5).

The template must be valid for systemd (checked on an instance,
nudged@hughes.service, as systemctl would load it), as hardened as
nudged.service (the same keys and values, apart from the few that name
the instance), with the instance's config, state and secrets, and
installed by `make install`.
"""

import os
import subprocess

import pytest

from conftest import NUDGED, ROOT
from test_systemd_unit import (ANALYZE, INSTALLED_PATH, MAX_EXPOSURE, analyze,
                               exposure, needs_analyze, one, parse_unit, problems,
                               unit_text)

TEMPLATE = os.path.join(ROOT, "systemd", "nudged@.service")

# Keys that differ between the two units, and what the template says.
PER_INSTANCE = {
    ("Unit", "Description"): "nudged appointment reminders for %i",
    ("Unit", "OnFailure"): "nudged-failed@%i.service",
    ("Service", "ExecStart"): f"{INSTALLED_PATH} -c /etc/nudged/%i.conf",
    ("Service", "StateDirectory"): "nudged/%i",
    ("Service", "LoadCredential"): "smtp-password:/etc/nudged/%i.smtp-password",
}


def template_text():
    with open(TEMPLATE) as f:
        return f.read()


def instance(tmp_path, edit=None):
    """The template in tmp_path, pointing at the built nudged; returns the
    path of an instance of it (which systemd finds through the template)."""
    text = template_text()
    assert INSTALLED_PATH in text
    assert os.access(NUDGED, os.X_OK), f"{NUDGED} is missing: run `make`"
    text = text.replace(INSTALLED_PATH, NUDGED)
    if edit:
        text = edit(text)
    (tmp_path / "nudged@.service").write_text(text)
    return tmp_path / "nudged@hughes.service"


@needs_analyze
def test_template_verify_is_clean(tmp_path):
    r = analyze("verify", "--man=no", str(instance(tmp_path)))
    assert r.returncode == 0, r.stdout + r.stderr
    assert problems(r) == [], r.stdout + r.stderr


@needs_analyze
def test_template_verify_catches_a_mistake(tmp_path):
    r = analyze("verify", "--man=no", str(instance(
        tmp_path, lambda t: t.replace("ProtectHome=", "ProtectHomme=", 1))))
    assert "Unknown key" in r.stdout + r.stderr
    assert problems(r)


@needs_analyze
def test_template_security_exposure(tmp_path, measurement):
    r = analyze("security", "--offline=true", str(instance(tmp_path)))
    assert r.returncode == 0, r.stdout + r.stderr
    level = exposure(r)
    measurement(f"systemd-analyze security nudged@hughes: overall exposure {level}")
    assert level <= MAX_EXPOSURE, r.stdout


def differences(unit, tmpl):
    """{(section, key): (unit's values, template's values)} where they differ."""
    out = {}
    for sec in set(unit) | set(tmpl):
        a, b = unit.get(sec, {}), tmpl.get(sec, {})
        for k in set(a) | set(b):
            if a.get(k) != b.get(k):
                out[(sec, k)] = (a.get(k), b.get(k))
    return out


def test_template_is_the_unit_per_instance():
    """Everything but the instance's names is nudged.service's, so the
    hardening of the two cannot drift apart."""
    diff = differences(parse_unit(unit_text()), parse_unit(template_text()))
    assert set(diff) == set(PER_INSTANCE), diff
    tmpl = parse_unit(template_text())
    for (sec, key), want in PER_INSTANCE.items():
        assert one(tmpl[sec], key) == want, (sec, key)


@pytest.mark.parametrize("edit", [
    lambda t: t.replace("PrivateTmp=yes", "PrivateTmp=no"),
    lambda t: t.replace("StateDirectory=nudged/%i", "StateDirectory=nudged"),
    lambda t: t.replace("/etc/nudged/%i.conf", "/etc/nudged/nudged.conf"),
])
def test_template_check_can_fail(edit):
    tmpl = parse_unit(edit(template_text()))
    diff = differences(parse_unit(unit_text()), tmpl)
    with pytest.raises(AssertionError):
        assert set(diff) == set(PER_INSTANCE)
        for (sec, key), want in PER_INSTANCE.items():
            assert one(tmpl[sec], key) == want


def test_make_install_installs_the_template(tmp_path):
    build = os.path.join(ROOT, "build")
    if not all(os.access(os.path.join(build, p), os.X_OK) for p in ("nudged", "nudgectl")):
        pytest.skip("build/ not built (make install copies it)")
    dest = tmp_path / "dest"
    # -o all: install what is built, never rebuild from inside a test.
    r = subprocess.run(["make", "-s", "-o", "all", "install", f"DESTDIR={dest}",
                        "PREFIX=/opt/nd", "SYSCONFDIR=/etc/nd",
                        "UNITDIR=/lib/systemd/system"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    u = parse_unit((dest / "lib/systemd/system/nudged@.service").read_text())
    svc = u["Service"]
    assert one(svc, "ExecStart") == "/opt/nd/sbin/nudged -c /etc/nd/nudged/%i.conf"
    assert one(svc, "LoadCredential") == "smtp-password:/etc/nd/nudged/%i.smtp-password"
    assert one(svc, "StateDirectory") == "nudged/%i"
    assert (dest / "lib/systemd/system/nudged.service").exists()


@needs_analyze
def test_failed_template_verifies(tmp_path):
    """The instance's OnFailure= mail: nudged-failed@.service, with the
    instance's config, state and secret."""
    from conftest import NUDGECTL
    text = open(os.path.join(ROOT, "systemd", "nudged-failed@.service")).read()
    assert "-c /etc/nudged/%i.conf alert --service-failed" in text
    assert "StateDirectory=nudged/%i" in text
    assert "smtp-password:/etc/nudged/%i.smtp-password" in text
    (tmp_path / "nudged-failed@.service").write_text(
        text.replace("/usr/local/bin/nudgectl", NUDGECTL))
    r = analyze("verify", "--man=no", str(tmp_path / "nudged-failed@hughes.service"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert problems(r) == [], r.stdout + r.stderr
