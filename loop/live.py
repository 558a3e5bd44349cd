"""The live console table of `armloop run`: one row per iteration, filled in stage by stage."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from loop.rundir import STAGES

#: short column heads so the table fits an 80-column terminal
HEADS = {
    "prompt": "prm",
    "ttft": "ttft",
    "generate": "gen",
    "extract": "ext",
    "load": "load",
    "simulate": "sim",
    "score": "scr",
    "feedback": "fb",
}


def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    return f"{seconds:.1f}s" if seconds < 100 else f"{seconds:.0f}s"


class LiveTable:
    """Feed it stage events (`on_stage`) and finished iterations (`on_iteration`)."""

    def __init__(self, title: str, console: Console | None = None) -> None:
        self.title = title
        self.console = console or Console()
        self.rows: dict[int, dict[str, Any]] = {}
        self.status = ""
        self._live = Live(
            self._render(), console=self.console, refresh_per_second=8, transient=False
        )

    def __enter__(self) -> LiveTable:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.status = ""
        self._live.update(self._render())
        self._live.__exit__(*exc)

    def on_stage(self, iteration: int, stage: str, event: dict[str, Any]) -> None:
        row = self.rows.setdefault(iteration, {"stages": {}})
        row["stages"][stage] = event["duration_s"]
        for key in ("tokens_per_s", "score", "success"):
            if key in event:
                row[key] = event[key]
        if not event.get("ok", True) and event.get("error"):
            row["error"] = "backend error"
        self.status = f"iteration {iteration}: {stage} done"
        self._live.update(self._render())

    def set_status(self, text: str) -> None:
        self.status = text
        self._live.update(self._render())

    def _render(self) -> Group:
        table = Table(
            title=self.title,
            title_justify="left",
            box=None,
            padding=(0, 0, 0, 1),
            caption="stage times; gen% = (ttft + gen) / cycle so far",
            caption_justify="left",
        )
        table.add_column("it", justify="right", no_wrap=True)
        for stage in STAGES:
            table.add_column(HEADS[stage], justify="right", no_wrap=True)
        for name in ("cycle", "tok/s", "score", "gen%"):
            table.add_column(name, justify="right", no_wrap=True)
        generation = cycles = 0.0
        for index, row in sorted(self.rows.items()):
            stages = row["stages"]
            cycles += sum(stages.values())
            generation += stages.get("ttft", 0.0) + stages.get("generate", 0.0)
            ok = row.get("success")
            style = "green" if ok else "red" if ok is False else "yellow"
            result = f"{row['score']:.2f}" if "score" in row else row.get("error", "")
            table.add_row(
                str(index),
                *[_fmt_s(stages.get(s)) for s in STAGES],
                _fmt_s(sum(stages.values())),
                f"{row['tokens_per_s']:.1f}" if row.get("tokens_per_s") else "",
                Text(result, style),
                f"{generation / cycles:.0%}" if cycles else "",
            )
        if not self.status:
            return Group(table)
        return Group(table, Text(self.status, style="dim"))
