"""What watch mode records about a handled save: events.jsonl lines and a `Handled` result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loop.run.rundir import EventLog
from loop.watch.files import Save


@dataclass
class Handled:
    """The outcome of one handled save (one console line; `Watcher.handled` keeps them all)."""

    number: int
    file: str
    kind: str  # "controller" | "spec"
    outcome: str  # success | failed | load error | bad file | cancelled | error
    detect_s: float = 0.0
    load_s: float | None = None
    first_step_s: float | None = None  # simulate called -> first physics step
    latency_s: float | None = None  # file saved -> first physics step
    success: bool | None = None
    score: float | None = None
    run: str | None = None  # spec saves: the run directory, relative to OUT
    iterations: int | None = None
    error: str | None = None
    note: str = ""
    clip: str | None = None  # `--video`: the saved controller's clip

    @property
    def ok(self) -> bool:
        """The file was run (whatever the score); False for bad files and harness errors."""
        return self.outcome in ("success", "failed", "cancelled")


class SaveEvents:
    """OUT/events.jsonl lines for one save: DESIGN.md's schema plus file, kind and save."""

    def __init__(self, log: EventLog, save: Save, **fields: Any) -> None:
        self.log = log
        self.fields = {"file": save.path.name, "kind": save.kind, "save": save.number, **fields}

    def write(self, stage: str, seconds: float, ok: bool, iteration: int = 1, **extra: Any) -> dict:
        """One line; a StageSink (loop/run/stages.py). Fields that are None are left out."""
        extra = {k: v for k, v in extra.items() if v is not None}
        return self.log.write(iteration, stage, seconds, ok, **self.fields, **extra)


def first_line(error: Any) -> str:
    """A one-line message from an error dict (ControllerFailure), exception or string."""
    if isinstance(error, dict):
        text = str(error.get("message") or error.get("kind") or error)
    else:
        text = str(error)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0].strip() if lines else "unknown error"
