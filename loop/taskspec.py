"""Task specs: tasks/NAME.toml parsed into a frozen TaskSpec; unknown keys are rejected.

description = "Move the end effector to the red target ..."   # what the model reads
kind = "reach"                 # a Python kind in loop/sim/kinds/
robot = "panda"                # robots/
actions = ["ee_pos", "q"]      # accepted action modes
episode_s = 3.5
control_hz = 30
[observation]
keys = ["target_pos"]          # the task's own keys (t, q, dq, ee_pos, ee_quat, gripper: always)
[params]                       # kind-specific constants (see the kind's `params`)
[randomize]                    # kind-specific seeded ranges (see the kind's `randomize`)
[success]                      # kind-specific success criteria (see the kind's `success`)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loop.errors import TaskSpecError

TASKS_DIR = Path(__file__).resolve().parent.parent / "tasks"
PHYSICS_HZ = 240
ACTION_MODES = ("q", "dq", "tau", "ee_pos")
TOP_KEYS = (
    "description",
    "kind",
    "robot",
    "actions",
    "episode_s",
    "control_hz",
    "observation",
    "params",
    "randomize",
    "success",
)
REQUIRED = ("description", "kind", "robot", "actions", "episode_s", "control_hz")


@dataclass(frozen=True, eq=False)
class TaskSpec:
    """One task. `randomize`, `success`, `params`: the kind's defaults merged with the file's."""

    name: str
    path: str
    description: str
    kind: str
    robot: str
    actions: tuple[str, ...]
    episode_s: float
    control_hz: float
    obs_keys: tuple[str, ...]
    params: dict[str, Any]
    randomize: dict[str, Any]
    success: dict[str, Any]

    @property
    def control_dt(self) -> float:
        return self.substeps / PHYSICS_HZ

    @property
    def substeps(self) -> int:
        """Physics steps (240 Hz) per control tick."""
        return max(1, round(PHYSICS_HZ / self.control_hz))

    @property
    def n_ticks(self) -> int:
        return max(1, round(self.episode_s / self.control_dt))

    @property
    def summary(self) -> str:
        """The description's first sentence."""
        text = " ".join(self.description.split())
        return text.split(". ")[0].rstrip(".") + "." if text else ""


def task_paths() -> list[Path]:
    return sorted(TASKS_DIR.glob("*.toml"))


def list_tasks() -> list[TaskSpec]:
    return [load_task(p) for p in task_paths()]


def resolve_task_path(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    path = Path(text)
    if text.endswith(".toml") or path.parent != Path("."):
        if not path.is_file():
            raise TaskSpecError(
                f"task file {text} does not exist", "check the path, or give a task name"
            )
        return path
    candidate = TASKS_DIR / f"{text}.toml"
    if not candidate.is_file():
        known = ", ".join(p.stem for p in task_paths())
        raise TaskSpecError(
            f"unknown task {text!r}", f"use one of: {known}, or a path to a .toml file"
        )
    return candidate


def load_task(name_or_path: str | Path) -> TaskSpec:
    """A task by name (tasks/NAME.toml) or by path to a .toml file."""
    if isinstance(name_or_path, TaskSpec):
        return name_or_path
    path = resolve_task_path(name_or_path)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise TaskSpecError(f"{path}: malformed TOML: {exc}", "fix the TOML syntax") from None
    return parse_task(data, name=path.stem, path=str(path))


def _check_keys(where: str, got: dict[str, Any], allowed: tuple[str, ...] | list[str], path: str):
    unknown = [k for k in got if k not in allowed]
    if unknown:
        raise TaskSpecError(
            f"{path}: unknown key {unknown[0]!r} in {where}",
            f"allowed keys in {where}: {', '.join(allowed) or '(none)'}",
        )


def _table(data: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise TaskSpecError(f"{path}: {key} must be a table", f"write it as [{key}]")
    return value


def _number(data: dict[str, Any], key: str, path: str) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise TaskSpecError(
            f"{path}: {key} must be a positive number, got {value!r}", f"e.g. {key} = 3"
        )
    return float(value)


def parse_task(data: dict[str, Any], name: str, path: str = "<spec>") -> TaskSpec:
    from loop.sim.kinds import get_kind, kind_names
    from robots import robot_names

    _check_keys("the top level", data, TOP_KEYS, path)
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise TaskSpecError(
            f"{path}: missing key {missing[0]!r}", f"required keys: {', '.join(REQUIRED)}"
        )
    if data["robot"] not in robot_names():
        raise TaskSpecError(
            f"{path}: unknown robot {data['robot']!r}", f"known robots: {', '.join(robot_names())}"
        )
    if data["kind"] not in kind_names():
        raise TaskSpecError(
            f"{path}: unknown kind {data['kind']!r}", f"known kinds: {', '.join(kind_names())}"
        )
    kind = get_kind(data["kind"])
    actions = data["actions"]
    if not isinstance(actions, list) or not actions or any(a not in ACTION_MODES for a in actions):
        raise TaskSpecError(
            f"{path}: actions must be a non-empty list of action modes, got {actions!r}",
            f"accepted action modes: {', '.join(ACTION_MODES)}",
        )
    observation = _table(data, "observation", path)
    _check_keys("[observation]", observation, ("keys",), path)
    keys = observation.get("keys", list(kind.obs_docs))
    bad = [k for k in keys if k not in kind.obs_docs]
    if bad:
        raise TaskSpecError(
            f"{path}: observation key {bad[0]!r} is not provided by kind {kind.name!r}",
            f"keys kind {kind.name!r} provides: {', '.join(kind.obs_docs) or '(none)'}",
        )
    sections = {}
    for section, defaults in (
        ("params", kind.params),
        ("randomize", kind.randomize),
        ("success", kind.success),
    ):
        table = _table(data, section, path)
        _check_keys(f"[{section}] (kind {kind.name!r})", table, list(defaults), path)
        sections[section] = {**defaults, **table}
    return TaskSpec(
        name=name,
        path=path,
        description=str(data["description"]).strip(),
        kind=kind.name,
        robot=data["robot"],
        actions=tuple(actions),
        episode_s=_number(data, "episode_s", path),
        control_hz=_number(data, "control_hz", path),
        obs_keys=tuple(keys),
        **sections,
    )
