"""A base class with static methods and properties; `step` is inherited from it."""

import numpy as np


class BaseController:
    speed = 0.6

    def __init__(self, robot):
        self.robot = robot
        self._start = None
        self._t0 = 0.0

    @staticmethod
    def lerp(a, b, frac):
        return a + min(1.0, max(0.0, frac)) * (b - a)

    @classmethod
    def with_speed(cls, robot, speed):
        ctl = cls(robot)
        ctl.speed = speed
        return ctl

    @property
    def dt(self):
        return self.robot.dt

    @property
    def start(self):
        return self._start

    @start.setter
    def start(self, value):
        self._start = np.array(value, dtype=float)

    def reset(self, obs):
        self.start = obs["ee_pos"]
        self._t0 = obs["t"]

    def target(self, obs):
        raise NotImplementedError

    def step(self, obs):
        goal = self.target(obs)
        dist = np.linalg.norm(goal - self.start)
        frac = (obs["t"] - self._t0 + self.dt) * self.speed / max(dist, 1e-9)
        return {"q": self.robot.ik(self.lerp(self.start, goal, frac), q0=obs["q"])}


class Controller(BaseController):
    def target(self, obs):
        return np.asarray(obs["target_pos"])
