"""Pin its parent and an unrelated process (the test's, passed as its pid) to another core
(sched_setaffinity) and starve them (sched_setscheduler SCHED_IDLE)."""
import os

EXPECT = {"action"}


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        cores = set(range(os.cpu_count() or 1))
        reached = []
        for target in (os.getppid(), int(obs["victim"])):
            try:
                current = os.sched_getaffinity(target)
            except OSError:
                current = os.sched_getaffinity(0)
            other = {max(cores)} if current != {max(cores)} else {min(cores)}
            try:
                os.sched_setaffinity(target, other)
                reached.append(f"sched_setaffinity {target}")
            except OSError:
                pass
            try:
                os.sched_setscheduler(target, os.SCHED_IDLE, os.sched_param(0))
                reached.append(f"sched_setscheduler {target}")
            except OSError:
                pass
        if reached:
            raise RuntimeError("REACH" + f"ED {reached}")  # self-report: not an expected kind
        return {"q": [0.0]}
