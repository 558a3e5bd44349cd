"""Feedback pieces on controllers that really fail in the simulator (reach, two seeds)."""

from __future__ import annotations

import re

import pytest

from loop.feedback.action import accepted_actions, step_returns
from loop.feedback.code import code_context, failing_code, origins
from loop.feedback.compose import clip, feedback, load_feedback, seed_list
from loop.sim.evaluator import Evaluator
from loop.sim.scoring import score
from loop.task.catalog import load_task
from loop.task.describe import describe_action
from tests.simhelpers import CONTROLLERS

HEAD = (
    "import numpy as np\n\n\nclass Controller:\n    def __init__(self, robot):\n"
    "        self.robot = robot\n\n    def reset(self, obs):\n"
    "        self.start = np.array(obs['ee_pos'])\n\n    def step(self, obs):\n"
)

INDEX_ERROR = HEAD + (
    "        target = obs['target_pos'][0]\n"
    "        x = target[0] + 0.1  # the failing line\n"
    "        return {'ee_pos': obs['target_pos']}\n"
)
THREE_JOINTS = HEAD + ("        goal = obs['target_pos']\n        return {'q': goal}\n")
SLOW = HEAD + (
    "        goal = self.start + 0.05 * obs['t'] * (obs['target_pos'] - self.start)\n"
    "        return {'ee_pos': goal}\n"
)
OVERSHOOT = HEAD + (
    "        past = self.start + 1.6 * (obs['target_pos'] - self.start)\n"
    "        return {'ee_pos': past if obs['t'] < 2.6 else obs['target_pos']}\n"
)
IMPORT_ERROR = "import numpy as np\n\nSCALE = 1 / 0\n\n\nclass Controller:\n    pass\n"


@pytest.fixture(scope="module")
def reach():
    task = load_task("reach")
    with Evaluator(task, workers=2) as ev:
        yield task, ev


def run(reach, code: str):
    task, ev = reach
    load = ev.load(code)
    evaluation = score(task, ev.simulate([0, 1]))
    return load, evaluation, feedback(task, evaluation, code=code)


def line_of(code: str, needle: str) -> int:
    return next(i for i, line in enumerate(code.splitlines(), 1) if needle in line)


def test_exception_shows_the_marked_line_with_context_once_for_all_seeds(reach) -> None:
    _, evaluation, text = run(reach, INDEX_ERROR)
    n = line_of(INDEX_ERROR, "the failing line")
    assert all(s.failure["kind"] == "exception" for s in evaluation.seeds)
    assert "seeds 0-1 (same failure): exception" in text and "IndexError" in text
    assert re.search(rf"^>> {n} \|\s+x = target\[0\] \+ 0.1", text, re.M)
    assert re.search(rf"^   {n - 1} \|\s+target = obs", text, re.M)  # a line before
    assert re.search(rf"^   {n + 1} \|\s+return", text, re.M)  # a line after
    assert text.count("IndexError") == 1 and "seed 1:" not in text  # deduped


def test_bad_action_shows_the_returned_keys_shapes_values_and_what_is_accepted(reach) -> None:
    _, evaluation, text = run(reach, THREE_JOINTS)
    target = evaluation.seeds[0]  # the seed's first target is what step() returned
    assert all(s.failure["kind"] == "bad_action" for s in evaluation.seeds)
    assert "shape (3,); panda takes 7 joint values" in text
    assert re.search(r"step\(\) returned: \{'q': 3 values \[-?\d\.\d+, -?\d", text), text
    assert "`ee_pos` (3 values) or `q` (7 values) or `dq` (7 values)" in text
    n = line_of(THREE_JOINTS, "return {'q': goal}")
    assert f">> your step() returns at line {n}: return {{'q': goal}}" in text  # marked
    assert "fix: `q` needs 7 values, one per joint" in text
    assert "a point (3 values) goes under `ee_pos`" in text
    assert target.score == 0.0 and text.count("step() returned") == 1


def test_behaviour_failure_gives_numbers_over_time_and_the_stall(reach) -> None:
    _, evaluation, text = run(reach, SLOW)
    assert not evaluation.success and all(s.failure is None for s in evaluation.seeds)
    s = evaluation.seeds[0]
    line = next(x for x in text.splitlines() if x.startswith("seed 0:"))
    assert f"final {s.metrics['final_distance']:.3f} m" in line
    assert " m at t=0 s, " in line and " m at t=3 s" in line  # start and end of the timeline
    assert "> 0.05 m during the last 0.5 s" in line
    assert all(re.search(rf"seeds? [^:]*{x.seed}\b", text) for x in evaluation.seeds)


def test_seeds_failing_the_same_way_are_summarised(reach) -> None:
    hold = HEAD + "        return {'q': obs['q']}\n"
    _, evaluation, text = run(reach, hold)
    d0, d1 = (s.metrics["final_distance"] for s in evaluation.seeds)
    assert f"distance {d0:.3f} m throughout" in text  # a flat timeline in one number
    assert f"seed 1: same pattern (end-effector error {d1:.3f} m)" in text


def test_behaviour_failure_reports_overshoot(reach) -> None:
    _, evaluation, text = run(reach, OVERSHOOT)
    overshoots = [s.metrics["overshoot"] for s in evaluation.seeds]
    assert max(overshoots) > 0.02
    assert "overshoot" in text and f"{max(overshoots):.3f} m past the target" in text


def test_load_failure_shows_the_module_line(reach) -> None:
    load, _, _ = run(reach, IMPORT_ERROR)
    assert not load.ok
    text = load_feedback(load.error, IMPORT_ERROR)
    assert "failed to load" in text and "ZeroDivisionError" in text
    assert re.search(r"^>> 3 \| SCALE = 1 / 0", text, re.M), text


def test_small_pieces() -> None:
    assert seed_list([2]) == "seed 2" and seed_list([0, 1, 2]) == "seeds 0-2"
    assert seed_list([5, 0, 2]) == "seeds 0, 2, 5"
    code = "a = 1\nb = 2\nc = 3\n"
    assert code_context(code, 2).splitlines() == ["   1 | a = 1", ">> 2 | b = 2", "   3 | c = 3"]
    assert code_context(code, 9) == ""
    tb = 'Traceback (controller frames only):\n  File "c.py", line 9, in step\n    zz'
    assert failing_code(tb, code) == tb.strip()  # lines that do not match: the traceback
    assert describe_action(None).startswith("a NoneType, not a dict")
    assert describe_action({"q": [[1.0] * 7]}) == "{'q': shape (1, 7) [1, 1, 1, 1, ...]}"
    assert describe_action({}) == "an empty dict {}"
    assert step_returns("def step(self, obs):\n    return 1\n") == [(2, "return 1")]
    assert accepted_actions(load_task("push")).startswith("`ee_pos` (3 values) or `q` (7")
    long = "\n".join(f"line {i}" for i in range(1000))
    assert len(clip(long)) < 2500 and clip(long).endswith("[feedback cut to fit the context]")


def test_origins_point_at_where_the_failing_lines_values_were_set() -> None:
    code = HEAD + (
        "        target = obs['target_pos'][0]\n"  # line 12: the real cause
        "        a = 1\n        b = 2\n        c = 3\n"
        "        return {'ee_pos': target[0] + self.start}\n"  # line 16 fails
    )
    assert origins(code, 16, 13) == [
        (9, "self.start = np.array(obs['ee_pos'])"),
        (12, "target = obs['target_pos'][0]"),
    ]
    assert origins(code, 16, 5) == []  # all inside the shown context
    assert origins("def f(:\n", 1, 1) == []


def test_every_tasks_retry_prompt_leaves_room_for_a_reply_in_a_4k_context() -> None:
    """~3.5 chars per token (the embedded model's tokenizer gives ~4): a long attempt and
    feedback at its cap still leave 600 tokens for the reply."""
    from loop.feedback.compose import MAX_CHARS
    from loop.run.prompting import Attempt, build_messages
    from loop.task.catalog import list_tasks

    code = HEAD + "        x = 1.0  # a long controller line, repeated\n" * 45
    history = [Attempt(1, "", code, "f" * MAX_CHARS)]
    assert len(code) > 2000
    for task in list_tasks():
        messages = build_messages(task, (0, 1, 2), history)
        chars = sum(len(m["content"]) for m in messages)
        assert chars / 3.5 + 600 <= 4096, (task.name, chars)


def test_a_missing_obs_key_is_answered_with_the_task_s_keys(reach) -> None:
    _, evaluation, text = run(reach, HEAD + "        return {'ee_pos': obs['center']}\n")
    assert all(s.failure["kind"] == "exception" for s in evaluation.seeds)
    assert "KeyError: 'center'" in text
    assert (
        "fix: `obs` has no key 'center': this task's observation keys are t, q, dq, ee_pos, "
        "ee_quat, gripper, target_pos" in text
    )


def test_robot_used_outside_init_and_self_attributes_never_set_get_a_fix(reach) -> None:
    _, _, text = run(reach, HEAD + "        return {'q': robot.ik(obs['target_pos'])}\n")
    assert "NameError" in text and "use self.robot in reset and step" in text
    _, _, text = run(reach, HEAD + "        return {'ee_pos': self.goal}\n")
    assert "fix: self.goal is read before it is set" in text


def test_robot_state_asked_of_the_description_points_at_obs(reach) -> None:
    _, _, text = run(reach, HEAD + "        return {'q': self.robot.q}\n")
    assert "AttributeError: 'RobotInfo' object has no attribute 'q'" in text
    assert "fix: `robot` has no 'q': it is a fixed description (name, dof, dt," in text
    assert "fk(q), ik(pos, quat=None, q0=None)); the arm's current state" in text


@pytest.mark.parametrize(
    "call",
    ["self.robot.fk('ee')[0]", "self.robot.fk()[0]", "self.robot.fk(obs['q']).flatten()"],
    ids=["wrong-argument", "missing-argument", "tuple-used-as-array"],
)
def test_fk_called_wrongly_gets_its_signature(reach, call: str) -> None:
    _, evaluation, text = run(reach, HEAD + f"        return {{'ee_pos': {call}}}\n")
    assert all(s.failure["kind"] == "exception" for s in evaluation.seeds)
    assert "fix: robot.fk(q): Forward kinematics: joint angles (dof,) -> end-effector" in text
    assert "a tuple, so take robot.fk(q)[0] for the position" in text
    assert "the current end-effector position is obs['ee_pos']" in text


def test_an_unrelated_type_error_gets_no_kinematics_hint(reach) -> None:
    body = "        return {'ee_pos': obs['target_pos'][: len(obs['t'])]}\n"
    _, _, text = run(reach, HEAD + body)
    assert "TypeError: object of type 'float' has no len()" in text
    assert "robot.fk(q)" not in text and "robot.ik(" not in text


def test_positions_mixed_with_joint_vectors_get_the_sizes_and_the_way_between(reach) -> None:
    _, _, text = run(reach, HEAD + "        return {'q': obs['q'] + obs['target_pos']}\n")
    assert "could not be broadcast together with shapes (7,) (3,)" in text
    assert "joint vectors (q, dq, robot limits, home_q) (7,)" in text
    assert "self.robot.ik(pos, q0=obs['q'])" in text


def test_a_local_set_on_one_path_only_gets_a_fix(reach) -> None:
    body = (
        "        if obs['t'] > 1.0:\n"
        "            action = {'ee_pos': obs['target_pos']}\n"
        "        return action\n"
    )
    _, _, text = run(reach, HEAD + body)
    assert "UnboundLocalError" in text
    assert "fix: `action` is not set on every path" in text


LEAVES = HEAD + ("        return {'ee_pos': obs['target_pos'] if obs['t'] < 1.5 else self.start}\n")
HALFWAY = HEAD + (
    "        return {'ee_pos': self.start + 0.5 * (obs['target_pos'] - self.start)}\n"
)
RANDOM = HEAD.replace(
    "        self.start = np.array(obs['ee_pos'])\n",
    "        self.start = np.array(obs['ee_pos'])\n        self.seed = np.random.randint(100)\n",
) + ("        return {'ee_pos': self.start}\n")


def so_line(text: str) -> str:
    parts = [p for line in text.splitlines() for p in line.split("; ")]
    return next((p for p in parts if p.startswith("so: ")), "")


def test_a_hold_that_is_too_slow_says_by_when_it_must_arrive(reach) -> None:
    _, evaluation, text = run(reach, SLOW)
    assert not evaluation.success
    assert so_line(text).startswith("so: still closing in") and "from t=2.5 s on" in text


def test_reaching_then_leaving_the_target_says_when_it_was_there(reach) -> None:
    _, evaluation, text = run(reach, LEAVES)
    reached = evaluation.seeds[0].metrics["time_to_reach"]
    assert reached is not None and reached < 1.5
    assert so_line(text) == (
        f"so: it was within 0.05 m at t={reached:.1f} s, then moved away: keep commanding "
        "the target until the episode ends"
    )


def test_stopping_short_says_where_it_held_still(reach) -> None:
    _, evaluation, text = run(reach, HALFWAY)
    final = evaluation.seeds[0].metrics["final_distance"]
    assert final > 0.05
    assert f"the arm held still {final:.3f} m from the target" in so_line(text)
    end = next(x for x in text.splitlines() if "step() returned" in x)
    ee, target = (
        evaluation.seeds[0].end_state.split(f"{k} [")[1] for k in ("ee_pos", "target_pos")
    )
    assert end.startswith("  at t=2.97 s step() returned {'ee_pos': 3 values [")
    assert ee and target and ee != target


def test_randomness_is_named_with_its_line_and_success_gets_no_diagnosis(reach) -> None:
    _, evaluation, text = run(reach, RANDOM)
    n = line_of(RANDOM, "np.random")
    assert not evaluation.success
    assert f"note: line {n} draws random numbers (np.random.randint)" in text
    _, evaluation, text = run(reach, HEAD + "        return {'ee_pos': obs['target_pos']}\n")
    assert evaluation.success and "so: " not in text and "note:" not in text


@pytest.mark.parametrize("nothing", ["{}", "None"])
def test_the_return_that_gave_back_nothing_is_marked(reach, nothing: str) -> None:
    body = (
        "        if obs['t'] < 0.5:\n"
        "            return {'ee_pos': obs['target_pos']}\n"
        f"        return {nothing}\n"
    )
    code = HEAD + body
    _, evaluation, text = run(reach, code)
    assert all(s.failure["kind"] == "bad_action" for s in evaluation.seeds)
    n = line_of(code, f"return {nothing}")
    assert f">> your step() returns at line {n}: return {nothing}" in text
    assert f"   your step() returns at line {n - 1}:" in text  # the good one is listed, unmarked


def test_obs_read_in_init_is_sent_to_reset(reach) -> None:
    code = HEAD.replace(
        "        self.robot = robot\n",
        "        self.robot = robot\n        self.target = obs['target_pos']\n",
    ) + ("        return {'ee_pos': self.target}\n")
    load, _, text = run(reach, code)
    assert "NameError: name 'obs' is not defined" in text
    assert "fix: `obs` is an argument of reset and step only; __init__ gets `robot` alone" in text


def test_an_array_used_as_a_truth_value_gets_the_ways_to_test_it(reach) -> None:
    code = HEAD + (
        "        if not obs['target_pos']:\n            return {'ee_pos': self.start}\n"
        "        return {'ee_pos': obs['target_pos']}\n"
    )
    _, _, text = run(reach, code)
    n = line_of(code, "if not obs")
    assert "The truth value of an array with more than one element is ambiguous" in text
    assert f">> {n:2d} |" in text or f">> {n} |" in text
    assert "test a distance (np.linalg.norm(a - b) < 0.05), `x is None`" in text


def test_a_circle_that_is_on_the_path_too_late_is_told_when_scoring_starts() -> None:
    """Good tracking that joins the moving point only at t = 1 s (the embedded model's near
    miss): the feedback says the start of the scored window is what fails."""
    code = (CONTROLLERS / "circle_late_start.py").read_text()
    task = load_task("circle")
    with Evaluator(task, workers=1) as ev:
        ev.load(code)
        evaluation = score(task, ev.simulate([0, 1, 2]))
    text = feedback(task, evaluation, code=code)
    missed = [s for s in evaluation.seeds if not s.success]
    assert missed and all(s.metrics["max_error"] > 0.1 for s in missed)
    assert "so: tracking is good later" in text
    assert "be on the moving point before t=1 s" in text
