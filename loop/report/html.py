"""report.html: one self-contained page (inline CSS and SVG, no script, no network).

The backends side by side (the summary table and their median stage times with the projected
cycle), then each run: its iterations' stage times stacked (the generation share at a glance)
with the --speedup projection, the score of every seed, and per iteration its clip (worst
seed, `preload="none"`: nothing loads until it is played), the feedback the model read next
and the diff of its code against the iteration before. Everything from a run directory is
escaped: controller code, feedback and model replies are untrusted text.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from loop.report.markdown import SUMMARY_HEAD, summary_row
from loop.report.stats import Trial, projected_cycle
from loop.report.svg import seed_scores, stage_bars
from loop.sandbox.text import printable

VideoFor = Callable[[Trial, int], Any]  # -> loop.report.clips.Video

CSS = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#222;padding:0 12px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}
th{background:#f2f2f2}
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:8px;overflow:auto;font-size:12px;
max-height:420px;white-space:pre-wrap}
.diff .add{color:#116611;background:#eaffea}.diff .del{color:#a31515;background:#ffecec}
.diff .hunk{color:#555}
.iteration{border-top:1px solid #ddd;margin-top:18px;padding-top:6px}
.ok{color:#116611}.bad{color:#a31515}.muted{color:#666}
.unavailable{background:#fff6e0;border:1px solid #f0d080;padding:8px;max-width:620px}
video{background:#000;display:block;max-width:100%}
svg.chart{display:block;margin:10px 0;max-width:100%;height:auto}
"""


def _t(text: Any) -> str:
    """Untrusted text as HTML: control characters dropped, then escaped."""
    return escape(printable(str(text)))


def _s(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.1f} ms" if abs(value) < 0.1 else f"{value:.2f} s"


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def render_html(
    data: Mapping[str, Any], trials: Sequence[Trial], video_for: VideoFor | None = None
) -> str:
    k = float(data["speedup"])
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>armloop report</title><style>{CSS}</style></head><body>",
        "<h1>armloop report</h1>",
        f"<p>{len(trials)} run(s). Projection: the <code>generate</code> stage {k:g}x faster, "
        "every other stage as measured. Medians over iterations and successful trials.</p>",
        _backends(data),
    ]
    single = len(trials) <= 4  # a bench folder of many trials starts folded
    for n, trial in enumerate(trials, 1):
        parts.append(_run(trial, n, k, video_for, open_=single))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _backends(data: Mapping[str, Any]) -> str:
    backends = data["backends"]
    head = "".join(f"<th>{escape(h)}</th>" for h in SUMMARY_HEAD)
    rows = []
    for name, b in backends.items():
        rows.append("<tr>" + "".join(f"<td>{_t(c)}</td>" for c in summary_row(name, b)) + "</tr>")
        for task, t in b["tasks"].items():
            cells = summary_row(f"{name} / {task}", t)
            rows.append("<tr>" + "".join(f"<td>{_t(c)}</td>" for c in cells) + "</tr>")
    bars = [
        (str(name), b["stage_s_median"] or {}, b["projection"]["cycle_s"])
        for name, b in backends.items()
    ]
    chart = stage_bars(
        [(n, {s: v or 0.0 for s, v in st.items()}, p) for n, st, p in bars],
        data["speedup"],
        "Median stage times per iteration, by backend",
    )
    return (
        '<section id="backends"><h2>Backends</h2>'
        f"<table><tr>{head}</tr>{''.join(rows)}</table>{chart}</section>"
    )


def _run(trial: Trial, n: int, k: float, video_for: VideoFor | None, open_: bool) -> str:
    s = trial.summary
    path = Path(trial.path or ".")
    its = trial.iterations
    verdict = (
        f'<span class="ok">success at iteration {s.get("iterations_to_success")}</span>'
        if trial.success
        else '<span class="bad">no success</span>'
    )
    facts = (
        f"{verdict}; time to success {_s(s.get('time_to_success_s'))}; generation share "
        f"{float(s.get('generation_share') or 0):.0%}; wall {_s(s.get('wall_s'))} (setup "
        f"{_s((s.get('setup_s') or {}).get('total'))}); {_t(s.get('stopped_reason', ''))}"
    )
    rows = [
        (f"iteration {it.get('index')}", it.get("stages", {}), projected_cycle(it, k)) for it in its
    ]
    chart = stage_bars(rows, k, "Stage times per iteration (bar below: projected cycle)")
    results = {
        int(it["index"]): _read_json(path / f"iter_{int(it['index']):03d}" / "result.json")
        for it in its
    }
    scores = [(i, _seed_scores(r)) for i, r in results.items()]
    score_chart = (
        seed_scores([(i, sc) for i, sc in scores if sc], "Score per seed")
        if any(sc for _, sc in scores)
        else ""
    )
    body = [
        f'<p class="muted">{_t(path)}</p><p>{facts}</p>',
        chart,
        score_chart,
    ]
    previous: tuple[int, str] | None = None
    for it in its:
        index = int(it["index"])
        code = _read_text(path / f"iter_{index:03d}" / "controller.py")
        body.append(_iteration(trial, it, results.get(index), code, previous, video_for))
        if code is not None:
            previous = (index, code)
    title = f"{_t(trial.backend)} / {_t(trial.task)} / trial {trial.trial}"
    return (
        f'<section class="run" id="run-{n}"><details{" open" if open_ else ""}>'
        f'<summary><h2 style="display:inline">{title}</h2></summary>'
        + "\n".join(body)
        + "</details></section>"
    )


def _seed_scores(result: Mapping[str, Any] | None) -> dict[int, float]:
    seeds = ((result or {}).get("evaluation") or {}).get("seeds") or []
    return {int(s["seed"]): float(s.get("score") or 0.0) for s in seeds if "seed" in s}


def _iteration(
    trial: Trial,
    it: Mapping[str, Any],
    result: Mapping[str, Any] | None,
    code: str | None,
    previous: tuple[int, str] | None,
    video_for: VideoFor | None,
) -> str:
    index = int(it["index"])
    ok = bool(it.get("success"))
    head = (
        f"<h3>Iteration {index}: score {float(it.get('score') or 0):.2f}, "
        f'<span class="{"ok" if ok else "bad"}">{"success" if ok else "failed"}</span> '
        f'<span class="muted">cycle {_s(it.get("cycle_s"))}</span></h3>'
    )
    parts = [f'<article class="iteration" id="{escape(_anchor(trial, index))}">', head]
    if it.get("error"):
        parts.append(f'<p class="bad">{_t(it["error"])}</p>')
    parts.append(_video(video_for(trial, index) if video_for else None))
    parts.append(_seed_table(result))
    feedback = (result or {}).get("feedback") or ""
    if feedback:
        parts.append(
            f'<h4>Feedback the model read next</h4><pre class="feedback">{_t(feedback)}</pre>'
        )
    parts.append(_diff(index, code, previous))
    parts.append("</article>")
    return "\n".join(parts)


def _anchor(trial: Trial, index: int) -> str:
    return f"{trial.backend}-{trial.task}-{trial.trial}-iter-{index}"


def _video(video: Any) -> str:
    if video is None:
        return '<p class="unavailable">video: not rendered</p>'
    if video.src is None:
        return f'<p class="unavailable">video unavailable: {_t(video.note)}</p>'
    src = escape(quote(video.src))
    return (
        f'<video controls preload="none" width="640" height="480" src="{src}"></video>'
        f'<p class="muted">{_t(video.note)} · <a href="{src}">{_t(video.src)}</a></p>'
    )


def _seed_table(result: Mapping[str, Any] | None) -> str:
    seeds = ((result or {}).get("evaluation") or {}).get("seeds") or []
    if not seeds:
        return ""
    rows = []
    for s in seeds:
        ok = bool(s.get("success"))
        message = _t(str(s.get("message", ""))[:300])
        rows.append(
            f"<tr><td>{_t(s.get('seed'))}</td>"
            f'<td class="{"ok" if ok else "bad"}">{"yes" if ok else "no"}</td>'
            f"<td>{float(s.get('score') or 0):.2f}</td><td>{message}</td></tr>"
        )
    head = "<tr><th>seed</th><th>success</th><th>score</th><th>what happened</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _diff(index: int, code: str | None, previous: tuple[int, str] | None) -> str:
    if code is None:
        return '<p class="muted">no controller code in this reply</p>'
    if previous is None:
        return (
            f"<details><summary>Code (iteration {index}, the first)</summary>"
            f"<pre>{_t(code)}</pre></details>"
        )
    before_index, before = previous
    lines = list(
        difflib.unified_diff(
            before.splitlines(),
            code.splitlines(),
            f"iter_{before_index:03d}/controller.py",
            f"iter_{index:03d}/controller.py",
            lineterm="",
        )
    )
    if not lines:
        return f'<p class="muted">code identical to iteration {before_index}</p>'
    out = []
    for line in lines:
        cls = (
            "hunk"
            if line.startswith("@@")
            else "add"
            if line.startswith("+")
            else "del"
            if line.startswith("-")
            else ""
        )
        out.append(f'<span class="{cls}">{_t(line)}</span>' if cls else _t(line))
    return (
        f"<details open><summary>Code: diff against iteration {before_index}</summary>"
        f'<pre class="diff">{chr(10).join(out)}</pre></details>'
    )
