"""Watch-mode benchmark: save a hand-edited controller -> first simulated step.

    .venv/bin/python -m benchmarks.watch [--saves 20] [--quiet-ms 50,10] [--seeds 1] [--in-place]

A real watchdog observer on a temporary folder and the real (headless) simulator: the
reference reach controller is saved `--saves` times (each save a new edit, written to a
temporary file and renamed into place, as most editors do; `--in-place` rewrites the file
instead), after one warm-up save. For every save: detect (last filesystem event -> handling
starts; the debounce quiet period is part of it), load (hot-load into the warm simulator),
first step (simulate called -> first physics step, CLOCK_MONOTONIC in the sim worker) and
the total, save -> first step. Aim: median under 100 ms with the default 50 ms debounce.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from loop import TASKS_DIR
from loop.watch.events import Handled
from loop.watch.watcher import Watcher, WatchOptions

REFERENCE = (TASKS_DIR / "reference" / "reach.py").read_text()


def save(path: Path, text: str, in_place: bool) -> None:
    if in_place:
        path.write_text(text)
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def run_saves(quiet_s: float, saves: int, seeds: int, in_place: bool) -> list[Handled]:
    with tempfile.TemporaryDirectory(prefix="armloop-bench-watch-") as tmp:
        folder, out = Path(tmp) / "src", Path(tmp) / "out"
        folder.mkdir()
        options = WatchOptions(seeds=tuple(range(seeds)), quiet_s=quiet_s, gui=False)
        with Watcher(folder, out, options=options) as watcher:
            target = folder / "reach.py"
            for i in range(saves + 1):
                save(target, REFERENCE + f"\n# edit {i}\n", in_place)
                watcher.wait_handled(i + 1, timeout=120)
                time.sleep(0.15)  # a person's saves are far apart; let the workers settle
            return watcher.handled[1:]  # the first save started the simulator


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def row(name: str, values: list[float]) -> list[str]:
    ms = [v * 1000 for v in values]
    return [name, f"{statistics.median(ms):.1f}", f"{pct(ms, 0.9):.1f}", f"{max(ms):.1f}"]


def report(console: Console, quiet_s: float, handled: list[Handled], mode: str) -> float:
    ok = [h for h in handled if h.outcome == "success" and h.latency_s is not None]
    if len(ok) < len(handled):
        console.print(f"[red]{len(handled) - len(ok)} of {len(handled)} saves did not succeed[/]")
    total = [h.latency_s for h in ok]
    detect = [h.detect_s for h in ok]
    load = [h.load_s or 0.0 for h in ok]
    first = [h.first_step_s or 0.0 for h in ok]
    other = [t - d - ld - f for t, d, ld, f in zip(total, detect, load, first, strict=True)]
    title = f"save -> first step, {len(ok)} saves, {mode}, debounce {quiet_s * 1e3:g} ms"
    table = Table(title=title)
    for col in ("stage", "median ms", "p90 ms", "max ms"):
        table.add_column(col, justify="right" if col != "stage" else "left")
    table.add_row(*row("detect (incl. debounce)", detect))
    table.add_row(*row("load (hot-load)", load))
    table.add_row(*row("first step", first))
    table.add_row(*row("other (handling)", other))
    table.add_row(*row("[bold]save -> first step[/]", total))
    console.print(table)
    return statistics.median(total)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=20)
    parser.add_argument("--quiet-ms", default="50", help="debounce periods to try, e.g. 50,10")
    parser.add_argument("--seeds", type=int, default=1, help="episodes per save")
    parser.add_argument("--in-place", action="store_true", help="rewrite instead of rename")
    args = parser.parse_args(argv)
    console = Console(highlight=False)
    mode = "in-place writes" if args.in_place else "write + rename"
    for quiet_ms in (float(q) for q in args.quiet_ms.split(",")):
        handled = run_saves(quiet_ms / 1000, args.saves, args.seeds, args.in_place)
        median = report(console, quiet_ms / 1000, handled, mode)
        verdict = "[green]met[/]" if median < 0.1 else "[red]missed[/]"
        console.print(f"median {median * 1000:.1f} ms: aim < 100 ms {verdict}\n")


if __name__ == "__main__":
    main()
