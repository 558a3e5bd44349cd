"""robots/: pure numpy FK matches PyBullet's link frames; IK reaches what FK says."""

from __future__ import annotations

import os

import numpy as np
import pybullet as p
import pybullet_data
import pytest

from robots import robot_info, robot_names, robot_spec


@pytest.mark.parametrize("name", robot_names())
def test_fk_matches_pybullet_and_ik_inverts_it(name):
    spec, info = robot_spec(name), robot_info(name, 1 / 30)
    client = p.connect(p.DIRECT)
    try:
        body = p.loadURDF(
            os.path.join(pybullet_data.getDataPath(), spec.urdf),
            useFixedBase=True,
            physicsClientId=client,
        )
        rng = np.random.default_rng(0)
        for _ in range(5):
            q = rng.uniform(info.joint_lower, info.joint_upper)
            for j, v in zip(spec.arm_joints, q, strict=True):
                p.resetJointState(body, j, v, physicsClientId=client)
            state = p.getLinkState(
                body, spec.ee_link, computeForwardKinematics=True, physicsClientId=client
            )
            pos, quat = info.fk(q)
            assert np.allclose(pos, state[4], atol=1e-6)
            assert abs(abs(np.dot(quat, state[5])) - 1) < 1e-6
    finally:
        p.disconnect(client)
    target = info.fk(info.home_q)[0] + [0.05, 0.1, -0.1]
    assert np.linalg.norm(info.fk(info.ik(target))[0] - target) < 1e-3
