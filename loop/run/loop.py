"""The loop: prompt, model, code, hot-load, episodes, score, feedback; every stage timed.

One `Loop` drives one task against one backend and warm simulators, all handed to it by
loop/run/setup.py. An iteration samples `candidates` answers at once (1 by default), each
going through the eight stages on its own thread (loop/run/candidate.py) as soon as its
stream ends; the iteration succeeds when any candidate does, and the next prompt carries the
best candidate with its feedback and a line on each other one. Each finished stage is
appended to events.jsonl at once; each finished iteration writes its folder and rewrites
summary.json, so the run directory is complete and readable whenever the run stops.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from loop.backends.base import DEFAULT_TEMPERATURE, ChatBackend, Stream
from loop.errors import ArmloopError
from loop.run.candidate import Cancelled, CandidateRun, Context, Siblings
from loop.run.records import IterationRecord, Restored, critical_path
from loop.run.rundir import RunDir, generation_share
from loop.run.slots import SimSlots
from loop.run.stages import WarmEvaluator
from loop.task.spec import TaskSpec

__all__ = ["Cancelled", "Loop", "LoopHooks", "LoopOptions", "MAX_CANDIDATES"]

StageHook = Callable[[int, str, dict[str, Any]], None]
MAX_CANDIDATES = 16
HOT = 0.8  # with several candidates, the last samples this hot (the first at the base)
IterationHook = Callable[["Loop", IterationRecord], None]


@dataclass(frozen=True)
class LoopOptions:
    max_iters: int = 5
    seeds: tuple[int, ...] = (0, 1, 2)
    temperature: float | None = None  # None: the backend's own default
    max_tokens: int = 1200
    stop_at_code_end: bool = True  # close the stream once the code block has closed
    max_backend_failures: int = 2  # consecutive failures of the model server before giving up
    # False: run code that fails the static check anyway (tests of the process sandbox only;
    # the sandbox, not the static check, is what keeps generated code contained)
    static_check: bool = True
    candidates: int = 1  # answers sampled at once per iteration
    # loop time (the cycles) after which no new iteration starts; None: --max-iters only
    budget_s: float | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.candidates <= MAX_CANDIDATES:
            raise ArmloopError(
                f"--candidates {self.candidates} is out of range",
                f"give 1 to {MAX_CANDIDATES} candidates per iteration",
            )


@dataclass(frozen=True)
class LoopHooks:
    """Who hears about the loop: each finished stage, each written iteration (outside every
    stage: `armloop run --video` renders its clip there), and a flag that stops it."""

    on_stage: StageHook | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    after_iteration: IterationHook | None = None


class Loop:
    """Run the iteration loop for one task; see the module docstring."""

    def __init__(
        self,
        task: TaskSpec,
        backend: ChatBackend,
        evaluators: Sequence[WarmEvaluator],
        rundir: RunDir,
        options: LoopOptions,
        *,
        hooks: LoopHooks | None = None,
        started: float | None = None,
        setup_s: Mapping[str, float] | None = None,
        labels: Mapping[str, Any] | None = None,
        restored: Restored | None = None,
    ) -> None:
        self.task, self.backend, self.rundir, self.options = task, backend, rundir, options
        self.slots = SimSlots(evaluators)
        self.hooks = hooks or LoopHooks()
        self.started = time.time() if started is None else started  # setup's start
        restored = restored or Restored()
        self.records: list[IterationRecord] = list(restored.records)
        self.history = restored.history
        self.first_index = restored.next_index
        self.previous_wall_s = restored.wall_s
        self.setup_s = _add(restored.setup_s, setup_s or {})
        self.labels = dict(labels or {})
        self.stopped_reason = ""
        self.first_step_at: float | None = None  # time.monotonic() of the first physics step
        self._streams: set[Stream] = set()
        self._streams_lock = threading.Lock()

    @property
    def cancel(self) -> threading.Event:
        return self.hooks.cancel

    def abort(self) -> None:
        """Stop from another thread: every generation in flight is closed at once."""
        self.cancel.set()
        with self._streams_lock:
            streams = list(self._streams)
        for stream in streams:
            try:
                stream.close()
            except Exception:  # noqa: BLE001 - closing a stream another thread reads may race
                pass

    # -- public -------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Iterate until success, the iteration limit, a dead backend or cancellation."""
        failures = 0
        index = self.first_index
        try:
            while index <= self.options.max_iters:
                budget = self.options.budget_s
                if budget is not None and sum(r.cycle_s for r in self.records) >= budget:
                    self.stopped_reason = f"no success within the budget of {budget:g} s"
                    break
                record = self.iterate(index)
                self._finish_iteration(record)
                if self.hooks.after_iteration:
                    self.hooks.after_iteration(self, record)
                if record.success:
                    self.stopped_reason = "success"
                    break
                failures = failures + 1 if record.backend_failed else 0
                if failures >= self.options.max_backend_failures:
                    self.stopped_reason = f"model backend failed {failures} times: {record.error}"
                    break
                index += 1
            else:
                self.stopped_reason = f"no success within {self.options.max_iters} iterations"
        except Cancelled:
            self.stopped_reason = "cancelled"
        except KeyboardInterrupt:
            self.abort()
            self.stopped_reason = "interrupted"
            self.write_summary()
            raise
        return self.write_summary()

    def iterate(self, index: int) -> IterationRecord:
        width = self.options.candidates
        siblings = Siblings()
        runs = [
            CandidateRun(
                self._context(), index, c, self.history, siblings, self._sampling(index, c)
            )
            for c in range(1, width + 1)
        ]
        if width == 1:
            record = IterationRecord.single(runs[0].run())
        else:
            t0 = time.perf_counter()
            done = self._together(runs)
            record = IterationRecord(index, done, width=width)
            record.wall_s = time.perf_counter() - t0
            record.critical = critical_path(done, t0, t0 + record.wall_s)
            self._write_best(record)
        firsts = [r.first_step_at for r in runs if r.first_step_at is not None]
        if self.first_step_at is None and firsts:
            self.first_step_at = min(firsts)
        return record

    def summary(self) -> dict[str, Any]:
        iterations = [r.summary() for r in self.records]
        success_at = next((i for i, r in enumerate(self.records) if r.success), None)
        time_to_success = (
            sum(r.cycle_s for r in self.records[: success_at + 1])
            if success_at is not None
            else None
        )
        describe = self.backend.describe()
        summary = {
            "task": self.task.name,
            "backend": describe.get("name") or describe.get("kind"),
            "model": describe.get("model"),
            "success": success_at is not None,
            "time_to_success_s": time_to_success,
            "iterations_to_success": success_at + 1 if success_at is not None else None,
            "generation_share": generation_share(iterations),
            "seeds": list(self.options.seeds),
            "stopped_reason": self.stopped_reason,
            "wall_s": self.previous_wall_s + time.time() - self.started,
            "setup_s": dict(self.setup_s),
            **self.labels,
            "iterations": iterations,
        }
        if self.options.candidates > 1:
            summary["candidates"] = self.options.candidates
        return summary

    def write_summary(self) -> dict[str, Any]:
        summary = self.summary()
        self.rundir.write_summary(summary)
        return summary

    # -- candidates -----------------------------------------------------------------------

    def _context(self) -> Context:
        o = self.options
        return Context(
            self.task,
            self.backend,
            self.slots,
            self.rundir,
            o.seeds,
            o.max_tokens,
            o.stop_at_code_end,
            o.static_check,
            o.candidates,
            self.cancel,
            self.hooks.on_stage,
            self._streams,
            self._streams_lock,
        )

    def _sampling(self, index: int, candidate: int) -> tuple[float | None, int | None]:
        """(temperature, seed) for one request. One candidate: the run's temperature, the
        server's seed; after a repeated answer hotter and with a new seed. Several: each its
        own seed, temperatures spread from the base to HOT so the samples differ."""
        repeat_of = self.history[-1].repeat_of if self.history else None
        width = self.options.candidates
        if width == 1 and not repeat_of:
            return self.options.temperature, None
        base = next(
            (
                t
                for t in (self.options.temperature, self.backend.config.temperature)
                if t is not None
            ),
            DEFAULT_TEMPERATURE,
        )
        if repeat_of:
            base = min(1.0, base + 0.3 * sum(1 for a in self.history if a.repeat_of))
        if width == 1:
            return base, 1000 + len(self.history)
        spread = (max(base, HOT) - base) * (candidate - 1) / (width - 1)
        return round(base + spread, 3), 1000 * index + candidate

    def _together(self, runs: list[CandidateRun]) -> list:
        """Run the candidates on threads; Ctrl-C (in this thread) closes every stream."""
        pool = ThreadPoolExecutor(max_workers=len(runs), thread_name_prefix="armloop-candidate")
        futures: list[Future] = [pool.submit(run.run) for run in runs]
        try:
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
                if any(f.exception() is not None for f in finished):
                    self.abort()  # one failed for good (Cancelled or a harness bug): stop all
        except BaseException:
            self.abort()
            raise
        finally:
            pool.shutdown(wait=True)
        for future in futures:
            error = future.exception()
            if error is not None:
                raise error
        return [f.result() for f in futures]

    def _write_best(self, record: IterationRecord) -> None:
        """iter_NNN/response.md, controller.py and rollouts.npz: the best candidate's (each
        candidate's are in cand_K/)."""
        best = record.best
        self.rundir.write_iter_file(record.index, "response.md", best.reply)
        if best.code is not None:
            self.rundir.write_iter_file(record.index, "controller.py", best.code)
        recorded = self.rundir.iter_dir(record.index) / f"cand_{best.candidate}" / "rollouts.npz"
        if recorded.is_file():
            target = self.rundir.rollouts_path(record.index)
            target.unlink(missing_ok=True)
            os.link(recorded, target)

    # -- bookkeeping ----------------------------------------------------------------------

    def _finish_iteration(self, record: IterationRecord) -> None:
        self.records.append(record)
        if not record.backend_failed:
            self.history.append(record.attempt())
        self.rundir.write_result(record.index, record.result())
        self.write_summary()


def _add(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
    return {k: float(a.get(k, 0.0)) + float(b.get(k, 0.0)) for k in {**a, **b}}
