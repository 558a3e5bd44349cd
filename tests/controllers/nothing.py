MODE = "q"  # tests rewrite this line for tasks that do not accept joint targets


class Controller:
    """Holds the start pose: must fail every task."""

    def __init__(self, robot):
        self.robot = robot

    def reset(self, obs):
        self.hold = {"q": obs["q"], "ee_pos": obs["ee_pos"], "dq": obs["q"] * 0}[MODE]

    def step(self, obs):
        if MODE == "tau":
            return {"tau": obs["q"] * 0}
        return {MODE: self.hold}
