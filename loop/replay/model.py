"""The arm as the replay draws it: the robot's URDF with its heavy visual meshes swapped for the
collision meshes the simulation used.

TinyRenderer is a software rasterizer: the Panda's visual meshes (about 10 MB of OBJ) render at
under 10 frames/s at 640x480, its collision meshes (a few hundred triangles a link) at about
25. A link whose visual mesh file exceeds HEAVY_BYTES and that has a collision mesh is drawn
with the collision mesh; the joints, links and kinematics are the URDF's own.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import pybullet_data

HEAVY_BYTES = 300_000


def _resolve(filename: str, base: Path) -> Path:
    name = filename.removeprefix("package://")
    return (base / name).resolve()


@cache
def light_urdf(urdf: str) -> str:
    """An absolute path to the light copy of `urdf` (relative to pybullet_data), written once
    per process into a temporary folder removed at exit."""
    source = Path(pybullet_data.getDataPath()) / urdf
    tree = ET.parse(source)
    for link in tree.getroot().iter("link"):
        collision = link.find("collision/geometry/mesh")
        for mesh in link.iterfind("visual/geometry/mesh"):
            path = _resolve(mesh.get("filename", ""), source.parent)
            if collision is not None and path.is_file() and path.stat().st_size > HEAVY_BYTES:
                path = _resolve(collision.get("filename", ""), source.parent)
            mesh.set("filename", str(path))
        for mesh in link.iterfind("collision/geometry/mesh"):
            mesh.set("filename", str(_resolve(mesh.get("filename", ""), source.parent)))
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
    target = _folder() / f"{source.stem}-{digest}.urdf"
    tree.write(target)
    return str(target)


@cache
def _folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="armloop-replay-"))
    atexit.register(shutil.rmtree, folder, True)
    os.chmod(folder, 0o755)
    return folder
