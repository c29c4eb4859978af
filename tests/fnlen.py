#!/usr/bin/python3
"""make fnlen: no function in src/ longer than 60 lines without a reason.

A function's length is the lines from its opening brace to its closing
one (both in column 0, as STYLE.md writes them).  A longer one passes
only with a comment  /* long: <reason> */  on the line just before its
definition (above the return type), saying why splitting it would hurt.

ALLOW below lists the long functions not yet split, each with its
reason; the check fails when an entry is no longer needed, so the list
only shrinks.

  tests/fnlen.py [src] [--list]    --list: every function over the limit
Exit 1 with one line per finding (file:line: what), 0 when clean.
"""
import os
import re
import sys

LIMIT = 60
MARK = re.compile(r"/\*\s*long:\s*\S.*\*/")
NAME = re.compile(r"^([A-Za-z_]\w*)\s*\(")

# (file, function) -> why it is still long.  Files others were editing
# while the rest was split (issue 11); the coordinator splits them after
# merging.
BUSY = "being edited in parallel (issue 11): split after the merge"
ALLOW = {
    ("cmd/daemon.c", "daemon_run"): BUSY,
    ("engine/deliver.c", "dl_plan"): BUSY,
}


def functions(path):
    """(name, first line of the definition, length, marked) per function."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    out = []
    i = 0
    while i < len(lines):
        if lines[i] != "{":
            i += 1
            continue
        # the name: the nearest line above in column 0 that opens a (
        j = i - 1
        while j >= 0 and not NAME.match(lines[j]):
            j -= 1
        name = NAME.match(lines[j]).group(1) if j >= 0 else "?"
        # the return type sits on the line above the name (STYLE.md)
        start = j - 1 if j > 0 and lines[j - 1].strip() and \
            not lines[j - 1].rstrip().endswith(("*/", ";", "}")) else j
        marked = start > 0 and bool(MARK.search(lines[start - 1]))
        k = i + 1
        while k < len(lines) and lines[k] != "}":
            k += 1
        out.append((name, start + 1, k - i + 1, marked))
        i = k + 1
    return out


def main(root, listing=False):
    problems, used = [], set()
    for layer in sorted(os.listdir(root)):
        d = os.path.join(root, layer)
        if not os.path.isdir(d):
            continue
        for fname in sorted(os.listdir(d)):
            if not fname.endswith(".c"):
                continue
            rel = f"{layer}/{fname}"
            for name, line, n, marked in functions(os.path.join(d, fname)):
                if n <= LIMIT:
                    continue
                if listing:
                    print(f"{n:4d} {rel}:{line}: {name}"
                          f"{' (long: marked)' if marked else ''}")
                if marked:
                    continue
                if (rel, name) in ALLOW:
                    used.add((rel, name))
                    continue
                problems.append(f"{rel}:{line}: {name} is {n} lines (over "
                                f"{LIMIT}): split it, or say why not with "
                                f"/* long: <reason> */ above it")
    for key in sorted(set(ALLOW) - used):
        if not os.path.exists(os.path.join(root, key[0])):
            continue    # another tree (the check's own tests)
        problems.append(f"{key[0]}: allowlist entry {key[1]} is no longer "
                        f"needed; remove it")
    for p in problems:
        print(f"fnlen: {p}", file=sys.stderr)
    if not problems and not listing:
        print(f"fnlen: no function over {LIMIT} lines without a reason")
    return 1 if problems else 0


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--list"]
    sys.exit(main(args[0] if args else "src", "--list" in sys.argv))
