"""Franka Emika Panda with its two-finger gripper (pybullet_data/franka_panda/panda.urdf)."""

from __future__ import annotations

from math import pi

from robots.base import RobotSpec
from robots.kinematics import Chain

Z = (0.0, 0.0, 1.0)
H = pi / 2

CHAIN = Chain(
    origins=(
        ((0.0, 0.0, 0.333), (0.0, 0.0, 0.0)),
        ((0.0, 0.0, 0.0), (-H, 0.0, 0.0)),
        ((0.0, -0.316, 0.0), (H, 0.0, 0.0)),
        ((0.0825, 0.0, 0.0), (H, 0.0, 0.0)),
        ((-0.0825, 0.384, 0.0), (-H, 0.0, 0.0)),
        ((0.0, 0.0, 0.0), (H, 0.0, 0.0)),
        ((0.088, 0.0, 0.0), (H, 0.0, 0.0)),
    ),
    axes=(Z,) * 7,
    # joint8 (0.107) + hand joint (yaw -pi/4) + grasp target (0.105): between the fingertips
    tool=((0.0, 0.0, 0.212), (0.0, 0.0, -pi / 4)),
)

SPEC = RobotSpec(
    name="panda",
    urdf="franka_panda/panda.urdf",
    chain=CHAIN,
    arm_joints=(0, 1, 2, 3, 4, 5, 6),
    ee_link=11,
    lower=(-2.9671, -1.8326, -2.9671, -3.1416, -2.9671, -0.0873, -2.9671),
    upper=(2.9671, 1.8326, 2.9671, 0.0, 2.9671, 3.8223, 2.9671),
    velocity=(2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61),
    torque=(87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0),
    home=(0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785),
    finger_joints=(9, 10),
    gripper_range=(0.0, 0.08),
    gripper_force=40.0,
)
