"""`armloop replay RUN_DIR [--iter N] [--seed S] [--out FILE] [--size WxH] [--fps F] [--gui]`."""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console

from loop.errors import ArmloopError
from loop.replay.clip import SIZE, Clip, clip_path, render_clip
from loop.replay.source import Choice, choose

console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text or "")
    if not match:
        raise ArmloopError(f"--size {text!r} is not WIDTHxHEIGHT", "e.g. --size 640x480")
    width, height = int(match.group(1)), int(match.group(2))
    if not (16 <= width <= 3840 and 16 <= height <= 2160):
        raise ArmloopError(f"--size {text}: out of range", "give 16x16 to 3840x2160")
    return width, height


def describe(choice: Choice) -> str:
    where = f"iteration {choice.iteration}, " if choice.iteration is not None else ""
    verdict = "success" if choice.result.success else "failed"
    score = choice.result.score
    return f"{choice.task.name}, {where}seed {choice.seed}: score {score:.2f} ({verdict})"


def replay_command(
    run_dir: Path,
    *,
    iteration: int | None = None,
    seed: int | None = None,
    out: Path | None = None,
    size: str = f"{SIZE[0]}x{SIZE[1]}",
    fps: float | None = None,
    gui: bool = False,
) -> Clip | None:
    """Replay one recorded episode: to a file, or in PyBullet's window with --gui."""
    width, height = parse_size(size)
    if fps is not None and not 0 < fps <= 240:
        raise ArmloopError(f"--fps {fps:g} is out of range", "give a rate in (0, 240], e.g. 30")
    choice = choose(Path(run_dir), iteration, seed)
    rate = 1.0 / choice.rollouts.dt
    if fps is not None and fps > rate:
        err.print(f"--fps {fps:g}: the recording has {rate:g} frames/s; using {rate:g}")
        fps = rate
    if gui:
        from loop.replay.gui import display, play

        if display():
            console.print(f"playing {describe(choice)} in the PyBullet window")
            play(choice)
            if out is None:
                return None
        else:
            err.print("[yellow]--gui: no display (DISPLAY is not set); writing a video file[/]")
    target = Path(out) if out is not None else clip_path(choice)
    clip = render_clip(choice, target, width, height, fps)
    console.print(
        f"{describe(choice)}\n{clip.path}: {clip.frames} frames at {clip.fps:g} frames/s, "
        f"{width}x{height}, rendered in {clip.seconds:.1f} s"
    )
    return clip
