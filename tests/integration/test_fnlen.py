"""tests/fnlen.py (run by make layers): a function over 60 lines fails the
check unless a /* long: <reason> */ comment stands above it."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FNLEN = os.path.join(HERE, "..", "fnlen.py")


def func(name, body_lines, mark=None):
    lines = ["/* what it does */"] if mark is None else [mark]
    lines += ["static int", f"{name}(void)", "{"]
    lines += ["\tx++;"] * body_lines
    lines += ["\treturn 0;", "}", ""]
    return "\n".join(lines)


def run(tmp_path, text):
    d = tmp_path / "src" / "base"
    d.mkdir(parents=True)
    (d / "a.c").write_text(text)
    r = subprocess.run([sys.executable, FNLEN, str(tmp_path / "src")],
                       capture_output=True, text=True)
    return r


def test_sixty_lines_pass(tmp_path):
    # { + 57 statements + return + } = 60 lines
    r = run(tmp_path, func("short_enough", 57))
    assert r.returncode == 0, r.stderr


def test_sixty_one_lines_fail_with_file_line_and_name(tmp_path):
    r = run(tmp_path, func("too_long", 58))
    assert r.returncode == 1
    assert "base/a.c:2: too_long is 61 lines" in r.stderr, r.stderr


def test_a_reason_lets_it_pass(tmp_path):
    r = run(tmp_path, func("table", 80, "/* long: one line per field */"))
    assert r.returncode == 0, r.stderr


def test_the_tree_is_clean():
    r = subprocess.run([sys.executable, FNLEN, os.path.join(HERE, "..", "..",
                                                            "src")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
