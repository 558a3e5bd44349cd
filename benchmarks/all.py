"""`make bench`: every benchmark in one run, each printing its figures and ratios.

    .venv/bin/python -m benchmarks.all [NAME ...]     # e.g. `sim harness`; default: all

Each benchmark also runs alone as `.venv/bin/python -m benchmarks.NAME`. A benchmark that fails
is reported and the others still run; the exit code says whether all of them ran.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback

BENCHES = {
    "sim": "physics steps/s, reset, controller load, 5 s episode (DESIGN.md targets)",
    "isolation": "cost of the hardened controller process vs in-process",
    "harness": "harness overhead per iteration vs the 20 ms target",
    "watch": "save-to-first-simulated-step latency in watch mode",
    "projection": "measured vs projected cycle for two paced servers",
    "width": "several candidates: overlap, and measured vs projected time to success",
    "replay": "recording overhead on the simulate stage, rollouts.npz size, rendering frames/s",
    "backends": "SSE decoder MB/s; embedded model: time to first token and tokens/s, cold "
    "and cached prompt",
    "embedded": "llama-server vs llama-cpp-python's server: TTFT cold and warm, tokens/s for "
    "1 and 4 streams; decoding beside busy sim workers per thread count",
}


def main(argv: list[str] | None = None) -> int:
    names = (sys.argv[1:] if argv is None else argv) or list(BENCHES)
    failed = []
    for name in names:
        print(f"\n=== benchmarks.{name}: {BENCHES.get(name, '')}", flush=True)
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            module.main([]) if _takes_argv(module.main) else module.main()
        except Exception:  # noqa: BLE001 - one broken bench must not hide the others
            traceback.print_exc()
            failed.append(name)
        print(f"--- benchmarks.{name} took {time.perf_counter() - t0:.1f} s", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


def _takes_argv(fn) -> bool:
    import inspect

    return bool(inspect.signature(fn).parameters)


if __name__ == "__main__":
    sys.exit(main())
