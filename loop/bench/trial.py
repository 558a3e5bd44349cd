"""One bench trial: a full `armloop run` of one backend on one task, in its own run directory.

`run_trial(spec)` is what every executor calls (a thread for `local`, a Ray task for `ray`),
so both produce the same files; it sets the run up like any other (loop/run/setup.py).
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

from loop.backends import Backend
from loop.bench.plan import TrialSpec
from loop.run.loop import LoopHooks, LoopOptions, StageHook
from loop.run.setup import BackendChoice, RunPlan, prepare
from loop.task.catalog import load_task

FINISHED = ("success", "no success within", "model backend failed")


def finished_summary(out: Path) -> dict[str, Any] | None:
    """The summary of a trial that already ran to its end (a re-run bench keeps it)."""
    try:
        summary = json.loads((out / "summary.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    reason = str(summary.get("stopped_reason", ""))
    return summary if reason.startswith(FINISHED) else None


def trial_plan(spec: TrialSpec) -> RunPlan:
    config = Path(spec.config) if spec.config else None
    return RunPlan(
        task=load_task(spec.task),
        backend=BackendChoice(name=spec.backend, config=config),
        options=LoopOptions(max_iters=spec.max_iters, seeds=spec.seeds, candidates=spec.candidates),
        out=Path(spec.out),
        labels={
            "bench": {
                "backend": spec.arm,
                "trial": spec.trial,
                "candidates": spec.candidates,
                "backend_name": spec.backend,
            }
        },
    )


def run_trial(
    spec: TrialSpec,
    backend: Backend | None = None,
    on_stage: StageHook | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Run the loop for one trial and return its summary; `backend` may be shared (local).

    Setting `cancel` stops the loop at its next stage (summary stopped_reason "cancelled").
    """
    out = Path(spec.out)
    done = finished_summary(out)
    if done is not None:
        return done
    if out.exists():
        shutil.rmtree(out)  # an interrupted trial starts again from scratch
    hooks = LoopHooks(on_stage=on_stage, cancel=cancel or threading.Event())
    with prepare(trial_plan(spec), backend=backend) as run:
        return run.loop(hooks).run()
