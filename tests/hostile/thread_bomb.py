import threading
import time

EXPECT = {"exception", "action", "timeout"}


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        started = 0
        try:
            for _ in range(10000):
                threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
                started += 1
        except RuntimeError:
            pass
        return {"q": [float(started)]}
