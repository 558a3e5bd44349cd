"""What a controller module sees when it is loaded: the semantics of a normal import, in the
sandboxed child and in the trusted in-process host; and that the static check lets through
every import the child can really do (it refuses only those that fail there)."""

from __future__ import annotations

import pytest

from loop.run.extract import static_check
from loop.sandbox.host import ControllerFailure
from loop.sandbox.inprocess import InProcessController
from tests.sandbox_helpers import ROBOT, TEST_LIMITS, obs, run

# module-level code that needs the module in sys.modules under its name (dataclass looks it
# up), plain annotations (no __future__ flag leaking in from the loader) and __name__/__file__
MODULE = """
import sys
from dataclasses import dataclass, fields

LIMIT: float = 0.5
assert __annotations__["LIMIT"] is float, __annotations__


@dataclass
class Gains:
    k: float = 1.0


ME = sys.modules[__name__]
assert ME.__dict__ is globals()


class Controller:
    def __init__(self, robot):
        self.gains = Gains()

    def reset(self, obs):
        pass

    def step(self, obs):
        checks = [
            self.gains.k == 1.0,
            fields(Gains)[0].type is float,
            __name__ == "controller",
            __file__ == "my_controller.py",
            sys.modules[__name__] is ME,
            ME.LIMIT == 0.5,
            __spec__ is None or __spec__.name == __name__,
        ]
        return {"q": [float(c) for c in checks]}
"""

# the same with postponed annotations: typing.get_type_hints resolves them in the module
FUTURE = """from __future__ import annotations

import sys
import typing
from dataclasses import dataclass


@dataclass
class Gains:
    k: float = 1.0


class Controller:
    def __init__(self, robot):
        self.hints = typing.get_type_hints(Gains)

    def reset(self, obs):
        pass

    def step(self, obs):
        checks = [self.hints == {"k": float}, sys.modules[__name__].Gains is Gains]
        return {"q": [float(c) for c in checks] + [1.0] * 5}
"""

CASES = {"plain": MODULE, "future_annotations": FUTURE}


@pytest.mark.parametrize("name", CASES)
def test_module_is_imported_normally_in_the_child(name: str) -> None:
    out = run(CASES[name], filename="my_controller.py")
    assert out.kind == "action", out.text()
    assert out.action == {"q": [1.0] * 7}


def test_module_is_imported_normally_in_process() -> None:
    for code in CASES.values():
        host = InProcessController(TEST_LIMITS)
        try:
            host.load(code, "my_controller.py", ROBOT)
            host.reset(obs())
            assert host.step(obs()) == {"q": [1.0] * 7}
        finally:
            host.close()


def test_a_module_that_fails_to_load_is_not_left_in_sys_modules() -> None:
    import sys

    host = InProcessController(TEST_LIMITS)
    with pytest.raises(ControllerFailure) as info:
        host.load("import sys\nLOADED = sys.modules[__name__]\n1 / 0\n", "bad.py", ROBOT)
    assert info.value.kind == "load" and "ZeroDivisionError" in info.value.message
    module = sys.modules.get("controller")
    assert module is None or not hasattr(module, "LOADED")


# -- imports: the static check's verdict against what really happens in the child ----------

IMPORTS = [
    "import os",
    "import sys",
    "import time",
    "import threading",
    "import operator",
    "import os.path",
    "import numpy.typing as npt",
    "from numpy.linalg import norm",
    "import pybullet",
    "import robots",
    "from loop.task.contract import ActionError",
    "import __main__",
    "import docs",  # a folder of the repo: a namespace package
    "import armloop_no_such_module",
    "from armloop_no_such_package.sub import thing",
]
CONTROLLER = (
    "\n\nclass Controller:\n    def __init__(self, robot):\n        self.dof = robot.dof\n\n"
    "    def reset(self, obs):\n        pass\n\n"
    "    def step(self, obs):\n        return {'q': [0.0] * self.dof}\n"
)


@pytest.mark.parametrize("line", IMPORTS)
def test_the_static_check_refuses_exactly_the_imports_that_fail_in_the_child(line: str) -> None:
    code = line + "\n" + CONTROLLER
    refused = static_check(code)
    out = run(code, steps=1)
    if out.kind == "action":
        assert refused == [], f"refused although it runs: {refused}"
    if refused:
        assert len(refused) == 1 and "line 1" in refused[0], refused
        assert out.kind == "load" and "ModuleNotFoundError" in out.failure.message, out.text()
    if "no_such" in line:
        assert refused, "an import that cannot succeed in the child must be refused"
    else:
        assert out.kind == "action", out.text()
