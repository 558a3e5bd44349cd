"""Several candidates per iteration (`--candidates N`), on real sockets and the real simulator:
concurrent requests, each candidate through its own stages, the best one carried forward,
per-candidate faults that do not fail the iteration, Ctrl-C and --resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loop import TASKS_DIR
from loop.cli import app
from loop.commands.run import run_command
from loop.run.rundir import STAGES, read_events
from loop.run.setup import BackendChoice
from loop.testing.scripted_server import ScriptedServer
from tests.foreground import diagnose, popen_foreground, sigint

REFERENCE = (TASKS_DIR / "reference" / "reach.py").read_text()


def slow(speed: float) -> str:
    """A reach controller too slow to get there: runs, fails, and differs by `speed`."""
    return REFERENCE.replace("self.speed = 0.6", f"self.speed = {speed:.4f}")


def fenced(code: str) -> str:
    return f"```python\n{code}```\n"


def candidate_of(request: dict) -> int:
    """The loop seeds candidate c of iteration i with 1000 * i + c."""
    return int(request["seed"]) % 1000


def run(server: ScriptedServer, out: Path, candidates: int, max_iters: int = 2) -> int:
    return run_command(
        "reach",
        choice=BackendChoice(name="openai", model="scripted", base_url=server.url),
        max_iters=max_iters,
        seeds=1,
        out=out,
        resume=None,
        candidates=candidates,
    )


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def test_one_candidate_keeps_the_schema(tmp_path: Path) -> None:
    with ScriptedServer(fenced(REFERENCE), tokens_per_s=2000) as server:
        assert run(server, tmp_path / "run", candidates=1) == 0
        posts = [r.json for r in server.requests if r.method == "POST" and r.json]
        assert posts[-1].get("seed") is None  # the server's own sampling, as before
    data = summary(tmp_path / "run")
    assert "candidates" not in data and "candidates" not in data["iterations"][0]
    assert all("candidate" not in e for e in read_events(tmp_path / "run" / "events.jsonl"))
    assert not list((tmp_path / "run" / "iter_001").glob("cand_*"))


def test_three_candidates_run_at_once_and_any_success_wins(tmp_path: Path) -> None:
    def reply(request: dict) -> str:
        return fenced(
            REFERENCE if candidate_of(request) == 3 else slow(0.01 * candidate_of(request))
        )

    out = tmp_path / "run"
    with ScriptedServer(reply, tokens_per_s=400, first_token_delay=0.5) as server:
        assert run(server, out, candidates=3) == 0
        posts = [r for r in server.requests if r.method == "POST"]
    assert len(posts) == 3
    arrived = sorted(r.t for r in posts)
    assert arrived[-1] - arrived[0] < 0.5, "the three requests were sent together"
    assert len({r.json["seed"] for r in posts}) == 3
    temps = sorted(r.json["temperature"] for r in posts)
    assert temps[0] == pytest.approx(0.2) and temps[-1] == pytest.approx(0.8)
    data = summary(out)
    it = data["iterations"][0]
    assert data["success"] and data["candidates"] == 3 and data["iterations_to_success"] == 1
    assert it["best_candidate"] == 3 and len(it["candidates"]) == 3
    assert [c["candidate"] for c in it["candidates"]] == [1, 2, 3]
    assert [c["success"] for c in it["candidates"]] == [False, False, True]
    for c in it["candidates"]:
        assert set(c["stages"]) == set(STAGES) and c["tokens_out"] > 0
    # the iteration's cycle is its wall time; its stages partition it along the critical path
    assert it["cycle_s"] == pytest.approx(sum(it["stages"].values()), abs=1e-6)
    assert it["cycle_s"] < sum(c["cycle_s"] for c in it["candidates"])  # they overlapped
    assert it["model_wait_s"] == pytest.approx(it["stages"]["ttft"] + it["stages"]["generate"])
    events = list(read_events(out / "events.jsonl"))
    assert {e["candidate"] for e in events} == {1, 2, 3}
    sims = [e for e in events if e["stage"] == "simulate"]
    assert len(sims) == 3
    folder = out / "iter_001"
    for c in (1, 2, 3):
        assert (folder / f"cand_{c}" / "controller.py").exists()
        assert (folder / f"cand_{c}" / "rollouts.npz").exists()
    assert (folder / "rollouts.npz").read_bytes() == (
        folder / "cand_3" / "rollouts.npz"
    ).read_bytes()
    assert (folder / "controller.py").read_text() == REFERENCE  # the best one
    assert (folder / "prompt.md").exists() and (folder / "result.json").exists()


def test_the_next_prompt_carries_the_best_and_a_line_on_each_other(tmp_path: Path) -> None:
    def reply(request: dict) -> str:
        iteration, c = divmod(int(request["seed"]), 1000)
        if iteration == 2:
            return fenced(REFERENCE)
        return fenced(slow(0.03 if c == 2 else 0.001 * c))  # candidate 2 gets closest

    out = tmp_path / "run"
    with ScriptedServer(reply, tokens_per_s=2000) as server:
        assert run(server, out, candidates=3) == 0
        second = [r.json for r in server.requests if r.json and r.json["seed"] // 1000 == 2]
    it1 = summary(out)["iterations"][0]
    assert it1["best_candidate"] == 2
    messages = second[0]["messages"]
    assert "0.0300" in messages[2]["content"]  # the assistant turn is candidate 2's code
    follow_up = messages[3]["content"]
    assert "The other answers to attempt 1 failed too" in follow_up
    assert "candidate 1: score" in follow_up and "candidate 3: score" in follow_up


def test_identical_candidates_are_simulated_once(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with ScriptedServer(fenced(slow(0.01)), tokens_per_s=2000) as server:
        assert run(server, out, candidates=3, max_iters=1) == 1
    events = list(read_events(out / "events.jsonl"))
    assert len([e for e in events if e["stage"] == "simulate"]) == 1
    cands = summary(out)["iterations"][0]["candidates"]
    repeats = [c for c in cands if c.get("repeat_of_candidate")]
    assert len(repeats) == 2 and all(c["repeat_of"] == 1 for c in repeats)


def test_a_dying_stream_and_429s_fail_only_their_candidates(tmp_path: Path) -> None:
    """Two of three first requests get 429 (retried per candidate while the other runs); one
    stream is cut mid-reply: a recorded failed candidate, not a failed iteration."""

    def cut(request: dict) -> int | None:
        return 5 if candidate_of(request) == 2 else None

    def reply(request: dict) -> str:
        return fenced(REFERENCE if candidate_of(request) == 1 else slow(0.01))

    out = tmp_path / "run"
    with ScriptedServer(reply, tokens_per_s=1000, fail_first=2, cut_if=cut) as server:
        assert run(server, out, candidates=3) == 0
    it = summary(out)["iterations"][0]
    assert "error" not in it and it["success"]
    dead = next(c for c in it["candidates"] if c["candidate"] == 2)
    assert "model backend" in dead["error"]


def test_candidates_out_of_range_are_refused_with_the_range() -> None:
    result = CliRunner().invoke(app, ["run", "reach", "--candidates", "17"])
    assert result.exit_code == 2 and "1 to 16" in result.output, result.output
    result = CliRunner().invoke(
        app, ["bench", "--backends", "openai", "--tasks", "reach", "--candidates", "1,40"]
    )
    assert result.exit_code == 2 and "1 to 16" in result.output


def test_ctrl_c_closes_every_stream_and_resume_records_the_iteration(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with ScriptedServer(fenced(slow(0.01)), tokens_per_s=20) as server:
        cmd = [
            sys.executable, "-m", "loop.cli", "run", "reach", "--backend", "openai",
            "--model", "scripted", "--base-url", server.url, "--seeds", "1",
            "--candidates", "3", "--max-iters", "3", "--out", str(out),
        ]  # fmt: skip
        # SIGINT as at a terminal, whatever pytest inherited
        proc = popen_foreground(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 120
            while sum(server.tokens_sent) < 6 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert sigint(proc.pid) == "caught", f"SIGINT cannot stop it:\n{diagnose(proc.pid)}"
            os.kill(proc.pid, signal.SIGINT)
            output, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 130, output
        time.sleep(0.3)
        assert all(server.disconnected), "every in-flight stream was closed"
        data = summary(out)
        assert data["stopped_reason"] == "interrupted"
        server.replies, server.tokens_per_s = fenced(REFERENCE), 2000
        code = run_command(None, choice=BackendChoice(), max_iters=3, seeds=1, out=None, resume=out)
    assert code == 0
    data = summary(out)
    first, second = data["iterations"]
    assert "interrupted" in first["error"] and len(first["candidates"]) == 3
    assert second["success"] and len(second["candidates"]) == 3
