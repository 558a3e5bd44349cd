"""Shared helpers for simulator tests."""

from __future__ import annotations

from pathlib import Path

from loop.task.catalog import task_paths
from loop.task.spec import TaskSpec

HERE = Path(__file__).resolve().parent
CONTROLLERS = HERE / "controllers"
REFERENCE = HERE.parent / "tasks" / "reference"
TASKS = [p.stem for p in task_paths()]


def nothing_code(task: TaskSpec) -> str:
    """The do-nothing controller in the task's first accepted action mode."""
    code = (CONTROLLERS / "nothing.py").read_text()
    return code.replace('MODE = "q"', f'MODE = "{task.actions[0]}"', 1)
