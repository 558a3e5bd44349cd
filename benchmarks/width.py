"""Width: several candidates per iteration, measured against the projection.

    .venv/bin/python -m benchmarks.width [--trials N] [--p P]

Part 1, overlap: one paced scripted server (0.5 s to the first token, 200 tokens/s, a
working reach controller, distinct per request), 1 candidate against 3, through `armloop
bench`: the iteration cycle of 3 candidates against 1 candidate's (target: at most 1.5x), and
the harness overhead per candidate (prompt + extract + load + score + feedback; target: 20 ms
median).

Part 2, does the (K, N) projection hold? A paced server whose replies succeed with a known
probability P (a seeded random draw per request; failing replies are distinct too-slow
controllers, so none is a repeat), `armloop bench --candidates 1,4`: for each width the
measured mean time to success against the projection from the measured per-candidate
success rate and cycle (loop/report/width.py), as an error ratio (bound: 15%).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
from pathlib import Path
from statistics import median

from benchmarks.projection import REPLY, _profiles
from loop import TASKS_DIR
from loop.commands.bench import bench_command
from loop.report.runs import load_trials
from loop.testing.scripted_server import ScriptedServer

REFERENCE = (TASKS_DIR / "reference" / "reach.py").read_text()
HARNESS = ("prompt", "extract", "load", "score", "feedback")


def at_speed(speed: float) -> str:
    """The reference controller at another speed: too slow below ~0.1, working at ~0.6, and
    a different answer for every value (so none is a repeat of another)."""
    return REPLY.format(code=REFERENCE.replace("self.speed = 0.6", f"self.speed = {speed:.7f}"))


def distinct(request: dict) -> str:
    """A working answer that differs per request (its sampling seed)."""
    return at_speed(0.6 + 1e-7 * int(request.get("seed") or 0))


class Lottery:
    """Replies that work with probability p, drawn from one seeded generator."""

    def __init__(self, p: float, seed: int = 7) -> None:
        self.p, self.rng, self.n = p, random.Random(seed), 0
        self.lock = threading.Lock()

    def __call__(self, request: dict) -> str:
        with self.lock:
            self.n += 1
            wins = self.rng.random() < self.p
            n = self.n
        return at_speed(0.6 + 1e-7 * n) if wins else at_speed(0.001 + 1e-7 * n)


def overlap(work: Path, trials: int) -> None:
    with ScriptedServer(distinct, tokens_per_s=200, first_token_delay=0.5) as s:
        config = _profiles(work / "armloop.toml", {"paced": s})
        data = bench_command(
            "paced", "reach", trials=trials, max_iters=1, seeds=1, config=config,
            out=work / "overlap", parallel=1, candidates="1,3",
        )  # fmt: skip
    one, three = data["backends"]["paced"], data["backends"]["paced-x3"]
    ratio = three["cycle_s_median"] / one["cycle_s_median"]
    print(
        f"\noverlap: 1 candidate {one['cycle_s_median']:.2f} s, 3 candidates "
        f"{three['cycle_s_median']:.2f} s per iteration -> {ratio:.2f}x (target <= 1.5x)"
    )
    trials_ = load_trials([work / "overlap"])
    per = [
        sum(c["stages"][s] for s in HARNESS)
        for t in trials_
        if t.backend == "paced-x3"
        for it in t.iterations
        for c in it["candidates"]
    ]
    print(
        f"harness overhead per candidate (3 at once, {len(per)} candidates): median "
        f"{median(per) * 1000:.1f} ms (target <= 20 ms; load includes waiting for a simulator)"
    )


def projection(work: Path, trials: int, p: float, max_iters: int = 4) -> None:
    with ScriptedServer(Lottery(p), tokens_per_s=400, first_token_delay=0.3) as s:
        config = _profiles(work / "armloop.toml", {"lottery": s})
        data = bench_command(
            "lottery", "reach", trials=trials, max_iters=max_iters, seeds=1, config=config,
            out=work / "lottery", parallel=1, candidates="1,4", speedup=15.0,
        )  # fmt: skip
    answer = data["width"]["lottery"]
    print(f"\nprojection, replies succeed with p = {p:g}, {trials} trials per width:")
    print(f"{'N':>3} {'p meas.':>8} {'q':>6} {'cycle':>7} {'TTS meas.':>10} {'TTS proj.':>10} err")
    for n, arm in answer["arms"].items():
        measured = arm["time_to_success_s_mean"]
        projected = arm["projected"]["1"]["time_to_success_s"]
        err = projected / measured - 1 if measured and projected else float("nan")
        print(
            f"{n:>3} {arm['candidate_success_rate']:>8.2f} {arm['iteration_success_rate']:>6.2f} "
            f"{arm['cycle_s_mean']:>6.2f}s {measured:>9.2f}s {projected:>9.2f}s {err:+.1%} "
            "(bound 15%)"
        )
    print(f"answer: {answer['says']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.width")
    parser.add_argument("--trials", type=int, default=30, help="trials per width (part 2)")
    parser.add_argument("--p", type=float, default=0.5, help="chance a reply works (part 2)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="armloop-width-") as tmp:
        overlap(Path(tmp), trials=3)
        projection(Path(tmp), args.trials, args.p)


if __name__ == "__main__":
    main()
