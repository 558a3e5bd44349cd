"""What to replay: a run directory's iteration and seed, read back from its rollouts.npz.

RUN_DIR is an `armloop run` directory (iter_NNN/rollouts.npz), a folder that holds a
rollouts.npz itself (`armloop watch --video` keeps one per saved controller), or the .npz file.
Defaults: the last iteration that has a recording, and its worst seed (lowest score, rescored
from the record: scoring reads only the record). Every way of not finding one is an
ArmloopError that says what is missing and the command that records it.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from loop.errors import ArmloopError
from loop.sim.record import EpisodeRecord
from loop.sim.rollouts import FILENAME, Rollouts, load_rollouts
from loop.sim.scoring import SeedResult, score_record
from loop.task.catalog import load_task, parse_text
from loop.task.spec import TaskSpec

_ITER = re.compile(r"iter_(\d+)$")


@dataclass(frozen=True)
class Choice:
    """One recorded episode to replay, with the task it ran and its rescored result."""

    rollouts: Rollouts
    task: TaskSpec
    iteration: int | None  # None for a recording outside a run directory
    seed: int
    result: SeedResult
    results: dict[int, SeedResult]

    @property
    def record(self) -> EpisodeRecord:
        return self.rollouts.records[self.seed]


def iterations(run: Path) -> dict[int, Path]:
    """{index: iter_NNN folder} of a run directory, in order."""
    found = {int(m.group(1)): d for d in run.glob("iter_*") if (m := _ITER.search(d.name))}
    return dict(sorted(found.items()))


def recorded(run: Path) -> list[int]:
    """The iterations of a run directory that have a rollouts.npz."""
    return [i for i, d in iterations(run).items() if (d / FILENAME).is_file()]


def choose(path: Path, iteration: int | None = None, seed: int | None = None) -> Choice:
    path = Path(path)
    if not path.exists():
        raise ArmloopError(f"{path} does not exist", "give a run directory made by `armloop run`")
    if path.is_file() or (path / FILENAME).is_file():
        npz = path if path.is_file() else path / FILENAME
        if iteration is not None:
            raise ArmloopError(
                f"{npz} is one recording, not a run directory: --iter does not apply",
                "leave out --iter",
            )
        rollouts = load_rollouts(npz)
        return _pick(rollouts, _task(rollouts, None), None, seed)
    index = _iteration(path, iteration)
    npz = path / f"iter_{index:03d}" / FILENAME
    rollouts = load_rollouts(npz, rerecord=rerecord_command(path, index))
    return _pick(rollouts, _task(rollouts, path), index, seed)


def _iteration(run: Path, wanted: int | None) -> int:
    its = iterations(run)
    if not its:
        raise ArmloopError(
            f"{run} is not a run directory: it has no iter_NNN folders and no {FILENAME}",
            "give a directory made by `armloop run` (or `armloop watch --video`'s saves/NAME-N)",
        )
    have = recorded(run)
    if wanted is None:
        if have:
            return have[-1]
        last = max(its)
        raise ArmloopError(
            f"{run} has no recorded rollouts (no iter_NNN/{FILENAME}): it was made before armloop "
            "recorded them, or none of its iterations ran an episode",
            f"record an iteration now: `{rerecord_command(run, last)}`, or run the task again",
        )
    if wanted not in its:
        raise ArmloopError(
            f"{run} has no iteration {wanted} (it has {_span(list(its))})",
            f"choose one with --iter (recorded: {_span(have) or 'none'})",
        )
    if wanted not in have:
        why = _not_run_reason(its[wanted])
        other = f"replay one that did: --iter {_span(have)}" if have else ""
        fix = f"record it now: `{rerecord_command(run, wanted)}`"
        if why:
            raise ArmloopError(f"iteration {wanted} of {run} ran no episodes: {why}", other or fix)
        raise ArmloopError(
            f"iteration {wanted} of {run} has no {FILENAME} (made before armloop recorded "
            "rollouts, or the file was removed)",
            fix + (f"; or {other}" if other else ""),
        )
    return wanted


def _not_run_reason(folder: Path) -> str:
    """Why an iteration simulated nothing, from its result.json ("" when it should have)."""
    try:
        result = json.loads((folder / "result.json").read_text())
    except (OSError, json.JSONDecodeError):
        return "" if (folder / "controller.py").exists() else "the reply held no controller"
    if result.get("error"):
        return str(result["error"])
    if result.get("repeat_of"):
        return f"its code repeated iteration {result['repeat_of']}, so it was not run again"
    if not (folder / "controller.py").exists():
        return "the reply held no controller code"
    stages = result.get("stages", {})
    if not stages.get("simulate") and not result.get("evaluation"):
        return "its controller did not load or failed the static check (see its result.json)"
    return ""


def rerecord_command(run: Path, index: int) -> str:
    """The `armloop eval` command that records iteration `index` of `run` again."""
    seeds = _config(run).get("seeds") or [0, 1, 2]
    n = max(int(s) for s in seeds) + 1 if seeds else 3
    task = run / "task.toml" if (run / "task.toml").exists() else _config(run).get("task", "TASK")
    folder = run / f"iter_{index:03d}"
    return (
        f"armloop eval {task} --controller {folder / 'controller.py'} --seeds {n} "
        f"--record {folder / FILENAME}"
    )


def _config(run: Path) -> dict:
    try:
        return tomllib.loads((run / "config.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _task(rollouts: Rollouts, run: Path | None) -> TaskSpec:
    """The spec as run: the text kept in the recording, else the run's task.toml, else by name."""
    if rollouts.task_toml.strip():
        return parse_text(rollouts.task_toml, name=rollouts.task_name, path=str(rollouts.path))
    if run is not None and (run / "task.toml").is_file():
        return load_task(run / "task.toml")
    return load_task(rollouts.task_name)


def _pick(rollouts: Rollouts, task: TaskSpec, iteration: int | None, seed: int | None) -> Choice:
    results = {s: score_record(task, r) for s, r in rollouts.records.items()}
    where = f"iteration {iteration}" if iteration is not None else str(rollouts.path)
    playable = [s for s, r in rollouts.records.items() if r.steps > 0]
    if seed is None:
        if not playable:
            raise ArmloopError(
                f"{where}: no seed has a trajectory ({_first_failure(rollouts)})",
                "replay another iteration with --iter",
            )
        seed = min(playable, key=lambda s: (results[s].score, s))
    elif seed not in rollouts.records:
        raise ArmloopError(
            f"{where} recorded seeds {_span(rollouts.seeds)}, not seed {seed}",
            "choose one of them with --seed (the worst is the default)",
        )
    elif seed not in playable:
        failure = rollouts.records[seed].failure or {}
        raise ArmloopError(
            f"seed {seed} of {where} has no trajectory: {failure.get('message', 'none recorded')}",
            f"choose another with --seed ({_span(playable) or 'none has one'})",
        )
    return Choice(rollouts, task, iteration, seed, results[seed], results)


def _first_failure(rollouts: Rollouts) -> str:
    for r in rollouts.records.values():
        if r.failure:
            return str(r.failure.get("message", r.failure.get("kind", "")))[:200]
    return "nothing recorded"


def _span(values: list[int]) -> str:
    return ", ".join(str(v) for v in values)
