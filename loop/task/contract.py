"""The controller contract. These docstrings are the single source of the prompt's contract text.

`contract_text(task)` renders them for one task (its observation keys and action modes);
`validate_action(action, robot, modes)` is what the simulator accepts, built from the same tables.
"""

from __future__ import annotations

import ast
import inspect
import math
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from loop.sandbox.frames import short_repr
from robots import robot_info

if TYPE_CHECKING:
    from loop.task.spec import TaskSpec


class ActionError(ValueError):
    """The controller returned something that is not an accepted action."""


class Controller:
    """A controller is one Python module that defines a class `Controller` (numpy is available).

    It is created once per episode and called at the task's control rate. It must not
    block: each call has a time limit, and an exception ends the episode as a failure.
    The skeleton below is a complete, valid controller that holds the arm still: keep its
    shape, replace the body of `step` (and `reset`) with the control law.
    """

    def __init__(self, robot):
        """`robot`: the arm's description. `robot.dof` (joints), `robot.dt` (control period, s),
        `robot.joint_lower`, `robot.joint_upper` (rad), `robot.velocity_limit` (rad/s),
        `robot.torque_limit` (N m), `robot.home_q`, `robot.has_gripper`, `robot.gripper_range`
        (min, max opening in m), `robot.fk(q) -> (pos, quat)` and
        `robot.ik(pos, quat=None, q0=None) -> q` (pure functions; pass the current q as q0
        for the nearest solution). Positions are metres in the world frame; z is up and the
        table top is at z = 0; quaternions are (x, y, z, w)."""
        self.robot = robot

    def reset(self, obs):
        """Called once at the start of each episode with the first observation."""
        self.start = np.array(obs["ee_pos"])

    def step(self, obs):
        """Called every control tick with the current observation; returns an action dict."""
        return {"q": np.array(obs["q"])}


# what `step` of the skeleton returns to hold still, by the first mode the task accepts
HOLD_STILL = {
    "ee_pos": 'return {"ee_pos": self.start}',
    "q": 'return {"q": np.array(obs["q"])}',
    "dq": 'return {"dq": np.zeros(self.robot.dof)}',
    "tau": 'return {"tau": np.zeros(self.robot.dof)}',
}


@dataclass(frozen=True)
class Key:
    name: str
    shape: str
    doc: str


BASE_OBS = (
    Key("t", "float", "time since the episode started, s"),
    Key("q", "(dof,)", "joint positions, rad"),
    Key("dq", "(dof,)", "joint velocities, rad/s"),
    Key("ee_pos", "(3,)", "end-effector position, m"),
    Key("ee_quat", "(4,)", "end-effector orientation, quaternion x y z w"),
)
GRIPPER_OBS = Key("gripper", "float", "finger opening, m (arms with a gripper only)")


@dataclass(frozen=True)
class Mode:
    name: str
    size: str  # "dof" or an integer as text
    doc: str


ACTION_MODES = {
    "q": Mode("q", "dof", "joint position targets, rad (held by the joint position servos)"),
    "dq": Mode("dq", "dof", "joint velocity targets, rad/s (clipped to robot.velocity_limit)"),
    "tau": Mode(
        "tau", "dof", "joint torques, N m (clipped to robot.torque_limit; no gravity compensation)"
    ),
    "ee_pos": Mode(
        "ee_pos",
        "3",
        "Cartesian end-effector target, m, solved by the same IK as robot.ik from the current q; "
        "add `ee_quat` (4,) to also set the orientation",
    ),
}
GRIPPER_DOC = "optional with any mode: `gripper`: target finger opening, m"


def _doc(obj: Any) -> str:
    return inspect.cleandoc(obj.__doc__ or "")


def _skeleton(modes: tuple[str, ...] | list[str]) -> str:
    """The skeleton controller: `Controller`'s own code without its docstrings, its `step`
    holding still in a mode the task accepts."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(Controller)))
    cls = tree.body[0]
    cls.body = [f for f in cls.body if isinstance(f, ast.FunctionDef)]
    for fn in cls.body:
        if ast.get_docstring(fn) is not None:
            fn.body = fn.body[1:]
    mode = next((m for m in HOLD_STILL if m in modes), "q")
    cls.body[-1].body = ast.parse(HOLD_STILL[mode]).body
    source = ast.unparse(tree).replace("'", '"').replace("\n\n\n", "\n")
    return "import numpy as np\n\n" + source.replace("class Controller:\n\n", "class Controller:\n")


def contract_text(task: TaskSpec) -> str:
    """The controller contract for one task, as the prompt shows it."""
    robot = robot_info(task.robot, task.control_dt)
    lines = [_doc(Controller), ""]
    for meth in ("__init__", "reset", "step"):
        sig = "(self, robot)" if meth == "__init__" else "(self, obs)"
        lines.append(f"- `{meth}{sig}`: " + _doc(getattr(Controller, meth)).replace("\n", " "))
    lines += ["", "```python", _skeleton(task.actions)]
    lines += [
        "```",
        "",
        f"Robot: {robot.name}, dof = {robot.dof}, dt = {robot.dt:.4f} s "
        f"({task.control_hz:g} Hz), episode {task.episode_s:g} s.",
        "",
        "`obs` keys:",
    ]
    keys = list(BASE_OBS) + ([GRIPPER_OBS] if robot.has_gripper else [])
    keys += [Key(k, "", task.obs_docs[k]) for k in task.obs_keys]
    for key in keys:
        shape = key.shape.replace("dof", str(robot.dof))
        lines.append(f"- `{key.name}`" + (f" {shape}" if shape else "") + f": {key.doc}")
    lines += ["", "The action dict holds exactly one of:"]
    for name in task.actions:
        mode = ACTION_MODES[name]
        size = robot.dof if mode.size == "dof" else int(mode.size)
        lines.append(f"- `{name}` ({size},): {mode.doc}")
    if robot.has_gripper:
        lines.append(f"- and {GRIPPER_DOC}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Action:
    """A validated action: mode, values, optional orientation and gripper target."""

    mode: str
    values: np.ndarray
    quat: np.ndarray | None = None
    gripper: float | None = None


def as_floats(value: Any) -> np.ndarray | None:
    """`value` (a number, a list of numbers, nested lists of them, a numeric array) as a float64
    array, or None where it is not numbers: bools, strings, None, dicts, ragged lists, an int
    no float holds. Never raises for what JSON carries: values come from an untrusted child."""
    if isinstance(value, bool | str | bytes | dict) or value is None:
        return None
    if isinstance(value, list | tuple) and any(isinstance(x, bool) for x in value):
        return None  # numpy would take True for 1.0 next to floats
    try:
        arr = np.asarray(value)
        return arr.astype(np.float64, copy=False) if arr.dtype.kind in "iuf" else None
    except (TypeError, ValueError, OverflowError, RecursionError, MemoryError):
        return None


def not_floats(value: Any) -> str:
    """Why as_floats(value) is None, for the message: 'is a str 'up'', 'holds an int too large
    for a float (...)', 'is a ragged list ...'. Looks at a bounded number of leaves."""
    stack, seen = [value], 0
    while stack and seen < 10_000:
        item = stack.pop()
        seen += 1
        verb = "is" if item is value else "holds"
        if isinstance(item, list | tuple):
            stack.extend(reversed(item))
        elif isinstance(item, bool) or (
            isinstance(item, np.ndarray) and item.dtype.kind not in "iuf"
        ):
            return f"{verb} a {type(item).__name__} {short_repr(item)}"
        elif isinstance(item, int):
            try:
                float(item)
            except OverflowError:
                return f"{verb} an int too large for a float ({short_repr(item)})"
        elif not isinstance(item, float | np.number | np.ndarray):
            return f"{verb} a {type(item).__name__} {short_repr(item)}"
    return f"is not a list of numbers: {type(value).__name__} {short_repr(value)}"


def _vector(action: dict, key: str, size: int, robot_name: str, what: str) -> np.ndarray:
    arr = as_floats(action[key])
    if arr is None:
        raise ActionError(
            f"action key {key!r} {not_floats(action[key])}; "
            f"{robot_name} takes {size} {what} as a list or numpy array of floats"
        )
    if arr.shape != (size,):
        raise ActionError(
            f"action key {key!r} has shape {arr.shape}; {robot_name} takes {size} {what}"
        )
    if not np.all(np.isfinite(arr)):
        raise ActionError(f"action key {key!r} contains NaN or inf: {arr.round(4).tolist()}")
    return arr


def validate_action(action: Any, robot: Any, allowed_modes: tuple[str, ...] | list[str]) -> Action:
    """Check one action dict against the contract; return it normalized or raise ActionError.

    Total: any value (the child sends arbitrary JSON) gives an Action or an ActionError."""
    if not isinstance(action, dict):
        raise ActionError(
            f"step() returned {type(action).__name__}, not a dict; return e.g. "
            f"{{{allowed_modes[0]!r}: ...}} with one of the keys {', '.join(allowed_modes)}"
        )
    if not all(isinstance(k, str) for k in action):
        raise ActionError(
            f"action keys must be strings; got {short_repr(list(action))}; "
            f"use one of {', '.join(allowed_modes)}"
        )
    extras = {"gripper"} | ({"ee_quat"} if "ee_pos" in action else set())
    modes = [k for k in action if k in ACTION_MODES]
    unknown = [k for k in action if k not in ACTION_MODES and k not in extras]
    accepted = ", ".join(allowed_modes)
    if unknown:
        keys = short_repr(sorted(action))
        raise ActionError(
            f"action has unknown key {short_repr(unknown[0])} (keys: {keys}); accepted: {accepted}"
            + (", gripper" if robot.has_gripper else "")
        )
    if len(modes) != 1:
        raise ActionError(
            f"action must hold exactly one of {accepted}; "
            f"it has {short_repr(modes) if modes else 'none'} (keys: {short_repr(sorted(action))})"
        )
    mode = modes[0]
    if mode not in allowed_modes:
        raise ActionError(
            f"action mode {mode!r} is not accepted by this task; accepted: {accepted}"
        )
    size = robot.dof if ACTION_MODES[mode].size == "dof" else int(ACTION_MODES[mode].size)
    what = "joint values" if size == robot.dof and mode != "ee_pos" else "coordinates x y z"
    values = _vector(action, mode, size, robot.name, what)
    quat = None
    if "ee_quat" in action and action["ee_quat"] is not None:
        quat = _vector(action, "ee_quat", 4, robot.name, "quaternion values x y z w")
        if np.linalg.norm(quat) < 1e-6:
            raise ActionError("action key 'ee_quat' is a zero quaternion; give x y z w with norm 1")
    return Action(mode, values, quat, _gripper(action, robot))


def _gripper(action: dict, robot: Any) -> float | None:
    if "gripper" not in action or action["gripper"] is None:
        return None
    if not robot.has_gripper:
        raise ActionError(f"action key 'gripper' given but {robot.name} has no gripper; drop it")
    value = action["gripper"]
    arr = np.float64(value) if type(value) is float else as_floats(value)  # JSON's floats: fast
    if arr is None:
        raise ActionError(f"action key 'gripper' {not_floats(value)}; give one float, opening in m")
    if arr.size != 1:
        raise ActionError(
            f"action key 'gripper' has shape {arr.shape}; give one float, opening in m"
        )
    opening = float(arr.reshape(()))
    if not math.isfinite(opening):
        raise ActionError(f"action key 'gripper' is {opening}; give a finite opening in m")
    lo, hi = robot.gripper_range
    return min(max(opening, lo), hi)
