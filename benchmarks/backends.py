"""Backend benchmark: TTFT and tokens/s of the embedded model on this machine.

    .venv/bin/python -m benchmarks.backends [--max-tokens N] [--decoder-only]

First the SSE decoder's throughput, in memory: one 4 MiB line fed in 1 KiB chunks (a
decoder that re-scans its buffer on every feed is quadratic there: 80 s before the fix),
and a typical OpenAI token stream fed one event per read and in 1 KiB reads.

Cases, on one warm local server: a first request (prompt never seen), the same prompt
again (llama.cpp reuses the cached prefix), and that prompt plus a feedback turn (what an
iteration 2 looks like). Then the client's own ceiling: the scripted server paced at
1,000 tokens/s, measured through the same code, so the backend layer is shown not to be
the bottleneck of a 15x faster model.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from rich.console import Console
from rich.table import Table

from loop.backends import BackendConfig, ChatRequest, make_backend
from loop.backends.local_server import cores
from loop.backends.sse import SSEDecoder
from loop.run.setup import BackendChoice, open_model_backend
from loop.testing.scripted_server import ScriptedServer

SYSTEM = (
    "You write Python controllers for a simulated robot arm. A controller is a class "
    "`Controller` with __init__(self, robot), reset(self, obs) and step(self, obs) that "
    "returns an action dict with exactly one of q, dq, tau or ee_pos (3 floats, metres), "
    "optionally ee_quat and gripper. obs holds t, q, dq, ee_pos, ee_quat, gripper and the "
    "task's keys. Reply with one Python code block and nothing else."
)
TASK = (
    "Task reach: move the end effector to obs['target_pos'] within 2 s and hold it there "
    "within 1 cm. Use a Cartesian target with a smooth approach."
)
FEEDBACK = (
    "Your controller failed on seed 3: final distance 4.2 cm (needs < 1 cm), the arm "
    "overshot by 6 cm at t = 0.8 s. Slow the approach near the target."
)


def measure(backend, messages: list[dict], max_tokens: int) -> dict:
    request = ChatRequest(messages, temperature=0.0, max_tokens=max_tokens, seed=1)
    with backend.stream(request) as s:
        s.text()
    return {"in": s.tokens_in, "method": s.tokens_method, "ttft": s.ttft_s,
            "out": s.tokens_out, "rate": s.tokens_per_s, "gen": s.generate_s}  # fmt: skip


def local_cases(max_tokens: int) -> tuple[float, list[tuple[str, dict]]]:
    first = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": TASK}]
    backend = open_model_backend(BackendChoice("local"))
    try:
        t0 = time.perf_counter()
        backend.start()
        startup = time.perf_counter() - t0
        rows = [("first request", measure(backend, first, max_tokens))]
        rows.append(("same prompt again", measure(backend, first, max_tokens)))
        reply = "```python\nclass Controller:\n    pass\n```"
        second = first + [
            {"role": "assistant", "content": reply},
            {"role": "user", "content": FEEDBACK},
        ]
        rows.append(("prompt + feedback turn", measure(backend, second, max_tokens)))
    finally:
        backend.close()
    return startup, rows


def client_ceiling(rate: float = 1000.0, n: int = 400) -> dict:
    reply = " ".join(f"t{i}" for i in range(n))
    with ScriptedServer(reply, tokens_per_s=rate, first_token_delay=0.05) as srv:
        config = BackendConfig(name="scripted", kind="openai", base_url=srv.url)
        with make_backend(config) as backend:
            measure(backend, [{"role": "user", "content": "warm"}], 5)
            return measure(backend, [{"role": "user", "content": "go"}], n)


def openai_token_events(n: int) -> list[bytes]:
    """n chat.completion.chunk events as OpenAI sends them (about 290 bytes each)."""
    events = []
    for i in range(n):
        delta = {"content": f" tok{i % 97}"}
        body = {"id": "chatcmpl-9x8Yz1AbCdEfGhIjKlMnOpQrStU", "object": "chat.completion.chunk",
                "created": 1718000000, "model": "gpt-4o-mini-2024-07-18",
                "system_fingerprint": "fp_0ba0d124f1",
                "choices": [{"index": 0, "delta": delta, "logprobs": None,
                             "finish_reason": None}]}  # fmt: skip
        events.append(b"data: " + json.dumps(body).encode() + b"\n\n")
    return events


def _in_pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _decode_s(chunks: list[bytes], expect: int, budget_s: float = 3.0) -> float:
    """Best of up to 5 runs within `budget_s` (at least one): seconds to decode `chunks`."""
    best, spent = float("inf"), 0.0
    for _ in range(5):
        decoder = SSEDecoder()
        t0 = time.perf_counter()
        n = sum(len(decoder.feed(c)) for c in chunks) + len(decoder.finish())
        took = time.perf_counter() - t0
        assert n == expect, (n, expect)
        best, spent = min(best, took), spent + took
        if spent > budget_s:
            break
    return best


def decoder_cases() -> list[tuple[str, int, int, float]]:
    """(case, bytes, events, best seconds) for the SSE decoder alone, in memory."""
    line = b"data: " + b"x" * (4 * 1024 * 1024) + b"\n\n"
    tokens = openai_token_events(20_000) + [b"data: [DONE]\n\n"]
    stream = b"".join(tokens)
    cases = [
        ("one 4 MiB line, 1 KiB chunks", _in_pieces(line, 1024), 1),
        ("OpenAI tokens, one event per read", tokens, len(tokens)),
        ("OpenAI tokens, 1 KiB reads", _in_pieces(stream, 1024), len(tokens)),
    ]
    return [(name, sum(map(len, chunks)), n, _decode_s(chunks, n)) for name, chunks, n in cases]


def print_decoder(console: Console) -> None:
    table = Table(title="SSE decoder throughput (in memory, best of up to 5 runs)")
    for col in ("case", "MB", "events", "seconds", "MB/s", "µs/event"):
        table.add_column(col, justify="right")
    for name, size, n, seconds in decoder_cases():
        per_event = f"{seconds / n * 1e6:.1f}" if n > 1 else ""
        table.add_row(name, f"{size / 1e6:.2f}", str(n), f"{seconds:.4f}",
                      f"{size / 1e6 / seconds:.3g}", per_event)  # fmt: skip
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--decoder-only", action="store_true", help="only the SSE decoder")
    args = parser.parse_args(argv)
    console = Console(width=max(Console().width, 130))
    print_decoder(console)
    if args.decoder_only:
        return 0
    startup, rows = local_cases(args.max_tokens)
    base = rows[0][1]
    load = os.getloadavg()[0]
    table = Table(
        title=f"embedded model on {cores()} cores (server startup incl. warm-up {startup:.1f} s; "
        f"load average {load:.1f}: other work on the machine slows llama.cpp a lot)"
    )
    for col in ("case", "tokens in", "TTFT s", "TTFT vs first", "tokens out", "tok/s",
                "tok/s vs first", "prefill tok/s"):  # fmt: skip
        table.add_column(col, justify="right")
    for name, r in rows:
        table.add_row(
            name,
            f"{r['in']} ({r['method']})",
            f"{r['ttft']:.3f}",
            f"{r['ttft'] / base['ttft']:.2f}x",
            str(r["out"]),
            f"{r['rate']:.1f}",
            f"{r['rate'] / base['rate']:.2f}x",
            f"{r['in'] / r['ttft']:.0f}",
        )
    console.print(table)
    ceiling = client_ceiling()
    console.print(
        f"client ceiling: scripted server at 1000.0 tok/s measured {ceiling['rate']:.1f} tok/s, "
        f"TTFT {ceiling['ttft'] * 1000:.1f} ms for 50 ms scripted "
        f"({ceiling['rate'] / 1000.0:.3f} of truth)"
    )
    console.print(
        "[dim]prefill tok/s = tokens in / TTFT (an upper bound on prompt processing; on a "
        "repeated prefix it mostly measures the cache).[/]"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
