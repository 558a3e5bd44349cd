"""Circle reference-like tracking that joins the moving point only at t = 1 s (a near miss)."""

import numpy as np


class Controller:
    def __init__(self, robot):
        self.robot = robot

    def reset(self, obs):
        self.q0 = np.array(obs["q"])
        self.goal = self.robot.ik(obs["target_pos"], q0=obs["q"])

    def step(self, obs):
        if obs["t"] < 1.0:
            s = min(1.0, obs["t"] / 1.5)
            return {"q": self.q0 + s * (self.goal - self.q0)}
        return {"ee_pos": obs["target_pos"]}
