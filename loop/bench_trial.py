"""One bench trial: a full `armloop run` of one backend on one task, in its own run directory.

`run_trial(spec)` is what every executor calls (a thread for `local`, a Ray task for `ray`),
so both produce the same files. The spec is a small frozen, picklable dataclass.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loop.iteration import Loop, LoopOptions, StageHook
from loop.rundir import RunDir

FINISHED = ("success", "no success within", "model backend failed")


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


def finished_summary(out: Path) -> dict[str, Any] | None:
    """The summary of a trial that already ran to its end (a re-run bench keeps it)."""
    try:
        summary = json.loads((out / "summary.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    reason = str(summary.get("stopped_reason", ""))
    return summary if reason.startswith(FINISHED) else None


def run_trial(
    spec: TrialSpec,
    backend: Any = None,
    on_stage: StageHook | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Run the loop for one trial and return its summary; `backend` may be shared (local).

    Setting `cancel` stops the loop at its next stage (summary stopped_reason "cancelled").
    """
    from loop.backends import open_backend
    from loop.evaluate import Evaluator
    from loop.runcli import write_config
    from loop.taskspec import load_task

    out = Path(spec.out)
    done = finished_summary(out)
    if done is not None:
        return done
    if out.exists():
        shutil.rmtree(out)  # an interrupted trial starts again from scratch
    task = load_task(spec.task)
    options = LoopOptions(max_iters=spec.max_iters, seeds=spec.seeds)
    own = backend is None
    rundir = RunDir(out)
    try:
        backend = backend or open_backend(name=spec.backend, config=spec.config)
        setup_s = warm(backend)
        selection = {"name": spec.backend, "config": spec.config}
        write_config(rundir, task, backend, options, selection)
        t0 = time.perf_counter()
        workers = max(1, min(os.cpu_count() or 1, len(spec.seeds)))
        with Evaluator(task, workers=workers) as evaluator:
            loop = Loop(task, backend, evaluator, rundir, options, on_stage, cancel)
            loop.extra_summary = {
                "setup_s": {"backend": setup_s, "simulator": time.perf_counter() - t0},
                "bench": {"backend": spec.backend, "trial": spec.trial},
            }
            return loop.run()
    finally:
        if own and backend is not None:
            backend.close()
        rundir.close()


def warm(backend: Any) -> float:
    """Start the model server (local backend) outside the timed stages; seconds taken."""
    t0 = time.perf_counter()
    start = getattr(backend, "warm", None) or getattr(backend, "start", None)
    if callable(start):
        start()
    return time.perf_counter() - t0
