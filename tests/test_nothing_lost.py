"""Nothing lost: `kill -9` of `armloop run` mid-run leaves a valid events.jsonl up to the last
finished stage and no process behind; `armloop run --resume OUT` continues that run to success.

`armloop run` is a real subprocess against a slow, paced scripted model server on a real
socket: iteration 1's controller fails (ZeroDivisionError), and the process is killed while
iteration 2's reply is still streaming. The resumed run closes iteration 2 as interrupted and
gets the working reference controller on iteration 3.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loop.run.rundir import STAGES
from loop.testing.scripted_server import ScriptedServer
from tests.containment import CANARIES, REPO, armloop_processes, leaked, wait_gone
from tests.test_loop import BROKEN, REFERENCE, fenced

ARMLOOP = str(Path(sys.executable).with_name("armloop"))
TOKENS_PER_S = 40.0  # ~2 s per reply: a wide window to kill in
START_S = 90.0


def events(out: Path) -> list[dict]:
    """Every line of events.jsonl, strictly: a torn or malformed line fails the test."""
    text = (out / "events.jsonl").read_text()
    assert text == "" or text.endswith("\n"), "events.jsonl ends in a torn line"
    return [json.loads(line) for line in text.splitlines()]


def wait_for(out: Path, proc: subprocess.Popen, iteration: int, stage: str) -> None:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, "armloop run ended before it could be killed"
        path = out / "events.jsonl"
        if path.exists():
            lines = path.read_text().splitlines()
            if any(
                f'"iteration": {iteration}' in ln and f'"stage": "{stage}"' in ln for ln in lines
            ):
                return
        time.sleep(0.02)
    raise AssertionError(f"no {stage} event for iteration {iteration} within {START_S} s")


def armloop(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as fh:
        return subprocess.Popen(
            [ARMLOOP, *args],
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=REPO,
            start_new_session=True,
        )


@pytest.mark.parametrize("target", ["group", "main"])
def test_kill_9_then_resume(target: str, tmp_path: Path) -> None:
    """target "group": SIGKILL armloop and its sim workers at once (controller children have
    sessions of their own); "main": SIGKILL only the armloop process, as `kill -9 PID` does."""
    out, tmp = tmp_path / "run", tmp_path / "tmp"
    tmp.mkdir()
    marker = str(tmp)  # in sim workers' environment (TMPDIR), in children's command lines
    env = {**os.environ, **CANARIES, "TMPDIR": marker}
    with ScriptedServer([fenced(BROKEN), fenced(REFERENCE)], tokens_per_s=TOKENS_PER_S) as srv:
        args = [
            "run",
            "reach",
            "--backend",
            "openai",
            "--base-url",
            srv.url,
            "--model",
            "scripted",
            "--max-iters",
            "3",
            "--seeds",
            "1",
            "--out",
            str(out),
        ]
        proc = armloop(args, env, tmp_path / "first.log")
        try:
            wait_for(out, proc, 2, "ttft")  # iteration 2's reply is streaming
            alive = " ".join(cmd for _, cmd in armloop_processes(marker))
            assert "loop.sim.pool" in alive and "loop.sandbox" in alive, "nothing to watch"
        finally:
            if target == "group":
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
            proc.wait()
        assert proc.returncode == -signal.SIGKILL

        before = events(out)
        assert [e["stage"] for e in before if e["iteration"] == 1] == list(STAGES)
        assert [e["stage"] for e in before if e["iteration"] == 2][:2] == ["prompt", "ttft"]
        assert (out / "iter_001" / "result.json").exists()
        assert len(json.loads((out / "summary.json").read_text())["iterations"]) == 1
        survivors = wait_gone(marker, timeout=10.0)
        assert not survivors, f"processes outlived armloop: {survivors}"

        resumed = armloop(["run", "--resume", str(out)], env, tmp_path / "resume.log")
        assert resumed.wait(timeout=START_S) == 0, (tmp_path / "resume.log").read_text()
        assert not wait_gone(marker, timeout=10.0)

    after = events(out)
    assert after[: len(before)] == before, "resume rewrote earlier events"
    assert [e["stage"] for e in after if e["iteration"] == 3] == list(STAGES)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["success"] and summary["iterations_to_success"] == 3
    assert [it["index"] for it in summary["iterations"]] == [1, 2, 3]
    assert "interrupted" in summary["iterations"][1]["error"]
    assert (out / "config.toml").exists()
    for index in (1, 2, 3):
        assert (out / f"iter_{index:03d}" / "result.json").exists()
    assert (out / "iter_003" / "controller.py").read_text() == REFERENCE
    logs = "".join((tmp_path / n).read_text(errors="replace") for n in ("first.log", "resume.log"))
    run_text = "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    assert not leaked(logs + run_text)


SPINNING_LOAD = """
from loop.sandbox.process import ControllerProcess
host = ControllerProcess()
host.warm_up()
print("loading", flush=True)
host.load("while True:\\n    pass\\n", "spin.py", {"name": "panda", "control_dt": 1 / 30})
"""
SLOW_EPISODE = """
from loop.sim.evaluator import Evaluator
from loop.task.catalog import load_task
code = '''
import time
class Controller:
    def __init__(self, robot):
        pass
    def step(self, obs):
        time.sleep(0.2)
        return {"q": obs["q"]}
'''
ev = Evaluator(load_task("reach"), workers=1)
assert ev.load(code).ok
print("loading", flush=True)
ev.simulate([0])
"""

# A controller that disarms its own cleanup: the in-process watchdog sees a parent that never
# changes, and clearing the kernel's parent-death signal is refused by seccomp. It must still
# die with its host.
DISARMED_LOAD = """
from loop.sandbox.process import ControllerProcess
code = '''
import ctypes, os, time
_parent = os.getppid()
os.getppid = lambda: _parent
print("prctl", ctypes.CDLL(None).prctl(1, 0, 0, 0, 0), flush=True)
while True:
    time.sleep(0.1)
'''
host = ControllerProcess()
host.warm_up()
print("loading", flush=True)
host.load(code, "disarm.py", {"name": "panda", "control_dt": 1 / 30})
"""


@pytest.mark.parametrize(
    "script", [SPINNING_LOAD, SLOW_EPISODE, DISARMED_LOAD], ids=["child", "worker", "disarmed"]
)
def test_children_die_with_their_parent(script: str, tmp_path: Path) -> None:
    """SIGKILL the parent mid-call: a controller child spinning in its module code (no deadline
    left to enforce it) and a sim worker in the middle of an 18 s episode end within seconds,
    not after RLIMIT_CPU or the episode."""
    marker = str(tmp_path)  # TMPDIR: see test_kill_9_then_resume
    env = {**os.environ, "TMPDIR": marker, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        env=env,
        cwd=REPO,
        start_new_session=True,
    )
    try:
        assert proc.stdout.readline() == b"loading\n"
        time.sleep(1.0)
        watched = [pid for pid, _ in armloop_processes(marker) if pid != proc.pid]
        assert watched, "nothing to watch: the test lost its processes"
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert not wait_gone(marker, timeout=5.0), "a child outlived its parent"
