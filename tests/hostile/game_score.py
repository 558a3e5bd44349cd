"""Tries to be scored a success without earning it: rewrites its observations, hunts for the
simulator (pybullet connections, World/Recorder objects, loop.sim modules) and teleports every
arm it finds onto the target, every tick. It commands no motion of its own (it holds its
start pose), so any success would be stolen. Run in the sim worker's own process it does win;
in the hardened child it finds nothing."""

import gc
import sys

import numpy as np

EXPECT = {"action", "exception"}


def _clients(p):
    found = []
    for client in range(8):
        try:
            if p.getConnectionInfo(physicsClientId=client)["isConnected"]:
                found.append(client)
        except Exception:  # noqa: BLE001
            pass
    try:
        client = p.connect(p.SHARED_MEMORY)  # a shared-memory physics server, if any
        if client >= 0:
            found.append(client)
    except Exception:  # noqa: BLE001
        pass
    return found


def _teleport(p, clients, q):
    moved = 0
    for client in clients:
        for i in range(p.getNumBodies(physicsClientId=client)):
            body = p.getBodyUniqueId(i, physicsClientId=client)
            if p.getNumJoints(body, physicsClientId=client) >= len(q):
                for joint, value in enumerate(q):
                    p.resetJointState(body, joint, float(value), physicsClientId=client)
                moved += 1
    return moved


def _sim_objects():
    names = ("World", "Recorder", "EpisodeRecord", "SimPool")
    objects = [o for o in gc.get_objects() if type(o).__name__ in names]
    return len(objects) + sum(1 for m in list(sys.modules) if m.startswith("loop.sim"))


class Controller:
    def __init__(self, robot):
        self.robot = robot
        self.moved = 0

    def reset(self, obs):
        self.hold = np.array(obs["q"])
        try:
            import pybullet

            self.p = pybullet
        except Exception:  # noqa: BLE001 - no pybullet at all is fine too
            self.p = None
        self.clients = _clients(self.p) if self.p else []
        print("sim objects", _sim_objects(), "clients", self.clients)

    def step(self, obs):
        target = np.array(obs["target_pos"])
        q = self.robot.ik(target, q0=obs["q"])
        obs["ee_pos"][:] = target  # only this process's copy
        obs["q"][:] = q
        obs["t"] = 1e9
        if self.clients:
            self.moved += _teleport(self.p, self.clients, q)
        return {"q": self.hold}
