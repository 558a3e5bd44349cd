"""Object kinds (push, pick_and_place, stack): grasp, drop and release facts from the record."""

from __future__ import annotations

import numpy as np

from loop.sim.evaluator import Evaluator
from loop.sim.kinds.objects import ObjectKind
from loop.sim.record import EpisodeRecord
from loop.sim.scoring import score
from loop.task.catalog import load_task
from tests.simhelpers import REFERENCE

SEEDS = [0, 1]


def reference(name: str) -> str:
    return (REFERENCE / f"{name}.py").read_text()


def evaluate(name: str, code: str, seeds=SEEDS):
    task = load_task(name)
    with Evaluator(task, workers=2, host="inprocess") as ev:
        assert ev.load(code, "controller.py").ok
        return score(task, ev.simulate(seeds))


def patched(name: str, old: str, new: str) -> str:
    code = reference(name)
    assert old in code
    return code.replace(old, new, 1)


def test_opening_mid_lift_is_a_drop():
    # the reference, but it lets go once the cube is lifted
    code = patched(
        "pick_and_place",
        'self.next("carry", obs)',
        'self.grip = OPEN\n                self.next("carry", obs)',
    )
    ev = evaluate("pick_and_place", code)
    for s in ev.seeds:
        assert not s.success and s.score < 0.9
        assert s.metrics["dropped"] and s.metrics["drop_height"] > 0.05
        assert s.metrics["max_lift"] > 0.05
        assert "fell" in s.message and "lifted at most" in s.message


def test_reference_pick_is_not_a_drop_and_reports_the_grasp():
    ev = evaluate("pick_and_place", reference("pick_and_place"))
    assert ev.success
    for s in ev.seeds:
        m = s.metrics
        assert not m["dropped"] and m["max_lift"] > 0.05 and m["carried_s"] > 0.3
        assert m["close_time"] is not None and m["close_gap"] < 0.01
        assert m["table_collisions"] == 0 and m["time_to_success"] is not None


def test_stack_needs_the_cube_released():
    # the reference, but it never opens: the cube sits on the blue one, still held
    code = patched("stack", 'self.next("release", obs)', "pass")
    ev = evaluate("stack", code)
    for s in ev.seeds:
        assert not s.success
        assert s.metrics["final_distance"] < 0.02 and not s.metrics["released_at_end"]
        assert "still closed" in s.message


def test_push_feedback_when_nothing_happens():
    code = (
        "class Controller:\n    def __init__(self, robot): pass\n"
        "    def reset(self, obs): pass\n"
        "    def step(self, obs): return {'ee_pos': obs['ee_pos']}\n"
    )
    ev = evaluate("push", code)
    for s in ev.seeds:
        assert not s.success and s.score < 0.01
        assert "never moved" in s.message and "needs < 0.05 m" in s.message


def test_push_and_pick_seeds_start_apart_from_their_goals():
    for name in ("push", "pick_and_place"):
        task = load_task(name)
        with Evaluator(task, workers=2, host="inprocess") as ev:
            assert ev.load(reference(name), "r.py").ok
            records = ev.simulate(list(range(6)))
        for r in records:
            start = r.objects["object"][0, :3]
            goal = np.asarray(r.episode["goal_pos"])
            assert abs(start[2] - 0.02) < 2e-3  # resting on the table
            assert np.linalg.norm((goal - start)[:2]) >= task.randomize["min_distance"] - 1e-9


def synthetic(obj_z: np.ndarray, ee_z: np.ndarray, grip: np.ndarray) -> EpisodeRecord:
    n = len(obj_z)
    t = np.arange(n) / 30
    obj = np.zeros((n, 7))
    obj[:, 0], obj[:, 2], obj[:, 6] = 0.5, obj_z, 1.0
    ee = np.zeros((n, 3))
    ee[:, 0], ee[:, 2] = 0.5, ee_z
    z = np.zeros((n, 7))
    return EpisodeRecord(
        seed=0,
        t=t,
        q=z,
        dq=z,
        ee_pos=ee,
        ee_quat=np.zeros((n, 4)),
        gripper=grip,
        table_contact=np.zeros(n, bool),
        limit_hit=np.zeros((n, 7), bool),
        objects={"object": obj},
    )


def test_grasp_metrics_on_a_synthetic_record():
    # rest, lifted with the hand to 0.15 m, then the hand goes on up and the cube falls back
    obj = np.r_[
        np.full(10, 0.02),
        np.linspace(0.02, 0.15, 10),
        np.full(5, 0.15),
        np.linspace(0.15, 0.02, 5),
        np.full(10, 0.02),
    ]
    ee = np.r_[np.full(10, 0.02), np.linspace(0.02, 0.15, 10), np.full(5, 0.15), np.full(15, 0.2)]
    grip = np.r_[np.full(8, 0.08), np.full(27, 0.04), np.full(5, 0.08)]
    rec = synthetic(obj, ee, grip)
    g = ObjectKind.grasp_metrics(rec, rec.objects["object"])
    assert g["dropped"] and abs(g["drop_height"] - 0.13) < 0.01
    assert abs(g["max_lift"] - 0.13) < 1e-9
    assert g["close_time"] is not None and g["close_gap"] < 1e-9
    # the same lift, set back down gently with the hand: not a drop
    ee2 = np.r_[obj[:30], np.full(10, 0.1)]
    rec2 = synthetic(obj, ee2, grip)
    g2 = ObjectKind.grasp_metrics(rec2, rec2.objects["object"])
    assert not g2["dropped"]
