class Controller:
    def __init__(self, robot):
        self.n = 0

    def step(self, obs):
        self.n += 1
        if self.n > 3:
            return self.helper(obs)
        return {"q": obs["q"]}

    def helper(self, obs):
        raise ValueError(f"boom at tick {self.n}")
