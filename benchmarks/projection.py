"""Does the projection hold? Measured vs projected cycle on two paced servers, then 15x.

    .venv/bin/python -m benchmarks.projection [--trials N] [--no-model] [--model-trials N]

Part 1: two scripted OpenAI-compatible servers on loopback that differ only in token rate
(40 vs 400 tokens/s, same 0.2 s first-token delay, the same working reach controller as the
reply), through `armloop bench` with the real simulator. The slow one's cycle projected to
their speed ratio (10x) is compared with the fast one's measured cycle: the error ratio is
projected / measured - 1.

Part 2 (if the embedded model is installed): a short bench of the embedded model on reach
(1 trial, 1 iteration, 1 seed) and its 15x projection. Takes about as long as one generation
of the 1.5B model on this machine (~20-60 s with 2 cores) plus server start-up.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from loop import TASKS_DIR
from loop.commands.bench import bench_command
from loop.testing.scripted_server import ScriptedServer, tokenize

REPLY = "Here is the controller.\n```python\n{code}```\nThat is all."


def _profiles(path: Path, servers: dict[str, ScriptedServer]) -> Path:
    text = "".join(
        f'[backends.{n}]\nbackend = "openai"\nbase_url = "{s.url}"\nmodel = "{n}"\n\n'
        for n, s in servers.items()
    )
    path.write_text(text)
    return path


def padded_reply(tokens: int | None) -> str:
    """The working reach controller; with `tokens`, prose in front of it brings the streamed
    part (up to the end of the code block) to that many of the test server's tokens."""
    reply = REPLY.format(code=(TASKS_DIR / "reference" / "reach.py").read_text())
    if tokens is None:
        return reply
    used = len(tokenize(reply.split("```\nThat is all.")[0] + "```"))
    return "This moves the arm to the target. " * max(0, (tokens - used) // 7) + reply


def paced_comparison(
    work: Path,
    trials: int,
    slow: float = 40.0,
    fast: float = 400.0,
    first_token: float = 0.2,
    reply_tokens: int | None = None,
) -> dict:
    reply = padded_reply(reply_tokens)
    ratio = fast / slow
    with (
        ScriptedServer(reply, tokens_per_s=slow, first_token_delay=first_token) as s_slow,
        ScriptedServer(reply, tokens_per_s=fast, first_token_delay=first_token) as s_fast,
    ):
        config = _profiles(work / "armloop.toml", {"slow": s_slow, "fast": s_fast})
        out = work / f"paced-{slow:g}-{fast:g}"
        data = bench_command(
            "slow,fast",
            "reach",
            trials=trials,
            max_iters=2,
            seeds=1,
            speedup=ratio,
            config=config,
            out=out,
            parallel=1,
        )
    return {"ratio": ratio, **data["backends"]}


def print_paced(result: dict) -> None:
    slow, fast, k = result["slow"], result["fast"], result["ratio"]
    print()
    print(
        f"paced servers: slow {slow['tokens_per_s_median']:.0f} tok/s, "
        f"fast {fast['tokens_per_s_median']:.0f} tok/s, projection {k:g}x"
    )
    print(f"{'':<28} {'slow':>9} {'fast':>9}")
    print(
        f"{'generation share':<28} {slow['generation_share']:>9.1%} "
        f"{fast['generation_share']:>9.1%}"
    )
    print(
        f"{'measured cycle (median, s)':<28} {slow['cycle_s_median']:>9.3f} "
        f"{fast['cycle_s_median']:>9.3f}"
    )
    projected, measured = slow["projection"]["cycle_s"], fast["cycle_s_median"]
    print(
        f"slow projected {k:g}x: {projected:.3f} s vs fast measured {measured:.3f} s -> "
        f"error ratio {projected / measured - 1:+.1%} (test bound: 15%)"
    )
    p_tts, m_tts = slow["projection"]["time_to_success_s"], fast["time_to_success_s_median"]
    print(
        f"time to success: projected {p_tts:.3f} s vs measured {m_tts:.3f} s -> "
        f"{p_tts / m_tts - 1:+.1%}"
    )


def model_projection(work: Path, trials: int, speedup: float = 15.0) -> None:
    t0 = time.perf_counter()
    data = bench_command(
        "local", "reach", trials=trials, max_iters=1, seeds=1, speedup=speedup, out=work / "model"
    )
    wall = time.perf_counter() - t0
    b = data["backends"]["local"]
    p = b["projection"]
    print()
    print(
        f"embedded model ({b['model']}), reach, {trials} trial(s) x 1 iteration, "
        f"bench took {wall:.0f} s"
    )
    print(
        f"  measured: cycle {b['cycle_s_median']:.1f} s, generation share "
        f"{b['generation_share']:.0%}, {b['tokens_per_s_median'] or 0:.1f} tok/s, "
        f"TTFT {b['ttft_s_median']:.2f} s"
    )
    print(
        f"  {speedup:g}x faster generation: cycle {p['cycle_s']:.1f} s "
        f"({b['cycle_s_median'] / p['cycle_s']:.1f}x shorter end to end), generation share "
        f"{p['generation_share']:.0%}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.projection")
    parser.add_argument("--trials", type=int, default=3, help="paced-server trials per backend")
    parser.add_argument("--no-model", action="store_true", help="skip the embedded model")
    parser.add_argument("--model-trials", type=int, default=1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="armloop-projection-") as tmp:
        work = Path(tmp)
        result = paced_comparison(work, args.trials)
        print_paced(result)
        # the announced speeds (65 and 1,000 tokens/s), 0.5 s to the first token for both, and
        # a reply as long as the embedded model's reach answers (~390 tokens)
        result = paced_comparison(
            work, args.trials, slow=65.0, fast=1000.0, first_token=0.5, reply_tokens=400
        )
        print(
            "\nthe announced speeds, 65 vs 1,000 tokens/s, 0.5 s to first token for both, "
            "400-token reply:"
        )
        print_paced(result)
        slow, fast = result["slow"], result["fast"]
        print(
            f"cycle {slow['cycle_s_median']:.2f} s -> {fast['cycle_s_median']:.2f} s: "
            f"{slow['cycle_s_median'] / fast['cycle_s_median']:.1f}x shorter for "
            f"{result['ratio']:.1f}x faster generation"
        )
        if args.no_model:
            return
        model_projection(work, args.model_trials)


if __name__ == "__main__":
    main()
