#!/usr/bin/env python3
"""The import graph of a crate's modules, and its cycles.

Usage: tools/import-cycles.py [crates/psi-server/src] [--max N]

Each .rs file is a node; an edge goes from a file to every module file its `crate::`,
`super::` and `self::` paths name (the deepest module that exists). Prints the strongly
connected components of more than one file, largest first; with --max N, exits 1 when one has
more than N files. A file's `#[cfg(test)] mod tests` is left out: tests may reach any layer.
"""
import os
import re
import sys

args = [a for a in sys.argv[1:] if not a.startswith("--")]
root = args[0] if args else "crates/psi-server/src"
limit = None
if "--max" in sys.argv:
    limit = int(sys.argv[sys.argv.index("--max") + 1])

modules = {}  # module path tuple -> file
for dirpath, _, files in os.walk(root):
    for name in files:
        if not name.endswith(".rs"):
            continue
        path = os.path.join(dirpath, name)
        rel = os.path.relpath(path, root)[:-3].split(os.sep)
        if rel[-1] in ("mod", "lib", "main"):
            rel = rel[:-1]
        modules[tuple(rel)] = path

def resolve(parts):
    for n in range(len(parts), 0, -1):
        if tuple(parts[:n]) in modules:
            return tuple(parts[:n])
    return None

PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+|::\{)")
USE_GROUP = re.compile(r"\buse\s+(crate|super|self)::((?:[A-Za-z_][A-Za-z0-9_]*::)*)\{([^;]*)\};", re.S)

def strip_comments(text):
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    # Unit tests close a file by convention; drop from their attribute to the end.
    return re.split(r"#\[cfg\(test\)\](?:\s*#\[[^\]]*\])*\s*mod tests", text)[0]

edges = {m: set() for m in modules}
for module, path in modules.items():
    text = strip_comments(open(path).read())
    is_mod = os.path.basename(path) in ("mod.rs", "lib.rs", "main.rs")
    base = list(module) if is_mod else list(module[:-1]) + [module[-1]]
    def absolute(head, tail):
        if head == "crate":
            return tail
        if head == "self":
            return list(module) + tail
        # `super` from a file is its parent module.
        parent = list(module[:-1])
        while tail and tail[0] == "super":
            parent = parent[:-1]
            tail = tail[1:]
        return parent + tail
    targets = []
    for head, prefix, group in USE_GROUP.findall(text):
        prefix_parts = [p for p in prefix.split("::") if p]
        for item in re.split(r",(?![^{]*\})", group):
            item = item.strip()
            if not item:
                continue
            first = re.split(r"::|\s", item)[0]
            if first in ("self", ""):
                targets.append(absolute(head, prefix_parts))
            else:
                targets.append(absolute(head, prefix_parts + [p for p in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", item.split("{")[0]) if p != "as"][:1] + []))
                # nested paths like a::b::{c, d}
                inner = item.split("{")[0].split("::")
                targets.append(absolute(head, prefix_parts + [p.strip() for p in inner if p.strip() and p.strip() != "self"]))
    for head, rest in PATH.findall(text):
        tail = [p for p in rest.split("::") if p and p != "{"]
        targets.append(absolute(head, tail))
    for target in targets:
        found = resolve(target)
        if found is not None and found != module and found != ():
            edges[module].add(found)

# Tarjan's strongly connected components.
index, low, on, stack, sccs = {}, {}, set(), [], []
counter = [0]
sys.setrecursionlimit(10000)
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        scc = []
        while True:
            w = stack.pop(); on.discard(w); scc.append(w)
            if w == v:
                break
        sccs.append(scc)
for v in modules:
    if v not in index:
        visit(v)

cycles = sorted((s for s in sccs if len(s) > 1), key=len, reverse=True)
for scc in cycles:
    print(f"{len(scc)} files: " + ", ".join(sorted(modules[m][len(root) + 1:] for m in scc)))
largest = len(cycles[0]) if cycles else 1
print(f"largest cycle: {largest} files ({len(modules)} files in all)")
if limit is not None and largest > limit:
    sys.exit(1)
