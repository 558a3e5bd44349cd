EXPECT = {"action"}


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        obs["q"][:] = 999.0
        obs["injected"] = 1.0
        obs.clear()
        return {"q": [0.0] * 7}
