"""A saved spec: run the generate -> load -> simulate -> score -> feedback loop for it.

Each save gets its own run directory OUT/runs/NAME-N (N = 1, 2, ... per task), a complete
`armloop run` directory (config.toml, task.toml as saved, events.jsonl, iter_NNN/,
summary.json), set up by loop/run/setup.py like any run. Its stages are also appended to
OUT/events.jsonl. A newer save of the same spec cancels the run in flight (Loop.abort closes
the stream at once): latest save wins. The backend is shared by every save of the session.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from loop.backends import Backend
from loop.errors import ArmloopError
from loop.replay.hooks import iteration_clips
from loop.run.loop import Loop, LoopHooks, LoopOptions
from loop.run.rundir import EventLog
from loop.run.setup import BackendChoice, RunPlan, prepare
from loop.task.catalog import parse_text
from loop.task.spec import TaskSpec
from loop.watch.events import Handled, SaveEvents, first_line
from loop.watch.files import Save

BackendProvider = Callable[[], Backend]
StageHook = Callable[[int, str, dict[str, Any]], None]


def new_run_dir(out: Path, name: str) -> Path:
    """OUT/runs/NAME-N with N one more than the highest already there."""
    runs = out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    pattern = re.compile(rf"{re.escape(name)}-(\d+)")
    taken = [int(m.group(1)) for p in runs.iterdir() if (m := pattern.fullmatch(p.name))]
    n = max(taken, default=0) + 1
    while True:
        try:
            (runs / f"{name}-{n}").mkdir()
            return runs / f"{name}-{n}"
        except FileExistsError:
            n += 1


class SpecRunner:
    """Handles saves of one NAME.toml: one Loop at a time, cancelled by a newer save."""

    def __init__(
        self,
        out: Path,
        options: LoopOptions,
        choice: BackendChoice,
        backend: BackendProvider,
        events: EventLog,
        report: Callable[[Handled], None],
        status: Callable[[str], None],
        video: bool = False,
    ) -> None:
        self.out, self.options, self.choice, self.backend = out, options, choice, backend
        self.video = video  # a clip of each iteration (loop/replay/hooks.py)
        self.events, self.report, self.status = events, report, status
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._loop: Loop | None = None

    def prewarm(self, path: Path) -> None:
        """Nothing to warm per spec: the backend starts at the first spec save."""

    def close(self, timeout: float) -> None:
        """Nothing held between saves (each run closes its simulators)."""

    def interrupt(self) -> None:
        """Cancel the run in flight; returns at once (the stream is closed on a helper thread,
        so the thread handing on saves never waits on the network)."""
        with self._lock:
            self._cancel.set()
            loop = self._loop
        if loop is not None:
            threading.Thread(target=loop.abort, name="armloop-abort", daemon=True).start()

    def handle(self, save: Save, superseded: Callable[[], bool]) -> None:
        with self._lock:
            self._cancel = cancel = threading.Event()
        if superseded():  # a newer save arrived before this one started
            cancel.set()
        try:
            self.report(self._handle(save, cancel))
        except Exception as exc:  # noqa: BLE001 - a failing run must not stop watching
            error = f"{type(exc).__name__}: {exc}"
            self.report(Handled(save.number, save.path.name, save.kind, "error", error=error))
        finally:
            with self._lock:
                self._loop = None

    # -- one run -------------------------------------------------------------------------

    def _handle(self, save: Save, cancel: threading.Event) -> Handled:
        detect = time.monotonic() - save.saved_at
        result = Handled(save.number, save.path.name, save.kind, "failed", detect_s=detect)
        try:
            spec = parse_text(save.text, name=save.name, path=str(save.path))
        except ArmloopError as exc:
            SaveEvents(self.events, save).write("detect", detect, False, error=exc.problem)
            result.outcome, result.error = "bad file", exc.problem
            return result
        folder = new_run_dir(self.out, spec.name)
        result.run = str(folder.relative_to(self.out))
        log = SaveEvents(self.events, save, run=result.run)
        log.write("detect", detect, True, task=spec.name)
        plan = RunPlan(
            _pinned(save, spec, folder),
            self.choice,
            self.options,
            folder,
            labels={"watch": {"file": str(save.path), "save": save.number, "sha256": save.digest}},
        )
        try:
            self.status(f"{save.path.name}: starting the model backend")
            run = prepare(plan, backend=self.backend(), status=self.status)
        except ArmloopError as exc:
            log.write("ttft", 0.0, False, error=exc.problem)
            result.outcome, result.error = "error", exc.problem
            return result
        with run:
            after = iteration_clips() if self.video else None
            hooks = LoopHooks(
                on_stage=self._mirror(log, save), cancel=cancel, after_iteration=after
            )
            loop = run.loop(hooks)
            with self._lock:
                self._loop = loop
            if cancel.is_set():
                loop.abort()
            summary = loop.run()
        return self._outcome(result, loop, summary, save)

    def _mirror(self, log: SaveEvents, save: Save) -> StageHook:
        """Loop on_stage hook: copy each stage into OUT/events.jsonl, update the status."""
        skip = {"t", "iteration", "stage", "duration_s", "ok"}

        def on_stage(index: int, stage: str, event: dict[str, Any]) -> None:
            extra = {k: v for k, v in event.items() if k not in skip}
            log.write(stage, event["duration_s"], event["ok"], iteration=index, **extra)
            self.status(f"{save.path.name}: iteration {index}, {stage} done")

        return on_stage

    def _outcome(self, result: Handled, loop: Loop, summary: dict, save: Save) -> Handled:
        last = loop.records[-1] if loop.records else None
        result.iterations = len(loop.records)
        result.success = bool(summary["success"])
        result.score = last.score if last is not None and last.best.ran else None
        if loop.first_step_at is not None:
            result.latency_s = loop.first_step_at - save.saved_at
        if loop.stopped_reason == "cancelled":
            result.outcome, result.note = "cancelled", "cancelled by a newer save"
        else:
            result.outcome = "success" if result.success else "failed"
            result.note = "" if result.success else loop.stopped_reason
            if last is not None and last.error:
                result.error = first_line(last.error)
        return result


def _pinned(save: Save, spec: TaskSpec, folder: Path) -> TaskSpec:
    """Keep the text as saved in the run directory and point the spec at that copy."""
    copy = folder / "task.toml"
    copy.write_text(save.text)
    return replace(spec, path=str(copy))
