"""Reading an interrupted run directory back: what `armloop run --resume` continues from.

Finished iterations come from iter_NNN/result.json (with the reply and code next to it); an
iteration torn by the interruption is rebuilt from its events and recorded as a failure, so
it counts in the figures and the loop goes on at the next index.
"""

from __future__ import annotations

import json
from pathlib import Path

from loop.errors import ArmloopError
from loop.run.records import CandidateRecord, IterationRecord, Restored
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
    if "candidates" not in result:
        return IterationRecord.single(_candidate(result, folder))
    candidates = []
    for entry in result["candidates"]:
        c = _candidate({**entry, "index": result["index"]}, folder / f"cand_{entry['candidate']}")
        c.candidate = int(entry["candidate"])
        c.repeat_of_candidate = entry.get("repeat_of_candidate")
        candidates.append(c)
    best = next(c for c in candidates if c.candidate == result.get("best_candidate"))
    best.feedback = result.get("feedback", "")
    best.evaluation = result.get("evaluation")
    record = IterationRecord(int(result["index"]), candidates, width=len(candidates))
    record.wall_s, record.critical = float(result["cycle_s"]), dict(result["stages"])
    return record


def _candidate(result: dict, folder: Path) -> CandidateRecord:
    reply, code = folder / "response.md", folder / "controller.py"
    return CandidateRecord.from_result(
        result,
        reply.read_text() if reply.exists() else "",
        code.read_text() if code.exists() else None,
    )


def _torn(path: Path, done: set[int]) -> IterationRecord | None:
    """The iteration in flight when the run stopped, from its events, as a failure."""
    stages: dict[int, dict[int, dict[str, float]]] = {}
    for event in read_events(path / "events.jsonl"):
        if event["iteration"] not in done and event["stage"] in STAGES:
            by_candidate = stages.setdefault(event["iteration"], {})
            by_candidate.setdefault(int(event.get("candidate", 0)), {})[event["stage"]] = event[
                "duration_s"
            ]
    if not stages:
        return None
    index = max(stages)
    candidates = []
    for number, seen in sorted(stages[index].items()):
        record = CandidateRecord(index=index, candidate=max(number, 1), error=TORN)
        record.stages.update(seen)
        candidates.append(record)
    if list(stages[index]) == [0]:
        return IterationRecord.single(candidates[0])
    longest = max(candidates, key=lambda c: c.cycle_s)
    record = IterationRecord(index, candidates, width=len(candidates))
    record.critical, record.wall_s = dict(longest.stages), longest.cycle_s
    return record


def _summary(path: Path) -> dict:
    try:
        return json.loads((path / "summary.json").read_text())
    except (OSError, ValueError):
        return {}
