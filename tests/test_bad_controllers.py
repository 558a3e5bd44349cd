"""Raising, hanging, malformed and crashing controllers end their episode as a reported failure,
in the sandboxed host that generated code uses; armloop goes on."""

from __future__ import annotations

import pytest

from loop.feedback.compose import feedback
from loop.sandbox.host import Limits
from loop.sim.evaluator import Evaluator
from loop.sim.hosts import process_available
from loop.sim.scoring import score
from loop.task.catalog import load_task
from tests.simhelpers import CONTROLLERS

HOSTS = ["inprocess"] + (["process"] if process_available() else [])
LIMITS = Limits(step_s=0.25, episode_s=3.0, init_s=2.0, load_s=10.0)


@pytest.fixture(scope="module", params=HOSTS)
def evaluator(request):
    with Evaluator(load_task("reach"), workers=1, host=request.param, limits=LIMITS) as ev:
        yield ev


def run(ev, name):
    code = (CONTROLLERS / f"{name}.py").read_text()
    load = ev.load(code, f"{name}.py")
    evaluation = score(ev.task, ev.simulate([0, 1]))
    return load, evaluation, feedback(ev.task, evaluation, code)


def test_raising(evaluator):
    _, ev, text = run(evaluator, "raising")
    for s in ev.seeds:
        assert s.failure["kind"] == "exception" and "boom at tick 4" in s.failure["message"]
        assert "helper" in s.failure["traceback"] and s.score == 0.0
    assert "ValueError" in text and "raising.py" in text


def test_malformed(evaluator):
    _, ev, text = run(evaluator, "malformed")
    assert all(s.failure["kind"] == "bad_action" for s in ev.seeds)
    assert "shape (3,); panda takes 7 joint values" in text


def test_no_controller_class(evaluator):
    load, ev, text = run(evaluator, "no_controller")
    assert not load.ok and load.error["kind"] == "load"
    assert "Controller" in text and not ev.success


@pytest.mark.skipif(not process_available(), reason="needs loop.sandbox.process")
def test_hanging_then_recovers():
    with Evaluator(load_task("reach"), workers=1, host="process", limits=LIMITS) as ev:
        load, evaluation, text = run(ev, "hanging")
        assert load.ok
        assert all(s.failure["kind"] == "timeout" for s in evaluation.seeds), text
        _, again, _ = run(ev, "raising")  # the same warm workers go on
        assert all(s.failure["kind"] == "exception" for s in again.seeds)


def test_hang_in_trusted_host_is_cut_by_the_pool():
    with Evaluator(
        load_task("reach"),
        workers=1,
        host="inprocess",
        limits=Limits(step_s=0.25, episode_s=0.5, init_s=0.5),
    ) as ev:
        ev.pool.deadline_s = 2.0
        _, evaluation, _ = run(ev, "hanging")
        assert all(s.failure["kind"] == "timeout" for s in evaluation.seeds)
