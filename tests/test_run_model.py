"""End to end on the embedded model: `armloop run reach --max-iters 2` through the real server.

Success is not required of a 1.5B model; a complete, valid run directory is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from loop.run.rundir import STAGES, read_events

pytestmark = [pytest.mark.model, pytest.mark.slow]


def test_run_reach_on_the_embedded_model(tmp_path: Path) -> None:
    out = tmp_path / "run"
    env = {**os.environ, "OPENAI_API_KEY": "sk-canary-never-written-0123456789"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "loop.cli",
            "run",
            "reach",
            "--max-iters",
            "2",
            "--seeds",
            "2",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        env=env,
    )
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["task"] == "reach" and config["backend"]["kind"] == "local"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == "local" and summary["model"]
    assert 1 <= len(summary["iterations"]) <= 2
    assert 0.0 < summary["generation_share"] < 1.0
    first = summary["iterations"][0]
    assert first["tokens_out"] > 10 and first["tokens_per_s"] > 0
    assert first["stages"]["generate"] > 0 and first["stages"]["ttft"] > 0
    assert set(first["stages"]) == set(STAGES)
    for it in summary["iterations"]:
        folder = out / f"iter_{it['index']:03d}"
        assert (folder / "prompt.md").exists() and (folder / "response.md").exists()
        assert json.loads((folder / "result.json").read_text())["index"] == it["index"]
    events = list(read_events(out / "events.jsonl"))
    assert events and all(e["stage"] in STAGES for e in events)
    assert len(events) == len((out / "events.jsonl").read_text().splitlines())  # all valid
    generate = [e for e in events if e["stage"] == "generate"]
    assert generate[0]["tokens_out"] > 10
    everything = (
        proc.stdout
        + proc.stderr
        + "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    )
    assert "sk-canary" not in everything
    # every second accounted: the server start and the prefill are setup, not in the stages
    setup = summary["setup_s"]
    assert setup["backend"] > 1.0 and setup["backend_server_s"] > 1.0
    cycles = sum(it["cycle_s"] for it in summary["iterations"])
    assert abs(summary["wall_s"] - (setup["total"] + cycles)) < 1.0, summary
    # stdout is a pipe, not a terminal: one plain line per finished iteration
    lines = [x for x in proc.stdout.splitlines() if x.startswith("iteration ")]
    assert len(lines) == len(summary["iterations"]), proc.stdout


def test_two_candidates_stream_at_once_from_the_shared_prefix(tmp_path: Path) -> None:
    """Width on the embedded model: llama-server's slots stream both candidates at once, and
    both start from the prefix that setup prefilled (the server says how much it had cached)."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "loop.cli", "run", "reach", "--candidates", "2",
               "--max-iters", "1", "--seeds", "1", "--out", str(out)]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["backend"]["kind"] == "local"
    summary = json.loads((out / "summary.json").read_text())
    setup = summary["setup_s"]
    assert setup["backend_prefill_s"] > 0
    first = summary["iterations"][0]
    assert len(first["candidates"]) == 2
    events = list(read_events(out / "events.jsonl"))
    spans = []
    for e in events:
        if e["stage"] == "generate" and e["ok"]:
            spans.append((e["t"] - e["duration_s"], e["t"]))
            assert e["tokens_cached"] > 0.8 * e["tokens_in"], e  # the prefix, not prefilled again
    assert len(spans) == 2, events
    (a0, a1), (b0, b1) = sorted(spans)
    assert b0 < a1, f"the second candidate only streamed after the first ended: {spans}"
