"""Harness overhead per iteration: prompt + extract + load + score + feedback.

    .venv/bin/python -m benchmarks.harness [ITERATIONS]

Runs the real loop against a scripted OpenAI-compatible server on loopback, with the real
simulator. The server waits MODEL_S before its first token (not counted: that is `ttft`) and
then streams at once, as a fast model would; the wait gives the sim workers the time any real
generation gives them to warm the next controller process. What the harness stages add up to
is the harness's own time. Each reply is
a different (slow, so failing) reach controller, so every iteration loads and simulates.
Target (DESIGN.md): at most 20 ms median per iteration. Also prints the generation share of
`make demo`'s run when runs/demo/summary.json exists.
"""

from __future__ import annotations

import itertools
import json
import statistics
import sys
import tempfile
from pathlib import Path

from loop import ROOT, TASKS_DIR
from loop.run.loop import LoopOptions
from loop.run.setup import BackendChoice, RunPlan, prepare
from loop.task.catalog import load_task
from loop.testing.scripted_server import ScriptedServer

HARNESS = ("prompt", "extract", "load", "score", "feedback")
TARGET_MS = 20.0
MODEL_S = 0.5  # time to first token of the scripted model (outside the harness stages)


CALLS = itertools.count()


def reply(request: dict) -> str:
    """A different, too-slow reach controller per request, so none repeats or succeeds."""
    speed = 0.01 + 1e-4 * next(CALLS)
    code = (TASKS_DIR / "reference" / "reach.py").read_text()
    code = code.replace("self.speed = 0.6", f"self.speed = {speed:.6f}")
    return f"```python\n{code}```\n"


def measure(iterations: int) -> list[dict]:
    task = load_task("reach")
    with (
        tempfile.TemporaryDirectory() as tmp,
        ScriptedServer(reply, tokens_per_s=1e6, first_token_delay=MODEL_S) as srv,
    ):
        choice = BackendChoice("openai", "scripted", srv.url)
        options = LoopOptions(max_iters=iterations, seeds=(0, 1))
        with prepare(RunPlan(task, choice, options, Path(tmp) / "run")) as run:
            summary = run.loop().run()
    return summary["iterations"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    iterations = int(argv[0]) if argv else 30
    its = measure(iterations)[1:]  # the first iteration warms caches
    harness = [sum(it["stages"][s] for s in HARNESS) * 1000 for it in its]
    cycle = [it["cycle_s"] * 1000 for it in its]
    print(
        f"harness overhead over {len(its)} iterations (reach, 2 seeds, scripted model: "
        f"{MODEL_S} s to first token, then instant)"
    )
    print(f"{'stage':<10} {'median ms':>10} {'p90 ms':>8}")
    for stage in HARNESS:
        values = [it["stages"][stage] * 1000 for it in its]
        med, p90 = statistics.median(values), percentile(values, 0.9)
        print(f"{stage:<10} {med:>10.2f} {p90:>8.2f}")
    med, p90 = statistics.median(harness), percentile(harness, 0.9)
    print(
        f"{'harness':<10} {med:>10.2f} {p90:>8.2f}   target <= {TARGET_MS:.0f} ms median: "
        f"{'met' if med <= TARGET_MS else 'MISSED'} ({med / TARGET_MS:.2f} of the budget)"
    )
    model_ms = [(it["stages"]["ttft"] + it["stages"]["generate"]) * 1000 for it in its]
    rest = [c - m for c, m in zip(cycle, model_ms, strict=True)]  # harness + simulate
    print(
        f"harness share of the non-model part of a cycle (harness + simulate): "
        f"{statistics.median(h / r for h, r in zip(harness, rest, strict=True)):.1%}"
    )
    # an 800-token reply at 1,000 tok/s, plus this run's harness and simulation
    at_1000 = statistics.median(rest) / 1000 + 800 / 1000
    print(f"harness share at 1,000 tok/s (800-token reply): {med / 1000 / at_1000:.1%}")
    demo = ROOT / "runs" / "demo" / "summary.json"
    if demo.exists():
        data = json.loads(demo.read_text())
        print(
            f"make demo run ({data['backend']}, {len(data['iterations'])} iterations): "
            f"generation share {data['generation_share']:.1%}"
        )


if __name__ == "__main__":
    main()
