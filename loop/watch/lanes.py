"""Lanes: one worker thread per watched file, running its latest save.

A save that arrives while the lane is busy waits in a single slot (a newer one replaces it:
latest save wins) and the runner's `interrupt` is called, so work that can be cut short (a
model generation) stops at once instead of finishing for nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from loop.watch.files import Save


class Runner(Protocol):
    """What runs the saves of one file (watch/controller.py, watch/spec.py)."""

    def handle(self, save: Save, superseded: Callable[[], bool]) -> None:
        """Run one save; `superseded()` is True once a newer save of the file is waiting."""

    def interrupt(self) -> None:
        """Cut the save in flight short, if that is possible; returns at once."""

    def prewarm(self, path: Path) -> None:
        """Get ready for saves of `path` (called once, on a thread, at start)."""

    def close(self, timeout: float) -> None:
        """Release what it holds, waiting at most `timeout` s for a save in flight."""


class Lane:
    """Runs `runner.handle(save)` for the newest submitted save, one at a time, on its own
    thread."""

    def __init__(
        self,
        name: str,
        runner: Runner,
        on_superseded: Callable[[Save], None] | None = None,
    ) -> None:
        self.name = name
        self.runner = runner
        self.on_superseded = on_superseded
        self._pending: Save | None = None
        self._busy = False
        self._stopping = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"armloop-{name}", daemon=True)
        self._thread.start()

    def submit(self, save: Save) -> None:
        with self._cond:
            dropped, self._pending = self._pending, save
            busy = self._busy
            self._cond.notify_all()
        if dropped is not None and self.on_superseded:
            self.on_superseded(dropped)
        if busy:
            self.runner.interrupt()

    def has_pending(self) -> bool:
        with self._cond:
            return self._pending is not None

    def stop(self, timeout: float | None = None) -> None:
        with self._cond:
            self._stopping = True
            self._pending = None
            busy = self._busy
            self._cond.notify_all()
        if busy:
            self.runner.interrupt()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                save, self._pending, self._busy = self._pending, None, True
            try:
                self.runner.handle(save, self.has_pending)
            finally:
                with self._cond:
                    self._busy = False
