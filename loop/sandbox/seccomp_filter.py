"""The child's seccomp filter (libseccomp through the `pyseccomp` ctypes binding).

Default allow, deny with EPERM what a controller never needs: new processes, exec, sockets,
debugging other processes, signals to others, namespaces, mounts, kernel modules, io_uring
(which would bypass this filter), privilege changes. Thread creation (clone with CLONE_THREAD)
stays allowed. Foreign architectures (i386/x32 entry points) are killed by libseccomp's default.
"""

from __future__ import annotations

import errno
import os

try:  # imported before the sandbox closes the file system (it locates libseccomp.so.2)
    import pyseccomp as _sc
except Exception as exc:  # noqa: BLE001 - degrade: harden.py reports it
    _sc = None
    _IMPORT_ERROR = f"pyseccomp unavailable: {exc}"

CLONE_THREAD = 0x00010000
TIOCSTI = 0x5412

PR_SET_PDEATHSIG = 1
DENIED = (
    "fork vfork execve execveat socket socketpair connect bind listen accept accept4 "
    "ptrace process_vm_readv process_vm_writev mount umount2 unshare setns chroot pivot_root "
    "reboot bpf open_by_handle_at name_to_handle_at keyctl add_key request_key perf_event_open "
    "kexec_load kexec_file_load init_module finit_module delete_module swapon swapoff acct "
    "quotactl userfaultfd io_uring_setup io_uring_enter io_uring_register fanotify_init "
    "pidfd_open pidfd_getfd pidfd_send_signal tkill setuid setgid setreuid setregid setresuid "
    "setresgid setgroups setfsuid setfsgid capset mknod mknodat sethostname setdomainname "
    "settimeofday clock_settime adjtimex clock_adjtime syslog vhangup iopl ioperm "
    "move_pages migrate_pages"
).split()

# without Landlock: no file may be opened for writing or created/removed/renamed anywhere
FS_WRITES = (
    "creat rename renameat renameat2 unlink unlinkat mkdir mkdirat rmdir truncate symlink "
    "symlinkat link linkat chmod fchmodat chown lchown fchownat utimes utimensat"
).split()
WRITE_FLAGS = (os.O_WRONLY, os.O_RDWR, os.O_CREAT, os.O_TRUNC, os.O_APPEND)


def _deny(f: object, sc: object, name: str, *args: object) -> bool:
    try:
        f.add_rule(sc.ERRNO(errno.EPERM), name, *args)
        return True
    except (OSError, RuntimeError, ValueError):  # unknown to this kernel/libseccomp
        return False


def _deny_file_writes(f: object, sc: object) -> None:
    for name in FS_WRITES:
        _deny(f, sc, name)
    for flag in WRITE_FLAGS:
        _deny(f, sc, "open", sc.Arg(1, sc.MASKED_EQ, flag, flag))
        _deny(f, sc, "openat", sc.Arg(2, sc.MASKED_EQ, flag, flag))
    f.add_rule(sc.ERRNO(errno.ENOSYS), "openat2")  # flags live in a struct: make libc fall back


def install(deny_file_writes: bool = False) -> list[str]:
    """Load the filter into this process; returns the denied syscall names. Raises on failure."""
    if _sc is None:
        raise RuntimeError(_IMPORT_ERROR)
    sc = _sc
    me = os.getpid()
    f = sc.SyscallFilter(sc.ALLOW)
    try:
        f.set_attr(sc.Attr.CTL_TSYNC, 1)  # every thread of the process, not just this one
    except (OSError, RuntimeError, ValueError, AttributeError):
        pass
    denied = [name for name in DENIED if _deny(f, sc, name)]
    _deny(f, sc, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")  # glibc falls back to clone for threads
    _deny(f, sc, "kill", sc.Arg(0, sc.NE, me))
    _deny(f, sc, "tgkill", sc.Arg(0, sc.NE, me))
    _deny(f, sc, "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, TIOCSTI))
    _deny(f, sc, "prctl", sc.Arg(0, sc.EQ, PR_SET_PDEATHSIG))  # keep the kernel's cleanup armed
    if deny_file_writes:
        _deny_file_writes(f, sc)
    f.load()
    return denied + [
        "clone(no CLONE_THREAD)",
        "clone3",
        "kill/tgkill(others)",
        "prctl(PR_SET_PDEATHSIG)",
    ]
