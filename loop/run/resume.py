"""Reading an interrupted run directory back: what `armloop run --resume` continues from.

Finished iterations come from iter_NNN/result.json (with the reply and code next to it); an
iteration torn by the interruption is rebuilt from its events and recorded as a failure, so
it counts in the figures and the loop goes on at the next index.
"""

from __future__ import annotations

import json
from pathlib import Path

from loop.errors import ArmloopError
from loop.run.records import IterationRecord, Restored
from loop.run.rundir import STAGES, RunDir, read_events

TORN = "interrupted before the iteration finished"


def restore(rundir: RunDir) -> Restored:
    """The run so far; a torn iteration is written to its result.json as a failure."""
    path = rundir.path
    if not (path / "config.toml").exists():
        raise ArmloopError(
            f"{path} has no config.toml", "resume only a directory `armloop run` made"
        )
    records = [_finished(folder) for folder in sorted(path.glob("iter_[0-9][0-9][0-9]"))]
    records = [r for r in records if r is not None]
    torn = _torn(path, {r.index for r in records})
    if torn is not None:
        rundir.write_result(torn.index, torn.result())
        records.append(torn)
    previous = _summary(path)
    return Restored(
        records=tuple(sorted(records, key=lambda r: r.index)),
        setup_s={k: float(v) for k, v in (previous.get("setup_s") or {}).items()},
        wall_s=float(previous.get("wall_s") or 0.0),
    )


def _finished(folder: Path) -> IterationRecord | None:
    result_file = folder / "result.json"
    if not result_file.exists():
        return None
    result = json.loads(result_file.read_text())
    reply, code = folder / "response.md", folder / "controller.py"
    return IterationRecord.from_result(
        result,
        reply.read_text() if reply.exists() else "",
        code.read_text() if code.exists() else None,
    )


def _torn(path: Path, done: set[int]) -> IterationRecord | None:
    stages: dict[int, dict[str, float]] = {}
    for event in read_events(path / "events.jsonl"):
        if event["iteration"] not in done and event["stage"] in STAGES:
            stages.setdefault(event["iteration"], {})[event["stage"]] = event["duration_s"]
    if not stages:
        return None
    index = max(stages)
    record = IterationRecord(index=index, error=TORN)
    record.stages.update(stages[index])
    return record


def _summary(path: Path) -> dict:
    try:
        return json.loads((path / "summary.json").read_text())
    except (OSError, ValueError):
        return {}
