"""The report's figures (matplotlib, Agg): stage bars, time to success, share vs tokens/s."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

from loop.report.stats import Trial, measured_time_to_success  # noqa: E402
from loop.run.rundir import STAGES  # noqa: E402

FILES = {
    "stages": "stages.png",
    "time_to_success": "time_to_success.png",
    "share_vs_tps": "share_vs_tokens_per_s.png",
    "width": "time_to_success_vs_candidates.png",
}


def write_plots(out: Path, results: Mapping[str, Any], trials: Sequence[Trial]) -> list[Path]:
    """All figures into `out`; returns their paths."""
    backends = results["backends"]
    paths = [
        stage_bars(out / FILES["stages"], backends, results.get("speedup")),
        time_to_success(out / FILES["time_to_success"], list(backends), trials),
        share_vs_tps(out / FILES["share_vs_tps"], backends),
    ]
    width = results.get("width") or {}
    if any(len(b["arms"]) > 1 for b in width.values()):
        paths.append(width_plot(out / FILES["width"], width, results.get("speedup") or 15.0))
    return paths


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def stage_bars(path: Path, backends: Mapping[str, Any], speedup: float | None) -> Path:
    """Stacked bars of median stage times per backend, plus its projected cycle."""
    names = list(backends)
    fig, ax = plt.subplots(figsize=(max(6.5, 1.6 * len(names) + 4), 4.2))
    bottoms = [0.0] * len(names)
    colours = plt.get_cmap("tab10")
    for i, s in enumerate(STAGES):
        heights = [backends[n]["stage_s_median"].get(s) or 0.0 for n in names]
        ax.bar(names, heights, bottom=bottoms, label=s, color=colours(i))
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    projected = [backends[n]["projection"]["cycle_s"] for n in names]
    if speedup and all(p is not None for p in projected):
        ax.scatter(
            names,
            projected,
            marker="_",
            s=900,
            color="black",
            zorder=3,
            label=f"projected cycle, generation {speedup:g}x",
        )
    ax.set_ylabel("median seconds per iteration")
    ax.set_title("Where an iteration's time goes")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(fig, path)


def time_to_success(path: Path, names: Sequence[str], trials: Sequence[Trial]) -> Path:
    """Each successful trial's time to a working controller, one column per backend."""
    fig, ax = plt.subplots(figsize=(max(5.0, 1.4 * len(names) + 2), 4.0))
    data = [
        [v for t in trials if t.backend == n and (v := measured_time_to_success(t)) is not None]
        for n in names
    ]
    if any(data):
        ax.boxplot([d or [float("nan")] for d in data], showfliers=False)
    for i, values in enumerate(data, start=1):
        ax.scatter([i] * len(values), values, color="tab:blue", alpha=0.7, zorder=3)
    ax.set_xticks(range(1, len(names) + 1), names)
    ax.set_ylabel("time to success (s)")
    ax.set_title("Time to a working controller (successful trials)")
    return _save(fig, path)


def share_vs_tps(path: Path, backends: Mapping[str, Any]) -> Path:
    """Generation share against median tokens/s, one point per backend."""
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    for name, b in backends.items():
        tps, share = b.get("tokens_per_s_median"), b.get("generation_share")
        if tps is None or share is None:
            continue
        dot = ax.scatter([tps], [share], s=60)
        ax.annotate(name, (tps, share), textcoords="offset points", xytext=(6, -12))
        p = b["projection"]
        if p.get("generation_share") is not None:
            ax.scatter(
                [tps * p["speedup"]],
                [p["generation_share"]],
                s=60,
                facecolors="none",
                edgecolors=dot.get_facecolor(),
            )
            ax.annotate(
                f"{name} x{p['speedup']:g}",
                (tps * p["speedup"], p["generation_share"]),
                textcoords="offset points",
                xytext=(5, -12),
                fontsize=8,
            )
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("median tokens/s (log)")
    ax.set_ylabel("generation share of the cycle")
    ax.set_title("Generation share against model speed (hollow: projected)")
    return _save(fig, path)


def width_plot(path: Path, width: Mapping[str, Any], speedup: float) -> Path:
    """Projected time to success against candidates per iteration, at 1x and Kx generation;
    measured means as dots."""
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for name, b in width.items():
        ns = sorted(int(n) for n in b["arms"])
        for k, style in ((1.0, "-"), (speedup, "--")):
            ys = [b["arms"][str(n)]["projected"].get(f"{k:g}", {}).get("time_to_success_s")
                  for n in ns]  # fmt: skip
            ax.plot(ns, [y if y is not None else float("nan") for y in ys], style, marker="o",
                    label=f"{name}, generation {k:g}x (projected)")  # fmt: skip
        measured = [b["arms"][str(n)].get("time_to_success_s_mean") for n in ns]
        dots = [m if m is not None else float("nan") for m in measured]
        ax.scatter(ns, dots, color="black", zorder=3, s=18, label=f"{name}, measured mean")
    ax.set_xlabel("candidates per iteration (N)")
    ax.set_ylabel("time to success (s)")
    ax.set_title("Speed or width: time to a working controller")
    ax.legend(fontsize=7)
    return _save(fig, path)
