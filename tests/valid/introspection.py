"""Defensive code: getattr with defaults, hasattr, isinstance, type() and a few dunders."""

import numpy as np


class Controller:
    def __init__(self, robot):
        self.robot = robot
        self.dt = getattr(robot, "dt", 1 / 240)
        self.has_ik = hasattr(robot, "ik") and callable(robot.ik)
        self.name = type(self).__name__ + "/" + self.__class__.__name__
        self.speed = 0.6

    def _vec(self, value):
        if isinstance(value, np.ndarray):
            return value.astype(float)
        if isinstance(value, (list, tuple)):
            return np.array(value, dtype=float)
        raise TypeError(f"{self.name}: cannot use {type(value).__name__}")

    def reset(self, obs):
        self.__dict__.update(start=self._vec(obs["ee_pos"]), t0=float(obs.get("t", 0.0)))
        assert "start" in vars(self)

    def step(self, obs):
        target = self._vec(obs["target_pos"])
        delta = target - self.start
        dist = np.linalg.norm(delta)
        elapsed = obs["t"] - self.t0 + self.dt
        frac = min(1.0, elapsed * self.speed / max(dist, 1e-9))
        point = self.start + frac * delta
        if self.has_ik:
            return {"q": self.robot.ik(point, q0=obs["q"])}
        return {"ee_pos": point}
