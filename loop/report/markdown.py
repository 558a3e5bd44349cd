"""report.md: the backends, their median stage times and each task, as markdown tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from loop.run.rundir import STAGES


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


def summary_row(name: str, b: Mapping[str, Any]) -> list[str]:
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
    lines += _table(SUMMARY_HEAD, [summary_row(n, b) for n, b in backends.items()])
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
        summary_row(f"{n} / {task}", t)
        for n, b in backends.items()
        for task, t in b["tasks"].items()
    ]
    lines += _table(SUMMARY_HEAD, rows)
    lines += width_section(data.get("width") or {}, k)
    lines += ["## Figures", ""] + [f"![{p}]({p})" for p in plots] + [""]
    return "\n".join(lines)


WIDTH_HEAD = (
    "backend",
    "candidates",
    "p (candidate)",
    "q (iteration)",
    "cycle (mean)",
    "TTS measured (mean)",
    "TTS projected 1x",
    "TTS projected Kx",
)


def width_section(width: Mapping[str, Any], k: float) -> list[str]:
    """Speed or width: each backend's widths, projected at 1x and Kx generation."""
    if not any(len(b["arms"]) > 1 or "1" not in b["arms"] for b in width.values()):
        return []
    head = [*WIDTH_HEAD[:-1], f"TTS projected {k:g}x"]
    rows = []
    for name, b in width.items():
        for n, arm in b["arms"].items():
            proj = arm["projected"]
            rows.append(
                [
                    name,
                    n,
                    _pct(arm.get("candidate_success_rate")),
                    _pct(arm.get("iteration_success_rate")),
                    _s(arm.get("cycle_s_mean")),
                    _s(arm.get("time_to_success_s_mean")),
                    _s(proj.get("1", {}).get("time_to_success_s")),
                    _s(proj.get(f"{k:g}", {}).get("time_to_success_s")),
                ]
            )
    lines = ["## Speed or width", ""]
    lines += [
        "p: share of candidates that succeeded; q = 1 - (1 - p)^N; projected time to success "
        "= E[iterations | success within max_iters] x the cycle with generation K times "
        "faster (loop/report/width.py).",
        "",
    ]
    lines += _table(head, rows)
    lines += [f"- {name}: {b['says']}" for name, b in width.items()] + [""]
    return lines
