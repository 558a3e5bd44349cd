"""The arithmetic of `armloop bench` / `armloop report`: pure functions over run summaries.

A `Trial` is one `armloop run` (its summary.json plus the backend's prices). `results()`
groups trials by backend, and inside each backend by task, and computes for each group:

- success_rate: successful trials / trials
- iterations_to_success_median, time_to_success_s_median, time_to_success_s_p90: over the
  successful trials only (null when none succeeded)
- cycle_s_median, stage_s_median {stage: s}, ttft_s_median: over every iteration of every trial
- generation_share: sum(ttft + generate) / sum(cycle) over every iteration (as in summary.json)
- tokens_per_s_median: over iterations that generated tokens
- tokens_per_success (in + out), tokens_out_per_success, cost_per_success_usd: totals over all
  trials (failed ones included: that is what the successes cost) / successes; cost is null when
  a price is unknown
- projection {speedup K, cycle_s, time_to_success_s, generation_share}: each iteration with its
  `generate` stage divided by K and every other stage as measured; cycle_s is the median
  projected iteration, time_to_success_s the median over successful trials of the projected
  cycles summed up to and including the successful iteration.

Percentiles interpolate linearly between order statistics (numpy's default).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loop.run.rundir import GENERATION_STAGES, STAGES

Summary = Mapping[str, Any]


@dataclass(frozen=True)
class Trial:
    """One run: its summary and what the report needs to know about its backend."""

    backend: str
    task: str
    trial: int
    summary: Summary
    model: str | None = None
    price_in_per_mtok: float | None = None
    price_out_per_mtok: float | None = None
    path: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def iterations(self) -> list[Mapping[str, Any]]:
        return list(self.summary.get("iterations", []))

    @property
    def success(self) -> bool:
        return bool(self.summary.get("success"))

    @property
    def iterations_to_success(self) -> int | None:
        found = self.summary.get("iterations_to_success")
        if found is not None:
            return int(found)
        return next((i + 1 for i, it in enumerate(self.iterations) if it.get("success")), None)


# -- order statistics -------------------------------------------------------------------


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0..100), linear between order statistics; None when empty."""
    xs = sorted(float(v) for v in values)
    if not xs:
        return None
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def median(values: Iterable[float]) -> float | None:
    return percentile(values, 50.0)


# -- per iteration and per trial ----------------------------------------------------------


def stage(it: Mapping[str, Any], name: str) -> float:
    return float(it.get("stages", {}).get(name, 0.0) or 0.0)


def projected_cycle(it: Mapping[str, Any], speedup: float) -> float:
    """The iteration's cycle with `generate` K times faster, every other stage as measured."""
    gen = stage(it, "generate")
    return float(it["cycle_s"]) - gen + gen / speedup


def projected_time_to_success(trial: Trial, speedup: float) -> float | None:
    n = trial.iterations_to_success
    if not trial.success or n is None:
        return None
    return sum(projected_cycle(it, speedup) for it in trial.iterations[:n])


def measured_time_to_success(trial: Trial) -> float | None:
    if not trial.success:
        return None
    value = trial.summary.get("time_to_success_s")
    if value is not None:
        return float(value)
    n = trial.iterations_to_success or 0
    return sum(float(it["cycle_s"]) for it in trial.iterations[:n])


def trial_cost_usd(trial: Trial) -> float | None:
    if trial.price_in_per_mtok is None or trial.price_out_per_mtok is None:
        return None
    tin = sum(int(it.get("tokens_in", 0) or 0) for it in trial.iterations)
    tout = sum(int(it.get("tokens_out", 0) or 0) for it in trial.iterations)
    return (tin * trial.price_in_per_mtok + tout * trial.price_out_per_mtok) / 1e6


# -- groups ------------------------------------------------------------------------------


def _share(iterations: Sequence[Mapping[str, Any]], cycle: Sequence[float]) -> float | None:
    total = sum(cycle)
    if total <= 0:
        return None
    return sum(stage(it, s) for it in iterations for s in GENERATION_STAGES) / total


def _per_success(total: float | None, successes: int) -> float | None:
    return total / successes if successes and total is not None else None


def group_stats(trials: Sequence[Trial], speedup: float) -> dict[str, Any]:
    """The figures of one group of trials (one backend, or one backend on one task)."""
    its = [it for t in trials for it in t.iterations]
    wins = [t for t in trials if t.success]
    cycles = [float(it["cycle_s"]) for it in its]
    proj_cycles = [projected_cycle(it, speedup) for it in its]
    tokens_in = sum(int(it.get("tokens_in", 0) or 0) for it in its)
    tokens_out = sum(int(it.get("tokens_out", 0) or 0) for it in its)
    costs = [trial_cost_usd(t) for t in trials]
    cost = None if any(c is None for c in costs) else sum(c for c in costs if c is not None)
    tts = [measured_time_to_success(t) for t in wins]
    proj_tts = [projected_time_to_success(t, speedup) for t in wins]
    return {
        "trials": len(trials),
        "successes": len(wins),
        "iterations": len(its),
        "success_rate": len(wins) / len(trials) if trials else None,
        "iterations_to_success_median": median(t.iterations_to_success or 0 for t in wins),
        "time_to_success_s_median": median(v for v in tts if v is not None),
        "time_to_success_s_p90": percentile((v for v in tts if v is not None), 90),
        "cycle_s_median": median(cycles),
        "stage_s_median": {s: median(stage(it, s) for it in its) for s in STAGES},
        "generation_share": _share(its, cycles),
        "ttft_s_median": median(stage(it, "ttft") for it in its),
        "tokens_per_s_median": median(
            float(it["tokens_per_s"]) for it in its if (it.get("tokens_per_s") or 0) > 0
        ),
        "tokens_per_success": _per_success(tokens_in + tokens_out, len(wins)),
        "tokens_out_per_success": _per_success(tokens_out, len(wins)),
        "cost_per_success_usd": _per_success(cost, len(wins)),
        "projection": {
            "speedup": speedup,
            "cycle_s": median(proj_cycles),
            "time_to_success_s": median(v for v in proj_tts if v is not None),
            "generation_share": _projected_share(its, speedup, sum(proj_cycles)),
        },
    }


def _projected_share(its: Sequence[Mapping[str, Any]], speedup: float, total: float):
    if total <= 0:
        return None
    gen = sum(stage(it, "ttft") + stage(it, "generate") / speedup for it in its)
    return gen / total


def results(trials: Sequence[Trial], speedup: float) -> dict[str, Any]:
    """{"speedup": K, "backends": {NAME: {model, ...group figures, "tasks": {TASK: {...}}}}}."""
    backends: dict[str, Any] = {}
    for name in _ordered(t.backend for t in trials):
        mine = [t for t in trials if t.backend == name]
        tasks = {
            task: group_stats([t for t in mine if t.task == task], speedup)
            for task in _ordered(t.task for t in mine)
        }
        backends[name] = {
            "model": next((t.model for t in mine if t.model), None),
            "price_in_per_mtok": mine[0].price_in_per_mtok,
            "price_out_per_mtok": mine[0].price_out_per_mtok,
            **group_stats(mine, speedup),
            "tasks": tasks,
        }
    return {"speedup": speedup, "backends": backends}


def _ordered(names: Iterable[str]) -> list[str]:
    """Distinct names in first-seen order."""
    return list(dict.fromkeys(names))


# -- iterations.csv ----------------------------------------------------------------------

CSV_COLUMNS = (
    "backend",
    "task",
    "trial",
    "index",
    *(f"{s}_s" for s in STAGES),
    "cycle_s",
    "projected_cycle_s",
    "tokens_in",
    "tokens_out",
    "tokens_per_s",
    "success",
    "score",
)


def iteration_rows(trials: Sequence[Trial], speedup: float) -> list[dict[str, Any]]:
    rows = []
    for t in trials:
        for it in t.iterations:
            rows.append(
                {
                    "backend": t.backend,
                    "task": t.task,
                    "trial": t.trial,
                    "index": it.get("index"),
                    **{f"{s}_s": stage(it, s) for s in STAGES},
                    "cycle_s": it["cycle_s"],
                    "projected_cycle_s": projected_cycle(it, speedup),
                    "tokens_in": it.get("tokens_in", 0),
                    "tokens_out": it.get("tokens_out", 0),
                    "tokens_per_s": it.get("tokens_per_s", 0.0),
                    "success": bool(it.get("success")),
                    "score": it.get("score"),
                }
            )
    return rows


# -- candidates.csv ----------------------------------------------------------------------

CANDIDATE_COLUMNS = (
    "backend",
    "task",
    "trial",
    "index",
    "candidate",
    *(f"{s}_s" for s in STAGES),
    "cycle_s",
    "tokens_out",
    "tokens_per_s",
    "temperature",
    "success",
    "score",
    "error",
)


def candidate_rows(trials: Sequence[Trial]) -> list[dict[str, Any]]:
    """One row per candidate (one candidate per iteration when a run had width 1)."""
    rows = []
    for t in trials:
        for it in t.iterations:
            for c in it.get("candidates") or [{**it, "candidate": 1}]:
                rows.append(
                    {
                        "backend": t.backend,
                        "task": t.task,
                        "trial": t.trial,
                        "index": it.get("index"),
                        "candidate": c.get("candidate", 1),
                        **{f"{s}_s": stage(c, s) for s in STAGES},
                        "cycle_s": c.get("cycle_s"),
                        "tokens_out": c.get("tokens_out", 0),
                        "tokens_per_s": c.get("tokens_per_s", 0.0),
                        "temperature": c.get("temperature"),
                        "success": bool(c.get("success")),
                        "score": c.get("score"),
                        "error": c.get("error") or "",
                    }
                )
    return rows
