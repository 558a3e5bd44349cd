class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        return {"q": [0.0, 0.0, 0.0]}
