"""Which ControllerHost a sim worker uses.

"auto" (the default, for all generated code and `armloop eval`): ControllerProcess, the
hardened child, when loop.sandbox.process is importable; InProcessController otherwise.
"process" / "inprocess" force one; "inprocess" is for trusted reference code and benchmarks.
"""

from __future__ import annotations

import importlib.util

from loop.sandbox.host import ControllerHost, Limits

HOSTS = ("auto", "process", "inprocess")


def process_available() -> bool:
    return importlib.util.find_spec("loop.sandbox.process") is not None


def resolve_host(kind: str) -> str:
    if kind not in HOSTS:
        raise ValueError(f"unknown controller host {kind!r}; use one of {', '.join(HOSTS)}")
    if kind == "auto":
        return "process" if process_available() else "inprocess"
    return kind


def make_host(kind: str, limits: Limits) -> ControllerHost:
    if resolve_host(kind) == "process":
        from loop.sandbox.process import ControllerProcess

        return ControllerProcess(limits)
    from loop.sandbox.inprocess import InProcessController

    return InProcessController(limits)
