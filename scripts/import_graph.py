"""The package's internal import graph: cycles between modules and between layers (subpackages).

    python scripts/import_graph.py            # summary: cycles, function-local imports, files over 300 lines
    python scripts/import_graph.py --edges    # also every layer -> layer edge with the modules behind it

Reads the source with `ast` (imports nothing), counts imports at the top of a file and inside functions
alike: a function-local import is still a dependency, only a hidden one. Exit status 1 when a cycle or an
upward import (see LAYERS) exists.
"""
from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

PKG = "sscma_rtmdet"
# Layers, bottom first: a module may import its own layer and the ones listed before it, never one after.
LAYERS = ["version", "errors", "targets", "utils", "ops", "postprocess", "visualize", "reports", "config", "models", "criterion", "data", "synth",
          "runtime", "evaluation", "export", "engine", "quant", "inference", "workflows", "cli", "api", "__main__", "(api)"]
ROOT = Path(__file__).resolve().parents[1] / PKG


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, name: str) -> list[tuple[str, bool]]:
    """(imported module, is_local) for every intra-package import in `path` (module `name`)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    local_nodes = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                   for n in ast.walk(f)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base]
        else:
            continue
        out += [(t, id(node) in local_nodes) for t in targets if t == PKG or t.startswith(PKG + ".")]
    return out


def layer(module: str) -> str:
    """The subpackage (`data`, `export`, ...); a top-level module is its own layer (`errors`), and the
    package's __init__ (the public API, above everything) is `(api)`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "(api)"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--edges", action="store_true", help="print every layer -> layer edge")
    args = ap.parse_args()
    files = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
    mod_graph, layer_edges, local = defaultdict(set), defaultdict(set), 0
    for name, path in files.items():
        for target, is_local in imports_of(path, name):
            target = target if target in files else target.rpartition(".")[0]
            if target not in files or target == name:
                continue
            local += is_local
            if not files[target].name == "__init__.py":
                mod_graph[name].add(target)
            if layer(name) != layer(target):
                layer_edges[(layer(name), layer(target))].add(f"{name} -> {target}")
    layer_graph = defaultdict(set)
    for a, b in layer_edges:
        layer_graph[a].add(b)
    mod_cycles, layer_cycles = cycles(mod_graph), cycles(layer_graph)
    rank = {name: i for i, name in enumerate(LAYERS)}
    unknown = sorted({x for edge in layer_edges for x in edge} - set(rank))
    upward = sorted((a, b) for a, b in layer_edges if a in rank and b in rank and rank[b] > rank[a])
    long_files = sorted((len(p.read_text().splitlines()), n) for n, p in files.items()
                        if len(p.read_text().splitlines()) > 300)
    print(f"{len(files)} modules, {sum(map(len, mod_graph.values()))} module imports "
          f"({local} inside functions), {len(layer_edges)} layer edges")
    print(f"module cycles: {len(mod_cycles)}")
    for c in mod_cycles:
        print("  " + " <-> ".join(c))
    print(f"layer cycles: {len(layer_cycles)}")
    for c in layer_cycles:
        print("  " + " <-> ".join(c))
    print(f"upward imports (against LAYERS): {len(upward)}" + (f"; layers not in LAYERS: {unknown}" if unknown else ""))
    for a, b in upward:
        print(f"  {a} -> {b}: " + ", ".join(sorted(layer_edges[(a, b)])))
    print(f"files over 300 lines: {len(long_files)}")
    for n, m in long_files:
        print(f"  {n:4d} {m}")
    if args.edges:
        for (a, b), why in sorted(layer_edges.items()):
            print(f"{a} -> {b}: {len(why)} ({sorted(why)[0]}{', ...' if len(why) > 1 else ''})")
    return 1 if mod_cycles or layer_cycles or upward or unknown else 0


if __name__ == "__main__":
    sys.exit(main())
