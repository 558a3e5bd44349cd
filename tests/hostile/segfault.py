import ctypes

EXPECT = {"crash"}


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        return {"q": [float(ctypes.cast(8, ctypes.POINTER(ctypes.c_int)).contents.value)]}
