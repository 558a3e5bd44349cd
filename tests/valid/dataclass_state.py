"""State and gains in dataclasses, the way a tidy engineer writes it."""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Gains:
    speed: float = 0.6
    settle_s: float = 0.2


@dataclass
class State:
    start: np.ndarray = field(default_factory=lambda: np.zeros(3))
    t0: float = 0.0
    ticks: int = 0


@dataclass(frozen=True)
class Plan:
    start: np.ndarray
    target: np.ndarray

    def at(self, frac: float) -> np.ndarray:
        return self.start + min(1.0, max(0.0, frac)) * (self.target - self.start)

    @property
    def length(self) -> float:
        return float(np.linalg.norm(self.target - self.start))


class Controller:
    def __init__(self, robot):
        self.robot = robot
        self.gains = Gains()
        self.state = State()

    def reset(self, obs):
        self.state = State(start=np.array(obs["ee_pos"]), t0=obs["t"])

    def step(self, obs):
        self.state.ticks += 1
        plan = Plan(self.state.start, np.asarray(obs["target_pos"]))
        elapsed = obs["t"] - self.state.t0 + self.robot.dt
        frac = elapsed * self.gains.speed / max(plan.length, 1e-9)
        return {"q": self.robot.ik(plan.at(frac), q0=obs["q"])}
