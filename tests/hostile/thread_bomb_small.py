"""Small-stack threads sharing one malloc arena: a thousand fit easily in the address-space
limit, so only a limit on threads bounds them (and uid 0 ignores RLIMIT_NPROC)."""
import ctypes
import threading
import time

EXPECT = {"action", "exception", "timeout"}
M_ARENA_MAX = -8  # without it every new thread reserves a 64 MiB arena and RLIMIT_AS ends it


class Controller:
    def __init__(self, robot):
        self.started = 0

    def reset(self, obs):
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, 1)
        threading.stack_size(32 << 10)
        stop = time.monotonic() + 1.5
        try:
            while self.started < 1000 and time.monotonic() < stop:
                threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
                self.started += 1
        except RuntimeError:
            pass

    def step(self, obs):
        return {"q": [float(self.started)]}
