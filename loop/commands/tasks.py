"""`armloop tasks`: every task with its robot, kind and first sentence."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from loop.task.catalog import list_tasks

out = Console()


def tasks_command() -> None:
    table = Table(title="armloop tasks")
    for col in ("name", "robot", "kind", "description"):
        table.add_column(col)
    for task in list_tasks():
        table.add_row(task.name, task.robot, task.kind, task.summary)
    out.print(table)
