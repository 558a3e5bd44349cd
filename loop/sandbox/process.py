"""ControllerProcess: the ControllerHost for generated code, in a hardened child process.

    host = ControllerProcess(Limits())          # spawns a warm spare right away
    host.load(code, "controller.py", {"name": "panda", "control_dt": 1 / 30})
    for seed in seeds:                          # one host serves every episode of a version
        host.reset(obs0)                        # fresh Controller(robot), then reset(obs)
        action = host.step(obs)                 # {key: nested float lists}
    host.close()

Each load() goes to a fresh child that was spawned and hardened ahead of time (numpy and
robots imported, sandbox applied), and a new spare starts behind it. After a timeout or crash
the child is killed; the next reset() transparently reloads the same version into a spare.

Everything the child sends is untrusted (controller code can write its own frames on the reply
pipe): every call returns a decoded JSON value or raises a ControllerFailure of a known kind
with printable text (checked_failure), never anything else. Values are checked by the caller
(loop.task.contract.validate_action for actions).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from loop.sandbox.childproc import ChildProc, Output
from loop.sandbox.frames import safe_str, short_repr
from loop.sandbox.host import FAILURE_KINDS, ControllerFailure, Limits
from loop.sandbox.text import printable

#: Every child is spawned from this one thread, which lives as long as the process: the
#: kernel's parent-death signal (armed in the child) follows the *thread* that forked, so a
#: short-lived spawning thread would kill its child early, and the main thread may not be ours.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="armloop-spawner")


def checked_failure(exc: ControllerFailure) -> ControllerFailure:
    """A failure the child reported, as the trusted side may use it: one of FAILURE_KINDS
    (feedback and scoring branch on the kind) and printable text (it reaches terminals)."""
    message, traceback = printable(exc.message), printable(exc.traceback)
    if exc.kind in FAILURE_KINDS:
        return ControllerFailure(exc.kind, message, traceback)
    kind = short_repr(printable(exc.kind))
    return ControllerFailure(
        "crash", f"the controller process sent an unknown failure kind {kind}: {message}", traceback
    )


class ControllerProcess:
    """Implements loop.sandbox.host.ControllerHost."""

    def __init__(
        self,
        limits: Limits = Limits(),
        workdir: Path | None = None,
        harden: bool = True,
        warm: bool = True,
        skip_layers: tuple[str, ...] = (),
    ) -> None:
        """skip_layers: hardening layers to leave out (loop.sandbox.harden.LAYERS), for tests
        that check what each layer stops on its own; never set for generated code."""
        self.limits = limits
        self.harden = harden
        self.skip_layers = tuple(skip_layers)
        self.warm = warm
        self._own_base = workdir is None
        self.base = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="armloop-ctl-"))
        self.base.mkdir(parents=True, exist_ok=True)
        self._child: ChildProc | None = None
        self._spare: ChildProc | None = None
        self._version: tuple[str, str, dict[str, Any]] | None = None
        self._out = Output(limits.output_bytes)
        self._episode_used = 0.0
        self.closed = False
        self._spawner: Future | None = None
        if warm:
            self._spare = self._spawn()

    # -- ControllerHost ------------------------------------------------------------------------

    def load(self, code: str, filename: str, robot: dict[str, Any]) -> None:
        self._retire()
        self._version = (code, filename, dict(robot))
        self._out = Output(self.limits.output_bytes)
        try:
            self._load_current()
        except ControllerFailure:
            self._version = None
            raise

    def reset(self, obs: dict[str, Any]) -> None:
        if self._child is None or self._child.dead:
            if self._version is None:
                raise ControllerFailure(
                    "load", "no controller loaded (load() failed or was never called)"
                )
            self._load_current()
        self._episode_used = 0.0
        self._call(
            {"op": "reset", "obs": obs},
            self.limits.init_s,
            "Controller(robot) + reset(obs)",
            "init_s",
        )

    def step(self, obs: dict[str, Any]) -> dict[str, Any]:
        left = self.limits.episode_s - self._episode_used
        if left <= self.limits.step_s:
            return self._call(
                {"op": "step", "obs": obs},
                max(left, 0.0),
                "step(obs)",
                "episode_s (controller time per episode)",
                self.limits.episode_s,
            )
        return self._call({"op": "step", "obs": obs}, self.limits.step_s, "step(obs)", "step_s")

    def output(self) -> str:
        return printable(self._out.text())

    def close(self) -> None:
        if self.closed:
            return
        self._join_spawner()
        self.closed = True
        for child in (self._child, self._spare):
            if child is not None:
                child.kill()
        self._child = self._spare = None
        if self._own_base:
            shutil.rmtree(self.base, ignore_errors=True)

    # -- extras --------------------------------------------------------------------------------

    @property
    def features(self) -> dict[str, Any]:
        """The sandbox layers active in the current (or spare) child."""
        self._join_spawner()
        child = self._child or self._spare or self._take_spare()
        if self._spare is None and self._child is None:
            self._spare = child
        return child.ready()

    def warm_up(self) -> dict[str, Any]:
        """Block until the spare child is spawned and hardened (the next load is fast)."""
        self._join_spawner()
        if self._spare is None or self._spare.dead:
            self._spare = self._spawn()
        return self._spare.ready()

    @property
    def pid(self) -> int | None:
        return None if self._child is None or self._child.dead else self._child.proc.pid

    def __enter__(self) -> ControllerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    # -- internals -----------------------------------------------------------------------------

    def _spawn(self) -> ChildProc:
        return _SPAWNER.submit(self._spawn_here).result()

    def _spawn_here(self) -> ChildProc:
        if self.closed:
            raise ControllerFailure("crash", "the controller host is closed")
        workdir = tempfile.mkdtemp(prefix="c", dir=self.base)
        os.chmod(workdir, 0o755)
        return ChildProc(self.limits, workdir, harden=self.harden, skip_layers=self.skip_layers)

    def _take_spare(self) -> ChildProc:
        self._join_spawner()
        child, self._spare = self._spare, None
        return child if child is not None and not child.dead else self._spawn()

    def _load_current(self) -> None:
        assert self._version is not None
        code, filename, robot = self._version
        self._child = self._take_spare()
        self._child.output = self._out
        try:
            self._checked_call(
                self._child,
                {"op": "load", "code": code, "filename": filename, "robot": robot},
                self.limits.load_s,
                "load",
                "load_s",
            )
        except ControllerFailure:
            self._retire()
            raise
        finally:
            if self.warm and not self.closed:
                self._spawn_spare_async()

    def _spawn_spare_async(self) -> None:
        """Popen costs milliseconds: start the next spare off the load path."""
        self._spawner = _SPAWNER.submit(self._spawn_here)

    def _join_spawner(self) -> None:
        if self._spawner is not None:
            future, self._spawner = self._spawner, None
            try:
                self._spare = future.result()
            except Exception:  # noqa: BLE001 - the next load spawns synchronously instead
                self._spare = None

    def _retire(self) -> None:
        if self._child is not None:
            self._child.kill()
            self._child = None

    def _call(
        self,
        request: dict[str, Any],
        timeout: float,
        what: str,
        limit: str,
        shown: float | None = None,
    ) -> Any:
        child = self._child
        assert child is not None
        start = time.monotonic()
        try:
            return self._checked_call(child, request, timeout, what, limit, shown)
        finally:
            self._episode_used += time.monotonic() - start

    @staticmethod
    def _checked_call(
        child: ChildProc,
        request: dict[str, Any],
        timeout: float,
        what: str,
        limit: str,
        shown: float | None = None,
    ) -> Any:
        """child.call, where whatever the child sent ends as a value or a ControllerFailure."""
        try:
            return child.call(request, timeout, what, limit, shown)
        except ControllerFailure as exc:
            raise checked_failure(exc) from None
        except Exception as exc:  # noqa: BLE001 - a reply no check foresaw: still the child's
            child.kill()
            detail = printable(f"{type(exc).__name__}: {safe_str(exc, 200)}")
            raise ControllerFailure(
                "crash", f"{what}: the controller process sent a malformed reply ({detail})"
            ) from None


def sandbox_features(limits: Limits = Limits()) -> dict[str, Any]:
    """Spawn one child and report which hardening layers the kernel let it apply."""
    with ControllerProcess(limits, warm=True) as host:
        return host.features
