"""Moves the arm toward the target like a working controller, then kills its own process at
t = 1 s (a segfault through ctypes): the episode must end as a crash at that time, with the
motion before it recorded (`armloop replay` shows what happened up to the crash)."""

import ctypes

import numpy as np

EXPECT = {"action", "crash"}  # one step is an action; the episode ends in a crash


class Controller:
    def __init__(self, robot):
        self.robot = robot

    def reset(self, obs):
        self.start = np.array(obs["ee_pos"])

    def step(self, obs):
        if obs["t"] >= 1.0:
            ctypes.string_at(0)  # reads address 0: SIGSEGV
        target = np.asarray(obs.get("target_pos", self.start))
        frac = min(1.0, (obs["t"] + self.robot.dt) * 0.6 / max(np.linalg.norm(target - self.start), 1e-9))
        return {"q": self.robot.ik(self.start + frac * (target - self.start), q0=obs["q"])}
