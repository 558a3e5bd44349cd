"""The table of task kinds by name; `@register` adds a kind (see base.py for how to write one)."""

from __future__ import annotations

from loop.sim.kinds.base import Kind

KINDS: dict[str, type[Kind]] = {}


def register(cls: type[Kind]) -> type[Kind]:
    """Class decorator: make `cls` available as `kind = "<cls.name>"` in task specs."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no `name`")
    KINDS[cls.name] = cls
    return cls
