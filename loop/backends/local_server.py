"""The embedded model's server process, on a loopback port.

Two servers can serve the GGUF; both speak the OpenAI chat API, so requests go through the
openai backend's code either way:

    llama.cpp         llama.cpp's own `llama-server` (server_build.py builds it): parallel
                      slots on one unified KV cache with continuous batching, so N candidates
                      stream at once. The default.
    llama-cpp-python  `python -m llama_cpp.server`: one request at a time. Kept to compare
                      (`make bench`) and as a fallback (profile key `server`).

A server is started, health-checked by polling /v1/models (llama-server answers 503 while
it loads), warmed with one token so that paging the weights in counts as startup, and
stopped with its whole process group. A small Python parent runs it and kills the group if
armloop goes away without stopping it (SIGKILL, crash): no orphan holding a gigabyte and
every core. Its output goes to <cache>/logs/llama-server-PORT.log; if it dies, the error
quotes the log's tail.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from loop.backends.model_files import MODEL_NAME, cache_dir
from loop.errors import BackendError

MODEL_ID = MODEL_NAME.removesuffix(".gguf")
DEFAULT_N_CTX = 4096
STARTUP_S = 180.0
SERVERS = ("llama.cpp", "llama-cpp-python")

# Runs the server as its child and kills their process group when our parent goes away.
_PARENT = """
import os, signal, subprocess, sys, threading, time
parent = int(sys.argv[1])
def watch():
    while os.getppid() == parent:
        time.sleep(1.0)
    os.killpg(0, signal.SIGKILL)
threading.Thread(target=watch, daemon=True).start()
child = subprocess.Popen(sys.argv[2:])
signal.signal(signal.SIGTERM, lambda *_: os.killpg(0, signal.SIGKILL))
sys.exit(child.wait())
"""


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def decode_threads() -> int:
    """Threads for decoding: half the cores (at least one), so that sim workers simulating
    other candidates meanwhile keep a core; prompt batches use every core."""
    return max(1, cores() // 2)


def llama_cpp_python_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{url}/models", timeout=timeout).is_success
    except httpx.HTTPError:
        return False


class LocalServer:
    """One embedded-model server process. Context manager; stop() kills its process group.

    `server` is "llama.cpp" (needs `binary`) or "llama-cpp-python"; `slots` is how many
    requests llama.cpp serves at once (each with n_ctx tokens of the shared KV cache).
    Idle slots keep what they hold (`--no-cache-idle-slots`): by default llama.cpp moves
    an idle slot to its host-memory cache and clears it whenever another slot starts a
    task, and of four slots holding the run's prefix one came back empty and prefilled it
    again (62 s to first token, stalling the other three streams for 40 s)."""

    def __init__(
        self,
        model: Path,
        port: int = 0,
        n_ctx: int = DEFAULT_N_CTX,
        *,
        server: str = "llama.cpp",
        binary: Path | None = None,
        slots: int = 1,
        threads: int | None = None,
    ) -> None:
        if server not in SERVERS:
            raise BackendError(f"no embedded server named {server!r}", f"use one of {SERVERS}")
        self.model = model
        self.port = port or free_port()
        self.n_ctx = n_ctx
        self.server = server
        self.binary = binary
        self.slots = slots if server == "llama.cpp" else 1
        self.threads = threads or decode_threads()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = cache_dir() / "logs" / f"llama-server-{self.port}.log"
        self.slot_dir = cache_dir() / "slots" / str(self.port)
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        """The server's own command line (run under the watching parent)."""
        batch = str(cores())
        if self.server == "llama-cpp-python":
            return [
                sys.executable, "-m", "llama_cpp.server",
                "--model", str(self.model), "--model_alias", MODEL_ID,
                "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.n_ctx),
                "--n_threads", str(self.threads), "--n_threads_batch", batch,
            ]  # fmt: skip
        if self.binary is None:
            raise BackendError("no llama-server binary was given", "run `armloop model server`")
        return [
            str(self.binary), "--model", str(self.model), "--alias", MODEL_ID,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--ctx-size", str(self.n_ctx * self.slots), "--parallel", str(self.slots),
            "--kv-unified", "--no-cache-idle-slots",
            "--threads", str(self.threads), "--threads-batch", batch,
            "--slot-save-path", str(self.slot_dir), "--no-webui", "--metrics",
        ]  # fmt: skip

    def start(self, timeout: float = STARTUP_S) -> LocalServer:
        """Start and wait until /v1/models answers; a death or timeout quotes the log."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.slot_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        command = [sys.executable, "-c", _PARENT, str(os.getpid()), *self.command()]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise self.died(f"the local model server exited (code {self.proc.returncode})")
            if healthy(self.url, timeout=1.0):
                self._warm_up()
                return self
            time.sleep(0.2)
        self.stop()
        raise self.died(f"the local model server did not answer within {timeout:.0f} s")

    def _warm_up(self) -> None:
        """One token, so that paging the weights in counts as startup, not as TTFT."""
        body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
        try:
            httpx.post(f"{self.url}/chat/completions", json=body, timeout=STARTUP_S)
        except httpx.HTTPError:
            pass  # the first real request will say what is wrong

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def died(self, what: str) -> BackendError:
        return BackendError(
            f"{what}; last lines of {self.log}:\n{self.log_tail()}",
            "read the log above; `armloop model fetch` re-verifies the model file",
        )

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return "\n".join("    " + line for line in text[-lines:])

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for saved in self.slot_dir.glob("*"):
            saved.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.slot_dir.rmdir()

    def __enter__(self) -> LocalServer:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
