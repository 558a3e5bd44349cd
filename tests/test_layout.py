"""The layout HACKING.md promises: packages named for what they hold, no import cycles, one
place that opens a model backend, and docs that name only paths that exist."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOOP = ROOT / "loop"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in LOOP.rglob("*.py")}


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> set[str]:
    """Every loop module `module` imports, at the top or inside a function."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {r for a in node.names if (r := _resolve(a.name))}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            for a in node.names:
                full = f"{base}.{a.name}"
                r = _resolve(full) if full in MODULES else _resolve(base)
                if r:
                    found.add(r)
    found.discard(module)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_in_loop_deferred_imports_included():
    graph = {m: imports_of(m) for m in MODULES}
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_loop_top_level_is_small_and_has_no_prefix_families():
    top = sorted(p.stem for p in LOOP.glob("*.py"))
    assert len(top) <= 8, top
    prefixes = Counter(name.split("_")[0] for name in top if "_" in name.strip("_"))
    assert not [p for p, n in prefixes.items() if n > 1], top


def test_open_backend_is_called_only_by_run_setup_and_the_backends_listing():
    allowed = {"loop/run/setup.py", "loop/commands/backends.py"}
    callers = set()
    for path in [*LOOP.rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]:
        rel = str(path.relative_to(ROOT))
        if rel.startswith("loop/backends/"):
            continue
        if "open_backend(" in path.read_text():
            callers.add(rel)
    assert callers <= allowed, callers - allowed


def test_hacking_names_every_module():
    entries = module_map((ROOT / "HACKING.md").read_text())
    missing = []
    for path in LOOP.rglob("*.py"):
        rel = str(path.relative_to(ROOT))
        owners = [key for key in entries if rel.startswith(key)]
        block = entries[max(owners, key=len)] if owners else ""
        if path.name != "__init__.py" and not re.search(rf"\b{re.escape(path.stem)}\b", block):
            missing.append(rel)
    assert missing == []


def module_map(text: str) -> dict[str, str]:
    """HACKING.md's module map: {entry path: its text, continuation lines included}."""
    section = text.split("## Module map", 1)[1].split("\n## ", 1)[0]
    entries: dict[str, str] = {}
    key = None
    for line in section.splitlines():
        if line.startswith("    ") and not line.startswith("     "):
            key = line.split()[0]
            entries[key] = line.strip()
        elif key and line.startswith("     "):
            entries[key] += " " + line.strip()
    return entries


PATH = re.compile(
    r"(?<![\w/.-])((?:loop|robots|tasks|tests|benchmarks|docs|sim_assets)/[\w./*-]*\w)"
)


#: files the README's "Adding a task" tells a reader to create (tests/test_howto.py runs it)
TO_CREATE = {"tasks/reach_high.toml", "tasks/reference/reach_high.py"}


def test_every_path_the_docs_name_exists():
    missing = []
    for doc in ("README.md", "HACKING.md", "docs/sandbox.md", "docs/model_suite.md"):
        for found in PATH.findall((ROOT / doc).read_text()):
            if any(x in found for x in ("*", "NAME", "NNN", "LABEL")) or found in TO_CREATE:
                continue
            if not (ROOT / found).exists():
                missing.append(f"{doc}: {found}")
    assert missing == []
