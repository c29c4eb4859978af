#!/usr/bin/python3
"""make layers: the include rules of src/README, checked.

  - an #include "dir/x.h" only points down the layers (or stays in its own
    folder); store/, policy/ and transport/ never include each other;
  - no two modules include each other, directly or round a longer circle
    (a module is a file name without .c/.h: a.c using b.h and b.c using a.h
    is a circle, in one folder or across);
  - <sqlite3.h> only in store/, <curl/curl.h> only in transport/;
  - no logging call (log_err/warn/info/debug) in policy/: it returns
    reasons (log_scrub and log_mask only format text, and are allowed);
  - given the object folder (build/obj), the same direction and no circles
    over function calls, read from the objects' symbols (nm).

Exit 1 with one line per finding (file: what), 0 when clean.
"""
import os
import re
import sys

RANK = {"base": 0, "model": 1, "conf": 2,
        "store": 3, "policy": 3, "transport": 3,
        "engine": 4, "cmd": 5}
SYSTEM_ONLY = {"sqlite3.h": "store", "curl/curl.h": "transport"}

# Temporary exceptions: (file, what) -> why.  Each one is a debt with its
# reason; the check fails when an entry is no longer needed, so the list
# only shrinks.
ALLOW = {
}

INC = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
LOGCALL = re.compile(r'\blog_(?:warn|warnx|info|debug|err|crit|notice)\w*\s*\(')


def module(rel):
    """layer/x for layer/x.c, layer/x.h and layer/x_int.h (x's private header)."""
    stem = rel.rsplit(".", 1)[0]
    return stem[:-4] if stem.endswith("_int") else stem


def call_graph(objdir):
    """module -> modules whose functions it calls, from the objects' symbols."""
    import subprocess
    defined, undef = {}, {}
    objs = {}
    for layer in RANK:
        d = os.path.join(objdir, layer)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            if name.endswith(".o"):
                objs[os.path.join(d, name)] = f"{layer}/{name[:-2]}"
    # one nm for all the objects (-A: each line names its file): a process
    # per object cost seconds of `make check`
    out = subprocess.run(["nm", "-A"] + sorted(objs), check=True,
                         capture_output=True, text=True).stdout if objs else ""
    for line in out.splitlines():
        path, _, rest = line.partition(":")
        mod = objs.get(path)
        parts = rest.split()
        if mod is None:
            continue
        if len(parts) == 2 and parts[0] == "U":
            undef.setdefault(mod, set()).add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBR":
            defined[parts[2]] = mod
    graph = {}
    for mod, syms in undef.items():
        graph[mod] = {defined[s] for s in syms if s in defined and defined[s] != mod}
    return graph


def circles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, comps, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return comps


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def main(root, objdir=None):
    problems = []
    used = set()

    def bad(path, what, why):
        key = (path, what)
        if key in ALLOW:
            used.add(key)
            return
        problems.append(f"{path}: {why}")

    files = {}
    for layer in sorted(os.listdir(root)):
        d = os.path.join(root, layer)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if name.endswith((".c", ".h")):
                rel = f"{layer}/{name}"
                if layer not in RANK:
                    problems.append(f"{rel}: folder {layer}/ is not a layer")
                    continue
                with open(os.path.join(d, name), encoding="utf-8") as f:
                    files[rel] = strip_comments(f.read())
    for name in os.listdir(root):
        if name.endswith((".c", ".h")):
            problems.append(f"{name}: outside the layer folders")

    # module graph: "layer/stem" -> set of "layer/stem" whose header it includes
    graph = {}
    for rel, text in files.items():
        layer = rel.split("/")[0]
        mod = module(rel)
        graph.setdefault(mod, set())
        for kind, inc in INC.findall(text):
            if kind == "<":
                owner = SYSTEM_ONLY.get(inc)
                if owner and layer != owner:
                    bad(rel, inc, f"includes <{inc}> (only {owner}/ may)")
                continue
            if "/" not in inc:
                bad(rel, inc, f'includes "{inc}" without its layer folder')
                continue
            tlayer = inc.split("/")[0]
            if f"{inc}" not in files:
                problems.append(f'{rel}: includes "{inc}", which does not exist')
                continue
            if tlayer != layer and RANK[tlayer] >= RANK[layer]:
                bad(rel, inc, f'includes "{inc}": {layer}/ may not use {tlayer}/')
            tmod = module(inc)
            if tmod != mod:
                graph[mod].add(tmod)
        if layer == "policy" and LOGCALL.search(text):
            bad(rel, "log_", "calls log_* (policy returns reasons; the engine logs)")

    for comp in circles(graph):
        bad(comp[0], "circle:" + " ".join(comp),
            "modules include each other in a circle: " + " -> ".join(comp))
    # The same over calls, when the objects are there: a .c calling into a
    # module that calls back is a circle even through a shared header.
    if objdir:
        cg = call_graph(objdir)
        for comp in circles(cg):
            bad(comp[0], "calls:" + " ".join(comp),
                "modules call each other in a circle: " + " -> ".join(comp))
        for mod, targets in cg.items():
            for t in targets:
                ml, tl = mod.split("/")[0], t.split("/")[0]
                if ml != tl and RANK[tl] >= RANK[ml]:
                    bad(mod + ".c", "call:" + t, f"calls into {t}.c: {ml}/ may not use {tl}/")

    for key in sorted(set(ALLOW) - used):
        if objdir is None and key[1].startswith("call"):
            continue    # the call graph was not read
        problems.append(f"{key[0]}: allowlist entry {key[1]!r} is no longer needed; remove it")

    for p in problems:
        print(f"layers: {p}", file=sys.stderr)
    if not problems:
        print(f"layers: {len(files)} files, {sum(map(len, graph.values()))} module edges, clean")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "src",
                  sys.argv[2] if len(sys.argv) > 2 else None))
