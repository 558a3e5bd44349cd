"""Attach another process's System V shared-memory segment (the test creates one, mode 0600,
and passes its id) and write into it."""
import ctypes

EXPECT = {"action"}


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.shmat.restype = ctypes.c_void_p
        addr = libc.shmat(int(obs["shmid"]), None, 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            return {"q": [0.0]}
        ctypes.memmove(addr, b"pwned", 5)
        libc.shmdt(ctypes.c_void_p(addr))
        raise RuntimeError("REACH" + "ED the shared memory segment")  # not an expected kind
