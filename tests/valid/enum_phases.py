"""A small state machine with enum phases."""

from enum import Enum, IntEnum, auto

import numpy as np


class Phase(Enum):
    MOVE = auto()
    HOLD = auto()


class Level(IntEnum):
    QUIET = 0
    VERBOSE = 1


class Controller:
    def __init__(self, robot):
        self.robot = robot
        self.level = Level.QUIET

    def reset(self, obs):
        self.phase = Phase.MOVE
        self.start = np.array(obs["ee_pos"])
        self.t0 = obs["t"]

    def step(self, obs):
        target = np.asarray(obs["target_pos"])
        if self.phase is Phase.MOVE:
            delta = target - self.start
            frac = (obs["t"] - self.t0 + self.robot.dt) * 0.6 / max(np.linalg.norm(delta), 1e-9)
            if frac >= 1.0:
                self.phase = Phase.HOLD
            point = self.start + min(frac, 1.0) * delta
        else:
            point = target
        assert self.phase in Phase and self.phase.name in Phase.__members__
        return {"ee_pos": point}
