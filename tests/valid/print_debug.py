"""Print debugging: what a model leaves in while it works out the control law."""

import sys

import numpy as np

print("controller module loaded")


class Controller:
    def __init__(self, robot):
        self.robot = robot
        print(f"robot {robot.name}: dof={robot.dof} dt={robot.dt:.4f}")

    def reset(self, obs):
        self.start = np.array(obs["ee_pos"])
        self.t0 = obs["t"]
        self.ticks = 0
        print("reset: ee at", np.round(self.start, 3), "target", np.round(obs["target_pos"], 3))

    def step(self, obs):
        self.ticks += 1
        target = np.asarray(obs["target_pos"])
        dist = np.linalg.norm(target - obs["ee_pos"])
        if self.ticks % 15 == 0:
            print(f"t={obs['t']:.2f} distance={dist:.4f}", file=sys.stderr, flush=True)
        delta = target - self.start
        frac = min(
            1.0, (obs["t"] - self.t0 + self.robot.dt) * 0.6 / max(np.linalg.norm(delta), 1e-9)
        )
        return {"ee_pos": self.start + frac * delta}
