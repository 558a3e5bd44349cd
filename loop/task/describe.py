"""One-line descriptions of what a controller returned, shared by the sim worker (the message
of a bad action) and the feedback the model reads."""

from __future__ import annotations

from typing import Any

import numpy as np

from loop.sandbox.frames import short_repr
from loop.task.contract import as_floats

SAMPLE = 4  # values shown per key


def describe_value(value: Any) -> str:
    """'3 values [0.41, 0.02, 0.3]', 'shape (1, 7) [...]', 'float 0.04', 'str "x"'.

    Never raises: the value is what an untrusted child sent (any JSON)."""
    if isinstance(value, bool) or value is None or isinstance(value, str | dict):
        return f"{type(value).__name__} {short_repr(value)}"
    arr = as_floats(value)
    if arr is None:
        return f"{type(value).__name__} (not numbers) {short_repr(value)}"
    if isinstance(value, int | float):
        return f"{type(value).__name__} {float(arr):.4g}"
    sample = numbers(arr)
    if arr.ndim == 1:
        return f"{arr.size} values {sample}"
    return f"shape {arr.shape} {sample}"


def numbers(value: Any) -> str:
    """'[0.41, 0.02, 0.3]' (the first SAMPLE values, 3 decimals) or '0.1' for a scalar."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return f"{float(arr):.4g}"
    flat = [round(float(x), 3) for x in arr.ravel()[:SAMPLE]]
    more = ", ..." if arr.size > SAMPLE else ""
    return "[" + ", ".join(f"{x:g}" for x in flat) + more + "]"


def describe_action(action: Any) -> str:
    """What step() returned, in one line: keys, sizes and a sample of the values."""
    if not isinstance(action, dict):
        return f"a {type(action).__name__}, not a dict: {describe_value(action)}"
    if not action:
        return "an empty dict {}"
    parts = [f"{short_repr(k)}: {describe_value(v)}" for k, v in list(action.items())[:6]]
    return "{" + "; ".join(parts) + "}"
