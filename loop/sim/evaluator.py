"""Evaluate controllers on one task with warm sim workers.

with Evaluator(task, workers=None, gui=False) as ev:
    load = ev.load(code, filename="controller.py")   # LoadResult(ok, error, seconds)
    records = ev.simulate(seeds)                      # list[EpisodeRecord], the sim's own state
evaluation = score(task, records)                     # loop.sim.scoring
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from loop.sandbox.host import Limits
from loop.sim.pool import SimPool, worker_count
from loop.sim.record import EpisodeRecord, failed_record
from loop.sim.scoring import Evaluation, score
from loop.task.spec import TaskSpec


@dataclass(frozen=True)
class LoadResult:
    ok: bool
    error: dict[str, str] | None
    seconds: float


class Evaluator:
    """Warm sim workers for one task. host: "auto" (sandboxed child when available),
    "process", or "inprocess" (trusted reference code and benchmarks only)."""

    def __init__(
        self,
        task: TaskSpec,
        workers: int | None = None,
        gui: bool = False,
        host: str = "auto",
        limits: Limits = Limits(),
        first_core: int = 0,
    ) -> None:
        self.task = task
        n = 1 if gui else (workers or worker_count(1 << 10))
        self.pool = SimPool(task, n, gui=gui, host=host, limits=limits, first_core=first_core)
        self.load_error: dict[str, str] | None = {"kind": "load", "message": "no controller loaded"}

    @property
    def workers(self) -> int:
        return len(self.pool.workers)

    def load(self, code: str, filename: str = "controller.py") -> LoadResult:
        start = time.perf_counter()
        self.load_error = self.pool.load(code, filename)
        return LoadResult(self.load_error is None, self.load_error, time.perf_counter() - start)

    def simulate(self, seeds: Sequence[int]) -> list[EpisodeRecord]:
        seeds = list(seeds)
        if self.load_error is not None:
            return [failed_record(s, self.load_error) for s in seeds]
        return self.pool.run(seeds)

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def evaluate_code(
    task: TaskSpec, code: str, seeds: Sequence[int], host: str = "auto"
) -> Evaluation:
    """One-shot: load `code`, run the seeds, score (tests and benchmarks)."""
    with Evaluator(task, workers=worker_count(len(seeds)), host=host) as ev:
        ev.load(code)
        return score(task, ev.simulate(seeds))
