"""Pure-numpy kinematics of a serial revolute chain: FK, Jacobian, damped-least-squares IK.

A chain is the URDF's joint origins (xyz, rpy) with each joint's axis, plus a fixed tool
transform from the last joint's child link to the end-effector frame. No simulator involved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Vec = tuple[float, float, float]


def rpy_matrix(rpy: Vec) -> np.ndarray:
    """URDF roll-pitch-yaw (fixed axes X, Y, Z) to a rotation matrix."""
    r, p, y = rpy
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


def transform(xyz: Vec, rpy: Vec) -> np.ndarray:
    t = np.eye(4)
    t[:3, :3] = rpy_matrix(rpy)
    t[:3, 3] = xyz
    return t


def axis_rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues: rotation by `angle` about unit `axis`, as a 4x4 transform."""
    x, y, z = axis
    c, s, v = np.cos(angle), np.sin(angle), 1.0 - np.cos(angle)
    t = np.eye(4)
    t[:3, :3] = [
        [x * x * v + c, x * y * v - z * s, x * z * v + y * s],
        [y * x * v + z * s, y * y * v + c, y * z * v - x * s],
        [z * x * v - y * s, z * y * v + x * s, z * z * v + c],
    ]
    return t


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Rotation matrix to quaternion (x, y, z, w), w >= 0."""
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0:
        s = 2.0 * np.sqrt(tr + 1.0)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s]
    q = np.asarray(q, dtype=float)
    q /= np.linalg.norm(q)
    return -q if q[3] < 0 else q


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    x, y, z, w = np.asarray(q, dtype=float) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def rotation_error(current: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Axis-angle vector (world frame) rotating `current` onto `target` (3x3 matrices)."""
    r = target @ current.T
    angle = np.arccos(np.clip((np.trace(r) - 1.0) / 2.0, -1.0, 1.0))
    v = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    s = np.sin(angle)
    if s < 1e-6:
        return 0.5 * v
    return v * (angle / (2.0 * s))


@dataclass(frozen=True, eq=False)
class Chain:
    """Serial revolute chain: per joint (origin xyz, origin rpy, axis); then the tool frame."""

    origins: tuple[tuple[Vec, Vec], ...]
    axes: tuple[Vec, ...]
    tool: tuple[Vec, Vec] = ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0))

    def frames(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World joint positions (n,3), world joint axes (n,3), end-effector transform (4,4)."""
        t = np.eye(4)
        pos, axes = np.empty((len(self.axes), 3)), np.empty((len(self.axes), 3))
        for i, ((xyz, rpy), axis) in enumerate(zip(self.origins, self.axes, strict=True)):
            t = t @ transform(xyz, rpy)
            a = np.asarray(axis, dtype=float)
            pos[i], axes[i] = t[:3, 3], t[:3, :3] @ a
            t = t @ axis_rotation(a, float(q[i]))
        return pos, axes, t @ transform(*self.tool)

    def fk(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        _, _, t = self.frames(np.asarray(q, dtype=float))
        return t[:3, 3].copy(), matrix_to_quat(t[:3, :3])

    def jacobian(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """6xn geometric Jacobian (linear rows first) and the end-effector transform."""
        pos, axes, t = self.frames(q)
        jv = np.cross(axes, t[:3, 3] - pos).T
        return np.vstack([jv, axes.T]), t

    def ik(
        self,
        pos: np.ndarray,
        quat: np.ndarray | None,
        q0: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        iters: int = 60,
        damping: float = 0.05,
        tol: float = 1e-4,
    ) -> np.ndarray:
        """Damped least squares from q0, clamped to [lower, upper] each iteration."""
        q = np.clip(np.asarray(q0, dtype=float).copy(), lower, upper)
        target = np.asarray(pos, dtype=float)
        rot = None if quat is None else quat_to_matrix(np.asarray(quat, dtype=float))
        lam2 = damping * damping
        for _ in range(iters):
            jac, t = self.jacobian(q)
            err = target - t[:3, 3]
            if rot is not None:
                err = np.concatenate([err, 0.5 * rotation_error(t[:3, :3], rot)])
            else:
                jac = jac[:3]
            if np.linalg.norm(err) < tol:
                break
            dq = jac.T @ np.linalg.solve(jac @ jac.T + lam2 * np.eye(len(err)), err)
            step = np.linalg.norm(dq)
            if step > 0.5:
                dq *= 0.5 / step
            q = np.clip(q + dq, lower, upper)
        return q
