"""The task catalog: tasks/NAME.toml (or any spec file) read into a checked TaskSpec.

A spec names a kind (loop/sim/kinds/); the kind declares which observation keys it
provides and the keys, with defaults, of its [params], [randomize] and [success] tables.
Unknown keys are rejected, naming the allowed ones; the file's values are merged over the
kind's defaults.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from loop import TASKS_DIR
from loop.errors import TaskSpecError
from loop.sim.kinds import get_kind, kind_names
from loop.task.contract import ACTION_MODES
from loop.task.spec import REQUIRED, TOP_KEYS, TaskSpec, check_keys, positive_number, table
from robots import robot_names


def task_paths() -> list[Path]:
    return sorted(TASKS_DIR.glob("*.toml"))


def list_tasks() -> list[TaskSpec]:
    return [load_task(p) for p in task_paths()]


def resolve_task_path(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    path = Path(text)
    if text.endswith(".toml") or path.parent != Path("."):
        if not path.is_file():
            raise TaskSpecError(
                f"task file {text} does not exist", "check the path, or give a task name"
            )
        return path
    candidate = TASKS_DIR / f"{text}.toml"
    if not candidate.is_file():
        known = ", ".join(p.stem for p in task_paths())
        raise TaskSpecError(
            f"unknown task {text!r}", f"use one of: {known}, or a path to a .toml file"
        )
    return candidate


def load_task(name_or_path: str | Path | TaskSpec) -> TaskSpec:
    """A task by name (tasks/NAME.toml) or by path to a .toml file."""
    if isinstance(name_or_path, TaskSpec):
        return name_or_path
    path = resolve_task_path(name_or_path)
    return parse_text(path.read_text(), name=path.stem, path=str(path))


def parse_text(text: str, name: str, path: str = "<spec>") -> TaskSpec:
    """A spec from its TOML text (watch mode parses what was saved)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TaskSpecError(f"{path}: malformed TOML: {exc}", "fix the TOML syntax") from None
    return parse_task(data, name=name, path=path)


def parse_task(data: dict[str, Any], name: str, path: str = "<spec>") -> TaskSpec:
    _check_top_level(data, path)
    kind = get_kind(data["kind"])
    actions = _actions(data["actions"], path)
    observation = table(data, "observation", path)
    check_keys("[observation]", observation, ("keys",), path)
    keys = observation.get("keys", list(kind.obs_docs))
    bad = [k for k in keys if k not in kind.obs_docs]
    if bad:
        raise TaskSpecError(
            f"{path}: observation key {bad[0]!r} is not provided by kind {kind.name!r}",
            f"keys kind {kind.name!r} provides: {', '.join(kind.obs_docs) or '(none)'}",
        )
    sections = {}
    for section, defaults in (
        ("params", kind.params),
        ("randomize", kind.randomize),
        ("success", kind.success),
    ):
        got = table(data, section, path)
        check_keys(f"[{section}] (kind {kind.name!r})", got, list(defaults), path)
        sections[section] = {**defaults, **got}
    return TaskSpec(
        name=name,
        path=path,
        description=str(data["description"]).strip(),
        kind=kind.name,
        robot=data["robot"],
        actions=actions,
        episode_s=positive_number(data, "episode_s", path),
        control_hz=positive_number(data, "control_hz", path),
        obs_keys=tuple(keys),
        obs_docs={k: kind.obs_docs[k] for k in keys},
        **sections,
    )


def _check_top_level(data: dict[str, Any], path: str) -> None:
    check_keys("the top level", data, TOP_KEYS, path)
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise TaskSpecError(
            f"{path}: missing key {missing[0]!r}", f"required keys: {', '.join(REQUIRED)}"
        )
    if data["robot"] not in robot_names():
        raise TaskSpecError(
            f"{path}: unknown robot {data['robot']!r}", f"known robots: {', '.join(robot_names())}"
        )
    if data["kind"] not in kind_names():
        raise TaskSpecError(
            f"{path}: unknown kind {data['kind']!r}", f"known kinds: {', '.join(kind_names())}"
        )


def _actions(actions: Any, path: str) -> tuple[str, ...]:
    if not isinstance(actions, list) or not actions or any(a not in ACTION_MODES for a in actions):
        raise TaskSpecError(
            f"{path}: actions must be a non-empty list of action modes, got {actions!r}",
            f"accepted action modes: {', '.join(ACTION_MODES)}",
        )
    return tuple(actions)
