"""The plan of a bench: which trials, with which seeds, in which order, written where.

    OUT/bench.json                     the plan (backends, tasks, trials, seeds per trial)
    OUT/runs/BACKEND/TASK/trial_K/     one `armloop run` directory per trial

Trial k uses seeds (k-1)*n .. k*n-1 for every backend. Trials are ordered trial-major and
backend-minor, so backends being compared run at about the same time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from loop.backends.profiles import resolve
from loop.errors import ArmloopError
from loop.task.catalog import load_task

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class TrialSpec:
    backend: str
    task: str
    trial: int  # 1-based
    seeds: tuple[int, ...]
    max_iters: int
    out: str  # absolute path of this trial's run directory
    config: str | None = None  # armloop.toml with the profiles

    @property
    def label(self) -> str:
        return f"{self.backend}/{self.task}#{self.trial}"


def trial_seeds(trial: int, per_trial: int) -> tuple[int, ...]:
    """Trial k's seeds: the same for every backend, disjoint between trials."""
    return tuple(range((trial - 1) * per_trial, trial * per_trial))


def split_names(text: str, what: str) -> list[str]:
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise ArmloopError(f"no {what} given", f"name them comma-separated: --{what} a,b")
    return names


def plan(
    backends: Sequence[str],
    tasks: Sequence[str],
    trials: int,
    seeds: int,
    max_iters: int,
    out: Path,
    config: Path | None,
) -> list[TrialSpec]:
    """The trials to run, trial-major so that backends alternate."""
    runs = out.resolve() / "runs"
    cfg = str(config.resolve()) if config is not None else None
    return [
        TrialSpec(
            backend=b,
            task=t,
            trial=k,
            seeds=trial_seeds(k, seeds),
            max_iters=max_iters,
            out=str(runs / b / t / f"trial_{k}"),
            config=cfg,
        )
        for k in range(1, trials + 1)
        for t in tasks
        for b in backends
    ]


def validate(backends: Sequence[str], tasks: Sequence[str], config: Path | None) -> None:
    """Fail before any trial starts: unknown profiles, unknown tasks."""
    for name in backends:
        resolve(name, config=config)
    for task in tasks:
        load_task(task)
