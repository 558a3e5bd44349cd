"""The HTML report's charts as inline SVG, generated here (no library, no network).

`stage_bars`: one horizontal bar per row (an iteration, or a backend's median), its stages
stacked in the order they run, with the cycle projected for faster generation drawn as a thin
bar under it. `seed_scores`: every seed's score per iteration. All text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

from loop.run.rundir import STAGES

# matplotlib's tab10, the colours of the PNG figures (loop/report/plots.py)
COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
STAGE_COLOURS = dict(zip(STAGES, COLOURS, strict=False))
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _s(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _nice_step(top: float) -> float:
    """A round tick step giving about five ticks up to `top`."""
    raw = max(top, 1e-9) / 5
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def _legend(x: float, y: float, items: Sequence[tuple[str, str]]) -> list[str]:
    out, cx = [], x
    for label, colour in items:
        out.append(f'<rect x="{cx:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{cx + 16:.1f}" y="{y:.1f}">{escape(label)}</text>')
        cx += 24 + 7 * len(label)
    return out


def stage_bars(
    rows: Sequence[tuple[str, Mapping[str, float], float | None]],
    speedup: float | None,
    title: str,
    width: int = 760,
) -> str:
    """rows: (label, {stage: seconds}, projected cycle or None)."""
    label_w, right, bar_h, gap, top = 110, 30, 18, 14, 58
    height = top + len(rows) * (bar_h + 6 + gap) + 44
    totals = [sum(stages.get(s, 0.0) for s in STAGES) for _, stages, _ in rows]
    longest = max([*totals, *(p or 0.0 for _, _, p in rows), 1e-6])
    step = _nice_step(longest)
    axis_max = step * math.ceil(longest / step)
    scale = (width - label_w - right) / axis_max
    out = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" {FONT} role="img">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>',
    ]
    items = [(s, STAGE_COLOURS[s]) for s in STAGES]
    if speedup:
        items.append((f"projected, generation {speedup:g}x faster", "#333"))
    out += _legend(0, 38, items[:5]) + _legend(0, 54, items[5:])
    y = top + 8
    for (label, stages, projected), total in zip(rows, totals, strict=True):
        out.append(
            f'<text x="{label_w - 8}" y="{y + bar_h - 5}" text-anchor="end">{escape(label)}</text>'
        )
        x = float(label_w)
        for s in STAGES:
            w = stages.get(s, 0.0) * scale
            if w <= 0:
                continue
            out.append(
                f'<rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{bar_h}" '
                f'fill="{STAGE_COLOURS[s]}"><title>{escape(label)}: {s} '
                f"{_s(stages[s])}</title></rect>"
            )
            x += w
        out.append(f'<text x="{x + 4:.1f}" y="{y + bar_h - 5}">{_s(total)}</text>')
        if projected is not None:
            out.append(
                f'<rect x="{label_w}" y="{y + bar_h + 2}" width="{projected * scale:.2f}" '
                f'height="4" fill="#333"><title>{escape(label)}: projected cycle '
                f"{_s(projected)}</title></rect>"
            )
        y += bar_h + 6 + gap
    out.append(f'<line x1="{label_w}" y1="{y}" x2="{width - right}" y2="{y}" stroke="#999"/>')
    tick = 0.0
    while tick <= axis_max + 1e-9:
        tx = label_w + tick * scale
        out.append(f'<line x1="{tx:.1f}" y1="{y}" x2="{tx:.1f}" y2="{y + 4}" stroke="#999"/>')
        out.append(f'<text x="{tx:.1f}" y="{y + 16}" text-anchor="middle">{tick:g}</text>')
        tick += step
    out.append(f'<text x="{width - right}" y="{y + 30}" text-anchor="end">seconds</text>')
    out.append("</svg>")
    return "\n".join(out)


def seed_scores(
    rows: Sequence[tuple[int, Mapping[int, float]]], title: str, width: int = 760
) -> str:
    """rows: (iteration, {seed: score}); a line per seed over the iterations, score 0..1."""
    height, left, right, top, bottom = 230, 44, 110, 30, 34
    seeds = sorted({s for _, scores in rows for s in scores})
    n = max(len(rows), 1)
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(k: int) -> float:
        return left + (plot_w * (k + 0.5) / n)

    def py(score: float) -> float:
        return top + plot_h * (1 - max(0.0, min(1.0, score)))

    out = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" {FONT} role="img">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>',
    ]
    for v in (0.0, 0.5, 1.0):
        out.append(
            f'<line x1="{left}" y1="{py(v):.1f}" x2="{left + plot_w}" y2="{py(v):.1f}" '
            'stroke="#ddd"/>'
        )
        out.append(f'<text x="{left - 6}" y="{py(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
    for k, (index, _) in enumerate(rows):
        out.append(f'<text x="{px(k):.1f}" y="{height - 14}" text-anchor="middle">{index}</text>')
    out.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 1}" text-anchor="middle">iteration</text>'
    )
    for j, seed in enumerate(seeds):
        colour = COLOURS[j % len(COLOURS)]
        dx = 5.0 * (j - (len(seeds) - 1) / 2)  # seeds side by side where their scores agree
        points = [(px(k) + dx, py(s[seed])) for k, (_, s) in enumerate(rows) if seed in s]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}"/>')
        for (x, y), (index, s) in zip(points, [(i, s) for i, s in rows if seed in s], strict=True):
            out.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"><title>iteration '
                f"{index}, seed {seed}: score {s[seed]:.2f}</title></circle>"
            )
        ly = top + 14 * j + 6
        out.append(f'<circle cx="{left + plot_w + 16}" cy="{ly}" r="4" fill="{colour}"/>')
        out.append(f'<text x="{left + plot_w + 24}" y="{ly + 4}">seed {seed}</text>')
    out.append("</svg>")
    return "\n".join(out)
