"""`armloop run TASK` and `armloop run --resume DIR`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from loop.errors import ArmloopError
from loop.replay.hooks import iteration_clips
from loop.run.live import LiveTable
from loop.run.loop import LoopHooks, LoopOptions
from loop.run.records import Restored
from loop.run.resume import restore
from loop.run.rundir import RunDir, default_out
from loop.run.setup import BackendChoice, Run, RunPlan, prepare
from loop.task.catalog import load_task

console = Console()


def run_command(
    task: str | None,
    *,
    choice: BackendChoice,
    max_iters: int,
    seeds: int,
    out: Path | None,
    resume: Path | None,
    candidates: int = 1,
    video: bool = False,
) -> int:
    """Exit code: 0 success, 1 no success, 130 interrupted. video: a clip of each iteration's
    worst seed (loop/replay/hooks.py)."""
    if resume is not None:
        return resume_command(resume, max_iters=max_iters, config=choice.config, video=video)
    if task is None:
        raise ArmloopError("no task given", "name one: `armloop run reach` (see `armloop tasks`)")
    spec = load_task(task)
    out = out or default_out(spec.name)
    if (out / "events.jsonl").exists():
        raise ArmloopError(
            f"{out} already holds a run",
            f"continue it with `armloop run --resume {out}` or choose another --out",
        )
    options = LoopOptions(max_iters=max_iters, seeds=tuple(range(seeds)), candidates=candidates)
    return execute(RunPlan(spec, choice, options, out), video=video)


def resume_command(
    path: Path, *, max_iters: int | None, config: Path | None, video: bool = False
) -> int:
    """Continue an interrupted run: finished iterations are kept, the torn one is closed."""
    rundir = RunDir(path)
    try:
        restored = restore(rundir)
        cfg = rundir.read_config()
    finally:
        rundir.close()
    if any(r.success for r in restored.records):
        console.print(f"{path} already succeeded; nothing to resume")
        return 0
    options = LoopOptions(
        max_iters=max(max_iters or 0, cfg["max_iters"]),
        seeds=tuple(cfg["seeds"]),
        temperature=cfg.get("temperature"),
        max_tokens=cfg["max_tokens"],
        stop_at_code_end=cfg["stop_at_code_end"],
        candidates=int(cfg.get("candidates", 1)),
    )
    choice = BackendChoice.from_selection(cfg.get("selection", {}), config)
    spec = load_task(path / cfg["task_file"])
    return execute(RunPlan(spec, choice, options, path), restored=restored, video=video)


def execute(plan: RunPlan, restored: Restored | None = None, video: bool = False) -> int:
    try:
        with console.status("setting up") as status:
            run = prepare(plan, status=status.update, write_config=restored is None)
        with run:
            summary = run_live(run, restored, video)
    except KeyboardInterrupt:
        console.print(f"[yellow]interrupted[/]: the run directory {plan.out} is complete")
        return 130
    print_summary(summary, plan.out)
    return 0 if summary["success"] else 1


def run_live(run: Run, restored: Restored | None, video: bool = False) -> dict[str, Any]:
    """The loop with its live table (one plain line per iteration when not on a terminal)."""
    title = f"armloop run {run.plan.task.name} — {run.backend.describe().get('name')}"
    with LiveTable(title, console=console) as live:
        for record in restored.records if restored else ():
            live.add_iteration(record.index, record.stages, record.summary())
        after = iteration_clips(lambda line: console.print(line, soft_wrap=True)) if video else None
        return run.loop(LoopHooks(on_stage=live.on_stage, after_iteration=after), restored).run()


def print_summary(summary: dict[str, Any], path: Path) -> None:
    share = f"generation share {summary['generation_share']:.0%}"
    if summary["success"]:
        console.print(
            f"[green]success[/] at iteration {summary['iterations_to_success']} after "
            f"{summary['time_to_success_s']:.1f} s of loop time; {share}"
        )
    else:
        console.print(f"[red]no success[/] ({summary['stopped_reason']}); {share}")
    setup = summary.get("setup_s", {}).get("total", 0.0)
    console.print(f"wall {summary['wall_s']:.1f} s (setup {setup:.1f} s); run directory: {path}")
