"""Cost of isolating the controller: `.venv/bin/python -m benchmarks.isolation`.

Prints per-step round-trip latency of ControllerProcess (median, p90), load time into a warm
spare, and the episode wall time with the hardened child vs InProcessController (the ratio
the design aims to keep under 1.3x), unpinned and pinned to one core as sim workers run.
Needs the simulator for the episode part; without it, only the step-loop cost is measured,
and the output says so.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from loop.sandbox.host import Limits
from loop.sandbox.process import ControllerProcess
from loop.sim.pool import NO_PIN_ENV

REPO = Path(__file__).resolve().parent.parent
ROBOT = {"name": "panda", "control_dt": 1 / 30}
TRIVIAL = """
class Controller:
    def __init__(self, robot):
        self.robot = robot

    def step(self, obs):
        return {"ee_pos": obs["target_pos"]}
"""
OBS = {
    "t": 0.0,
    "q": [0.1] * 7,
    "dq": [0.0] * 7,
    "ee_pos": [0.4, 0.0, 0.5],
    "ee_quat": [0.0, 0.0, 0.0, 1.0],
    "gripper": 0.04,
    "target_pos": [0.5, 0.1, 0.3],
}


def _pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def step_latency(n: int = 5000) -> list[float]:
    with ControllerProcess() as host:
        host.load(TRIVIAL, "controller.py", ROBOT)
        host.reset(OBS)
        times = []
        for _ in range(n):
            start = time.perf_counter()
            host.step(OBS)
            times.append(time.perf_counter() - start)
    return times


def warm_load(n: int = 20) -> list[float]:
    times = []
    with ControllerProcess() as host:
        for i in range(n):
            host.warm_up()  # the spare is spawned and hardened: what the sim sees
            start = time.perf_counter()
            host.load(TRIVIAL + f"\n# v{i}\n", "controller.py", ROBOT)
            times.append(time.perf_counter() - start)
    return times


class _EpisodeBench:
    """One warm world and one controller host, as in a sim worker; `run` times episodes."""

    def __init__(self, host_kind: str, task_name: str) -> None:
        from loop.sim.hosts import make_host
        from loop.sim.kinds import get_kind
        from loop.sim.world import World
        from loop.task.catalog import load_task
        from robots import robot_info, robot_spec

        self.task = task = load_task(task_name)
        info = robot_info(task.robot, task.control_dt)
        self.world = World(robot_spec(task.robot), info, gui=False)
        self.kind = get_kind(task.kind)(task)
        self.kind.build(self.world)
        self.world.save()
        self.host = make_host(host_kind, Limits())
        code = (REPO / "tasks" / "reference" / f"{task_name}.py").read_text()
        self.host.load(code, "controller.py", {"name": task.robot, "control_dt": task.control_dt})
        getattr(self.host, "warm_up", lambda: None)()  # the next spare is not episode time

    def run(self, seeds: int) -> float:
        """Mean wall time of one episode over `seeds` episodes."""
        from loop.sim.episode import run_episode

        start = time.perf_counter()
        for seed in range(seeds):
            record = run_episode(self.world, self.kind, self.host, self.task, seed)
            assert record.failure is None, record.failure
        return (time.perf_counter() - start) / seeds

    def close(self) -> None:
        self.host.close()
        self.world.close()


def episode_ratio(task: str = "reach", seeds: int = 10, rounds: int = 5) -> dict[str, Any]:
    """Rounds alternate the two hosts so that load from other processes hits both alike; the
    ratio is of the median round."""
    try:
        benches = {kind: _EpisodeBench(kind, task) for kind in ("inprocess", "process")}
    except Exception as exc:  # noqa: BLE001 - simulator missing or not ready yet
        return {"error": f"{type(exc).__name__}: {exc}"}
    try:
        for bench in benches.values():
            bench.run(1)  # warm caches
        times: dict[str, list[float]] = {kind: [] for kind in benches}
        for _ in range(rounds):
            for kind, bench in benches.items():
                times[kind].append(bench.run(seeds))
    finally:
        for bench in benches.values():
            bench.close()
    inproc, proc = (statistics.median(times[k]) for k in ("inprocess", "process"))
    n_steps = benches["process"].task.n_ticks
    return {
        "task": task,
        "inprocess_s": inproc,
        "process_s": proc,
        "ratio": proc / inproc,
        "overhead_per_step_s": (proc - inproc) / n_steps,
    }


def pinned_ratio() -> None:
    """The episode ratio as sim workers run: this process and its controller children pinned
    to one core (loop/sim/pool.py), printed by a child run of this module."""
    from loop.sim.pool import core_for, pin_to

    pin_to(core_for(0))
    ep = episode_ratio()
    if "error" not in ep:
        print(
            f"  pinned to one core, as sim workers run (default): in-process "
            f"{ep['inprocess_s'] * 1e3:.1f} ms, hardened child {ep['process_s'] * 1e3:.1f} ms, "
            f"ratio {ep['ratio']:.2f}x (target < 1.3x); "
            f"{ep['overhead_per_step_s'] * 1e6:.0f} us per step"
        )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if "--pinned" in argv:
        pinned_ratio()
        return
    steps = step_latency()
    print(
        f"step round trip (ControllerProcess): median {statistics.median(steps) * 1e6:.0f} us,"
        f" p90 {_pct(steps, 0.9) * 1e6:.0f} us  ({len(steps)} steps)"
    )
    loads = warm_load()
    print(
        f"load into a warm spare: median {statistics.median(loads) * 1e3:.2f} ms, "
        f"p90 {_pct(loads, 0.9) * 1e3:.2f} ms  (target < 5 ms)"
    )
    ep = episode_ratio()
    if "error" in ep:
        print(
            f"episode ratio: not measured, simulator unavailable ({ep['error']}); "
            "step-loop cost only, above"
        )
        return
    print(f"episode wall time, task {ep['task']}:")
    print(
        f"  unpinned ({NO_PIN_ENV}=1): in-process {ep['inprocess_s'] * 1e3:.1f} ms, "
        f"hardened child {ep['process_s'] * 1e3:.1f} ms, ratio {ep['ratio']:.2f}x; "
        f"{ep['overhead_per_step_s'] * 1e6:.0f} us per step"
    )
    # most of a step's cost unpinned is waking the other process on an idle core
    subprocess.run(
        [sys.executable, "-m", "benchmarks.isolation", "--pinned"], cwd=REPO, check=False
    )


if __name__ == "__main__":
    main()
