"""collections: a deque of recent errors and a namedtuple for the plan."""

from collections import Counter, OrderedDict, defaultdict, deque, namedtuple

import numpy as np

Segment = namedtuple("Segment", ["start", "target", "length"])


class Controller:
    def __init__(self, robot):
        self.robot = robot
        self.errors = deque(maxlen=10)
        self.modes = Counter()
        self.log = defaultdict(list)
        self.params = OrderedDict(speed=0.6, tolerance=0.01)

    def reset(self, obs):
        start = np.array(obs["ee_pos"])
        target = np.array(obs["target_pos"])
        self.segment = Segment(start, target, float(np.linalg.norm(target - start)))
        self.t0 = obs["t"]
        self.errors.clear()

    def step(self, obs):
        seg = self.segment
        self.errors.append(float(np.linalg.norm(seg.target - obs["ee_pos"])))
        elapsed = obs["t"] - self.t0 + self.robot.dt
        frac = min(1.0, elapsed * self.params["speed"] / max(seg.length, 1e-9))
        point = seg.start + frac * (seg.target - seg.start)
        self.modes["q"] += 1
        self.log["frac"].append(frac)
        return {"q": self.robot.ik(point, q0=obs["q"])}
