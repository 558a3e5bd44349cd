"""The simulator side: warm worlds, episodes, metrics, scoring and feedback."""

import os
import sys


def _import_pybullet_quietly() -> None:
    """pybullet writes "pybullet build time: ..." to stderr from C when imported; keep that
    off the console of every command and worker. Import errors still raise as usual."""
    if "pybullet" in sys.modules:
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to keep clean
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import pybullet  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_import_pybullet_quietly()
