
EXPECT = {"exception", "crash"}

def dive(n):
    return dive(n + 1) + 1

class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        return {"q": [dive(0)]}
