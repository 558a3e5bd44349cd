"""SIGKILL its parent without kill(): make it the owner of a pipe (F_SETOWN) whose signal is
SIGKILL (F_SETSIG), turn on O_ASYNC and write. The kernel sends the signal; only a dead parent
would show it, so this reports nothing itself."""
import fcntl
import os
import signal

EXPECT = {"action"}
F_SETSIG = 10


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        r, w = os.pipe()
        try:
            fcntl.fcntl(r, fcntl.F_SETOWN, os.getppid())
            fcntl.fcntl(r, F_SETSIG, signal.SIGKILL)
            fcntl.fcntl(r, fcntl.F_SETFL, fcntl.fcntl(r, fcntl.F_GETFL) | os.O_ASYNC)
            os.write(w, b"x")
        except OSError:
            pass
        finally:
            os.close(r)
            os.close(w)
        return {"q": [0.0]}
