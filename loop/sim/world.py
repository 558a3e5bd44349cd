"""The warm world: plane, table, arm and the kind's objects, loaded once per worker process.

Episodes reset with restoreState (never by reloading URDFs); afterwards the motor targets
are re-issued at the current joint positions so no stale POSITION_CONTROL target survives.
Physics runs at 240 Hz. The table top is at z = 0; the arm's base stands on it at (0, 0, 0).
"""

from __future__ import annotations

import os

import numpy as np
import pybullet as p
import pybullet_data

from loop.task.contract import Action
from loop.task.spec import PHYSICS_HZ
from robots import RobotInfo, RobotSpec

TABLE_HALF = (0.65, 0.6, 0.2)  # x, y, z half extents: top at z = 0
TABLE_CENTER = (0.35, 0.0, -0.2)
LIMIT_MARGIN = 0.01  # rad: a joint this close to its limit counts as hitting it


def connect(gui: bool) -> int:
    client = p.connect(p.GUI if gui else p.DIRECT)
    if gui:
        p.configureDebugVisualizer(p.COV_ENABLE_GUI, 0, physicsClientId=client)
        p.resetDebugVisualizerCamera(1.3, 50, -30, (0.3, 0, 0.1), physicsClientId=client)
    return client


class World:
    """One PyBullet world. Kinds add bodies with add_box / add_marker / load_urdf / track."""

    def __init__(self, spec: RobotSpec, info: RobotInfo, gui: bool = False) -> None:
        self.spec, self.info, self.gui = spec, info, gui
        self.client = connect(gui)
        self.tracked: dict[str, int] = {}
        self.mode = "q"
        c = self.client
        p.setPhysicsEngineParameter(
            fixedTimeStep=1.0 / PHYSICS_HZ,
            numSolverIterations=20,
            deterministicOverlappingPairs=1,
            physicsClientId=c,
        )
        p.setGravity(0, 0, -9.81, physicsClientId=c)
        data = pybullet_data.getDataPath()
        self.plane = p.loadURDF(
            os.path.join(data, "plane.urdf"), (0, 0, -2 * TABLE_HALF[2]), physicsClientId=c
        )
        self.table = self.add_box(TABLE_HALF, TABLE_CENTER, mass=0.0, rgba=(0.75, 0.6, 0.45, 1))
        self.robot = p.loadURDF(
            os.path.join(data, spec.urdf),
            spec.base_pos,
            useFixedBase=True,
            flags=p.URDF_ENABLE_CACHED_GRAPHICS_SHAPES,
            physicsClientId=c,
        )
        self.joints = list(spec.arm_joints)
        self.fingers = list(spec.finger_joints)
        self.finger_q = np.zeros(len(self.fingers))  # finger joint positions at the last observe
        self.state: int | None = None
        self.set_q(info.home_q)
        for j in self.fingers:  # open
            p.resetJointState(self.robot, j, info.gripper_range[1] / 2, physicsClientId=c)

    # -- building (once per worker) ------------------------------------------------------
    def add_box(self, half, pos, mass=0.1, rgba=(0.8, 0.2, 0.2, 1), quat=(0, 0, 0, 1)) -> int:
        c = self.client
        col = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=c)
        vis = p.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=rgba, physicsClientId=c)
        return p.createMultiBody(mass, col, vis, pos, quat, physicsClientId=c)

    def add_marker(self, radius=0.02, rgba=(0.1, 0.8, 0.1, 0.6), pos=(0, 0, -1)) -> int:
        """A visual-only sphere (no collision, no mass): targets and waypoints."""
        vis = p.createVisualShape(
            p.GEOM_SPHERE, radius=radius, rgbaColor=rgba, physicsClientId=self.client
        )
        return p.createMultiBody(0, -1, vis, pos, physicsClientId=self.client)

    def load_urdf(self, path: str, pos, quat=(0, 0, 0, 1), fixed=False, scale=1.0) -> int:
        return p.loadURDF(
            path, pos, quat, useFixedBase=fixed, globalScaling=scale, physicsClientId=self.client
        )

    def track(self, name: str, body: int) -> None:
        """Record this body's pose (pos + quat, (7,)) every control tick as `objects[name]`."""
        self.tracked[name] = body

    def save(self) -> None:
        """Snapshot after building; every episode starts from it."""
        self.state = p.saveState(physicsClientId=self.client)

    # -- episodes ------------------------------------------------------------------------
    def restore(self) -> None:
        p.restoreState(self.state, physicsClientId=self.client)
        self.hold(self.joint_state()[0])
        self.set_gripper(self.info.gripper_range[1] if self.fingers else None)

    def set_q(self, q) -> None:
        """Teleport the arm to q at rest and hold it there."""
        for j, v in zip(self.joints, q, strict=True):
            p.resetJointState(self.robot, j, float(v), 0.0, physicsClientId=self.client)
        self.hold(np.asarray(q, dtype=float))

    def hold(self, q: np.ndarray) -> None:
        """Clear motor targets: position servos at q, zero velocity (used after any reset)."""
        self.mode = "q"
        self._position(q)

    def set_pose(self, body: int, pos, quat=(0, 0, 0, 1)) -> None:
        c = self.client
        p.resetBasePositionAndOrientation(body, pos, quat, physicsClientId=c)
        p.resetBaseVelocity(body, (0, 0, 0), (0, 0, 0), physicsClientId=c)

    def pose(self, body: int) -> np.ndarray:
        pos, quat = p.getBasePositionAndOrientation(body, physicsClientId=self.client)
        return np.array(pos + quat)

    def step(self, n: int) -> None:
        for _ in range(n):
            p.stepSimulation(physicsClientId=self.client)

    # -- state ---------------------------------------------------------------------------
    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        states = p.getJointStates(self.robot, self.joints, physicsClientId=self.client)
        return np.array([s[0] for s in states]), np.array([s[1] for s in states])

    def ee_pose(self) -> tuple[np.ndarray, np.ndarray]:
        ls = p.getLinkState(
            self.robot,
            self.spec.ee_link,
            computeForwardKinematics=True,
            physicsClientId=self.client,
        )
        return np.array(ls[4]), np.array(ls[5])

    def gripper(self) -> float:
        if not self.fingers:
            return 0.0
        states = p.getJointStates(self.robot, self.fingers, physicsClientId=self.client)
        self.finger_q = np.array([s[0] for s in states])
        return float(self.finger_q.sum())

    def table_contact(self) -> bool:
        return bool(p.getContactPoints(self.robot, self.table, physicsClientId=self.client))

    def contacts(self, a: int, b: int) -> bool:
        return bool(p.getContactPoints(a, b, physicsClientId=self.client))

    def observe(self, t: float) -> dict:
        q, dq = self.joint_state()
        pos, quat = self.ee_pose()
        obs = {"t": t, "q": q, "dq": dq, "ee_pos": pos, "ee_quat": quat}
        if self.fingers:
            obs["gripper"] = self.gripper()
        return obs

    # -- actuation -----------------------------------------------------------------------
    def apply(self, action: Action, q_now: np.ndarray) -> None:
        if action.mode == "ee_pos":
            self._position(self.info.ik(action.values, action.quat, q0=q_now))
        elif action.mode == "q":
            self._position(action.values)
        elif action.mode == "dq":
            self._velocity(
                np.clip(action.values, -self.info.velocity_limit, self.info.velocity_limit)
            )
        else:
            self._torque(np.clip(action.values, -self.info.torque_limit, self.info.torque_limit))
        if action.gripper is not None:
            self.set_gripper(action.gripper)

    def _position(self, q: np.ndarray) -> None:
        """Position servos with the arm's force and velocity limits (one call per joint:
        only setJointMotorControl2 takes maxVelocity)."""
        q = np.clip(q, self.info.joint_lower, self.info.joint_upper)
        self.mode = "q"
        for j, target, force, vmax in zip(
            self.joints, q.tolist(), self.spec.torque, self.spec.velocity, strict=True
        ):
            p.setJointMotorControl2(
                self.robot,
                j,
                p.POSITION_CONTROL,
                targetPosition=target,
                targetVelocity=0.0,
                force=force,
                maxVelocity=vmax,
                physicsClientId=self.client,
            )

    def _velocity(self, dq: np.ndarray) -> None:
        self.mode = "dq"
        p.setJointMotorControlArray(
            self.robot,
            self.joints,
            p.VELOCITY_CONTROL,
            targetVelocities=dq.tolist(),
            forces=self.info.torque_limit.tolist(),
            physicsClientId=self.client,
        )

    def _torque(self, tau: np.ndarray) -> None:
        c = self.client
        if self.mode != "tau":  # the default velocity motors would fight the torques
            p.setJointMotorControlArray(
                self.robot,
                self.joints,
                p.VELOCITY_CONTROL,
                forces=[0.0] * len(self.joints),
                physicsClientId=c,
            )
            self.mode = "tau"
        p.setJointMotorControlArray(
            self.robot, self.joints, p.TORQUE_CONTROL, forces=tau.tolist(), physicsClientId=c
        )

    def set_gripper(self, opening: float | None) -> None:
        if opening is None or not self.fingers:
            return
        half = opening / 2.0
        p.setJointMotorControlArray(
            self.robot,
            self.fingers,
            p.POSITION_CONTROL,
            targetPositions=[half, half],
            forces=[self.spec.gripper_force] * 2,
            physicsClientId=self.client,
        )

    def limit_hits(self, q: np.ndarray) -> np.ndarray:
        lo, hi = self.info.joint_lower, self.info.joint_upper
        return (q <= lo + LIMIT_MARGIN) | (q >= hi - LIMIT_MARGIN)

    def close(self) -> None:
        try:
            p.disconnect(physicsClientId=self.client)
        except p.error:
            pass
