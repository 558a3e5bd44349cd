EXPECT = {"exception", "action"}


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        chunk = b"x" * (1 << 20)
        for i in range(4096):  # 4 GiB if nothing stops it
            with open(f"fill{i}.bin", "wb") as f:
                for _ in range(64):
                    f.write(chunk)
        return {"q": [0.0]}
