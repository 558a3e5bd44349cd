"""Adversarial controllers (tests/hostile/*.py): each ends in bounded time as a failure or a
harmless action, never hangs, leaves no process, writes nowhere outside its work folder,
connects nowhere and never sees the parent's keys.

tests/hostile/reach_*.py go after other processes (their parent, its group leader, an unrelated
process): they run in a disposable process tree (sandbox_helpers.run_in_tree), never with pytest
as their parent, and every process they aim at must come out unchanged and alive."""

from __future__ import annotations

import ast
import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from loop.sandbox import harden
from loop.sandbox.process import ControllerProcess
from loop.task.contract import ActionError, validate_action
from robots import robot_info
from tests.containment import Victim
from tests.sandbox_helpers import REPO, ROBOT, TEST_LIMITS, group_gone, obs, run, run_in_tree

HOSTILE = Path(__file__).parent / "hostile"
FIXTURES = sorted(HOSTILE.glob("*.py"))
REACH = [p for p in FIXTURES if p.stem.startswith("reach_")]
DIRECT = [p for p in FIXTURES if p not in REACH]
MAX_THREADS = 256  # per controller, every thread of the child included
CANARY = "sk-test-canary-7f3a9c2e"
PWNED = [Path("/tmp/armloop_pwned"), REPO / "armloop_pwned", Path("/etc/armloop_pwned")]


def expected(path: Path) -> set[str]:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "EXPECT":
            return set(ast.literal_eval(node.value))
    raise AssertionError(f"{path.name} declares no EXPECT")


@pytest.fixture
def listener():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


def _accepted(server: socket.socket) -> bool:
    try:
        conn, _ = server.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


@pytest.mark.parametrize("path", DIRECT, ids=[p.stem for p in DIRECT])
def test_hostile(path: Path, listener: socket.socket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    for p in PWNED:
        p.unlink(missing_ok=True)
    observation = obs(port=float(listener.getsockname()[1]))
    original = {k: (list(v) if isinstance(v, list) else v) for k, v in observation.items()}

    out = run(path.read_text(), filename=path.name, observation=observation)

    assert out.kind in expected(path), out.text()
    assert out.seconds < 30
    assert all(group_gone(pid) for pid in out.pids), "a controller process survived"
    assert not any(p.exists() for p in PWNED), "wrote outside the work folder"
    assert not _accepted(listener), "the controller reached a loopback listener"
    assert CANARY not in out.text()
    assert observation == original, "the parent's observation changed"
    if out.kind == "action":
        _check_action(path.stem, out.action)


def _check_action(stem: str, action: dict) -> None:
    if stem in ("write_outside", "ctypes_libc", "sim_handle"):
        assert action == {"q": [0.0]}, f"{stem} got through: {action}"
    if stem == "subprocess_system":
        assert action["q"][0] != 0.0
    if stem == "nan_action":
        assert all(math.isnan(v) for v in action["q"]) and action["gripper"] == math.inf
    if stem in ("huge_int_ee_pos", "huge_int_gripper", "raw_reply_frame"):
        # the host hands the value over; the contract refuses it (no OverflowError)
        with pytest.raises(ActionError, match="too large for a float"):
            validate_action(action, robot_info("panda", 1 / 30), ("ee_pos", "q", "dq"))
    if stem == "pdeathsig_disarm":
        assert action == {"q": [9.0]}, "the parent-death SIGKILL was disarmed"
    if stem.startswith("thread_bomb"):
        assert action["q"][0] < MAX_THREADS, f"{stem} started {action['q'][0]:.0f} threads"


PROBE = """
import json, os, sys
from tests.sandbox_helpers import run
with open(f"/proc/{os.getpid()}/environ", "rb") as f:
    assert sys.argv[1].encode() in f.read()  # the canary really is in this parent's environ
out = run(open(sys.argv[2]).read(), filename="read_keys.py")
print(json.dumps({"kind": out.kind, "text": out.text(), "pids": out.pids}))
"""


def test_read_keys_from_a_parent_whose_environ_holds_the_key() -> None:
    """setenv does not change /proc/self/environ: start a parent with the key in it."""
    env = dict(os.environ, OPENAI_API_KEY=CANARY)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, CANARY, str(HOSTILE / "read_keys.py")],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["kind"] == "exception"
    assert "LOOT" in result["text"]
    assert CANARY not in proc.stdout + proc.stderr
    assert all(group_gone(pid) for pid in result["pids"])


def test_timeout_message_names_call_and_limit() -> None:
    out = run((HOSTILE / "infinite_loop.py").read_text())
    assert "step(obs)" in out.failure.message and "step_s" in out.failure.message


def test_read_keys_sees_no_proc_environ() -> None:
    out = run((HOSTILE / "read_keys.py").read_text(), filename="read_keys.py")
    assert out.kind == "exception"
    assert "OPENBLAS_NUM_THREADS" in out.failure.message  # its own scrubbed environment
    assert "PYENV" not in out.failure.message and "TERM" not in out.failure.message


def test_memory_limit_is_named() -> None:
    out = run((HOSTILE / "memory_bomb.py").read_text(), filename="memory_bomb.py")
    assert out.kind == "exception" and "memory limit of 1024 MiB" in out.failure.message


# -- other processes -----------------------------------------------------------------------


@pytest.fixture
def victim():
    v = Victim()
    yield v
    v.close()


def _assert_reached_nothing(path: Path, result: dict, victim: Victim) -> None:
    where = f"{path.stem}: {result['text'][:600]}"
    assert result["kind"] in expected(path), where
    for name, changes in result["changes"].items():
        assert not changes, f"{path.stem} changed its {name}: {changes}"
    assert not victim.changes(), f"{path.stem} changed the victim: {victim.changes()}"
    if result["kind"] == "action":
        assert result["action"] == {"q": [0.0]}, f"{path.stem} got through: {where}"
    assert all(group_gone(pid) for pid in result["pids"]), "a controller process survived"


@pytest.mark.parametrize("path", REACH, ids=[p.stem for p in REACH])
def test_reaches_no_other_process(path: Path, victim: Victim) -> None:
    """prlimit, setpriority, ioprio_set, sched_setaffinity/setscheduler, kill, tgkill,
    sigqueue, pidfds, SIGIO and System V shared memory, aimed at the parent, its group leader
    or an unrelated process: each attempt fails and each target is untouched and alive."""
    tree = run_in_tree([path], {"victim": victim.pid, "shmid": victim.shmid})
    assert tree.rc == 0, f"the controller's parent died (status {tree.rc}): {tree.err[-1500:]}"
    assert tree.leader_alive, "the process-group leader died"
    (result,) = tree.results
    _assert_reached_nothing(path, result, victim)


ON_ITSELF = """
import os, resource, signal, threading

class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft - 1, hard))
        resource.prlimit(0, resource.RLIMIT_NOFILE)
        os.setpriority(os.PRIO_PROCESS, 0, os.getpriority(os.PRIO_PROCESS, 0) + 1)
        os.sched_setaffinity(0, os.sched_getaffinity(0))
        os.sched_getscheduler(0)
        os.kill(os.getpid(), 0)
        signal.pthread_kill(threading.get_ident(), 0)
        signal.signal(signal.SIGUSR1, lambda *a: None)
        signal.raise_signal(signal.SIGUSR1)
        return {"q": [1.0]}
"""


def test_the_child_still_acts_on_itself() -> None:
    """The rules that keep it off other processes leave the calls on itself working: its own
    limits, nice value, affinity, scheduling and signals (pid 0, or its own pid for signals)."""
    out = run(ON_ITSELF)
    assert out.kind == "action", out.text()


#: Each layer that claims the whole reach_* corpus, alone: the others are skipped.
ALONE = {
    "own_uid": ("namespaces", "landlock", "seccomp"),
    "seccomp": ("namespaces", "landlock", "own_uid"),
}
ALL_LAYERS = ("namespaces", "landlock", "own_uid", "seccomp")
#: The corpus that, with no layer at all, does reach the victim (its parent would die).
REACH_VICTIM = ["reach_prlimit_unrelated", "reach_setpriority", "reach_affinity", "reach_sysv_shm"]


@pytest.mark.skipif(os.getuid() != 0, reason="the layers under test need root")
@pytest.mark.parametrize("layer", sorted(ALONE))
def test_each_layer_alone_keeps_the_controller_in(layer: str, victim: Victim) -> None:
    """The uid of its own stops the reach_* corpus with seccomp, Landlock and the namespaces
    off (the kernel's same-user checks; RLIMIT_NPROC bounds its threads too), and seccomp stops
    it as uid 0 with Landlock and the namespaces off."""
    paths = REACH + ([HOSTILE / "thread_bomb_small.py"] if layer == "own_uid" else [])
    tree = run_in_tree(paths, {"victim": victim.pid, "shmid": victim.shmid}, ALONE[layer])
    assert tree.rc == 0, f"the controller's parent died (status {tree.rc}): {tree.err[-1500:]}"
    assert tree.leader_alive, "the process-group leader died"
    for path, result in zip(paths, tree.results, strict=True):
        feats = result["features"]
        assert all(not feats.get(skipped) for skipped in ALONE[layer] if skipped != "own_uid")
        if layer == "own_uid":
            assert feats["uid"] != 0 and "of its own" in feats["user"], feats
        else:
            assert feats["uid"] == 0 and feats["seccomp"], feats
        if path.stem == "thread_bomb_small":
            assert result["kind"] == "action" and result["action"]["q"][0] < MAX_THREADS
        else:
            _assert_reached_nothing(path, result, victim)


@pytest.mark.skipif(os.getuid() != 0, reason="the layers under test need root")
def test_without_the_layers_the_corpus_does_reach(victim: Victim) -> None:
    """The control: with every layer skipped the same controllers change the victim and say
    so, which is what gives the tests above their teeth."""
    paths = [HOSTILE / f"{stem}.py" for stem in REACH_VICTIM]
    tree = run_in_tree(paths, {"victim": victim.pid, "shmid": victim.shmid}, ALL_LAYERS)
    assert tree.rc == 0, tree.err[-1500:]
    for path, result in zip(paths, tree.results, strict=True):
        assert result["kind"] == "exception" and "REACHED" in result["text"], path.stem
        assert result["changes"]["victim"] or path.stem == "reach_sysv_shm", path.stem
    assert victim.changes()


def _uids(pid: int) -> list[int]:
    with open(f"/proc/{pid}/status") as fh:
        line = next(line for line in fh if line.startswith("Uid:"))
    return [int(v) for v in line.split()[1:]]


def _caps(pid: int) -> dict[str, int]:
    with open(f"/proc/{pid}/status") as fh:
        return {k: int(v, 16) for k, v in (ln.split(":") for ln in fh if ln.startswith("Cap"))}


def _processes_with_uid(uid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if uid in _uids(int(entry)):
                    found.append(int(entry))
            except (OSError, StopIteration):
                pass
    return found


@pytest.mark.skipif(os.getuid() != 0, reason="a uid of its own needs root")
def test_each_child_runs_as_a_uid_no_other_process_has() -> None:
    """Two live children: each has one uid for real, effective, saved and fs ids, no two share
    it, no other process on the machine has it, and at most CAP_DAC_READ_SEARCH is left."""
    with ControllerProcess(TEST_LIMITS) as a, ControllerProcess(TEST_LIMITS) as b:
        a.warm_up()
        b.warm_up()
        pids = [a._spare.proc.pid, b._spare.proc.pid]
        uids = [_uids(pid) for pid in pids]
        holders = {u[0]: _processes_with_uid(u[0]) for u in uids}
        caps = [_caps(pid) for pid in pids]
        feats = a.features
    assert all(len(set(u)) == 1 and u[0] != 0 for u in uids), uids
    assert uids[0] != uids[1], "two live controllers share a uid"
    for (uid, *_), pid in zip(uids, pids, strict=True):
        assert holders[uid] == [pid], f"uid {uid} is also used by {holders[uid]}"
    for cap in caps:
        assert cap["CapPrm"] | cap["CapEff"] | cap["CapBnd"] in (0, 1 << 2), cap
        assert cap["CapInh"] == cap["CapAmb"] == 0, cap
    assert feats["uid"] == uids[0][0]


@pytest.mark.skipif(os.getuid() != 0, reason="a uid of its own needs root")
def test_only_an_unreadable_python_keeps_a_capability() -> None:
    """CAP_DAC_READ_SEARCH is kept only when something it must read is not world-readable."""
    readable = harden.SandboxConfig(workdir="/tmp", read_paths=("/usr/lib", "/lib"))
    unreadable = harden.SandboxConfig(workdir="/tmp", read_paths=("/usr/lib", "/root"))
    uid = harden.UID_BASE + os.getpid()
    assert harden._choose_user(readable) == ("own", uid, 0)
    assert harden._choose_user(unreadable) == ("own", uid, 1 << harden.CAP_DAC_READ_SEARCH)
    skipped = harden.SandboxConfig(workdir="/tmp", read_paths=(), skip=("own_uid",))
    assert harden._choose_user(skipped) == ("root", 0, 0)


HOLD_THREADS = """
import ctypes, threading, time

class Controller:
    def __init__(self, robot):
        self.n = 0

    def reset(self, obs):
        ctypes.CDLL(None).mallopt(-8, 1)  # M_ARENA_MAX: so that RLIMIT_AS does not end it
        threading.stack_size(32 << 10)
        try:
            while self.n < 1000:
                threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
                self.n += 1
        except RuntimeError:
            pass

    def step(self, obs):
        return {"q": [float(self.n)]}
"""


def test_threads_are_bounded_per_controller() -> None:
    """A thread bomb stops at the bound; a second controller alive at the same time gets its
    own full allowance (the bound is per controller, not shared), and both still answer."""
    counts = []
    with ControllerProcess(TEST_LIMITS) as a, ControllerProcess(TEST_LIMITS) as b:
        for host in (a, b):  # a keeps its threads while b starts its own
            host.load(HOLD_THREADS, "threads.py", ROBOT)
            host.reset(obs())
            counts.append(host.step(obs())["q"][0])
        assert a.step(obs())["q"][0] == counts[0]  # the bombed child still serves
    assert 0 < counts[0] < MAX_THREADS, counts
    assert counts[1] == counts[0], f"the second controller got {counts[1]}, the first {counts[0]}"
