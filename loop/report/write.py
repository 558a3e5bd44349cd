"""Writing a report: results.json, iterations.csv, candidates.csv, report.md, the figures
and report.html (with each iteration's clip in clips/) into one folder."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from loop.report.clips import Clips, slug
from loop.report.html import render_html
from loop.report.markdown import render_markdown
from loop.report.plots import write_plots
from loop.report.stats import (
    CANDIDATE_COLUMNS,
    CSV_COLUMNS,
    Trial,
    candidate_rows,
    iteration_rows,
    results,
)
from loop.report.width import width_answer
from loop.run.rundir import write_json


def write_outputs(
    out: Path,
    trials: Sequence[Trial],
    speedup: float,
    meta: Mapping[str, Any] | None = None,
    videos: bool = True,
) -> dict[str, Any]:
    """results.json, iterations.csv, report.md, the PNGs and report.html into `out`; returns
    the results. videos: render missing clips (else only those already made are shown)."""
    out.mkdir(parents=True, exist_ok=True)
    data = {**(meta or {}), **results(trials, speedup), "width": width_answer(trials, speedup)}
    write_json(out / "results.json", data)
    write_csv(out / "iterations.csv", iteration_rows(trials, speedup))
    write_csv(out / "candidates.csv", candidate_rows(trials), CANDIDATE_COLUMNS)
    plots = write_plots(out, data, trials)
    (out / "report.md").write_text(render_markdown(data, [p.name for p in plots]))
    write_html(out, data, trials, videos)
    return data


def write_html(out: Path, data: Mapping[str, Any], trials: Sequence[Trial], videos: bool) -> Path:
    clips = Clips(out, render=videos)
    try:
        page = render_html(
            data,
            trials,
            lambda t, index: clips.video(
                Path(t.path or "."), index, slug(f"{t.backend}-{t.task}-{t.trial}")
            ),
        )
    finally:
        clips.close()
    tmp = out / ".report.html.tmp"
    tmp.write_text(page)
    tmp.replace(out / "report.html")
    return out / "report.html"


def write_csv(
    path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] = CSV_COLUMNS
) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
