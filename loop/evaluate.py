"""Evaluate controllers on one task with warm sim workers; score; feedback.

with Evaluator(task, workers=None, gui=False) as ev:
    load = ev.load(code, filename="controller.py")   # LoadResult(ok, error, seconds)
    records = ev.simulate(seeds)                      # list[EpisodeRecord]
evaluation = score(task, records)                     # Evaluation
text = feedback(task, evaluation, code=code)
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loop.sandbox.host import Limits
from loop.sim.feedback import feedback
from loop.sim.pool import SimPool
from loop.sim.record import EpisodeRecord, failed_record
from loop.sim.scoring import Evaluation, SeedResult, score
from loop.taskspec import TaskSpec, load_task

__all__ = [
    "Evaluator",
    "LoadResult",
    "Evaluation",
    "SeedResult",
    "EpisodeRecord",
    "score",
    "feedback",
    "evaluate_code",
]


@dataclass(frozen=True)
class LoadResult:
    ok: bool
    error: dict[str, str] | None
    seconds: float


def default_workers(n_seeds: int | None = None) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cores or 1, n_seeds or cores or 1))


class Evaluator:
    """Warm sim workers for one task. host: "auto" (sandboxed child when available),
    "process", or "inprocess" (trusted reference code and benchmarks only)."""

    def __init__(
        self,
        task: TaskSpec | str | Path,
        workers: int | None = None,
        gui: bool = False,
        host: str = "auto",
        limits: Limits = Limits(),
    ) -> None:
        self.task = load_task(task) if not isinstance(task, TaskSpec) else task
        n = 1 if gui else (workers or default_workers())
        self.pool = SimPool(self.task, n, gui=gui, host=host, limits=limits)
        self.load_error: dict[str, str] | None = {"kind": "load", "message": "no controller loaded"}

    def load(self, code: str, filename: str = "controller.py") -> LoadResult:
        start = time.perf_counter()
        self.load_error = self.pool.load(code, filename)
        return LoadResult(self.load_error is None, self.load_error, time.perf_counter() - start)

    def simulate(self, seeds: int | list[int]) -> list[EpisodeRecord]:
        seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
        if self.load_error is not None:
            return [failed_record(s, self.load_error) for s in seeds]
        return self.pool.run(seeds)

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def evaluate_code(
    task: TaskSpec | str,
    code: str,
    seeds: int | list[int] = 5,
    host: str = "auto",
    workers: int | None = None,
) -> Evaluation:
    """One-shot: load `code`, run the seeds, score."""
    spec = load_task(task) if not isinstance(task, TaskSpec) else task
    n = seeds if isinstance(seeds, int) else len(seeds)
    with Evaluator(spec, workers=workers or default_workers(n), host=host) as ev:
        ev.load(code)
        return score(spec, ev.simulate(seeds))
