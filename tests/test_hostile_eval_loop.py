"""The hostile corpus (tests/hostile/*.py) end to end: through `armloop eval` (a real
subprocess, canary keys in its environment) and through the loop (a scripted model server on a
real socket replies with the hostile controller; one warm Evaluator is shared).

Each must end in bounded time as a reported failure or a harmless non-success, change no file
outside the run, connect to no loopback listener, show no key in any output, change no other
process (the sim worker, armloop, pytest, an unrelated victim process and its shared memory),
and never be scored a success. tests/test_sandbox_hostile.py checks the same corpus at the host
level.

The loop runs each with the static check off (`LoopOptions(static_check=False)`) and on: the
static check in loop/run/extract.py refuses only code that cannot run (a syntax error, no
`Controller`, an import that fails in the child), so with it on the corpus still reaches the
sandbox, and the process-level limits of the sandbox are what is tested either way.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from loop.run.loop import Loop, LoopOptions
from loop.run.rundir import RunDir
from loop.run.setup import BackendChoice, open_model_backend
from loop.sim.evaluator import Evaluator
from loop.sim.scoring import score
from loop.task.catalog import load_task
from loop.testing.scripted_server import ScriptedServer
from tests.containment import (
    CANARIES,
    REPO,
    Listener,
    Victim,
    alive,
    armloop_processes,
    clear_pwned,
    controller_source,
    leaked,
    planted,
    process_state,
    pwned_files,
    snapshot,
    state_changes,
)

HOSTILE = Path(__file__).parent / "hostile"
FIXTURES = sorted(HOSTILE.glob("*.py"))
IDS = [p.stem for p in FIXTURES]
ARMLOOP = [str(Path(sys.executable).with_name("armloop"))]  # the installed CLI
PARALLEL = 3  # `armloop eval` processes at once
EVAL_KILL_S = 150.0  # a run still going after this is killed and fails its test
BOUND_S = 60.0  # "bounded time": well above the worst sandbox deadline (~43 s)
REFERENCE = (REPO / "tasks" / "reference" / "reach.py").read_text()
REACHED = "REACH" + "ED"  # what a reach_* controller prints when it got through


def expected(path: Path) -> set[str]:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "EXPECT":
            return set(ast.literal_eval(node.value))
    raise AssertionError(f"{path.name} declares no EXPECT")


def allowed_kinds(path: Path) -> set[str | None]:
    """Episode-level outcomes: the host-level EXPECT, where an "action" may also be refused by
    the contract (bad_action) or be a valid, harmless action (no failure at all)."""
    kinds: set[str | None] = set(expected(path)) - {"action"}
    if "action" in expected(path):
        kinds |= {"bad_action", None}
    return kinds


def fenced(code: str) -> str:
    return f"Here is the controller.\n```python\n{code}```\nDone."


# -- armloop eval, one subprocess per fixture, PARALLEL at a time ----------------------------


@dataclass
class EvalRun:
    stem: str
    cwd: Path
    listener: Listener
    proc: subprocess.Popen | None = None
    started: float = 0.0
    seconds: float = 0.0
    rc: int | None = None
    stdout: str = ""
    stderr: str = ""

    def start(self) -> None:
        out, err = (open(self.cwd.parent / n, "wb") for n in ("stdout", "stderr"))
        tmp = self.cwd.parent / "tmp"
        tmp.mkdir()
        argv = [
            *ARMLOOP,
            "eval",
            "reach",
            "--controller",
            f"{self.stem}.py",
            "--seeds",
            "1",
            "--json",
        ]
        self.proc = subprocess.Popen(
            argv,
            cwd=self.cwd,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=canary_env_for(self.cwd.parent),
        )
        out.close()
        err.close()
        self.started = time.monotonic()

    def poll(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is None:
            if time.monotonic() - self.started < EVAL_KILL_S:
                return False
            os.killpg(self.proc.pid, 9)
            self.proc.wait()
        else:
            self.rc = self.proc.returncode
        self.seconds = time.monotonic() - self.started
        self.stdout = (self.cwd.parent / "stdout").read_text(errors="replace")
        self.stderr = (self.cwd.parent / "stderr").read_text(errors="replace")
        return True


def canary_env_for(folder: Path) -> dict[str, str]:
    env = {
        **os.environ,
        **CANARIES,
        "TMPDIR": str(folder / "tmp"),
        "HOME": str(folder / "home"),
        "PYTHONPATH": str(REPO),
    }
    env.pop("DISPLAY", None)
    return env


@pytest.fixture(scope="module")
def eval_runs(tmp_path_factory: pytest.TempPathFactory):
    clear_pwned()
    base = tmp_path_factory.mktemp("hostile_eval")
    before = snapshot()
    victim = Victim()
    runs: dict[str, EvalRun] = {}
    for path in FIXTURES:
        cwd = base / path.stem / "cwd"
        cwd.mkdir(parents=True)
        (cwd.parent / "home").mkdir()
        listener = Listener()
        (cwd / path.name).write_text(controller_source(path, listener.port, victim))
        runs[path.stem] = EvalRun(path.stem, cwd, listener)
    pending, running = list(runs.values()), []
    while pending or running:
        while pending and len(running) < PARALLEL:
            run = pending.pop(0)
            run.start()
            running.append(run)
        running = [r for r in running if not r.poll()]
        time.sleep(0.05)
    yield runs, before, base, victim
    for run in runs.values():
        run.listener.close()
    victim.close()


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_armloop_eval_contains(path: Path, eval_runs) -> None:
    runs, _, _, _ = eval_runs
    run = runs[path.stem]
    assert run.rc is not None, f"`armloop eval` still running after {EVAL_KILL_S:.0f} s"
    assert run.seconds < BOUND_S
    assert run.rc == 1, f"exit {run.rc} (0 is success, 2 a CLI error)\n{run.stderr[-2000:]}"
    data = json.loads(run.stdout)
    assert not data["success"] and data["success_rate"] == 0.0
    kinds = {(seed.get("failure") or {}).get("kind") for seed in data["seeds"]}
    assert kinds <= allowed_kinds(path), data["feedback"]
    if kinds - {None}:
        assert data["feedback"], "a failure must be reported"
    assert not leaked(run.stdout + run.stderr), "a canary key reached the output"
    assert REACHED not in run.stdout + run.stderr, "the controller reached another process"
    assert not run.listener.connected(), "the controller reached a loopback listener"
    assert sorted(os.listdir(run.cwd)) == [path.name], "wrote into the eval's working folder"
    assert not list((run.cwd.parent / "home").iterdir()), "wrote into HOME"
    assert not pwned_files()


def test_armloop_eval_left_no_process_and_no_file(eval_runs) -> None:
    runs, before, base, _ = eval_runs
    assert not armloop_processes(str(base)), "a sim worker or controller child survived"
    assert not planted(before, snapshot()), "a file in the repo was changed or planted"
    assert not pwned_files()


def test_armloop_eval_changed_no_unrelated_process(eval_runs) -> None:
    """The victim (an unrelated process and its shared memory) after the whole corpus."""
    _, _, _, victim = eval_runs
    assert not victim.changes()


# -- the loop: a scripted model server replies with the hostile controller ------------------


@pytest.fixture(scope="module")
def evaluator():
    """One warm Evaluator for the whole corpus; its sim worker has the canaries in its
    /proc/<pid>/environ (putenv before spawning), which read_keys.py goes after."""
    clear_pwned()
    with pytest.MonkeyPatch.context() as mp:
        for name, key in CANARIES.items():
            mp.setenv(name, key)
        with Evaluator(load_task("reach"), workers=1) as ev:
            yield ev


def run_loop(ev: Evaluator, reply: str, out: Path, static_check: bool = False) -> dict:
    options = LoopOptions(max_iters=1, seeds=(0,), static_check=static_check)
    rundir = RunDir(out)
    with ScriptedServer([reply]) as server:
        backend = open_model_backend(BackendChoice("openai", "scripted", server.url))
        try:
            return Loop(ev.task, backend, [ev], rundir, options).run()
        finally:
            backend.close()
            rundir.close()


def run_dir_text(out: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())


@pytest.fixture
def victim():
    v = Victim()
    yield v
    v.close()


def watched(ev: Evaluator) -> dict[str, int]:
    """The processes a controller in the loop must leave alone: its parent (the shared sim
    worker) and pytest, which plays armloop here (and is the group leader when it leads one)."""
    return {"sim worker": ev.pool.workers[0].proc.pid, "pytest": os.getpid()}


@pytest.mark.parametrize("static_check", [False, True], ids=["unchecked", "checked"])
@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_loop_contains(
    path: Path, static_check: bool, evaluator: Evaluator, victim: Victim, tmp_path: Path, capfd
) -> None:
    listener = Listener()
    before = snapshot()
    targets = watched(evaluator)
    states = {name: process_state(pid) for name, pid in targets.items()}
    start = time.monotonic()
    try:
        summary = run_loop(
            evaluator,
            fenced(controller_source(path, listener.port, victim)),
            tmp_path / "run",
            static_check=static_check,
        )
        seconds = time.monotonic() - start
        assert not listener.connected(), "the controller reached a loopback listener"
    finally:
        listener.close()
    assert watched(evaluator) == targets and alive(targets["sim worker"]), "the sim worker died"
    for name, pid in targets.items():
        assert not state_changes(states[name], process_state(pid)), f"{name} was changed"
    assert not victim.changes(), "an unrelated process was changed"
    assert seconds < BOUND_S
    assert not summary["success"] and not summary["iterations"][0]["success"]
    result = json.loads((tmp_path / "run" / "iter_001" / "result.json").read_text())
    assert result["evaluation"] is not None, f"the controller never ran: {result['feedback']}"
    assert result["evaluation"]["success_rate"] == 0.0
    kinds = {(s.get("failure") or {}).get("kind") for s in result["evaluation"]["seeds"]}
    assert kinds <= allowed_kinds(path), result["feedback"]
    assert result["feedback"], "a failure must go back to the model as feedback"
    events = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").open()]
    assert [e["stage"] for e in events][-4:] == ["load", "simulate", "score", "feedback"]
    captured = capfd.readouterr()
    assert not leaked(run_dir_text(tmp_path / "run") + captured.out + captured.err)
    assert REACHED not in run_dir_text(tmp_path / "run"), "the controller reached a process"
    assert not planted(before, snapshot()), "a file in the repo was changed or planted"
    assert not pwned_files()


def test_the_shared_simulator_still_scores_the_reference(
    evaluator: Evaluator, tmp_path: Path
) -> None:
    """After the whole corpus, the same warm worker still runs honest code to success."""
    summary = run_loop(evaluator, fenced(REFERENCE), tmp_path / "run", static_check=True)
    assert summary["success"]


# -- the score cannot be gamed from inside -------------------------------------------------


@pytest.mark.parametrize("stem", ["game_score", "mutate_obs", "sim_handle"])
def test_the_score_cannot_be_gamed_from_inside(stem: str, evaluator: Evaluator) -> None:
    """Rewriting observations, or hunting for a simulator handle (pybullet connections, gc,
    sys.modules) and teleporting the arm, gets no success: the child has copies only."""
    code = controller_source(HOSTILE / f"{stem}.py", 1)
    assert evaluator.load(code).ok
    records = evaluator.simulate([0, 1])
    evaluation = score(evaluator.task, records)
    assert not evaluation.success and evaluation.success_rate == 0.0
    for record in records:
        target = np.asarray(record.episode["target_pos"])
        assert np.linalg.norm(record.ee_pos[-1] - target) > 0.05
    if stem == "game_score":
        assert "sim objects 0 clients []" in records[0].output, records[0].output


def test_game_score_does_win_in_the_sim_process() -> None:
    """The control: the same controller run in the sim worker itself (the trusted in-process
    host) finds the world and steals the success, so the test above has teeth."""
    with Evaluator(load_task("reach"), workers=1, host="inprocess") as ev:
        assert ev.load((HOSTILE / "game_score.py").read_text()).ok
        evaluation = score(ev.task, ev.simulate([0]))
    assert evaluation.success
