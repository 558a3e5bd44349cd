"""The report's arithmetic against figures computed by hand from tests/fixtures/report_small.

The fixture: backend `fast` (priced 1 $/Mtok in, 4 $/Mtok out) with two reach trials (success
at iterations 2 and 1) and one push trial (no success, 2 iterations); backend `slow` (no
prices) with three reach trials (success at 1, success at 3, a dead backend). Stage times are
round numbers; every figure below was worked out on paper (speedup K = 10).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loop.cli import app
from loop.commands.report import report_command
from loop.errors import ArmloopError
from loop.report.runs import load_trials
from loop.report.stats import median, percentile, projected_cycle, results

FIXTURE = Path(__file__).parent / "fixtures" / "report_small"
RUNS = sorted(p for p in FIXTURE.iterdir() if p.is_dir())
K = 10.0


@pytest.fixture(scope="module")
def data() -> dict:
    return results(load_trials(RUNS), K)


def test_percentiles_by_hand() -> None:
    assert median([]) is None
    assert median([3.0]) == 3.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert percentile([5.0, 9.5], 90) == pytest.approx(9.05)
    assert percentile([1, 2, 3, 4, 5], 100) == 5


def test_projected_cycle_divides_only_generate() -> None:
    it = {"cycle_s": 6.0, "stages": {"ttft": 0.5, "generate": 4.0, "simulate": 1.5}}
    assert projected_cycle(it, 10) == pytest.approx(0.5 + 0.4 + 1.5)
    assert projected_cycle(it, 1) == pytest.approx(6.0)


def test_grouping_and_order(data: dict) -> None:
    assert list(data["backends"]) == ["fast", "slow"]
    assert list(data["backends"]["fast"]["tasks"]) == ["push", "reach"]
    assert data["backends"]["fast"]["model"] == "fast-model"
    trials = load_trials(RUNS)
    assert sorted((t.backend, t.task, t.trial) for t in trials) == [
        ("fast", "push", 1),
        ("fast", "reach", 1),
        ("fast", "reach", 2),
        ("slow", "reach", 1),
        ("slow", "reach", 2),
        ("slow", "reach", 3),
    ]


def test_fast_backend_by_hand(data: dict) -> None:
    b = data["backends"]["fast"]
    assert (b["trials"], b["successes"], b["iterations"]) == (3, 2, 5)
    assert b["success_rate"] == pytest.approx(2 / 3)
    assert b["iterations_to_success_median"] == 1.5  # [2, 1]
    assert b["time_to_success_s_median"] == pytest.approx(7.25)  # [9.5, 5.0]
    assert b["time_to_success_s_p90"] == pytest.approx(9.05)
    assert b["cycle_s_median"] == pytest.approx(5.0)  # [3.5, 6, 5, 4, 5]
    assert b["stage_s_median"]["ttft"] == pytest.approx(0.5)
    assert b["stage_s_median"]["generate"] == pytest.approx(2.0)  # [2, 4, 3, 1, 2]
    assert b["stage_s_median"]["simulate"] == pytest.approx(1.5)  # [1, 1.5, 1, 2, 2]
    assert b["stage_s_median"]["prompt"] == 0.0
    assert b["ttft_s_median"] == pytest.approx(0.5)
    assert b["generation_share"] == pytest.approx(15.0 / 23.5)  # (3 ttft + 12 gen) / 23.5
    assert b["tokens_per_s_median"] == pytest.approx(100.0)  # [80, 100, 150, 50, 120]
    assert b["tokens_per_success"] == pytest.approx((5500 + 1200) / 2)
    assert b["tokens_out_per_success"] == pytest.approx(600)
    assert b["cost_per_success_usd"] == pytest.approx((5500 * 1.0 + 1200 * 4.0) / 1e6 / 2)
    p = b["projection"]
    assert p["speedup"] == K
    assert p["cycle_s"] == pytest.approx(2.4)  # [1.7, 2.4, 2.3, 3.1, 3.2]
    assert p["time_to_success_s"] == pytest.approx(3.2)  # [1.7 + 2.4, 2.3]
    assert p["generation_share"] == pytest.approx((3.0 + 1.2) / 12.7)


def test_fast_per_task_by_hand(data: dict) -> None:
    reach = data["backends"]["fast"]["tasks"]["reach"]
    assert reach["success_rate"] == 1.0
    assert reach["cycle_s_median"] == pytest.approx(5.0)  # [3.5, 6, 5]
    assert reach["generation_share"] == pytest.approx(11.0 / 14.5)
    assert reach["projection"]["cycle_s"] == pytest.approx(2.3)
    assert reach["projection"]["time_to_success_s"] == pytest.approx(3.2)
    push = data["backends"]["fast"]["tasks"]["push"]
    assert push["success_rate"] == 0.0
    assert push["time_to_success_s_median"] is None
    assert push["iterations_to_success_median"] is None
    assert push["cost_per_success_usd"] is None and push["tokens_per_success"] is None
    assert push["cycle_s_median"] == pytest.approx(4.5)
    assert push["projection"]["time_to_success_s"] is None


def test_slow_backend_by_hand(data: dict) -> None:
    b = data["backends"]["slow"]
    assert b["success_rate"] == pytest.approx(2 / 3)
    assert b["iterations_to_success_median"] == 2.0  # [1, 3]
    assert b["time_to_success_s_median"] == pytest.approx(31.5)  # [24, 39]
    assert b["time_to_success_s_p90"] == pytest.approx(37.5)
    assert b["cycle_s_median"] == pytest.approx(13.0)  # [24, 13, 13, 13, 5]
    assert b["stage_s_median"]["generate"] == pytest.approx(10.0)
    assert b["stage_s_median"]["load"] == 0.0
    assert b["generation_share"] == pytest.approx(63.0 / 68.0)
    assert b["tokens_per_s_median"] == pytest.approx(20.0)  # the dead iteration left out
    assert b["tokens_per_success"] == pytest.approx(5600 / 2)
    assert b["cost_per_success_usd"] is None  # no prices in its config
    p = b["projection"]
    assert p["cycle_s"] == pytest.approx(4.0)  # [6, 4, 4, 4, 5]
    assert p["time_to_success_s"] == pytest.approx(9.0)  # [6, 12]
    assert p["generation_share"] == pytest.approx(18.0 / 23.0)


def test_report_files(tmp_path: Path) -> None:
    out = tmp_path / "report"
    report_command(RUNS, out=out, speedup=K)
    data = json.loads((out / "results.json").read_text())
    assert data["backends"]["slow"]["projection"]["cycle_s"] == pytest.approx(4.0)
    rows = list(csv.DictReader((out / "iterations.csv").open()))
    assert len(rows) == 10
    first = rows[0]
    assert (first["backend"], first["task"], first["trial"], first["index"]) == (
        "fast",
        "push",
        "1",
        "1",
    )
    assert float(first["prompt_s"]) == 0.5 and float(first["cycle_s"]) == 4.0
    assert float(first["projected_cycle_s"]) == pytest.approx(3.1)
    assert first["success"] == "False" and float(first["score"]) == 0.4
    md = (out / "report.md").read_text()
    assert "| fast | 2/2" not in md and "| fast | 2/3 (67%)" in md
    assert "| slow / reach |" in md and "$0.005" in md
    for name in ("stages.png", "time_to_success.png", "share_vs_tokens_per_s.png"):
        png = out / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
        assert f"]({name})" in md


def test_report_cli_writes_into_a_single_run_dir(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(FIXTURE / "slow_reach_2", run)
    result = CliRunner().invoke(app, ["report", str(run), "--speedup", "5"])
    assert result.exit_code == 0, result.output
    data = json.loads((run / "results.json").read_text())
    assert data["speedup"] == 5
    assert data["backends"]["slow"]["projection"]["cycle_s"] == pytest.approx(3 + 2)


def test_report_rejects_a_folder_without_runs(tmp_path: Path) -> None:
    with pytest.raises(ArmloopError, match="holds no summary.json"):
        report_command([tmp_path], out=tmp_path / "out")
    assert CliRunner().invoke(app, ["report", str(tmp_path)]).exit_code == 2
