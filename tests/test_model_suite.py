"""benchmarks.model_suite's arithmetic and tables on a small fixed set of trials."""

from __future__ import annotations

import json

import pytest

from benchmarks import model_suite as ms


def trial(k: int, success: bool, iters: int, tts: float | None, gen: float, cycle: float) -> dict:
    return {
        "trial": k,
        "success": success,
        "iterations_to_success": iters if success else None,
        "time_to_success_s": tts,
        "generation_s": gen,
        "cycle_s": cycle,
        "repeats": 1 if not success else 0,
        "scores": [0.0] * (iters - 1) + [1.0 if success else 0.0],
    }


TRIALS = [
    trial(0, True, 4, 120.0, 90.0, 100.0),
    trial(1, False, 5, None, 190.0, 200.0),
    trial(2, True, 1, 20.0, 19.0, 20.0),
]


def test_aggregate_by_hand() -> None:
    agg = ms.aggregate(TRIALS)
    assert agg["successes"] == 2 and agg["success_rate"] == pytest.approx(2 / 3)
    assert agg["median_iterations_to_success"] == 2.5
    assert agg["median_time_to_success_s"] == 70.0
    assert agg["generation_share"] == pytest.approx(299 / 320)
    assert agg["repeats"] == 1


def saved_result(label: str, task: str, trials: list[dict], commit: str) -> dict:
    settings = {"tasks": [task], "trials": len(trials), "max_iters": 5, "seeds_per_trial": 3}
    settings |= {"model": "m", "git_commit": commit}
    agg = {**ms.aggregate(trials), "trial_details": trials}
    return {"label": label, "settings": settings, "wall_s": 10.0, "tasks": {task: agg}}


def test_merge_joins_tasks_and_the_markdown_shows_before_and_after(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(ms, "RESULTS", tmp_path)
    parts = {
        "after_reach": saved_result("after_reach", "reach", TRIALS, "aaa"),
        "after_push": saved_result("after_push", "push", TRIALS[1:2], "bbb"),
        "before": saved_result("before", "reach", TRIALS[1:2], "ccc"),
    }
    for label, result in parts.items():
        (tmp_path / f"model_suite_{label}.json").write_text(json.dumps(result))
    ms.main(["--merge", "after_reach,after_push", "--label", "after"])
    merged = json.loads((tmp_path / "model_suite_after.json").read_text())
    assert list(merged["tasks"]) == ["reach", "push"]
    assert merged["settings"]["trials"] == {"reach": 3, "push": 1}
    assert merged["settings"]["git_commit"] == "aaa,bbb"
    assert merged["wall_s"] == 20.0
    text = ms.markdown(ms.saved())
    assert "| `reach` | before | ccc | 0/1 (0%) | - | - | 95% | 1 |" in text
    assert "| `reach` | after | aaa | 2/3 (67%) | 2.5 | 70 s | 93% | 1 |" in text
    assert "| `push` | after | bbb | 0/1 (0%) |" in text and "| `push` | before" not in text


def test_merge_refuses_a_task_in_two_parts(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(ms, "RESULTS", tmp_path)
    for label in ("a", "b"):
        result = saved_result(label, "reach", TRIALS, label)
        (tmp_path / f"model_suite_{label}.json").write_text(json.dumps(result))
    with pytest.raises(SystemExit, match="'reach' is in more than one"):
        ms.main(["--merge", "a,b", "--label", "after"])
