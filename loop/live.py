"""The live console table of `armloop run`: one row per iteration, filled in stage by stage."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from loop.rundir import STAGES, generation_share


def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.2f}s"


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
        self._live.update(self._render())
        self._live.__exit__(*exc)

    def on_stage(self, iteration: int, stage: str, event: dict[str, Any]) -> None:
        row = self.rows.setdefault(iteration, {"stages": {}})
        row["stages"][stage] = event["duration_s"]
        for key in ("tokens_per_s", "score", "success"):
            if key in event:
                row[key] = event[key]
        if not event.get("ok", True) and event.get("error"):
            row["error"] = str(event["error"]).splitlines()[0][:60]
        self.status = f"iteration {iteration}: {stage} done"
        self._live.update(self._render())

    def set_status(self, text: str) -> None:
        self.status = text
        self._live.update(self._render())

    def _share_so_far(self) -> float:
        its = [
            {"cycle_s": sum(r["stages"].values()), "stages": r["stages"]}
            for r in self.rows.values()
        ]
        return generation_share(its)

    def _render(self) -> Group:
        table = Table(title=self.title, title_justify="left", expand=False)
        table.add_column("iter", justify="right")
        for stage in STAGES:
            table.add_column(stage, justify="right")
        for name in ("cycle", "tok/s", "score", "ok", "gen share"):
            table.add_column(name, justify="right")
        share_stages: dict[str, float] = {}
        cycles = 0.0
        for index, row in sorted(self.rows.items()):
            stages = row["stages"]
            cycles += sum(stages.values())
            for s in ("ttft", "generate"):
                share_stages[s] = share_stages.get(s, 0.0) + stages.get(s, 0.0)
            share = sum(share_stages.values()) / cycles if cycles else 0.0
            ok = row.get("success")
            table.add_row(
                str(index),
                *[_fmt_s(stages.get(s)) for s in STAGES],
                _fmt_s(sum(stages.values())),
                f"{row['tokens_per_s']:.1f}" if row.get("tokens_per_s") else "",
                f"{row['score']:.2f}" if "score" in row else "",
                Text("yes", "green")
                if ok
                else Text("no", "red")
                if ok is False
                else Text(row.get("error", ""), "yellow"),
                f"{share:.0%}",
            )
        return Group(table, Text(self.status, style="dim"))
