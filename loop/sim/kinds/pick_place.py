"""pick_and_place (a cube to a goal in the air or on the table) and stack (a cube onto another)."""

from __future__ import annotations

from typing import Any

import numpy as np

from loop.sim import metrics as m
from loop.sim.kinds.base import Outcome
from loop.sim.kinds.objects import (
    CUBE,
    HALF,
    PARKED,
    ObjectKind,
    asset,
    sample_apart,
    sample_xy,
)
from loop.sim.kinds.registry import register

OBJECT_DOCS = {
    "object_pos": "centre of the cube to move (3,), m, live; the cube is 0.04 m wide, "
    "resting on the table at z = 0.02",
    "object_quat": "orientation of that cube (4,), quaternion x y z w, live",
}


def grasp_line(g: dict[str, Any]) -> list[str]:
    return ObjectKind.grasp_notes(g)


@register
class PickAndPlace(ObjectKind):
    name = "pick_and_place"
    obs_docs = {
        **OBJECT_DOCS,
        "goal_pos": "where the cube centre must end (3,), m, fixed; in the air or on the table",
    }
    randomize = {
        "q_noise": 0.05,
        "object_x": [0.4, 0.6],
        "object_y": [-0.15, 0.15],
        "yaw": [-0.8, 0.8],  # rad, the cube's start heading
        "goal_x": [0.35, 0.6],
        "goal_y": [-0.2, 0.2],
        "goal_z": [0.08, 0.25],  # m, goal centre height when the goal is in the air
        "table_goal_prob": 0.3,  # probability that the goal is on the table (z = 0.02)
        "min_distance": 0.12,  # m, horizontal distance between cube start and goal
    }
    success = {"tolerance": 0.05, "hold_s": 0.5}

    def build(self, world) -> None:
        super().build(world)
        self.marker = world.load_urdf(asset("goal_cube.urdf"), PARKED, fixed=True)

    def randomize_episode(self, world, rng) -> dict[str, Any]:
        r = self.task.randomize
        obj = sample_xy(rng, r, "object")
        yaw = float(rng.uniform(*r["yaw"]))
        goal = sample_apart(rng, r, "goal", [obj], r["min_distance"])
        on_table = rng.uniform() < r["table_goal_prob"]
        z = HALF if on_table else float(rng.uniform(*r["goal_z"]))
        self.place_cube(world, self.cube, obj, yaw)
        goal_pos = np.array([goal[0], goal[1], z])
        world.set_pose(self.marker, goal_pos)
        return {"goal_pos": goal_pos}

    def evaluate(self, record) -> Outcome:
        s = self.task.success
        tol, hold = s["tolerance"], s["hold_s"]
        obj = record.objects["object"]
        goal = np.asarray(record.episode["goal_pos"])
        dist = np.linalg.norm(obj[:, :3] - goal, axis=1)
        success, t_ok, _ = self.finish(record, dist, tol, hold)
        g = self.grasp_metrics(record, obj)
        metrics = {**self.base_metrics(record, dist, obj), "time_to_success": t_ok, **g}
        return Outcome(
            success, self.score(success, dist), metrics, self._message(record, metrics, dist, tol)
        )

    def _message(self, record, mt: dict[str, Any], dist: np.ndarray, tol: float) -> str:
        hold = self.task.success["hold_s"]
        if mt["time_to_success"] is not None:
            parts = [f"cube within {tol} m of the goal from t={mt['time_to_success']:.1f} s"]
        else:
            parts = [
                f"cube ended {mt['final_distance']:.3f} m from the goal (needs < {tol} m for "
                f"the last {hold} s; closest {mt['min_distance']:.3f} m)",
                *grasp_line(mt),
                f"cube-goal distance {m.timeline(record.t, dist)}",
            ]
        notes = m.common_notes(mt)
        return "; ".join(parts + ([notes] if notes else []))


@register
class Stack(ObjectKind):
    name = "stack"
    obs_docs = {
        **OBJECT_DOCS,
        "base_pos": "centre of the blue cube to stack onto (3,), m, live (0.04 m wide)",
        "base_quat": "orientation of the blue cube (4,), quaternion x y z w, live",
        "goal_pos": "where the moved cube's centre must end (3,), m, live: 0.04 m above base_pos",
    }
    randomize = {
        "q_noise": 0.05,
        "object_x": [0.4, 0.6],
        "object_y": [-0.15, 0.15],
        "base_x": [0.4, 0.6],
        "base_y": [-0.2, 0.2],
        "yaw": [-0.8, 0.8],  # rad, both cubes' start heading
        "min_distance": 0.1,  # m between the two cubes (horizontal)
    }
    # tolerance: moved cube centre to the top of the base cube; released: the fingers must be
    # open wider than the cube (it rests on the base, not held) for the last hold_s
    success = {"tolerance": 0.02, "hold_s": 0.5, "released": True}

    def build(self, world) -> None:
        super().build(world)
        self.base = world.load_urdf(asset("cube_blue.urdf"), (0.0, -2.0, -1.0))
        world.track("base", self.base)

    def randomize_episode(self, world, rng) -> dict[str, Any]:
        r = self.task.randomize
        obj = sample_xy(rng, r, "object")
        base = sample_apart(rng, r, "base", [obj], r["min_distance"])
        self.place_cube(world, self.cube, obj, float(rng.uniform(*r["yaw"])))
        self.place_cube(world, self.base, base, float(rng.uniform(*r["yaw"])))
        return {"base_start": np.array([base[0], base[1], HALF])}

    def live(self, world, pose: np.ndarray) -> dict[str, Any]:
        base = world.pose(self.base)
        return {
            "base_pos": base[:3],
            "base_quat": base[3:],
            "goal_pos": base[:3] + np.array([0.0, 0.0, CUBE]),
        }

    def evaluate(self, record) -> Outcome:
        s = self.task.success
        tol, hold = s["tolerance"], s["hold_s"]
        obj, base = record.objects["object"], record.objects["base"]
        goal = base[:, :3] + np.array([0.0, 0.0, CUBE])
        dist = np.linalg.norm(obj[:, :3] - goal, axis=1)
        released = record.gripper > CUBE + 0.005
        base_down = base[:, 2] < HALF + 0.01
        extra = base_down & (released if s["released"] else True)
        success, t_ok, _ = self.finish(record, dist, tol, hold, extra)
        g = self.grasp_metrics(record, obj)
        metrics = {
            **self.base_metrics(record, dist, obj),
            "time_to_success": t_ok,
            "released_at_end": bool(released[-1]),
            "base_moved": float(np.linalg.norm(base[-1, :2] - base[0, :2])),
            "base_lifted": bool(not base_down[-1]),
            **g,
        }
        return Outcome(
            success, self.score(success, dist), metrics, self._message(record, metrics, dist, tol)
        )

    def _message(self, record, mt: dict[str, Any], dist: np.ndarray, tol: float) -> str:
        hold = self.task.success["hold_s"]
        if mt["time_to_success"] is not None:
            parts = [f"cube resting on the blue cube from t={mt['time_to_success']:.1f} s"]
        else:
            parts = [
                f"cube ended {mt['final_distance']:.3f} m from the top of the blue cube (needs "
                f"< {tol} m, released, for the last {hold} s; closest {mt['min_distance']:.3f} m)",
                *grasp_line(mt),
            ]
            if self.task.success["released"] and not mt["released_at_end"]:
                parts.append(
                    f"the gripper was still closed at the end (opening {record.gripper[-1]:.3f} m)"
                )
            if mt["base_lifted"]:
                parts.append("the blue cube is no longer on the table")
            elif mt["base_moved"] > 0.01:
                parts.append(f"the blue cube was pushed {mt['base_moved']:.3f} m")
            parts.append(f"distance to the top of the blue cube {m.timeline(record.t, dist)}")
        notes = m.common_notes(mt)
        return "; ".join(parts + ([notes] if notes else []))
