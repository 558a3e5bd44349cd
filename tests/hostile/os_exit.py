import os

EXPECT = {"crash"}


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        os._exit(0)
