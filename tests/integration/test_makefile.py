"""The first `make demo` on a machine without the -dev packages.

`make deps` installs them during the run; the flags pkg-config gives must
be read after that, not when make first read the Makefile (issue 8, point
1).  Simulated without touching the machine: a copy of the tree, and on
PATH a pkg-config that knows nothing until a fake apt-get has "installed"
the packages, a dpkg-query that says they are missing until then, and an
`id` that says root.  The real build then has to link on that first run.
"""

import os
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

FAKES = {
    # Knows the libraries only once apt-get ran.
    "pkg-config": '[ -e "$STAMP" ] || exit 1\nexec {real} "$@"\n',
    "dpkg-query": '[ -e "$STAMP" ] || exit 1\nprintf "install ok installed"\n',
    "apt-get": 'echo "fake apt-get $*"\ntouch "$STAMP"\n',
    "id": 'if [ "$1" = -u ]; then echo 0; else exec {id} "$@"; fi\n',
}


@pytest.mark.slow
def test_first_demo_run_installs_deps_then_links(tmp_path):
    real = shutil.which("pkg-config")
    if real is None or shutil.which("make") is None:
        pytest.skip("pkg-config and make are needed")
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(os.path.join(ROOT, "Makefile"), tree / "Makefile")
    shutil.copytree(os.path.join(ROOT, "src"), tree / "src")
    # The objects of the tree's own build, when there is one (make check
    # builds it first), with their times: only one file is compiled again
    # (through the flags read after the install), then everything links.
    # Compiling the whole tree again took half a minute of CPU.
    objs = os.path.join(ROOT, "build", "obj")
    if os.path.isdir(objs):
        shutil.copytree(objs, tree / "build" / "obj",
                        ignore=lambda d, names: [n for n in names if not (
                            n.endswith((".o", ".d")) or
                            os.path.isdir(os.path.join(d, n)))])
        (tree / "src" / "cmd" / "main.c").touch()
    fake = tmp_path / "bin"
    fake.mkdir()
    for name, body in FAKES.items():
        p = fake / name
        p.write_text("#!/bin/sh\n" + body.format(real=real,
                                                  id=shutil.which("id")))
        p.chmod(0o755)
    env = dict(os.environ, PATH=f"{fake}:{os.environ['PATH']}",
               STAMP=str(tmp_path / "installed"))
    env.pop("MAKEFLAGS", None)
    env.pop("MAKELEVEL", None)
    r = subprocess.run(["make", "-j2", "demo", "PYTHON=true", "CFLAGS=-O0"],
                       cwd=tree, env=env, capture_output=True, text=True,
                       timeout=600)
    assert "make deps: installing" in r.stdout, r.stdout
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert os.access(tree / "build" / "nudgectl", os.X_OK)
    assert os.access(tree / "build" / "nudged", os.X_OK)
    # the one compiled on this run read the flags after the install too
    assert "-c -o build/obj/cmd/main.o src/cmd/main.c" in r.stdout, r.stdout


@pytest.mark.parametrize("b", ["build", "build-asan", "build-clang",
                               "build/fuzz"])
def test_a_header_change_rebuilds_every_build(b):
    """make check builds four trees (build, build-asan, build-clang with B=
    on the command line, and the fuzz targets'); each must see its objects' header
    dependencies, or a header-only change leaves stale objects that link
    against a function the header now defines inline.  make -n -W: what
    would be rebuilt if src/base/utf8.h were new."""
    if not os.path.exists(os.path.join(ROOT, b, "obj", "base", "ics.d")):
        pytest.skip(f"{b} is not built here")
    r = subprocess.run(["make", "-n", "-W", "src/base/utf8.h", f"B={b}",
                        "MAKEFLAGS=", f"{b}/obj/base/ics.o"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert f"-o {b}/obj/base/ics.o" in r.stdout, r.stdout
