"""`armloop tasks` and `armloop eval`: results, JSON, and clear errors with non-zero exits."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from loop.cli import app
from tests.simhelpers import CONTROLLERS, REFERENCE

runner = CliRunner()


def test_tasks_lists_every_task():
    result = runner.invoke(app, ["tasks"])
    assert result.exit_code == 0
    for name in ("reach", "circle", "waypoints", "kuka_reach"):
        assert name in result.output


def test_eval_reference_json_succeeds():
    result = runner.invoke(
        app, ["eval", "reach", "--controller", str(REFERENCE / "reach.py"), "-n", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["success"] and data["success_rate"] == 1.0 and len(data["seeds"]) == 2
    assert "final_distance" in data["seeds"][0]["metrics"] and data["feedback"]


def test_eval_failing_controller_exits_1_with_feedback():
    result = runner.invoke(app, ["eval", "reach", "-c", str(CONTROLLERS / "nothing.py"), "-n", "2"])
    assert result.exit_code == 1
    assert "seed 0:" in result.output and "> 0.05 m" in result.output


def test_gui_without_display_runs_headless(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    result = runner.invoke(
        app, ["eval", "reach", "-c", str(REFERENCE / "reach.py"), "-n", "1", "--gui"]
    )
    assert result.exit_code == 0
    assert "no display" in result.output


@pytest.mark.parametrize(
    "task, controller, words",
    [
        ("reach", "missing.py", ["does not exist"]),
        ("reach", "no_controller.py", ["no class `Controller`", "fix"]),
        ("no_such_task", "nothing.py", ["unknown task", "reach"]),
        ("BAD_TOML", "nothing.py", ["malformed TOML"]),
        ("BAD_KEY", "nothing.py", ["'speed'", "allowed keys"]),
        ("BAD_ROBOT", "nothing.py", ["'ur5'", "panda"]),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, task, controller, words):
    specs = {
        "BAD_TOML": "kind = [",
        "BAD_KEY": "speed = 1\n" + (REFERENCE.parent / "reach.toml").read_text(),
        "BAD_ROBOT": (REFERENCE.parent / "reach.toml").read_text().replace('"panda"', '"ur5"'),
    }
    if task in specs:
        path = tmp_path / "spec.toml"
        path.write_text(specs[task])
        task = str(path)
    result = runner.invoke(app, ["eval", task, "-c", str(CONTROLLERS / controller)])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    for word in words:
        assert word in text
