"""Helpers for the end-to-end containment tests: canary keys, pwned files, a file-tree snapshot,
loopback listeners and a /proc scan for leftover armloop processes."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CANARIES = {
    "OPENAI_API_KEY": "sk-canary-openai-5d1e8b07",
    "ANTHROPIC_API_KEY": "sk-ant-canary-93c4e21f",
}
PWNED = [
    Path("/tmp/armloop_pwned"),
    REPO / "armloop_pwned",
    Path("/etc/armloop_pwned"),
    Path("/root/armloop_pwned"),
    Path.home() / "armloop_pwned",
]
SKIP_DIRS = {
    ".git",
    ".venv",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "runs",
    "node_modules",
    "armloop.egg-info",
}
PLANTED_NAMES = ("armloop_pwned", "inside.txt")


def canary_env(**extra: str) -> dict[str, str]:
    return {**os.environ, **CANARIES, **extra}


def leaked(text: str) -> list[str]:
    return [name for name, key in CANARIES.items() if key in text]


def pwned_files() -> list[Path]:
    return [p for p in PWNED if p.exists()]


def clear_pwned() -> None:
    for path in PWNED:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def snapshot(root: Path = REPO) -> dict[str, tuple[int, int]]:
    """path -> (mtime_ns, size) of every file below root, skipping caches and envs."""
    files: dict[str, tuple[int, int]] = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        for name in names:
            path = os.path.join(folder, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            files[path] = (st.st_mtime_ns, st.st_size)
    return files


def planted(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    """Files a hostile controller changed or created below the snapshot's root.

    Other engineers (and other tests) may edit the repo while this runs, so a changed file
    counts only when it carries the corpus' marks: a planted name (armloop_pwned, fill*.bin,
    inside.txt) or the word "pwned" in its content.
    """
    bad = []
    for path, stamp in after.items():
        if before.get(path) == stamp:
            continue
        name = os.path.basename(path)
        if name in PLANTED_NAMES or (name.startswith("fill") and name.endswith(".bin")):
            bad.append(path)
            continue
        try:
            with open(path, "rb") as fh:
                if b"pwned" in fh.read(1 << 20) and not _test_source(path):
                    bad.append(path)
        except OSError:
            pass
    return bad


def _test_source(path: str) -> bool:
    return path.startswith(str(REPO / "tests")) and path.endswith(".py")


class Listener:
    """A loopback TCP listener; `connected()` says whether anything ever connected."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    def connected(self) -> bool:
        try:
            conn, _ = self.sock.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True

    def close(self) -> None:
        self.sock.close()


def controller_source(path: Path, port: int) -> str:
    """A corpus file made concrete for a real episode: the sandbox tests pass the listener's
    port and the repo path in the observation; a real task's observation has neither."""
    return (
        path.read_text().replace('obs["port"]', str(port)).replace('obs["repo"]', repr(str(REPO)))
    )


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def armloop_processes(marker: str) -> list[tuple[int, str]]:
    """Live sim workers and controller children that belong to a run marked by `marker`
    (found in the command line - a controller child's work folder lives under TMPDIR - or in
    the environment - sim workers inherit it)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        cmdline = _read(f"/proc/{entry}/cmdline").replace(b"\0", b" ")
        if b"loop.sim.pool" not in cmdline and b"loop.sandbox" not in cmdline:
            continue
        state = _read(f"/proc/{entry}/stat").rsplit(b")", 1)[-1].split()[:1]
        if state == [b"Z"]:
            continue  # a zombie holds nothing; its parent reaps it
        if marker.encode() in cmdline or marker.encode() in _read(f"/proc/{entry}/environ"):
            found.append((int(entry), cmdline.decode(errors="replace")[:200]))
    return found


def wait_gone(marker: str, timeout: float) -> list[tuple[int, str]]:
    """Poll until no process of the marked run is left; returns the survivors at the end."""
    deadline = time.monotonic() + timeout
    while True:
        alive = armloop_processes(marker)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)
