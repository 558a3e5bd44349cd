"""One error type for everything a user can fix: it names the problem and the fix."""

from __future__ import annotations


class ArmloopError(Exception):
    """A problem the user can act on. `str()` gives the problem, then the fix."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(problem if not fix else f"{problem}\n  fix: {fix}")


class TaskSpecError(ArmloopError):
    """A task spec that cannot be loaded: bad TOML, unknown keys, unknown robot, missing file."""


class ControllerFileError(ArmloopError):
    """A controller file that cannot be used: missing, unreadable, or without a `Controller`."""


class BackendError(ArmloopError):
    """A model backend failed: missing key, unreachable server, HTTP error, broken stream."""
