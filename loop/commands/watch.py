"""`armloop watch [DIR]`: the Watcher (loop/watch/watcher.py) until Ctrl-C or SIGTERM, one
console line per handled save and a live status line."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from loop.run.rundir import default_out
from loop.run.setup import BackendChoice
from loop.sandbox.text import printable
from loop.watch.events import Handled
from loop.watch.watcher import Watcher, WatchOptions, display_available


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _text(value: object) -> str:
    """Text that can come from a controller, as rich markup: no control characters (first, so
    that dropping one cannot make a tag), then escaped."""
    return escape(printable(str(value)))


def describe(h: Handled) -> str:
    """The one console line for a handled save."""
    head = f"[bold]{_text(h.file)}[/] #{h.number}"
    if h.outcome in ("bad file", "load error", "error"):
        return f"{head} [red]{h.outcome}[/]: {_text(str(h.error))}"
    verdict = {"success": "[green]success[/]", "cancelled": "[yellow]cancelled[/]"}.get(
        h.outcome, "[red]failed[/]"
    )
    score = f", score {h.score:.2f}" if h.score is not None else ""
    if h.kind == "spec":
        iters = f" after {h.iterations} iteration(s)" if h.iterations else ""
        line = f"{head} loop {h.run}: {verdict}{iters}{score}"
        if h.latency_s is not None:
            line += f"; save -> first step {_ms(h.latency_s)}"
    else:
        line = (
            f"{head} ran: {verdict}{score}; save -> first step {_ms(h.latency_s)} "
            f"(detect {_ms(h.detect_s)}, load {_ms(h.load_s)}, first step {_ms(h.first_step_s)})"
        )
    line += f" — {_text(h.note)}" if h.note else ""
    return line + (f"; clip {_text(h.clip)}" if h.clip else "")


def watch_command(
    directory: Path,
    *,
    choice: BackendChoice,
    out: Path | None,
    max_iters: int,
    seeds: int,
    candidates: int = 1,
    video: bool = False,
) -> None:
    """Watch until Ctrl-C, one console line per handled save and a live status line."""
    console = Console(highlight=False)
    gui = display_available()
    options = WatchOptions(
        seeds=tuple(range(seeds)), max_iters=max_iters, gui=gui, candidates=candidates, video=video
    )
    out = out or default_out("watch")
    # started in the background with SIGINT ignored (as shells do), Ctrl-C cannot reach it
    stops = "SIGTERM stops" if signal.getsignal(signal.SIGINT) is signal.SIG_IGN else "Ctrl-C stops"
    idle = f"watching {directory} ({'PyBullet window' if gui else 'headless'}); {stops}"
    with console.status(idle) as status:
        watcher = Watcher(
            directory,
            out,
            choice,
            options,
            on_handled=lambda h: (console.print(describe(h)), status.update(idle)),
            on_status=lambda text: status.update(f"{text}  [dim]({idle})[/]"),
        )
        _run_until_interrupted(watcher)
    console.print(f"stopped; events in {out / 'events.jsonl'}")


def _run_until_interrupted(watcher: Watcher) -> None:
    """Ctrl-C (or SIGTERM) stops everything cleanly."""
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        watcher.start()
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
        signal.signal(signal.SIGTERM, previous)
