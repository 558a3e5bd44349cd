"""The loop: prompt, model, code, hot-load, episodes, score, feedback; every stage timed.

One `Loop` drives one task against one backend and one warm evaluator, all handed to it by
loop/run/setup.py. Each finished stage is appended to events.jsonl at once; each finished
iteration writes its folder and rewrites summary.json, so the run directory is complete and
readable whenever the run stops.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from loop.backends.base import DEFAULT_TEMPERATURE, ChatBackend, ChatRequest, Stream
from loop.errors import ArmloopError
from loop.run import stages
from loop.run.extract import Extraction, FenceWatcher, extract_code
from loop.run.prompting import build_messages, render, render_transcript
from loop.run.records import IterationRecord, Restored, normalise_code
from loop.run.rundir import RunDir, generation_share
from loop.run.stages import WarmEvaluator
from loop.task.spec import TaskSpec

StageHook = Callable[[int, str, dict[str, Any]], None]
IterationHook = Callable[["Loop", IterationRecord], None]


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


@dataclass(frozen=True)
class LoopHooks:
    """Who hears about the loop: each finished stage, each written iteration (outside every
    stage: `armloop run --video` renders its clip there), and a flag that stops it."""

    on_stage: StageHook | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    after_iteration: IterationHook | None = None


class Loop:
    """Run the iteration loop for one task; see the module docstring."""

    def __init__(
        self,
        task: TaskSpec,
        backend: ChatBackend,
        evaluator: WarmEvaluator,
        rundir: RunDir,
        options: LoopOptions,
        *,
        hooks: LoopHooks | None = None,
        started: float | None = None,
        setup_s: Mapping[str, float] | None = None,
        labels: Mapping[str, Any] | None = None,
        restored: Restored | None = None,
    ) -> None:
        self.task, self.backend, self.evaluator = task, backend, evaluator
        self.rundir, self.options = rundir, options
        self.hooks = hooks or LoopHooks()
        self.started = time.time() if started is None else started  # setup's start
        restored = restored or Restored()
        self.records: list[IterationRecord] = list(restored.records)
        self.history = restored.history
        self.first_index = restored.next_index
        self.previous_wall_s = restored.wall_s
        self.setup_s = _add(restored.setup_s, setup_s or {})
        self.labels = dict(labels or {})
        self.stopped_reason = ""
        self.first_step_at: float | None = None  # time.monotonic() of the first physics step
        self._stream: Stream | None = None

    @property
    def cancel(self) -> threading.Event:
        return self.hooks.cancel

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

    def run(self) -> dict[str, Any]:
        """Iterate until success, the iteration limit, a dead backend or cancellation."""
        failures = 0
        index = self.first_index
        try:
            while index <= self.options.max_iters:
                record = self.iterate(index)
                self._finish_iteration(record)
                if self.hooks.after_iteration:
                    self.hooks.after_iteration(self, record)
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
        except Cancelled:
            self.stopped_reason = "cancelled"
        except KeyboardInterrupt:
            self.stopped_reason = "interrupted"
            self.write_summary()
            raise
        return self.write_summary()

    def iterate(self, index: int) -> IterationRecord:
        record = IterationRecord(index=index)
        repeat_of = self.history[-1].repeat_of if self.history else None
        messages = self._timed_prompt(record, repeat_of)
        if not self._generate(record, messages, repeat_of):
            return record
        extraction = self._timed_extract(record)
        if not extraction.ok or record.repeat_of:
            self._skip_to_feedback(record, extraction)
            return record
        assert record.code is not None
        done = stages.evaluate(
            self._sink(record),
            self.task,
            self.evaluator,
            record.code,
            self.options.seeds,
            record_to=self.rundir.rollouts_path(record.index),
        )
        record.feedback = done.feedback
        if self.first_step_at is None:
            self.first_step_at = done.first_step_at
        if done.evaluation is not None:
            ev = done.evaluation
            record.success, record.score = bool(ev.success), float(ev.score)
            record.success_rate, record.evaluation = float(ev.success_rate), ev.to_dict()
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
            "wall_s": self.previous_wall_s + time.time() - self.started,
            "setup_s": dict(self.setup_s),
            **self.labels,
            "iterations": iterations,
        }

    def write_summary(self) -> dict[str, Any]:
        summary = self.summary()
        self.rundir.write_summary(summary)
        return summary

    # -- stages -------------------------------------------------------------------------

    def _sink(self, record: IterationRecord) -> stages.StageSink:
        def sink(stage: str, seconds: float, ok: bool, **extra: Any) -> None:
            record.stages[stage] = seconds
            event = self.rundir.events.write(record.index, stage, seconds, ok, **extra)
            if self.hooks.on_stage:
                self.hooks.on_stage(record.index, stage, event)
            if self.cancel.is_set():
                raise Cancelled()

        return sink

    def _timed_prompt(self, record: IterationRecord, repeat_of: int | None) -> list[dict]:
        t0 = time.perf_counter()
        messages = build_messages(self.task, self.options.seeds, self.history, repeat_of)
        transcript = render_transcript(messages)
        seconds = time.perf_counter() - t0
        self.rundir.write_iter_file(record.index, "prompt.md", transcript)
        self._sink(record)("prompt", seconds, True, messages=len(messages), chars=len(transcript))
        return messages

    def _sampling(self, repeat_of: int | None) -> tuple[float | None, int | None]:
        """After a repeated answer, sample hotter and with a new seed to shake it loose."""
        if not repeat_of:
            return self.options.temperature, None
        candidates = (self.options.temperature, self.backend.config.temperature)
        base = next((t for t in candidates if t is not None), DEFAULT_TEMPERATURE)
        repeats = sum(1 for a in self.history if a.repeat_of)
        return min(1.0, base + 0.3 * repeats), 1000 + len(self.history)

    def _generate(
        self, record: IterationRecord, messages: list[dict], repeat_of: int | None
    ) -> bool:
        temperature, seed = self._sampling(repeat_of)
        request = ChatRequest(
            messages=messages,
            temperature=temperature,
            max_tokens=self.options.max_tokens,
            seed=seed,
        )
        watcher = FenceWatcher()
        t_request = time.perf_counter()
        stream: Stream | None = None
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
        except Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to stream is this iteration's
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
        self,
        record: IterationRecord,
        stream: Stream,
        t_request: float,
        stopped_early: bool,
        request: ChatRequest,
    ) -> None:
        t_first = stream.t_first_token
        t_last = stream.t_last_token or t_first
        if t_first is None:  # no token at all: the whole wait is time to first token
            t_first = t_last = time.perf_counter()
        t_sent = stream.t_sent or t_request  # the first attempt: retries count
        record.tokens_in = int(stream.tokens_in or 0)
        record.tokens_out = int(stream.tokens_out or 0)
        # the backend's own rate, (n - 1) / (last - first): the same figure `armloop backends`
        record.tokens_per_s = float(stream.tokens_per_s or 0.0)
        sink = self._sink(record)
        sink("ttft", max(0.0, t_first - t_sent), True)
        sink(
            "generate",
            max(0.0, (t_last or t_first) - t_first),
            bool(record.reply),
            tokens_in=record.tokens_in,
            tokens_out=record.tokens_out,
            tokens_per_s=record.tokens_per_s,
            usage_from_server=stream.usage_from_server,
            tokens_method=stream.tokens_method,
            stopped_at_code_end=stopped_early,
            finish_reason=stream.finish_reason,
            temperature=request.temperature,
            seed=request.seed,
        )

    def _backend_failed(
        self,
        record: IterationRecord,
        stream: Stream | None,
        t_request: float,
        partial: str,
        exc: Exception,
    ) -> None:
        """The model server failed: the iteration is a recorded failure, the model not blamed."""
        now = time.perf_counter()
        t_first = stream.t_first_token if stream is not None else None
        reason = exc.problem if isinstance(exc, ArmloopError) else f"{type(exc).__name__}: {exc}"
        record.error = f"model backend: {reason}"
        record.reply = partial
        self.rundir.write_iter_file(record.index, "response.md", partial)
        sink = self._sink(record)
        if t_first is None:
            sink("ttft", now - t_request, False, error=reason)
        else:
            sink("ttft", t_first - t_request, True)
            sink("generate", now - t_first, False, error=reason)
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
        self._sink(record)(
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
        self._sink(record)("feedback", time.perf_counter() - t0, True, chars=len(text))

    # -- bookkeeping ----------------------------------------------------------------------

    def _finish_iteration(self, record: IterationRecord) -> None:
        self.records.append(record)
        if not record.error:
            self.history.append(record.attempt())
        self.rundir.write_result(record.index, record.result())
        self.write_summary()


def _add(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
    return {k: float(a.get(k, 0.0)) + float(b.get(k, 0.0)) for k in {**a, **b}}
