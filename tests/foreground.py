"""Commands started as a terminal starts its foreground job, for the tests that press Ctrl-C.

A command run at a terminal gets SIGINT (and SIGQUIT) with the default action, unblocked, so
Python installs its KeyboardInterrupt handler. pytest itself may not have that: a shell
without job control ignores SIGINT and SIGQUIT in what it starts in the background
(`make test &`, `cmd > log 2>&1 &` from a script, CI steps, an agent's shell), ignored
signals and the signal mask are inherited through fork and exec, and Popen's
restore_signals resets only SIGPIPE and SIGXFSZ. A child started with SIGINT ignored keeps
it ignored (Python installs no handler then, as every well-behaved program does: that is
what the shell asked for), so it ignores the SIGINT a test sends and runs on.

`popen_foreground` resets SIGINT and SIGQUIT to the default and unblocks them in a small
launcher that then execs the command (same pid, no preexec_fn in a threaded pytest).
`sigint(pid)` says what a process does with SIGINT; `diagnose(pid)` is the failure message
for a process tree that did not stop: signal state and, if py-spy is installed, stacks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

LAUNCHER = (
    "import os, signal, sys\n"
    "for sig in (signal.SIGINT, signal.SIGQUIT):\n"
    "    signal.signal(sig, signal.SIG_DFL)\n"
    "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGQUIT})\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)
SIGINT_BIT = 1 << 1  # bit N-1 of /proc/PID/status masks is signal N; SIGINT is 2


def popen_foreground(cmd: list[str], **kwargs) -> subprocess.Popen:
    """subprocess.Popen(cmd), with SIGINT as a terminal's foreground job has it."""
    return subprocess.Popen([sys.executable, "-I", "-S", "-c", LAUNCHER, *cmd], **kwargs)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().split()[3]) == pid:
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def tree(pid: int) -> list[int]:
    """`pid` and its descendants."""
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo.extend(children(found[-1]))
    return found


def _status(pid: int) -> dict[str, str]:
    lines = (Path("/proc") / str(pid) / "status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def sigint(pid: int) -> str:
    """What process `pid` (its main thread's mask) does with SIGINT: "caught", "ignored",
    "blocked", "default" or "gone"."""
    try:
        status = _status(pid)
    except OSError:
        return "gone"
    for field, verdict in (("SigBlk", "blocked"), ("SigIgn", "ignored"), ("SigCgt", "caught")):
        if int(status[field], 16) & SIGINT_BIT:
            return verdict
    return "default"


def diagnose(pid: int) -> str:
    """Each process of the tree: command, state, SIGINT, signal masks, py-spy stacks."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    me = os.getpid()
    parts = [f"pytest ({me}): SIGINT {sigint(me)} (children inherit it if ignored or blocked)"]
    for p in tree(pid):
        try:
            status = _status(p)
            cmd = (Path("/proc") / str(p) / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            parts.append(f"{p}: gone")
            continue
        masks = " ".join(f"{k} {status.get(k, '?')}" for k in ("SigBlk", "SigIgn", "SigCgt"))
        parts.append(
            f"{p} {cmd[:100].decode(errors='replace')}\n"
            f"    state {status.get('State')}, SIGINT {sigint(p)}; {masks}"
        )
        if Path(spy).exists():
            try:
                dump = subprocess.run(
                    [spy, "dump", "--pid", str(p)], capture_output=True, text=True, timeout=30
                )
                parts.append((dump.stdout + dump.stderr).strip())
            except (OSError, subprocess.TimeoutExpired) as exc:
                parts.append(f"py-spy: {exc}")
    return "\n".join(parts)
