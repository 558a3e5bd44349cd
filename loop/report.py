"""`armloop report`: results.json, iterations.csv, report.md and plots from run directories.

A RUN_DIR is an `armloop run` directory (summary.json, config.toml) or an `armloop bench`
output directory (its runs/BACKEND/TASK/trial_K/ are read). Runs are grouped by backend and
task; the arithmetic is loop/stats.py's.
"""

from __future__ import annotations

import csv
import json
import re
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console

from loop.errors import ArmloopError
from loop.rundir import STAGES, write_json
from loop.stats import CSV_COLUMNS, Trial, iteration_rows, results

console = Console()
_TRIAL_DIR = re.compile(r"trial_(\d+)$")


# -- reading runs ---------------------------------------------------------------------------


def find_runs(paths: Sequence[Path]) -> list[Path]:
    """Run directories: the paths themselves, or the runs inside a bench output directory."""
    found: list[Path] = []
    for path in paths:
        path = Path(path)
        if (path / "summary.json").exists():
            found.append(path)
            continue
        inner = sorted(p.parent for p in path.glob("runs/*/*/trial_*/summary.json"))
        inner = inner or sorted(p.parent for p in path.glob("**/summary.json"))
        if not inner:
            raise ArmloopError(
                f"{path} holds no summary.json",
                "pass directories made by `armloop run` or `armloop bench`",
            )
        found.extend(inner)
    return found


def load_trial(path: Path, ordinal: int) -> Trial:
    """One run directory as a Trial: summary.json plus the backend block of config.toml."""
    try:
        summary = json.loads((path / "summary.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ArmloopError(f"cannot read {path / 'summary.json'}: {exc}", "re-run it") from exc
    backend = _config(path).get("backend", {})
    options = backend.get("options", {}) if isinstance(backend, dict) else {}
    bench = summary.get("bench", {})
    name = bench.get("backend") or backend.get("name") or summary.get("backend") or "?"
    match = _TRIAL_DIR.search(path.name)
    trial = bench.get("trial") or (int(match.group(1)) if match else ordinal)
    return Trial(
        backend=str(name),
        task=str(summary.get("task", "?")),
        trial=int(trial),
        summary=summary,
        model=summary.get("model") or backend.get("model"),
        price_in_per_mtok=options.get("price_in_per_mtok"),
        price_out_per_mtok=options.get("price_out_per_mtok"),
        path=str(path),
    )


def _config(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads((path / "config.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def load_trials(paths: Sequence[Path]) -> list[Trial]:
    return _renumber([load_trial(path, ordinal=1) for path in find_runs(paths)])


def _renumber(trials: list[Trial]) -> list[Trial]:
    """Plain run directories have no trial number: number them 1.. within backend+task."""
    out: list[Trial] = []
    used: dict[tuple[str, str], set[int]] = {}
    for t in trials:
        taken = used.setdefault((t.backend, t.task), set())
        number = t.trial
        while number in taken:
            number += 1
        taken.add(number)
        out.append(t if number == t.trial else replace(t, trial=number))
    return out


# -- writing ----------------------------------------------------------------------------------


def write_outputs(
    out: Path, trials: Sequence[Trial], speedup: float, meta: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """results.json, iterations.csv, report.md and the PNGs into `out`; returns the results."""
    from loop.plots import write_plots

    out.mkdir(parents=True, exist_ok=True)
    data = {**(meta or {}), **results(trials, speedup)}
    write_json(out / "results.json", data)
    write_csv(out / "iterations.csv", iteration_rows(trials, speedup))
    plots = write_plots(out, data, trials)
    (out / "report.md").write_text(render_markdown(data, [p.name for p in plots]))
    return data


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def _s(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    if abs(value) < 0.1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.{digits}f} s"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _num(value: float | None, fmt: str = "{:.0f}") -> str:
    return "–" if value is None else fmt.format(value)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines + [""]


def _summary_row(name: str, b: Mapping[str, Any]) -> list[str]:
    p = b["projection"]
    return [
        name,
        f"{b['successes']}/{b['trials']} ({_pct(b['success_rate'])})",
        _num(b["iterations_to_success_median"], "{:g}"),
        _s(b["time_to_success_s_median"]),
        _s(b["time_to_success_s_p90"]),
        _s(b["cycle_s_median"]),
        _pct(b["generation_share"]),
        _s(b["ttft_s_median"]),
        _num(b["tokens_per_s_median"], "{:.1f}"),
        _num(b["tokens_per_success"]),
        _num(b["cost_per_success_usd"], "${:.4f}"),
        _s(p["cycle_s"]),
        _s(p["time_to_success_s"]),
        _pct(p["generation_share"]),
    ]


SUMMARY_HEAD = (
    "backend",
    "success",
    "iters",
    "TTS median",
    "TTS p90",
    "cycle",
    "gen share",
    "TTFT",
    "tok/s",
    "tokens/success",
    "cost/success",
    "proj. cycle",
    "proj. TTS",
    "proj. share",
)


def render_markdown(data: Mapping[str, Any], plots: Sequence[str]) -> str:
    k = data["speedup"]
    backends = data["backends"]
    lines = [
        "# armloop report",
        "",
        f"Medians over trials (time to success: successful trials only) and over iterations "
        f"(cycle, stages). TTS = time to success. Projection: the `generate` stage {k:g}x "
        "faster, every other stage as measured.",
        "",
        "## Backends",
        "",
    ]
    lines += _table(SUMMARY_HEAD, [_summary_row(n, b) for n, b in backends.items()])
    lines += ["## Median stage times", ""]
    lines += _table(
        ("backend", *STAGES, "cycle"),
        [
            [n, *(_s(b["stage_s_median"][s]) for s in STAGES), _s(b["cycle_s_median"])]
            for n, b in backends.items()
        ],
    )
    lines += ["## Per task", ""]
    rows = [
        _summary_row(f"{n} / {task}", t)
        for n, b in backends.items()
        for task, t in b["tasks"].items()
    ]
    lines += _table(SUMMARY_HEAD, rows)
    lines += ["## Figures", ""] + [f"![{p}]({p})" for p in plots] + [""]
    return "\n".join(lines)


def default_out(paths: Sequence[Path]) -> Path:
    if len(paths) == 1:
        return Path(paths[0])
    return Path("runs") / f"report-{time.strftime('%Y%m%d-%H%M%S')}"


def report_command(run_dirs: Sequence[Path], out: Path | None = None, speedup: float = 15.0):
    """Read the runs, write the report, print where it went."""
    if speedup <= 0:
        raise ArmloopError(f"--speedup {speedup} is not positive", "give a factor such as 15")
    trials = load_trials(run_dirs)
    out = out or default_out(run_dirs)
    data = write_outputs(out, trials, speedup, {"sources": [t.path for t in trials]})
    print_table(data)
    console.print(f"report: {out / 'report.md'}")
    return data


def print_table(data: Mapping[str, Any]) -> None:
    from rich.table import Table

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
        row = _summary_row(name, b)
        table.add_row(row[0], row[1], row[3], row[5], row[6], row[8], row[11], row[12])
    console.print(table)
