"""Shared helpers for the sandbox tests: run one controller through a ControllerProcess."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loop.sandbox.host import ControllerFailure, Limits
from loop.sandbox.process import ControllerProcess

REPO = Path(__file__).resolve().parent.parent
ROBOT = {"name": "panda", "control_dt": 1 / 30}
TEST_LIMITS = Limits(load_s=10.0, init_s=5.0, step_s=2.0, episode_s=10.0)


def obs(**extra: Any) -> dict[str, Any]:
    base = {
        "t": 0.0,
        "q": [0.0] * 7,
        "dq": [0.0] * 7,
        "ee_pos": [0.4, 0.0, 0.5],
        "ee_quat": [0.0, 0.0, 0.0, 1.0],
        "target_pos": [0.5, 0.1, 0.3],
        "repo": str(REPO),
    }
    base.update(extra)
    return base


@dataclass
class Outcome:
    kind: str  # "action" or a ControllerFailure kind
    action: dict[str, Any] | None
    failure: ControllerFailure | None
    output: str
    seconds: float
    pids: list[int] = field(default_factory=list)

    def text(self) -> str:
        failure = self.failure.to_dict() if self.failure else {}
        return f"{self.action!r} {failure!r} {self.output}"


def run(
    code: str,
    filename: str = "controller.py",
    steps: int = 3,
    limits: Limits = TEST_LIMITS,
    observation: dict[str, Any] | None = None,
) -> Outcome:
    host = ControllerProcess(limits)
    start = time.monotonic()
    action, failure, pids = None, None, []
    try:
        host.load(code, filename, ROBOT)
        pids.append(host.pid)
        host.reset(observation or obs())
        for _ in range(steps):
            action = host.step(observation or obs())
    except ControllerFailure as exc:
        failure = exc
    finally:
        output = host.output()
        pids += [c.proc.pid for c in (host._child, host._spare) if c is not None]
        host.close()
    seconds = time.monotonic() - start
    kind = failure.kind if failure else "action"
    return Outcome(kind, action, failure, output, seconds, [p for p in pids if p])


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False
