"""The embedded model: a loopback server for the GGUF, started on first use.

By default the server is llama.cpp's own `llama-server` (built once from the sources that
llama-cpp-python vendors, see server_build.py) with `slots` parallel slots (default 4, at
least the run's candidate count), so several candidates stream at once; profile key
`server = "llama-cpp-python"` serves it with llama-cpp-python's one-at-a-time server
instead. If `armloop serve` is running (its URL is in <cache>/server.json and it answers),
that server is used and left running. Requests go through the openai backend's code, with
the sampling parameters of `EMBEDDED_SAMPLING` sent explicitly.

warm() starts the server and prefills the run's unchanging first messages: in slot 0, then
(llama.cpp) saved and restored into every other slot, so no candidate pays for the prompt
prefix again. Both steps are timed and reported in setup_s.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

import httpx

from loop.backends.base import Backend, BackendConfig, ChatRequest, Stream
from loop.backends.local_server import (
    DEFAULT_N_CTX,
    MODEL_ID,
    SERVERS,
    STARTUP_S,
    LocalServer,
    healthy,
    llama_cpp_python_installed,
)
from loop.backends.model_files import cache_dir, ensure_model
from loop.backends.openai import OpenAIBackend
from loop.backends.sampling import EMBEDDED_SAMPLING
from loop.backends.server_build import ensure_server
from loop.errors import BackendError

DEFAULT_SLOTS = 4
PREFIX_FILE = "armloop-prefix.bin"


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
    if healthy(url):
        return url
    return None


class LocalBackend(Backend):
    """The embedded model; `model` may name another .gguf file to serve instead."""

    kind = "local"

    def __init__(self, config: BackendConfig) -> None:
        if config.base_url:
            raise BackendError(
                f"the local backend serves its own model; it takes no base URL ({config.base_url})",
                "use --backend openai --base-url URL for a server that is already running",
            )
        if config.server not in (None, *SERVERS):
            raise BackendError(
                f"server = {config.server!r} is not an embedded model server",
                f"set server to one of {', '.join(SERVERS)} (or leave it out)",
            )
        price_in = 0.0 if config.price_in_per_mtok is None else config.price_in_per_mtok
        price_out = 0.0 if config.price_out_per_mtok is None else config.price_out_per_mtok
        config = replace(
            config,
            model=config.model or MODEL_ID,
            n_ctx=config.n_ctx or DEFAULT_N_CTX,
            sampling=config.sampling if config.sampling.sent() else EMBEDDED_SAMPLING,
            price_in_per_mtok=price_in,
            price_out_per_mtok=price_out,
        )
        super().__init__(config)
        self.server: LocalServer | None = None
        self._inner: OpenAIBackend | None = None

    @property
    def base_url(self) -> str | None:
        return self._inner.url if self._inner else None

    def start(self, streams: int = 1) -> str:
        """Reuse `armloop serve` or start our own server (with at least `streams` slots);
        return its URL. Idempotent."""
        if self._inner is None:
            url = running_server_url()
            if url is None:
                self.server = self._server(streams)
                url = self.server.start().url
            inner = replace(self.config, kind="openai", base_url=url, api_key_env=None)
            self._inner = OpenAIBackend(
                inner, unreachable_fix="restart `armloop serve`", extra_body=self._extra_body()
            )
        return self._inner.url

    def _extra_body(self) -> dict:
        """llama.cpp sends its timings (cache_n: prompt tokens it had cached) with every
        chunk when asked, so a stream cut at the code's end still says what was cached."""
        if (self.config.server or "llama.cpp") == "llama.cpp":
            return {"timings_per_token": True}
        return {}

    def _server(self, streams: int) -> LocalServer:
        kind = self.config.server or "llama.cpp"
        if kind == "llama-cpp-python" and not llama_cpp_python_installed():
            raise BackendError(
                "llama-cpp-python is not installed, so its server cannot run the local model",
                "run `make bench` once (it builds llama-cpp-python[server]), or drop `server` "
                "from the profile to use llama.cpp's own server",
            )
        binary = ensure_server() if kind == "llama.cpp" else None
        return LocalServer(
            self._gguf(),
            n_ctx=self.config.n_ctx or DEFAULT_N_CTX,
            server=kind,
            binary=binary,
            slots=max(self.config.slots or DEFAULT_SLOTS, streams),
            threads=self.config.threads,
        )

    def warm(self, prefix: list[dict] | None = None, streams: int = 1) -> dict[str, float]:
        """Start (or find) the server, then prefill `prefix`, the run's unchanging first
        messages, into every slot; seconds per step."""
        t0 = time.perf_counter()
        self.start(streams)
        taken = {"server_s": time.perf_counter() - t0}
        if prefix:
            t1 = time.perf_counter()
            self._prefill(prefix)
            taken["prefill_s"] = time.perf_counter() - t1
        return taken

    def _prefill(self, messages: list[dict]) -> None:
        """One token of `messages` in slot 0; llama.cpp then copies slot 0 into the others
        (a KV save and restore takes well under a second; prefilling again takes ~50 s)."""
        assert self._inner is not None
        root = self._inner.url.removesuffix("/v1")
        body = {"messages": list(messages), "max_tokens": 1, "temperature": 0.0}
        slots = self.server.slots if self.server is not None else 1
        if slots > 1:
            body["id_slot"] = 0
        try:
            httpx.post(f"{root}/v1/chat/completions", json=body, timeout=STARTUP_S)
            if slots > 1:
                self._copy_slot(root, slots)
        except httpx.HTTPError:
            pass  # the first real request will say what is wrong

    def _copy_slot(self, root: str, slots: int) -> None:
        saved = httpx.post(
            f"{root}/slots/0?action=save", json={"filename": PREFIX_FILE}, timeout=STARTUP_S
        )
        if not saved.is_success:
            return
        for slot in range(1, slots):
            httpx.post(
                f"{root}/slots/{slot}?action=restore",
                json={"filename": PREFIX_FILE},
                timeout=STARTUP_S,
            )

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
