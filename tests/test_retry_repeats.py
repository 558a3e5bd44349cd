"""benchmarks.retry_repeats: which trials it retries and how it counts (sampling needs a model)."""

from __future__ import annotations

import json

from benchmarks import retry_repeats as rr


def trial(root, name: str, first_success: bool | None, seeds=(0, 1, 2)) -> None:
    d = root / name
    (d / "iter_001").mkdir(parents=True)
    (d / "iter_001" / "controller.py").write_text("class Controller: ...\n")
    its = [] if first_success is None else [{"index": 1, "success": first_success}]
    summary = {"task": "reach", "seeds": list(seeds), "iterations": its}
    (d / "summary.json").write_text(json.dumps(summary))


def test_only_trials_whose_first_attempt_ran_and_failed_are_retried(tmp_path) -> None:
    trial(tmp_path, "reach-00", False, (0, 1, 2))
    trial(tmp_path, "reach-01", True, (3, 4, 5))
    trial(tmp_path, "reach-02", None, (6, 7, 8))
    cases = rr.failed_first_attempts(tmp_path)
    assert cases == [("reach", tmp_path / "reach-00" / "iter_001", [0, 1, 2])]


def test_tally_counts_outcomes_per_temperature() -> None:
    rows = [
        {"temperature": 0.2, "outcome": "repeat"},
        {"temperature": 0.2, "outcome": "repeat"},
        {"temperature": 0.5, "outcome": "success"},
    ]
    assert rr.tally(rows) == {
        "0.2": {"replies": 2, "repeat": 2},
        "0.5": {"replies": 1, "success": 1},
    }
