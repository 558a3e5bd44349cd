"""The replay's fixed camera: framed once per clip around what the rollout covers.

The same matrices render the frames (PyBullet's view and projection) and project points to
pixels (`Camera.project`), so what is drawn over a frame (the trail) and what a test computes
lands where the renderer put the bodies.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pybullet as p

YAW, PITCH = 50.0, -28.0  # degrees: a three-quarter view from the front right, looking down
FOV = 45.0  # vertical field of view, degrees
NEAR, FAR = 0.05, 8.0
MARGIN = 0.06  # of the frame's width and height kept clear around the framed points
PAD = 0.1  # m added around the framed points' box (the arm's links have a radius)


@dataclass(frozen=True)
class Camera:
    width: int
    height: int
    target: tuple[float, float, float]
    distance: float
    yaw: float = YAW
    pitch: float = PITCH

    @cached_property
    def view(self) -> list[float]:
        return list(
            p.computeViewMatrixFromYawPitchRoll(
                self.target, self.distance, self.yaw, self.pitch, 0.0, 2
            )
        )

    @cached_property
    def projection(self) -> list[float]:
        return list(p.computeProjectionMatrixFOV(FOV, self.width / self.height, NEAR, FAR))

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points (n, 3) -> pixel positions (n, 2): x right, y down, (0, 0) the top-left
        corner of the top-left pixel."""
        pts = np.atleast_2d(np.asarray(points, dtype=float))
        view = np.asarray(self.view).reshape(4, 4).T  # PyBullet's matrices are column-major
        proj = np.asarray(self.projection).reshape(4, 4).T
        clip = np.c_[pts, np.ones(len(pts))] @ (proj @ view).T
        ndc = clip[:, :3] / clip[:, 3:4]
        x = (ndc[:, 0] + 1.0) / 2.0 * self.width
        y = (1.0 - ndc[:, 1]) / 2.0 * self.height
        return np.c_[x, y]


def frame(points: np.ndarray, width: int, height: int) -> Camera:
    """A camera at the fixed angle that keeps every point, grown by PAD along each axis, inside
    the frame (with MARGIN): aimed at their box's centre, backed off until all of them fit."""
    pts = np.asarray(points, dtype=float).reshape(-1, 3)
    offsets = np.vstack([np.zeros(3), PAD * np.eye(3), -PAD * np.eye(3)])
    pts = (pts[:, None, :] + offsets[None, :, :]).reshape(-1, 3)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    target = tuple(float(v) for v in (lo + hi) / 2.0)
    distance = max(0.5, float(np.linalg.norm(hi - lo)))
    for _ in range(60):
        cam = Camera(width, height, target, distance)  # type: ignore[arg-type]
        px = cam.project(pts)
        inside = (
            (px[:, 0] >= MARGIN * width)
            & (px[:, 0] <= (1 - MARGIN) * width)
            & (px[:, 1] >= MARGIN * height)
            & (px[:, 1] <= (1 - MARGIN) * height)
        )
        if inside.all():
            return cam
        distance *= 1.06
    return cam
