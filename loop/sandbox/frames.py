"""Tracebacks that show only the controller's own frames, with their source lines.

The controller's source is registered in linecache under its filename at load time, so
frames in it show real lines even though the code was never written to disk.
"""

from __future__ import annotations

import linecache
import reprlib
import traceback
from collections import deque
from types import TracebackType

MAX_MESSAGE = 2000
MAX_FRAMES = 20


def register_source(filename: str, code: str) -> None:
    """Make `code` the source linecache serves for `filename` (mtime None: never invalidated)."""
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)


def controller_frames(tb: TracebackType | None, filename: str) -> list[traceback.FrameSummary]:
    """The controller's frames; for deep recursion only the first and last few (cheaply)."""
    half = MAX_FRAMES // 2
    head: list[tuple[TracebackType, int]] = []
    tail: deque[tuple[TracebackType, int]] = deque(maxlen=half)
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            (head if len(head) < half else tail).append((tb, tb.tb_lineno))
        tb = tb.tb_next
    return [
        traceback.FrameSummary(filename, lineno, t.tb_frame.f_code.co_name, lookup_line=False)
        for t, lineno in head + list(tail)
    ]


def format_frames(frames: list[traceback.FrameSummary]) -> str:
    lines = ["Traceback (controller frames only):"]
    for f in frames:
        lines.append(f'  File "{f.filename}", line {f.lineno}, in {f.name}')
        source = linecache.getline(f.filename, f.lineno or 0).strip()
        if source:
            lines.append(f"    {source}")
    return "\n".join(lines) if frames else ""


def safe_str(value: object, limit: int = MAX_MESSAGE) -> str:
    """str(value), never raising and never longer than `limit` characters."""
    try:
        text = str(value)
    except BaseException:  # noqa: BLE001 - a hostile __str__ must not escape
        text = f"<unprintable {type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more chars]"


def exception_name(exc: BaseException) -> str:
    try:
        return type(exc).__qualname__
    except BaseException:  # noqa: BLE001
        return "Exception"


def describe_exception(exc: BaseException, filename: str) -> tuple[str, str]:
    """(message, traceback) for an exception raised by controller code."""
    message = f"{exception_name(exc)}: {safe_str(exc)}".rstrip(": ")
    frames = controller_frames(exc.__traceback__, filename)
    return message, format_frames(frames)


_repr = reprlib.Repr()
_repr.maxlist = _repr.maxtuple = _repr.maxdict = 4
_repr.maxstring = _repr.maxother = 60


def short_repr(value: object) -> str:
    try:
        return _repr.repr(value)
    except BaseException:  # noqa: BLE001
        return f"<unrepresentable {type(value).__name__}>"
