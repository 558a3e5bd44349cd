"""Feedback piece: the failing line of the controller's own code, with a few lines around it."""

from __future__ import annotations

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
    source = code.splitlines()
    for _, n, fn in reversed(found[:-1]):
        lines.append(f"   called from line {n}, in {fn}: {source[n - 1].strip()}")
    return "\n".join(lines)
