"""nudged-db(5) against the schema nudgectl init creates (issue 10): every
table and column of the database is documented, and every documented one
exists.  The page lists a table as ".SS name" and a column as ".B name"
inside it."""

import os
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
PAGE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "man", "nudged-db.5")

# Documented ahead of a schema version that adds them: (table, column), or
# (table, None) for a whole table.  Empty while the page and the schema
# agree; once a migration adds them they are checked like the rest.
LATER = set()


def documented():
    tables, cur = {}, None
    with open(PAGE, encoding="utf-8") as f:
        for line in f:
            if line.startswith(".SH"):
                cur = None
            m = re.match(r"\.SS (\w+)\s*$", line)
            if m:
                cur = tables.setdefault(m.group(1), set())
                continue
            m = re.match(r"\.B (\w+)\s*$", line)
            if m and cur is not None:
                cur.add(m.group(1))
    return tables


def actual(practice):
    names = [r["name"] for r in practice.query(
        "SELECT name FROM sqlite_master WHERE type = 'table'"
        " AND name NOT LIKE 'sqlite_%'")]
    return {t: {c["name"] for c in practice.query(f"PRAGMA table_info({t})")}
            for t in names}


def test_man_page_matches_schema(ready):
    doc, db = documented(), actual(ready)
    later_tables = {t for t, c in LATER if c is None}
    for t, cols in db.items():
        assert t in doc, f"table {t} is not in nudged-db(5)"
        assert cols - doc[t] == set(), f"{t}: undocumented columns {cols - doc[t]}"
    for t, cols in doc.items():
        if t not in db:
            assert t in later_tables, f"nudged-db(5) documents a table {t} " \
                "that does not exist"
            continue
        extra = {c for c in cols - db[t] if (t, c) not in LATER}
        assert extra == set(), f"{t}: documented columns that do not exist: {extra}"


def test_man_page_renders_cleanly():
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", PAGE],
                       capture_output=True, text=True)
    if r.returncode == 127:
        return
    assert r.stderr == "", r.stderr
