"""Landlock (Linux >= 5.13) through ctypes: reads only where Python, numpy and the repo live,
writes only in the work folder, no TCP bind/connect, no signals or abstract sockets outside.

x86_64 syscall numbers; every call reports failure instead of raising.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterable

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH, RULE_NET_PORT = 1, 2

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
READ = EXECUTE | READ_FILE | READ_DIR
FS_BITS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
NET_ALL = (1 << 0) | (1 << 1)  # BIND_TCP | CONNECT_TCP, ABI >= 4
SCOPE_ALL = (1 << 0) | (1 << 1)  # ABSTRACT_UNIX_SOCKET | SIGNAL, ABI >= 6


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _syscall(*args: object) -> int:
    result = _libc.syscall(*args)
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def abi_version() -> int:
    """Landlock ABI version, 0 when the kernel has none or it is disabled."""
    try:
        return _syscall(
            ctypes.c_long(SYS_CREATE_RULESET),
            None,
            ctypes.c_size_t(0),
            ctypes.c_uint32(CREATE_RULESET_VERSION),
        )
    except OSError:
        return 0


def _fs_bits(abi: int) -> int:
    return FS_BITS_BY_ABI[max(k for k in FS_BITS_BY_ABI if k <= abi)]


def _attr_size(abi: int) -> int:
    return 8 if abi < 4 else 16 if abi < 6 else 24


def _add_path(ruleset: int, path: str, allowed: int) -> bool:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if not os.path.isdir(path):
            allowed &= EXECUTE | WRITE_FILE | READ_FILE | (1 << 14) | (1 << 15)
        rule = _PathBeneath(allowed, fd)
        _syscall(
            ctypes.c_long(SYS_ADD_RULE),
            ctypes.c_int(ruleset),
            ctypes.c_int(RULE_PATH_BENEATH),
            ctypes.byref(rule),
            ctypes.c_uint32(0),
        )
        return True
    finally:
        os.close(fd)


def restrict(read_paths: Iterable[str], write_paths: Iterable[str]) -> dict[str, object]:
    """Apply a Landlock domain to this process (needs no_new_privs or CAP_SYS_ADMIN).

    Returns what was enforced; raises OSError when the kernel refuses.
    """
    abi = abi_version()
    if abi < 1:
        raise OSError("Landlock is not available on this kernel")
    handled = _fs_bits(abi)
    attr = _RulesetAttr(handled, NET_ALL if abi >= 4 else 0, SCOPE_ALL if abi >= 6 else 0)
    ruleset = _syscall(
        ctypes.c_long(SYS_CREATE_RULESET),
        ctypes.byref(attr),
        ctypes.c_size_t(_attr_size(abi)),
        ctypes.c_uint32(0),
    )
    try:
        reads = [p for p in read_paths if _add_path(ruleset, p, READ)]
        writes = [p for p in write_paths if _add_path(ruleset, p, handled)]
        _syscall(ctypes.c_long(SYS_RESTRICT_SELF), ctypes.c_int(ruleset), ctypes.c_uint32(0))
    finally:
        os.close(ruleset)
    return {"abi": abi, "read": reads, "write": writes, "net": abi >= 4, "scoped": abi >= 6}
