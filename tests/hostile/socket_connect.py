import socket

EXPECT = {"exception", "action"}


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        port = int(obs["port"])
        connected = 0.0
        for family, addr in ((socket.AF_INET, ("127.0.0.1", port)),
                             (socket.AF_INET6, ("::1", port))):
            try:
                with socket.socket(family, socket.SOCK_STREAM) as s:
                    s.settimeout(1.0)
                    s.connect(addr)
                    s.sendall(b"pwned")
                    connected += 1
            except OSError:
                pass
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect("\0armloop")
                connected += 1
        except OSError:
            pass
        if not connected:
            raise PermissionError("no connection possible")
        return {"q": [connected]}
