"""Module-level constants and helper functions, the controller a thin shell around them."""

import numpy as np

SPEED = 0.5  # m/s along the straight line
MIN_DIST = 1e-9
_cache = {}


def clamp(x, lo, hi):
    return max(lo, min(hi, x))


def waypoint(start, target, elapsed, speed=SPEED):
    delta = np.asarray(target) - np.asarray(start)
    dist = float(np.linalg.norm(delta))
    frac = clamp(elapsed * speed / max(dist, MIN_DIST), 0.0, 1.0)
    return np.asarray(start) + frac * delta


class Controller:
    def __init__(self, robot):
        self.robot = robot
        _cache["dof"] = robot.dof

    def reset(self, obs):
        self.start = np.array(obs["ee_pos"])
        self.t0 = obs["t"]

    def step(self, obs):
        elapsed = obs["t"] - self.t0 + self.robot.dt
        return {"ee_pos": waypoint(self.start, obs["target_pos"], elapsed)}
