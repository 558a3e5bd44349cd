import os
import subprocess

EXPECT = {"exception", "action"}


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        status = os.system("touch /tmp/armloop_pwned; echo pwned")
        subprocess.run(["/bin/sh", "-c", "touch /tmp/armloop_pwned"], check=False)
        return {"q": [float(status)]}
