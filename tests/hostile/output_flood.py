EXPECT = {"output", "timeout"}


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        while True:
            print("flood " * 2000)
