"""Recording and replay: what recording a redraw costs the simulate stage, how large an
iteration's rollouts.npz is, and how fast `armloop replay` renders.

.venv/bin/python -m benchmarks.replay

- recording extras: the finger joints and observed target points the sim worker keeps for a
  redraw, per episode in process (reference reach controller), rounds interleaved, medians;
- writing rollouts.npz inside the simulate stage: the real stage (warm sandboxed workers, 3
  seeds) with and without the write, interleaved, medians;
- the file's size per iteration (3 seeds) for each task's reference controller;
- rendering: frames/s at 640x480 (TinyRenderer, both passes, trail and caption), and whole
  clips (.mp4 640x480 and .gif 320x240) including encoding.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from loop import TASKS_DIR
from loop.replay.clip import frames, plan, render_clip
from loop.replay.scene import Scene
from loop.replay.source import choose
from loop.run import stages
from loop.sandbox.host import Limits
from loop.sim.episode import Recorder, run_episode
from loop.sim.evaluator import Evaluator
from loop.sim.hosts import make_host
from loop.sim.kinds import get_kind
from loop.sim.rollouts import save_rollouts
from loop.sim.world import World
from loop.task.catalog import load_task
from robots import robot_info, robot_spec

SEEDS = (0, 1, 2)
TASKS = ("reach", "circle", "waypoints", "push", "pick_and_place", "stack", "kuka_reach")


class Bare(Recorder):
    """The recorder as it was before: no finger joints, no observed target points."""

    def __init__(self, world, n, marks=()):
        super().__init__(world, n, ())

    def sample_extras(self, i: int, obs: dict) -> None:
        pass


def reference(task: str) -> str:
    return (TASKS_DIR / "reference" / f"{task}.py").read_text()


def extras_per_episode(rounds: int = 21) -> tuple[float, float]:
    """Median episode wall time (s) with and without the extras, in process."""
    task = load_task("reach")
    world = World(robot_spec("panda"), robot_info("panda", task.control_dt))
    kind = get_kind(task.kind)(task)
    kind.build(world)
    world.save()
    host = make_host("inprocess", Limits())
    host.load(reference("reach"), "controller.py", {"name": "panda", "control_dt": task.control_dt})
    times: dict[str, list[float]] = {"with": [], "without": []}
    try:
        for k in range(rounds):
            for label, recorder in (("with", Recorder), ("without", Bare))[:: 1 - 2 * (k % 2)]:
                t0 = time.perf_counter()
                run_episode(world, kind, host, task, k % 3, recorder=recorder)
                times[label].append(time.perf_counter() - t0)
    finally:
        host.close()
        world.close()
    return statistics.median(times["with"]), statistics.median(times["without"])


def write_in_stage(rounds: int = 12) -> tuple[float, float, float]:
    """Median simulate stage (s) with and without writing rollouts.npz, and the write alone."""
    task = load_task("reach")
    out = Path(tempfile.mkdtemp(prefix="armloop-bench-")) / "rollouts.npz"
    times: dict[str, list[float]] = {"with": [], "without": [], "write": []}

    def sink(stage, seconds, ok, **extra):
        sink.last = (seconds, extra)

    with Evaluator(task) as ev:
        ev.load(reference("reach"))
        stages.simulate(sink, ev, SEEDS, None)  # warm
        for k in range(rounds):
            for label in ("with", "without")[:: 1 - 2 * (k % 2)]:
                target = out if label == "with" else None
                stages.simulate(sink, ev, SEEDS, None, task, target)
                seconds, extra = sink.last
                times[label].append(seconds)
                if label == "with":
                    times["write"].append(extra["rollouts_write_s"])
    return (
        statistics.median(times["with"]),
        statistics.median(times["without"]),
        statistics.median(times["write"]),
    )


def sizes() -> dict[str, tuple[int, int]]:
    """{task: (bytes of an iteration's rollouts.npz, ticks per episode)} for 3 seeds."""
    out: dict[str, tuple[int, int]] = {}
    folder = Path(tempfile.mkdtemp(prefix="armloop-bench-"))
    for name in TASKS:
        task = load_task(name)
        with Evaluator(task, host="inprocess") as ev:
            ev.load(reference(name))
            records = ev.simulate(SEEDS)
        out[name] = (save_rollouts(folder / f"{name}.npz", task, records), records[0].steps)
    return out


def render_rate(n: int = 60) -> tuple[float, float, float, Path]:
    """frames/s rendering at 640x480; clip frames/s for .mp4 640x480 and .gif 320x240."""
    folder = Path(tempfile.mkdtemp(prefix="armloop-bench-"))
    task = load_task("reach")
    with Evaluator(task, host="inprocess") as ev:
        ev.load(reference("reach"))
        save_rollouts(folder / "rollouts.npz", task, ev.simulate(SEEDS))
    choice = choose(folder, seed=1)
    with Scene(choice.task) as scene:
        p = plan(choice, scene, 640, 480)
        it = frames(choice, p, scene)
        next(it)  # the static pass happens once per camera
        t0 = time.perf_counter()
        count = 0
        for _ in range(n):
            try:
                next(it)
            except StopIteration:
                break
            count += 1
        rate = count / (time.perf_counter() - t0)
    mp4 = render_clip(choice, folder / "clip.mp4", 640, 480)
    gif = render_clip(choice, folder / "clip.gif", 320, 240)
    return rate, mp4.frames / mp4.seconds, gif.frames / gif.seconds, folder


def main() -> None:
    with_x, without_x = extras_per_episode()
    extra = with_x / without_x - 1
    print(
        f"recording extras, per reach episode in process (median of 21, interleaved): "
        f"{with_x * 1000:.1f} ms with, {without_x * 1000:.1f} ms without: {extra:+.1%}"
    )
    with_w, without_w, write = write_in_stage()
    stage = with_w / without_w - 1
    print(
        f"simulate stage, reach, 3 seeds, sandboxed workers (median of 12, interleaved): "
        f"{with_w * 1000:.0f} ms writing rollouts.npz, {without_w * 1000:.0f} ms without "
        f"({stage:+.1%}); the write itself {write * 1000:.1f} ms ({write / without_w:.1%})"
    )
    total = max(extra, 0.0) + write / without_w
    verdict = "within" if total <= 0.05 else "OVER"
    print(
        f"recording overhead on the simulate stage: {total:.1%} (extras + write; {verdict} "
        f"the 5% budget), ratio {1 + total:.3f}"
    )
    print("\nrollouts.npz per iteration (3 seeds, reference controllers):")
    for name, (size, ticks) in sizes().items():
        print(f"  {name:<16} {size / 1024:7.1f} KiB  ({ticks} ticks per episode)")
    rate, mp4, gif, folder = render_rate()
    print(
        f"\nrendering at 640x480 (TinyRenderer, both passes, trail and caption): "
        f"{rate:.1f} frames/s"
    )
    print(
        f"whole clips with encoding: .mp4 640x480 {mp4:.1f} frames/s, .gif 320x240 "
        f"{gif:.1f} frames/s (in {folder})"
    )
    print(
        f"a 3 s reach clip ({int(3 * 30 + 31)} frames with the held end) takes about "
        f"{121 / mp4:.1f} s as .mp4"
    )


if __name__ == "__main__":
    main()
