"""The replay's world: the task's bodies in a headless PyBullet (DIRECT) world, posed from a
record and rendered with TinyRenderer. Kinematic only: joint states and body poses are set,
the simulation is never stepped and no controller runs.

The world is the simulator's own (loop/sim/world.py with the kind's `build`), so the table,
cubes and colours are what the episode had; the arm is drawn with loop/replay/model.py's light
meshes. The kind's own markers are parked out of sight; the scene draws the recorded target
points itself (spheres: target red, goal green, waypoints blue).

Rendering is two passes: the static bodies (floor, table) once per camera, then every frame
only what moves (arm, objects, markers), composited over them by depth. The floor and table
fill most of the frame and cost TinyRenderer most of its time, so this is several times faster
than drawing everything every frame, and the pixels are the same where nothing overlaps.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pybullet as p

from loop.replay.camera import Camera
from loop.replay.model import light_urdf
from loop.sim.kinds import get_kind
from loop.sim.record import EpisodeRecord
from loop.sim.world import World
from loop.task.spec import TaskSpec
from robots import robot_info, robot_spec

AWAY = (0.0, 0.0, -100.0)  # far outside the camera's range
LIGHT = (0.5, -0.6, 1.0)  # light direction for both passes
MARKERS = {  # recorded point -> (radius m, rgba)
    "target_pos": (0.02, (0.9, 0.12, 0.12, 1.0)),
    "goal_pos": (0.022, (0.1, 0.7, 0.25, 1.0)),
    "waypoints": (0.016, (0.15, 0.35, 0.95, 1.0)),
}
DARK_LINKS = ("hand", "finger", "leftfinger", "rightfinger")


@dataclass(frozen=True)
class Frame:
    """One rendered frame: rgb (h, w, 3) uint8 and seg (h, w) int32, what is under each pixel:
    body + (link + 1) << 24 (PyBullet's object-and-link mask), -1 where only the static floor
    and table are."""

    rgb: np.ndarray
    seg: np.ndarray


def marks_at(record: EpisodeRecord, i: int) -> dict[str, np.ndarray]:
    """The target points to draw at tick i: {kind: (k, 3)}. A point the controller observed
    per tick (record.marks) wins over the episode's constant of the same name."""
    out: dict[str, np.ndarray] = {}
    for key in ("target_pos", "goal_pos"):
        if key in record.marks and len(record.marks[key]):
            out[key] = np.asarray(record.marks[key][i]).reshape(1, 3)
        elif key in record.episode and np.shape(record.episode[key]) == (3,):
            out[key] = np.asarray(record.episode[key], dtype=float).reshape(1, 3)
    if "waypoints" in record.episode:
        out["waypoints"] = np.asarray(record.episode["waypoints"], dtype=float).reshape(-1, 3)
    return out


class Scene:
    """One headless world for one task; pose it from any record of that task, then render."""

    def __init__(self, task: TaskSpec, gui: bool = False) -> None:
        """gui: in PyBullet's window (the arm's own meshes, drawn by OpenGL; no render())."""
        self.task = task
        spec = robot_spec(task.robot)
        self.spec = spec if gui else dataclasses.replace(spec, urdf=light_urdf(spec.urdf))
        self.world = World(self.spec, robot_info(task.robot, task.control_dt), gui=gui)
        get_kind(task.kind)(task).build(self.world)
        w, c = self.world, self.world.client
        self.static = (w.plane, w.table)
        core = {w.robot, *self.static, *w.tracked.values()}
        n = p.getNumBodies(physicsClientId=c)
        for body in [p.getBodyUniqueId(i, physicsClientId=c) for i in range(n)]:
            if body not in core:  # the kind's own markers: the scene draws recorded points
                w.set_pose(body, AWAY)
        self._home = [p.getBasePositionAndOrientation(b, physicsClientId=c) for b in self.static]
        if not gui:
            for body in self.static:  # drawn once per camera by the static pass
                w.set_pose(body, AWAY)
            self._darken_gripper()
        self.markers: dict[str, list[int]] = {key: [] for key in MARKERS}
        self._background: tuple[Camera, np.ndarray, np.ndarray] | None = None

    def _darken_gripper(self) -> None:
        c, robot = self.world.client, self.world.robot
        for j in range(p.getNumJoints(robot, physicsClientId=c)):
            name = p.getJointInfo(robot, j, physicsClientId=c)[12].decode()
            if any(part in name for part in DARK_LINKS):
                p.changeVisualShape(robot, j, rgbaColor=(0.25, 0.25, 0.27, 1), physicsClientId=c)

    # -- posing ----------------------------------------------------------------------------
    def pose(self, record: EpisodeRecord, i: int) -> None:
        """Set the arm, fingers, tracked objects and markers to tick i of `record`."""
        w, c = self.world, self.world.client
        for j, v in zip(w.joints, record.q[i], strict=True):
            p.resetJointState(w.robot, j, float(v), physicsClientId=c)
        fingers = record.fingers[i] if record.fingers.shape[1:] == (len(w.fingers),) else None
        for k, j in enumerate(w.fingers):
            v = fingers[k] if fingers is not None else record.gripper[i] / 2.0
            p.resetJointState(w.robot, j, float(v), physicsClientId=c)
        for name, body in w.tracked.items():
            if name in record.objects and len(record.objects[name]) > i:
                pose = record.objects[name][i]
                p.resetBasePositionAndOrientation(body, pose[:3], pose[3:], physicsClientId=c)
            else:
                w.set_pose(body, AWAY)
        for key, points in marks_at(record, i).items():
            self._place(key, points)

    def _place(self, key: str, points: np.ndarray) -> None:
        bodies = self.markers[key]
        radius, rgba = MARKERS[key]
        c = self.world.client
        while len(bodies) < len(points):  # with a collision shape: only such show in `seg`
            col = p.createCollisionShape(p.GEOM_SPHERE, radius=radius, physicsClientId=c)
            vis = p.createVisualShape(
                p.GEOM_SPHERE, radius=radius, rgbaColor=rgba, physicsClientId=c
            )
            bodies.append(p.createMultiBody(0, col, vis, AWAY, physicsClientId=c))
        for k, body in enumerate(bodies):
            self.world.set_pose(body, points[k] if k < len(points) else AWAY)

    def link_positions(self) -> np.ndarray:
        """World positions (n, 3) of the arm's base and links as posed (for framing)."""
        w, c = self.world, self.world.client
        n = p.getNumJoints(w.robot, physicsClientId=c)
        states = p.getLinkStates(w.robot, list(range(n)), physicsClientId=c)
        base = p.getBasePositionAndOrientation(w.robot, physicsClientId=c)[0]
        return np.array([base, *(s[4] for s in states)])

    # -- rendering ---------------------------------------------------------------------------
    def _image(self, cam: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        _, _, rgba, depth, seg = p.getCameraImage(
            cam.width,
            cam.height,
            cam.view,
            cam.projection,
            lightDirection=LIGHT,
            shadow=0,
            renderer=p.ER_TINY_RENDERER,
            flags=p.ER_SEGMENTATION_MASK_OBJECT_AND_LINKINDEX,
            physicsClientId=self.world.client,
        )
        shape = (cam.height, cam.width)
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(*shape, 4)[..., :3]
        return rgb, np.asarray(depth, np.float32).reshape(shape), np.asarray(seg).reshape(shape)

    def _static_pass(self, cam: Camera) -> tuple[np.ndarray, np.ndarray]:
        """Floor and table alone, rendered once per camera (the moving bodies parked)."""
        if self._background is not None and self._background[0] == cam:
            return self._background[1], self._background[2]
        w, c = self.world, self.world.client
        moving = [w.robot, *w.tracked.values(), *(b for bs in self.markers.values() for b in bs)]
        saved = [p.getBasePositionAndOrientation(b, physicsClientId=c) for b in moving]
        for b in moving:
            p.resetBasePositionAndOrientation(b, AWAY, (0, 0, 0, 1), physicsClientId=c)
        for b, (pos, quat) in zip(self.static, self._home, strict=True):
            p.resetBasePositionAndOrientation(b, pos, quat, physicsClientId=c)
        rgb, depth, _ = self._image(cam)
        for b in self.static:
            p.resetBasePositionAndOrientation(b, AWAY, (0, 0, 0, 1), physicsClientId=c)
        for b, (pos, quat) in zip(moving, saved, strict=True):
            p.resetBasePositionAndOrientation(b, pos, quat, physicsClientId=c)
        self._background = (cam, rgb.copy(), depth)
        return self._background[1], depth

    def render(self, cam: Camera) -> Frame:
        """The scene as posed, seen by `cam`."""
        bg_rgb, bg_depth = self._static_pass(cam)
        rgb, depth, seg = self._image(cam)
        front = depth < bg_depth
        out = bg_rgb.copy()
        out[front] = rgb[front]
        seg = np.where(front, seg, -1).astype(np.int32)
        return Frame(out, seg)

    def close(self) -> None:
        self.world.close()

    def __enter__(self) -> Scene:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
