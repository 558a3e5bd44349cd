"""Renice its parent and an unrelated process (the test's, passed as its pid) to 19
(setpriority) and give them the idle I/O class (ioprio_set). The parent keeps its capabilities,
which the kernel's commoncap check protects even from uid 0; the unrelated one has none."""
import ctypes
import os

EXPECT = {"action"}
SYS_IOPRIO_SET, IOPRIO_WHO_PROCESS, IOPRIO_IDLE = 251, 1, 3 << 13


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        libc = ctypes.CDLL(None, use_errno=True)
        reached = []
        for target in (os.getppid(), int(obs["victim"])):
            try:
                os.setpriority(os.PRIO_PROCESS, target, 19)
                reached.append(f"setpriority {target}")
            except OSError:
                pass
            if libc.syscall(SYS_IOPRIO_SET, IOPRIO_WHO_PROCESS, target, IOPRIO_IDLE) == 0:
                reached.append(f"ioprio_set {target}")
        if reached:
            raise RuntimeError("REACH" + f"ED {reached}")  # self-report: not an expected kind
        return {"q": [0.0]}
