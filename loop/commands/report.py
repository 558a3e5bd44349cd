"""`armloop report RUN_DIR...`: the report of earlier runs (or a bench folder), and its table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from loop.errors import ArmloopError
from loop.report.markdown import summary_row
from loop.report.runs import load_trials
from loop.report.write import write_outputs
from loop.run.rundir import default_out

console = Console()


def report_out(paths: Sequence[Path]) -> Path:
    """A single run directory gets its report inside it; several get runs/report-TIME."""
    if len(paths) == 1:
        return Path(paths[0])
    return default_out("report")


def report_command(
    run_dirs: Sequence[Path], out: Path | None = None, speedup: float = 15.0, videos: bool = True
):
    """Read the runs, write the report (report.md, report.html with each iteration's clip
    unless `videos` is False), print where it went."""
    if speedup <= 0:
        raise ArmloopError(f"--speedup {speedup} is not positive", "give a factor such as 15")
    trials = load_trials(run_dirs)
    out = out or report_out(run_dirs)
    data = write_outputs(out, trials, speedup, {"sources": [t.path for t in trials]}, videos)
    print_table(data)
    console.print(f"report: {out / 'report.md'} and {out / 'report.html'}", soft_wrap=True)
    return data


def print_table(data: Mapping[str, Any]) -> None:
    table = Table(title=f"backends (projection: generation {data['speedup']:g}x faster)")
    for head in (
        "backend",
        "success",
        "TTS median",
        "cycle",
        "gen share",
        "tok/s",
        "proj. cycle",
        "proj. TTS",
    ):
        table.add_column(head)
    for name, b in data["backends"].items():
        row = summary_row(name, b)
        table.add_row(row[0], row[1], row[3], row[5], row[6], row[8], row[11], row[12])
    console.print(table)
