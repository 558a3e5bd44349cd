"""One rollout to one clip: pick the frames' ticks, frame the camera, render, draw, encode.

Frames follow the recording in real time at `fps` (default: the recording's rate, at most
30 frames/s; GIFs at most 25): frame k shows the tick nearest k / fps. The last frame is held
for HOLD_S so the end, and how the episode ended, can be read.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loop.replay.camera import Camera, frame
from loop.replay.encode import GIF_FPS, check_format, open_writer
from loop.replay.overlay import Overlay, reference_ring, waypoint_labels
from loop.replay.scene import Frame, Scene, marks_at
from loop.replay.source import Choice
from loop.sandbox.text import printable
from loop.sim.record import EpisodeRecord

MAX_FPS = 30.0
HOLD_S = 1.0
SIZE = (640, 480)


@dataclass(frozen=True)
class Clip:
    """A written clip: where, what it shows and how long it took to make."""

    path: Path
    camera: Camera
    fps: float
    ticks: tuple[int, ...]  # the record's tick shown by each frame (the held end included)
    seconds: float  # wall time to render and encode

    @property
    def frames(self) -> int:
        return len(self.ticks)


def clip_path(choice: Choice, suffix: str = ".mp4") -> Path:
    """Where a clip goes by default: beside its rollouts.npz, named for the seed."""
    return choice.rollouts.path.parent / f"rollout_seed{choice.seed}{suffix}"


def default_fps(rate: float, suffix: str = ".mp4") -> float:
    cap = GIF_FPS if suffix == ".gif" else MAX_FPS
    return min(rate, cap)


def frame_ticks(record: EpisodeRecord, dt: float, fps: float, hold_s: float = HOLD_S) -> list[int]:
    """The tick each frame shows: real time at `fps`, then the last tick held for `hold_s`."""
    n = record.steps
    if n == 0:
        return []
    duration = float(record.t[-1] - record.t[0])
    count = int(math.floor(duration * fps + 1e-9)) + 1
    ticks = [min(n - 1, int(round(k / fps / dt))) for k in range(count)]
    if ticks[-1] != n - 1:
        ticks.append(n - 1)
    return ticks + [n - 1] * int(round(hold_s * fps))


def framing_points(scene: Scene, record: EpisodeRecord) -> np.ndarray:
    """Everything the clip must show: the arm's links over the episode, the end-effector
    path, the recorded targets and the tracked objects."""
    points = [record.ee_pos]
    for i in range(0, record.steps, max(1, record.steps // 12)):
        scene.pose(record, i)
        points.append(scene.link_positions())
        points.extend(marks_at(record, i).values())
    points.extend(np.asarray(pose)[:, :3] for pose in record.objects.values() if len(pose))
    return np.concatenate([np.asarray(p, dtype=float).reshape(-1, 3) for p in points])


def camera_for(scene: Scene, record: EpisodeRecord, width: int, height: int) -> Camera:
    return frame(framing_points(scene, record), width, height)


def overlay_for(choice: Choice, cam: Camera) -> Overlay:
    r, ep = choice.record, choice.record.episode
    where = f"iteration {choice.iteration}" if choice.iteration is not None else "recording"
    verdict = "success" if choice.result.success else "failed"
    title = (
        f"{choice.task.name} · {where} · seed {choice.seed} · "
        f"score {choice.result.score:.2f} ({verdict})"
    )
    return Overlay(
        printable(title), cam.project(r.ee_pos), reference_ring(ep, cam), waypoint_labels(ep, cam)
    )


def status(record: EpisodeRecord, tick: int, held: bool) -> str:
    line = f"t = {record.t[tick]:.2f} s"
    if held and record.failure:
        kind = record.failure.get("kind", "failure")
        message = printable(str(record.failure.get("message", ""))).splitlines()
        first = message[0][:70] if message else ""
        line += f" · ended: {kind}" + (f": {first}" if first else "")
    elif held:
        line += " · end of episode"
    return line


@dataclass(frozen=True)
class Plan:
    """How one clip is drawn: its camera, overlay and the tick of every frame."""

    camera: Camera
    overlay: Overlay
    ticks: tuple[int, ...]
    fps: float


def plan(choice: Choice, scene: Scene, width: int, height: int, fps: float | None = None) -> Plan:
    fps = fps or default_fps(1.0 / choice.rollouts.dt)
    cam = camera_for(scene, choice.record, width, height)
    ticks = frame_ticks(choice.record, choice.rollouts.dt, fps)
    return Plan(cam, overlay_for(choice, cam), tuple(ticks), fps)


def frames(choice: Choice, plan: Plan, scene: Scene) -> Iterator[tuple[int, Frame, np.ndarray]]:
    """(tick, rendered frame, frame with trail and caption) for every frame of the clip."""
    record, ticks = choice.record, plan.ticks
    last: tuple[int, Frame] | None = None
    for k, tick in enumerate(ticks):
        if last is None or last[0] != tick:
            scene.pose(record, tick)
            last = (tick, scene.render(plan.camera))
        held = k > 0 and tick == record.steps - 1 and ticks[k - 1] == tick
        yield tick, last[1], plan.overlay.draw(last[1].rgb, tick, status(record, tick, held))


def render_clip(
    choice: Choice,
    out: Path,
    width: int = SIZE[0],
    height: int = SIZE[1],
    fps: float | None = None,
    scene: Scene | None = None,
) -> Clip:
    """Write the clip of `choice` to `out` (.mp4, .gif or .webp); a Scene of the same task
    can be passed in to be reused."""
    t0 = time.perf_counter()
    suffix = check_format(out, width, height)
    own = scene is None
    scene = scene or Scene(choice.task)
    try:
        p = plan(choice, scene, width, height, fps or default_fps(1.0 / choice.rollouts.dt, suffix))
        writer = open_writer(out, width, height, p.fps)
        try:
            for _, _, rgb in frames(choice, p, scene):
                writer.add(rgb)
        except BaseException:
            writer.abort()
            raise
        writer.close()
    finally:
        if own:
            scene.close()
    return Clip(Path(out), p.camera, p.fps, p.ticks, time.perf_counter() - t0)
