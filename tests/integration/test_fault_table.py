"""The fault table in tests/README.md names the test that holds each row:
every one of them must exist, so the table cannot drift from the suite."""

import os
import re

from conftest import ROOT

README = os.path.join(ROOT, "tests", "README.md")
REF = re.compile(r"`(tests/[\w./-]+?)(::|:)(\w+)`")


def table_refs():
    with open(README) as f:
        text = f.read()
    table = text[text.index("## Fault table"):]
    rows = [l for l in table.splitlines() if l.startswith("| ") and "---" not in l]
    return rows[1:], [REF.findall(r) for r in rows[1:]]


def defines(path, sep, name):
    with open(os.path.join(ROOT, path), errors="replace") as f:
        src = f.read()
    if sep == "::":         # pytest: a test function
        return re.search(rf"^def {name}\(", src, re.M) is not None
    # C: a function definition (cmocka test or fuzz entry point)
    return re.search(rf"^{name}\(", src, re.M) is not None


def test_every_row_names_a_test():
    rows, refs = table_refs()
    assert len(rows) >= 20
    missing = [r for r, found in zip(rows, refs) if not found]
    assert not missing, missing


def test_every_named_test_exists():
    _, refs = table_refs()
    gone = [f"{p}{s}{n}" for found in refs for p, s, n in found
            if not os.path.exists(os.path.join(ROOT, p)) or not defines(p, s, n)]
    assert not gone, f"tests/README.md names tests that do not exist: {gone}"
