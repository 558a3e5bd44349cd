EXPECT = {"exception"}


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        raise KeyboardInterrupt
