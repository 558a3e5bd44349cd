"""Warm sim workers: one process per worker, each with its own PyBullet world and controller host.

The parent sends ("load", code, filename) to every worker and ("run", seed) to idle workers;
a worker that dies or misses its deadline is killed, replaced (world rebuilt, current
controller reloaded) and its episode is reported as failed with the reason.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from multiprocessing.connection import Connection, wait
from typing import Any

from loop import ROOT
from loop.sandbox.host import ControllerFailure, Limits
from loop.sim.record import EpisodeRecord, failed_record
from loop.task.spec import TaskSpec

START_TIMEOUT_S = 60.0
NO_PIN_ENV = "ARMLOOP_NO_PIN"  # set to 1: leave sim workers free to move between cores


def available_cores() -> int:
    """The cores this process may run on (its affinity mask, not the machine's count)."""
    return len(os.sched_getaffinity(0))


def worker_count(episodes: int) -> int:
    """The one rule for sizing a pool: a worker per episode run at once, at most one per core."""
    return max(1, min(available_cores(), episodes))


def core_for(index: int) -> int | None:
    """The core worker `index` (and its controller children) runs on, or None to leave it to
    the scheduler. A worker and its controller take turns (one waits while the other runs),
    so one core serves both, and each tick's hand-over wakes a process on a busy core rather
    than on an idle one, which costs a virtual machine ~100 us
    (`python -m benchmarks.isolation`)."""
    cores = sorted(os.sched_getaffinity(0))
    if os.environ.get(NO_PIN_ENV) == "1" or len(cores) < 2:
        return None
    return cores[index % len(cores)]


def pin_to(core: int | None) -> None:
    """Pin this process before it starts threads or children: they inherit the affinity."""
    if core is None:
        return
    try:
        for tid in os.listdir("/proc/self/task"):  # any thread already started, too
            os.sched_setaffinity(int(tid), {core})
    except OSError:  # a cpuset that changed under us: run unpinned
        pass


def worker_main(conn: Connection) -> None:
    from loop.sandbox.wire import on_hangup
    from loop.sim.episode import run_episode
    from loop.sim.hosts import make_host
    from loop.sim.kinds import get_kind
    from loop.sim.world import World
    from robots import robot_info, robot_spec

    on_hangup(conn.fileno(), lambda: os._exit(1))  # armloop is gone: nobody to report to
    task, gui, host_kind, limits = conn.recv()
    info = robot_info(task.robot, task.control_dt)
    world = World(robot_spec(task.robot), info, gui=gui)
    kind = get_kind(task.kind)(task)
    kind.build(world)
    world.save()
    host = make_host(host_kind, limits)
    robot = {"name": task.robot, "control_dt": task.control_dt}
    conn.send(("ready", None))
    try:
        while True:
            msg = conn.recv()
            if msg[0] == "load":
                start = time.perf_counter()
                try:
                    host.load(msg[1], msg[2], robot)
                    conn.send(("loaded", time.perf_counter() - start))
                except ControllerFailure as exc:
                    conn.send(("load_failed", exc.to_dict()))
            elif msg[0] == "run":
                conn.send(("record", run_episode(world, kind, host, task, msg[1], realtime=gui)))
            else:
                break
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        host.close()
        world.close()


class Worker:
    """A sim worker: `python -m loop.sim.pool FD` over a socketpair (no re-import of __main__)."""

    def __init__(
        self, task: TaskSpec, gui: bool, host: str, limits: Limits, core: int | None = None
    ) -> None:
        ours, theirs = socket.socketpair()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "loop.sim.pool", str(theirs.fileno()), str(core)],
            pass_fds=(theirs.fileno(),),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        theirs.close()
        self.conn = Connection(ours.detach())
        self.conn.send((task, gui, host, limits))
        self.deadline = 0.0

    def wait_ready(self) -> None:
        if not self.conn.poll(START_TIMEOUT_S):
            self.kill()
            raise RuntimeError("sim worker did not start within 60 s")
        self.conn.recv()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(("close",))
        except (OSError, BrokenPipeError):
            pass
        try:
            self.proc.wait(2)
        except subprocess.TimeoutExpired:
            pass
        self.kill()


class SimPool:
    """N warm workers for one task."""

    def __init__(
        self,
        task: TaskSpec,
        workers: int,
        gui: bool = False,
        host: str = "auto",
        limits: Limits = Limits(),
        first_core: int = 0,
    ) -> None:
        self.task, self.gui, self.host, self.limits = task, gui, host, limits
        self.first_core = first_core  # several pools side by side take turns on the cores
        self.code: tuple[str, str] | None = None
        self.deadline_s: float | None = None  # override of episode_deadline_s
        self.workers = [self._new(i) for i in range(workers)]
        for w in self.workers:
            w.wait_ready()

    def _new(self, index: int) -> Worker:
        return Worker(
            self.task, self.gui, self.host, self.limits, core_for(self.first_core + index)
        )

    @property
    def episode_deadline_s(self) -> float:
        """Wall time after which a busy worker is killed (a hang the host could not stop)."""
        if self.deadline_s is not None:
            return self.deadline_s
        lim = self.limits
        return lim.init_s + lim.episode_s + 2 * self.task.episode_s + 5.0

    def load(self, code: str, filename: str) -> dict[str, Any] | None:
        """Load into every worker; None if all loaded, else the first failure dict."""
        self.code = (code, filename)
        for w in self.workers:
            w.conn.send(("load", code, filename))
        failure = None
        for i, w in enumerate(self.workers):
            reply = self._recv(w, self.limits.load_s + 10.0)
            if reply is None:
                self._replace(i)
                failure = failure or {"kind": "crash", "message": "sim worker died while loading"}
            elif reply[0] == "load_failed":
                failure = failure or reply[1]
        return failure

    def _recv(self, w: Worker, timeout: float):
        try:
            return w.conn.recv() if w.conn.poll(timeout) else None
        except (EOFError, OSError):
            return None

    def _replace(self, i: int) -> None:
        self.workers[i].kill()
        w = self._new(i)
        w.wait_ready()
        if self.code is not None:
            w.conn.send(("load", *self.code))
            self._recv(w, self.limits.load_s + 10.0)
        self.workers[i] = w

    def run(self, seeds: list[int]) -> list[EpisodeRecord]:
        pending, done = list(seeds), {}
        idle = list(range(len(self.workers)))
        busy: dict[int, int] = {}
        while pending or busy:
            while pending and idle:
                i = idle.pop()
                seed = pending.pop(0)
                self.workers[i].conn.send(("run", seed))
                self.workers[i].deadline = time.monotonic() + self.episode_deadline_s
                busy[i] = seed
            conns = {self.workers[i].conn: i for i in busy}
            timeout = max(0.0, min(self.workers[i].deadline for i in busy) - time.monotonic())
            ready = wait(list(conns), timeout=timeout)
            for i in [conns[c] for c in ready]:
                seed = busy.pop(i)
                done[seed] = self._result(i, seed)
                idle.append(i)
            now = time.monotonic()
            for i in [i for i in busy if self.workers[i].deadline <= now]:
                seed = busy.pop(i)
                done[seed] = self._lost(
                    i,
                    seed,
                    "timeout",
                    f"episode exceeded {self.episode_deadline_s:.0f} s wall time (hung)",
                )
                idle.append(i)
        return [done[s] for s in seeds]

    def _result(self, i: int, seed: int) -> EpisodeRecord:
        try:
            return self.workers[i].conn.recv()[1]
        except (EOFError, OSError):
            code = self.workers[i].proc.poll()
            return self._lost(i, seed, "crash", f"the simulator worker died (exit code {code})")

    def _lost(self, i: int, seed: int, kind: str, message: str) -> EpisodeRecord:
        self._replace(i)
        failure = {"kind": kind, "message": message + "; worker replaced", "traceback": ""}
        return failed_record(seed, failure)

    def close(self) -> None:
        for w in self.workers:
            w.stop()
        self.workers = []


if __name__ == "__main__":
    pin_to(int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] != "None" else None)
    worker_main(Connection(int(sys.argv[1])))
