"""Reading run directories for a report: each becomes a `Trial` (loop/report/stats.py).

A RUN_DIR is an `armloop run` directory (summary.json, config.toml) or an `armloop bench`
output directory (its runs/BACKEND/TASK/trial_K/ are read). Runs are grouped by backend and
task; the arithmetic is loop/stats.py's.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from loop.errors import ArmloopError
from loop.report.stats import Trial

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
    config = _config(path)
    backend = config.get("backend", {})
    options = backend.get("options", {}) if isinstance(backend, dict) else {}
    bench = summary.get("bench", {})
    base = bench.get("backend_name") or backend.get("name") or summary.get("backend") or "?"
    width = int(summary.get("candidates", 1) or 1)
    name = bench.get("backend") or (base if width == 1 else f"{base}-x{width}")
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
        extra={"backend_name": str(base), "width": width, "max_iters": config.get("max_iters")},
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
