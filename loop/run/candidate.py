"""One candidate of one iteration, through the eight stages: prompt, ttft, generate, extract,
load, simulate, score, feedback. The Loop runs one per iteration, or several at once.

A candidate whose code repeats an earlier attempt, or a candidate of the same iteration that
got there first, is not simulated again; a model server that fails is this candidate's
recorded failure (any exception while streaming, not only a BackendError). A reply cut for
repeating itself (RepetitionCut) is a recorded failure too, with what repeated and what the
cut saved, and feedback for the next prompt: it is the model's failure, not the server's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from loop.backends.base import ChatBackend, ChatRequest, Stream
from loop.backends.repetition import RepetitionCut
from loop.errors import ArmloopError
from loop.run import stages
from loop.run.extract import Extraction, FenceWatcher, extract_code
from loop.run.prompting import Attempt, build_messages, render, render_transcript
from loop.run.records import CandidateRecord, normalise_code
from loop.run.rundir import RunDir
from loop.run.slots import SimSlots
from loop.task.spec import TaskSpec

StageHook = Callable[[int, str, dict[str, Any]], None]


class Cancelled(Exception):
    """The loop was asked to stop (a newer save in watch mode, or Ctrl-C)."""


@dataclass
class Siblings:
    """The codes the candidates of one iteration have produced so far (repeat detection)."""

    codes: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def claim(self, key: str, candidate: int) -> int | None:
        """None if this code is new in the iteration, else the candidate that had it first."""
        with self.lock:
            first = self.codes.get(key)
            if first is None:
                self.codes[key] = candidate
            return first


@dataclass(frozen=True)
class Context:
    """What every candidate of a run shares."""

    task: TaskSpec
    backend: ChatBackend
    slots: SimSlots
    rundir: RunDir
    seeds: tuple[int, ...]
    max_tokens: int
    stop_at_code_end: bool
    static_check: bool
    width: int  # candidates per iteration
    cancel: threading.Event
    on_stage: StageHook | None
    streams: set[Stream]  # in flight, for Loop.abort
    streams_lock: threading.Lock


class CandidateRun:
    """Run candidate `candidate` (1-based) of iteration `index`."""

    def __init__(
        self,
        ctx: Context,
        index: int,
        candidate: int,
        history: Sequence[Attempt],
        siblings: Siblings,
        sampling: tuple[float | None, int | None],
    ) -> None:
        self.ctx, self.history, self.siblings = ctx, list(history), siblings
        self.record = CandidateRecord(index=index, candidate=candidate)
        self.record.temperature, self.record.seed = sampling
        self.first_step_at: float | None = None  # time.monotonic() of its first physics step

    # -- files and events ---------------------------------------------------------------

    @property
    def folder(self) -> str:
        """Where this candidate's files go below iter_NNN/ ('' with one candidate)."""
        return "" if self.ctx.width == 1 else f"cand_{self.record.candidate}"

    @property
    def rollouts_path(self) -> Path:
        """iter_NNN/rollouts.npz, or iter_NNN/cand_K/rollouts.npz with several candidates."""
        path = self.ctx.rundir.rollouts_path(self.record.index)
        if self.folder:
            path = path.parent / self.folder / path.name
            path.parent.mkdir(exist_ok=True)
        return path

    def write(self, name: str, text: str) -> None:
        sub = f"{self.folder}/{name}" if self.folder else name
        self.ctx.rundir.write_iter_file(self.record.index, sub, text)

    def sink(self, stage: str, seconds: float, ok: bool, **extra: Any) -> None:
        r, ctx = self.record, self.ctx
        r.stages[stage] = seconds
        if ctx.width > 1:
            extra = {"candidate": r.candidate, **extra}
        event = ctx.rundir.events.write(r.index, stage, seconds, ok, **extra)
        if ctx.on_stage:
            ctx.on_stage(r.index, stage, event)
        if ctx.cancel.is_set():
            raise Cancelled()

    # -- the stages ---------------------------------------------------------------------

    def run(self) -> CandidateRecord:
        r = self.record
        r.t_start = time.perf_counter()
        repeat_of = self.history[-1].repeat_of if self.history else None
        messages = self._prompt(repeat_of)
        if self._generate(messages):
            extraction = self._extract()
            if not extraction.ok or r.repeat_of:
                self._not_run(extraction)
            else:
                self._evaluate()
        r.t_end = time.perf_counter()
        return r

    def _prompt(self, repeat_of: int | None) -> list[dict]:
        t0 = time.perf_counter()
        messages = build_messages(self.ctx.task, self.ctx.seeds, self.history, repeat_of)
        transcript = render_transcript(messages)
        seconds = time.perf_counter() - t0
        if self.record.candidate == 1:
            self.ctx.rundir.write_iter_file(self.record.index, "prompt.md", transcript)
        self.sink("prompt", seconds, True, messages=len(messages), chars=len(transcript))
        return messages

    def _generate(self, messages: list[dict]) -> bool:
        r, ctx = self.record, self.ctx
        request = ChatRequest(messages, r.temperature, ctx.max_tokens, r.seed)
        watcher = FenceWatcher()
        t_request = time.perf_counter()
        stream: Stream | None = None
        stopped_early = False
        try:
            stream = ctx.backend.stream(request)
            with ctx.streams_lock:
                ctx.streams.add(stream)
            with stream:
                for delta in stream:
                    if ctx.cancel.is_set():
                        raise Cancelled()
                    if watcher.feed(delta) and ctx.stop_at_code_end:
                        stopped_early = True
                        stream.close()
                        break
        except Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to stream is this candidate's
            if ctx.cancel.is_set():
                raise Cancelled() from exc
            self._backend_failed(stream, t_request, watcher.text, exc)
            return False
        finally:
            if stream is not None:
                with ctx.streams_lock:
                    ctx.streams.discard(stream)
        if ctx.cancel.is_set():
            raise Cancelled()
        r.reply = watcher.text
        self.write("response.md", r.reply)
        self._generation_events(stream, t_request, stopped_early)
        return True

    def _generation_events(self, stream: Stream, t_request: float, stopped_early: bool) -> None:
        r = self.record
        t_first = stream.t_first_token
        t_last = stream.t_last_token or t_first
        if t_first is None:  # no token at all: the whole wait is time to first token
            t_first = t_last = time.perf_counter()
        r.t_stream_end = t_last or t_first
        t_sent = stream.t_sent or t_request  # the first attempt: retries count
        r.tokens_in = int(stream.tokens_in or 0)
        r.tokens_out = int(stream.tokens_out or 0)
        # the backend's own rate, (n - 1) / (last - first): the same figure `armloop backends`
        r.tokens_per_s = float(stream.tokens_per_s or 0.0)
        self.sink("ttft", max(0.0, t_first - t_sent), True)
        self.sink(
            "generate",
            max(0.0, r.t_stream_end - t_first),
            bool(r.reply),
            tokens_in=r.tokens_in,
            tokens_out=r.tokens_out,
            tokens_cached=stream.tokens_cached,
            tokens_per_s=r.tokens_per_s,
            usage_from_server=stream.usage_from_server,
            tokens_method=stream.tokens_method,
            stopped_at_code_end=stopped_early,
            finish_reason=stream.finish_reason,
            temperature=r.temperature,
            seed=r.seed,
        )

    def _backend_failed(
        self, stream: Stream | None, t_request: float, partial: str, exc: Exception
    ) -> None:
        """The model server failed: a recorded failure of this candidate, the model not blamed."""
        r = self.record
        now = r.t_stream_end = time.perf_counter()
        t_first = stream.t_first_token if stream is not None else None
        reason = exc.problem if isinstance(exc, ArmloopError) else f"{type(exc).__name__}: {exc}"
        r.error, r.reply, r.feedback = f"model backend: {reason}", partial, ""
        self.write("response.md", partial)
        if isinstance(exc, RepetitionCut) and stream is not None and t_first is not None:
            self._cut_repeating(stream, t_request, t_first, now, exc)
        elif t_first is None:
            self.sink("ttft", now - t_request, False, error=reason)
        else:
            self.sink("ttft", t_first - t_request, True)
            self.sink("generate", now - t_first, False, error=reason)

    def _cut_repeating(
        self, stream: Stream, t_request: float, t_first: float, now: float, cut: RepetitionCut
    ) -> None:
        """The reply was cut for repeating itself: the tokens it cost, what the cut saved, and
        feedback that tells the model so."""
        r = self.record
        r.error, r.repetition = cut.problem, cut.details()
        r.tokens_in, r.tokens_out = int(stream.tokens_in or 0), int(stream.tokens_out or 0)
        r.tokens_per_s = float(cut.tokens_per_s or 0.0)
        self.sink("ttft", max(0.0, t_first - (stream.t_sent or t_request)), True)
        self.sink(
            "generate",
            now - t_first,
            False,
            error=cut.problem,
            repetition=r.repetition,
            tokens_in=r.tokens_in,
            tokens_out=r.tokens_out,
            tokens_per_s=r.tokens_per_s,
            tokens_method=stream.tokens_method,
            temperature=r.temperature,
            seed=r.seed,
        )
        t0 = time.perf_counter()
        rep = cut.repetition
        r.feedback = render(
            "repeated_itself", attempt=r.index, block=rep.quote(), repeats=rep.repeats
        )
        self.sink("feedback", time.perf_counter() - t0, True, chars=len(r.feedback))

    def _extract(self) -> Extraction:
        r = self.record
        t0 = time.perf_counter()
        extraction = extract_code(r.reply)
        if not self.ctx.static_check and extraction.code is not None:
            extraction = replace(extraction, problems=())
        if extraction.code is not None:
            r.code = extraction.code
            key = normalise_code(extraction.code)
            r.repeat_of = next(
                (a.index for a in self.history if a.code and normalise_code(a.code) == key), None
            )
            if r.repeat_of is None and self.ctx.width > 1:
                first = self.siblings.claim(key, r.candidate)
                if first is not None:
                    r.repeat_of, r.repeat_of_candidate = r.index, first
        seconds = time.perf_counter() - t0
        r.extraction_note = extraction.note
        if r.code is not None:
            self.write("controller.py", r.code)
        self.sink(
            "extract",
            seconds,
            extraction.ok and not r.repeat_of,
            blocks=extraction.blocks,
            problems=list(extraction.problems),
            repeat_of=r.repeat_of,
            repeat_of_candidate=r.repeat_of_candidate,
            note=extraction.note,
        )
        return extraction

    def _not_run(self, extraction: Extraction) -> None:
        """No simulation for code that cannot load or repeats an earlier attempt."""
        r = self.record
        t0 = time.perf_counter()
        if r.repeat_of_candidate is not None:
            text = render("not_run_sibling", same_as=r.repeat_of_candidate)
        elif r.repeat_of:
            earlier = next(a for a in self.history if a.index == r.repeat_of)
            text = render("not_run_repeat", same_as=r.repeat_of, feedback=earlier.feedback.strip())
        else:
            problems = "\n".join(f"- {p}" for p in extraction.problems)
            text = render("not_run_static", problems=problems)
        r.feedback = text
        self.sink("feedback", time.perf_counter() - t0, True, chars=len(text))

    def _evaluate(self) -> None:
        r, ctx = self.record, self.ctx
        assert r.code is not None
        with ctx.slots.take() as (evaluator, waited):
            before = {"queue_s": waited} if ctx.width > 1 else {}
            done = stages.evaluate(
                self.sink,
                ctx.task,
                evaluator,
                r.code,
                ctx.seeds,
                before_load=before,
                record_to=self.rollouts_path,
            )
        r.feedback = done.feedback
        self.first_step_at = done.first_step_at
        if done.evaluation is not None:
            ev = done.evaluation
            r.success, r.score = bool(ev.success), float(ev.score)
            r.success_rate, r.evaluation = float(ev.success_rate), ev.to_dict()
