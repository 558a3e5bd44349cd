"""Feedback piece: the action a controller returned next to what the contract accepts."""

from __future__ import annotations

import ast
import re
from typing import Any

import numpy as np

from loop.feedback_code import parse_or_none
from loop.sandbox.frames import short_repr

SAMPLE = 4  # values shown per key


def describe_value(value: Any) -> str:
    """'3 values [0.41, 0.02, 0.3]', 'shape (1, 7) [...]', 'float 0.04', 'str "x"'.

    Never raises: the value is what an untrusted child sent (any JSON)."""
    from loop.contract import as_floats

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


def accepted_actions(task: Any) -> str:
    """'`ee_pos` (3 values) or `q` (7 values) or `dq` (7 values), optional `gripper`'."""
    from loop.contract import ACTION_MODES
    from robots import robot_info

    robot = robot_info(task.robot, task.control_dt)
    parts = []
    for name in task.actions:
        size = robot.dof if ACTION_MODES[name].size == "dof" else int(ACTION_MODES[name].size)
        parts.append(f"`{name}` ({size} values)")
    text = " or ".join(parts)
    return text + (", plus optional `gripper` (one float)" if robot.has_gripper else "")


def returned_sizes(returned: str) -> dict[str, int | None]:
    """{key: number of values} from describe_action()'s text; None where not a flat vector."""
    found = re.findall(r"'(\w+)': (?:(\d+) values)?", returned)
    return {key: int(n) if n else None for key, n in found}


def size_hints(task: Any, sizes: dict[str, int | None]) -> list[str]:
    """For each returned mode of the wrong size: what it needs, and the mode that size fits."""
    from loop.contract import ACTION_MODES
    from robots import robot_info

    robot = robot_info(task.robot, task.control_dt)
    need = {
        m: robot.dof if ACTION_MODES[m].size == "dof" else int(ACTION_MODES[m].size)
        for m in task.actions
    }
    hints = []
    for key, n in sizes.items():
        if key not in need or n is None or n == need[key]:
            continue
        hint = f"`{key}` needs {need[key]} values, not {n}"
        if need[key] == robot.dof:
            hint = f"`{key}` needs {robot.dof} values, one per joint (np.zeros({robot.dof}) has "
            hint += f"that shape), not {n}"
        fits = [m for m, size in need.items() if size == n and m != key]
        if fits:
            what = f"a point ({n} values) goes" if fits[0] == "ee_pos" else f"{n} values go"
            hint += f"; {what} under `{fits[0]}`"
        hints.append(hint)
    return hints


def step_returns(code: str | None) -> list[tuple[int, str]]:
    """(line, source) of each `return` statement inside the controller's `step` method."""
    tree = parse_or_none(code)
    if tree is None:
        return []
    lines = code.splitlines()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "step":
            for sub in ast.walk(node):
                if isinstance(sub, ast.Return):
                    out.append((sub.lineno, lines[sub.lineno - 1].strip()))
    return sorted(set(out))
