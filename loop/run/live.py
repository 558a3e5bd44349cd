"""The live console table of `armloop run`: one row per iteration, filled in stage by stage.

On a terminal the table redraws in place. Anywhere else (a log file, CI, `| tee`) a redrawn
table would print only its header, so each finished iteration prints one plain line instead.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from loop.run.rundir import STAGES

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


def _label(key: tuple[int, int], short: bool = False) -> str:
    """'iteration 2' / 'iteration 2 candidate 3' ('2' / '2.3' in the table)."""
    iteration, candidate = key
    if short:
        return f"{iteration}.{candidate}" if candidate else str(iteration)
    return f"iteration {iteration}" + (f" candidate {candidate}" if candidate else "")


def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    return f"{seconds:.1f}s" if seconds < 100 else f"{seconds:.0f}s"


class LiveTable:
    """Feed it stage events (`on_stage`); `add_iteration` for iterations already done."""

    def __init__(self, title: str, console: Console | None = None) -> None:
        self.title = title
        self.console = console or Console()
        self.rows: dict[tuple[int, int], dict[str, Any]] = {}  # (iteration, candidate or 0)
        self._lock = threading.Lock()  # several candidates report from their own threads
        self.status = ""
        self.interactive = self.console.is_terminal
        self._live = (
            Live(self._render(), console=self.console, refresh_per_second=8, transient=False)
            if self.interactive
            else None
        )

    def __enter__(self) -> LiveTable:
        if self._live is not None:
            self._live.__enter__()
        else:
            self.console.print(self.title, highlight=False)
        return self

    def __exit__(self, *exc: object) -> None:
        self.status = ""
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(*exc)

    def add_iteration(
        self, index: int, stages: Mapping[str, float], result: Mapping[str, Any]
    ) -> None:
        """An iteration finished before this table started (a resumed run)."""
        row = self.rows.setdefault((index, 0), {"stages": {}})
        row["stages"].update(stages)
        for key in ("tokens_per_s", "score", "success"):
            if key in result:
                row[key] = result[key]
        self._refresh()

    def on_stage(self, iteration: int, stage: str, event: dict[str, Any]) -> None:
        key = (iteration, int(event.get("candidate", 0)))
        with self._lock:
            row = self.rows.setdefault(key, {"stages": {}})
            row["stages"][stage] = event["duration_s"]
            for name in ("tokens_per_s", "score", "success"):
                if name in event:
                    row[name] = event[name]
            if not event.get("ok", True) and event.get("error"):
                row["error"] = "repeated itself" if event.get("repetition") else "backend error"
            self.status = f"{_label(key)}: {stage} done"
            if stage == "feedback" or (row.get("error") and stage in ("ttft", "generate")):
                self._plain_line(key)
            self._refresh()

    def set_status(self, text: str) -> None:
        self.status = text
        self._refresh()

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._render())

    def _plain_line(self, key: tuple[int, int]) -> None:
        """Not a terminal: the iteration (or candidate) as one line, once."""
        row = self.rows[key]
        if self.interactive or row.get("printed"):
            return
        row["printed"] = True
        stages = row["stages"]
        parts = [f"{s} {_fmt_s(stages[s])}" for s in STAGES if s in stages]
        result = f"score {row['score']:.2f}" if "score" in row else row.get("error", "not run")
        rate = f", {row['tokens_per_s']:.1f} tok/s" if row.get("tokens_per_s") else ""
        self.console.print(
            f"{_label(key)}: cycle {_fmt_s(sum(stages.values()))}{rate}, {result}"
            f"{' (success)' if row.get('success') else ''}; " + ", ".join(parts),
            highlight=False,
        )

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
        for key, row in sorted(self.rows.items()):
            stages = row["stages"]
            cycles += sum(stages.values())
            generation += stages.get("ttft", 0.0) + stages.get("generate", 0.0)
            ok = row.get("success")
            style = "green" if ok else "red" if ok is False else "yellow"
            result = f"{row['score']:.2f}" if "score" in row else row.get("error", "")
            table.add_row(
                _label(key, short=True),
                *[_fmt_s(stages.get(s)) for s in STAGES],
                _fmt_s(sum(stages.values())),
                f"{row['tokens_per_s']:.1f}" if row.get("tokens_per_s") else "",
                Text(result, style),
                f"{generation / cycles:.0%}" if cycles else "",
            )
        if not self.status:
            return Group(table)
        return Group(table, Text(self.status, style="dim"))
