"""Simulator benchmark: physics steps/s, episode reset, controller load, 5 s episode wall time.

.venv/bin/python -m benchmarks.sim
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from pathlib import Path

import numpy as np

from loop.sim.evaluator import Evaluator
from loop.sim.kinds import get_kind
from loop.sim.world import World
from loop.task.catalog import load_task
from robots import robot_info, robot_spec

REFERENCE = Path(__file__).resolve().parent.parent / "tasks" / "reference" / "reach.py"


def physics_steps_per_s(steps: int = 20000) -> float:
    task = load_task("reach")
    world = World(robot_spec("panda"), robot_info("panda", task.control_dt))
    world.save()
    world.restore()
    world.step(240)
    q = world.joint_state()[0]
    start = time.perf_counter()
    for _ in range(steps // task.substeps):  # trivial controller: hold q each control tick
        world.hold(q)
        world.step(task.substeps)
    rate = steps / (time.perf_counter() - start)
    world.close()
    return rate


def reset_ms(n: int = 200) -> float:
    task = load_task("reach")
    world = World(robot_spec("panda"), robot_info("panda", task.control_dt))
    kind = get_kind(task.kind)(task)
    kind.build(world)
    world.save()
    times = []
    for seed in range(n):
        start = time.perf_counter()
        world.restore()
        kind.reset(world, np.random.default_rng(seed))
        times.append(time.perf_counter() - start)
        world.step(10)
    world.close()
    return 1000 * statistics.median(times)


def load_and_episode(host: str, n: int = 20) -> tuple[float, float]:
    task = dataclasses.replace(load_task("reach"), episode_s=5.0)
    code = REFERENCE.read_text()
    with Evaluator(task, workers=1, host=host) as ev:
        loads = []
        for i in range(n):
            loads.append(ev.load(code + f"\n# version {i}\n", "controller.py").seconds)
            time.sleep(0.5)  # let the host warm its next spare, as a generation does
        walls = [r.wall_s for r in ev.simulate(list(range(5)))]
    return 1000 * statistics.median(loads), statistics.median(walls)


def main() -> None:
    rows = []
    steps = physics_steps_per_s()
    rows.append(("physics steps/s (Panda, 1 core)", f"{steps:,.0f}", ">= 20,000", steps / 20000))
    reset = reset_ms()
    rows.append(("episode reset (restoreState), ms", f"{reset:.3f}", "saved state", None))
    for host in ("inprocess", "process"):
        try:
            load, wall = load_and_episode(host)
        except Exception as exc:  # noqa: BLE001 - report and go on
            rows.append((f"{host} host", f"failed: {exc}", "", None))
            continue
        rows.append((f"controller load, {host} host, ms", f"{load:.2f}", "< 5 ms", 5.0 / load))
        rows.append(
            (f"5 s episode wall time, {host} host, s", f"{wall:.3f}", "(5 s real time)", 5.0 / wall)
        )
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>12}  {'target':>16}  ratio (>1 = better)")
    for name, value, target, ratio in rows:
        r = f"{ratio:.2f}x" if ratio is not None else ""
        print(f"{name:<{width}}  {value:>12}  {target:>16}  {r}")


if __name__ == "__main__":
    main()
