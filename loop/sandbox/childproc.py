"""One controller child process: spawn, call with a deadline, capture output, kill, reap.

Style after bigcode-evaluation-harness' safe_subprocess: new session, wall-clock deadline,
process-group SIGKILL, capped output. The child's replies are JSON frames (never pickle).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import site
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from loop.sandbox import wire
from loop.sandbox.host import ControllerFailure, Limits

REPO = str(Path(__file__).resolve().parents[2])
SYSTEM_READ = (
    "/usr/lib",
    "/usr/lib64",
    "/lib",
    "/lib64",
    "/usr/local/lib",
    "/etc/ld.so.cache",
    "/dev/null",
    "/dev/urandom",
)
BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); from loop.sandbox.child import main; main()"
)
STARTUP_S = 60.0
FLOOD_FACTOR = 16  # one call printing more than this many times output_bytes is a flood


class Output:
    """Controller stdout+stderr, keeping the first `cap` bytes and counting the rest."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.kept = bytearray()
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = self.cap - len(self.kept)
        self.kept += data[: max(room, 0)]
        self.dropped += max(len(data) - max(room, 0), 0)

    def text(self) -> str:
        text = self.kept.decode("utf-8", "replace")
        return text + (f"\n[... {self.dropped} more bytes dropped]" if self.dropped else "")


def read_paths() -> list[str]:
    paths = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        REPO,
        str(Path(sys.executable).resolve().parent.parent),
    }
    paths.update(p for p in site.getsitepackages() if os.path.isdir(p))
    return sorted(paths) + list(SYSTEM_READ)


def child_env(workdir: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": workdir,
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def describe_exit(code: int, limits: Limits) -> str:
    if code >= 0:
        return f"the controller process exited with code {code}"
    sig = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
    hints = {
        "SIGXCPU": f" after exceeding the CPU limit of {limits.cpu_s} s",
        "SIGKILL": f" (CPU hard limit of {limits.cpu_s} s or the kernel's OOM killer)",
        "SIGSEGV": f" (memory limit of {limits.memory_bytes >> 20} MiB, a stack overflow "
        "or faulty native code)",
        "SIGABRT": f" (often an allocation failing at the memory limit of "
        f"{limits.memory_bytes >> 20} MiB)",
        "SIGSYS": " (a forbidden system call)",
    }
    return f"the controller process was killed by {sig}{hints.get(sig, '')}"


class ChildProc:
    """A spawned child; `ready()` waits until it is hardened and listening."""

    def __init__(
        self,
        limits: Limits,
        workdir: str,
        harden: bool = True,
        skip_layers: tuple[str, ...] = (),
    ) -> None:
        self.limits = limits
        self.workdir = workdir
        self.output = Output(limits.output_bytes)
        self.features: dict[str, Any] = {}
        self.dead = False
        req_r, self.req_w = os.pipe()
        self.rep_r, rep_w = os.pipe()
        config = {
            "workdir": workdir,
            "read_paths": read_paths(),
            "harden": harden,
            "skip_layers": list(skip_layers),
            "memory_bytes": limits.memory_bytes,
            "cpu_s": limits.cpu_s,
            "open_files": limits.open_files,
        }
        argv = [
            sys.executable,
            "-I",
            "-c",
            BOOTSTRAP,
            REPO,
            str(req_r),
            str(rep_w),
            json.dumps(config),
        ]
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(req_r, rep_w),
                cwd=workdir,
                env=child_env(workdir),
                start_new_session=True,
                close_fds=True,
            )
        finally:
            os.close(req_r)
            os.close(rep_w)
        self.out_fd = self.proc.stdout.fileno()
        for fd in (self.rep_r, self.out_fd, self.req_w):
            os.set_blocking(fd, False)
        self.frames = wire.FrameBuffer()
        self._ready = False
        self._in_poll = select.poll()
        for fd in (self.rep_r, self.out_fd):
            self._in_poll.register(fd, select.POLLIN)
        self._out_poll = select.poll()
        self._out_poll.register(self.req_w, select.POLLOUT)

    # -- lifecycle -------------------------------------------------------------------------

    def ready(self) -> dict[str, Any]:
        if not self._ready:
            msg = self._await(time.monotonic() + STARTUP_S, "startup", "startup", STARTUP_S)
            self.features, self._ready = msg.get("value") or {}, True
        return self.features

    def kill(self) -> None:
        """SIGKILL the whole process group, reap it, close pipes, remove the work folder."""
        if not self.dead:
            self.dead = True
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
            for fd in (self.req_w, self.rep_r):
                os.close(fd)
            self.proc.stdout.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- calls -----------------------------------------------------------------------------

    def call(
        self,
        request: dict[str, Any],
        timeout: float,
        what: str,
        limit: str,
        shown: float | None = None,
    ) -> Any:
        """Send one request; return its value or raise ControllerFailure (killing on
        timeout, crash or flood). `shown`: the limit's value for messages (default timeout)."""
        if self.dead:
            raise ControllerFailure("crash", "the controller process is no longer running")
        self.ready()
        secs = timeout if shown is None else shown
        deadline = time.monotonic() + timeout
        self._send(wire.encode(request), deadline, what, limit, secs)
        reply = self._await(deadline, what, limit, secs)
        if not isinstance(reply, dict) or not reply.get("ok"):
            raise self._failure_from(reply)
        return reply.get("value")

    def _failure_from(self, reply: Any) -> ControllerFailure:
        if not isinstance(reply, dict):
            return ControllerFailure("crash", "the controller process sent a malformed reply")
        return ControllerFailure(
            str(reply.get("kind", "crash"))[:40],
            str(reply.get("message", ""))[:4000],
            str(reply.get("traceback", ""))[:8000],
        )

    def _send(self, data: bytes, deadline: float, what: str, limit: str, secs: float) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.req_w, view) :]
            except BlockingIOError:
                self._wait_io(deadline, self._out_poll, what, limit, secs)
            except BrokenPipeError:
                raise self._crash(what) from None

    def _await(self, deadline: float, what: str, limit: str, secs: float) -> Any:
        start_bytes = len(self.output.kept) + self.output.dropped
        while True:
            done, message = self._pop(what)
            if done:
                if any(fd == self.out_fd for fd, _ in self._in_poll.poll(0)):
                    self._drain()
                return message
            ready = self._wait_io(deadline, self._in_poll, what, limit, secs)
            if self.out_fd in ready:
                self._drain()
                if (
                    len(self.output.kept) + self.output.dropped - start_bytes
                    > FLOOD_FACTOR * self.limits.output_bytes
                ):
                    self.kill()
                    raise ControllerFailure(
                        "output",
                        f"{what} printed more than "
                        f"{FLOOD_FACTOR * self.limits.output_bytes >> 10} KiB; the controller "
                        "process was stopped (keep prints short, or remove them)",
                    )
            if self.rep_r in ready:
                self._read_reply(what)

    def _pop(self, what: str) -> tuple[bool, Any]:
        try:
            return self.frames.pop()
        except wire.WireError as exc:
            self.kill()
            raise ControllerFailure("crash", f"{what}: protocol error ({exc})") from None

    def _read_reply(self, what: str) -> None:
        try:
            data = os.read(self.rep_r, 1 << 16)
        except BlockingIOError:
            return
        if not data:
            raise self._crash(what)
        self.frames.feed(data)

    def _wait_io(
        self, deadline: float, poller: select.poll, what: str, limit: str, secs: float
    ) -> set[int]:
        remaining = deadline - time.monotonic()
        events = poller.poll(max(remaining, 0) * 1000) if remaining > 0 else []
        if not events:
            self.kill()
            raise ControllerFailure(
                "timeout",
                f"{what} did not return within the {limit} limit of {secs:.3g} s; "
                "the controller process was killed (SIGKILL)",
            )
        return {fd for fd, _ in events}

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.out_fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                # Every writer is gone (the controller closed its stdout and stderr): poll()
                # would report the hang-up at once, for ever. Handle it once: stop watching.
                try:
                    self._in_poll.unregister(self.out_fd)
                except KeyError:  # already done
                    pass
                return
            self.output.add(data)

    def _crash(self, what: str) -> ControllerFailure:
        self._drain()
        try:
            code = self.proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            code = None
        self.kill()
        code = self.proc.returncode if code is None else code
        tail = self.output.kept[-600:].decode("utf-8", "replace").strip()
        more = f"; last output: {tail}" if what == "startup" and tail else ""
        return ControllerFailure("crash", f"{what}: {describe_exit(code, self.limits)}{more}")
