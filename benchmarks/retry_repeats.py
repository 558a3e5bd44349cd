"""Does the model change its code when told why it failed? Retries sampled at several temperatures.

    .venv/bin/python -m benchmarks.retry_repeats --runs DIR [--tasks reach] [--temperatures 0.2,0.5]
        [--samples 2]

DIR is a runs directory of `benchmarks.model_suite` (one sub-directory per trial). For every trial
whose first attempt failed, the failing controller is run again on the trial's seeds to get
today's feedback, and the retry prompt the loop would send (system, task, the attempt as the
assistant's turn, the feedback) is sampled --samples times per temperature. Each reply is
counted as a repeat (same code as the failed attempt, comments and formatting ignored), a
success on the trial's seeds, or a failure. Prints a table; writes
benchmarks/results/retry_repeats.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from loop import ROOT

RESULTS = ROOT / "benchmarks" / "results"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="benchmarks.retry_repeats", description=__doc__.splitlines()[0]
    )
    p.add_argument(
        "--runs", type=Path, required=True, help="a benchmarks.model_suite runs directory"
    )
    p.add_argument("--temperatures", default="0.2,0.5")
    p.add_argument("--samples", type=int, default=2, help="replies per case and temperature")
    p.add_argument("--tasks", default=None, help="only these tasks (comma-separated)")
    p.add_argument("--backend", default=None, help="backend or profile (default: local)")
    return p.parse_args(argv)


def failed_first_attempts(runs: Path) -> list[tuple[str, Path, list[int]]]:
    """(task, iter_001 directory, seeds) of every trial whose first attempt ran and failed."""
    cases = []
    for summary_path in sorted(runs.glob("*/summary.json")):
        summary = json.loads(summary_path.read_text())
        its = summary.get("iterations") or []
        first = summary_path.parent / "iter_001"
        if its and not its[0]["success"] and (first / "controller.py").exists():
            cases.append((summary["task"], first, list(summary["seeds"])))
    return cases


def classify(reply: str, failed_code: str, task: Any, evaluator: Any, seeds: list[int]) -> str:
    from loop.run.extract import extract_code
    from loop.run.records import normalise_code
    from loop.sim.scoring import score

    extraction = extract_code(reply)
    if not extraction.ok:
        return "no code"
    if normalise_code(extraction.code) == normalise_code(failed_code):
        return "repeat"
    evaluator.load(extraction.code)
    return "success" if score(task, evaluator.simulate(seeds)).success else "failure"


def run_case(backend: Any, task_name: str, first: Path, seeds: list[int], args) -> list[dict]:
    from loop.backends import ChatRequest
    from loop.feedback.compose import feedback
    from loop.run.prompting import Attempt, build_messages
    from loop.sim.evaluator import Evaluator
    from loop.sim.scoring import score
    from loop.task.catalog import load_task

    task = load_task(task_name)
    code = (first / "controller.py").read_text()
    rows = []
    with Evaluator(task, workers=2) as evaluator:
        evaluator.load(code)
        text = feedback(task, score(task, evaluator.simulate(seeds)), code=code)
        messages = build_messages(task, seeds, [Attempt(1, "", code, text)])
        for temperature in args.temps:
            for k in range(args.samples):
                request = ChatRequest(messages, temperature=temperature, seed=500 + k)
                with backend.stream(request) as stream:
                    reply = "".join(stream)
                outcome = classify(reply, code, task, evaluator, seeds)
                rows.append({"case": str(first), "temperature": temperature, "outcome": outcome})
                print(f"  {first.parent.name} t={temperature} #{k}: {outcome}", flush=True)
    return rows


def tally(rows: list[dict]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        counts = out.setdefault(str(r["temperature"]), {"replies": 0})
        counts["replies"] += 1
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    return out


def main(argv: list[str] | None = None) -> int:
    from loop.run.setup import BackendChoice, open_model_backend

    args = parse(argv)
    args.temps = [float(t) for t in args.temperatures.split(",") if t.strip()]
    cases = failed_first_attempts(args.runs)
    if args.tasks:
        wanted = {t.strip() for t in args.tasks.split(",")}
        cases = [c for c in cases if c[0] in wanted]
    if not cases:
        raise SystemExit(f"no failed first attempts under {args.runs}: give a model_suite runs dir")
    backend = open_model_backend(BackendChoice(args.backend))
    rows: list[dict] = []
    try:
        for task_name, first, seeds in cases:
            rows += run_case(backend, task_name, first, seeds, args)
        model = backend.describe().get("model")
    finally:
        backend.close()
    counts = tally(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"runs": str(args.runs), "model": model, "counts": counts, "replies": rows}
    (RESULTS / "retry_repeats.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"{len(cases)} failed first attempts, {args.samples} retries each per temperature")
    for temperature, c in counts.items():
        parts = ", ".join(f"{k} {v}" for k, v in c.items() if k != "replies")
        print(f"  temperature {temperature}: {c['replies']} replies: {parts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
