"""A saved spec: run the generate -> load -> simulate -> score -> feedback loop for it.

Each save gets its own run directory OUT/runs/NAME-N (N = 1, 2, ... per task), a complete
`armloop run` directory (config.toml, task.toml as saved, events.jsonl, iter_NNN/,
summary.json). Its stages are also appended to OUT/events.jsonl. A newer save of the same
spec cancels the run in flight (Loop.abort closes the stream at once): latest save wins.
The run's simulator starts in the background while the model generates.
"""

from __future__ import annotations

import re
import threading
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loop import __version__
from loop.errors import ArmloopError, TaskSpecError
from loop.iteration import Loop, LoopOptions
from loop.rundir import EventLog, RunDir
from loop.watch_events import Handled, SaveEvents, first_line
from loop.watch_files import Save

BackendProvider = Callable[[], Any]


def parse_spec(save: Save) -> Any:
    """The saved text as a TaskSpec named after the file (raises TaskSpecError)."""
    from loop.taskspec import parse_task

    try:
        data = tomllib.loads(save.text)
    except tomllib.TOMLDecodeError as exc:
        raise TaskSpecError(f"{save.path.name}: malformed TOML: {exc}", "fix the TOML") from None
    return parse_task(data, name=save.name, path=str(save.path))


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


class BackgroundEvaluator:
    """An Evaluator started on a thread at once, waited for at first use; notes the first
    physics step of the first simulation (save-to-first-step latency)."""

    def __init__(self, spec: Any, workers: int) -> None:
        self.first_step_at: float | None = None
        self._evaluator: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._build, args=(spec, workers), daemon=True)
        self._thread.start()

    def _build(self, spec: Any, workers: int) -> None:
        from loop.evaluate import Evaluator

        try:
            self._evaluator = Evaluator(spec, workers=workers)
        except BaseException as exc:  # noqa: BLE001 - re-raised on first use
            self._error = exc

    def _get(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._evaluator

    def load(self, code: str, filename: str = "controller.py") -> Any:
        return self._get().load(code, filename=filename)

    def simulate(self, seeds: list[int]) -> list[Any]:
        records = self._get().simulate(seeds)
        if self.first_step_at is None:
            times = [r.first_step_at for r in records if r.first_step_at is not None]
            self.first_step_at = min(times) if times else None
        return records

    def close(self) -> None:
        self._thread.join()
        if self._evaluator is not None:
            self._evaluator.close()


class SpecRunner:
    """Handles saves of one NAME.toml: one Loop at a time, cancelled by a newer save."""

    def __init__(
        self,
        out: Path,
        options: LoopOptions,
        backend: BackendProvider,
        events: EventLog,
        report: Callable[[Handled], None],
        status: Callable[[str], None],
        selection: dict[str, Any] | None = None,
    ) -> None:
        self.out, self.options, self.backend = out, options, backend
        self.events, self.report, self.status = events, report, status
        self.selection = selection or {}
        self.has_pending: Callable[[], bool] = lambda: False  # set by the Watcher: a newer save
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._loop: Loop | None = None

    def interrupt(self) -> None:
        """Cancel the run in flight; returns at once (the stream is closed on a helper thread,
        so the thread handing on saves never waits on the network)."""
        with self._lock:
            self._cancel.set()
            loop = self._loop
        if loop is not None:
            threading.Thread(target=loop.abort, name="armloop-abort", daemon=True).start()

    def handle(self, save: Save) -> None:
        with self._lock:
            self._cancel = cancel = threading.Event()
        if self.has_pending():  # a newer save arrived before this one started
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
            spec = parse_spec(save)
        except ArmloopError as exc:
            SaveEvents(self.events, save).write("detect", detect, False, error=exc.problem)
            result.outcome, result.error = "bad file", exc.problem
            return result
        rundir = RunDir(new_run_dir(self.out, spec.name))
        result.run = str(rundir.path.relative_to(self.out))
        log = SaveEvents(self.events, save, run=result.run)
        log.write("detect", detect, True, task=spec.name)
        try:
            return self._run(save, spec, rundir, log, result, cancel)
        finally:
            rundir.close()

    def _run(self, save, spec, rundir: RunDir, log, result: Handled, cancel) -> Handled:
        spec = self._pin_spec(save, spec, rundir)
        try:
            self.status(f"{save.path.name}: starting the model backend")
            backend = self.backend()
        except ArmloopError as exc:
            log.write("ttft", 0.0, False, error=exc.problem)
            result.outcome, result.error = "error", exc.problem
            return result
        self._write_config(rundir, spec, backend, save)
        evaluator = BackgroundEvaluator(spec, workers=len(self.options.seeds))
        try:
            loop = Loop(spec, backend, evaluator, rundir, self.options, cancel=cancel)
            loop.on_stage = self._mirror(log, save)
            with self._lock:
                self._loop = loop
            summary = loop.run()
        finally:
            evaluator.close()
        return self._outcome(result, loop, summary, evaluator, save)

    def _mirror(self, log: SaveEvents, save: Save) -> Callable[[int, str, dict], None]:
        """Loop on_stage hook: copy each stage into OUT/events.jsonl, update the status."""
        skip = {"t", "iteration", "stage", "duration_s", "ok"}

        def on_stage(index: int, stage: str, event: dict[str, Any]) -> None:
            extra = {k: v for k, v in event.items() if k not in skip}
            log.write(stage, event["duration_s"], event["ok"], iteration=index, **extra)
            self.status(f"{save.path.name}: iteration {index}, {stage} done")

        return on_stage

    def _outcome(self, result: Handled, loop: Loop, summary, evaluator, save: Save) -> Handled:
        last = loop.records[-1] if loop.records else None
        result.iterations = len(loop.records)
        result.success = bool(summary["success"])
        result.score = last.score if last is not None and last.evaluation else None
        if evaluator.first_step_at is not None:
            result.latency_s = evaluator.first_step_at - save.saved_at
        if loop.stopped_reason == "cancelled":
            result.outcome, result.note = "cancelled", "cancelled by a newer save"
        else:
            result.outcome = "success" if result.success else "failed"
            result.note = "" if result.success else loop.stopped_reason
            if last is not None and last.error:
                result.error = first_line(last.error)
        return result

    # -- run directory ---------------------------------------------------------------------

    @staticmethod
    def _pin_spec(save: Save, spec: Any, rundir: RunDir) -> Any:
        """Keep the text as saved in the run directory and point the spec at that copy."""
        from dataclasses import replace

        copy = rundir.path / "task.toml"
        copy.write_text(save.text)
        return replace(spec, path=str(copy))

    def _write_config(self, rundir: RunDir, spec: Any, backend: Any, save: Save) -> None:
        o = self.options
        rundir.write_config(
            {
                "armloop_version": __version__,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "task": spec.name,
                "task_file": "task.toml",
                "seeds": list(o.seeds),
                "max_iters": o.max_iters,
                "max_tokens": o.max_tokens,
                "temperature": o.temperature,
                "stop_at_code_end": o.stop_at_code_end,
                "selection": {k: v for k, v in self.selection.items() if v is not None},
                "backend": backend.describe(),
                "watch": {"file": str(save.path), "save": save.number, "sha256": save.digest},
            }
        )
