"""KUKA LBR iiwa 14 R820, no gripper (pybullet_data/kuka_iiwa/model.urdf)."""

from __future__ import annotations

from math import pi

from robots.base import RobotSpec
from robots.kinematics import Chain

Z = (0.0, 0.0, 1.0)
H = pi / 2

CHAIN = Chain(
    origins=(
        ((0.0, 0.0, 0.1575), (0.0, 0.0, 0.0)),
        ((0.0, 0.0, 0.2025), (H, 0.0, pi)),
        ((0.0, 0.2045, 0.0), (H, 0.0, pi)),
        ((0.0, 0.0, 0.2155), (H, 0.0, 0.0)),
        ((0.0, 0.1845, 0.0), (-H, pi, 0.0)),
        ((0.0, 0.0, 0.2155), (H, 0.0, 0.0)),
        ((0.0, 0.081, 0.0), (-H, pi, 0.0)),
    ),
    axes=(Z,) * 7,
    tool=((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),  # the frame of lbr_iiwa_link_7
)

SPEC = RobotSpec(
    name="kuka",
    urdf="kuka_iiwa/model.urdf",
    chain=CHAIN,
    arm_joints=(0, 1, 2, 3, 4, 5, 6),
    ee_link=6,
    lower=(-2.96706, -2.0944, -2.96706, -2.0944, -2.96706, -2.0944, -3.05433),
    upper=(2.96706, 2.0944, 2.96706, 2.0944, 2.96706, 2.0944, 3.05433),
    velocity=(1.71, 1.71, 1.75, 2.27, 2.44, 3.14, 3.14),
    torque=(300.0, 300.0, 300.0, 300.0, 300.0, 300.0, 300.0),
    home=(0.0, 0.6, 0.0, -1.4, 0.0, 1.1, 0.0),
)
