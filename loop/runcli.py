"""`armloop run`: set up task, backend, warm simulator and run directory, then run the loop."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from loop import __version__
from loop.errors import ArmloopError
from loop.iteration import IterationRecord, Loop, LoopOptions
from loop.prompting import Attempt
from loop.rundir import STAGES, RunDir, read_events

console = Console()


def default_out(task_name: str) -> Path:
    return Path("runs") / f"{task_name}-{time.strftime('%Y%m%d-%H%M%S')}"


def run_command(
    task: str | None,
    *,
    backend: str | None,
    model: str | None,
    base_url: str | None,
    config: Path | None,
    max_iters: int,
    seeds: int,
    out: Path | None,
    resume: Path | None,
) -> int:
    """Exit code: 0 success, 1 no success, 130 interrupted."""
    if resume is not None:
        return resume_command(resume, max_iters=max_iters, config=config)
    if task is None:
        raise ArmloopError("no task given", "name one: `armloop run reach` (see `armloop tasks`)")
    from loop.taskspec import load_task

    spec = load_task(task)
    out = out or default_out(spec.name)
    if (out / "events.jsonl").exists():
        raise ArmloopError(
            f"{out} already holds a run",
            f"continue it with `armloop run --resume {out}` or choose another --out",
        )
    options = LoopOptions(max_iters=max_iters, seeds=tuple(range(seeds)))
    selection = {"name": backend, "model": model, "base_url": base_url}
    return execute(spec, selection, config, options, RunDir(out), first_index=1)


def execute(
    spec: Any,
    selection: dict[str, Any],
    config: Path | None,
    options: LoopOptions,
    rundir: RunDir,
    first_index: int,
    restored: tuple[list[IterationRecord], list[Attempt]] | None = None,
) -> int:
    from loop.backends import open_backend
    from loop.evaluate import Evaluator

    backend = open_backend(config=config, **selection)
    try:
        setup_s = warm_backend(backend)
        if first_index == 1:
            write_config(rundir, spec, backend, options, selection)
        workers = max(1, min(os.cpu_count() or 1, len(options.seeds)))
        t0 = time.perf_counter()
        with Evaluator(spec, workers=workers) as evaluator:
            sim_setup_s = time.perf_counter() - t0
            loop = Loop(spec, backend, evaluator, rundir, options)
            loop.extra_summary = {"setup_s": {"backend": setup_s, "simulator": sim_setup_s}}
            if restored:
                loop.records, loop.history = restored
            summary = run_live(loop, first_index)
    except KeyboardInterrupt:
        console.print(f"[yellow]interrupted[/]: the run directory {rundir.path} is complete")
        return 130
    finally:
        backend.close()
        rundir.close()
    print_summary(summary, rundir.path)
    return 0 if summary["success"] else 1


def warm_backend(backend: Any) -> float:
    """Start the model server (local backend) before the first timed stage."""
    t0 = time.perf_counter()
    warm = getattr(backend, "warm", None)
    if callable(warm):
        with console.status("starting the model backend ..."):
            warm()
    return time.perf_counter() - t0


def run_live(loop: Loop, first_index: int) -> dict[str, Any]:
    from loop.live import LiveTable

    title = f"armloop run {loop.task.name} — {loop.backend.describe().get('name')}"
    with LiveTable(title, console=console) as live:
        for record in loop.records:
            for stage, seconds in record.stages.items():
                live.on_stage(record.index, stage, {"duration_s": seconds})
        loop.on_stage = live.on_stage
        summary = loop.run(first_index)
    console.line()
    return summary


def write_config(rundir: RunDir, spec: Any, backend: Any, options: LoopOptions, selection) -> None:
    task_copy = rundir.path / "task.toml"
    shutil.copyfile(spec.path, task_copy)
    rundir.write_config(
        {
            "armloop_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "task": spec.name,
            "task_file": "task.toml",
            "seeds": list(options.seeds),
            "max_iters": options.max_iters,
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
            "stop_at_code_end": options.stop_at_code_end,
            "selection": {k: v for k, v in selection.items() if v is not None},
            "backend": backend.describe(),
        }
    )


def print_summary(summary: dict[str, Any], path: Path) -> None:
    if summary["success"]:
        console.print(
            f"[green]success[/] at iteration {summary['iterations_to_success']} after "
            f"{summary['time_to_success_s']:.1f} s of loop time; "
            f"generation share {summary['generation_share']:.0%}"
        )
    else:
        console.print(
            f"[red]no success[/] ({summary['stopped_reason']}); "
            f"generation share {summary['generation_share']:.0%}"
        )
    console.print(f"run directory: {path}")


# -- resume ----------------------------------------------------------------------------


def resume_command(path: Path, *, max_iters: int | None, config: Path | None) -> int:
    """Continue an interrupted run: finished iterations are kept, the torn one is closed."""
    from loop.taskspec import load_task

    rundir = RunDir(path)
    if not (path / "config.toml").exists():
        raise ArmloopError(
            f"{path} has no config.toml", "resume only a directory `armloop run` made"
        )
    cfg = rundir.read_config()
    spec = load_task(str(path / cfg["task_file"]))
    records, history, torn = restore(path)
    if torn is not None:
        rundir.write_result(torn.index, torn.result())
        records.append(torn)
    options = LoopOptions(
        max_iters=max(max_iters or 0, cfg["max_iters"]),
        seeds=tuple(cfg["seeds"]),
        temperature=cfg.get("temperature"),
        max_tokens=cfg["max_tokens"],
        stop_at_code_end=cfg["stop_at_code_end"],
    )
    if any(r.success for r in records):
        console.print(f"{path} already succeeded; nothing to resume")
        return 0
    next_index = max((r.index for r in records), default=0) + 1
    selection = dict(cfg.get("selection", {}))
    return execute(spec, selection, config, options, rundir, next_index, (records, history))


def restore(path: Path) -> tuple[list[IterationRecord], list[Attempt], IterationRecord | None]:
    """Finished iterations from iter_NNN/result.json; a torn one rebuilt from its events."""
    records: list[IterationRecord] = []
    history: list[Attempt] = []
    for folder in sorted(path.glob("iter_[0-9][0-9][0-9]")):
        result_file = folder / "result.json"
        if not result_file.exists():
            continue
        result = json.loads(result_file.read_text())
        record = _record_from_result(result, folder)
        records.append(record)
        if not record.error:
            history.append(
                Attempt(record.index, record.reply, record.code, record.feedback, record.repeat_of)
            )
    done = {r.index for r in records}
    torn_stages: dict[int, dict[str, float]] = {}
    for event in read_events(path / "events.jsonl"):
        if event["iteration"] not in done and event["stage"] in STAGES:
            torn_stages.setdefault(event["iteration"], {})[event["stage"]] = event["duration_s"]
    torn = None
    if torn_stages:
        index = max(torn_stages)
        torn = IterationRecord(index=index, error="interrupted before the iteration finished")
        torn.stages.update(torn_stages[index])
    return records, history, torn


def _record_from_result(result: dict[str, Any], folder: Path) -> IterationRecord:
    record = IterationRecord(index=result["index"])
    for key in (
        "success",
        "score",
        "success_rate",
        "tokens_in",
        "tokens_out",
        "tokens_per_s",
        "feedback",
        "evaluation",
        "extraction_note",
    ):
        if key in result:
            setattr(record, key, result[key])
    record.stages.update(result.get("stages", {}))
    record.error = result.get("error")
    record.repeat_of = result.get("repeat_of")
    reply, code = folder / "response.md", folder / "controller.py"
    record.reply = reply.read_text() if reply.exists() else ""
    record.code = code.read_text() if code.exists() else None
    return record
