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
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loop.errors import ArmloopError
from loop.iteration import LoopOptions
from loop.rundir import EventLog
from loop.watch_controller import ControllerRunner
from loop.watch_events import Handled
from loop.watch_files import Save, SaveFeed, is_watched
from loop.watch_lanes import Lane
from loop.watch_spec import SpecRunner

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


class Watcher:
    """Watch `directory`; run saved controllers and specs; record them under `out`."""

    def __init__(
        self,
        directory: Path,
        out: Path,
        backend_selection: dict[str, Any] | None = None,
        config: Path | None = None,
        options: WatchOptions = WatchOptions(),
        on_handled: Callable[[Handled], None] | None = None,
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise ArmloopError(f"{directory} is not a folder", "give the folder to watch")
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.selection = dict(backend_selection or {})
        self.config, self.options = config, options
        self.on_handled, self.on_status = on_handled, on_status
        self.handled: list[Handled] = []
        self.superseded = 0
        self.events = EventLog(self.out / "events.jsonl")
        self.feed = SaveFeed(self.directory, self._dispatch, quiet_s=options.quiet_s)
        self._lanes: dict[Path, Lane] = {}
        self._runners: dict[Path, ControllerRunner | SpecRunner] = {}
        self._cond = threading.Condition()
        self._backend: Any = None
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
            if isinstance(runner, ControllerRunner):
                runner.close()
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
                runner = self._runner(path)
                interrupt = runner.interrupt if isinstance(runner, SpecRunner) else None
                lane = Lane(path.name, runner.handle, interrupt, self._superseded)
                if isinstance(runner, SpecRunner):
                    runner.has_pending = lane.has_pending
                self._lanes[path] = lane
            return lane

    def _runner(self, path: Path) -> ControllerRunner | SpecRunner:
        runner = self._runners.get(path)
        if runner is not None:
            return runner
        o = self.options
        if path.suffix == ".py":
            runner = ControllerRunner(
                self.directory,
                o.seeds,
                o.gui,
                self.events,
                self._report,
                self._status,
                stopping=self._stopping,
            )
        else:
            loop_options = LoopOptions(max_iters=o.max_iters, seeds=o.seeds)
            runner = SpecRunner(
                self.out,
                loop_options,
                self._open_backend,
                self.events,
                self._report,
                self._status,
                self.selection,
            )
        self._runners[path] = runner
        return runner

    def _prewarm(self) -> None:
        for path in sorted(self.feed.root.glob("*.py")):
            if is_watched(path, self.feed.root):
                with self._cond:
                    runner = self._runner(path)
                threading.Thread(target=runner.prewarm, args=(path,), daemon=True).start()

    # -- shared services -----------------------------------------------------------------

    def _open_backend(self) -> Any:
        """The backend, opened (and its local server started) at the first spec save."""
        with self._backend_lock:
            if self._stopped:
                raise ArmloopError("watch mode is stopping", "")
            if self._backend is None:
                from loop.backends import open_backend

                backend = open_backend(config=self.config, **self.selection)
                start = getattr(backend, "start", None)
                if callable(start):
                    start()
                self._backend = backend
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


# -- the command -----------------------------------------------------------------------


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _text(value: object) -> str:
    """Text that can come from a controller, as rich markup: no control characters (first, so
    that dropping one cannot make a tag), then escaped."""
    from rich.markup import escape

    from loop.sandbox.text import printable

    return escape(printable(str(value)))


def describe(h: Handled) -> str:
    """The one console line for a handled save."""
    head = f"[bold]{_text(h.file)}[/] #{h.number}"
    if h.outcome in ("bad file", "load error", "error"):
        return f"{head} [red]{h.outcome}[/]: {_text(h.error)}"
    verdict = {"success": "[green]success[/]", "cancelled": "[yellow]cancelled[/]"}.get(
        h.outcome, "[red]failed[/]"
    )
    score = f", score {h.score:.2f}" if h.score is not None else ""
    if h.kind == "spec":
        iters = f" after {h.iterations} iteration(s)" if h.iterations else ""
        line = f"{head} loop {h.run}: {verdict}{iters}{score}"
        if h.latency_s is not None:
            line += f"; save -> first step {_ms(h.latency_s)}"
    else:
        line = (
            f"{head} ran: {verdict}{score}; save -> first step {_ms(h.latency_s)} "
            f"(detect {_ms(h.detect_s)}, load {_ms(h.load_s)}, first step {_ms(h.first_step_s)})"
        )
    return line + (f" — {_text(h.note)}" if h.note else "")


def default_out() -> Path:
    return Path("runs") / f"watch-{time.strftime('%Y%m%d-%H%M%S')}"


def watch_command(
    directory: Path,
    *,
    backend: str | None,
    model: str | None,
    base_url: str | None,
    config: Path | None,
    out: Path | None,
    max_iters: int,
    seeds: int,
) -> None:
    """Watch until Ctrl-C, one console line per handled save and a live status line."""
    from rich.console import Console

    console = Console(highlight=False)
    gui = display_available()
    options = WatchOptions(seeds=tuple(range(seeds)), max_iters=max_iters, gui=gui)
    selection = {"name": backend, "model": model, "base_url": base_url}
    out = out or default_out()
    idle = f"watching {directory} ({'PyBullet window' if gui else 'headless'}); Ctrl-C stops"
    with console.status(idle) as status:
        watcher = Watcher(
            directory,
            out,
            selection,
            config,
            options,
            on_handled=lambda h: (console.print(describe(h)), status.update(idle)),
            on_status=lambda text: status.update(f"{text}  [dim]({idle})[/]"),
        )
        _run_until_interrupted(watcher)
    console.print(f"stopped; events in {out / 'events.jsonl'}")


def _run_until_interrupted(watcher: Watcher) -> None:
    """Ctrl-C (or SIGTERM) stops everything cleanly."""
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        watcher.start()
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
        signal.signal(signal.SIGTERM, previous)
