import numpy as np

EXPECT = {"exception", "crash", "timeout"}  # touching 1 GiB can outlast step_s


class Controller:
    def __init__(self, robot):
        self.hoard = []

    def step(self, obs):
        while True:
            self.hoard.append(np.ones(1 << 24))  # 128 MiB at a time, touched
