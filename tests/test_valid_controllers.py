"""Valid controllers in the styles models write (tests/valid/*.py): each passes the static
check and succeeds on `reach` through `armloop eval` (a real subprocess) and through the loop
(a scripted model server replies with it). The static check must never cost a working
controller an iteration, and the loader must run any module a normal import would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loop.run.extract import extract_code, static_check
from loop.run.loop import Loop, LoopOptions
from loop.run.rundir import RunDir, read_events
from loop.run.setup import BackendChoice, open_model_backend
from loop.sim.evaluator import Evaluator
from loop.task.catalog import load_task
from loop.testing.scripted_server import ScriptedServer

REPO = Path(__file__).resolve().parent.parent
VALID = sorted((Path(__file__).parent / "valid").glob("*.py"))
IDS = [p.stem for p in VALID]
SEEDS = 3
PARALLEL = 2  # `armloop eval` processes at once
EVAL_KILL_S = 120.0


def fenced(code: str) -> str:
    return f"Here is the controller.\n```python\n{code}```\nIt moves in a straight line."


@pytest.mark.parametrize("path", VALID, ids=IDS)
def test_static_check_accepts(path: Path) -> None:
    code = path.read_text()
    assert static_check(code) == []
    extraction = extract_code(fenced(code))
    assert extraction.ok and extraction.code == code, extraction


# -- armloop eval, a real subprocess per controller ------------------------------------------


@pytest.fixture(scope="module")
def eval_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    base = tmp_path_factory.mktemp("valid_eval")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DISPLAY", None)
    pending, running, results = list(VALID), [], {}
    while pending or running:
        while pending and len(running) < PARALLEL:
            path = pending.pop(0)
            argv = [sys.executable, "-m", "loop.cli", "eval", "reach", "--controller", str(path)]
            argv += ["--seeds", str(SEEDS), "--json"]
            out = open(base / f"{path.stem}.out", "wb")
            proc = subprocess.Popen(argv, cwd=base, env=env, stdout=out, stderr=subprocess.STDOUT)
            out.close()
            running.append((path, proc, time.monotonic()))
        for item in list(running):
            path, proc, started = item
            if proc.poll() is None and time.monotonic() - started < EVAL_KILL_S:
                continue
            if proc.poll() is None:
                proc.kill()
            results[path.stem] = {
                "rc": proc.wait(),
                "output": (base / f"{path.stem}.out").read_text(errors="replace"),
            }
            running.remove(item)
        time.sleep(0.05)
    return results


@pytest.mark.parametrize("path", VALID, ids=IDS)
def test_armloop_eval_succeeds(path: Path, eval_runs: dict[str, dict]) -> None:
    run = eval_runs[path.stem]
    assert run["rc"] == 0, run["output"][-3000:]
    data = json.loads(run["output"][run["output"].index("{") :])
    assert data["success"] and data["success_rate"] == 1.0, data["feedback"]
    assert len(data["seeds"]) == SEEDS


# -- the loop: a scripted model server replies with the controller ---------------------------


@pytest.fixture(scope="module")
def evaluator():
    with Evaluator(load_task("reach"), workers=2) as ev:
        yield ev


def run_loop(ev: Evaluator, reply: str, out: Path) -> dict:
    """One iteration of the loop with the static check on; returns summary.json's content.
    (The one place that knows how a Loop is set up.)"""
    options = LoopOptions(max_iters=1, seeds=tuple(range(SEEDS)))
    rundir = RunDir(out)
    with ScriptedServer([reply]) as server:
        backend = open_model_backend(BackendChoice("openai", "scripted", server.url))
        try:
            return Loop(ev.task, backend, [ev], rundir, options).run()
        finally:
            backend.close()
            rundir.close()


@pytest.mark.parametrize("path", VALID, ids=IDS)
def test_loop_succeeds_on_iteration_1(path: Path, evaluator: Evaluator, tmp_path: Path) -> None:
    summary = run_loop(evaluator, fenced(path.read_text()), tmp_path / "run")
    events = {e["stage"]: e for e in read_events(tmp_path / "run" / "events.jsonl")}
    assert events["extract"]["ok"], events["extract"]["problems"]
    result = json.loads((tmp_path / "run" / "iter_001" / "result.json").read_text())
    assert summary["success"] and summary["iterations"][0]["success"], result["feedback"]
    assert result["evaluation"]["success_rate"] == 1.0
