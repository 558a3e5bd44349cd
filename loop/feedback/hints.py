"""Feedback piece: a one-line fix for the exceptions small models make most, from the task's
own data (its observation keys, the contract), never from a list of expected answers."""

from __future__ import annotations

import ast
import inspect
import re
from typing import Any

from loop.feedback.code import parse_or_none
from loop.task.contract import BASE_OBS, GRIPPER_OBS

KEY_ERROR = re.compile(r"KeyError: ['\"](\w+)['\"]")
NAME_ERROR = re.compile(r"NameError: name '(\w+)' is not defined")
NO_ATTRIBUTE = re.compile(r"AttributeError: '(\w+)' object has no attribute '(\w+)'")
KINEMATICS_CALL = re.compile(r"\brobot\.(fk|ik)\(")
ARGUMENT_ERRORS = ("TypeError", "ValueError", "IndexError")
SHAPES = re.compile(r"shapes? ((?:\(\d+,?\)\s*)+)")
LOCAL_UNBOUND = re.compile(r"UnboundLocalError: cannot access local variable '(\w+)'")


def task_robot(task: Any) -> Any:
    from robots import robot_info

    return robot_info(task.robot, task.control_dt)


def obs_keys(task: Any) -> list[str]:
    robot = task_robot(task)
    base = list(BASE_OBS) + ([GRIPPER_OBS] if robot.has_gripper else [])
    return [k.name for k in base] + list(task.obs_keys)


def robot_call(name: str) -> str:
    """How a controller calls RobotInfo's method `name`: 'ik(pos, quat=None, q0=None)'."""
    from robots.base import RobotInfo

    params = list(inspect.signature(getattr(RobotInfo, name)).parameters.values())[1:]
    args = [p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in params]
    return f"{name}({', '.join(args)})"


def robot_facts() -> str:
    """What `robot` offers, read off the RobotInfo class itself."""
    from dataclasses import fields

    from robots.base import RobotInfo

    names = [f.name for f in fields(RobotInfo) if f.repr]
    return ", ".join(names + [robot_call("fk"), robot_call("ik")])


def kinematics_signature(name: str) -> str:
    """`robot.fk(q)`/`robot.ik(...)` with the first line of its docstring."""
    from robots.base import RobotInfo

    doc = (getattr(RobotInfo, name).__doc__ or "").strip().splitlines()[0].rstrip(".")
    return f"robot.{robot_call(name)}: {doc}"


def robot_hints(message: str, traceback: str) -> list[str]:
    """A wrong use of `robot`: state asked of the description, or fk/ik called wrongly."""
    hints = []
    attr = NO_ATTRIBUTE.search(message)
    if attr and attr.group(1) == "RobotInfo":
        hints.append(
            f"`robot` has no '{attr.group(2)}': it is a fixed description ({robot_facts()}); "
            "the arm's current state (q, dq, ee_pos, ee_quat, ...) is in obs"
        )
    last = traceback.strip().splitlines()[-3:] if traceback else []
    failing = "\n".join(last) + "\n" + message
    call = KINEMATICS_CALL.search(failing) or re.search(r"RobotInfo\.(fk|ik)\(\)", message)
    misused = any(message.startswith(e) or f"{e}:" in message for e in ARGUMENT_ERRORS)
    if call and (misused or "'tuple' object" in message):
        hints.append(
            kinematics_signature(call.group(1))
            + (
                ": a tuple, so take robot.fk(q)[0] for the position"
                if call.group(1) == "fk"
                else ""
            )
            + "; the current end-effector position is obs['ee_pos'], the joint angles obs['q']"
        )
    return hints


def shape_hints(task: Any, message: str) -> list[str]:
    """Positions (3,) mixed with joint vectors (dof,): name which obs values are which."""
    found = SHAPES.search(message)
    if not found:
        return []
    sizes = {int(n) for n in re.findall(r"\d+", found.group(1))}
    dof = task_robot(task).dof
    if not ({3, 4} & sizes and dof in sizes):
        return []
    return [
        f"positions (ee_pos and the task's *_pos) are (3,), quaternions (4,), joint vectors "
        f"(q, dq, robot limits, home_q) ({dof},): go from a position to joint angles with "
        "self.robot.ik(pos, q0=obs['q']) and back with self.robot.fk(q)[0]"
    ]


def exception_hints(task: Any, message: str, traceback: str = "") -> list[str]:
    """'fix: ...' lines for a controller exception's message ('KeyError: 'center'' ...) and
    the controller's own traceback frames."""
    hints = robot_hints(message, traceback) + shape_hints(task, message)
    unbound = LOCAL_UNBOUND.search(message)
    if unbound:
        hints.append(
            f"`{unbound.group(1)}` is not set on every path: give it a value before the "
            "if/else (or in every branch), so step returns an action on every tick"
        )
    if "truth value of an array" in message:
        hints.append(
            "an array (a position, q, ...) is not True or False: test a distance "
            "(np.linalg.norm(a - b) < 0.05), `x is None` for a value not set yet, or "
            "np.all(...) / np.any(...) for element-wise comparisons"
        )
    key = KEY_ERROR.search(message)
    if key and key.group(1) not in obs_keys(task):
        hints.append(
            f"`obs` has no key '{key.group(1)}': this task's observation keys are "
            + ", ".join(obs_keys(task))
            + "; robot facts (dt, dof, limits, ik, fk) are on self.robot"
        )
    name = NAME_ERROR.search(message)
    if name and name.group(1) == "robot":
        hints.append(
            "`robot` is an argument of __init__ only: keep it there (self.robot = robot) "
            "and use self.robot in reset and step"
        )
    elif name and name.group(1) in ("np", "numpy"):
        hints.append("import numpy as np at the top of the module")
    elif name and name.group(1) == "obs":
        hints.append(
            "`obs` is an argument of reset and step only; __init__ gets `robot` alone: read "
            "obs[...] in reset (it runs at the start of every episode) and keep it on self"
        )
    attr = NO_ATTRIBUTE.search(message)
    if attr and attr.group(1) == "Controller":
        hints.append(
            f"self.{attr.group(2)} is read before it is set: set it in __init__ or in reset "
            "(reset runs before the first step of every episode)"
        )
    return [f"  fix: {h}" for h in hints]


def randomness_notes(code: str | None) -> list[str]:
    """The contract forbids randomness, yet small models read "random seeds" and sample a
    target of their own; name the first line that draws random numbers."""
    tree = parse_or_none(code)
    if tree is None:
        return []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and "random" in _dotted(node.func).split(".")[:-1]:
            return [
                f"  note: line {node.lineno} draws random numbers ({_dotted(node.func)}): a "
                "controller must be deterministic; the simulator already chose the start and "
                "the targets and gives them in obs, so nothing needs sampling"
            ]
    return []


def _dotted(node: ast.AST) -> str:
    """'np.random.uniform' for an attribute chain, '' for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""
