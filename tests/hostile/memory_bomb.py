import numpy as np

EXPECT = {"exception", "crash"}


class Controller:
    def __init__(self, robot):
        self.hoard = []

    def step(self, obs):
        while True:
            self.hoard.append(np.empty(1 << 24))  # 128 MiB at a time, address space only
