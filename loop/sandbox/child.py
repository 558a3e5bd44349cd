"""The controller child: imports numpy and robots, hardens itself, then serves requests.

Started by ControllerProcess as `python -I -c BOOTSTRAP REPO FD_IN FD_OUT CONFIG_JSON`.
Requests and replies are JSON frames (wire.py) on two dedicated pipes; stdout/stderr are the
controller's own output, captured by the parent.
Requests: {"op": "load", "code", "filename", "robot"} | {"op": "reset", "obs"} |
{"op": "step", "obs"} | {"op": "ping"}. Replies: {"ok": true, "value": ...} or
{"ok": false, "kind", "message", "traceback"}.
"""

from __future__ import annotations

import importlib.machinery
import json
import sys
import types
from types import SimpleNamespace
from typing import Any

import numpy as np

from loop.sandbox import frames, harden, wire
from loop.sandbox.imports import CONTROLLER_MODULE


class Failure(Exception):
    def __init__(self, kind: str, message: str, traceback: str = "") -> None:
        super().__init__(message)
        self.reply = {"ok": False, "kind": kind, "message": message, "traceback": traceback}


def robot_info(robot: dict[str, Any]) -> Any:
    """robots.robot_info(name, control_dt); a plain namespace only if robots is not installed."""
    try:
        import robots
    except ImportError:
        return SimpleNamespace(**robot)
    return robots.robot_info(robot["name"], robot["control_dt"])


def to_obs(obs: dict[str, Any]) -> dict[str, Any]:
    """Lists become float64 arrays, numbers stay floats: a fresh copy for every call."""
    out: dict[str, Any] = {}
    for key, value in obs.items():
        if isinstance(value, list):
            try:
                out[key] = np.asarray(value, dtype=np.float64)
            except (ValueError, TypeError):
                out[key] = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = float(value)
        else:
            out[key] = value
    return out


def _describe(value: Any) -> str:
    if not isinstance(value, dict):
        return f"{type(value).__name__} {frames.short_repr(value)}"
    parts = []
    for key, item in list(value.items())[:8]:
        shape = getattr(item, "shape", None)
        shape_text = f" shape {tuple(shape)}" if shape is not None else ""
        parts.append(f"{key!r}: {type(item).__name__}{shape_text} {frames.short_repr(item)}")
    return "dict {" + ", ".join(parts) + "}"


def to_action(value: Any) -> dict[str, Any]:
    """The action as {key: nested float lists}; anything else is a bad_action failure."""
    if not isinstance(value, dict):
        raise Failure("bad_action", f"step() must return a dict, got {_describe(value)}")
    action: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise Failure("bad_action", f"action keys must be strings, got {_describe(value)}")
        try:
            action[key] = np.asarray(item, dtype=np.float64).tolist()
        except BaseException as exc:  # noqa: BLE001 - hostile __array__/__float__
            raise Failure(
                "bad_action",
                f"action[{key!r}] is not numeric "
                f"({frames.safe_str(exc, 200)}); returned {_describe(value)}",
            ) from None
    return action


def import_module_code(code: str, filename: str) -> dict[str, Any]:
    """Run the controller's code as a normal import of module `controller` would: a module
    object in sys.modules under its name while its code runs (dataclasses, typing and enum
    look it up there), `__name__`, `__file__`, `__spec__`, and no `__future__` flags of this
    file. A module that fails is removed from sys.modules again. Returns its namespace."""
    module = types.ModuleType(CONTROLLER_MODULE)
    module.__file__ = filename
    module.__package__ = ""
    module.__spec__ = importlib.machinery.ModuleSpec(CONTROLLER_MODULE, None, origin=filename)
    sys.modules[CONTROLLER_MODULE] = module
    try:
        exec(compile(code, filename, "exec", dont_inherit=True), module.__dict__)  # noqa: S102
    except BaseException:
        if sys.modules.get(CONTROLLER_MODULE) is module:
            del sys.modules[CONTROLLER_MODULE]
        raise
    return module.__dict__


class Server:
    def __init__(self, memory_bytes: int) -> None:
        self.memory_bytes = memory_bytes
        self.filename = "<controller>"
        self.cls: Any = None
        self.robot: Any = None
        self.ctl: Any = None

    def _fail(self, exc: BaseException, where: str) -> Failure:
        message, tb = frames.describe_exception(exc, self.filename)
        if isinstance(exc, MemoryError):
            message += f" (exceeded the memory limit of {self.memory_bytes >> 20} MiB)"
        kind = "load" if where == "load" else "exception"
        return Failure(kind, f"{message} (in {where})", tb)

    def load(self, code: str, filename: str, robot: dict[str, Any]) -> None:
        self.filename = filename
        frames.register_source(filename, code)
        try:
            namespace = import_module_code(code, filename)
        except BaseException as exc:  # noqa: BLE001
            raise self._fail(exc, "load") from None
        cls = namespace.get("Controller")
        if cls is None:
            raise Failure("load", f"{filename} defines no `Controller` class")
        if not callable(getattr(cls, "step", None)):
            raise Failure("load", "`Controller` has no callable `step(self, obs)` method")
        try:
            self.robot = robot_info(robot)
        except Exception as exc:  # noqa: BLE001 - trusted code, but report, don't die
            raise Failure("load", f"robot_info({robot!r}) failed: {frames.safe_str(exc)}") from None
        self.cls = cls

    def reset(self, obs: dict[str, Any]) -> None:
        if self.cls is None:
            raise Failure("load", "no controller loaded")
        self.ctl = None
        try:
            self.ctl = self.cls(self.robot)
        except BaseException as exc:  # noqa: BLE001
            raise self._fail(exc, "Controller.__init__") from None
        reset = getattr(self.ctl, "reset", None)
        if reset is not None:
            try:
                reset(to_obs(obs))
            except BaseException as exc:  # noqa: BLE001
                raise self._fail(exc, "reset") from None

    def step(self, obs: dict[str, Any]) -> dict[str, Any]:
        if self.ctl is None:
            raise Failure("exception", "step() before a successful reset()")
        try:
            value = self.ctl.step(to_obs(obs))
        except BaseException as exc:  # noqa: BLE001
            raise self._fail(exc, "step") from None
        return to_action(value)

    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req.get("op")
        try:
            if op == "load":
                self.load(req["code"], req["filename"], req["robot"])
                return {"ok": True, "value": None}
            if op == "reset":
                self.reset(req["obs"])
                return {"ok": True, "value": None}
            if op == "step":
                return {"ok": True, "value": self.step(req["obs"])}
            if op == "ping":
                return {"ok": True, "value": harden.sandbox_features()}
            return Failure("crash", f"unknown request {op!r}").reply
        except Failure as failure:
            return failure.reply


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - the controller may have replaced or closed it
            pass


def _reply(fd: int, reply: dict[str, Any]) -> None:
    try:
        wire.write_frame(fd, reply)
    except (TypeError, ValueError, wire.WireError) as exc:
        wire.write_frame(fd, Failure("bad_action", f"reply not serialisable: {exc}").reply)


def serve(fd_in: int, fd_out: int, server: Server) -> None:
    while True:
        try:
            req = wire.read_frame(fd_in)
        except EOFError:
            return
        reply = server.handle(req)
        _flush()
        _reply(fd_out, reply)


def main() -> None:
    fd_in, fd_out = int(sys.argv[2]), int(sys.argv[3])
    raw = json.loads(sys.argv[4])
    try:
        import robots  # noqa: F401 - pre-import before the sandbox closes the file system
    except ImportError:
        pass
    cfg = harden.SandboxConfig(
        workdir=raw["workdir"],
        read_paths=tuple(raw["read_paths"]),
        memory_bytes=raw["memory_bytes"],
        cpu_s=raw["cpu_s"],
        open_files=raw["open_files"],
        skip=tuple(raw.get("skip_layers", ())),
    )
    features = harden.apply(cfg) if raw.get("harden", True) else {"disabled": True}
    wire.write_frame(fd_out, {"ok": True, "ready": True, "value": features})
    serve(fd_in, fd_out, Server(cfg.memory_bytes))
