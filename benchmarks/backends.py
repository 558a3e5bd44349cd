"""Backend benchmark: TTFT and tokens/s of the embedded model on this machine.

    .venv/bin/python -m benchmarks.backends [--max-tokens N]

Cases, on one warm local server: a first request (prompt never seen), the same prompt
again (llama.cpp reuses the cached prefix), and that prompt plus a feedback turn (what an
iteration 2 looks like). Then the client's own ceiling: the scripted server paced at
1,000 tokens/s, measured through the same code, so the backend layer is shown not to be
the bottleneck of a 15x faster model.
"""

from __future__ import annotations

import argparse
import os
import time

from rich.console import Console
from rich.table import Table

from loop.backends import BackendConfig, ChatRequest, make_backend
from loop.backends.local import cores
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args(argv)
    console = Console(width=max(Console().width, 130))
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
