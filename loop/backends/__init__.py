"""Model backends: a chat request in, a timed stream of text deltas out.

    from loop.backends import open_backend, ChatRequest

    backend = open_backend(name=None, model=None, base_url=None, config=None)
    backend.describe()      # {kind, name, model, base_url, api_key_env, options}; never the key
    with backend.stream(ChatRequest(messages=[{"role": "user", "content": "hi"}])) as s:
        for delta in s: ...     # str text deltas; s.close() stops the server generating
    s.t_sent, s.t_first_token, s.t_last_token     # time.perf_counter()
    s.tokens_in, s.tokens_out, s.usage_from_server, s.finish_reason
    backend.price_in_per_mtok, backend.price_out_per_mtok    # None when unknown
    backend.close()         # local: stops the server it started

`name`: local (default: the embedded model), openai, anthropic, or a profile name from
armloop.toml (`config`, default ./armloop.toml if present). Every failure is a
BackendError(problem, fix). See base.py for what each timing field means exactly.
"""

from __future__ import annotations

from pathlib import Path

from loop.backends.base import Backend, BackendConfig, ChatBackend, ChatRequest, Stream, Timeouts
from loop.backends.kinds import KINDS
from loop.backends.profiles import resolve
from loop.errors import BackendError

__all__ = [
    "Backend",
    "BackendConfig",
    "BackendError",
    "ChatBackend",
    "KINDS",
    "ChatRequest",
    "Stream",
    "Timeouts",
    "make_backend",
    "open_backend",
]


def open_backend(
    name: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    config: Path | str | None = None,
) -> Backend:
    """Open the backend named by a kind or profile (None -> local), with CLI overrides."""
    path = Path(config) if config is not None else None
    return make_backend(resolve(name, model=model, base_url=base_url, config=path))


def make_backend(config: BackendConfig) -> Backend:
    """A backend from a resolved config."""
    return KINDS[config.kind](config)
