"""Reference controller for `circle`: blend onto the circle, then track the point one tick ahead."""

import numpy as np


class Controller:
    def __init__(self, robot):
        self.robot = robot

    def point(self, t):
        a = 2 * np.pi * t / self.period
        return self.center + self.radius * np.array([np.cos(a), np.sin(a), 0.0])

    def reset(self, obs):
        self.center = np.asarray(obs["center"])
        self.radius = float(obs["radius"])
        self.period = float(obs["period"])
        self.start = np.array(obs["ee_pos"])

    def step(self, obs):
        t = obs["t"] + self.robot.dt  # aim where the point will be at the next tick
        goal = self.point(t)
        if t < 0.8:  # blend from the start pose onto the moving point
            s = t / 0.8
            goal = self.start + (s * s * (3 - 2 * s)) * (goal - self.start)
        return {"q": self.robot.ik(goal, q0=obs["q"])}
