"""A pidfd for its parent: SIGKILL through pidfd_send_signal, steal its fds with pidfd_getfd."""
import ctypes
import os
import signal

EXPECT = {"action"}
SYS_PIDFD_OPEN, SYS_PIDFD_GETFD = 434, 438


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.syscall(SYS_PIDFD_OPEN, os.getppid(), 0)  # a handle only: harmless itself
        reached = []
        if fd >= 0:
            for target in range(3, 12):  # the parent's pipes and its socket to armloop
                stolen = libc.syscall(SYS_PIDFD_GETFD, fd, target, 0)
                if stolen >= 0:
                    reached.append(f"pidfd_getfd {target}")
                    os.close(stolen)
            try:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
                reached.append("pidfd_send_signal")
            except OSError:
                pass
            os.close(fd)
        if reached:
            raise RuntimeError("REACH" + f"ED {reached}")  # self-report: not an expected kind
        return {"q": [0.0]}
