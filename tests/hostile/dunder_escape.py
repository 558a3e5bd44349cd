EXPECT = {"exception", "action"}


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        ran = 0.0
        for cls in ().__class__.__base__.__subclasses__():
            init = getattr(cls, "__init__", None)
            glb = getattr(init, "__globals__", None) or {}
            if "system" in glb:
                glb["system"]("touch /tmp/armloop_pwned")
                ran += 1
            if "fork" in glb:
                try:
                    glb["fork"]()
                    ran += 1
                except OSError:
                    pass
        imp = __builtins__["__import__"] if isinstance(__builtins__, dict) \
            else __builtins__.__import__
        imp("os").system("touch /tmp/armloop_pwned")
        return {"q": [ran]}
