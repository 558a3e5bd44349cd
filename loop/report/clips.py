"""The report's videos: each iteration's worst-seed clip in the report folder (clips/).

A clip already in clips/ is kept; one that `armloop run --video` left beside the recording is
copied; otherwise it is rendered from iter_NNN/rollouts.npz. An iteration whose recording is
missing (a run from before recordings, an iteration that ran nothing) or damaged gets a Video
without a file and the reason, so the page still shows everything else.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from loop.errors import ArmloopError
from loop.replay.clip import SIZE, clip_path, render_clip
from loop.replay.scene import Scene
from loop.replay.source import Choice, choose

FOLDER = "clips"


@dataclass(frozen=True)
class Video:
    """One iteration's clip: `src` relative to the report folder, or None and why not."""

    src: str | None
    note: str


@dataclass
class Clips:
    """Renders into OUT/clips/, reusing one warm Scene per task spec."""

    out: Path
    render: bool = True  # False: no rendering (the bench's own report); clips/ files still used
    scenes: dict[str, Scene] = field(default_factory=dict)

    def video(self, run: Path, index: int, slug: str) -> Video:
        try:
            choice = choose(run, index)
        except ArmloopError as exc:
            return Video(None, exc.problem + (f" (fix: {exc.fix})" if exc.fix else ""))
        note = _note(choice)
        name = f"{slug}-iter_{index:03d}-seed{choice.seed}.mp4"
        target = self.out / FOLDER / name
        if target.is_file():
            return Video(f"{FOLDER}/{name}", note)
        made = clip_path(choice)
        if made.is_file() and made.stat().st_mtime >= choice.rollouts.path.stat().st_mtime:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(made, target)
            return Video(f"{FOLDER}/{name}", note)
        if not self.render:
            return Video(None, f"not rendered here; `armloop report {run}` renders it")
        try:
            render_clip(choice, target, *SIZE, scene=self._scene(choice))
        except Exception as exc:  # noqa: BLE001 - one clip that fails must not lose the page
            return Video(None, f"could not render: {type(exc).__name__}: {exc}")
        return Video(f"{FOLDER}/{name}", note)

    def _scene(self, choice: Choice) -> Scene:
        key = choice.rollouts.task_toml or choice.task.name
        if key not in self.scenes:
            self.scenes[key] = Scene(choice.task)
        return self.scenes[key]

    def close(self) -> None:
        for scene in self.scenes.values():
            scene.close()
        self.scenes.clear()


def _note(choice: Choice) -> str:
    verdict = "success" if choice.result.success else "failed"
    return f"seed {choice.seed} (worst), score {choice.result.score:.2f}, {verdict}"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "run"
