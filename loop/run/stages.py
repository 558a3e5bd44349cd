"""The timed stages after the code is in: load, simulate, score, feedback.

One implementation for the loop (`armloop run`, bench, a saved spec in watch mode) and for a
hand-saved controller in watch mode, so the same controller fails, is timed and reads the
same way in every mode. Each finished stage goes to a `StageSink` at once.

With `record_to`, the episodes' records are written there as rollouts.npz
(loop/sim/rollouts.py) inside the `simulate` stage: saving the recording is part of
simulating, so wall time stays setup plus the stages (the event says how long the write took).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from loop.feedback.compose import feedback, load_feedback
from loop.sim.evaluator import LoadResult
from loop.sim.record import EpisodeRecord
from loop.sim.rollouts import save_rollouts
from loop.sim.scoring import Evaluation, score
from loop.task.spec import TaskSpec


class StageSink(Protocol):
    """Where a finished stage goes (events.jsonl, the live table, the watch log)."""

    def __call__(self, stage: str, seconds: float, ok: bool, **extra: Any) -> None: ...


class WarmEvaluator(Protocol):
    """Warm simulators for one task (loop.sim.evaluator.Evaluator)."""

    def load(self, code: str, filename: str = "controller.py") -> LoadResult: ...

    def simulate(self, seeds: Sequence[int]) -> list[EpisodeRecord]: ...


@dataclass(frozen=True)
class Evaluated:
    """What evaluating one controller version gave."""

    load: LoadResult
    evaluation: Evaluation | None = None  # None when it did not load
    feedback: str = ""  # what the model reads next ("" on success)
    records: list[EpisodeRecord] = field(default_factory=list)
    first_step_s: float | None = None  # simulate called -> first physics step

    @property
    def first_step_at(self) -> float | None:
        """time.monotonic() of the earliest first physics step over the episodes."""
        times = [r.first_step_at for r in self.records if r.first_step_at is not None]
        return min(times) if times else None


def evaluate(
    sink: StageSink,
    task: TaskSpec,
    evaluator: WarmEvaluator,
    code: str,
    seeds: Sequence[int],
    *,
    filename: str = "controller.py",
    before_load: dict[str, float] | None = None,
    saved_at: float | None = None,
    record_to: Path | None = None,
) -> Evaluated:
    """load -> simulate -> score -> feedback. `before_load`: seconds spent getting a simulator
    for this load, by name (`warm_s`: (re)starting it; `queue_s`: waiting for a free one),
    counted in the load stage and named in its event; `saved_at`: time.monotonic() of a
    watch-mode save, for the save-to-first-step latency; `record_to`: where rollouts.npz
    goes."""
    loaded = load(sink, evaluator, code, filename, before_load or {})
    if not loaded.ok:
        return Evaluated(loaded, None, load_failed(sink, loaded, code))
    records, first_step_s = simulate(sink, evaluator, seeds, saved_at, task, record_to)
    evaluation = score_stage(sink, task, records)
    text = feedback_stage(sink, task, evaluation, code)
    return Evaluated(loaded, evaluation, text, records, first_step_s)


def load(
    sink: StageSink,
    evaluator: WarmEvaluator,
    code: str,
    filename: str,
    before: dict[str, float],
) -> LoadResult:
    result = evaluator.load(code, filename=filename)
    seconds = float(result.seconds) + sum(before.values())
    sink("load", seconds, result.ok, error=result.error, **before)
    return result


def load_failed(sink: StageSink, loaded: LoadResult, code: str) -> str:
    t0 = time.perf_counter()
    text = load_feedback(loaded.error, code)
    sink("feedback", time.perf_counter() - t0, True, chars=len(text))
    return text


def simulate(
    sink: StageSink,
    evaluator: WarmEvaluator,
    seeds: Sequence[int],
    saved_at: float | None,
    task: TaskSpec | None = None,
    record_to: Path | None = None,
) -> tuple[list[EpisodeRecord], float | None]:
    """The episodes, and seconds from this call to the first physics step (None if none);
    with `task` and `record_to`, saved there as rollouts.npz within the stage."""
    t_mono, t0 = time.monotonic(), time.perf_counter()
    records = evaluator.simulate(list(seeds))
    saved: dict[str, Any] = {}
    if task is not None and record_to is not None:
        t_write = time.perf_counter()
        size = save_rollouts(record_to, task, records)
        saved = {"rollouts_bytes": size, "rollouts_write_s": time.perf_counter() - t_write}
    seconds = time.perf_counter() - t0
    firsts = [r.first_step_at for r in records if r.first_step_at is not None]
    first_step_s = min(firsts) - t_mono if firsts else None
    extra: dict[str, Any] = {
        "episodes": len(records),
        "controller_failures": sum(1 for r in records if r.failure),
        "first_step_s": first_step_s,
        **saved,
    }
    if saved_at is not None:
        extra["save_to_first_step_s"] = min(firsts) - saved_at if firsts else None
    sink("simulate", seconds, True, **extra)
    return records, first_step_s


def score_stage(sink: StageSink, task: TaskSpec, records: list[EpisodeRecord]) -> Evaluation:
    t0 = time.perf_counter()
    evaluation = score(task, records)
    sink(
        "score",
        time.perf_counter() - t0,
        True,
        success=bool(evaluation.success),
        score=float(evaluation.score),
        success_rate=float(evaluation.success_rate),
    )
    return evaluation


def feedback_stage(sink: StageSink, task: TaskSpec, evaluation: Evaluation, code: str) -> str:
    t0 = time.perf_counter()
    text = "" if evaluation.success else feedback(task, evaluation, code=code)
    sink("feedback", time.perf_counter() - t0, True, chars=len(text))
    return text
