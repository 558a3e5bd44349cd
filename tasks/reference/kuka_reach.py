"""Reference controller for `kuka_reach`: straight Cartesian line to the target, then hold."""

import numpy as np


class Controller:
    def __init__(self, robot):
        self.robot = robot
        self.speed = 0.6  # m/s along the path

    def reset(self, obs):
        self.start = np.array(obs["ee_pos"])
        self.t0 = obs["t"]

    def step(self, obs):
        target = np.asarray(obs["target_pos"])
        delta = target - self.start
        dist = np.linalg.norm(delta)
        frac = min(1.0, (obs["t"] - self.t0 + self.robot.dt) * self.speed / max(dist, 1e-9))
        waypoint = self.start + frac * delta
        return {"q": self.robot.ik(waypoint, q0=obs["q"])}
