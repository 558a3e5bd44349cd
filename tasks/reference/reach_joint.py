"""Reference controller for `reach_joint`: joint-space interpolation to the IK solution."""

import numpy as np


class Controller:
    def __init__(self, robot):
        self.robot = robot

    def reset(self, obs):
        self.q0 = np.array(obs["q"])
        self.goal = self.robot.ik(obs["target_pos"], q0=obs["q"])
        span = np.max(np.abs(self.goal - self.q0) / (0.5 * self.robot.velocity_limit))
        self.duration = max(span, 0.5)

    def step(self, obs):
        s = min(1.0, (obs["t"] + self.robot.dt) / self.duration)
        s = s * s * (3 - 2 * s)  # smoothstep: no jerk at the ends
        return {"q": self.q0 + s * (self.goal - self.q0)}
