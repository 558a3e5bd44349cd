"""A controller that closes its stdout and stderr hangs up the parent's capture pipe. poll()
reports a hang-up until the fd is unregistered, so the host must handle it once: counted here
as poll wake-ups per step (structural, not timing), with the host thread's CPU time as a
generous second check."""

from __future__ import annotations

import time

from loop.sandbox.process import ControllerProcess
from tests.sandbox_helpers import ROBOT, TEST_LIMITS, obs

STEPS = 4
SLEEP_S = 0.15
CODE = """
import os
import time

CLOSE = {close}


class Controller:
    def __init__(self, robot):
        pass

    def reset(self, obs):
        print("before closing", flush=True)
        if CLOSE:
            os.close(1)
            os.close(2)

    def step(self, obs):
        time.sleep({sleep})
        return {{"q": [0.0] * 7}}
"""


class CountingPoll:
    """The child's real poll object, counting how often the host waits on it."""

    def __init__(self, real) -> None:
        self.real, self.calls = real, 0

    def poll(self, *args):
        self.calls += 1
        return self.real.poll(*args)

    def __getattr__(self, name: str):
        return getattr(self.real, name)


def episode(close: bool) -> tuple[int, float, str]:
    """(poll calls, host CPU seconds) over STEPS sleeping steps, and the captured output."""
    host = ControllerProcess(TEST_LIMITS)
    try:
        host.load(CODE.format(close=close, sleep=SLEEP_S), "closer.py", ROBOT)
        host.reset(obs())
        child = host._child
        counter = CountingPoll(child._in_poll)
        child._in_poll = counter
        cpu = time.thread_time()
        for _ in range(STEPS):
            assert host.step(obs()) == {"q": [0.0] * 7}
        return counter.calls, time.thread_time() - cpu, host.output()
    finally:
        host.close()


def test_closed_outputs_do_not_spin_the_host() -> None:
    open_calls, open_cpu, open_out = episode(close=False)
    closed_calls, closed_cpu, closed_out = episode(close=True)
    # A step that sleeps wakes the host for its reply (and a check for output), however long
    # it sleeps; a host spinning on POLLHUP wakes thousands of times.
    assert open_calls <= 3 * STEPS, open_calls
    assert closed_calls <= 3 * STEPS, f"{closed_calls} poll wake-ups for {STEPS} steps"
    assert closed_cpu < 0.5 * STEPS * SLEEP_S, f"host thread used {closed_cpu:.3f} s CPU"
    assert "before closing" in open_out and "before closing" in closed_out


def test_closed_outputs_then_a_crash_is_still_reported() -> None:
    code = CODE.format(close=True, sleep=0).replace(
        'return {"q"', 'os._exit(7)\n        return {"q"'
    )
    host = ControllerProcess(TEST_LIMITS)
    try:
        host.load(code, "closer.py", ROBOT)
        host.reset(obs())
        try:
            host.step(obs())
        except Exception as exc:  # noqa: BLE001
            assert "exited with code 7" in str(exc)
        else:
            raise AssertionError("step() returned after os._exit")
    finally:
        host.close()
