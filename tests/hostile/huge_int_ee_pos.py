"""A patched numpy inside the child: the child's own action conversion (np.asarray(...).tolist())
hands over a 400-digit int, which JSON carries and no float holds."""

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
        return {"ee_pos": Huge([HUGE, 0.0, 0.3])}
