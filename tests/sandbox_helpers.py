"""Shared helpers for the sandbox tests: run one controller through a ControllerProcess, or
several in a disposable process tree (a leader, a worker in its group, the controller child) so
that controllers going after their parent and its group leader hit processes of the test's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loop.sandbox.host import ControllerFailure, Limits
from loop.sandbox.process import ControllerProcess

REPO = Path(__file__).resolve().parent.parent
ROBOT = {"name": "panda", "control_dt": 1 / 30}
TEST_LIMITS = Limits(load_s=10.0, init_s=5.0, step_s=2.0, episode_s=10.0)


def obs(**extra: Any) -> dict[str, Any]:
    base = {
        "t": 0.0,
        "q": [0.0] * 7,
        "dq": [0.0] * 7,
        "ee_pos": [0.4, 0.0, 0.5],
        "ee_quat": [0.0, 0.0, 0.0, 1.0],
        "target_pos": [0.5, 0.1, 0.3],
        "repo": str(REPO),
    }
    base.update(extra)
    return base


@dataclass
class Outcome:
    kind: str  # "action" or a ControllerFailure kind
    action: dict[str, Any] | None
    failure: ControllerFailure | None
    output: str
    seconds: float
    pids: list[int] = field(default_factory=list)
    features: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        failure = self.failure.to_dict() if self.failure else {}
        return f"{self.action!r} {failure!r} {self.output}"


def run(
    code: str,
    filename: str = "controller.py",
    steps: int = 3,
    limits: Limits = TEST_LIMITS,
    observation: dict[str, Any] | None = None,
    skip_layers: tuple[str, ...] = (),
) -> Outcome:
    host = (
        ControllerProcess(limits, skip_layers=skip_layers)
        if skip_layers
        else ControllerProcess(limits)
    )
    start = time.monotonic()
    action, failure, pids, features = None, None, [], {}
    try:
        host.load(code, filename, ROBOT)
        pids.append(host.pid)
        features = dict(host._child.features)
        host.reset(observation or obs())
        for _ in range(steps):
            action = host.step(observation or obs())
    except ControllerFailure as exc:
        failure = exc
    finally:
        output = host.output()
        pids += [c.proc.pid for c in (host._child, host._spare) if c is not None]
        host.close()
    seconds = time.monotonic() - start
    kind = failure.kind if failure else "action"
    return Outcome(kind, action, failure, output, seconds, [p for p in pids if p], features)


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


# -- a disposable process tree: test -> leader (own session) -> worker -> controller child ------

TREE_LEADER = """
import json, subprocess, sys
worker = subprocess.run(
    [sys.executable, "-c", *sys.argv[1:]], capture_output=True, text=True, timeout=300
)
print(json.dumps({"rc": worker.returncode, "out": worker.stdout, "err": worker.stderr[-4000:]}))
sys.stdout.flush()
sys.stdin.read()  # stay alive until the test has looked at this process
"""

TREE_WORKER = """
import json, os, sys
from tests.containment import process_state, state_changes
from tests.sandbox_helpers import obs, run
paths, extra, skip = (json.loads(arg) for arg in sys.argv[1:4])
skip = tuple(skip)
watched = {"parent": os.getpid(), "leader": os.getpgid(0)}
if "victim" in extra:
    watched["victim"] = extra["victim"]
results = []
for path in paths:
    before = {name: process_state(pid) for name, pid in watched.items()}
    with open(path) as fh:
        out = run(fh.read(), os.path.basename(path), observation=obs(**extra), skip_layers=skip)
    changes = {n: state_changes(before[n], process_state(p)) for n, p in watched.items()}
    results.append({
        "path": path, "kind": out.kind, "action": out.action, "text": out.text(),
        "pids": out.pids, "features": out.features, "changes": changes,
    })
print(json.dumps(results))
"""


@dataclass
class Tree:
    rc: int | None  # the worker's exit status: the controllers' parent; -9 if one killed it
    results: list[dict[str, Any]]  # per controller: kind, action, changes in parent, leader, victim
    leader_alive: bool
    err: str


def run_in_tree(
    paths: list[Path], extra: dict[str, Any], skip_layers: tuple[str, ...] = ()
) -> Tree:
    """Run each controller in turn in one worker process whose group leader is a fresh process,
    both owned by the test; reports what changed in either (see containment.process_state)."""
    argv = [sys.executable, "-c", TREE_LEADER, TREE_WORKER]
    argv += [json.dumps([str(p) for p in paths]), json.dumps(extra), json.dumps(skip_layers)]
    leader = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        start_new_session=True,
        text=True,
    )
    try:
        report = json.loads(leader.stdout.readline() or "null")
        leader_alive = leader.poll() is None
    finally:
        leader.stdin.close()
        try:
            leader.wait(10)
        except subprocess.TimeoutExpired:
            leader.kill()
            leader.wait()
    if report is None:
        return Tree(None, [], False, "the leader died")
    lines = report["out"].strip().splitlines()
    results = json.loads(lines[-1]) if report["rc"] == 0 and lines else []
    return Tree(report["rc"], results, leader_alive, report["err"])
