"""Clips made as a run goes: `armloop run --video` after each iteration, `armloop watch
--video` after each saved controller.

Each clip is rendered after the iteration's folder (feedback included) is written, outside
every timed stage, and recorded as a `render` event (events.jsonl), which cycle_s never
counts; the run's summary.json adds the seconds spent as `render_s`, so wall_s = setup_s.total
+ the cycles + render_s. A clip that cannot be made is a failed render event, never a failed
run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loop.errors import ArmloopError
from loop.replay.clip import SIZE, clip_path, render_clip
from loop.replay.source import choose

if TYPE_CHECKING:
    from loop.run.loop import IterationHook, Loop
    from loop.run.records import IterationRecord

Say = Callable[[str], None]


def render(source: Path, iteration: int | None = None) -> tuple[float, bool, dict[str, Any]]:
    """The worst seed's clip of `source` (a run directory and iteration, or a folder holding a
    rollouts.npz) beside its recording: (seconds, ok, event fields)."""
    t0 = time.perf_counter()
    try:
        choice = choose(source, iteration)
        clip = render_clip(choice, clip_path(choice), *SIZE)
        extra: dict[str, Any] = {
            "path": str(clip.path),
            "seed": choice.seed,
            "score": choice.result.score,
            "frames": clip.frames,
        }
        ok = True
    except ArmloopError as exc:
        ok, extra = False, {"error": exc.problem}
    except Exception as exc:  # noqa: BLE001 - a clip that cannot be made never stops the run
        ok, extra = False, {"error": f"{type(exc).__name__}: {exc}"}
    return time.perf_counter() - t0, ok, extra


def iteration_clips(say: Say | None = None) -> IterationHook:
    """LoopHooks.after_iteration for `armloop run --video`."""

    def after(loop: Loop, record: IterationRecord) -> None:
        if not loop.rundir.rollouts_path(record.index).is_file():
            return  # nothing was simulated (no code, a repeat, a load failure)
        seconds, ok, extra = render(loop.rundir.path, record.index)
        loop.rundir.events.write(record.index, "render", seconds, ok, **extra)
        loop.labels["render_s"] = float(loop.labels.get("render_s", 0.0)) + seconds
        if say:
            say(_line(record.index, ok, extra))

    return after


def _line(index: int, ok: bool, extra: dict[str, Any]) -> str:
    if ok:
        return f"iteration {index}: clip of seed {extra['seed']} -> {extra['path']}"
    return f"iteration {index}: no clip ({extra.get('error')})"
