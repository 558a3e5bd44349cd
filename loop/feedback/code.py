"""Feedback piece: the failing line of the controller's own code, with a few lines around it."""

from __future__ import annotations

import ast
import re

FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)')
BEFORE, AFTER = 3, 1


def frames(traceback: str) -> list[tuple[str, int, str]]:
    """(filename, line, function) of each frame in a 'controller frames only' traceback."""
    return [(f, int(n), fn) for f, n, fn in FRAME.findall(traceback or "")]


def code_context(code: str, lineno: int, before: int = BEFORE, after: int = AFTER) -> str:
    """Numbered lines around `lineno`, the line itself marked with `>>`."""
    lines = code.splitlines()
    if not 1 <= lineno <= len(lines):
        return ""
    lo, hi = max(1, lineno - before), min(len(lines), lineno + after)
    while hi > lineno and not lines[hi - 1].strip():
        hi -= 1
    width = len(str(hi))
    out = []
    for n in range(lo, hi + 1):
        mark = ">>" if n == lineno else "  "
        out.append(f"{mark} {n:>{width}} | {lines[n - 1].rstrip()}")
    return "\n".join(out)


def failing_code(traceback: str, code: str | None) -> str:
    """The innermost controller frame as code in context; outer frames as one line each.

    Falls back to the traceback text when the code is not known or the lines do not match.
    """
    found = frames(traceback)
    if not found or not code:
        return traceback.strip()
    filename, lineno, func = found[-1]
    context = code_context(code, lineno)
    if not context:
        return traceback.strip()
    lines = [f"{filename}, line {lineno}, in {func}:", context]
    for n, text in origins(code, lineno, lineno - BEFORE):
        lines.append(f"   set earlier, line {n}: {text}")
    source = code.splitlines()
    for _, n, fn in reversed(found[:-1]):
        lines.append(f"   called from line {n}, in {fn}: {source[n - 1].strip()}")
    return "\n".join(lines)


def _names(node: ast.AST) -> set[str]:
    """Local names and `self.x` attributes an expression or target mentions."""
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name):
            found.add(f"{sub.value.id}.{sub.attr}")
    return found


def _assignments(scope: ast.AST, before: int | None) -> dict[str, int]:
    """name -> last line assigning it in `scope` (only lines < before, when given)."""
    out: dict[str, int] = {}
    for node in ast.walk(scope):
        if not isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            continue
        if before is not None and node.lineno >= before:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            for name in _names(target):
                out[name] = max(out.get(name, 0), node.lineno)
    return out


def parse_or_none(code: str | None) -> ast.Module | None:
    """The controller's syntax tree, or None when there is no code or it does not parse."""
    if not code:
        return None
    try:
        return ast.parse(code)
    except SyntaxError:
        return None


def origins(code: str, lineno: int, shown_from: int, limit: int = 3) -> list[tuple[int, str]]:
    """Where the failing line's variables were set, above the shown context: local names
    earlier in the same function, `self.x` in any method but __init__."""
    tree = parse_or_none(code)
    if tree is None:
        return []
    funcs = [
        f
        for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef) and f.lineno <= lineno <= (f.end_lineno or 0)
    ]
    if not funcs:
        return []
    func = max(funcs, key=lambda f: f.lineno)  # the innermost
    used = set().union(
        *(_names(n) for n in ast.walk(func) if isinstance(n, ast.stmt) and n.lineno == lineno)
    )
    found = {k: v for k, v in _assignments(func, lineno).items() if "." not in k}
    for method in ast.walk(tree):
        if isinstance(method, ast.FunctionDef) and method.name != "__init__":
            for k, v in _assignments(method, None).items():
                if k.startswith("self.") and method is not func:
                    found[k] = max(found.get(k, 0), v)
    lines = {found[n] for n in used if n in found and found[n] < shown_from}
    source = code.splitlines()
    return [(n, source[n - 1].strip()) for n in sorted(lines)[-limit:]]
