"""What one iteration did: its candidates (CandidateRecord) and the iteration as a whole
(IterationRecord); and what a resumed run brings back (Restored).

With one candidate (the default) the iteration *is* its candidate: summary.json's entry and
result.json are exactly what they were before candidates existed. With several, the entry
keeps the same keys for the iteration as a whole (success: any candidate succeeded; score:
the best; cycle_s: the iteration's wall time; stages: its critical path, see `critical_path`)
and adds `candidates`, each with its own eight stages, tokens, score and success.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from loop.run.prompting import Attempt
from loop.run.rundir import STAGES, cycle_seconds


@dataclass
class CandidateRecord:
    """One sample of one iteration, through its own eight stages."""

    index: int  # the iteration
    candidate: int = 1  # 1-based
    stages: dict[str, float] = field(default_factory=lambda: {s: 0.0 for s in STAGES})
    success: bool = False
    score: float = 0.0
    success_rate: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_per_s: float = 0.0
    reply: str = ""
    code: str | None = None
    feedback: str = ""
    error: str | None = None  # the harness or model server failed (not the controller)
    # the reply was cut for repeating itself: what repeated and what the cut saved
    # (RepetitionCut.details()); `error` says so too, and `feedback` tells the model
    repetition: dict[str, Any] | None = None
    repeat_of: int | None = None  # the iteration whose code this repeats
    repeat_of_candidate: int | None = None
    evaluation: dict[str, Any] | None = None
    extraction_note: str = ""
    temperature: float | None = None
    seed: int | None = None
    # time.perf_counter() marks for the iteration's critical path (not written out)
    t_start: float = 0.0
    t_stream_end: float = 0.0  # the last token used, or when the stream failed
    t_end: float = 0.0

    @property
    def cycle_s(self) -> float:
        return cycle_seconds(self.stages)

    @property
    def ran(self) -> bool:
        """It was simulated (not a repeat, not refused, not a backend failure)."""
        return self.evaluation is not None

    @property
    def answered(self) -> bool:
        """The model gave an answer the next prompt can talk about (a reply cut for repeating
        itself is one; a server that failed gave none)."""
        return self.error is None or self.repetition is not None

    def rank(self) -> tuple[bool, bool, float, bool, int]:
        """Best first: success, then ran, then score, then answered, then the earlier one."""
        return (self.success, self.ran, self.score, self.answered, -self.candidate)

    def summary(self) -> dict[str, Any]:
        entry = {
            "index": self.index,
            "success": self.success,
            "score": self.score,
            "cycle_s": self.cycle_s,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "tokens_per_s": self.tokens_per_s,
            "stages": dict(self.stages),
            "success_rate": self.success_rate,
        }
        if self.error:
            entry["error"] = self.error
        if self.repetition:
            entry["repetition"] = self.repetition
        if self.repeat_of:
            entry["repeat_of"] = self.repeat_of
        return entry

    def candidate_summary(self) -> dict[str, Any]:
        entry = {"candidate": self.candidate, **self.summary()}
        del entry["index"]
        if self.repeat_of_candidate is not None:
            entry["repeat_of_candidate"] = self.repeat_of_candidate
        entry.update(temperature=self.temperature, seed=self.seed)
        return entry

    def result(self) -> dict[str, Any]:
        """result.json: the summary entry plus everything needed to resume."""
        return {
            **self.summary(),
            "feedback": self.feedback,
            "extraction_note": self.extraction_note,
            "evaluation": self.evaluation,
        }

    def one_line(self) -> str:
        """How this candidate failed, in one line (for the next prompt)."""
        if self.repetition:
            quote = repr(str(self.repetition.get("block", ""))[:40])
            times = self.repetition.get("repeats")
            return (
                f"candidate {self.candidate}: its reply repeated {quote} {times} times and was cut"
            )
        if self.error:
            return f"candidate {self.candidate}: no answer ({self.error})"
        if self.repeat_of:
            return f"candidate {self.candidate}: repeated attempt {self.repeat_of}"
        first = next((x for x in self.feedback.splitlines()[1:] if x.strip()), "")
        head = self.feedback.splitlines()[0] if self.feedback else "failed"
        text = f"{head} {first.strip()}" if first and self.ran else head
        return f"candidate {self.candidate}: score {self.score:.2f}; {text}"[:240]

    @classmethod
    def from_result(cls, result: dict[str, Any], reply: str, code: str | None) -> CandidateRecord:
        record = cls(index=int(result["index"]), reply=reply, code=code)
        for key in (
            "success",
            "score",
            "success_rate",
            "tokens_in",
            "tokens_out",
            "tokens_per_s",
            "feedback",
            "evaluation",
            "extraction_note",
        ):
            if key in result:
                setattr(record, key, result[key])
        record.stages.update(result.get("stages", {}))
        record.error = result.get("error")
        record.repetition = result.get("repetition")
        record.repeat_of = result.get("repeat_of")
        return record


@dataclass
class IterationRecord:
    """One iteration: one candidate (the default) or several sampled at once."""

    index: int
    candidates: list[CandidateRecord] = field(default_factory=list)
    width: int = 1  # candidates asked for (the schema of summary.json follows it)
    wall_s: float = 0.0  # with several candidates: first request sent -> last feedback written
    critical: dict[str, float] = field(default_factory=dict)  # several: the stages of the path

    @classmethod
    def single(cls, record: CandidateRecord) -> IterationRecord:
        return cls(record.index, [record])

    @property
    def best(self) -> CandidateRecord:
        return max(self.candidates, key=CandidateRecord.rank)

    @property
    def success(self) -> bool:
        return any(c.success for c in self.candidates)

    @property
    def score(self) -> float:
        return self.best.score

    @property
    def error(self) -> str | None:
        """Set when every candidate failed on the model backend (or was cut for repeating
        itself)."""
        errors = [c.error for c in self.candidates]
        return errors[0] if errors and all(errors) else None

    @property
    def backend_failed(self) -> bool:
        """No candidate gave an answer: the server failed for all of them. It counts towards
        giving up, and the next prompt is this one's again. A reply cut for repeating itself
        is an answer: the next prompt says so."""
        return self.error is not None and not any(c.answered for c in self.candidates)

    @property
    def stages(self) -> dict[str, float]:
        return self.best.stages if self.width == 1 else dict(self.critical)

    @property
    def cycle_s(self) -> float:
        return self.best.cycle_s if self.width == 1 else self.wall_s

    @property
    def repeated(self) -> int | None:
        """The attempt repeated, when every candidate repeated an earlier one."""
        if all(c.repeat_of for c in self.candidates):
            return self.best.repeat_of
        return None

    def attempt(self) -> Attempt:
        """What the next prompt sees: the best candidate, and a line on each other one."""
        best = self.best
        others = tuple(c.one_line() for c in self.candidates if c is not best)
        return Attempt(
            best.index,
            best.reply,
            best.code,
            best.feedback,
            self.repeated,
            others,
            repeated_itself=best.repetition is not None,
        )

    def summary(self) -> dict[str, Any]:
        if self.width == 1:
            return self.best.summary()
        best = self.best
        tokens_out = sum(c.tokens_out for c in self.candidates)
        gen = self.critical.get("ttft", 0.0) + self.critical.get("generate", 0.0)
        entry = {
            "index": self.index,
            "success": self.success,
            "score": best.score,
            "cycle_s": self.wall_s,
            "tokens_in": sum(c.tokens_in for c in self.candidates),
            "tokens_out": tokens_out,
            "tokens_per_s": _aggregate_rate(self.candidates),
            "stages": dict(self.critical),
            "success_rate": best.success_rate,
            "best_candidate": best.candidate,
            "model_wait_s": gen,
            "candidates": [c.candidate_summary() for c in self.candidates],
        }
        if self.error:
            entry["error"] = self.error
        if self.repeated:
            entry["repeat_of"] = self.repeated
        return entry

    def result(self) -> dict[str, Any]:
        if self.width == 1:
            return self.best.result()
        best = self.best
        return {
            **self.summary(),
            "feedback": best.feedback,
            "extraction_note": best.extraction_note,
            "evaluation": best.evaluation,
            "others": [c.one_line() for c in self.candidates if c is not best],
        }


def _aggregate_rate(candidates: list[CandidateRecord]) -> float:
    """Tokens per second over the concurrent streams: their decode rates summed (the server's
    aggregate rate while they ran side by side)."""
    return float(sum(c.tokens_per_s for c in candidates if c.tokens_per_s))


def critical_path(candidates: list[CandidateRecord], t0: float, t_end: float) -> dict[str, float]:
    """An iteration's wall time (t0 -> t_end) split into the eight stages along the candidate
    whose stream ended last: its prompt, ttft and generate (so ttft + generate is the time
    spent waiting on the model), its extract, load, score and feedback, and `simulate` the
    rest: simulations still running after the last stream ended, its own or another's."""
    last = max(candidates, key=lambda c: c.t_stream_end)
    wall = max(0.0, t_end - t0)
    path = {s: 0.0 for s in STAGES}
    for stage in ("prompt", "ttft", "generate"):
        path[stage] = last.stages.get(stage, 0.0)
    path["prompt"] += max(0.0, last.t_start - t0)  # threads start a little apart
    waited = sum(path.values())
    if waited > wall:  # clock marks a hair apart: keep the partition exact
        path["generate"] = max(0.0, path["generate"] - (waited - wall))
        waited = sum(path.values())
    after = wall - waited
    rest = {s: last.stages.get(s, 0.0) for s in ("extract", "load", "score", "feedback")}
    scale = min(1.0, after / sum(rest.values())) if sum(rest.values()) > 0 else 0.0
    for stage, seconds in rest.items():
        path[stage] = seconds * scale
    path["simulate"] = max(0.0, wall - sum(path.values()))
    return path


@dataclass(frozen=True)
class Restored:
    """A resumed run's finished iterations and the sessions before this one."""

    records: tuple[IterationRecord, ...] = ()
    setup_s: dict[str, float] = field(default_factory=dict)  # summed over earlier sessions
    wall_s: float = 0.0  # summed over earlier sessions

    @property
    def history(self) -> list[Attempt]:
        return [r.attempt() for r in self.records if not r.backend_failed]

    @property
    def next_index(self) -> int:
        return max((r.index for r in self.records), default=0) + 1


def normalise_code(code: str) -> str:
    """Code with formatting and comments removed, for spotting a repeated answer."""
    try:
        return ast.dump(ast.parse(code))
    except SyntaxError:
        return re.sub(r"\s+", " ", re.sub(r"#.*", "", code)).strip()
