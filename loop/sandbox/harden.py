"""Kernel-level isolation of the controller child, applied before any untrusted code runs.

Layers, in order; each one that the kernel refuses is skipped with a warning, never a crash:
  1. namespaces (root): private network namespace (no interfaces up), IPC namespace (no System
     V shared memory, semaphores or message queues of other processes) and mount namespace with
     the work folder on a small tmpfs (bounded disk use)
  2. resource limits: CPU, address space, open files, file size, no core dumps, processes
  3. privileges: drop to nobody when Python and the repo are world-readable, otherwise stay
     uid 0 with every capability dropped
  4. no_new_privs
  5. Landlock: read only Python, numpy, the repo; write only the work folder; no TCP; no
     signals or abstract unix sockets outside the sandbox; no ptrace/proc access to the parent
  6. seccomp: see seccomp_filter.py (also denies file writes when Landlock is unavailable)
It must hold against code that bypasses the static check (numpy reaches os, ctypes and sys).
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from loop.sandbox import landlock, seccomp_filter

NOBODY = 65534
CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWIPC = 0x00020000, 0x40000000, 0x08000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 1 << 14, 1 << 18
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_SET_PDEATHSIG = 38, 24, 1
LAST_CAP = 63

_libc = ctypes.CDLL(None, use_errno=True)
_FEATURES: dict[str, object] = {}


@dataclass(frozen=True)
class SandboxConfig:
    workdir: str
    read_paths: tuple[str, ...]
    memory_bytes: int = 1 << 30
    cpu_s: int = 120
    open_files: int = 64
    file_bytes: int = 16 << 20
    tmpfs_bytes: int = 32 << 20
    warnings: list[str] = field(default_factory=list)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _namespaces(cfg: SandboxConfig, uid: int) -> dict[str, object]:
    _check(_libc.unshare(CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC), "unshare")
    _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    opts = f"size={cfg.tmpfs_bytes},mode=0700,uid={uid},gid={uid}".encode()
    _check(
        _libc.mount(
            b"tmpfs", cfg.workdir.encode(), b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts
        ),
        "mount tmpfs",
    )
    os.chdir(cfg.workdir)
    return {"net": True, "ipc": True, "mount": True, "tmpfs_bytes": cfg.tmpfs_bytes}


def _rlimits(cfg: SandboxConfig) -> dict[str, int]:
    limits = {
        "CPU": (cfg.cpu_s, cfg.cpu_s + 1),
        "AS": (cfg.memory_bytes, cfg.memory_bytes),
        "NOFILE": (cfg.open_files, cfg.open_files),
        "FSIZE": (cfg.file_bytes, cfg.file_bytes),
        "CORE": (0, 0),
        "NPROC": (64, 64),  # backstop for thread bombs; seccomp denies fork
        "MEMLOCK": (0, 0),
    }
    done = {}
    for name, value in limits.items():
        try:
            resource.setrlimit(getattr(resource, f"RLIMIT_{name}"), value)
            done[name] = value[0]
        except (OSError, ValueError) as exc:
            cfg.warnings.append(f"RLIMIT_{name} not set: {exc}")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # oversize writes raise EFBIG instead
    return done


def _world_reachable(path: str) -> bool:
    p = Path(path).resolve()
    for part in [p, *p.parents]:
        try:
            mode = part.stat().st_mode
        except OSError:
            return False
        if stat.S_ISDIR(mode) and (mode & 0o005) != 0o005:
            return False
    return True


def _drop_caps() -> None:
    for cap in range(LAST_CAP + 1):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # EINVAL past the kernel's last cap
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.capset(header, data), "capset")


def _privileges(cfg: SandboxConfig, user: str) -> str:
    if user == "nobody":
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
        return "nobody"
    _drop_caps()
    return "uid 0 without capabilities"


def _choose_user(cfg: SandboxConfig) -> str:
    if os.getuid() != 0:
        return "self"
    if all(_world_reachable(p) for p in cfg.read_paths if os.path.exists(p)):
        return "nobody"
    cfg.warnings.append(
        "Python or the repo is not world-readable (e.g. under /root): staying "
        "uid 0 with all capabilities dropped instead of becoming nobody"
    )
    return "root-nocaps"


def _parent_death_signal(parent: int) -> bool:
    """SIGKILL from the kernel when the spawning thread's process dies.

    Set after the privilege change (a credential change clears it); seccomp then forbids
    clearing it, so untrusted code cannot outlive its sim worker. ChildProc spawns every
    child from one long-lived thread, which is what the kernel watches.
    """
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(70)
    return True


def _start_watchdog() -> bool:
    """Exit when the parent dies (started last, so the thread inherits every layer)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(70)

    threading.Thread(target=watch, name="armloop-watchdog", daemon=True).start()
    return True


def _layer(cfg: SandboxConfig, name: str, fn, *args):  # noqa: ANN001, ANN202
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - every layer degrades, never crashes the child
        cfg.warnings.append(f"{name} not applied: {exc}")
        return False


def apply(cfg: SandboxConfig) -> dict[str, object]:
    """Harden this process; returns the features that are active (see sandbox_features)."""
    user = _choose_user(cfg)
    uid = NOBODY if user == "nobody" else os.getuid()
    feats: dict[str, object] = {}
    parent = os.getppid()
    if os.getuid() == 0:
        feats["namespaces"] = _layer(cfg, "namespaces", _namespaces, cfg, uid)
    else:
        feats["namespaces"] = False
    feats["rlimits"] = _rlimits(cfg)
    feats["user"] = (
        _layer(cfg, "privilege drop", _privileges, cfg, user)
        if user != "self"
        else f"uid {os.getuid()} (not root: unchanged)"
    )
    feats["no_new_privs"] = _layer(
        cfg,
        "no_new_privs",
        lambda: _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl") or True,
    )
    feats["parent_death_signal"] = _layer(cfg, "parent-death signal", _parent_death_signal, parent)
    feats["landlock"] = _layer(cfg, "landlock", landlock.restrict, cfg.read_paths, [cfg.workdir])
    feats["seccomp"] = _layer(cfg, "seccomp", seccomp_filter.install, not feats["landlock"])
    feats["watchdog"] = _layer(cfg, "parent watchdog", _start_watchdog)
    feats["warnings"] = list(cfg.warnings)
    _FEATURES.clear()
    _FEATURES.update(feats)
    return feats


def sandbox_features() -> dict[str, object]:
    """What apply() enforced in this process ({} when it has not run here)."""
    return dict(_FEATURES)
