"""The plan of a bench: which trials, with which seeds, in which order, written where.

    OUT/bench.json                     the plan (backends, tasks, trials, seeds per trial)
    OUT/runs/BACKEND/TASK/trial_K/     one `armloop run` directory per trial

Trial k uses seeds (k-1)*n .. k*n-1 for every backend. Trials are ordered trial-major and
backend-minor, so backends being compared run at about the same time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from loop.backends.profiles import resolve
from loop.errors import ArmloopError
from loop.run.loop import MAX_CANDIDATES
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
    candidates: int = 1  # answers sampled at once per iteration

    @property
    def arm(self) -> str:
        """What the report compares: the backend, and its width when more than one."""
        return self.backend if self.candidates == 1 else f"{self.backend}-x{self.candidates}"

    @property
    def label(self) -> str:
        return f"{self.arm}/{self.task}#{self.trial}"


def trial_seeds(trial: int, per_trial: int) -> tuple[int, ...]:
    """Trial k's seeds: the same for every backend, disjoint between trials."""
    return tuple(range((trial - 1) * per_trial, trial * per_trial))


def split_names(text: str, what: str) -> list[str]:
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise ArmloopError(f"no {what} given", f"name them comma-separated: --{what} a,b")
    return names


def split_counts(text: str) -> list[int]:
    """--candidates 1,4 -> [1, 4]; each 1 to MAX_CANDIDATES."""
    try:
        counts = [int(n) for n in split_names(text, "candidates")]
    except ValueError:
        raise ArmloopError(
            f"--candidates {text!r} is not a list of numbers", "give e.g. --candidates 1,4"
        ) from None
    bad = [n for n in counts if not 1 <= n <= MAX_CANDIDATES]
    if bad:
        raise ArmloopError(
            f"--candidates {bad[0]} is out of range",
            f"give 1 to {MAX_CANDIDATES} candidates per iteration",
        )
    return counts


def plan(
    backends: Sequence[str],
    tasks: Sequence[str],
    trials: int,
    seeds: int,
    max_iters: int,
    out: Path,
    config: Path | None,
    candidates: Sequence[int] = (1,),
) -> list[TrialSpec]:
    """The trials to run, trial-major so that backends (and widths) alternate."""
    runs = out.resolve() / "runs"
    cfg = str(config.resolve()) if config is not None else None
    specs = [
        TrialSpec(b, t, k, trial_seeds(k, seeds), max_iters, "", cfg, n)
        for k in range(1, trials + 1)
        for t in tasks
        for b in backends
        for n in candidates
    ]
    return [replace(s, out=str(runs / s.arm / s.task / f"trial_{s.trial}")) for s in specs]


def validate(backends: Sequence[str], tasks: Sequence[str], config: Path | None) -> None:
    """Fail before any trial starts: unknown profiles, unknown tasks."""
    for name in backends:
        resolve(name, config=config)
    for task in tasks:
        load_task(task)
