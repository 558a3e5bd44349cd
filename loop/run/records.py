"""What one iteration did (IterationRecord), and what a resumed run brings back (Restored)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from loop.run.prompting import Attempt
from loop.run.rundir import STAGES, cycle_seconds


@dataclass
class IterationRecord:
    """One iteration; `summary()` is its entry in summary.json, `result()` its result.json."""

    index: int
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
    repeat_of: int | None = None
    evaluation: dict[str, Any] | None = None
    extraction_note: str = ""

    @property
    def cycle_s(self) -> float:
        return cycle_seconds(self.stages)

    def attempt(self) -> Attempt:
        return Attempt(self.index, self.reply, self.code, self.feedback, self.repeat_of)

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
        if self.repeat_of:
            entry["repeat_of"] = self.repeat_of
        return entry

    def result(self) -> dict[str, Any]:
        """iter_NNN/result.json: the summary entry plus everything needed to resume."""
        return {
            **self.summary(),
            "feedback": self.feedback,
            "extraction_note": self.extraction_note,
            "evaluation": self.evaluation,
        }

    @classmethod
    def from_result(cls, result: dict[str, Any], reply: str, code: str | None) -> IterationRecord:
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
        record.repeat_of = result.get("repeat_of")
        return record


@dataclass(frozen=True)
class Restored:
    """A resumed run's finished iterations and the sessions before this one."""

    records: tuple[IterationRecord, ...] = ()
    setup_s: dict[str, float] = field(default_factory=dict)  # summed over earlier sessions
    wall_s: float = 0.0  # summed over earlier sessions

    @property
    def history(self) -> list[Attempt]:
        return [r.attempt() for r in self.records if not r.error]

    @property
    def next_index(self) -> int:
        return max((r.index for r in self.records), default=0) + 1


def normalise_code(code: str) -> str:
    """Code with formatting and comments removed, for spotting a repeated answer."""
    try:
        return ast.dump(ast.parse(code))
    except SyntaxError:
        return re.sub(r"\s+", " ", re.sub(r"#.*", "", code)).strip()
