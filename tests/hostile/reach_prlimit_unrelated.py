"""prlimit() on an unrelated process of the same user (the test starts one and passes its
pid): RLIMIT_NOFILE from 20000 down to 7."""
import resource

EXPECT = {"action"}


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        victim = int(obs["victim"])
        try:
            resource.prlimit(victim, resource.RLIMIT_NOFILE, (7, 7))
        except OSError:
            return {"q": [0.0]}
        raise RuntimeError("REACH" + f"ED process {victim}")  # not an expected kind
