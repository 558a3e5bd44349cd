"""The embedded model's two servers side by side, and its speed beside busy sim workers.

    .venv/bin/python -m benchmarks.embedded [--quick] [--part servers|threads]

On the real first prompt of `armloop run reach` (system + task message, ~1,500 tokens):

servers   llama.cpp's llama-server (4 slots, unified KV) against llama-cpp-python's server:
          time to first token cold (prompt never seen) and warm (after warm() prefilled the
          prefix, as `armloop run` does in setup); an iteration-2 prompt (prefix + reply +
          feedback); decoding tokens/s for 1 stream and the aggregate of 4 concurrent
          streams; for llama.cpp the 4 streams' time to first token with the prefix copied
          into every slot and with it in slot 0 only.
threads   decoding tokens/s of llama-server alone and beside 1 and 2 busy sim workers (armloop
          evaluating a reference controller over and over), for the thread count armloop
          used before (every core) and the one it uses now (half the cores).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace

from rich.console import Console
from rich.table import Table

from loop.backends import BackendConfig, ChatRequest, make_backend
from loop.backends.local import LocalBackend
from loop.backends.local_server import cores, decode_threads
from loop.backends.sampling import EMBEDDED_SAMPLING
from loop.run.prompting import build_messages
from loop.task.catalog import load_task

FEEDBACK = (
    "Your controller failed on seed 1: final distance 4.2 cm (needs < 1 cm), the arm "
    "overshot by 6 cm at t = 0.8 s. Slow the approach near the target."
)
REPLY = "```python\nimport numpy as np\n\nclass Controller:\n    pass\n```"
BUSY = """
import sys
from pathlib import Path
from loop.sim.evaluator import Evaluator
from loop.task.catalog import load_task
task = load_task("reach")
code = Path("tasks/reference/reach.py").read_text()
with Evaluator(task, workers=1) as ev:
    ev.load(code, "controller.py")
    while True:
        ev.simulate([0, 1, 2])
"""


@dataclass
class Shot:
    ttft: float
    tokens: int
    rate: float | None
    cached: int | None
    t_first: float
    t_last: float


def first_prompt() -> list[dict]:
    return build_messages(load_task("reach"), (0, 1, 2), [])


def second_prompt() -> list[dict]:
    return first_prompt() + [
        {"role": "assistant", "content": REPLY},
        {"role": "user", "content": FEEDBACK},
    ]


def shoot(backend, messages: list[dict], max_tokens: int, seed: int = 1) -> Shot:
    request = ChatRequest(messages, temperature=0.7, max_tokens=max_tokens, seed=seed)
    with backend.stream(request) as s:
        s.text()
    return Shot(s.ttft_s or 0.0, s.tokens_out, s.tokens_per_s, s.tokens_cached,
                s.t_first_token or 0.0, s.t_last_token or 0.0)  # fmt: skip


def concurrent(backend, messages: list[dict], n: int, max_tokens: int) -> list[Shot | str]:
    """n streams at once (seeds 1..n); a stream that fails is its error text."""
    out: list[Shot | str] = [""] * n

    def one(i: int) -> None:
        try:
            out[i] = shoot(backend, messages, max_tokens, seed=i + 1)
        except Exception as exc:  # noqa: BLE001 - a failure is a figure here
            out[i] = f"{type(exc).__name__}: {exc}"[:160]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join()
    return out


def aggregate(shots: list[Shot | str]) -> tuple[float, int]:
    """Tokens/s of all streams together over their common decoding span; failures."""
    ok = [s for s in shots if isinstance(s, Shot)]
    if not ok:
        return 0.0, len(shots)
    span = max(s.t_last for s in ok) - min(s.t_first for s in ok)
    return sum(s.tokens for s in ok) / span if span > 0 else 0.0, len(shots) - len(ok)


def local(server: str, **changes) -> LocalBackend:
    config = BackendConfig(name="local", kind="local", server=server, **changes)
    backend = make_backend(config)
    assert isinstance(backend, LocalBackend)
    return backend


def server_row(server: str, tokens: int, quick: bool) -> dict:
    prefix = first_prompt()
    row: dict = {"server": server}
    backend = local(server)
    try:
        t0 = time.perf_counter()
        backend.start(streams=4)
        row["startup"] = time.perf_counter() - t0
        row["cold"] = shoot(backend, prefix, 8)
        row["again"] = shoot(backend, prefix, tokens)
        row["second"] = shoot(backend, second_prompt(), 8)
    finally:
        backend.close()
    backend = local(server)
    try:
        taken = backend.warm(prefix, streams=4)
        row["prefill_s"] = taken.get("prefill_s", 0.0)
        row["warm"] = shoot(backend, prefix, 8)
        row["four"] = concurrent(backend, prefix, 4, tokens)
    finally:
        backend.close()
    if server == "llama.cpp" and not quick:
        row["one_slot"] = one_slot_prefix(prefix, tokens)
    return row


def one_slot_prefix(prefix: list[dict], tokens: int) -> list[Shot | str]:
    """4 streams when only slot 0 holds the prefix (the prefill not copied)."""
    backend = local("llama.cpp")
    try:
        backend.start(streams=4)
        backend._copy_slot = lambda root, slots: None  # what "not copied" means
        backend._prefill(prefix)
        return concurrent(backend, prefix, 4, tokens)
    finally:
        backend.close()


def print_servers(console: Console, rows: list[dict], tokens: int) -> None:
    table = Table(title=f"embedded servers on {cores()} cores, reach's first prompt, {tokens} "
                  f"tokens out (load {os.getloadavg()[0]:.1f})")  # fmt: skip
    for col in ("server", "start s", "TTFT cold s", "prefill s", "TTFT warm s",
                "warm/cold", "TTFT iter-2 s", "1 stream tok/s", "4 streams tok/s",
                "4 vs 1", "4-stream TTFT s"):  # fmt: skip
        table.add_column(col, justify="right")
    for r in rows:
        agg, failed = aggregate(r["four"])
        one = r["again"].rate or 0.0
        ttfts = [s.ttft for s in r["four"] if isinstance(s, Shot)]
        table.add_row(
            r["server"], f"{r['startup']:.1f}", f"{r['cold'].ttft:.1f}",
            f"{r['prefill_s']:.1f}", f"{r['warm'].ttft:.2f}",
            f"{r['warm'].ttft / r['cold'].ttft:.3f}", f"{r['second'].ttft:.1f}", f"{one:.1f}",
            f"{agg:.1f}" + (f" ({failed} failed)" if failed else ""),
            f"{agg / one:.2f}x" if one else "-",
            " ".join(f"{t:.1f}" for t in ttfts) or "-",
        )  # fmt: skip
    console.print(table)
    for r in rows:
        for s in r["four"]:
            if isinstance(s, str):
                console.print(f"[red]{r['server']} 4 streams: {s}[/]")
        if "one_slot" in r:
            ttfts = [f"{s.ttft:.1f}" for s in r["one_slot"] if isinstance(s, Shot)]
            agg, _ = aggregate(r["one_slot"])
            console.print(
                f"llama.cpp, prefix in slot 0 only: 4-stream TTFT {' '.join(ttfts)} s, "
                f"aggregate {agg:.1f} tok/s (copied into every slot: see the table)"
            )


@contextlib.contextmanager
def busy_workers(n: int):
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", BUSY],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        for _ in range(n)
    ]
    try:
        time.sleep(4.0 if n else 0.0)  # workers started and simulating
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def threads_rows(tokens: int, quick: bool) -> list[tuple[int, int, float, float]]:
    """(threads, busy workers, tok/s, TTFT of the cached prompt) per setting."""
    prompt = first_prompt()
    settings = sorted({cores(), decode_threads()}, reverse=True)
    rows = []
    for threads in settings:
        backend = local("llama.cpp", threads=threads)
        short = replace(backend.config.timeouts, stall=30.0)
        backend.config = replace(backend.config, timeouts=short)
        try:
            backend.warm(prompt, streams=1)
            for busy in (0, 1) if quick else (0, 1, 2):
                with busy_workers(busy):
                    try:
                        shot = shoot(backend, prompt, tokens)
                        rows.append((threads, busy, shot.rate or 0.0, shot.ttft))
                    except Exception:  # noqa: BLE001 - a collapse that stalls is a figure
                        rows.append((threads, busy, 0.0, float("nan")))
        finally:
            backend.close()
    return rows


def print_threads(console: Console, rows: list[tuple[int, int, float, float]]) -> None:
    table = Table(title=f"llama-server decoding beside busy sim workers ({cores()} cores)")
    for col in ("decode threads", "busy sim workers", "tok/s", "vs alone", "TTFT s"):
        table.add_column(col, justify="right")
    alone = {t: rate for t, busy, rate, _ in rows if busy == 0}
    for threads, busy, rate, ttft in rows:
        base = alone.get(threads) or 0.0
        share = f"{rate / base:.2f}x" if base else "-"
        note = " (before)" if threads == cores() else " (now)"
        table.add_row(f"{threads}{note}", str(busy), f"{rate:.1f}", share, f"{ttft:.2f}")
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tokens and cases")
    parser.add_argument("--part", choices=("servers", "threads"), action="append")
    parser.add_argument("--tokens", type=int, default=None, help="tokens out per stream")
    args = parser.parse_args(argv)
    parts = args.part or ["servers", "threads"]
    tokens = args.tokens or (48 if args.quick else 96)
    console = Console(width=max(Console().width, 150))
    console.print(f"[dim]sampling sent explicitly: {EMBEDDED_SAMPLING.sent()}[/]")
    if "servers" in parts:
        rows = [server_row(s, tokens, args.quick) for s in ("llama.cpp", "llama-cpp-python")]
        print_servers(console, rows, tokens)
    if "threads" in parts:
        print_threads(console, threads_rows(min(tokens, 48), args.quick))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
