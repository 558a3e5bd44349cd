import ctypes
import os
import signal

EXPECT = {"action"}


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        libc = ctypes.CDLL(None, use_errno=True)
        bad = 0.0
        bad += libc.system(b"touch /tmp/armloop_pwned") == 0
        pid = libc.fork()
        if pid == 0:
            libc._exit(0)
        bad += pid > 0
        bad += libc.kill(os.getppid(), signal.SIGCONT) == 0  # harmless if it got through
        bad += libc.ptrace(16, os.getppid(), None, None) == 0  # PTRACE_ATTACH
        bad += libc.setuid(0) == 0 and libc.unshare(0x40000000) == 0
        bad += libc.socket(2, 1, 0) >= 0
        bad += libc.mount(b"none", b"/tmp", b"tmpfs", 0, None) == 0
        return {"q": [float(bad)]}
