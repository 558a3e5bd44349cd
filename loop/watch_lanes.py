"""Lanes: one worker thread per watched file, running its latest save.

A save that arrives while the lane is busy waits in a single slot (a newer one replaces it:
latest save wins) and the lane's `interrupt` is called, so work that can be cut short (a
model generation) stops at once instead of finishing for nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from loop.watch_files import Save


class Lane:
    """Runs `handle(save)` for the newest submitted save, one at a time, on its own thread."""

    def __init__(
        self,
        name: str,
        handle: Callable[[Save], None],
        interrupt: Callable[[], None] | None = None,
        on_superseded: Callable[[Save], None] | None = None,
    ) -> None:
        self.name = name
        self.handle = handle
        self.interrupt = interrupt
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
        if busy and self.interrupt:
            self.interrupt()

    def has_pending(self) -> bool:
        with self._cond:
            return self._pending is not None

    def stop(self, timeout: float | None = None) -> None:
        with self._cond:
            self._stopping = True
            self._pending = None
            busy = self._busy
            self._cond.notify_all()
        if busy and self.interrupt:
            self.interrupt()
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
                self.handle(save)
            finally:
                with self._cond:
                    self._busy = False
