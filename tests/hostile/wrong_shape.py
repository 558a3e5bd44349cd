EXPECT = {"bad_action"}


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        return {"q": [[1.0, 2.0], [3.0]], "ee_pos": "up"}
