"""Warm simulators that candidates take turns on: one candidate per simulator at a time.

With one candidate there is one slot (the run's Evaluator, its workers spread over the
seeds). With several, setup makes up to one slot per core, so candidates whose streams end
close together are simulated side by side; a candidate that finds every slot busy waits, and
the wait is counted in its load stage (`queue_s`).
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from loop.run.stages import WarmEvaluator


class SimSlots:
    def __init__(self, evaluators: Sequence[WarmEvaluator]) -> None:
        if not evaluators:
            raise ValueError("SimSlots needs at least one evaluator")
        self.evaluators = list(evaluators)
        self._free: queue.Queue[WarmEvaluator] = queue.Queue()
        for evaluator in self.evaluators:
            self._free.put(evaluator)

    def __len__(self) -> int:
        return len(self.evaluators)

    @contextmanager
    def take(self) -> Iterator[tuple[WarmEvaluator, float]]:
        """A free simulator and the seconds spent waiting for it."""
        t0 = time.perf_counter()
        evaluator = self._free.get()
        try:
            yield evaluator, time.perf_counter() - t0
        finally:
            self._free.put(evaluator)


def slot_plan(candidates: int, episodes: int, cores: int) -> tuple[int, int]:
    """(slots, workers per slot): one worker per episode run at once, at most one per core,
    shared among up to `candidates` slots."""
    budget = max(1, min(cores, episodes * candidates))
    slots = max(1, min(candidates, budget))
    return slots, max(1, budget // slots)
