"""Task specs: every task loads; bad specs fail naming the key, robot or kind and the fix."""

from __future__ import annotations

import pytest

from loop.errors import TaskSpecError
from loop.run.extract import extract_code, static_check
from loop.sim.evaluator import evaluate_code
from loop.task.catalog import load_task, task_paths
from loop.task.contract import ActionError, contract_text, validate_action
from robots import robot_info

GOOD = """
description = "Reach."
kind = "reach"
robot = "panda"
actions = ["ee_pos"]
episode_s = 2
control_hz = 30
[observation]
keys = ["target_pos"]
"""


def write(tmp_path, text):
    path = tmp_path / "t.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("path", task_paths(), ids=lambda p: p.stem)
def test_every_task_loads_and_renders_its_contract(path):
    task = load_task(path)
    text = contract_text(task)
    assert task.description and task.summary
    for key in task.obs_keys:
        assert f"`{key}`" in text
    for mode in task.actions:
        assert f"`{mode}`" in text


@pytest.mark.parametrize("path", task_paths(), ids=lambda p: p.stem)
def test_the_contract_skeleton_is_a_valid_controller(path):
    """The skeleton the prompt shows passes the static check and runs every seed to the end
    without a controller failure (it holds still, so it does not succeed)."""
    task = load_task(path)
    code = extract_code(contract_text(task)).code
    assert code and "self.robot = robot" in code
    assert static_check(code) == []
    result = evaluate_code(task, code, seeds=range(2))
    assert not result.success
    assert all(seed.failure is None for seed in result.seeds), result.seeds


def test_at_least_six_tasks_of_mine():
    names = {p.stem for p in task_paths()}
    assert {"reach", "reach_joint", "circle", "waypoints", "kuka_reach", "kuka_waypoints"} <= names


def test_good_spec_from_path(tmp_path):
    task = load_task(write(tmp_path, GOOD))
    assert task.success["tolerance"] == 0.05 and task.substeps == 8


@pytest.mark.parametrize(
    "text, words",
    [
        ("description = ", ["malformed TOML"]),
        (GOOD + "colour = 3\n", ["'colour'", "allowed keys"]),
        (GOOD + "[success]\nwithin = 1\n", ["'within'", "tolerance"]),
        (GOOD.replace('"panda"', '"ur5"'), ["'ur5'", "kuka", "panda"]),
        (GOOD.replace('"reach"', '"juggle"', 1), ["'juggle'", "circle"]),
        (GOOD.replace('["ee_pos"]', '["pos"]'), ["ee_pos", "tau"]),
        (GOOD.replace('"target_pos"', '"goal"'), ["'goal'", "target_pos"]),
    ],
)
def test_bad_specs_say_what_and_how(tmp_path, text, words):
    with pytest.raises(TaskSpecError) as info:
        load_task(write(tmp_path, text))
    message = str(info.value)
    assert info.value.fix
    for word in words:
        assert word in message


def test_missing_task():
    with pytest.raises(TaskSpecError, match="reach"):
        load_task("no_such_task")
    with pytest.raises(TaskSpecError, match="does not exist"):
        load_task("/nope/x.toml")


def test_validate_action_messages():
    panda = robot_info("panda", 1 / 30)
    with pytest.raises(ActionError, match=r"shape \(3,\); panda takes 7 joint values"):
        validate_action({"q": [0, 0, 0]}, panda, ("q",))
    with pytest.raises(ActionError, match="not accepted"):
        validate_action({"tau": [0] * 7}, panda, ("q",))
    with pytest.raises(ActionError, match="NaN"):
        validate_action({"ee_pos": [0, float("nan"), 0]}, panda, ("ee_pos",))
    with pytest.raises(ActionError, match="exactly one"):
        validate_action({"q": [0] * 7, "dq": [0] * 7}, panda, ("q", "dq"))
    action = validate_action({"ee_pos": [0.4, 0, 0.3], "gripper": 0.5}, panda, ("ee_pos",))
    assert action.mode == "ee_pos" and action.gripper == 0.08
