"""`armloop watch [DIR]`: live mode. A saved file shows up as behaviour at once.

In DIR, NAME.toml is a task spec and NAME.py a hand-edited controller for task NAME (the
spec NAME.toml in DIR if there is one, else the built-in task).

- Saving NAME.py hot-loads it into task NAME's warm simulator (kept across saves) and runs
  the episodes; no model is called. With a display the PyBullet window shows them (real
  time, one worker); without one they run headless on all cores. Set ARMLOOP_GUI=0 or 1 to
  choose.
- Saving NAME.toml runs the loop for it against the backend, in OUT/runs/NAME-N (a full
  `armloop run` directory). Saving it again while that run is in flight cancels it.

Every handled save appends to OUT/events.jsonl: `detect` (last filesystem event of the save
-> handling starts; includes the debounce quiet period), then the stages that ran; each line
also has "file", "kind" (controller | spec) and "save" (1, 2, ...), spec stages "run".
A file that cannot be handled (broken TOML, unknown task) gets `detect` with ok false.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loop.backends import Backend
from loop.errors import ArmloopError
from loop.run.loop import LoopOptions
from loop.run.rundir import EventLog
from loop.run.setup import BackendChoice, open_model_backend
from loop.watch.controller import ControllerRunner
from loop.watch.events import Handled
from loop.watch.files import Save, SaveFeed, is_watched
from loop.watch.lanes import Lane, Runner
from loop.watch.spec import SpecRunner

STOP_WAIT_S = 20.0  # at Ctrl-C, how long a lane may take to finish what it is doing


def display_available() -> bool:
    """Whether a PyBullet window can open: ARMLOOP_GUI=0/1 decides, else $DISPLAY / macOS."""
    forced = os.environ.get("ARMLOOP_GUI")
    if forced is not None:
        return forced.strip().lower() not in ("", "0", "false", "no")
    return sys.platform == "darwin" or bool(os.environ.get("DISPLAY"))


@dataclass(frozen=True)
class WatchOptions:
    seeds: tuple[int, ...] = (0, 1, 2)
    max_iters: int = 3
    quiet_s: float = 0.05  # debounce: a file must be quiet this long before it is handled
    gui: bool = False
    prewarm: bool = True  # start simulators for the NAME.py files already in the folder
    candidates: int = 1  # a saved spec's loop: answers sampled at once per iteration
    video: bool = False  # a clip of every run: each saved controller, each loop iteration


class Watcher:
    """Watch `directory`; run saved controllers and specs; record them under `out`."""

    def __init__(
        self,
        directory: Path,
        out: Path,
        choice: BackendChoice = BackendChoice(),
        options: WatchOptions = WatchOptions(),
        on_handled: Callable[[Handled], None] | None = None,
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise ArmloopError(f"{directory} is not a folder", "give the folder to watch")
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.choice, self.options = choice, options
        self.on_handled, self.on_status = on_handled, on_status
        self.handled: list[Handled] = []
        self.superseded = 0
        self.events = EventLog(self.out / "events.jsonl")
        self.feed = SaveFeed(self.directory, self._dispatch, quiet_s=options.quiet_s)
        self._lanes: dict[Path, Lane] = {}
        self._runners: dict[Path, Runner] = {}
        self._cond = threading.Condition()
        self._backend: Backend | None = None
        self._backend_lock = threading.Lock()
        self._stopped = False
        self._stopping = threading.Event()

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Watcher:
        self.feed.start()
        if self.options.prewarm:
            self._prewarm()
        return self

    def stop(self) -> None:
        """Stop watching, cancel runs in flight, close simulators, backend and files."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        self.feed.stop()
        with self._cond:
            lanes, runners = list(self._lanes.values()), list(self._runners.values())
        for lane in lanes:  # interrupt them all first, then wait for each
            lane.stop(timeout=0)
        for lane in lanes:
            lane.stop(timeout=STOP_WAIT_S)
        for runner in runners:
            runner.close(STOP_WAIT_S)
        with self._backend_lock:
            if self._backend is not None:
                self._backend.close()
                self._backend = None
        self.events.close()

    def __enter__(self) -> Watcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_handled(self, n: int, timeout: float | None = None) -> list[Handled]:
        """Block until at least `n` saves have been handled; all handled so far."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while len(self.handled) < n:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"{len(self.handled)} of {n} saves handled")
                self._cond.wait(left)
            return list(self.handled)

    # -- dispatch ------------------------------------------------------------------------

    def _dispatch(self, save: Save) -> None:
        if not self._stopped:
            self._lane(save.path).submit(save)

    def _lane(self, path: Path) -> Lane:
        with self._cond:
            lane = self._lanes.get(path)
            if lane is None:
                lane = Lane(path.name, self._runner(path), self._superseded)
                self._lanes[path] = lane
            return lane

    def _runner(self, path: Path) -> Runner:
        runner = self._runners.get(path)
        if runner is None:
            runner = self._runners[path] = self._new_runner(path)
        return runner

    def _new_runner(self, path: Path) -> Runner:
        o = self.options
        if path.suffix == ".py":
            return ControllerRunner(
                self.directory,
                o.seeds,
                o.gui,
                self.events,
                self._report,
                self._status,
                stopping=self._stopping,
                saves=self.out / "saves",
                video=o.video,
            )
        return SpecRunner(
            self.out,
            LoopOptions(max_iters=o.max_iters, seeds=o.seeds, candidates=o.candidates),
            self.choice,
            self._shared_backend,
            self.events,
            self._report,
            self._status,
            video=o.video,
        )

    def _prewarm(self) -> None:
        for path in sorted(self.feed.root.glob("*.py")):
            if is_watched(path, self.feed.root):
                with self._cond:
                    runner = self._runner(path)
                threading.Thread(target=runner.prewarm, args=(path,), daemon=True).start()

    # -- shared services -----------------------------------------------------------------

    def _shared_backend(self) -> Backend:
        """The backend, opened at the first spec save and shared by every later one (each
        run's setup warms it, and the first pays for starting the embedded model)."""
        with self._backend_lock:
            if self._stopped:
                raise ArmloopError("watch mode is stopping", "")
            if self._backend is None:
                self._backend = open_model_backend(self.choice)
            return self._backend

    def _report(self, handled: Handled) -> None:
        with self._cond:
            self.handled.append(handled)
            self._cond.notify_all()
        if self.on_handled:
            self.on_handled(handled)

    def _superseded(self, save: Save) -> None:
        with self._cond:
            self.superseded += 1

    def _status(self, text: str) -> None:
        if self.on_status:
            self.on_status(text)
