"""The embedded model: llama-cpp-python's own OpenAI-compatible server on a loopback port.

The server is started on first use (`python -m llama_cpp.server`, one thread per core),
health-checked by polling /v1/models, reused for every request of the backend, and stopped
on close() or at exit (its whole process group). If `armloop serve` is running (its URL
is in <cache>/server.json and it answers), that server is used instead and left running.
The server's output goes to <cache>/logs/llama-server-PORT.log; if it dies, the error
quotes the log's tail. Requests go through the openai backend's code.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx

from loop.backends.base import Backend, BackendConfig, ChatRequest, Stream
from loop.backends.model_files import MODEL_NAME, cache_dir, ensure_model
from loop.backends.openai import OpenAIBackend
from loop.errors import BackendError

MODEL_ID = MODEL_NAME.removesuffix(".gguf")
DEFAULT_N_CTX = 4096
STARTUP_S = 180.0

# Runs llama_cpp.server, and kills its own process group if our process goes away without
# stopping it (SIGKILL, crash): no orphaned server holding a gigabyte and every core.
_CHILD = """
import os, runpy, signal, sys, threading, time
parent = int(sys.argv[1])
def watch():
    while os.getppid() == parent:
        time.sleep(1.0)
    os.killpg(0, signal.SIGKILL)
threading.Thread(target=watch, daemon=True).start()
sys.argv = ["llama_cpp.server", *sys.argv[2:]]
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def llama_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def state_file() -> Path:
    return cache_dir() / "server.json"


def running_server_url() -> str | None:
    """The URL of a live `armloop serve`, else None (a stale state file is removed)."""
    path = state_file()
    try:
        state = json.loads(path.read_text())
        os.kill(int(state["pid"]), 0)
        url = state["url"]
    except (OSError, ValueError, KeyError, TypeError):
        path.unlink(missing_ok=True)
        return None
    if _healthy(url):
        return url
    return None


def _healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{url}/models", timeout=timeout).is_success
    except httpx.HTTPError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalServer:
    """One llama_cpp.server process. Context manager; stop() kills its process group."""

    def __init__(self, model: Path, port: int = 0, n_ctx: int = DEFAULT_N_CTX) -> None:
        self.model = model
        self.port = port or free_port()
        self.n_ctx = n_ctx
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = cache_dir() / "logs" / f"llama-server-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        n = str(cores())
        return [
            sys.executable, "-c", _CHILD, str(os.getpid()),
            "--model", str(self.model), "--model_alias", MODEL_ID,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(self.n_ctx), "--n_threads", n, "--n_threads_batch", n,
        ]  # fmt: skip

    def start(self, timeout: float = STARTUP_S) -> LocalServer:
        """Start and wait until /v1/models answers; a death or timeout quotes the log."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=env,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise self.died(f"the local model server exited (code {self.proc.returncode})")
            if _healthy(self.url, timeout=1.0):
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

    def __enter__(self) -> LocalServer:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LocalBackend(Backend):
    """The embedded model; `model` may name another .gguf file to serve instead."""

    kind = "local"

    def __init__(self, config: BackendConfig) -> None:
        if config.base_url:
            raise BackendError(
                f"the local backend serves its own model; it takes no base URL ({config.base_url})",
                "use --backend openai --base-url URL for a server that is already running",
            )
        price_in = 0.0 if config.price_in_per_mtok is None else config.price_in_per_mtok
        price_out = 0.0 if config.price_out_per_mtok is None else config.price_out_per_mtok
        config = replace(
            config,
            model=config.model or MODEL_ID,
            n_ctx=config.n_ctx or DEFAULT_N_CTX,
            price_in_per_mtok=price_in,
            price_out_per_mtok=price_out,
        )
        super().__init__(config)
        self.server: LocalServer | None = None
        self._inner: OpenAIBackend | None = None

    @property
    def base_url(self) -> str | None:
        return self._inner.url if self._inner else None

    def start(self) -> str:
        """Reuse `armloop serve` or start our own server; return its URL. Idempotent."""
        if self._inner is None:
            url = running_server_url()
            if url is None:
                if not llama_installed():
                    raise BackendError(
                        "llama-cpp-python is not installed, so the local model cannot run",
                        "run `make venv` (it builds llama-cpp-python[server]), or pick "
                        "another --backend",
                    )
                self.server = LocalServer(self._gguf(), n_ctx=self.config.n_ctx or DEFAULT_N_CTX)
                url = self.server.start().url
            inner = replace(self.config, kind="openai", base_url=url, api_key_env=None)
            self._inner = OpenAIBackend(inner, unreachable_fix="restart `armloop serve`")
        return self._inner.url

    def warm(self, prefix: list[dict] | None = None) -> dict[str, float]:
        """Start (or find) the server, then prefill `prefix` so the server's prompt cache
        holds the run's unchanging first messages; seconds per step."""
        t0 = time.perf_counter()
        self.start()
        taken = {"server_s": time.perf_counter() - t0}
        if prefix:
            t1 = time.perf_counter()
            self._prefill(prefix)
            taken["prefill_s"] = time.perf_counter() - t1
        return taken

    def _prefill(self, messages: list[dict]) -> None:
        request = ChatRequest(messages=list(messages), temperature=0.0, max_tokens=1)
        try:
            with self.stream(request) as s:
                s.text()
        except BackendError:
            pass  # the first real request will say what is wrong

    def stream(self, request: ChatRequest) -> Stream:
        self.start()
        assert self._inner is not None
        try:
            return self._inner.stream(request)
        except BackendError as exc:
            if self.server is not None and not self.server.alive():
                raise self.server.died(f"the local model server died ({exc.problem})") from exc
            raise

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()
            self._inner = None
        if self.server is not None:
            self.server.stop()
            self.server = None
        super().close()

    def _gguf(self) -> Path:
        model = self.config.model or ""
        if model.endswith(".gguf"):
            path = Path(model).expanduser()
            if not path.is_file():
                raise BackendError(f"no model file at {path}", "give --model an existing .gguf")
            return path
        return ensure_model()
