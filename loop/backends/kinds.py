"""The backend kinds by name (`--backend KIND`, a profile's `backend = KIND`).

Adding a kind is one class (a `Backend` with `stream()`, see openai.py) and one row here."""

from __future__ import annotations

from loop.backends.anthropic import AnthropicBackend
from loop.backends.base import Backend
from loop.backends.local import LocalBackend
from loop.backends.openai import OpenAIBackend

KINDS: dict[str, type[Backend]] = {
    "local": LocalBackend,
    "openai": OpenAIBackend,
    "anthropic": AnthropicBackend,
}
