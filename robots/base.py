"""RobotSpec (what the simulator needs) and RobotInfo (what a controller receives)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from robots.kinematics import Chain


@dataclass(frozen=True, eq=False)
class RobotSpec:
    """One arm: URDF (relative to pybullet_data), joint indices, limits, home pose, kinematics."""

    name: str
    urdf: str
    chain: Chain
    arm_joints: tuple[int, ...]
    ee_link: int
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    velocity: tuple[float, ...]
    torque: tuple[float, ...]
    home: tuple[float, ...]
    finger_joints: tuple[int, ...] = ()
    gripper_range: tuple[float, float] = (0.0, 0.0)  # total finger opening, m
    gripper_force: float = 20.0
    base_pos: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True, eq=False)
class RobotInfo:
    """The `robot` a controller receives: a plain description plus pure numpy kinematics.

    Attributes: name, dof, dt (control period, s), joint_lower / joint_upper (rad),
    velocity_limit (rad/s), torque_limit (N m), home_q, has_gripper, gripper_range
    (min, max finger opening in m). Positions are in the world frame (the arm's base
    is at `base_pos`); quaternions are (x, y, z, w).
    """

    name: str
    dof: int
    dt: float
    joint_lower: np.ndarray
    joint_upper: np.ndarray
    velocity_limit: np.ndarray
    torque_limit: np.ndarray
    home_q: np.ndarray
    has_gripper: bool
    gripper_range: tuple[float, float]
    base_pos: np.ndarray
    chain: Chain = field(repr=False)

    def fk(self, q) -> tuple[np.ndarray, np.ndarray]:
        """Forward kinematics: joint angles (dof,) -> end-effector (pos (3,), quat (4,) x y z w)."""
        pos, quat = self.chain.fk(np.asarray(q, dtype=float))
        return pos + self.base_pos, quat

    def ik(self, pos, quat=None, q0=None) -> np.ndarray:
        """Inverse kinematics: end-effector position (3,) [and quat (4,)] -> joint angles (dof,).

        Damped least squares started from q0 (default: home_q), within the joint limits.
        Pass the current q as q0 for the solution nearest to where the arm is.
        """
        start = self.home_q if q0 is None else np.asarray(q0, dtype=float)
        local = np.asarray(pos, dtype=float) - self.base_pos
        return self.chain.ik(local, quat, start, self.joint_lower, self.joint_upper)


def info_from_spec(spec: RobotSpec, control_dt: float) -> RobotInfo:
    arr = lambda v: np.array(v, dtype=float)  # noqa: E731
    return RobotInfo(
        name=spec.name,
        dof=len(spec.arm_joints),
        dt=float(control_dt),
        joint_lower=arr(spec.lower),
        joint_upper=arr(spec.upper),
        velocity_limit=arr(spec.velocity),
        torque_limit=arr(spec.torque),
        home_q=arr(spec.home),
        has_gripper=bool(spec.finger_joints),
        gripper_range=spec.gripper_range,
        base_pos=arr(spec.base_pos),
        chain=spec.chain,
    )
