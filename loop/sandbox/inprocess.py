"""InProcessController: the ControllerHost protocol in the calling process.

For trusted code only (the hand-written references, and the baseline of the isolation
benchmark): it cannot stop a hang or a crash, and it only notices a slow step after the
fact. Generated code always goes to ControllerProcess. It runs the same request handling
as the child (loop.sandbox.child.Server), so failures read the same.
"""

from __future__ import annotations

import io
import time
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import numpy as np

from loop.sandbox.child import Failure, Server
from loop.sandbox.host import ControllerFailure, Limits


def _copy(obs: dict[str, Any]) -> dict[str, Any]:
    return {k: np.array(v, dtype=float) if isinstance(v, np.ndarray) else v for k, v in obs.items()}


class InProcessController:
    """Implements loop.sandbox.host.ControllerHost without isolation."""

    def __init__(self, limits: Limits = Limits()) -> None:
        self.limits = limits
        self.server = Server(limits.memory_bytes)
        self._out = io.StringIO()
        self._loaded = False

    def _run(self, fn, *args, limit: float, what: str) -> Any:
        start = time.monotonic()
        try:
            with redirect_stdout(self._out), redirect_stderr(self._out):
                value = fn(*args)
        except Failure as exc:
            r = exc.reply
            raise ControllerFailure(r["kind"], r["message"], r["traceback"]) from None
        elapsed = time.monotonic() - start
        if elapsed > limit:
            raise ControllerFailure("timeout", f"{what} took {elapsed:.3f} s > {limit} s limit")
        return value

    def load(self, code: str, filename: str, robot: dict[str, Any]) -> None:
        self._loaded = False
        self._out = io.StringIO()
        self._run(self.server.load, code, filename, robot, limit=self.limits.load_s, what="load")
        self._loaded = True

    def reset(self, obs: dict[str, Any]) -> None:
        if not self._loaded:
            raise ControllerFailure(
                "load", "no controller loaded (load() failed or was never called)"
            )
        self._run(
            self.server.reset,
            _copy(obs),
            limit=self.limits.init_s,
            what="Controller(robot) + reset(obs)",
        )

    def step(self, obs: dict[str, Any]) -> dict[str, Any]:
        return self._run(self.server.step, _copy(obs), limit=self.limits.step_s, what="step(obs)")

    def output(self) -> str:
        return self._out.getvalue()[-self.limits.output_bytes :]

    def close(self) -> None:
        self._loaded = False
