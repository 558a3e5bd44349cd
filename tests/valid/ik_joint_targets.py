"""IK once to a joint goal, then joint-space interpolation with {"q": ...} targets."""

import numpy as np


class Controller:
    def __init__(self, robot):
        self.robot = robot
        self.move_s = 1.5

    def reset(self, obs):
        self.q_start = np.array(obs["q"])
        self.q_goal = self.robot.ik(np.asarray(obs["target_pos"]), q0=obs["q"])
        self.q_goal = np.clip(self.q_goal, self.robot.joint_lower, self.robot.joint_upper)
        self.t0 = obs["t"]

    def step(self, obs):
        frac = min(1.0, (obs["t"] - self.t0 + self.robot.dt) / self.move_s)
        q = self.q_start + frac * (self.q_goal - self.q_start)
        if frac >= 1.0:
            pos, _ = self.robot.fk(q)
            if np.linalg.norm(pos - obs["target_pos"]) > 0.01:
                q = self.robot.ik(np.asarray(obs["target_pos"]), q0=obs["q"])
        return {"q": q}
