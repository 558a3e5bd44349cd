"""Which top-level modules a controller can import in the sandboxed child (for the static check).

The child is `sys.executable -I` with the repo first on its sys.path (childproc.py). It can
import: built-in and frozen modules; whatever its import system finds on that path (the repo,
the standard library, site-packages and what their .pth files add, namespace packages
included); what an import hook installed by those .pth files provides (editable installs);
and what is already in its sys.modules (`__main__`, numpy, the controller module itself).

Only top-level names are looked up, and nothing is imported or run in this process. The common
names are answered from this interpreter alone: built-in, frozen, the standard library's own
folders and the repo (always on the child's path), numpy (imported by the child before any
controller). Any other name asks the child's interpreter once for its sys.path, import hooks
and sys.modules (one short subprocess per process, cached). When that cannot be learnt, every
name counts as importable: the check must never refuse an import that would work.
"""

from __future__ import annotations

import importlib.machinery
import json
import subprocess
import sys
import sysconfig
import tempfile
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

#: the name the controller module is loaded under (sys.modules, __name__)
CONTROLLER_MODULE = "controller"
#: in the child's sys.modules before any controller code runs
PRELOADED = frozenset({"numpy", "loop", "robots", "__main__", CONTROLLER_MODULE})
REPO = str(Path(__file__).resolve().parents[2])
STANDARD_FINDERS = (
    importlib.machinery.BuiltinImporter,
    importlib.machinery.FrozenImporter,
    importlib.machinery.PathFinder,
)
PROBE = """
import json, sys
def ident(f):
    t = f if isinstance(f, type) else type(f)
    return t.__module__ + "." + t.__qualname__
print(json.dumps({"path": sys.path, "finders": [ident(f) for f in sys.meta_path],
                  "modules": sorted({m.partition(".")[0] for m in sys.modules})}))
"""


def child_can_import(name: str) -> bool:
    """True unless `import name` certainly fails in the child (ModuleNotFoundError)."""
    top = name.partition(".")[0]
    return _known(top) or _probed(top)


def _ident(finder: object) -> str:
    kind = finder if isinstance(finder, type) else type(finder)
    return f"{kind.__module__}.{kind.__qualname__}"


@cache
def _local_path() -> tuple[str, ...]:
    """The repo and the standard library's folders: on the child's path by construction."""
    folders = {sysconfig.get_paths()["stdlib"], sysconfig.get_config_var("DESTSHARED")}
    return (REPO, *(p for p in sys.path if p in folders))


@cache
def _known(top: str) -> bool:
    if top in sys.builtin_module_names or top in PRELOADED:
        return True
    if importlib.machinery.FrozenImporter.find_spec(top) is not None:
        return True
    return importlib.machinery.PathFinder.find_spec(top, list(_local_path())) is not None


@dataclass(frozen=True)
class ChildView:
    path: tuple[str, ...]
    finders: frozenset[str]
    modules: frozenset[str]


_probe_lock = threading.Lock()
_view: list[ChildView | None] = []  # filled once


def child_view() -> ChildView | None:
    """sys.path, import hooks and sys.modules of a fresh child interpreter; None if unknown."""
    with _probe_lock:
        if not _view:
            _view.append(_probe())
        return _view[0]


def _probe() -> ChildView | None:
    from loop.sandbox.childproc import child_env

    try:
        proc = subprocess.run(
            [sys.executable, "-I", "-c", PROBE],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=tempfile.gettempdir(),
            env=child_env(tempfile.gettempdir()),
            stdin=subprocess.DEVNULL,
        )
        data = json.loads(proc.stdout)
        return ChildView(
            path=(REPO, *data["path"]),
            finders=frozenset(data["finders"]),
            modules=frozenset(data["modules"]),
        )
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, TypeError):
        return None


@cache
def _probed(top: str) -> bool:
    view = child_view()
    if view is None or top in view.modules:
        return True
    if importlib.machinery.PathFinder.find_spec(top, list(view.path)) is not None:
        return True
    for finder in list(sys.meta_path):  # the child's own hooks, as installed in this process
        if finder in STANDARD_FINDERS or _ident(finder) not in view.finders:
            continue
        try:
            if finder.find_spec(top, None) is not None:
                return True
        except Exception:  # noqa: BLE001 - a hook that cannot answer: do not refuse
            return True
    return False
