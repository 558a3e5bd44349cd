"""Disarm the kernel's parent-death SIGKILL so that the child outlives its sim worker: prctl
through libc, and the raw syscall with junk in the upper half of the 32-bit option (the kernel
reads only the low half; a seccomp rule comparing all 64 bits does not match it)."""
import ctypes

EXPECT = {"action"}
SYS_PRCTL, PR_SET_PDEATHSIG, PR_GET_PDEATHSIG = 157, 1, 2


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0)
        libc.syscall(SYS_PRCTL, ctypes.c_long((1 << 32) | PR_SET_PDEATHSIG), ctypes.c_long(0))
        armed = ctypes.c_int(-1)
        libc.prctl(PR_GET_PDEATHSIG, ctypes.byref(armed), 0, 0, 0)
        return {"q": [float(armed.value)]}  # 9 (SIGKILL) when still armed
