"""Contract tests over every task in tasks/ (dm_control style): finite state, scores in [0, 1],
seeded determinism, different seeds differ, and doing nothing fails."""

from __future__ import annotations

import numpy as np
import pytest

from loop.sim.evaluator import Evaluator
from loop.sim.scoring import score
from loop.task.catalog import load_task
from tests.simhelpers import TASKS, nothing_code


@pytest.fixture(scope="module", params=TASKS)
def run(request):
    task = load_task(request.param)
    with Evaluator(task, workers=1, host="inprocess") as ev:
        assert ev.load(nothing_code(task), "nothing.py").ok
        records = ev.simulate([0, 1, 0])
    return task, records, score(task, records)


def arrays(record):
    yield from (record.t, record.q, record.dq, record.ee_pos, record.ee_quat, record.gripper)
    yield from record.objects.values()


def test_state_is_finite_and_complete(run):
    task, records, _ = run
    for r in records:
        assert r.failure is None
        assert r.steps == task.n_ticks + 1
        assert all(np.all(np.isfinite(a)) for a in arrays(r))
        assert r.first_step_at is not None and r.wall_s > 0


def test_scores_in_unit_interval_and_nothing_fails(run):
    _, _, evaluation = run
    assert 0.0 <= evaluation.score <= 1.0
    for s in evaluation.seeds:
        assert 0.0 <= s.score < 1.0 and not s.success and s.message
    assert evaluation.success_rate == 0.0 and not evaluation.success
    evaluation.to_dict()


def test_same_seed_same_result_different_seed_different_start(run):
    _, (a, b, a2), evaluation = run
    for x, y in zip(arrays(a), arrays(a2), strict=True):
        assert np.array_equal(x, y)
    assert evaluation.seeds[0].metrics == evaluation.seeds[2].metrics
    assert not np.array_equal(a.q[0], b.q[0])
    assert repr(a.episode) != repr(b.episode)
