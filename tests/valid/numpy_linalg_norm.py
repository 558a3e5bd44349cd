"""numpy submodules by name: `from numpy.linalg import norm`, numpy.linalg as la, np.lib."""

import numpy as np
import numpy.linalg as la
from numpy.linalg import norm


class Controller:
    def __init__(self, robot):
        self.robot = robot
        self.speed = 0.6
        self.window = np.lib.stride_tricks.sliding_window_view(np.arange(4.0), 2)

    def reset(self, obs):
        self.start = np.array(obs["ee_pos"])
        self.t0 = obs["t"]

    def step(self, obs):
        target = np.asarray(obs["target_pos"])
        delta = target - self.start
        dist = max(norm(delta), la.norm(delta, ord=2), 1e-9)
        frac = min(1.0, (obs["t"] - self.t0 + self.robot.dt) * self.speed / dist)
        return {"ee_pos": self.start + frac * delta}
