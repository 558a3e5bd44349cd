"""Plain math: a minimum-jerk profile with math.cos/hypot/isclose, no numpy in the maths."""

import math

import numpy as np


def min_jerk(frac):
    frac = min(1.0, max(0.0, frac))
    return 10 * frac**3 - 15 * frac**4 + 6 * frac**5


class Controller:
    def __init__(self, robot):
        self.robot = robot

    def reset(self, obs):
        self.start = [float(v) for v in obs["ee_pos"]]
        self.t0 = obs["t"]
        target = [float(v) for v in obs["target_pos"]]
        dist = math.hypot(*(b - a for a, b in zip(self.start, target, strict=True)))
        self.duration = max(0.5, dist / 0.35)

    def step(self, obs):
        target = [float(v) for v in obs["target_pos"]]
        s = min_jerk((obs["t"] - self.t0 + self.robot.dt) / self.duration)
        if math.isclose(s, 1.0, abs_tol=1e-9):
            s = 1.0
        blend = 0.5 - 0.5 * math.cos(math.pi * s)  # an extra ease, still 0 -> 1
        point = [a + blend * (b - a) for a, b in zip(self.start, target, strict=True)]
        return {"ee_pos": np.array(point)}
