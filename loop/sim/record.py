"""EpisodeRecord: the simulator's own state, sampled every control tick by the sim worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: task observation keys that are points to draw (recorded per tick when the task observes them)
MARK_KEYS = ("target_pos", "goal_pos")


@dataclass
class EpisodeRecord:
    """One episode. Arrays have one row per control tick (t = 0, dt, 2 dt, ...).

    ee_pos / ee_quat come from getLinkState, objects[name] (pos + quat, (n, 7)) from
    getBasePositionAndOrientation, table_contact from getContactPoints(arm, table),
    limit_hit (n, dof) marks joints within 0.01 rad of a limit. `episode` holds the
    seed's sampled task constants (target_pos, waypoints, ...). `failure` is a
    ControllerFailure dict (kind, message, traceback) or None. `end_state` is the last
    action the controller returned and the task's obs values it answered, as feedback text.
    """

    seed: int
    t: np.ndarray
    q: np.ndarray
    dq: np.ndarray
    ee_pos: np.ndarray
    ee_quat: np.ndarray
    gripper: np.ndarray
    table_contact: np.ndarray
    limit_hit: np.ndarray
    objects: dict[str, np.ndarray] = field(default_factory=dict)
    fingers: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    marks: dict[str, np.ndarray] = field(default_factory=dict)
    episode: dict[str, Any] = field(default_factory=dict)
    failure: dict[str, str] | None = None
    first_step_at: float | None = None
    wall_s: float = 0.0
    output: str = ""
    end_state: str = ""  # the last action returned and the obs it answered, in one line

    @property
    def steps(self) -> int:
        return len(self.t)

    @property
    def duration(self) -> float:
        return float(self.t[-1]) if len(self.t) else 0.0


def failed_record(seed: int, failure: dict[str, str], dof: int = 7) -> EpisodeRecord:
    """A record for an episode that produced no trajectory (load error, crashed worker)."""
    empty = np.zeros((0,))
    return EpisodeRecord(
        seed=seed,
        t=empty,
        q=np.zeros((0, dof)),
        dq=np.zeros((0, dof)),
        ee_pos=np.zeros((0, 3)),
        ee_quat=np.zeros((0, 4)),
        gripper=empty,
        table_contact=np.zeros((0,), bool),
        limit_hit=np.zeros((0, dof), bool),
        failure=failure,
    )
