"""Scoring in the main process, from the records alone: per-seed results and the evaluation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from loop.sim.kinds import get_kind
from loop.sim.record import EpisodeRecord
from loop.task.spec import TaskSpec


@dataclass(frozen=True)
class SeedResult:
    seed: int
    success: bool
    score: float
    metrics: dict[str, Any] = field(default_factory=dict)
    failure: dict[str, str] | None = None
    message: str = ""
    end_state: str = ""


@dataclass(frozen=True)
class Evaluation:
    """success: every seed succeeded; score: mean seed score in [0, 1]."""

    task: str
    success: bool
    success_rate: float
    score: float
    seeds: list[SeedResult]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def failure_line(failure: dict[str, str]) -> str:
    return f"controller failure ({failure['kind']}): {failure['message']}"


def score_record(task: TaskSpec, record: EpisodeRecord, kind=None) -> SeedResult:
    kind = kind or get_kind(task.kind)(task)
    if record.steps < 2:
        message = failure_line(record.failure) if record.failure else "no trajectory recorded"
        return SeedResult(record.seed, False, 0.0, {}, record.failure, message)
    out = kind.evaluate(record)
    if record.failure is not None:
        message = f"{failure_line(record.failure)} at t={record.duration:.2f} s; {out.message}"
        return SeedResult(record.seed, False, 0.0, out.metrics, record.failure, message)
    score = 1.0 if out.success else min(max(float(out.score), 0.0), 0.99)
    return SeedResult(
        record.seed, out.success, score, out.metrics, None, out.message, record.end_state
    )


def score(task: TaskSpec, records: list[EpisodeRecord]) -> Evaluation:
    kind = get_kind(task.kind)(task)
    seeds = [score_record(task, r, kind) for r in records]
    n = max(len(seeds), 1)
    return Evaluation(
        task=task.name,
        success=bool(seeds) and all(s.success for s in seeds),
        success_rate=sum(s.success for s in seeds) / n,
        score=sum(s.score for s in seeds) / n,
        seeds=seeds,
    )
