"""Writes its own reply frame on the reply pipe (its fd is in sys.argv): a step value whose
numbers no float holds, ahead of the child's real reply."""

import os
import struct
import sys

EXPECT = {"action"}

BIG = "9" * 400


class Controller:
    def __init__(self, robot):
        self.fd = int(sys.argv[3])  # python -c BOOTSTRAP REPO FD_IN FD_OUT CONFIG

    def step(self, obs):
        body = ('{"ok":true,"value":{"ee_pos":[%s,0,0.3],"gripper":%s}}' % (BIG, BIG)).encode()
        os.write(self.fd, struct.pack(">I", len(body)) + body)
        return {"q": [0.0] * 7}
