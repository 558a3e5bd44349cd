"""A saved controller: hot-load it into the task's warm simulator and run it (no model call).

One `ControllerRunner` per watched NAME.py keeps a warm `Evaluator` for task NAME (the spec
NAME.toml in the folder, else the built-in task) across saves; it is rebuilt only when the
spec's text changes. Stages: detect, load, simulate, score, feedback. Each save's episodes are
recorded as OUT/saves/NAME-N/rollouts.npz (N: the save's number; `armloop replay` reads it);
with `video`, its worst seed's clip is rendered there afterwards, outside the stages, as a
`render` event (loop/replay/hooks.py).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

from loop.errors import ArmloopError
from loop.replay.hooks import render
from loop.run import stages
from loop.run.rundir import EventLog
from loop.sim.evaluator import Evaluator
from loop.sim.pool import worker_count
from loop.task.catalog import load_task
from loop.task.spec import TaskSpec
from loop.watch.events import Handled, SaveEvents, first_line
from loop.watch.files import Save

Report = Callable[[Handled], None]
Status = Callable[[str], None]


def resolve_task(name: str, folder: Path) -> tuple[TaskSpec, str]:
    """Task NAME: the folder's NAME.toml if there is one, else the built-in task; and a key
    that changes when the spec's text does."""
    local = folder / f"{name}.toml"
    spec = load_task(local if local.is_file() else name)
    digest = hashlib.sha256(Path(spec.path).read_bytes()).hexdigest()
    return spec, f"{spec.path}:{digest}"


class ControllerRunner:
    """Handles saves of one NAME.py; owns the warm Evaluator for task NAME."""

    def __init__(
        self,
        folder: Path,
        seeds: tuple[int, ...],
        gui: bool,
        events: EventLog,
        report: Report,
        status: Status,
        workers: int | None = None,
        stopping: threading.Event | None = None,
        saves: Path | None = None,
        video: bool = False,
    ) -> None:
        self.folder, self.seeds, self.gui = folder, seeds, gui
        self.saves, self.video = saves, video  # saves: where recordings (and clips) go
        self.stopping = stopping or threading.Event()  # set: Ctrl-C, workers may be gone
        self.events, self.report, self.status = events, report, status
        self.workers = workers or worker_count(len(seeds))
        self.note = ""  # e.g. why the window could not open
        self._evaluator: Evaluator | None = None
        self._key: str | None = None
        self._lock = threading.Lock()

    def prewarm(self, path: Path) -> None:
        """Start the warm simulator for the file's task and load its current text, unrun."""
        with self._lock:
            try:
                spec, key = resolve_task(path.stem, self.folder)
                self._ensure(spec, key).load(path.read_text(), filename=path.name)
            except (ArmloopError, OSError, RuntimeError):
                pass  # reported when the file is saved

    def interrupt(self) -> None:
        """A simulation in flight runs to its end (it takes seconds)."""

    def handle(self, save: Save, superseded: Callable[[], bool]) -> None:
        with self._lock:
            try:
                self.report(self._stopped(self._handle(save)))
            except Exception as exc:  # noqa: BLE001 - a broken simulator must not stop watching
                self._close()
                error = f"{type(exc).__name__}: {exc}"
                SaveEvents(self.events, save).write("simulate", 0.0, False, error=error)
                self.report(Handled(save.number, save.path.name, save.kind, "error", error=error))

    def _stopped(self, result: Handled) -> Handled:
        """A run cut short by Ctrl-C (which also stops the sim workers) is not a failure."""
        if self.stopping.is_set() and result.outcome == "failed":
            result.outcome, result.note, result.score = "cancelled", "stopped by Ctrl-C", None
        return result

    def close(self, timeout: float = 20.0) -> None:
        """Close the simulator; a run still holding it after `timeout` s has its workers
        closed under it (they are what it waits on), so Ctrl-C always ends."""
        got = self._lock.acquire(timeout=timeout)
        try:
            self._close()
        finally:
            if got:
                self._lock.release()

    # -- stages --------------------------------------------------------------------------

    def _handle(self, save: Save) -> Handled:
        log = SaveEvents(self.events, save)
        detect = time.monotonic() - save.saved_at
        result = Handled(save.number, save.path.name, save.kind, "failed", detect_s=detect)
        try:
            spec, key = resolve_task(save.name, self.folder)
        except ArmloopError as exc:
            log.write("detect", detect, False, error=exc.problem, fix=exc.fix)
            result.outcome, result.error = "bad file", exc.problem
            return result
        log.write("detect", detect, True, task=spec.name, debounce_s=save.handed_at - save.saved_at)
        self.status(f"{save.path.name}: loading")
        t0 = time.perf_counter()
        warm = self._key != key
        evaluator = self._ensure(spec, key)
        warm_s = time.perf_counter() - t0 if warm else None
        record_to = self._recording(save)
        done = stages.evaluate(
            log.write,
            spec,
            evaluator,
            save.text,
            self.seeds,
            filename=save.path.name,
            before_load={} if warm_s is None else {"warm_s": warm_s},
            saved_at=save.saved_at,
            record_to=record_to,
        )
        result = self._outcome(result, done, save, warm_s)
        if self.video and record_to is not None and record_to.is_file():
            self.status(f"{save.path.name}: rendering its clip")
            seconds, ok, extra = render(record_to.parent)
            log.write("render", seconds, ok, **extra)
            result.clip = extra.get("path")
        return result

    def _recording(self, save: Save) -> Path | None:
        if self.saves is None:
            return None
        folder = self.saves / f"{save.name}-{save.number}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / "rollouts.npz"

    def _outcome(
        self, result: Handled, done: stages.Evaluated, save: Save, warm_s: float | None
    ) -> Handled:
        result.load_s = (warm_s or 0.0) + done.load.seconds
        if done.evaluation is None:
            result.outcome, result.error = "load error", first_line(done.load.error)
            return result
        first = done.first_step_at
        if first is not None:
            result.latency_s, result.first_step_s = first - save.saved_at, done.first_step_s
        result.success = bool(done.evaluation.success)
        result.score = float(done.evaluation.score)
        result.outcome = "success" if result.success else "failed"
        notes = [first_line(done.feedback) if done.feedback else "", self.note]
        result.note, self.note = "; ".join(n for n in notes if n), ""
        return result

    # -- the warm simulator --------------------------------------------------------------

    def _ensure(self, spec: TaskSpec, key: str) -> Evaluator:
        """The warm Evaluator for this spec text; (re)built when the spec changed."""
        if self._evaluator is not None and self._key == key:
            return self._evaluator
        self._close()
        self.status(f"starting the simulator for {spec.name}")
        self._evaluator = self._open(spec)
        self._key = key
        return self._evaluator

    def _open(self, spec: TaskSpec) -> Evaluator:
        if self.gui:
            try:
                return Evaluator(spec, gui=True)
            except Exception as exc:  # noqa: BLE001 - no usable display: fall back to headless
                self.gui = False
                self.note = f"no PyBullet window ({first_line(exc)}); running headless"
        return Evaluator(spec, workers=self.workers)

    def _close(self) -> None:
        if self._evaluator is not None:
            evaluator, self._evaluator, self._key = self._evaluator, None, None
            evaluator.close()
