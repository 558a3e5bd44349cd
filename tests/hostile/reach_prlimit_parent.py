"""prlimit() on its parent (the sim worker): a CPU limit of 0 kills it with SIGKILL."""
import os
import resource

EXPECT = {"action"}


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        parent = os.getppid()
        reached = []
        for name, value in (("RLIMIT_CPU", (0, 0)), ("RLIMIT_NOFILE", (7, 7))):
            try:
                resource.prlimit(parent, getattr(resource, name), value)
                reached.append(name)
            except OSError:
                pass
        if reached:
            raise RuntimeError("REACH" + f"ED {reached}")  # self-report: not an expected kind
        return {"q": [0.0]}
