"""`armloop eval TASK --controller FILE`: run a controller you wrote, no model involved.

The same stages as the loop (loop/run/stages.py), so a controller reads the same here."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

from rich.console import Console
from rich.table import Table

from loop.errors import ControllerFileError
from loop.feedback.compose import feedback
from loop.run import stages
from loop.run.extract import controller_missing
from loop.sandbox.text import printable
from loop.sim.evaluator import Evaluator
from loop.sim.pool import worker_count
from loop.sim.record import failed_record
from loop.sim.scoring import Evaluation, score
from loop.task.catalog import load_task

out = Console()
err = Console(stderr=True)


def read_controller(path: Path) -> str:
    """The controller's source; a ControllerFileError unless it parses and may define Controller."""
    if not path.is_file():
        raise ControllerFileError(f"controller file {path} does not exist", "check the path")
    try:
        code = path.read_text()
        tree = ast.parse(code, filename=str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise ControllerFileError(
            f"cannot read {path}: {exc}", "give a readable .py file"
        ) from None
    except SyntaxError as exc:
        raise ControllerFileError(
            f"{path} line {exc.lineno}: syntax error: {exc.msg}", "fix the Python syntax"
        ) from None
    if controller_missing(tree, code):
        raise ControllerFileError(
            f"{path} defines no class `Controller`",
            "define `class Controller` with __init__(self, robot), reset(self, obs), "
            "step(self, obs)",
        )
    return code


def want_gui(gui: bool) -> bool:
    if gui and not os.environ.get("DISPLAY"):
        err.print("[yellow]--gui: no display found (DISPLAY is not set); running headless[/]")
        return False
    return gui


def eval_command(
    task: str,
    controller_path: Path,
    seeds: int = 5,
    gui: bool = False,
    as_json: bool = False,
    record: Path | None = None,
) -> int:
    """record: write the episodes there as rollouts.npz (for `armloop replay`)."""
    spec = load_task(task)
    code = read_controller(Path(controller_path))
    gui = want_gui(gui)
    timed: dict[str, float] = {}

    def sink(stage: str, seconds: float, ok: bool, **extra: object) -> None:
        timed[stage] = seconds

    with Evaluator(spec, workers=worker_count(seeds), gui=gui) as ev:
        done = stages.evaluate(
            sink,
            spec,
            ev,
            code,
            range(seeds),
            filename=Path(controller_path).name,
            record_to=Path(record) if record is not None else None,
        )
    evaluation = done.evaluation or score(
        spec, [failed_record(s, done.load.error or {}) for s in range(seeds)]
    )
    # the loop sends no feedback after a success; a person still reads the summary
    text = done.feedback or feedback(spec, evaluation, code=code)
    if record is not None:
        note = f"recorded: {record}" if done.records else f"not recorded: {record} (no episode ran)"
        err.print(note, highlight=False, soft_wrap=True)
    if as_json:
        data = evaluation.to_dict()
        data.update(load_s=done.load.seconds, stages_s=timed, feedback=text)
        print(json.dumps(data, indent=2, default=float))
    else:
        _print_table(evaluation)
        # the feedback quotes the controller: what it raised and printed, its code; as text
        out.print(printable(text), highlight=False, markup=False)
    return 0 if evaluation.success else 1


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return "-" if value is None else str(value)


def _print_table(evaluation: Evaluation) -> None:
    table = Table(
        title=f"{evaluation.task}: success rate {evaluation.success_rate:.0%}, "
        f"score {evaluation.score:.2f}"
    )
    for col in ("seed", "success", "score", "metrics"):
        table.add_column(col)
    for s in evaluation.seeds:
        metrics = ", ".join(f"{k}={_fmt(v)}" for k, v in s.metrics.items())
        table.add_row(str(s.seed), "yes" if s.success else "no", f"{s.score:.2f}", metrics)
    out.print(table)
