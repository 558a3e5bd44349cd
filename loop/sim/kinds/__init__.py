"""Registry of task kinds by name. Every module in this package is imported on first use,
so a new kind only needs its own file (see base.py)."""

from __future__ import annotations

import importlib
import pkgutil

from loop.sim.kinds.base import Kind, Outcome

__all__ = ["Kind", "Outcome", "register", "get_kind", "kind_names"]

_KINDS: dict[str, type[Kind]] = {}
_loaded = False


def register(cls: type[Kind]) -> type[Kind]:
    """Class decorator: make `cls` available as `kind = "<cls.name>"` in task specs."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no `name`")
    _KINDS[cls.name] = cls
    return cls


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in pkgutil.iter_modules(__path__):
        if mod.name != "base":
            importlib.import_module(f"{__name__}.{mod.name}")


def kind_names() -> list[str]:
    _load_all()
    return sorted(_KINDS)


def get_kind(name: str) -> type[Kind]:
    _load_all()
    try:
        return _KINDS[name]
    except KeyError:
        raise KeyError(f"unknown kind {name!r}; known kinds: {', '.join(sorted(_KINDS))}") from None
