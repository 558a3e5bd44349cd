"""Recording and replay: what recording a redraw costs the simulate stage, how large an
iteration's rollouts.npz is, and how fast `armloop replay` renders.

.venv/bin/python -m benchmarks.replay

- recording extras: the finger joints and observed target points the sim worker keeps for a
  redraw, timed per control tick on the recorder itself (too small to see in an episode's
  run-to-run noise), against a reference reach episode's wall time;
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

import numpy as np

from loop import TASKS_DIR
from loop.replay.clip import frames, plan, render_clip
from loop.replay.scene import Scene
from loop.replay.source import choose
from loop.run import stages
from loop.sandbox.host import Limits
from loop.sim.episode import Recorder, observe, run_episode
from loop.sim.evaluator import Evaluator
from loop.sim.hosts import make_host
from loop.sim.kinds import get_kind
from loop.sim.record import MARK_KEYS
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


def extras_per_tick(ticks: int = 20000, rounds: int = 5) -> tuple[float, float, float]:
    """Seconds per control tick to sample the record with and without the extras (the
    recorder alone, on a real world and its observation), and a reference reach episode's
    median wall time in process, for scale."""
    task = load_task("reach")
    world = World(robot_spec("panda"), robot_info("panda", task.control_dt))
    kind = get_kind(task.kind)(task)
    kind.build(world)
    world.save()
    world.restore()
    kind.reset(world, np.random.default_rng(0))
    obs = observe(world, kind, 0.0)
    marks = tuple(k for k in MARK_KEYS if np.shape(obs.get(k)) == (3,))
    times: dict[str, list[float]] = {"with": [], "without": []}
    for k in range(rounds):
        for label, cls in (("with", Recorder), ("without", Bare))[:: 1 - 2 * (k % 2)]:
            rec = cls(world, ticks, marks)
            t0 = time.perf_counter()
            for _ in range(ticks):
                rec.sample(obs)
            times[label].append((time.perf_counter() - t0) / ticks)
    host = make_host("inprocess", Limits())
    host.load(reference("reach"), "controller.py", {"name": "panda", "control_dt": task.control_dt})
    episodes = []
    try:
        for seed in range(7):
            t0 = time.perf_counter()
            run_episode(world, kind, host, task, seed)
            episodes.append(time.perf_counter() - t0)
    finally:
        host.close()
        world.close()
    return min(times["with"]), min(times["without"]), statistics.median(episodes)


def write_in_stage(rounds: int = 16) -> tuple[float, float, float]:
    """The simulate stage (s) without writing rollouts.npz (median), the median of the paired
    differences with - without (each round runs both, in alternating order, so the machine's
    drift cancels), and the write alone (median)."""
    task = load_task("reach")
    out = Path(tempfile.mkdtemp(prefix="armloop-bench-")) / "rollouts.npz"
    without: list[float] = []
    diffs: list[float] = []
    writes: list[float] = []

    def sink(stage, seconds, ok, **extra):
        sink.last = (seconds, extra)

    with Evaluator(task) as ev:
        ev.load(reference("reach"))
        stages.simulate(sink, ev, SEEDS, None)  # warm
        for k in range(rounds):
            got: dict[str, float] = {}
            for label in ("with", "without")[:: 1 - 2 * (k % 2)]:
                stages.simulate(sink, ev, SEEDS, None, task, out if label == "with" else None)
                got[label] = sink.last[0]
                if label == "with":
                    writes.append(sink.last[1]["rollouts_write_s"])
            without.append(got["without"])
            diffs.append(got["with"] - got["without"])
    return statistics.median(without), statistics.median(diffs), statistics.median(writes)


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
    with_x, without_x, episode = extras_per_tick()
    ticks = load_task("reach").n_ticks + 1
    extra = (with_x - without_x) * ticks / episode
    print(
        f"recording extras: sampling a tick takes {with_x * 1e6:.1f} us with them, "
        f"{without_x * 1e6:.1f} us without (best of 5 x 20,000); x {ticks} ticks = "
        f"{(with_x - without_x) * ticks * 1000:.3f} ms of a {episode * 1000:.0f} ms reach "
        f"episode: {extra:+.2%}"
    )
    without_w, diff, write = write_in_stage()
    print(
        "simulate stage, reach, 3 seeds, sandboxed workers (16 paired rounds): "
        f"{without_w * 1000:.0f} ms without writing rollouts.npz, median paired difference "
        f"{diff * 1000:+.1f} ms ({diff / without_w:+.1%}); the write itself "
        f"{write * 1000:.1f} ms ({write / without_w:.1%})"
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
        "\nrendering at 640x480 (TinyRenderer, both passes, trail and caption): "
        f"{rate:.1f} frames/s"
    )
    print(
        "whole clips with encoding (the held last second needs no rendering): .mp4 640x480 "
        f"{mp4:.1f} frames/s, .gif 320x240 {gif:.1f} frames/s (in {folder})"
    )
    print(f"a 3 s reach clip (121 frames with the held end) takes about {121 / mp4:.1f} s as .mp4")


if __name__ == "__main__":
    main()
