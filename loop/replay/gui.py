"""`armloop replay --gui`: the rollout played in PyBullet's window, in real time, once.

The same kinematic replay as the clips (loop/replay/scene.py posing the world tick by tick),
drawn by PyBullet's OpenGL window with the arm's own meshes; the trail is a debug line, the
caption debug text. Needs a display: `display()` says whether there is one.
"""

from __future__ import annotations

import os
import time

import pybullet as p

from loop.replay.clip import camera_for, overlay_for, status
from loop.replay.overlay import TRAIL
from loop.replay.scene import Scene
from loop.replay.source import Choice


def display() -> bool:
    """Whether PyBullet's window can open here (an X display is set)."""
    return bool(os.environ.get("DISPLAY"))


def play(choice: Choice, speed: float = 1.0, linger_s: float = 2.0) -> None:
    """Play `choice` once in a PyBullet window, then keep the last frame up for `linger_s`."""
    record, dt = choice.record, choice.rollouts.dt
    with Scene(choice.task, gui=True) as scene:
        c = scene.world.client
        cam = camera_for(scene, record, 640, 480)
        p.resetDebugVisualizerCamera(
            cam.distance, cam.yaw, cam.pitch, cam.target, physicsClientId=c
        )
        title = overlay_for(choice, cam).title
        top = (cam.target[0], cam.target[1], cam.target[2] + 0.45)
        text = p.addUserDebugText(title, top, (0, 0, 0), 1.2, physicsClientId=c)
        start = time.monotonic()
        for i in range(record.steps):
            scene.pose(record, i)
            if i:
                color = [v / 255 for v in TRAIL]
                p.addUserDebugLine(
                    record.ee_pos[i - 1], record.ee_pos[i], color, 2.5, physicsClientId=c
                )
            line = f"{title}   {status(record, i, i == record.steps - 1)}"
            text = p.addUserDebugText(
                line, top, (0, 0, 0), 1.2, replaceItemUniqueId=text, physicsClientId=c
            )
            time.sleep(max(0.0, start + (i + 1) * dt / speed - time.monotonic()))
        time.sleep(linger_s)
