"""rollouts.npz: every seed's EpisodeRecord of one controller version, for replay and rescoring.

Written during the `simulate` stage (loop/run/stages.py), read by `armloop replay` and the
HTML report. One compressed numpy archive (np.savez_compressed, no pickles: it loads with
allow_pickle=False). Schema 1, every key:

    schema        int     1
    task          str     the task's name
    task_toml     str     the spec's TOML text as run (the replay rebuilds the scene from it)
    robot         str     panda | kuka
    dt            float   control period, s (one row per control tick)
    seeds         int (S,)
    seed_S/KEY            per seed S, n rows each (n = ticks recorded, 0 for no trajectory):
        t (n,), q (n, dof), dq (n, dof), ee_pos (n, 3), ee_quat (n, 4) x y z w,
        gripper (n,) finger opening m, fingers (n, F) finger joint positions,
        table_contact (n,) bool, limit_hit (n, dof) bool,
        object/NAME (n, 7)   tracked body pose: pos + quat
        mark/KEY (n, 3)      a target point as the controller observed it (target_pos, goal_pos)
        episode/KEY          the seed's constants (target_pos, waypoints, center, radius, ...)
        failure              str: the ControllerFailure as JSON, "" when none
        end_state            str: the last action returned (feedback text)
        wall_s               float: the episode's wall time in the worker

Scores are not stored: they follow from the record (loop/sim/scoring.py), so a reader rescores.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loop.errors import ArmloopError
from loop.sim.record import EpisodeRecord
from loop.task.spec import TaskSpec

SCHEMA = 1
FILENAME = "rollouts.npz"
_ARRAYS = ("t", "q", "dq", "ee_pos", "ee_quat", "gripper", "fingers", "table_contact", "limit_hit")


class RolloutsError(ArmloopError):
    """A recording that is missing, damaged or of an unknown schema."""


@dataclass(frozen=True)
class Rollouts:
    """One rollouts.npz read back: the task as run and one EpisodeRecord per seed."""

    path: Path
    task_name: str
    task_toml: str
    robot: str
    dt: float
    records: dict[int, EpisodeRecord]

    @property
    def seeds(self) -> list[int]:
        return list(self.records)


def save_rollouts(path: Path, task: TaskSpec, records: Sequence[EpisodeRecord]) -> int:
    """Write `records` to `path` atomically (temporary file, then rename); returns its bytes."""
    arrays: dict[str, np.ndarray] = {
        "schema": np.array(SCHEMA),
        "task": np.array(task.name),
        "task_toml": np.array(_spec_text(task)),
        "robot": np.array(task.robot),
        "dt": np.array(task.control_dt),
        "seeds": np.array([r.seed for r in records], dtype=np.int64),
    }
    for r in records:
        arrays.update(_record_arrays(r))
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as fh:
        np.savez_compressed(fh, **arrays)
    os.replace(tmp, path)
    return path.stat().st_size


def _spec_text(task: TaskSpec) -> str:
    try:
        return Path(task.path).read_text()
    except OSError:
        return ""


def _record_arrays(r: EpisodeRecord) -> dict[str, np.ndarray]:
    pre = f"seed_{r.seed}/"
    out = {pre + key: np.asarray(getattr(r, key)) for key in _ARRAYS}
    out.update({f"{pre}object/{n}": np.asarray(a) for n, a in r.objects.items()})
    out.update({f"{pre}mark/{n}": np.asarray(a) for n, a in r.marks.items()})
    for key, value in r.episode.items():
        array = np.asarray(value)
        if array.dtype.kind in "biuf":  # numbers only: the archive holds no pickles
            out[f"{pre}episode/{key}"] = array
    out[pre + "failure"] = np.array(json.dumps(r.failure) if r.failure else "")
    out[pre + "end_state"] = np.array(r.end_state)
    out[pre + "wall_s"] = np.array(r.wall_s)
    return out


def load_rollouts(path: Path, rerecord: str = "") -> Rollouts:
    """Read a rollouts.npz; a RolloutsError names what is wrong and `rerecord` (a command
    that records it again) is the fix."""
    path = Path(path)
    fix = rerecord or "record it again (`armloop eval TASK --controller FILE --record FILE`)"
    if not path.is_file():
        raise RolloutsError(f"{path} does not exist: nothing was recorded there", fix)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {name: z[name] for name in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise RolloutsError(f"{path} is damaged or truncated ({_short(exc)})", fix) from None
    try:
        schema = int(data["schema"])
        if schema > SCHEMA:
            raise RolloutsError(
                f"{path} has schema {schema}; this armloop reads up to {SCHEMA}",
                "replay it with the newer armloop that wrote it",
            )
        seeds = [int(s) for s in data["seeds"]]
        records = {s: _record(data, s) for s in seeds}
        return Rollouts(
            path=path,
            task_name=str(data["task"]),
            task_toml=str(data["task_toml"]),
            robot=str(data["robot"]),
            dt=float(data["dt"]),
            records=records,
        )
    except (KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
        raise RolloutsError(f"{path} is incomplete: {_short(exc)} is missing or bad", fix) from None


def _record(data: dict[str, np.ndarray], seed: int) -> EpisodeRecord:
    pre = f"seed_{seed}/"
    arrays = {key: data[pre + key] for key in _ARRAYS}
    n = len(arrays["t"])
    if any(len(a) != n for a in arrays.values()):
        raise ValueError(f"seed {seed}'s arrays of different lengths")

    def group(kind: str) -> dict[str, np.ndarray]:
        start = f"{pre}{kind}/"
        return {k[len(start) :]: v for k, v in data.items() if k.startswith(start)}

    failure = str(data[pre + "failure"])
    return EpisodeRecord(
        seed=seed,
        **arrays,
        objects=group("object"),
        marks=group("mark"),
        episode=group("episode"),
        failure=json.loads(failure) if failure else None,
        wall_s=float(data[pre + "wall_s"]),
        end_state=str(data[pre + "end_state"]),
    )


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) < 120 else text[:117] + "..."
