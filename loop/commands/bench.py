"""`armloop bench`: every backend on every task, N trials each, the same seeds per trial,
with a progress bar, one line per finished trial and the results table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from loop.bench.executors import Outcome
from loop.bench.plan import EXECUTORS, plan, split_counts, split_names, validate
from loop.bench.runner import collect, execute, write_plan
from loop.commands.report import print_table
from loop.errors import ArmloopError
from loop.run.rundir import default_out

console = Console()


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
    candidates: str = "1",
) -> dict[str, Any]:
    """Run the bench and write its report; returns results.json's content."""
    names, task_names = split_names(backends, "backends"), split_names(tasks, "tasks")
    if executor not in EXECUTORS:
        raise ArmloopError(f"unknown executor {executor!r}", "use --executor local or ray")
    if speedup <= 0:
        raise ArmloopError(f"--speedup {speedup} is not positive", "give a factor such as 15")
    widths = split_counts(candidates)
    validate(names, task_names, config)
    out = out or default_out("bench")
    meta = write_plan(out, names, task_names, trials, seeds, max_iters, executor, parallel, widths)
    specs = plan(names, task_names, trials, seeds, max_iters, out, config, widths)
    columns = (
        TextColumn("[bold]bench"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    try:
        with Progress(*columns, console=console) as progress:
            bar = progress.add_task("", total=len(specs))

            def on_done(outcome: Outcome) -> None:
                progress.advance(bar)
                progress.console.print(describe_outcome(outcome), highlight=False)

            outcomes = execute(specs, executor, parallel, on_done, address)
    except KeyboardInterrupt:
        console.print(
            f"[yellow]interrupted[/]: finished trials are kept in {out}; "
            "the same command resumes, `armloop report` reads them"
        )
        raise SystemExit(130) from None
    data = collect(out, outcomes, speedup, meta)
    print_table(data)
    for e in data["failed_trials"]:
        console.print(f"[red]trial failed[/] {e['backend']}/{e['task']}#{e['trial']}: {e['error']}")
    console.print(f"results: {out / 'results.json'}  report: {out / 'report.md'}")
    return data


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
