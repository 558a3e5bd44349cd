"""push: slide a 4 cm cube across the table to a goal on the table."""

from __future__ import annotations

from typing import Any

import numpy as np

from loop.sim import metrics as m
from loop.sim.kinds.base import Outcome
from loop.sim.kinds.objects import HALF, ObjectKind, asset, sample_apart, sample_xy
from loop.sim.kinds.registry import register


@register
class Push(ObjectKind):
    name = "push"
    obs_docs = {
        "object_pos": "cube centre (3,), m, live; the cube is 0.04 m wide, resting at z = 0.02",
        "object_quat": "cube orientation (4,), quaternion x y z w, live",
        "goal_pos": "where the cube centre must end (3,), m, on the table (z = 0.02), fixed",
    }
    randomize = {
        "q_noise": 0.05,
        "object_x": [0.4, 0.6],
        "object_y": [-0.15, 0.15],
        "goal_x": [0.35, 0.65],
        "goal_y": [-0.25, 0.25],
        "min_distance": 0.12,  # m between the cube's start and the goal
        "max_distance": 0.25,
        "yaw": [-0.5, 0.5],  # rad, the cube's start heading
    }
    success = {"tolerance": 0.05, "hold_s": 0.5}

    def build(self, world) -> None:
        super().build(world)
        self.marker = world.load_urdf(asset("goal_cube.urdf"), (0, 0, -1), fixed=True)

    def randomize_episode(self, world, rng) -> dict[str, Any]:
        r = self.task.randomize
        obj = sample_xy(rng, r, "object")
        yaw = float(rng.uniform(*r["yaw"]))
        for _ in range(200):
            goal = sample_apart(rng, r, "goal", [obj], r["min_distance"])
            if np.linalg.norm(goal - obj) <= r["max_distance"]:
                break
        self.place_cube(world, self.cube, obj, yaw)
        goal_pos = np.array([goal[0], goal[1], HALF])
        world.set_pose(self.marker, goal_pos)
        return {"goal_pos": goal_pos, "object_start": np.array([obj[0], obj[1], HALF])}

    def evaluate(self, record) -> Outcome:
        s = self.task.success
        tol, hold = s["tolerance"], s["hold_s"]
        obj = record.objects["object"]
        goal = np.asarray(record.episode["goal_pos"])
        dist = np.linalg.norm(obj[:, :3] - goal, axis=1)
        success, t_ok, _ = self.finish(record, dist, tol, hold)
        g = self.grasp_metrics(record, obj)
        contact = np.linalg.norm(obj[:, :3] - obj[0, :3], axis=1) > 0.005
        first_move = float(record.t[np.argmax(contact)]) if contact.any() else None
        metrics = {
            **self.base_metrics(record, dist, obj),
            "time_to_success": t_ok,
            "first_moved": first_move,
            "max_height": float(obj[:, 2].max()),
            "off_table": bool(obj[-1, 2] < 0.0),
            "max_lift": g["max_lift"],
        }
        return Outcome(
            success, self.score(success, dist), metrics, self._message(record, metrics, dist, tol)
        )

    def _message(self, record, mt: dict[str, Any], dist: np.ndarray, tol: float) -> str:
        hold = self.task.success["hold_s"]
        if mt["time_to_success"] is not None:
            head = f"cube within {tol} m of the goal from t={mt['time_to_success']:.1f} s"
        else:
            head = (
                f"cube ended {mt['final_distance']:.3f} m from the goal (needs < {tol} m for "
                f"the last {hold} s; closest {mt['min_distance']:.3f} m)"
            )
        parts = [head, f"cube-goal distance {m.timeline(record.t, dist)}"]
        if mt["first_moved"] is None:
            parts.append("the cube never moved")
        else:
            parts.append(f"the cube first moved at t={mt['first_moved']:.1f} s")
        if mt["off_table"]:
            parts.append("the cube fell off the table")
        elif mt["max_height"] > HALF + 0.02:
            parts.append(f"the cube left the table surface (up to z={mt['max_height']:.3f} m)")
        notes = m.common_notes(mt)
        return "; ".join(parts + ([notes] if notes else []))
