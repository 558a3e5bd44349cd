"""The run directory of DESIGN.md: config.toml, events.jsonl, iter_NNN/, summary.json.

Every write leaves the directory readable: events are appended one whole line per os.write
on an O_APPEND descriptor (a kill -9 can lose only the stage in progress), and JSON files are
replaced atomically (written to a temporary file, then renamed).
"""

from __future__ import annotations

import json
import math
import os
import time
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

STAGES = ("prompt", "ttft", "generate", "extract", "load", "simulate", "score", "feedback")
WATCH_STAGES = ("detect", *STAGES)
GENERATION_STAGES = ("ttft", "generate")


def _jsonable(value: Any) -> Any:
    """Plain JSON: numpy scalars and arrays become numbers and lists, NaN becomes null."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def write_json(path: Path, data: Any) -> None:
    """Replace `path` atomically with `data` as indented JSON."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(_jsonable(data), indent=2) + "\n")
    os.replace(tmp, path)


def toml_dumps(data: Mapping[str, Any]) -> str:
    """A small TOML writer for config.toml: scalars, lists of scalars and nested tables."""
    lines: list[str] = []
    tables: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            tables.append((key, value))
        elif value is not None:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for name, table in tables:
        lines.append("")
        lines.append(f"[{name}]")
        body = toml_dumps(table)
        for line in body.splitlines():
            lines.append(line.replace("[", f"[{name}.", 1) if line.startswith("[") else line)
    return "\n".join(lines).strip() + "\n"


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


class EventLog:
    """events.jsonl: one finished stage per line, appended and flushed as it happens."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, iteration: int, stage: str, duration_s: float, ok: bool, **extra: Any) -> dict:
        event = {
            "t": time.time(),
            "iteration": iteration,
            "stage": stage,
            "duration_s": duration_s,
            "ok": ok,
            **extra,
        }
        line = json.dumps(_jsonable(event)) + "\n"
        os.write(self._fd, line.encode())
        return event

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def read_events(path: Path) -> Iterator[dict]:
    """Events of a run; a torn last line (the process died mid-write) is skipped."""
    if not path.exists():
        return
    with path.open() as fh:
        for line in fh:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


class RunDir:
    """One `armloop run`'s folder."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.events = EventLog(self.path / "events.jsonl")

    def write_config(self, config: Mapping[str, Any]) -> None:
        tmp = self.path / ".config.toml.tmp"
        tmp.write_text(toml_dumps(config))
        os.replace(tmp, self.path / "config.toml")

    def read_config(self) -> dict[str, Any]:
        return tomllib.loads((self.path / "config.toml").read_text())

    def iter_dir(self, index: int) -> Path:
        path = self.path / f"iter_{index:03d}"
        path.mkdir(exist_ok=True)
        return path

    def rollouts_path(self, index: int) -> Path:
        """iter_NNN/rollouts.npz: the iteration's recorded episodes (loop/sim/rollouts.py)."""
        return self.iter_dir(index) / "rollouts.npz"

    def write_iter_file(self, index: int, name: str, text: str) -> None:
        """iter_NNN/NAME (NAME may name a subfolder: cand_2/response.md), replaced atomically."""
        target = self.iter_dir(index) / name
        target.parent.mkdir(exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(text)
        os.replace(tmp, target)

    def write_result(self, index: int, result: Mapping[str, Any]) -> None:
        write_json(self.iter_dir(index) / "result.json", result)

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        write_json(self.path / "summary.json", summary)

    def close(self) -> None:
        self.events.close()


def default_out(name: str) -> Path:
    """runs/NAME-YYYYmmdd-HHMMSS: where a command writes when --out is not given."""
    return Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def cycle_seconds(stages: Mapping[str, float]) -> float:
    return float(sum(stages.get(s, 0.0) for s in WATCH_STAGES))


def generation_share(iterations: list[Mapping[str, Any]]) -> float:
    """(ttft + generate) / cycle, summed over all iterations (0 when nothing ran)."""
    total = sum(it["cycle_s"] for it in iterations)
    gen = sum(it["stages"].get(s, 0.0) for it in iterations for s in GENERATION_STAGES)
    return gen / total if total > 0 else 0.0
