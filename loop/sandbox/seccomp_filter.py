"""The child's seccomp filter (libseccomp through the `pyseccomp` ctypes binding).

Default allow, deny with EPERM what a controller never needs: new processes, exec, sockets,
debugging other processes, signals to others, namespaces, mounts, kernel modules, io_uring
(which would bypass this filter), privilege changes, System V IPC. Thread creation (clone with
CLONE_THREAD) stays allowed. Foreign architectures (i386/x32 entry points) are killed by
libseccomp's default.

Calls that name a process act on the child itself only (see docs/sandbox.md, "Other
processes"): pid 0 ("the caller") where the kernel has it, the child's own pid for signals.
libseccomp 2.5 compares one argument once per rule, so "0 or its own pid" would take a
hand-written BPF program; glibc and Python pass 0 for themselves, so only 0 is allowed.
A rule that must match a 32-bit argument (int/unsigned int in the kernel) masks it to 32 bits:
the kernel ignores the upper half, so a plain 64-bit EQ is bypassed by setting it. NE rules
on whole registers are safe the other way round: they refuse junk in the upper half.
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
LOW32 = 0xFFFFFFFF
PR_SET_PDEATHSIG = 1
F_SETOWN, F_SETOWN_EX = 8, 15  # SIGIO/SIGURG (or any F_SETSIG signal) to another process
PRIO_PROCESS, IOPRIO_WHO_PROCESS = 0, 1

DENIED = (
    "fork vfork execve execveat socket socketpair connect bind listen accept accept4 "
    "ptrace process_vm_readv process_vm_writev mount umount2 unshare setns chroot pivot_root "
    "reboot bpf open_by_handle_at name_to_handle_at keyctl add_key request_key perf_event_open "
    "kexec_load kexec_file_load init_module finit_module delete_module swapon swapoff acct "
    "quotactl userfaultfd io_uring_setup io_uring_enter io_uring_register fanotify_init "
    "pidfd_open pidfd_getfd pidfd_send_signal tkill kcmp process_madvise process_mrelease "
    "setuid setgid setreuid setregid setresuid "
    "setresgid setgroups setfsuid setfsgid capset mknod mknodat sethostname setdomainname "
    "settimeofday clock_settime adjtimex clock_adjtime syslog vhangup iopl ioperm "
    "move_pages migrate_pages "
    "shmget shmat shmdt shmctl msgget msgsnd msgrcv msgctl semget semop semtimedop semctl "
    "mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr"
).split()

#: syscall -> index of its pid argument, which must be 0 (the caller itself)
SELF_IS_ZERO = {
    "prlimit64": 0,
    "sched_setaffinity": 0,
    "sched_getaffinity": 0,
    "sched_setscheduler": 0,
    "sched_setparam": 0,
    "sched_setattr": 0,
    "sched_getscheduler": 0,
    "sched_getparam": 0,
    "sched_getattr": 0,
    "sched_rr_get_interval": 0,
    "get_robust_list": 0,
}
#: syscall -> the `which` that means "one process"; `who` (argument 1) must then be 0 (itself)
WHICH_PROCESS = {
    "setpriority": PRIO_PROCESS,
    "getpriority": PRIO_PROCESS,
    "ioprio_set": IOPRIO_WHO_PROCESS,
    "ioprio_get": IOPRIO_WHO_PROCESS,
}
#: signals: the target (argument 0, a pid or thread-group id) must be the child itself
SIGNAL_OWN = ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")

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


def _deny_other_processes(f: object, sc: object, me: int) -> list[str]:
    """Rules that keep pid-taking calls on the child itself; returns their descriptions."""
    done = []
    for name, arg in SELF_IS_ZERO.items():
        if _deny(f, sc, name, sc.Arg(arg, sc.NE, 0)):
            done.append(f"{name}(pid != 0)")
    for name, which in WHICH_PROCESS.items():
        if _deny(f, sc, name, sc.Arg(0, sc.NE, which)) and _deny(f, sc, name, sc.Arg(1, sc.NE, 0)):
            done.append(f"{name}(not this process)")
    for name in SIGNAL_OWN:
        if _deny(f, sc, name, sc.Arg(0, sc.NE, me)):
            done.append(f"{name}(others)")
    for cmd in (F_SETOWN, F_SETOWN_EX):
        _deny(f, sc, "fcntl", sc.Arg(1, sc.MASKED_EQ, LOW32, cmd))
    done.append("fcntl(F_SETOWN, F_SETOWN_EX)")
    return done


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
    denied += _deny_other_processes(f, sc, me)
    _deny(f, sc, "ioctl", sc.Arg(1, sc.MASKED_EQ, LOW32, TIOCSTI))
    # keep the kernel's cleanup armed; the option is an int, so only its low half counts
    _deny(f, sc, "prctl", sc.Arg(0, sc.MASKED_EQ, LOW32, PR_SET_PDEATHSIG))
    if deny_file_writes:
        _deny_file_writes(f, sc)
    f.load()
    return denied + ["clone(no CLONE_THREAD)", "clone3", "prctl(PR_SET_PDEATHSIG)"]
