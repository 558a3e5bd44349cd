"""Reference controller for `waypoints`: straight segments at constant speed, in order."""

import numpy as np


class Controller:
    def __init__(self, robot):
        self.robot = robot
        self.speed = 0.5  # m/s
        self.tolerance = 0.01

    def reset(self, obs):
        self.points = np.asarray(obs["waypoints"])
        self.index = 0
        self.carrot = np.array(obs["ee_pos"])

    def step(self, obs):
        ee = np.asarray(obs["ee_pos"])
        if (
            self.index < len(self.points) - 1
            and np.linalg.norm(ee - self.points[self.index]) < self.tolerance
        ):
            self.index += 1
        goal = self.points[self.index]
        delta = goal - self.carrot
        dist = np.linalg.norm(delta)
        stride = self.speed * self.robot.dt
        self.carrot = goal.copy() if dist <= stride else self.carrot + delta * (stride / dist)
        return {"q": self.robot.ik(self.carrot, q0=obs["q"])}
