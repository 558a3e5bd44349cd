"""Reference controller for `push`: closed fingers behind the cube, push it along the
cube-to-goal line, steering from the live cube position; re-approach if it slips sideways.

Phases: above the pre-push point -> down beside the table -> push -> back off upwards.
"""

import numpy as np

DOWN = np.array([1.0, 0.0, 0.0, 0.0])  # x y z w: fingers pointing down
Z_PUSH = 0.025  # m, end-effector height while pushing (fingertips ~1 cm above the table)
BEHIND = 0.045  # m from the cube centre to the end effector when touching its back face


class Controller:
    def __init__(self, robot):
        self.robot = robot
        self.dt = robot.dt

    def reset(self, obs):
        self.cmd = np.array(obs["ee_pos"], dtype=float)
        self.phase = "above"

    def goto(self, target, speed):
        delta = np.asarray(target, dtype=float) - self.cmd
        dist = np.linalg.norm(delta)
        step = speed * self.dt
        self.cmd = self.cmd + (delta if dist <= step else delta * step / dist)
        return dist

    def step(self, obs):
        obj, goal, ee = obs["object_pos"], obs["goal_pos"], obs["ee_pos"]
        to_goal = (goal - obj)[:2]
        remaining = np.linalg.norm(to_goal)
        u = np.append(to_goal / max(remaining, 1e-9), 0.0)
        pre = obj - u * (BEHIND + 0.02)
        pre[2] = Z_PUSH
        if self.phase == "above":
            if self.goto(pre + [0, 0, 0.08], 0.8) < 1e-3 and np.linalg.norm(ee - self.cmd) < 0.01:
                self.phase = "down"
        elif self.phase == "down":
            if self.goto(pre, 0.4) < 1e-3 and np.linalg.norm(ee - self.cmd) < 0.006:
                self.phase = "push"
        elif self.phase == "push":
            rel = (ee - obj)[:2]
            lateral = abs(rel[0] * u[1] - rel[1] * u[0])  # off the cube-goal line
            if remaining < 0.005:
                self.phase = "done"
            elif lateral > 0.015 or rel @ u[:2] > -0.02:
                self.phase = "above"  # slipped off the cube's back face: approach again
            else:
                # aim past the touching point (~0.03 m) so the cube keeps moving; the lead
                # shrinks to zero as the cube reaches the goal
                lead = min(0.04, remaining + 0.015)
                target = obj - u * BEHIND + u * lead
                target[2] = Z_PUSH
                self.goto(target, 0.25)
        else:
            self.goto([self.cmd[0], self.cmd[1], 0.12], 0.2)
        return {"ee_pos": self.cmd.copy(), "ee_quat": DOWN, "gripper": 0.0}
