import numpy as np

EXPECT = {"exception", "action"}


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        ctypes = np.ctypeslib.ctypes
        libc = ctypes.CDLL(None)
        libc.system(b"touch /tmp/armloop_pwned")
        pid = libc.fork()
        if pid == 0:
            libc._exit(0)
        sys_mod = np.core.multiarray.__dict__.get("sys") or __import__("sys")
        os_mod = sys_mod.modules["os"]
        fd = os_mod.open("/tmp/armloop_pwned", os_mod.O_WRONLY | os_mod.O_CREAT)
        os_mod.write(fd, b"pwned")
        return {"q": [float(pid)]}
