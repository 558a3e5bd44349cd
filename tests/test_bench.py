"""`armloop bench` on paced scripted servers (real sockets, real simulator), Ray, the model."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from loop import TASKS_DIR
from loop.bench.plan import plan, trial_seeds
from loop.commands.bench import bench_command
from loop.commands.report import report_command
from loop.errors import ArmloopError
from loop.run.rundir import STAGES
from loop.testing.scripted_server import ScriptedServer

REFERENCE = (TASKS_DIR / "reference" / "reach.py").read_text()
WORKING = f"Here is the controller.\n```python\n{REFERENCE}```\nThat is all."
# a reply whose generation dominates the cycle, so simulator jitter stays small beside it
# (numbered steps: one sentence 12 times over is a repetition the stream would cut)
PLAN = " ".join(
    f"Step {i}: move along a straight line to the target, then hold." for i in range(12)
)
PLANNED = f"{PLAN}\n```python\n{REFERENCE}```\nThat is all."
BROKEN = WORKING.replace("def step(self, obs):", "def step(self, obs):\n        1 / 0")


def broken_then_working(request: dict) -> str:
    """Per trial (the server is shared): broken first, working once there is feedback."""
    return WORKING if len(request["messages"]) > 2 else BROKEN


PNGS = ("stages.png", "time_to_success.png", "share_vs_tokens_per_s.png")


def profiles(path: Path, servers: dict[str, ScriptedServer], priced: bool = True) -> Path:
    lines = []
    for name, server in servers.items():
        lines += [
            f"[backends.{name}]",
            'backend = "openai"',
            f'base_url = "{server.url}"',
            f'model = "{name}-model"',
        ]
        if priced:
            lines += ["price_in_per_mtok = 0.5", "price_out_per_mtok = 2.0"]
        lines.append("")
    path.write_text("\n".join(lines))
    return path


@contextmanager
def paced(rates: dict[str, float], replies, delay: float = 0.2) -> Iterator[dict]:
    """One scripted server per name; they differ only in token rate."""
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(
                ScriptedServer(replies, tokens_per_s=rate, first_token_delay=delay)
            )
            for name, rate in rates.items()
        }


def check_outputs(out: Path, backends: list[str], tasks: list[str], trials: int) -> dict:
    data = json.loads((out / "results.json").read_text())
    assert list(data["backends"]) == backends
    for name in backends:
        b = data["backends"][name]
        assert set(b["tasks"]) == set(tasks)
        assert set(b["stage_s_median"]) == set(STAGES)
        assert {"speedup", "cycle_s", "time_to_success_s"} <= set(b["projection"])
        for task in tasks:
            for k in range(1, trials + 1):
                assert (out / "runs" / name / task / f"trial_{k}" / "summary.json").exists()
    rows = list(csv.DictReader((out / "iterations.csv").open()))
    assert {r["backend"] for r in rows} == set(backends)
    assert {"trial", "index", "generate_s", "cycle_s", "tokens_out", "success", "score"} <= set(
        rows[0]
    )
    for name in PNGS:
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert "## Backends" in (out / "report.md").read_text()
    return data


def test_plan_same_seeds_per_trial_for_every_backend(tmp_path: Path) -> None:
    specs = plan(
        ["a", "b"], ["reach", "push"], trials=3, seeds=2, max_iters=4, out=tmp_path, config=None
    )
    assert len(specs) == 12
    assert [s.backend for s in specs[:4]] == ["a", "b", "a", "b"]  # backends alternate
    by_trial = {}
    for s in specs:
        by_trial.setdefault(s.trial, set()).add(s.seeds)
    assert by_trial == {1: {(0, 1)}, 2: {(2, 3)}, 3: {(4, 5)}}
    assert specs[0].out == str(tmp_path.resolve() / "runs" / "a" / "reach" / "trial_1")
    assert trial_seeds(1, 3) == (0, 1, 2)


def test_bad_arguments_fail_before_any_trial(tmp_path: Path) -> None:
    with pytest.raises(ArmloopError, match="no backend or profile named 'nope'"):
        bench_command("nope", "reach", out=tmp_path / "o")
    with pytest.raises(ArmloopError, match="unknown executor"):
        bench_command("openai", "reach", executor="spark", out=tmp_path / "o")
    with pytest.raises(ArmloopError, match="no tasks"):
        bench_command("openai", " , ", out=tmp_path / "o")
    assert not (tmp_path / "o" / "runs").exists()


def test_token_rate_alone_moves_share_and_projection_holds(tmp_path: Path) -> None:
    """40 vs 400 tokens/s, same first-token delay, same replies: a 10x projection of the slow
    one lands within 15% of the fast one's measured cycle."""
    with paced({"slow": 40, "fast": 400}, PLANNED) as servers:
        config = profiles(tmp_path / "armloop.toml", servers)
        out = tmp_path / "bench"
        bench_command(
            "slow,fast",
            "reach",
            trials=2,
            max_iters=2,
            seeds=1,
            speedup=10,
            config=config,
            out=out,
            parallel=1,
        )
    data = check_outputs(out, ["slow", "fast"], ["reach"], trials=2)
    slow, fast = data["backends"]["slow"], data["backends"]["fast"]
    for b in (slow, fast):
        assert b["success_rate"] == 1.0 and b["iterations_to_success_median"] == 1
        assert b["tokens_per_success"] > 0 and b["cost_per_success_usd"] > 0
    assert fast["generation_share"] < slow["generation_share"]
    assert fast["tokens_per_s_median"] == pytest.approx(10 * slow["tokens_per_s_median"], rel=0.2)
    error = slow["projection"]["cycle_s"] / fast["cycle_s_median"] - 1
    assert abs(error) < 0.15, (slow["projection"], fast["cycle_s_median"])
    tts_error = slow["projection"]["time_to_success_s"] / fast["time_to_success_s_median"] - 1
    assert abs(tts_error) < 0.15


def test_broken_then_working_and_rerun_keeps_finished_trials(tmp_path: Path) -> None:
    with paced({"quick": 2000}, broken_then_working, delay=0.0) as servers:
        config = profiles(tmp_path / "armloop.toml", servers, priced=False)
        out = tmp_path / "bench"
        data = bench_command(
            "quick", "reach", trials=1, max_iters=3, seeds=1, config=config, out=out
        )
        calls = len(servers["quick"].tokens_sent)
        again = bench_command(
            "quick", "reach", trials=1, max_iters=3, seeds=1, config=config, out=out
        )
        assert len(servers["quick"].tokens_sent) == calls  # nothing ran again
    b = data["backends"]["quick"]
    assert b["iterations_to_success_median"] == 2 and b["iterations"] == 2
    assert b["cost_per_success_usd"] is None
    assert again["backends"]["quick"]["cycle_s_median"] == pytest.approx(b["cycle_s_median"])
    reported = report_command([out], out=tmp_path / "report", speedup=15.0)
    assert reported["backends"]["quick"] == again["backends"]["quick"]
    summary = json.loads((out / "runs/quick/reach/trial_1/summary.json").read_text())
    assert summary["seeds"] == [0]
    assert summary["bench"] == {
        "backend": "quick",
        "trial": 1,
        "candidates": 1,
        "backend_name": "quick",
    }


def test_dead_backend_is_a_recorded_failure(tmp_path: Path) -> None:
    config = tmp_path / "armloop.toml"
    config.write_text(
        '[backends.dead]\nbackend = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n'
        'model = "x"\nmax_attempts = 1\nconnect_s = 0.5\n'
    )
    data = bench_command(
        "dead", "reach", trials=1, max_iters=3, seeds=1, config=config, out=tmp_path / "bench"
    )
    b = data["backends"]["dead"]
    assert b["success_rate"] == 0.0 and b["time_to_success_s_median"] is None


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="ray is not installed for this Python")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_executor_gives_the_local_results(tmp_path: Path, local_ray) -> None:
    with paced({"fast": 400}, broken_then_working) as servers:
        config = profiles(tmp_path / "armloop.toml", servers)
        results = {}
        for executor in ("local", "ray"):
            results[executor] = bench_command(
                "fast",
                "reach",
                trials=2,
                max_iters=2,
                seeds=1,
                config=config,
                out=tmp_path / executor,
                executor=executor,
            )["backends"]["fast"]
    local, ray = results["local"], results["ray"]
    check_outputs(tmp_path / "ray", ["fast"], ["reach"], trials=2)
    assert local["iterations_to_success_median"] == 2
    for key in (
        "trials",
        "successes",
        "iterations",
        "success_rate",
        "iterations_to_success_median",
        "tokens_per_success",
        "cost_per_success_usd",
    ):
        assert ray[key] == local[key], key
    assert ray["cycle_s_median"] == pytest.approx(local["cycle_s_median"], rel=0.5)


@pytest.mark.model
def test_bench_embedded_model_against_a_paced_server(tmp_path: Path) -> None:
    with paced({"paced": 400}, WORKING) as servers:
        config = profiles(tmp_path / "armloop.toml", servers)
        out = tmp_path / "bench"
        bench_command(
            "local,paced", "reach", trials=1, max_iters=1, seeds=1, config=config, out=out
        )
    data = check_outputs(out, ["local", "paced"], ["reach"], trials=1)
    local = data["backends"]["local"]
    assert local["iterations"] == 1 and local["tokens_per_s_median"] > 0
    assert local["cost_per_success_usd"] in (None, 0.0)
    assert 0 < local["generation_share"] < 1
    assert local["projection"]["cycle_s"] < local["cycle_s_median"]
    assert data["backends"]["paced"]["success_rate"] == 1.0


def test_a_candidates_sweep_compares_widths_and_projects_each(tmp_path: Path) -> None:
    """`--candidates 1,3`: each width an arm with the same seeds, per-candidate rows, the
    speed-or-width answer and its plot."""
    with paced({"paced": 400}, broken_then_working, delay=0.2) as servers:
        config = profiles(tmp_path / "armloop.toml", servers, priced=False)
        out = tmp_path / "bench"
        data = bench_command(
            "paced", "reach", trials=1, max_iters=3, seeds=1, config=config, out=out,
            candidates="1,3",
        )  # fmt: skip
    check_outputs(out, ["paced", "paced-x3"], ["reach"], trials=1)
    seeds = [
        json.loads((out / "runs" / arm / "reach" / "trial_1" / "summary.json").read_text())
        for arm in ("paced", "paced-x3")
    ]
    assert seeds[0]["seeds"] == seeds[1]["seeds"] and seeds[1]["candidates"] == 3
    arms = data["width"]["paced"]["arms"]
    assert set(arms) == {"1", "3"} and arms["3"]["candidates"] == 3
    for arm in arms.values():
        assert 0 < arm["candidate_success_rate"] <= 1
        assert set(arm["projected"]) == {"1", "15"}
    assert "pays more" in data["width"]["paced"]["says"] or data["width"]["paced"]["best"]
    rows = list(csv.DictReader((out / "candidates.csv").open()))
    assert {r["candidate"] for r in rows if r["backend"] == "paced-x3"} == {"1", "2", "3"}
    assert (out / "time_to_success_vs_candidates.png").read_bytes()[:4] == b"\x89PNG"
    assert "## Speed or width" in (out / "report.md").read_text()
