"""The loop: prompt, model, code, hot-load, episodes, score, feedback; every stage timed.

One `Loop` drives one task against one backend and one warm `Evaluator`. Each finished stage
is appended to events.jsonl at once; each finished iteration writes its folder and rewrites
summary.json, so the run directory is complete and readable whenever the run stops.
"""

from __future__ import annotations

import ast
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from loop.backends.base import DEFAULT_TEMPERATURE
from loop.errors import BackendError
from loop.extract import Extraction, FenceWatcher, extract_code
from loop.prompting import Attempt, build_messages, render, render_transcript
from loop.rundir import STAGES, RunDir, cycle_seconds, generation_share

StageHook = Callable[[int, str, dict[str, Any]], None]


class Cancelled(Exception):
    """The loop was asked to stop (a newer save in watch mode, or Ctrl-C)."""


@dataclass(frozen=True)
class LoopOptions:
    max_iters: int = 5
    seeds: tuple[int, ...] = (0, 1, 2)
    temperature: float | None = None  # None: the backend's own default
    max_tokens: int = 1200
    stop_at_code_end: bool = True  # close the stream once the code block has closed
    max_backend_failures: int = 2  # consecutive failures of the model server before giving up
    # False: run code that fails the static check anyway (tests of the process sandbox only;
    # the sandbox, not the static check, is what keeps generated code contained)
    static_check: bool = True


@dataclass
class IterationRecord:
    """What one iteration did; `summary()` is its entry in summary.json."""

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


def normalise_code(code: str) -> str:
    """Code with formatting and comments removed, for spotting a repeated answer."""
    try:
        return ast.dump(ast.parse(code))
    except SyntaxError:
        return re.sub(r"\s+", " ", re.sub(r"#.*", "", code)).strip()


class Loop:
    """Run the iteration loop for one task; see the module docstring."""

    def __init__(
        self,
        task: Any,
        backend: Any,
        evaluator: Any,
        rundir: RunDir,
        options: LoopOptions,
        on_stage: StageHook | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.task = task
        self.backend = backend
        self.evaluator = evaluator
        self.rundir = rundir
        self.options = options
        self.on_stage = on_stage
        self.cancel = cancel or threading.Event()
        self.records: list[IterationRecord] = []
        self.history: list[Attempt] = []
        self.started = time.time()
        self.stopped_reason = ""
        self.extra_summary: dict[str, Any] = {}
        self._stream: Any = None

    def abort(self) -> None:
        """Stop from another thread: the in-flight generation is closed at once."""
        self.cancel.set()
        stream = self._stream
        if stream is not None:
            try:
                stream.close()
            except Exception:  # noqa: BLE001 - closing a stream another thread reads may race
                pass

    # -- public -------------------------------------------------------------------------

    def run(self, first_index: int = 1) -> dict[str, Any]:
        """Iterate until success, the iteration limit, a dead backend or cancellation."""
        failures = 0
        index = first_index
        try:
            while index <= self.options.max_iters:
                record = self.iterate(index)
                self._finish_iteration(record)
                if record.success:
                    self.stopped_reason = "success"
                    break
                failures = failures + 1 if record.error else 0
                if failures >= self.options.max_backend_failures:
                    self.stopped_reason = f"model backend failed {failures} times: {record.error}"
                    break
                index += 1
            else:
                self.stopped_reason = f"no success within {self.options.max_iters} iterations"
        except (KeyboardInterrupt, Cancelled) as exc:
            self.stopped_reason = (
                "interrupted" if isinstance(exc, KeyboardInterrupt) else "cancelled"
            )
            summary = self.write_summary()
            if isinstance(exc, KeyboardInterrupt):
                raise
            return summary
        return self.write_summary()

    def iterate(self, index: int) -> IterationRecord:
        record = IterationRecord(index=index)
        self._current = record
        repeat_of = self.history[-1].repeat_of if self.history else None
        messages = self._timed_prompt(record, repeat_of)
        if not self._generate(record, messages, repeat_of):
            return record
        extraction = self._timed_extract(record)
        if not extraction.ok or record.repeat_of:
            self._skip_to_feedback(record, extraction)
            return record
        if not self._timed_load(record):
            return record
        records = self._timed_simulate(record)
        evaluation = self._timed_score(record, records)
        self._timed_feedback(record, evaluation)
        return record

    def summary(self) -> dict[str, Any]:
        iterations = [r.summary() for r in self.records]
        success_at = next((i for i, r in enumerate(self.records) if r.success), None)
        time_to_success = (
            sum(r.cycle_s for r in self.records[: success_at + 1])
            if success_at is not None
            else None
        )
        describe = self.backend.describe()
        return {
            "task": self.task.name,
            "backend": describe.get("name") or describe.get("kind"),
            "model": describe.get("model"),
            "success": success_at is not None,
            "time_to_success_s": time_to_success,
            "iterations_to_success": success_at + 1 if success_at is not None else None,
            "generation_share": generation_share(iterations),
            "seeds": list(self.options.seeds),
            "stopped_reason": self.stopped_reason,
            "wall_s": time.time() - self.started,
            **self.extra_summary,
            "iterations": iterations,
        }

    def write_summary(self) -> dict[str, Any]:
        summary = self.summary()
        self.rundir.write_summary(summary)
        return summary

    # -- stages -------------------------------------------------------------------------

    def _event(self, record: IterationRecord, stage: str, seconds: float, ok: bool, **extra: Any):
        record.stages[stage] = seconds
        event = self.rundir.events.write(record.index, stage, seconds, ok, **extra)
        if self.on_stage:
            self.on_stage(record.index, stage, event)
        if self.cancel.is_set():
            raise Cancelled()

    def _timed_prompt(self, record: IterationRecord, repeat_of: int | None) -> list[dict]:
        t0 = time.perf_counter()
        messages = build_messages(self.task, self.options.seeds, self.history, repeat_of)
        transcript = render_transcript(messages)
        seconds = time.perf_counter() - t0
        self.rundir.write_iter_file(record.index, "prompt.md", transcript)
        self._event(record, "prompt", seconds, True, messages=len(messages), chars=len(transcript))
        return messages

    def _sampling(self, repeat_of: int | None) -> tuple[float | None, int | None]:
        """After a repeated answer, sample hotter and with a new seed to shake it loose."""
        if not repeat_of:
            return self.options.temperature, None
        config = getattr(self.backend, "config", None)
        candidates = (self.options.temperature, getattr(config, "temperature", None))
        base = next((t for t in candidates if t is not None), DEFAULT_TEMPERATURE)
        repeats = sum(1 for a in self.history if a.repeat_of)
        return min(1.0, base + 0.3 * repeats), 1000 + len(self.history)

    def _generate(
        self, record: IterationRecord, messages: list[dict], repeat_of: int | None
    ) -> bool:
        from loop.backends import ChatRequest

        temperature, seed = self._sampling(repeat_of)
        request = ChatRequest(
            messages=messages,
            temperature=temperature,
            max_tokens=self.options.max_tokens,
            seed=seed,
        )
        watcher = FenceWatcher()
        t_request = time.perf_counter()
        stream = None
        stopped_early = False
        try:
            stream = self._stream = self.backend.stream(request)
            with stream:
                for delta in stream:
                    if self.cancel.is_set():
                        raise Cancelled()
                    if watcher.feed(delta) and self.options.stop_at_code_end:
                        stopped_early = True
                        stream.close()
                        break
        except BackendError as exc:
            if self.cancel.is_set():
                raise Cancelled() from exc
            self._backend_failed(record, stream, t_request, watcher.text, exc)
            return False
        finally:
            self._stream = None
        if self.cancel.is_set():
            raise Cancelled()
        record.reply = watcher.text
        self.rundir.write_iter_file(record.index, "response.md", record.reply)
        self._generation_events(record, stream, t_request, stopped_early, request)
        return True

    def _generation_events(
        self, record, stream, t_request: float, stopped_early: bool, request: Any
    ) -> None:
        t_first = stream.t_first_token
        t_last = stream.t_last_token or t_first
        if t_first is None:  # no token at all: the whole wait is time to first token
            t_first = t_last = time.perf_counter()
        t_sent = getattr(stream, "t_sent", None) or t_request  # first attempt: retries count
        ttft = max(0.0, t_first - t_sent)
        generate = max(0.0, t_last - t_first)
        record.tokens_in = int(stream.tokens_in or 0)
        record.tokens_out = int(stream.tokens_out or 0)
        # the backend's own rate, (n - 1) / (last - first): the same figure `armloop backends`
        rate = getattr(stream, "tokens_per_s", None)
        record.tokens_per_s = float(rate) if rate else 0.0
        self._event(record, "ttft", ttft, True)
        self._event(
            record,
            "generate",
            generate,
            bool(record.reply),
            tokens_in=record.tokens_in,
            tokens_out=record.tokens_out,
            tokens_per_s=record.tokens_per_s,
            usage_from_server=bool(getattr(stream, "usage_from_server", False)),
            tokens_method=getattr(stream, "tokens_method", None),
            stopped_at_code_end=stopped_early,
            finish_reason=getattr(stream, "finish_reason", None),
            temperature=request.temperature,
            seed=request.seed,
        )

    def _backend_failed(
        self, record, stream, t_request: float, partial: str, exc: Exception
    ) -> None:
        """The model server failed: the iteration is a recorded failure, the model not blamed."""
        now = time.perf_counter()
        t_first = getattr(stream, "t_first_token", None) if stream is not None else None
        record.error = f"model backend: {exc}"
        record.reply = partial
        self.rundir.write_iter_file(record.index, "response.md", partial)
        if t_first is None:
            self._event(record, "ttft", now - t_request, False, error=str(exc))
        else:
            self._event(record, "ttft", t_first - t_request, True)
            self._event(record, "generate", now - t_first, False, error=str(exc))
        record.feedback = ""

    def _timed_extract(self, record: IterationRecord) -> Extraction:
        t0 = time.perf_counter()
        extraction = extract_code(record.reply)
        if not self.options.static_check and extraction.code is not None:
            extraction = replace(extraction, problems=())
        if extraction.code is not None:
            record.code = extraction.code
            key = normalise_code(extraction.code)
            record.repeat_of = next(
                (a.index for a in self.history if a.code and normalise_code(a.code) == key), None
            )
        seconds = time.perf_counter() - t0
        record.extraction_note = extraction.note
        if record.code is not None:
            self.rundir.write_iter_file(record.index, "controller.py", record.code)
        self._event(
            record,
            "extract",
            seconds,
            extraction.ok and not record.repeat_of,
            blocks=extraction.blocks,
            problems=list(extraction.problems),
            repeat_of=record.repeat_of,
            note=extraction.note,
        )
        return extraction

    def _skip_to_feedback(self, record: IterationRecord, extraction: Extraction) -> None:
        """No simulation for code that failed the static check or repeats an earlier attempt."""
        t0 = time.perf_counter()
        if record.repeat_of:
            earlier = next(a for a in self.history if a.index == record.repeat_of)
            text = render(
                "not_run_repeat", same_as=record.repeat_of, feedback=earlier.feedback.strip()
            )
        else:
            problems = "\n".join(f"- {p}" for p in extraction.problems)
            text = render("not_run_static", problems=problems)
        record.feedback = text
        self._event(record, "feedback", time.perf_counter() - t0, True, chars=len(text))

    def _timed_load(self, record: IterationRecord) -> bool:
        result = self.evaluator.load(record.code, filename="controller.py")
        ok = bool(result.ok)
        self._event(record, "load", float(result.seconds), ok, error=result.error)
        if not ok:
            from loop.sim.feedback import load_feedback

            t0 = time.perf_counter()
            record.feedback = load_feedback(result.error, record.code)
            self._event(record, "feedback", time.perf_counter() - t0, True)
        return ok

    def _timed_simulate(self, record: IterationRecord) -> Sequence[Any]:
        t0 = time.perf_counter()
        records = self.evaluator.simulate(list(self.options.seeds))
        seconds = time.perf_counter() - t0
        failed = sum(1 for r in records if getattr(r, "failure", None))
        self._event(
            record, "simulate", seconds, True, episodes=len(records), controller_failures=failed
        )
        return records

    def _timed_score(self, record: IterationRecord, records: Sequence[Any]) -> Any:
        from loop.evaluate import score

        t0 = time.perf_counter()
        evaluation = score(self.task, list(records))
        seconds = time.perf_counter() - t0
        record.success = bool(evaluation.success)
        record.score = float(evaluation.score)
        record.success_rate = float(evaluation.success_rate)
        record.evaluation = evaluation.to_dict()
        self._event(
            record,
            "score",
            seconds,
            True,
            success=record.success,
            score=record.score,
            success_rate=record.success_rate,
        )
        return evaluation

    def _timed_feedback(self, record: IterationRecord, evaluation: Any) -> None:
        from loop.evaluate import feedback

        t0 = time.perf_counter()
        text = "" if record.success else feedback(self.task, evaluation, code=record.code)
        record.feedback = text
        self._event(record, "feedback", time.perf_counter() - t0, True, chars=len(text))

    # -- bookkeeping ----------------------------------------------------------------------

    def _finish_iteration(self, record: IterationRecord) -> None:
        self.records.append(record)
        if not record.error:
            self.history.append(
                Attempt(
                    index=record.index,
                    reply=record.reply,
                    code=record.code,
                    feedback=record.feedback,
                    repeat_of=record.repeat_of,
                )
            )
        self.rundir.write_result(record.index, record.result())
        self.write_summary()
