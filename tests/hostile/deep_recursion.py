import sys

EXPECT = {"exception", "crash", "timeout"}


def dive(n):
    return dive(n + 1) + 1


class Controller:
    def __init__(self, robot):
        sys.setrecursionlimit(10**7)

    def step(self, obs):
        return {"q": [dive(0)]}
