import os

EXPECT = {"action"}


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        targets = ["/tmp/armloop_pwned", os.path.join(obs["repo"], "armloop_pwned"),
                   os.path.join(obs["repo"], "loop", "__init__.py"), "/etc/armloop_pwned",
                   os.path.expanduser("~root/armloop_pwned")]
        written = 0.0
        for path in targets:
            try:
                with open(path, "a") as f:
                    f.write("pwned")
                written += 1
            except OSError:
                pass
        with open("inside.txt", "w") as f:  # the work folder itself is writable
            f.write("ok")
        return {"q": [written]}
