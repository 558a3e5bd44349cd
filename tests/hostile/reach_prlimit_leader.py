"""prlimit() on the process-group leader above its parent (armloop itself under `armloop
eval`). The change is visible but harmless - a soft RLIMIT_MSGQUEUE of 7 bytes - because in the
loop tests the leader is whatever started pytest; reach_prlimit_parent does the lethal one."""
import os
import resource

EXPECT = {"action"}


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        leader = os.getpgid(os.getppid())
        _, hard = resource.getrlimit(resource.RLIMIT_MSGQUEUE)  # inherited from the leader
        try:
            resource.prlimit(leader, resource.RLIMIT_MSGQUEUE, (7, hard))
        except (OSError, ValueError):
            return {"q": [0.0]}
        raise RuntimeError("REACH" + f"ED the group leader {leader}")  # not an expected kind
