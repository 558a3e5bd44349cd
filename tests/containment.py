"""Helpers for the end-to-end containment tests: canary keys, pwned files, a file-tree snapshot,
loopback listeners, a /proc scan for leftover armloop processes, and what a controller must not
change in any other process (its limits, priority, affinity, scheduling, shared memory)."""

from __future__ import annotations

import ctypes
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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


def controller_source(path: Path, port: int, victim: Victim | None = None) -> str:
    """A corpus file made concrete for a real episode: the sandbox tests pass the listener's
    port, the repo path and the victim's pid and segment id in the observation; a real task's
    observation has none of them."""
    text = path.read_text().replace('obs["port"]', str(port))
    text = text.replace('obs["repo"]', repr(str(REPO)))
    if victim is not None:
        text = text.replace('obs["victim"]', str(victim.pid))
        text = text.replace('obs["shmid"]', str(victim.shmid))
    return text


# -- other processes ---------------------------------------------------------------------------

RLIMITS = sorted(name for name in dir(resource) if name.startswith("RLIMIT_"))
SYS_IOPRIO_GET, IOPRIO_WHO_PROCESS = 252, 1
IPC_PRIVATE, IPC_CREAT, IPC_RMID = 0, 0o1000, 0
SHM_MARK = b"armloop victim segment"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.shmat.restype = ctypes.c_void_p
_libc.shmat.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_int)
_libc.shmdt.argtypes = (ctypes.c_void_p,)
_libc.shmctl.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_void_p)


def process_state(pid: int) -> dict[str, Any]:
    """What a hostile controller would change in process `pid` (its main thread for the
    per-thread settings): every resource limit, nice value, I/O priority, CPU affinity and
    scheduling policy. Reading another process's limits needs root or the same user."""
    return {
        "limits": {name: list(resource.prlimit(pid, getattr(resource, name))) for name in RLIMITS},
        "nice": os.getpriority(os.PRIO_PROCESS, pid),
        "ioprio": _libc.syscall(SYS_IOPRIO_GET, IOPRIO_WHO_PROCESS, pid),
        "affinity": sorted(os.sched_getaffinity(pid)),
        "policy": os.sched_getscheduler(pid),
    }


def state_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    changes = [
        f"{k}: {before[k]} -> {after[k]}" for k in before if k != "limits" and before[k] != after[k]
    ]
    for name, value in before["limits"].items():
        if after["limits"][name] != value:
            changes.append(f"{name}: {value} -> {after['limits'][name]}")
    return changes


def alive(pid: int) -> bool:
    """Running (or sleeping): not gone and not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[-1].split()[:1] != [b"Z"]
    except OSError:
        return False


#: Drops every capability (as daemons and other controller children do), then waits for EOF.
#: Uid 0 without capabilities: the kernel's commoncap checks no longer protect it from a
#: controller that is uid 0 too, only a different uid does.
VICTIM = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
for cap in range(64):
    libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP
libc.capset((ctypes.c_uint32 * 2)(0x20080522, 0), (ctypes.c_uint32 * 6)())
print("ready", flush=True)
sys.stdin.read()
"""


class Victim:
    """An unrelated process of the same user (uid 0 without capabilities when the tests run as
    root) - its own session, no relation to armloop - and a System V shared-memory segment
    (mode 0600) of this test process. Hostile controllers get the pid as obs["victim"] and the
    segment as obs["shmid"]."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", VICTIM],
            start_new_session=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.proc.stdout.readline()  # its capabilities are dropped
        self.pid = self.proc.pid
        self.before = process_state(self.pid)
        self.shmid = _libc.shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0o600)
        if self.shmid < 0:
            raise OSError(ctypes.get_errno(), "shmget")
        self._write(SHM_MARK)

    def _attach(self) -> int:
        addr = _libc.shmat(self.shmid, None, 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "shmat")
        return addr

    def _write(self, data: bytes) -> None:
        addr = self._attach()
        ctypes.memmove(addr, data, len(data))
        _libc.shmdt(addr)

    def segment(self) -> bytes:
        addr = self._attach()
        try:
            return ctypes.string_at(addr, len(SHM_MARK))
        finally:
            _libc.shmdt(addr)

    def changes(self) -> list[str]:
        """What changed since the start ([] when untouched)."""
        if not alive(self.pid):
            return ["the victim process died"]
        changes = state_changes(self.before, process_state(self.pid))
        if self.segment() != SHM_MARK:
            changes.append(f"shared memory segment: {self.segment()!r}")
        return changes

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            stream.close()
        _libc.shmctl(self.shmid, IPC_RMID, None)


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
