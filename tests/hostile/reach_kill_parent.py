"""SIGKILL its parent four ways: kill, tgkill, rt_sigqueueinfo (sigqueue), rt_tgsigqueueinfo."""
import ctypes
import os
import signal

EXPECT = {"action"}
SYS_TGKILL, SYS_RT_TGSIGQUEUEINFO, SI_QUEUE = 234, 297, -1


class SigInfo(ctypes.Structure):
    _fields_ = [("signo", ctypes.c_int), ("errno", ctypes.c_int), ("code", ctypes.c_int),
                ("pad", ctypes.c_int * 29)]


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        parent = os.getppid()
        libc = ctypes.CDLL(None, use_errno=True)
        info = SigInfo(signal.SIGKILL, 0, SI_QUEUE)
        reached = []
        try:
            os.kill(parent, signal.SIGKILL)
            reached.append("kill")
        except OSError:
            pass
        if libc.syscall(SYS_TGKILL, parent, parent, signal.SIGKILL) == 0:
            reached.append("tgkill")
        if libc.sigqueue(parent, signal.SIGKILL, ctypes.c_void_p(0)) == 0:
            reached.append("rt_sigqueueinfo")
        if libc.syscall(SYS_RT_TGSIGQUEUEINFO, parent, parent, signal.SIGKILL,
                        ctypes.byref(info)) == 0:
            reached.append("rt_tgsigqueueinfo")
        if reached:
            raise RuntimeError("REACH" + f"ED {reached}")  # self-report: not an expected kind
        return {"q": [0.0]}
