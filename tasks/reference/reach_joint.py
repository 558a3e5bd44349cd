"""Reference controller for `reach_joint`: joint-space interpolation to the IK solution."""

import numpy as np


class Controller:
    def __init__(self, robot):
        self.robot = robot

    def reset(self, obs):
        self.q0 = np.array(obs["q"])
        self.goal = self.robot.ik(obs["target_pos"], q0=obs["q"])

    def step(self, obs):
        s = min(1.0, obs["t"] / 1.5)  # at the goal from t = 1.5 s on
        return {"q": self.q0 + s * (self.goal - self.q0)}
