"""functools: a cached helper, a partial for the IK call, reduce for a norm."""

import operator
from functools import lru_cache, partial, reduce

import numpy as np


@lru_cache(maxsize=None)
def smoothstep(frac: float) -> float:
    frac = min(1.0, max(0.0, frac))
    return frac * frac * (3.0 - 2.0 * frac)


def distance(a, b):
    return reduce(operator.add, ((x - y) ** 2 for x, y in zip(a, b, strict=True))) ** 0.5


class Controller:
    def __init__(self, robot):
        self.robot = robot
        self.duration = 1.6  # s for the whole move

    def reset(self, obs):
        self.start = np.array(obs["ee_pos"])
        self.t0 = obs["t"]
        self.ik = partial(self.robot.ik, quat=None)

    def step(self, obs):
        target = np.asarray(obs["target_pos"])
        frac = smoothstep(round((obs["t"] - self.t0 + self.robot.dt) / self.duration, 3))
        point = self.start + frac * (target - self.start)
        if distance(point, target) < 1e-6:
            point = target
        return {"q": self.ik(point, q0=obs["q"])}
