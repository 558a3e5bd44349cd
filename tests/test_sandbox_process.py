"""ControllerProcess: the normal paths (round trip, tracebacks, warm spares, reuse, timeouts)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from loop.sandbox import frames, wire
from loop.sandbox.host import ControllerFailure, Limits
from loop.sandbox.process import ControllerProcess, sandbox_features
from tests.sandbox_helpers import ROBOT, TEST_LIMITS, group_gone, obs, run

GOOD = """
import numpy as np

class Controller:
    def __init__(self, robot):
        self.robot = robot
        self.steps = 0

    def reset(self, obs):
        self.start = obs["ee_pos"].copy()
        print("reset at", obs["t"])

    def step(self, obs):
        self.steps += 1
        assert obs["q"].dtype == np.float64 and isinstance(obs["t"], float)
        return {"ee_pos": obs["target_pos"] * 2, "gripper": 0.04, "n": self.steps}
"""

RAISES = """
class Controller:
    def __init__(self, robot):
        self.gain = 2.0

    def helper(self, x):
        return x / 0.0 if False else 1 / 0

    def step(self, obs):
        return {"q": self.helper(obs["q"])}
"""


@pytest.fixture
def host():
    h = ControllerProcess(TEST_LIMITS)
    yield h
    h.close()


def test_round_trip(host: ControllerProcess) -> None:
    host.load(GOOD, "controller.py", ROBOT)
    host.reset(obs(t=0.5))
    action = host.step(obs())
    assert action == {"ee_pos": [1.0, 0.2, 0.6], "gripper": 0.04, "n": 1.0}
    assert "reset at 0.5" in host.output()


def test_numpy_observations_are_sent_as_lists(host: ControllerProcess) -> None:
    host.load(GOOD, "controller.py", ROBOT)
    o = obs(q=np.zeros(7), target_pos=np.array([0.1, 0.2, 0.3]), t=np.float64(1.0))
    host.reset(o)
    assert host.step(o)["ee_pos"] == [0.2, 0.4, 0.6]


def test_reset_makes_a_fresh_controller(host: ControllerProcess) -> None:
    host.load(GOOD, "controller.py", ROBOT)
    for _ in range(3):
        host.reset(obs())
        assert host.step(obs())["n"] == 1.0
        assert host.step(obs())["n"] == 2.0


def test_traceback_has_only_controller_frames_with_source() -> None:
    out = run(RAISES, filename="iter_003/controller.py")
    assert out.kind == "exception"
    assert out.failure.message.startswith("ZeroDivisionError: division by zero")
    tb = out.failure.traceback
    assert 'File "iter_003/controller.py", line 10, in step' in tb
    assert 'return {"q": self.helper(obs["q"])}' in tb
    assert "in helper" in tb and "1 / 0" in tb
    assert "loop/sandbox" not in tb and "child.py" not in tb


def test_exception_in_init() -> None:
    code = (
        "class Controller:\n    def __init__(self, robot):\n"
        "        raise ValueError('bad gain')\n"
        "    def step(self, obs):\n        return {}\n"
    )
    out = run(code)
    assert out.kind == "exception"
    assert "ValueError: bad gain" in out.failure.message and "__init__" in out.failure.message
    assert "raise ValueError('bad gain')" in out.failure.traceback


@pytest.mark.parametrize(
    "code, needle",
    [
        ("x = = 1\n", "SyntaxError"),
        ("import no_such_module_xyz\n", "ModuleNotFoundError"),
        ("class Other:\n    pass\n", "no `Controller`"),
        ("class Controller:\n    step = 3\n", "step"),
    ],
)
def test_load_failures(host: ControllerProcess, code: str, needle: str) -> None:
    with pytest.raises(ControllerFailure) as err:
        host.load(code, "controller.py", ROBOT)
    assert err.value.kind == "load" and needle in err.value.message
    with pytest.raises(ControllerFailure):
        host.reset(obs())
    host.load(GOOD, "controller.py", ROBOT)  # the host recovers at the next load
    host.reset(obs())
    assert host.step(obs())["n"] == 1.0


def test_new_version_goes_to_a_fresh_process(host: ControllerProcess) -> None:
    host.load(GOOD, "controller.py", ROBOT)
    first = host.pid
    host.load(GOOD.replace("* 2", "* 3"), "controller.py", ROBOT)
    assert host.pid != first and group_gone(first)
    host.reset(obs())
    assert host.step(obs())["ee_pos"] == pytest.approx([1.5, 0.3, 0.9])


def test_timeout_kills_then_next_reset_reloads(host: ControllerProcess) -> None:
    code = GOOD.replace(
        "self.steps += 1", "self.steps += 1\n        if obs['t'] > 1: __import__('time').sleep(60)"
    )
    host.load(code, "controller.py", ROBOT)
    host.reset(obs())
    pid = host.pid
    with pytest.raises(ControllerFailure) as err:
        host.step(obs(t=2.0))
    assert err.value.kind == "timeout" and "step_s" in err.value.message
    assert group_gone(pid)
    host.reset(obs())  # same version, fresh process
    assert host.step(obs())["n"] == 1.0 and host.pid != pid


def test_episode_limit_counts_controller_time() -> None:
    limits = Limits(step_s=1.0, episode_s=0.3, init_s=5.0)
    code = GOOD.replace(
        "self.steps += 1", "self.steps += 1\n        __import__('time').sleep(0.05)"
    )
    out = run(code, steps=20, limits=limits)
    assert out.kind == "timeout" and "episode_s" in out.failure.message


def test_output_is_capped() -> None:
    limits = Limits(output_bytes=1000)
    code = GOOD.replace('print("reset at", obs["t"])', 'print("y" * 5000)')
    out = run(code, limits=limits)
    assert out.kind == "action"
    assert len(out.output) < 1100 and "more bytes dropped" in out.output


def test_warm_load_is_fast() -> None:
    with ControllerProcess(TEST_LIMITS) as host:
        host.warm_up()
        start = time.perf_counter()
        host.load(GOOD, "controller.py", ROBOT)
        assert time.perf_counter() - start < 1.0  # the bench measures; this only bounds it


def test_close_is_idempotent_and_leaves_nothing() -> None:
    host = ControllerProcess(TEST_LIMITS)
    host.load(GOOD, "controller.py", ROBOT)
    host.warm_up()
    pids = [host.pid, host._spare.proc.pid]
    base = host.base
    host.close()
    host.close()
    assert all(group_gone(p) for p in pids) and not base.exists()


def test_sandbox_features_report() -> None:
    feats = sandbox_features()
    assert {"rlimits", "no_new_privs", "landlock", "seccomp", "warnings"} <= set(feats)
    assert feats["rlimits"]["CORE"] == 0
    for layer in ("landlock", "seccomp"):  # active, or a warning says why not
        assert feats[layer] or any(layer in w for w in feats["warnings"])


def test_wire_rejects_oversized_and_malformed_frames() -> None:
    buf = wire.FrameBuffer()
    buf.feed(wire.HEADER.pack(wire.MAX_FRAME + 1))
    with pytest.raises(wire.WireError):
        buf.pop()
    buf = wire.FrameBuffer()
    buf.feed(wire.HEADER.pack(3) + b"{x}")
    with pytest.raises(wire.WireError):
        buf.pop()
    buf = wire.FrameBuffer()
    buf.feed(wire.encode({"a": np.arange(3.0), "b": float("nan")}))
    done, msg = buf.pop()
    assert done and msg["a"] == [0.0, 1.0, 2.0] and msg["b"] != msg["b"]


def test_safe_str_survives_hostile_str() -> None:
    class Evil(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert "unprintable" in frames.safe_str(Evil())
    assert len(frames.safe_str("x" * 10_000)) < 2100


def test_robot_info_is_usable_inside_the_sandbox() -> None:
    code = """
class Controller:
    def __init__(self, robot):
        self.robot = robot

    def step(self, obs):
        pos, quat = self.robot.fk(obs["q"])
        return {"q": self.robot.ik(obs["target_pos"]), "ee_pos": pos, "dof": self.robot.dof}
"""
    out = run(code, steps=1)
    assert out.kind == "action", out.text()
    assert out.action["dof"] == 7.0 and len(out.action["q"]) == 7
