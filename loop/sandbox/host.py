"""What the simulator needs from a controller host: load code, reset, step, close.

The simulator (trusted) never runs generated code itself. It talks to a host that does:
`ControllerProcess` (a hardened child process, the only host used for generated code) or
`InProcessController` (trusted reference code only, used to measure the cost of isolation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Limits:
    """Wall-clock and resource limits for one controller version."""

    load_s: float = 10.0  # import + class lookup
    init_s: float = 2.0  # Controller(robot) + reset(obs), per episode
    step_s: float = 0.25  # one step(obs)
    episode_s: float = 30.0  # all steps of one episode, controller time only
    cpu_s: int = 120  # RLIMIT_CPU for the child, seconds
    memory_bytes: int = 1 << 30  # RLIMIT_AS for the child
    output_bytes: int = 64 << 10  # captured stdout+stderr kept per controller version
    open_files: int = 64  # RLIMIT_NOFILE


#: ControllerFailure.kind is always one of these.
FAILURE_KINDS = ("load", "exception", "timeout", "crash", "bad_action", "output")


class ControllerFailure(Exception):
    """The controller failed; the episode ends and this goes back to the model as feedback.

    kind: "load" (import or no Controller), "exception" (raised in __init__/reset/step),
    "timeout", "crash" (process died: signal, memory, forbidden syscall), "bad_action"
    (returned something that is not an action), "output" (flooded stdout/stderr).
    traceback: the controller's own frames only, each with its source line.
    """

    def __init__(self, kind: str, message: str, traceback: str = "") -> None:
        self.kind = kind
        self.message = message
        self.traceback = traceback
        super().__init__(f"{kind}: {message}")

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message, "traceback": self.traceback}


class ControllerHost(Protocol):
    def load(self, code: str, filename: str, robot: dict[str, Any]) -> None:
        """Compile and import `code`; check it defines `Controller`. Raises ControllerFailure.

        robot: {"name": "panda", "control_dt": 1/30} — the host builds the controller's
        `robot` argument with robots.robot_info(name, control_dt).
        """

    def reset(self, obs: dict[str, Any]) -> None:
        """New episode: a fresh Controller(robot), then reset(obs). Raises ControllerFailure."""

    def step(self, obs: dict[str, Any]) -> dict[str, Any]:
        """One tick: returns the raw action dict (values as float lists).

        Raises ControllerFailure.
        """

    def output(self) -> str:
        """What the controller printed so far (capped)."""

    def close(self) -> None:
        """Stop the host; idempotent."""
