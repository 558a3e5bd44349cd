"""What the replay draws over a rendered frame (Pillow): the end effector's path so far as a
trail, the circle a `circle` task follows, waypoint numbers, and a caption."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from loop.replay.camera import Camera

TRAIL = (255, 140, 0)  # the end effector's path
RING = (200, 60, 60)  # a circle task's reference path
TEXT = (255, 255, 255)


@dataclass(frozen=True)
class Overlay:
    """The fixed parts of one clip's drawing, projected once: the caption's first line, the
    trail's pixels (one per tick) and any reference path."""

    title: str
    trail: np.ndarray  # (n, 2) pixels of the end effector per tick
    ring: np.ndarray | None = None  # (m, 2) closed reference path in pixels
    labels: tuple[tuple[str, tuple[float, float]], ...] = ()  # waypoint numbers

    def draw(self, rgb: np.ndarray, tick: int, status: str) -> np.ndarray:
        """`rgb` with the trail up to `tick` and the caption (title, then `status`)."""
        image = Image.fromarray(rgb)
        draw = ImageDraw.Draw(image, "RGBA")
        h = image.height
        width = max(2, round(h / 200))
        if self.ring is not None and len(self.ring) > 2:
            draw.line(_points(np.vstack([self.ring, self.ring[:1]])), fill=RING, width=1)
        for text, (x, y) in self.labels:
            draw.text(
                (x + 6, y - 6),
                text,
                fill=TEXT,
                font=font(max(10, h // 32)),
                stroke_width=1,
                stroke_fill=(0, 0, 0),
            )
        path = self.trail[: tick + 1]
        if len(path) > 1:
            draw.line(_points(path), fill=TRAIL, width=width, joint="curve")
        if len(path):
            x, y = path[-1]
            r = width + 1
            draw.ellipse((x - r, y - r, x + r, y + r), fill=TRAIL)
        caption(draw, [self.title, status], h)
        return np.asarray(image)


def _points(px: np.ndarray) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in px]


@cache
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def caption(draw: ImageDraw.ImageDraw, lines: Sequence[str], height: int) -> None:
    """Lines of text on a dark band at the top left."""
    size = max(10, height // 28)
    f = font(size)
    pad = max(3, size // 3)
    widths = [draw.textlength(line, font=f) for line in lines]
    box = (0, 0, int(max(widths, default=0)) + 2 * pad, pad + len(lines) * (size + pad))
    draw.rectangle(box, fill=(0, 0, 0, 150))
    for k, line in enumerate(lines):
        draw.text((pad, pad + k * (size + pad)), line, fill=TEXT, font=f)


def reference_ring(episode: dict, cam: Camera) -> np.ndarray | None:
    """A circle task's path (episode centre and radius, horizontal) in pixels, else None."""
    if "center" not in episode or "radius" not in episode:
        return None
    center = np.asarray(episode["center"], dtype=float).reshape(3)
    a = np.linspace(0, 2 * np.pi, 96, endpoint=False)
    ring = center + float(episode["radius"]) * np.c_[np.cos(a), np.sin(a), np.zeros_like(a)]
    return cam.project(ring)


def waypoint_labels(episode: dict, cam: Camera) -> tuple[tuple[str, tuple[float, float]], ...]:
    if "waypoints" not in episode:
        return ()
    px = cam.project(np.asarray(episode["waypoints"], dtype=float).reshape(-1, 3))
    return tuple((str(k + 1), (float(x), float(y))) for k, (x, y) in enumerate(px))
