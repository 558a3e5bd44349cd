"""Setting up a run: the one place a model backend is opened and warmed, a pool of sim workers
sized, config.toml written and a Loop built. `armloop run`, every bench trial and every saved
spec in watch mode come through `prepare()`.

    run = prepare(RunPlan(task, BackendChoice("local"), LoopOptions(), out))
    with run:
        summary = run.loop(hooks).run()

Setup is timed and reported, never hidden: summary.json's `setup_s` holds `backend` (open
and warm the backend: start the embedded model's server, prefill the run's unchanging first
messages), `simulator` (start the warm sim workers, which happens on a thread meanwhile) and
`total` (the wall time of setup), so that `wall_s` = setup_s.total + the cycles.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loop import __version__
from loop.backends import Backend, ChatBackend, open_backend
from loop.run.loop import Loop, LoopHooks, LoopOptions
from loop.run.prompting import build_messages
from loop.run.records import Restored
from loop.run.rundir import RunDir
from loop.run.slots import slot_plan
from loop.sim.evaluator import Evaluator
from loop.sim.pool import available_cores
from loop.task.spec import TaskSpec

Status = Callable[[str], None]


@dataclass(frozen=True)
class BackendChoice:
    """What the user chose: --backend, --model, --base-url, --config."""

    name: str | None = None
    model: str | None = None
    base_url: str | None = None
    config: Path | None = None

    def selection(self) -> dict[str, str]:
        """The choice as config.toml's [selection] (what `--resume` reopens)."""
        picked = {"name": self.name, "model": self.model, "base_url": self.base_url}
        if self.config is not None:
            picked["config"] = str(self.config)
        return {k: v for k, v in picked.items() if v is not None}

    @classmethod
    def from_selection(cls, selection: Mapping[str, Any], config: Path | None) -> BackendChoice:
        given = selection.get("config")
        return cls(
            name=selection.get("name"),
            model=selection.get("model"),
            base_url=selection.get("base_url"),
            config=config or (Path(given) if given else None),
        )


def open_model_backend(choice: BackendChoice) -> Backend:
    """The backend of a choice, opened (not yet warm): a missing key or unknown profile fails
    here, before anything starts."""
    return open_backend(
        name=choice.name, model=choice.model, base_url=choice.base_url, config=choice.config
    )


@dataclass(frozen=True)
class RunPlan:
    """Everything a run needs; `labels` are extra tables for config.toml and summary.json
    (watch: the saved file; bench: backend and trial)."""

    task: TaskSpec
    backend: BackendChoice
    options: LoopOptions
    out: Path
    labels: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def slots(self) -> tuple[int, int]:
        """(simulators, workers each): one candidate per simulator at a time, one worker per
        episode run at once, at most one worker per core (loop/run/slots.py)."""
        o = self.options
        return slot_plan(o.candidates, len(o.seeds), available_cores())


class Run:
    """A prepared run: warm backend, warm simulators, run directory with its config."""

    def __init__(
        self,
        plan: RunPlan,
        backend: ChatBackend,
        evaluators: list[Evaluator],
        rundir: RunDir,
        setup_s: dict[str, float],
        started: float,
        owns_backend: bool,
    ) -> None:
        self.plan, self.backend, self.evaluators, self.rundir = plan, backend, evaluators, rundir
        self.setup_s, self.started, self.owns_backend = setup_s, started, owns_backend

    def loop(self, hooks: LoopHooks | None = None, restored: Restored | None = None) -> Loop:
        return Loop(
            self.plan.task,
            self.backend,
            self.evaluators,
            self.rundir,
            self.plan.options,
            hooks=hooks,
            started=self.started,
            setup_s=self.setup_s,
            labels=dict(self.plan.labels),
            restored=restored,
        )

    def close(self) -> None:
        for evaluator in self.evaluators:
            evaluator.close()
        if self.owns_backend:
            self.backend.close()
        self.rundir.close()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def prepare(
    plan: RunPlan,
    *,
    backend: ChatBackend | None = None,
    status: Status | None = None,
    write_config: bool = True,
) -> Run:
    """Open (unless `backend` is given, shared with other runs) and warm the backend while
    the sim workers start on a thread; write config.toml and task.toml; return the Run."""
    say = status or (lambda text: None)
    started, t0 = time.time(), time.perf_counter()
    rundir = RunDir(plan.out)
    workers = _Starting(plan.task, *plan.slots)
    owns = backend is None
    try:
        say("starting the model backend")
        t_backend = time.perf_counter()
        backend = backend or open_model_backend(plan.backend)
        prefix = build_messages(plan.task, plan.options.seeds, [])
        warm = backend.warm(prefix, streams=plan.options.candidates)
        backend_s = time.perf_counter() - t_backend
        if write_config:
            _write_config(rundir, plan, backend)
        say(f"starting {workers.count * workers.each} sim worker(s)")
        evaluators = workers.result()
    except BaseException:
        workers.discard()
        if owns and backend is not None:
            backend.close()
        rundir.close()
        raise
    setup_s = {
        "backend": backend_s,
        "simulator": workers.seconds,
        "total": time.perf_counter() - t0,
        **{f"backend_{k}": v for k, v in warm.items()},
    }
    return Run(plan, backend, evaluators, rundir, setup_s, started, owns)


class _Starting:
    """Evaluators being built on a thread (their workers start while the backend warms)."""

    def __init__(self, task: TaskSpec, count: int, each: int) -> None:
        self.count, self.each = count, each
        self.seconds = 0.0
        self._evaluators: list[Evaluator] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._build, args=(task,), name="armloop-sim-start", daemon=True
        )
        self._thread.start()

    def _build(self, task: TaskSpec) -> None:
        t0 = time.perf_counter()
        try:
            for slot in range(self.count):  # slot k's workers start on core k * each
                evaluator = Evaluator(task, workers=self.each, first_core=slot * self.each)
                self._evaluators.append(evaluator)
        except BaseException as exc:  # noqa: BLE001 - re-raised by result()
            self._error = exc
        self.seconds = time.perf_counter() - t0

    def result(self) -> list[Evaluator]:
        self._thread.join()
        if self._error is not None:
            self.discard()
            raise self._error
        return list(self._evaluators)

    def discard(self) -> None:
        self._thread.join()
        for evaluator in self._evaluators:
            evaluator.close()
        self._evaluators = []


def _write_config(rundir: RunDir, plan: RunPlan, backend: ChatBackend) -> None:
    """config.toml (everything needed to repeat the run) and task.toml (the spec it used)."""
    copy = rundir.path / "task.toml"
    if Path(plan.task.path).resolve() != copy.resolve():
        shutil.copyfile(plan.task.path, copy)
    o = plan.options
    rundir.write_config(
        {
            "armloop_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "task": plan.task.name,
            "task_file": "task.toml",
            "seeds": list(o.seeds),
            "max_iters": o.max_iters,
            "max_tokens": o.max_tokens,
            "temperature": o.temperature,
            "stop_at_code_end": o.stop_at_code_end,
            "candidates": o.candidates,
            "selection": plan.backend.selection(),
            "backend": backend.describe(),
            **{k: dict(v) for k, v in plan.labels.items()},
        }
    )
