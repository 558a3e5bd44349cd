"""Robot arms: plain descriptions plus pure numpy kinematics, never a simulator handle.

robot_info("panda", 1 / 30)  -> RobotInfo (what a controller receives as `robot`)
robot_spec("kuka")           -> RobotSpec (what the simulator needs: URDF, joint indices)
"""

from __future__ import annotations

from robots import kuka, panda
from robots.base import RobotInfo, RobotSpec, info_from_spec

ROBOTS: dict[str, RobotSpec] = {panda.SPEC.name: panda.SPEC, kuka.SPEC.name: kuka.SPEC}

__all__ = ["ROBOTS", "RobotInfo", "RobotSpec", "robot_info", "robot_spec", "robot_names"]


def robot_names() -> list[str]:
    return sorted(ROBOTS)


def robot_spec(name: str) -> RobotSpec:
    try:
        return ROBOTS[name]
    except KeyError:
        raise KeyError(
            f"unknown robot {name!r}; known robots: {', '.join(robot_names())}"
        ) from None


def robot_info(name: str, control_dt: float) -> RobotInfo:
    """The controller's `robot` argument for arm `name` at control period `control_dt` (s)."""
    return info_from_spec(robot_spec(name), control_dt)
