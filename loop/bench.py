"""`armloop bench`: every backend on every task, N trials each, the same seeds per trial.

    OUT/bench.json                     the plan (backends, tasks, trials, seeds per trial)
    OUT/runs/BACKEND/TASK/trial_K/     one `armloop run` directory per trial
    OUT/results.json, iterations.csv, report.md, *.png     as `armloop report OUT` makes them

Trial k uses seeds (k-1)*n .. k*n-1 for every backend. Trials are ordered trial-major and
backend-minor, so backends being compared run at about the same time. A trial that already
ran to its end in OUT is kept (re-running a bench resumes it).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from loop.bench_exec import Outcome, run_local, run_ray
from loop.bench_trial import TrialSpec, trial_seeds
from loop.errors import ArmloopError
from loop.report import load_trial, print_table, write_outputs
from loop.rundir import write_json

console = Console()
EXECUTORS = ("local", "ray")


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
    from loop.backends.profiles import resolve
    from loop.taskspec import load_task

    for name in backends:
        resolve(name, config=config)
    for task in tasks:
        load_task(task)


def bench_command(
    backends: str,
    tasks: str,
    trials: int = 3,
    max_iters: int = 5,
    speedup: float = 15.0,
    seeds: int = 3,
    config: Path | None = None,
    out: Path | None = None,
    executor: str = "local",
    address: str | None = None,
    parallel: int = 2,
) -> dict[str, Any]:
    """Run the bench and write its report; returns results.json's content."""
    names, task_names = split_names(backends, "backends"), split_names(tasks, "tasks")
    if executor not in EXECUTORS:
        raise ArmloopError(f"unknown executor {executor!r}", "use --executor local or ray")
    if speedup <= 0:
        raise ArmloopError(f"--speedup {speedup} is not positive", "give a factor such as 15")
    validate(names, task_names, config)
    out = out or Path("runs") / f"bench-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    specs = plan(names, task_names, trials, seeds, max_iters, out, config)
    meta = {
        "plan": {
            "backends": names,
            "tasks": task_names,
            "trials": trials,
            "max_iters": max_iters,
            "seeds": {str(k): list(trial_seeds(k, seeds)) for k in range(1, trials + 1)},
            "executor": executor,
            "parallel": parallel,
        }
    }
    write_json(out / "bench.json", meta)
    try:
        outcomes = execute(specs, executor, parallel, address)
    except KeyboardInterrupt:
        console.print(
            f"[yellow]interrupted[/]: finished trials are kept in {out}; "
            "the same command resumes, `armloop report` reads them"
        )
        raise SystemExit(130) from None
    return finish(out, outcomes, speedup, meta)


def execute(
    specs: Sequence[TrialSpec], executor: str, parallel: int, address: str | None
) -> list[Outcome]:
    columns = (
        TextColumn("[bold]bench"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("", total=len(specs))

        def on_done(outcome: Outcome) -> None:
            progress.advance(bar)
            progress.console.print(describe_outcome(outcome), highlight=False)

        if executor == "ray":
            return run_ray(specs, parallel, on_done, address=address)
        return run_local(specs, parallel, on_done)


def describe_outcome(outcome: Outcome) -> str:
    label = outcome.spec.label
    if outcome.summary is None:
        return f"[red]error[/]   {label}: {outcome.error}"
    s = outcome.summary
    if s.get("success"):
        return (
            f"[green]success[/] {label}: iteration {s['iterations_to_success']}, "
            f"{s['time_to_success_s']:.1f} s, generation {s['generation_share']:.0%}"
        )
    return f"[yellow]no success[/] {label}: {s.get('stopped_reason', '')}"


def finish(
    out: Path, outcomes: Sequence[Outcome], speedup: float, meta: dict[str, Any]
) -> dict[str, Any]:
    """Results from the trials' run directories (as `armloop report OUT` reads them)."""
    backends, tasks = meta["plan"]["backends"], meta["plan"]["tasks"]
    ranked = sorted(
        outcomes,
        key=lambda o: (o.spec.trial, tasks.index(o.spec.task), backends.index(o.spec.backend)),
    )
    done = [o for o in ranked if o.summary is not None]
    trials = [load_trial(Path(o.spec.out), o.spec.trial) for o in done]
    errors = [
        {"backend": o.spec.backend, "task": o.spec.task, "trial": o.spec.trial, "error": o.error}
        for o in outcomes
        if o.summary is None
    ]
    data = write_outputs(out, trials, speedup, {**meta, "failed_trials": errors})
    print_table(data)
    for e in errors:
        console.print(f"[red]trial failed[/] {e['backend']}/{e['task']}#{e['trial']}: {e['error']}")
    console.print(f"results: {out / 'results.json'}  report: {out / 'report.md'}")
    return data
