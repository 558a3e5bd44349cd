"""Bench executors: trials as threads in this process (`local`) or as Ray tasks (`ray`).

Both call `loop.bench.trial.run_trial` and hand each finished trial to `on_done(outcome)` in the
calling thread's order of completion. At most `parallel` trials run at once.

Local executor: a trial is I/O-bound in this process (HTTP to the model, pipes to the sim
workers, which are their own processes), so threads suffice. Trials of an embedded-model
(`local` kind) backend share one warm model server and run one at a time, so that one
trial's generation never queues behind another's and pollutes its TTFT.

Ray executor: each trial is a Ray task (num_cpus=1) that opens its own backend; for the
embedded model, run `armloop serve` on each node first so the tasks share its server.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loop.backends import Backend
from loop.backends.profiles import resolve
from loop.bench.plan import TrialSpec
from loop.bench.trial import run_trial, trial_plan
from loop.errors import ArmloopError
from loop.run.setup import open_model_backend


@dataclass
class Outcome:
    spec: TrialSpec
    summary: dict[str, Any] | None
    error: str | None = None


OnDone = Callable[[Outcome], None]


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, ArmloopError):
        return f"{exc.problem} ({exc.fix})" if exc.fix else exc.problem
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


# -- local ------------------------------------------------------------------------------------


class SharedBackends:
    """One warm backend object (and a lock) per embedded-model backend name."""

    def __init__(self, specs: Sequence[TrialSpec]) -> None:
        self.backends: dict[str, Backend] = {}
        self.cancel = threading.Event()
        self.locks: dict[str, threading.Lock] = {}
        for spec in specs:
            if spec.backend in self.locks:
                continue
            path = None if spec.config is None else Path(spec.config)
            if resolve(spec.backend, config=path).kind == "local":
                self.locks[spec.backend] = threading.Lock()

    def run(self, spec: TrialSpec) -> dict[str, Any]:
        lock = self.locks.get(spec.backend)
        if lock is None:
            return run_trial(spec, cancel=self.cancel)
        with lock:
            if self.cancel.is_set():
                raise KeyboardInterrupt
            if spec.backend not in self.backends:
                choice = trial_plan(spec).backend
                self.backends[spec.backend] = open_model_backend(choice)
            return run_trial(spec, backend=self.backends[spec.backend], cancel=self.cancel)

    def close(self) -> None:
        for backend in self.backends.values():
            backend.close()


def run_local(specs: Sequence[TrialSpec], parallel: int, on_done: OnDone) -> list[Outcome]:
    """Ctrl-C cancels the running trials at their next stage and skips the rest."""
    shared = SharedBackends(specs)
    outcomes: list[Outcome] = []
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="trial")
    try:
        futures: dict[Future, TrialSpec] = {pool.submit(shared.run, s): s for s in specs}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                outcome = _outcome(futures[future], future)
                outcomes.append(outcome)
                on_done(outcome)
    except KeyboardInterrupt:
        shared.cancel.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        shared.close()
    return outcomes


def _outcome(spec: TrialSpec, future: Future) -> Outcome:
    exc = future.exception()
    if exc is not None:
        return Outcome(spec, None, _describe_error(exc))
    return Outcome(spec, future.result())


# -- ray --------------------------------------------------------------------------------------


def _ray_trial(spec: TrialSpec) -> tuple[dict[str, Any] | None, str | None]:
    try:
        return run_trial(spec), None
    except Exception as exc:  # noqa: BLE001 - reported as this trial's error
        return None, _describe_error(exc)


def run_ray(
    specs: Sequence[TrialSpec], parallel: int, on_done: OnDone, address: str | None = None
) -> list[Outcome]:
    try:
        import ray
    except ImportError as exc:
        raise ArmloopError(
            "--executor ray needs Ray, which is not installed",
            "pip install 'armloop[ray]' (or .venv/bin/pip install 'ray[default]')",
        ) from exc
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    remote = ray.remote(num_cpus=1, max_retries=0)(_ray_trial)
    queue = list(specs)
    running: dict[Any, TrialSpec] = {}
    outcomes: list[Outcome] = []
    while queue or running:
        while queue and len(running) < parallel:
            spec = queue.pop(0)
            running[remote.remote(spec)] = spec
        ready, _ = ray.wait(list(running), num_returns=1)
        for ref in ready:
            spec = running.pop(ref)
            try:
                summary, error = ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - a worker died: this trial's error
                summary, error = None, _describe_error(exc)
            outcome = Outcome(spec, summary, error)
            outcomes.append(outcome)
            on_done(outcome)
    return outcomes
