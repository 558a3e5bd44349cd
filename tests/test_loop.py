"""The loop against a scripted OpenAI-compatible server on real sockets and the real simulator."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from loop import TASKS_DIR
from loop.commands.run import run_command
from loop.report.runs import load_trial
from loop.run.rundir import STAGES, read_events
from loop.run.setup import BackendChoice
from loop.testing.scripted_server import ScriptedServer

REFERENCE = (TASKS_DIR / "reference" / "reach.py").read_text()
BROKEN = REFERENCE.replace(
    '        target = np.asarray(obs["target_pos"])',
    '        target = np.asarray(obs["target_pos"]) / self.zero_division()\n',
).replace(
    "    def reset(self, obs):",
    "    def zero_division(self):\n        return 1 / 0\n\n    def reset(self, obs):",
)


def fenced(
    code: str, before: str = "Here is the controller.\n", after: str = "\nThat is all."
) -> str:
    return f"{before}```python\n{code}```{after}"


def run(server: ScriptedServer, out: Path, max_iters: int, seeds: int = 2, **kw) -> int:
    return run_command(
        "reach",
        choice=BackendChoice(name="openai", model="scripted", base_url=server.url),
        max_iters=max_iters,
        seeds=seeds,
        out=out,
        resume=None,
        **kw,
    )


def completions(server: ScriptedServer) -> list[dict]:
    """The chat requests the server received (GET probes left out)."""
    return [r.json for r in server.requests if r.method == "POST" and r.json]


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def assert_complete(out: Path, iterations: int) -> None:
    assert (out / "config.toml").exists() and (out / "task.toml").exists()
    data = summary(out)
    assert len(data["iterations"]) == iterations
    for it in data["iterations"]:
        folder = out / f"iter_{it['index']:03d}"
        for name in ("prompt.md", "response.md", "result.json"):
            assert (folder / name).exists(), folder / name
        assert set(it["stages"]) == set(STAGES)
        assert it["cycle_s"] == pytest.approx(sum(it["stages"].values()))
    for event in read_events(out / "events.jsonl"):
        assert {"t", "iteration", "stage", "duration_s", "ok"} <= set(event)


def test_broken_then_working_succeeds_on_iteration_2(tmp_path: Path) -> None:
    replies = [fenced(BROKEN), fenced(REFERENCE)]
    with ScriptedServer(replies, tokens_per_s=2000) as server:
        code = run(server, tmp_path / "run", max_iters=3)
        second_request = completions(server)[1]
    assert code == 0
    data = summary(tmp_path / "run")
    assert data["success"] and data["iterations_to_success"] == 2
    assert [it["success"] for it in data["iterations"]] == [False, True]
    assert 0 < data["generation_share"] < 1
    assert data["time_to_success_s"] == pytest.approx(
        sum(it["cycle_s"] for it in data["iterations"])
    )
    assert_complete(tmp_path / "run", 2)
    # the second request carries the first code and its error, with the failing line
    text = "\n".join(m["content"] for m in second_request["messages"])
    assert "return 1 / 0" in text and "ZeroDivisionError" in text
    assert second_request["messages"][-2]["role"] == "assistant"
    events = list(read_events(tmp_path / "run" / "events.jsonl"))
    assert [e["stage"] for e in events if e["iteration"] == 1] == list(STAGES)
    score_events = [e for e in events if e["stage"] == "score"]
    assert [e["success"] for e in score_events] == [False, True]
    generate = next(e for e in events if e["stage"] == "generate")
    assert generate["tokens_out"] > 0 and generate["tokens_per_s"] > 0


def test_stream_is_closed_once_the_code_block_ends(tmp_path: Path) -> None:
    prose = " and now a long explanation of the controller" * 40
    with ScriptedServer([fenced(REFERENCE, after=prose)], tokens_per_s=400) as server:
        run(server, tmp_path / "run", max_iters=1, seeds=1)
        sent, disconnected = server.tokens_sent[0], server.disconnected[0]
    total = len(fenced(REFERENCE, after=prose).split())
    assert disconnected and sent < total - 100
    response = (tmp_path / "run" / "iter_001" / "response.md").read_text()
    assert "long explanation" not in response


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("I cannot help with robots.", "no Python code"),
        (fenced("import armloop_no_such\n" + REFERENCE), "no module `armloop_no_such`"),
        (fenced(REFERENCE.replace("def step", "def stepp")), "no `step(self, obs)` method"),
        (fenced(REFERENCE.replace("return {", "return {{")), "syntax error"),
    ],
    ids=["no-code", "missing-import", "no-step", "syntax-error"],
)
def test_bad_replies_give_feedback_and_the_loop_goes_on(tmp_path: Path, reply, expected) -> None:
    with ScriptedServer([reply, fenced(REFERENCE)], tokens_per_s=4000) as server:
        code = run(server, tmp_path / "run", max_iters=2, seeds=1)
        second = completions(server)[1]["messages"][-1]["content"]
    assert code == 0
    data = summary(tmp_path / "run")
    first = data["iterations"][0]
    assert not first["success"]
    assert first["stages"]["simulate"] == 0.0 and first["stages"]["load"] == 0.0  # no sim spent
    assert expected in second
    result = json.loads((tmp_path / "run" / "iter_001" / "result.json").read_text())
    assert expected in result["feedback"]


def test_two_blocks_and_prose_use_the_controller_block(tmp_path: Path) -> None:
    reply = fenced("def helper():\n    return 1\n") + "\nAnd the controller:\n" + fenced(REFERENCE)
    with ScriptedServer([reply], tokens_per_s=4000) as server:
        code = run(server, tmp_path / "run", max_iters=1, seeds=1)
    assert code == 0
    assert (tmp_path / "run" / "iter_001" / "controller.py").read_text() == REFERENCE


def test_repeated_code_is_not_simulated_again(tmp_path: Path) -> None:
    replies = [fenced(BROKEN), fenced("# same code again\n" + BROKEN), fenced(REFERENCE)]
    with ScriptedServer(replies, tokens_per_s=4000) as server:
        code = run(server, tmp_path / "run", max_iters=3, seeds=1)
        third = completions(server)[2]
    assert code == 0
    data = summary(tmp_path / "run")
    assert data["iterations"][1]["repeat_of"] == 1
    assert data["iterations"][1]["stages"]["simulate"] == 0.0
    assert "repeated attempt 1" in third["messages"][-1]["content"]
    assert third["temperature"] > 0.2 and third.get("seed") is not None


def test_a_server_dying_mid_stream_is_a_recorded_failure(tmp_path: Path) -> None:
    with ScriptedServer([fenced(REFERENCE)], tokens_per_s=4000, cut_after=20) as server:
        code = run(server, tmp_path / "run", max_iters=3, seeds=1)
    assert code == 1
    data = summary(tmp_path / "run")
    assert len(data["iterations"]) == 2  # gives up after two backend failures in a row
    assert all("model backend" in it["error"] for it in data["iterations"])
    assert "model backend failed" in data["stopped_reason"]
    assert_complete(tmp_path / "run", 2)


def test_a_non_ascii_retry_field_does_not_end_the_run(tmp_path: Path) -> None:
    """`retry: ²` once raised ValueError out of the decoder: a traceback, no summary.json."""
    inject = {5: "retry: ²\n\n".encode()}
    with ScriptedServer([fenced(REFERENCE)], tokens_per_s=4000, inject=inject) as server:
        code = run(server, tmp_path / "run", max_iters=1, seeds=1)
    assert code == 0 and summary(tmp_path / "run")["success"]
    assert_complete(tmp_path / "run", 1)


def test_resume_continues_after_the_last_finished_iteration(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with ScriptedServer([fenced(BROKEN), fenced(REFERENCE)], tokens_per_s=4000) as server:
        assert run(server, out, max_iters=1, seeds=1) == 1
        # a torn second iteration: its prompt event was written, then the process died
        with (out / "events.jsonl").open("a") as fh:
            torn = {"t": 0, "iteration": 2, "stage": "prompt", "duration_s": 0.01, "ok": True}
            fh.write(json.dumps(torn) + "\n" + '{"t": 0, "iteration": 2, "sta')
        code = run_command(
            None,
            choice=BackendChoice(),
            max_iters=4,
            seeds=1,
            out=None,
            resume=out,
        )
        resumed_request = completions(server)[-1]
    assert code == 0
    data = summary(out)
    assert [it["index"] for it in data["iterations"]] == [1, 2, 3]
    assert "interrupted" in data["iterations"][1]["error"]
    assert data["success"] and data["iterations_to_success"] == 3
    # the resumed request carries the last finished attempt's code and feedback
    assert "ZeroDivisionError" in resumed_request["messages"][-1]["content"]


def test_wall_time_is_setup_plus_the_cycles_and_a_pipe_gets_plain_lines(tmp_path: Path) -> None:
    """`armloop run` as a user runs it, stdout a pipe: one plain line per iteration, and
    wall_s = setup_s.total + the cycles (nothing measured is left out of the figures)."""
    out = tmp_path / "run"
    replies = [fenced(BROKEN), fenced(REFERENCE)]
    with ScriptedServer(replies, tokens_per_s=200, first_token_delay=0.3) as server:
        proc = subprocess.run(
            [sys.executable, "-m", "loop.cli", "run", "reach", "--backend", "openai",
             "--model", "scripted", "--base-url", server.url, "--seeds", "2",
             "--max-iters", "3", "--out", str(out)],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = summary(out)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("iteration ")]
    assert [x.split(":")[0] for x in lines] == ["iteration 1", "iteration 2"], proc.stdout
    assert "score 1.00 (success)" in lines[1]
    cycles = sum(it["cycle_s"] for it in data["iterations"])
    setup = data["setup_s"]
    assert setup["total"] >= max(setup["backend"], setup["simulator"])
    assert abs(data["wall_s"] - (setup["total"] + cycles)) < 1.0, data


# -- a reply that degenerates into repeating itself -------------------------------------------

TWO_LINES = (
    '        error = np.asarray(obs["target_pos"]) - np.asarray(obs["ee_pos"])\n'
    "        action = self.kp * error\n"
)
DEGENERATE = (
    "Here is the controller.\n```python\n"
    + REFERENCE.split("    def step")[0]
    + "    def step(self, obs):\n"
    + TWO_LINES * 2000
)
PROFILE = """
[backends.rep]
backend = "openai"
base_url = "{url}"
model = "scripted"
temperature = 0.3

[backends.rep.sampling]
top_p = 0.9
top_k = 20
repeat_penalty = 1.1
"""


def run_profile(server: ScriptedServer, tmp_path: Path, out: Path, max_iters: int) -> int:
    config = tmp_path / "armloop.toml"
    config.write_text(PROFILE.format(url=server.url))
    return run_command(
        "reach",
        choice=BackendChoice(name="rep", config=config),
        max_iters=max_iters,
        seeds=1,
        out=out,
        resume=None,
    )


def wait_disconnected(server: ScriptedServer, index: int) -> bool:
    deadline = time.monotonic() + 30
    while not server.disconnected[index] and time.monotonic() < deadline:
        time.sleep(0.01)  # the server notices the hang-up before its next token
    return server.disconnected[index]


def test_a_reply_repeating_itself_is_cut_recorded_and_told_to_the_model(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with ScriptedServer([DEGENERATE, fenced(REFERENCE)], tokens_per_s=4000) as server:
        code = run_profile(server, tmp_path, out, max_iters=3)
        requests = completions(server)
        assert wait_disconnected(server, 0)
    assert code == 0
    data = summary(out)
    assert_complete(out, 2)
    first = data["iterations"][0]
    assert not first["success"] and data["iterations_to_success"] == 2
    # the failure says what repeated and what the cut saved
    assert "repeated itself" in first["error"] and "times in a row" in first["error"]
    assert "tokens not generated" in first["error"] and "s saved at" in first["error"]
    cut = first["repetition"]
    assert cut["block"] == TWO_LINES and cut["max_tokens"] == 1200
    assert first["tokens_out"] == cut["tokens_out"] < 600  # well before max_tokens
    assert cut["tokens_saved"] == 1200 - cut["tokens_out"] and cut["seconds_saved"] > 0
    result = json.loads((out / "iter_001" / "result.json").read_text())
    assert result["repetition"] == cut and "fell into a loop" in result["feedback"]
    events = [e for e in read_events(out / "events.jsonl") if e["iteration"] == 1]
    generate = next(e for e in events if e["stage"] == "generate")
    assert not generate["ok"] and "repeated itself" in generate["error"]
    assert generate["repetition"] == cut
    assert TWO_LINES * 3 in (out / "iter_001" / "response.md").read_text()
    # the next prompt starts afresh and says the reply repeated itself
    second = requests[1]["messages"]
    assert [m["role"] for m in second] == ["system", "user"]
    assert "fell into a loop" in second[-1]["content"]
    assert "times in a row" in second[-1]["content"]
    # the sampling parameters reach the server, and config.toml records what was sent
    for request in requests:
        assert (request["temperature"], request["top_p"], request["top_k"]) == (0.3, 0.9, 20)
        assert request["repeat_penalty"] == 1.1 and request["max_tokens"] == 1200
    config = tomllib.loads((out / "config.toml").read_text())
    sampling = config["backend"]["options"]["sampling"]
    assert sampling == {"temperature": 0.3, "top_p": 0.9, "top_k": 20, "repeat_penalty": 1.1}
    assert config["backend"]["options"]["repetition_cut"] is True
    trial = load_trial(out, 1)  # the report reads it
    assert trial.backend == "rep" and trial.summary["success"]


def test_two_cuts_in_a_row_do_not_stop_the_run_and_resume_reads_them(tmp_path: Path) -> None:
    """A cut reply is the model's failure, not the server's: the run goes on to its last
    iteration, and `--resume` reads the run directory (config.toml with its sampling table)
    back and tells the model again."""
    out = tmp_path / "run"
    with ScriptedServer([DEGENERATE, DEGENERATE, fenced(REFERENCE)], tokens_per_s=4000) as server:
        assert run_profile(server, tmp_path, out, max_iters=2) == 1
        data = summary(out)
        assert "backend failed" not in data["stopped_reason"]
        assert [("repetition" in it) for it in data["iterations"]] == [True, True]
        code = run_command(None, choice=BackendChoice(), max_iters=3, seeds=1, out=None, resume=out)
        resumed = completions(server)[-1]
    assert code == 0
    assert "fell into a loop" in resumed["messages"][-1]["content"]
    assert resumed["top_k"] == 20  # the profile, reopened from the selection
    assert summary(out)["iterations_to_success"] == 3
    assert_complete(out, 3)
