"""The task vocabulary both processes share: a TaskSpec and the checks of its TOML tables.

No simulator imports; loop/task/catalog.py reads tasks/NAME.toml into a TaskSpec.

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

from dataclasses import dataclass
from typing import Any

from loop.errors import TaskSpecError

PHYSICS_HZ = 240
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
    obs_docs: dict[str, str]  # one line per task key, the kind's own doc (the prompt shows it)
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


def check_keys(where: str, got: dict[str, Any], allowed: tuple[str, ...] | list[str], path: str):
    unknown = [k for k in got if k not in allowed]
    if unknown:
        raise TaskSpecError(
            f"{path}: unknown key {unknown[0]!r} in {where}",
            f"allowed keys in {where}: {', '.join(allowed) or '(none)'}",
        )


def table(data: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise TaskSpecError(f"{path}: {key} must be a table", f"write it as [{key}]")
    return value


def positive_number(data: dict[str, Any], key: str, path: str) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise TaskSpecError(
            f"{path}: {key} must be a positive number, got {value!r}", f"e.g. {key} = 3"
        )
    return float(value)
