"""`make bench-model`: the embedded model on the suite; success within N iterations and timing.

    .venv/bin/python -m benchmarks.model_suite [--tasks reach,push,circle] [--trials 10]
        [--max-iters 5] [--label after] [--backend local] [--runs DIR]

Each trial is one `armloop run` loop on its own simulator seeds (trial k scores seeds
3k, 3k+1, 3k+2) and its own sampling seeds (request i of trial k: 1000 (k + 1) + i, at the
backend's default temperature): without them a server with a fixed default seed answers
every trial's first prompt identically.
Per task: success rate within --max-iters iterations, median iterations and loop time to
success (successful trials), generation share ((ttft + generate) / cycle over all
iterations). Writes benchmarks/results/model_suite_LABEL.json and prints a table of the saved
results named by --labels (the README's runs by default) next to this one. Slow: a
generation of the 1.5B model takes 10-60 s on two cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from loop import ROOT

RESULTS = ROOT / "benchmarks" / "results"
SEEDS_PER_TRIAL = 3


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmarks.model_suite", description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default="reach,push,circle")
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--max-iters", type=int, default=5)
    p.add_argument("--label", default="after", help="results file: model_suite_LABEL.json")
    p.add_argument("--backend", default=None, help="backend or profile (default: local)")
    p.add_argument("--model", default=None)
    p.add_argument("--base-url", default=None)
    p.add_argument(
        "--temperature", type=float, default=None, help="sampling temperature (default: the loop's)"
    )
    p.add_argument("--candidates", type=int, default=1, help="answers sampled per iteration")
    p.add_argument(
        "--budget-s",
        type=float,
        default=None,
        help="loop time per trial after which no new iteration starts (the same wall-clock "
        "budget for every width)",
    )
    p.add_argument("--runs", type=Path, default=None, help="where run directories go")
    p.add_argument("--table-only", action="store_true", help="print the saved results only")
    p.add_argument(
        "--labels",
        default="before,after_v1,exp_t02,step2_reach,final,final_pc",
        help="saved results shown side by side in the table (comma-separated, in order)",
    )
    p.add_argument(
        "--markdown", action="store_true", help="print the before/after table as markdown"
    )
    p.add_argument(
        "--from-runs",
        type=Path,
        default=None,
        help="no new runs: aggregate the finished trials already in this runs directory",
    )
    p.add_argument("--commit", default=None, help="with --from-runs: the commit that ran them")
    p.add_argument(
        "--merge",
        default=None,
        help="no new runs: join the saved results of these labels (comma-separated, one task "
        "each at most) into --label",
    )
    return p.parse_args(argv)


def trial_seeds(trial: int) -> tuple[int, ...]:
    return tuple(range(SEEDS_PER_TRIAL * trial, SEEDS_PER_TRIAL * (trial + 1)))


class SeededBackend:
    """The backend with a sampling seed of this trial's on every request: a request without
    one (one candidate) gets the next of the trial's seeds; one with the loop's own seed (after
    a repeat, or candidate c of iteration i: 1000 i + c) gets it shifted into the trial's
    range, so trials never share sampling seeds."""

    def __init__(self, backend: Any, base_seed: int) -> None:
        self.backend = backend
        self.base_seed = self.next_seed = base_seed
        self.lock = threading.Lock()

    def stream(self, request: Any) -> Any:
        with self.lock:
            if request.seed is None:
                request = replace(request, seed=self.next_seed)
                self.next_seed += 1
            else:
                request = replace(request, seed=1000 * self.base_seed + request.seed)
        return self.backend.stream(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)


def run_task(task_name: str, backend: Any, args: argparse.Namespace, runs: Path) -> list[dict]:
    from loop.run.loop import LoopOptions
    from loop.run.setup import BackendChoice, RunPlan, prepare
    from loop.task.catalog import load_task

    task = load_task(task_name)
    trials = []
    for k in range(args.trials):
        options = LoopOptions(
            max_iters=args.max_iters,
            seeds=trial_seeds(k),
            temperature=args.temperature,
            candidates=args.candidates,
            budget_s=args.budget_s,
        )
        out = runs / f"{task_name}-{k:02d}"
        plan = RunPlan(task, BackendChoice(args.backend), options, out)
        with prepare(plan, backend=SeededBackend(backend, 1000 * (k + 1))) as run:
            summary = run.loop().run()
        trials.append(trial_record(k, summary, out))
        print(f"  {task_name} trial {k}: {describe_trial(trials[-1])}", flush=True)
    return trials


def trial_record(k: int, summary: dict, path: Path) -> dict:
    its = summary["iterations"]
    return {
        "trial": k,
        "seeds": summary["seeds"],
        "success": summary["success"],
        "iterations": len(its),
        "iterations_to_success": summary.get("iterations_to_success"),
        "time_to_success_s": summary["time_to_success_s"],
        "generation_s": sum(i["stages"]["ttft"] + i["stages"]["generate"] for i in its),
        "cycle_s": sum(i["cycle_s"] for i in its),
        "repeats": sum(1 for i in its if i.get("repeat_of")),
        "scores": [round(i["score"], 3) for i in its],
        "stopped_reason": summary["stopped_reason"],
        "run_dir": str(path),
    }


def describe_trial(t: dict) -> str:
    outcome = f"success at {t['iterations_to_success']}" if t["success"] else "no success"
    return f"{outcome}; scores {t['scores']}; {t['cycle_s']:.0f} s"


def aggregate(trials: list[dict]) -> dict:
    wins = [t for t in trials if t["success"]]
    cycle = sum(t["cycle_s"] for t in trials)
    return {
        "trials": len(trials),
        "successes": len(wins),
        "success_rate": len(wins) / len(trials) if trials else 0.0,
        "median_iterations_to_success": _median([t["iterations_to_success"] for t in wins]),
        "median_time_to_success_s": _median([t["time_to_success_s"] for t in wins]),
        "generation_share": sum(t["generation_s"] for t in trials) / cycle if cycle else 0.0,
        "median_final_score": _median([t["scores"][-1] for t in trials if t["scores"]]),
        "repeats": sum(t["repeats"] for t in trials),
    }


def _median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def run(args: argparse.Namespace) -> dict:
    from loop.run.setup import BackendChoice, open_model_backend

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    runs = args.runs or Path("/tmp/armloop-model-suite") / f"{args.label}-{int(time.time())}"
    backend = open_model_backend(BackendChoice(args.backend, args.model, args.base_url))
    t0, commit = time.time(), _git_commit()  # the code the trials run, not HEAD at the end
    try:
        per_task = {}
        for name in tasks:
            trials = run_task(name, backend, args, runs)
            per_task[name] = {**aggregate(trials), "trial_details": trials}
        describe = backend.describe()
    finally:
        backend.close()
    return {
        "label": args.label,
        "settings": {
            "tasks": tasks,
            "trials": args.trials,
            "max_iters": args.max_iters,
            "temperature": args.temperature,
            "candidates": args.candidates,
            "budget_s": args.budget_s,
            "seeds_per_trial": SEEDS_PER_TRIAL,
            "backend": describe.get("name") or describe.get("kind"),
            "model": describe.get("model"),
            "git_commit": commit,
        },
        "wall_s": time.time() - t0,
        "tasks": per_task,
    }


def from_runs(args: argparse.Namespace) -> dict:
    """Aggregate trials an earlier (perhaps interrupted) invocation left in --from-runs."""
    per_task: dict[str, list[dict]] = {}
    model = None
    for path in sorted(args.from_runs.glob("*/summary.json")):
        summary = json.loads(path.read_text())
        if not summary.get("stopped_reason"):
            continue  # the trial was still running
        model = summary.get("model")
        k = int(path.parent.name.rsplit("-", 1)[1])
        per_task.setdefault(summary["task"], []).append(trial_record(k, summary, path.parent))
    return {
        "label": args.label,
        "settings": {
            "tasks": list(per_task),
            "trials": max((len(t) for t in per_task.values()), default=0),
            "max_iters": args.max_iters,
            "seeds_per_trial": SEEDS_PER_TRIAL,
            "model": model,
            "git_commit": args.commit or "unknown",
            "aggregated_from": str(args.from_runs),
        },
        "tasks": {name: {**aggregate(ts), "trial_details": ts} for name, ts in per_task.items()},
    }


def merge(label: str, parts: list[str]) -> dict:
    """One result from several saved ones (say reach run in one invocation, push in another);
    each part's settings are kept, and a task found in two parts is refused."""
    loaded = [json.loads((RESULTS / f"model_suite_{p}.json").read_text()) for p in parts]
    tasks: dict[str, dict] = {}
    for part, res in zip(parts, loaded, strict=True):
        for name, agg in res["tasks"].items():
            if name in tasks:
                raise SystemExit(f"task {name!r} is in more than one of {parts}: merge one of each")
            tasks[name] = {**agg, "from": part, "commit": res["settings"]["git_commit"]}
    first = loaded[0]["settings"]
    return {
        "label": label,
        "settings": {
            "tasks": list(tasks),
            "trials": {name: agg["trials"] for name, agg in tasks.items()},
            "max_iters": first["max_iters"],
            "seeds_per_trial": first["seeds_per_trial"],
            "model": first["model"],
            "git_commit": ",".join(dict.fromkeys(r["settings"]["git_commit"] for r in loaded)),
            "merged_from": {p: r["settings"] for p, r in zip(parts, loaded, strict=True)},
        },
        "wall_s": sum(r.get("wall_s", 0.0) for r in loaded),
        "tasks": tasks,
    }


def _git_commit() -> str:
    import subprocess

    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return out.stdout.strip()


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}{unit}" if unit != "s" else f"{value:.0f} s"
    return f"{value}{unit}"


def _count(value: float | None) -> str:
    """A median of counts: '4', '2.5'."""
    return "-" if value is None else f"{value:g}"


# (name, cell, in the README's markdown table too)
ROWS = (
    ("success", lambda a: f"{a['successes']}/{a['trials']} ({a['success_rate']:.0%})", True),
    ("median iters to success", lambda a: _count(a["median_iterations_to_success"]), True),
    ("median time to success", lambda a: _fmt(a["median_time_to_success_s"], "s"), True),
    ("generation share", lambda a: f"{a['generation_share']:.0%}", True),
    (
        "median final score",
        lambda a: _fmt(a.get("median_final_score", a.get("mean_final_score"))),
        False,
    ),
    ("repeated answers", lambda a: str(a["repeats"]), True),
)


def _task_names(results: dict[str, dict]) -> list[str]:
    """Every task in any of the results, in first-seen order."""
    return list(dict.fromkeys(t for r in results.values() for t in r["tasks"]))


def _trials(trials: int | dict[str, int]) -> str:
    if isinstance(trials, dict):
        return ",".join(f"{task}:{n}" for task, n in trials.items())
    return str(trials)


def table(results: dict[str, dict]) -> str:
    """One block per task; one column per label (before, after)."""
    labels = list(results)
    lines = []
    for label, res in results.items():
        s = res["settings"]
        lines.append(
            f"{label}: tasks={','.join(s['tasks'])} trials={_trials(s['trials'])} "
            f"max_iters={s['max_iters']} model={s['model']} commit={s['git_commit']}"
        )
    tasks = _task_names(results)
    for task in tasks:
        lines.append("")
        lines.append(f"{task:<26}" + "".join(f"{lab:>18}" for lab in labels))
        for name, fn, _ in ROWS:
            cells = [fn(r["tasks"][task]) if task in r["tasks"] else "-" for r in results.values()]
            lines.append(f"  {name:<24}" + "".join(f"{c:>18}" for c in cells))
    return "\n".join(lines)


def markdown(results: dict[str, dict]) -> str:
    """One row per task and label (before, after, ...), the labels in the order given."""
    columns = [(name, fn) for name, fn, shown in ROWS if shown]
    heads = ["task", "run", "commit"] + [name for name, _ in columns]
    lines = ["| " + " | ".join(heads) + " |", "|---" * len(heads) + "|"]
    for task in _task_names(results):
        for label, res in results.items():
            if task not in res["tasks"]:
                continue
            agg = res["tasks"][task]
            commit = agg.get("commit") or res["settings"]["git_commit"]
            cells = [f"`{task}`", label, commit] + [fn(agg) for _, fn in columns]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def saved(labels: tuple[str, ...] = ("before", "after")) -> dict[str, dict]:
    out = {}
    for label in labels:
        path = RESULTS / f"model_suite_{label}.json"
        if path.exists():
            out[label] = json.loads(path.read_text())
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if not args.table_only:
        if args.merge:
            result = merge(args.label, [m.strip() for m in args.merge.split(",") if m.strip()])
        else:
            result = from_runs(args) if args.from_runs else run(args)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"model_suite_{args.label}.json").write_text(json.dumps(result, indent=2))
    results = saved(tuple(x.strip() for x in args.labels.split(",") if x.strip()))
    if not args.table_only and args.label not in results:
        results[args.label] = result
    print(markdown(results) if args.markdown else table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
