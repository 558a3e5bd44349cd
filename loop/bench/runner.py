"""A bench from plan to results: the trials run by an executor, then the report of their run
directories (as `armloop report OUT` makes it: results.json, iterations.csv, report.md, PNGs).

A trial that already ran to its end in OUT is kept (re-running a bench resumes it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loop.bench.executors import OnDone, Outcome, run_local, run_ray
from loop.bench.plan import TrialSpec, trial_seeds
from loop.report.runs import load_trial
from loop.report.write import write_outputs
from loop.run.rundir import write_json


def write_plan(
    out: Path,
    backends: Sequence[str],
    tasks: Sequence[str],
    trials: int,
    seeds: int,
    max_iters: int,
    executor: str,
    parallel: int,
    candidates: Sequence[int] = (1,),
) -> dict[str, Any]:
    """OUT/bench.json; returns its content. `arms` are what the report compares (each
    backend at each width)."""
    arms = [b if n == 1 else f"{b}-x{n}" for b in backends for n in candidates]
    meta = {
        "plan": {
            "backends": arms,
            "backend_names": list(backends),
            "candidates": list(candidates),
            "tasks": list(tasks),
            "trials": trials,
            "max_iters": max_iters,
            "seeds": {str(k): list(trial_seeds(k, seeds)) for k in range(1, trials + 1)},
            "executor": executor,
            "parallel": parallel,
        }
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "bench.json", meta)
    return meta


def execute(
    specs: Sequence[TrialSpec],
    executor: str,
    parallel: int,
    on_done: OnDone,
    address: str | None = None,
) -> list[Outcome]:
    if executor == "ray":
        return run_ray(specs, parallel, on_done, address=address)
    return run_local(specs, parallel, on_done)


def collect(
    out: Path, outcomes: Sequence[Outcome], speedup: float, meta: dict[str, Any]
) -> dict[str, Any]:
    """Results from the trials' run directories, written into OUT; failed trials listed."""
    backends, tasks = meta["plan"]["backends"], meta["plan"]["tasks"]
    ranked = sorted(
        outcomes,
        key=lambda o: (o.spec.trial, tasks.index(o.spec.task), backends.index(o.spec.arm)),
    )
    done = [o for o in ranked if o.summary is not None]
    trials = [load_trial(Path(o.spec.out), o.spec.trial) for o in done]
    errors = [
        {"backend": o.spec.arm, "task": o.spec.task, "trial": o.spec.trial, "error": o.error}
        for o in outcomes
        if o.summary is None
    ]
    # report.html shows the clips the runs made; `armloop report OUT` renders the rest
    return write_outputs(out, trials, speedup, {**meta, "failed_trials": errors}, videos=False)
