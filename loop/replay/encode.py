"""Frames to a file: .mp4 (H.264, yuv420p, through the ffmpeg that imageio-ffmpeg ships) or an
animated .gif / .webp (Pillow). A writer takes RGB frames one at a time; `close()` finishes
the file (written to a temporary name, then renamed, so a failed encode leaves no clip)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from loop.errors import ArmloopError

FORMATS = (".mp4", ".gif", ".webp")
GIF_FPS = 25  # GIF delays are in 1/100 s: 25 frames/s is exact, 30 is not


class FrameWriter(Protocol):
    def add(self, rgb: np.ndarray) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


def check_format(path: Path, width: int, height: int) -> str:
    """The file's format ('.mp4', '.gif', '.webp'), or an ArmloopError saying what to use."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ArmloopError(
            f"cannot write {path}: unknown video format {suffix or '(none)'}",
            "name the file .mp4, .gif or .webp",
        )
    if suffix == ".mp4" and (width % 2 or height % 2):
        raise ArmloopError(
            f"--size {width}x{height}: H.264 (yuv420p) needs an even width and height",
            "use even numbers, e.g. --size 640x480",
        )
    return suffix


def open_writer(path: Path, width: int, height: int, fps: float) -> FrameWriter:
    suffix = check_format(path, width, height)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".mp4":
        return Mp4Writer(Path(path), width, height, fps)
    return AnimationWriter(Path(path), fps, suffix)


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.stem}.tmp{path.suffix}")


class Mp4Writer:
    """H.264 in yuv420p with the index at the front (+faststart): what browsers play."""

    def __init__(self, path: Path, width: int, height: int, fps: float) -> None:
        import imageio_ffmpeg

        self.path, self.tmp = path, _temporary(path)
        self._gen = imageio_ffmpeg.write_frames(
            str(self.tmp),
            (width, height),
            fps=fps,
            codec="libx264",
            pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p",
            quality=None,
            macro_block_size=1,
            ffmpeg_log_level="error",
            output_params=["-preset", "veryfast", "-crf", "23", "-movflags", "+faststart"],
        )
        self._gen.send(None)

    def add(self, rgb: np.ndarray) -> None:
        self._gen.send(np.ascontiguousarray(rgb, dtype=np.uint8).tobytes())

    def close(self) -> None:
        try:
            self._gen.close()
        except Exception:
            self.tmp.unlink(missing_ok=True)
            raise
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        try:
            self._gen.close()
        finally:
            self.tmp.unlink(missing_ok=True)


class AnimationWriter:
    """Animated GIF (an adaptive palette per frame) or WebP; frames are kept until close()."""

    def __init__(self, path: Path, fps: float, suffix: str) -> None:
        self.path, self.suffix = path, suffix
        self.duration = round(1000.0 / fps)
        if suffix == ".gif":
            self.duration = 10 * round(100.0 / fps)  # what a GIF can hold
        self.frames: list[Image.Image] = []

    def add(self, rgb: np.ndarray) -> None:
        image = Image.fromarray(np.asarray(rgb, dtype=np.uint8))
        if self.suffix == ".gif":
            image = image.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=0)
        self.frames.append(image)

    def close(self) -> None:
        if not self.frames:
            raise ArmloopError(f"no frames to write to {self.path}", "")
        first, rest = self.frames[0], self.frames[1:]
        tmp = _temporary(self.path)
        options: dict = {"save_all": True, "append_images": rest, "loop": 0}
        if self.suffix == ".gif":
            options.update(duration=self.duration, disposal=1, optimize=False)
        else:
            options.update(duration=self.duration, quality=80, method=4)
        first.save(tmp, format=self.suffix[1:].upper(), **options)
        os.replace(tmp, self.path)
        self.frames = []

    def abort(self) -> None:
        self.frames = []
