"""Kernel-level isolation of the controller child, applied before any untrusted code runs.

Layers, in order; each one that the kernel refuses is skipped with a warning, never a crash:
  1. namespaces (root): private network namespace (no interfaces up), IPC namespace (no System
     V shared memory, semaphores or message queues of other processes) and mount namespace with
     the work folder on a small tmpfs (bounded disk use)
  2. resource limits: CPU, address space, open files, file size, no core dumps, threads
  3. no_new_privs
  4. Landlock: read only Python, numpy, the repo; write only the work folder; no TCP; no
     signals or abstract unix sockets outside the sandbox; no ptrace/proc access to the parent
     (before the privilege change: it opens the allowed folders as root)
  5. privileges (root): a uid of its own, UID_BASE + its pid, for every uid and gid - unique
     while it lives, used by no other process - so the kernel's same-user checks (prlimit,
     setpriority, affinity, signals, ptrace) fail for every other process and RLIMIT_NPROC
     counts its threads alone. Every capability is dropped except CAP_DAC_READ_SEARCH when
     Python or the repo is not world-readable (e.g. under /root); Landlock still bounds reads.
     Where that uid cannot exist (a user namespace that does not map it), uid 0 with every
     capability dropped, with a warning.
  6. seccomp: see seccomp_filter.py (also denies file writes when Landlock is unavailable)
It must hold against code that bypasses the static check (numpy reaches os, ctypes and sys).
`SandboxConfig.skip` leaves out named layers (tests only: they check each layer alone).
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

#: A child's uid (and gid) is UID_BASE + its pid: pids are unique among live processes and at
#: most 2**22 (PID_MAX_LIMIT), so the range stays below 2**31 and above the uids that
#: distributions, systemd (dynamic users up to 65519, nspawn containers up to 1879048191) and
#: subuid ranges for containers (from 100000, 65536 at a time) hand out.
UID_BASE = 2_000_000_000
THREADS = 64  # RLIMIT_NPROC: every thread of the child, watchdog included (its own uid only)
LAYERS = ("namespaces", "landlock", "own_uid", "seccomp")  # what SandboxConfig.skip may name
CAP_DAC_READ_SEARCH, CAP_SETGID, CAP_SETUID = 2, 6, 7
CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWIPC = 0x00020000, 0x40000000, 0x08000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 1 << 14, 1 << 18
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_SET_PDEATHSIG, PR_SET_KEEPCAPS = 38, 24, 1, 8
CAP_VERSION_3 = 0x20080522
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
    skip: tuple[str, ...] = ()  # layers (LAYERS) not to apply: tests of each layer alone
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
        "NPROC": (THREADS, THREADS),  # threads of its own uid; seccomp denies fork
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


def _capset(caps: int) -> None:
    """Effective and permitted = `caps`, inheritable empty (capabilities 0-63 as a bit mask)."""
    low, high = caps & 0xFFFFFFFF, caps >> 32
    header = (ctypes.c_uint32 * 2)(CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)(low, low, 0, high, high, 0)
    _check(_libc.capset(header, data), "capset")


def _capget() -> tuple[int, int]:
    """(effective, permitted) of this thread."""
    header = (ctypes.c_uint32 * 2)(CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.capget(header, data), "capget")
    return data[0] | data[3] << 32, data[1] | data[4] << 32


def _drop_bounding(keep: int) -> None:
    for cap in range(LAST_CAP + 1):
        if not keep >> cap & 1:
            _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # EINVAL past the kernel's last cap


def _drop_caps() -> None:
    _drop_bounding(0)
    _capset(0)


def _become(uid: int, keep: int) -> None:
    """Every uid and gid to `uid`, no supplementary groups, only the capabilities in `keep`."""
    _drop_bounding(keep)
    _capset(keep | 1 << CAP_SETUID | 1 << CAP_SETGID)
    _check(_libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), "prctl(PR_SET_KEEPCAPS)")
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # keeps the permitted set (KEEPCAPS), clears the effective one
    _capset(keep)
    _libc.prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0)
    if os.getresuid() != (uid,) * 3 or os.getresgid() != (uid,) * 3 or _capget() != (keep,) * 2:
        raise OSError(f"ids {os.getresuid()} {os.getresgid()} or capabilities not as set")


def _mapped(uid: int) -> bool:
    """Whether `uid` exists in this user namespace (as uid and as gid)."""
    for table in ("uid_map", "gid_map"):
        try:
            with open(f"/proc/self/{table}") as fh:
                rows = [tuple(int(v) for v in line.split()) for line in fh if line.strip()]
        except (OSError, ValueError):
            return False
        if not any(inside <= uid < inside + count for inside, _, count in rows):
            return False
    return True


def own_uid() -> int:
    return UID_BASE + os.getpid()


def _choose_user(cfg: SandboxConfig) -> tuple[str, int, int]:
    """(how, uid, capabilities to keep): "self" (not root: unchanged), "own" (a uid of its
    own) or "root" (uid 0 without capabilities)."""
    if os.getuid() != 0:
        return "self", os.getuid(), 0
    if "own_uid" in cfg.skip:
        cfg.warnings.append("own_uid skipped (SandboxConfig.skip): uid 0 without capabilities")
        return "root", 0, 0
    uid = own_uid()
    if not _mapped(uid):
        cfg.warnings.append(
            f"uid {uid} does not exist in this user namespace: staying uid 0 with all "
            "capabilities dropped (other processes of uid 0 stay reachable; threads unbounded)"
        )
        return "root", 0, 0
    if all(_world_reachable(p) for p in cfg.read_paths if os.path.exists(p)):
        return "own", uid, 0
    cfg.warnings.append(
        "Python or the repo is not world-readable (e.g. under /root): keeping "
        "CAP_DAC_READ_SEARCH (Landlock still limits what it reads)"
    )
    return "own", uid, 1 << CAP_DAC_READ_SEARCH


def _privileges(cfg: SandboxConfig, how: str, uid: int, keep: int) -> str:
    if how == "self":
        return f"uid {uid} (not root: unchanged)"
    if how == "own":
        try:
            _become(uid, keep)
            kept = "CAP_DAC_READ_SEARCH only" if keep else "no capabilities"
            return f"uid {uid} of its own, {kept}"
        except OSError as exc:
            cfg.warnings.append(f"uid of its own not taken ({exc}): dropping every capability")
    _drop_caps()
    return f"uid {os.getuid()} without capabilities"


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


def _skipped(cfg: SandboxConfig, name: str) -> bool:
    if name in cfg.skip:
        cfg.warnings.append(f"{name} skipped (SandboxConfig.skip)")
        return True
    return False


def apply(cfg: SandboxConfig) -> dict[str, object]:
    """Harden this process; returns the features that are active (see sandbox_features)."""
    cfg.warnings.extend(f"unknown layer {n!r} in skip" for n in cfg.skip if n not in LAYERS)
    how, uid, keep = _choose_user(cfg)
    feats: dict[str, object] = {}
    parent = os.getppid()
    if os.getuid() == 0 and not _skipped(cfg, "namespaces"):
        feats["namespaces"] = _layer(cfg, "namespaces", _namespaces, cfg, uid)
    else:
        feats["namespaces"] = False
    feats["rlimits"] = _rlimits(cfg)
    feats["no_new_privs"] = _layer(
        cfg,
        "no_new_privs",
        lambda: _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl") or True,
    )
    feats["landlock"] = not _skipped(cfg, "landlock") and _layer(
        cfg, "landlock", landlock.restrict, cfg.read_paths, [cfg.workdir]
    )
    feats["user"] = _layer(cfg, "privilege change", _privileges, cfg, how, uid, keep)
    feats["uid"] = os.getuid()
    feats["parent_death_signal"] = _layer(cfg, "parent-death signal", _parent_death_signal, parent)
    feats["seccomp"] = not _skipped(cfg, "seccomp") and _layer(
        cfg, "seccomp", seccomp_filter.install, not feats["landlock"]
    )
    feats["watchdog"] = _layer(cfg, "parent watchdog", _start_watchdog)
    feats["warnings"] = list(cfg.warnings)
    _FEATURES.clear()
    _FEATURES.update(feats)
    return feats


def sandbox_features() -> dict[str, object]:
    """What apply() enforced in this process ({} when it has not run here)."""
    return dict(_FEATURES)
