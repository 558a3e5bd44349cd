"""A patched numpy inside the child: a valid ee_pos, and a gripper opening of 400 digits."""

import numpy as np

EXPECT = {"action"}

HUGE = 10**400


class Huge:
    def __init__(self, value):
        self.value = value

    def tolist(self):
        return self.value


class Controller:
    def __init__(self, robot):
        real = np.asarray

        def asarray(value, *args, **kwargs):
            return value if isinstance(value, Huge) else real(value, *args, **kwargs)

        np.asarray = asarray

    def step(self, obs):
        return {"ee_pos": obs["ee_pos"], "gripper": Huge(HUGE)}
