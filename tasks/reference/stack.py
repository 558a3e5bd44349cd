"""Reference controller for `stack`: top-down grasp of the red cube, carry it over the blue one,
lower it until it sits 0.04 m above the blue cube's centre, open, back off upwards.

Phases: above the cube -> down to it -> close and wait -> lift -> over the goal -> down onto
the blue cube -> open and wait -> up. Cartesian targets move at a capped speed.
"""

import numpy as np

DOWN = np.array([1.0, 0.0, 0.0, 0.0])  # x y z w: fingers pointing down, closing along y
OPEN, CLOSED = 0.08, 0.0
CLEAR = 0.12  # m above the table for carrying


def grasp_quat(cube_quat):
    """Fingers down, turned about z to square up with the cube (its yaw folded into +-45 deg)."""
    x, y, z, w = cube_quat
    yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    yaw = (yaw + np.pi / 4) % (np.pi / 2) - np.pi / 4
    return np.array([np.cos(yaw / 2), np.sin(yaw / 2), 0.0, 0.0])  # yaw about z, then DOWN


class Controller:
    def __init__(self, robot):
        self.robot = robot
        self.dt = robot.dt

    def reset(self, obs):
        self.phase = "above"
        self.cmd = np.array(obs["ee_pos"], dtype=float)
        self.t_phase = obs["t"]
        self.grip = OPEN
        self.quat = DOWN

    def goto(self, target, speed):
        delta = np.asarray(target, dtype=float) - self.cmd
        dist = np.linalg.norm(delta)
        step = speed * self.dt
        self.cmd = self.cmd + (delta if dist <= step else delta * step / dist)
        return dist

    def next(self, phase, obs):
        self.phase, self.t_phase = phase, obs["t"]

    def step(self, obs):
        obj, goal, ee = obs["object_pos"], obs["goal_pos"], obs["ee_pos"]
        t = obs["t"] - self.t_phase
        if self.phase in ("above", "down"):
            self.quat = grasp_quat(obs["object_quat"])
        if self.phase == "above":
            d = self.goto(obj + [0, 0, 0.08], 0.8)
            if d < 1e-3 and np.linalg.norm(ee - self.cmd) < 0.01:
                self.next("down", obs)
        elif self.phase == "down":
            d = self.goto(obj + [0, 0, 0.0], 0.3)
            if d < 1e-3 and np.linalg.norm(ee - self.cmd) < 0.006:
                self.next("close", obs)
        elif self.phase == "close":
            self.grip = CLOSED
            if t > 0.35:
                self.next("lift", obs)
        elif self.phase == "lift":
            z = max(CLEAR, goal[2])
            d = self.goto([self.cmd[0], self.cmd[1], z], 0.5)
            if d < 1e-3:
                self.next("carry", obs)
        elif self.phase == "carry":
            z = max(CLEAR, goal[2])
            d = self.goto([goal[0], goal[1], z], 0.6)
            if d < 1e-3:
                self.next("place", obs)
        elif self.phase == "place":
            d = self.goto(goal, 0.3)
            if d < 1e-3 and np.linalg.norm(obj - goal) < 0.006:
                self.next("release", obs)
        elif self.phase == "release":
            self.grip = OPEN
            if t > 0.4:
                self.goto(goal + [0, 0, 0.1], 0.3)
        return {"ee_pos": self.cmd.copy(), "ee_quat": self.quat, "gripper": self.grip}
