"""Shared pieces of the object kinds (push, pick_and_place, stack): cubes, goals, grasp metrics.

Not a kind itself (nothing registered here). Everything the scoring side needs is derived from
the record alone: object poses (world.track), end-effector position and finger opening.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pybullet as p

from loop import ASSETS_DIR
from loop.sim import metrics as m
from loop.sim.kinds.base import Kind

CUBE = 0.04  # edge, m
HALF = CUBE / 2
NEAR = 0.03  # m: object centre this close to the end effector counts as "in the hand"
LIFTED = 0.01  # m above its start height counts as lifted
DROP = 0.03  # m: falling this far after leaving the hand counts as a drop
PARKED = (0.0, 2.0, -1.0)  # where unused bodies wait (under the table, out of the way)


def couple_fingers(world) -> None:
    """Gear the two finger joints together (ratio -1), like the real Panda's coupled fingers.

    Without it both finger motors saturate while squeezing, the grasp is neutrally stable and
    a carried cube drifts sideways until one finger bottoms out.
    """
    if len(world.fingers) != 2:
        return
    a, b = world.fingers
    c = p.createConstraint(
        world.robot,
        a,
        world.robot,
        b,
        p.JOINT_GEAR,
        (1, 0, 0),
        (0, 0, 0),
        (0, 0, 0),
        physicsClientId=world.client,
    )
    p.changeConstraint(c, gearRatio=-1, erp=0.1, maxForce=50, physicsClientId=world.client)


def asset(name: str) -> str:
    return str(ASSETS_DIR / name)


def yaw_quat(yaw: float) -> np.ndarray:
    return np.array([0.0, 0.0, np.sin(yaw / 2), np.cos(yaw / 2)])


def sample_xy(rng: np.random.Generator, r: dict[str, Any], prefix: str) -> np.ndarray:
    return np.array([rng.uniform(*r[f"{prefix}_x"]), rng.uniform(*r[f"{prefix}_y"])])


def sample_apart(
    rng: np.random.Generator, r: dict[str, Any], prefix: str, others: list[np.ndarray], gap: float
) -> np.ndarray:
    """An (x, y) in the `prefix_x`/`prefix_y` box at least `gap` m from each of `others`."""
    xy = sample_xy(rng, r, prefix)
    for _ in range(200):
        if all(np.linalg.norm(xy - o[:2]) >= gap for o in others):
            break
        xy = sample_xy(rng, r, prefix)
    return xy


def held_since(t: np.ndarray, ok: np.ndarray) -> float | None:
    """Earliest time from which `ok` stays true to the end (None if false at the end)."""
    if not len(ok) or not ok[-1]:
        return None
    bad = np.flatnonzero(~ok)
    return float(t[bad[-1] + 1]) if bad.size else float(t[0])


class ObjectKind(Kind):
    """Base for kinds with one moved cube (`object`). Subclasses add goals and scoring."""

    cube_urdf = "cube.urdf"

    def build(self, world) -> None:
        couple_fingers(world)
        self.cube = world.load_urdf(asset(self.cube_urdf), PARKED)
        world.track("object", self.cube)

    def place_cube(self, world, body: int, xy: np.ndarray, yaw: float, z: float = HALF) -> None:
        world.set_pose(body, (float(xy[0]), float(xy[1]), z), yaw_quat(yaw))

    def observe(self, world, t: float) -> dict[str, Any]:
        pose = world.pose(self.cube)
        obs = {"object_pos": pose[:3], "object_quat": pose[3:]}
        obs.update(self.live(world, pose))
        for k in self.task.obs_keys:
            if k not in obs and k in self.episode:
                obs[k] = np.array(self.episode[k], dtype=float)
        return {k: obs[k] for k in self.task.obs_keys}

    def live(self, world, pose: np.ndarray) -> dict[str, Any]:
        """Extra observation keys computed from the simulator each tick (stack: the base cube)."""
        return {}

    # -- scoring helpers (record only) ---------------------------------------------------
    @staticmethod
    def grasp_metrics(record, obj: np.ndarray) -> dict[str, Any]:
        """Lift, carry, drop and gripper-closing facts about object trajectory `obj` (n, 7)."""
        t, ee, grip = record.t, record.ee_pos, record.gripper
        pos = obj[:, :3]
        z0 = float(pos[0, 2])
        gap = np.linalg.norm(pos - ee, axis=1)
        lift = pos[:, 2] - z0
        carried = (gap < NEAR) & (lift > LIFTED)
        out: dict[str, Any] = {
            "max_lift": float(max(lift.max(), 0.0)),
            "carried_s": float(carried.sum() * (t[1] - t[0])) if len(t) > 1 else 0.0,
            "dropped": False,
            "drop_time": None,
            "drop_height": 0.0,
            "close_time": None,
            "close_gap": None,
        }
        # dropped: a carried stretch ended with the object leaving the hand (not set down),
        # and from its last carried height it fell more than DROP
        for i in np.flatnonzero(carried[:-1] & ~carried[1:]):
            if gap[i + 1] > NEAR:
                fall = float(pos[i, 2] - pos[i + 1 :, 2].min())
                if fall > DROP:
                    out.update(dropped=True, drop_time=float(t[i]), drop_height=fall)
                    break
        # the gripper started closing: the opening fell below 75% of the widest it had been
        widest = np.maximum.accumulate(grip)
        closing = np.flatnonzero((grip < 0.75 * widest) & (widest > 0.05))
        if closing.size:
            i = int(closing[0])
            out.update(close_time=float(t[i]), close_gap=float(gap[i]))
        return out

    @staticmethod
    def grasp_notes(g: dict[str, Any]) -> list[str]:
        notes = []
        if g["max_lift"] <= LIFTED:
            notes.append(f"it was never lifted above {LIFTED} m")
        else:
            notes.append(f"lifted at most {g['max_lift']:.3f} m above its start")
        if g["dropped"]:
            notes.append(
                f"it left the gripper at t={g['drop_time']:.1f} s and fell {g['drop_height']:.3f} m"
            )
        if g["close_time"] is None:
            notes.append("the gripper never closed")
        else:
            notes.append(
                f"the gripper closed at t={g['close_time']:.1f} s with the end effector "
                f"{g['close_gap']:.3f} m from the cube centre"
            )
        return notes

    @staticmethod
    def finish(
        record, dist: np.ndarray, tol: float, hold: float, extra_ok: np.ndarray | None = None
    ) -> tuple[bool, float | None, np.ndarray]:
        """Success (within `tol` for the last `hold` s), time to success, the ok mask."""
        t = record.t
        ok = dist <= tol
        if extra_ok is not None:
            ok &= extra_ok
        held = t >= t[-1] - hold + 1e-9
        success = bool(np.all(ok[held])) and record.failure is None
        return success, (held_since(t, ok) if success else None), ok

    @staticmethod
    def base_metrics(record, dist: np.ndarray, obj: np.ndarray) -> dict[str, Any]:
        return {
            "final_distance": float(dist[-1]),
            "min_distance": float(dist.min()),
            "initial_distance": float(dist[0]),
            "object_final_pos": [round(float(v), 4) for v in obj[-1, :3]],
            **m.common(record),
        }

    @staticmethod
    def score(success: bool, dist: np.ndarray) -> float:
        return 1.0 if success else m.shaped(float(dist[-1]), float(dist[0]))
