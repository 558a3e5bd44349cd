"""Feedback text for the model: a summary, one line per failing seed, controller tracebacks."""

from __future__ import annotations

from loop.sim.scoring import Evaluation
from loop.taskspec import TaskSpec

MAX_TRACEBACK_LINES = 12


def feedback(task: TaskSpec, evaluation: Evaluation, code: str | None = None) -> str:
    ev = evaluation
    n = len(ev.seeds)
    ok = sum(s.success for s in ev.seeds)
    lines = [f"{task.name}: {ok}/{n} seeds succeeded, mean score {ev.score:.2f}."]
    tracebacks: dict[str, str] = {}
    for s in ev.seeds:
        if not s.success:
            lines.append(f"seed {s.seed}: {s.message}")
        if s.failure and s.failure.get("traceback"):
            tracebacks.setdefault(s.failure["traceback"], f"seed {s.seed}")
    for tb, where in list(tracebacks.items())[:2]:
        tb_lines = tb.strip().splitlines()[-MAX_TRACEBACK_LINES:]
        lines += [f"Traceback of {where}:", *tb_lines]
    if ev.success:
        lines.append("All seeds succeeded.")
    return "\n".join(lines)
