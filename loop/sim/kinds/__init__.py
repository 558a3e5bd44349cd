"""Task kinds by name. Every module in this package is imported on first use, so a new kind
only needs its own file with a `@register`ed class (see base.py)."""

from __future__ import annotations

import importlib
import pkgutil

from loop.sim.kinds.base import Kind, Outcome
from loop.sim.kinds.registry import KINDS, register

__all__ = ["Kind", "Outcome", "register", "get_kind", "kind_names"]

_HELPERS = {"base", "registry"}
_loaded = False


def _load_all() -> None:
    """Import every kind module once (each registers itself)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in pkgutil.iter_modules(__path__):
        if mod.name not in _HELPERS:
            importlib.import_module(f"{__name__}.{mod.name}")


def kind_names() -> list[str]:
    _load_all()
    return sorted(KINDS)


def get_kind(name: str) -> type[Kind]:
    _load_all()
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown kind {name!r}; known kinds: {', '.join(sorted(KINDS))}") from None
