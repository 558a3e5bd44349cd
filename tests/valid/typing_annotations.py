"""Full typing: annotations everywhere, Optional, a Protocol, TYPE_CHECKING, module annotations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Final, Optional, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from robots.base import RobotInfo

SPEED: Final[float] = 0.6
Obs = dict[str, Any]
Vector = npt.NDArray[np.float64]


class HasIK(Protocol):
    def ik(
        self, pos: Vector, quat: Optional[Vector] = None, q0: Optional[Vector] = None
    ) -> Vector: ...


class Controller:
    modes: ClassVar[tuple[str, ...]] = ("q", "ee_pos")
    start: Vector
    t0: float

    def __init__(self, robot: RobotInfo) -> None:
        self.robot: HasIK = robot
        self.dt: float = robot.dt

    def reset(self, obs: Obs) -> None:
        self.start = np.array(obs["ee_pos"], dtype=np.float64)
        self.t0 = float(obs["t"])

    def _point(self, obs: Obs) -> Vector:
        delta: Vector = np.asarray(obs["target_pos"]) - self.start
        dist: float = float(np.linalg.norm(delta))
        frac: float = min(1.0, (obs["t"] - self.t0 + self.dt) * SPEED / max(dist, 1e-9))
        return self.start + frac * delta

    def step(self, obs: Obs) -> dict[str, Vector]:
        return {"q": self.robot.ik(self._point(obs), q0=obs["q"])}
