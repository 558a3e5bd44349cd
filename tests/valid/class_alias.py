"""The class has its own name; the module binds `Controller` to it at the end."""

import numpy as np


class ReachController:
    def __init__(self, robot):
        self.robot = robot

    def reset(self, obs):
        self.start = np.array(obs["ee_pos"])
        self.t0 = obs["t"]

    def step(self, obs):
        delta = np.asarray(obs["target_pos"]) - self.start
        frac = min(
            1.0, (obs["t"] - self.t0 + self.robot.dt) * 0.6 / max(np.linalg.norm(delta), 1e-9)
        )
        return {"q": self.robot.ik(self.start + frac * delta, q0=obs["q"])}


Controller = ReachController
