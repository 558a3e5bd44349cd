"""Saves in a watched folder, as editors really make them: debounced, deduplicated, filtered.

A watchdog observer reports raw filesystem events; `SaveFeed` keeps, per file, the time of
its latest event and hands the file on once it has been quiet for `quiet_s` (an editor that
writes twice, or writes a temporary file and renames it, makes one save). A save whose bytes
equal the last save handed on for that file is dropped. Hidden, backup, swap and temporary
files, subfolders and anything but NAME.py / NAME.toml are ignored.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

KINDS = {".py": "controller", ".toml": "spec"}
IGNORED_ENDINGS = ("~", ".swp", ".swx", ".swo", ".tmp", ".bak", ".orig", ".part", ".crdownload")
IGNORED_NAMES = {"4913", "__init__.py", "armloop.toml", "pyproject.toml"}
QUIET_EVENTS = {"opened", "closed_no_write", "deleted"}


def is_watched(path: Path, root: Path) -> bool:
    """True for NAME.py and NAME.toml directly in `root`; editors' by-products are ignored."""
    name = path.name
    if path.parent != root or name in IGNORED_NAMES:
        return False
    if name.startswith((".", "#", "~")) or name.endswith(IGNORED_ENDINGS):
        return False
    return path.suffix in KINDS and bool(path.stem)


@dataclass(frozen=True)
class Save:
    """One debounced, new-content save of a watched file."""

    number: int  # 1, 2, ... in the order saves were handed on
    path: Path
    text: str
    digest: str
    saved_at: float  # time.monotonic() of the save's last filesystem event
    handed_at: float  # time.monotonic() when the quiet period ended
    mtime: float  # the file's st_mtime (unix time) when read

    @property
    def kind(self) -> str:
        return KINDS[self.path.suffix]

    @property
    def name(self) -> str:
        """The task this file belongs to."""
        return self.path.stem


class SaveFeed(FileSystemEventHandler):
    """Watch `root` and call `on_save(save)` (from one feed thread) for every new save."""

    def __init__(self, root: Path, on_save: Callable[[Save], None], quiet_s: float = 0.05):
        self.root = Path(os.path.realpath(root))
        self.on_save = on_save
        self.quiet_s = quiet_s
        self.skipped = 0  # saves dropped because their content was already handled
        self._pending: dict[Path, float] = {}
        self._digests: dict[Path, str] = {}
        self._count = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._observer = Observer()
        self._thread = threading.Thread(target=self._run, name="armloop-savefeed", daemon=True)

    def start(self) -> None:
        self._observer.schedule(self, str(self.root), recursive=False)
        self._observer.start()
        self._thread.start()

    def stop(self) -> None:
        self._observer.stop()
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._observer.is_alive():
            self._observer.join(5)
        if self._thread.is_alive():
            self._thread.join(5)

    # -- observer thread ---------------------------------------------------------------

    def on_any_event(self, event: FileSystemEvent) -> None:
        now = time.monotonic()
        if event.is_directory:
            return
        if event.event_type in QUIET_EVENTS:
            if event.event_type == "deleted":
                self._digests.pop(Path(os.fsdecode(event.src_path)), None)
            return
        target = event.dest_path if event.event_type == "moved" else event.src_path
        path = Path(os.fsdecode(target))
        if not is_watched(path, self.root):
            return
        with self._cond:
            self._pending[path] = now
            self._cond.notify_all()

    # -- feed thread -------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            due = self._next_due()
            if due is None:
                return
            for path, saved_at in due:
                self._hand_on(path, saved_at)

    def _next_due(self) -> list[tuple[Path, float]] | None:
        """Wait for files that have been quiet for quiet_s; None once stopping."""
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                due = [(p, t) for p, t in self._pending.items() if now - t >= self.quiet_s]
                if due:
                    for path, _ in due:
                        del self._pending[path]
                    return sorted(due, key=lambda item: item[1])
                wait = min((t + self.quiet_s - now for t in self._pending.values()), default=None)
                self._cond.wait(wait)
            return None

    def _hand_on(self, path: Path, saved_at: float) -> None:
        try:
            data = path.read_bytes()
            mtime = path.stat().st_mtime
        except OSError:  # renamed away or deleted again before we looked
            return
        digest = hashlib.sha256(data).hexdigest()
        if self._digests.get(path) == digest:
            self.skipped += 1
            return
        self._digests[path] = digest
        self._count += 1
        text = data.decode("utf-8", errors="replace")
        handed = time.monotonic()
        self.on_save(Save(self._count, path, text, digest, saved_at, handed, mtime))
