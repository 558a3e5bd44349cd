"""Every task is solvable: its hand-written reference controller succeeds on 5 seeds."""

from __future__ import annotations

import pytest

from loop.feedback.compose import feedback
from loop.sim.evaluator import Evaluator
from loop.sim.scoring import score
from loop.task.catalog import load_task
from tests.simhelpers import REFERENCE, TASKS


@pytest.mark.parametrize("name", TASKS)
def test_reference_succeeds(name):
    path = REFERENCE / f"{name}.py"
    assert path.is_file(), f"tasks/reference/{name}.py is missing"
    task = load_task(name)
    with Evaluator(task, workers=2, host="inprocess") as ev:
        assert ev.load(path.read_text(), path.name).ok
        evaluation = score(task, ev.simulate(range(5)))
    assert evaluation.success, feedback(task, evaluation)
    assert evaluation.score == 1.0
