"""Watch mode with a real watchdog observer on a tmp folder, the real simulator and a paced
scripted model server on real sockets. No timed assertions: waits are for handled saves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loop import TASKS_DIR
from loop.commands.watch import describe
from loop.run.setup import BackendChoice
from loop.testing.scripted_server import ScriptedServer
from loop.watch.files import is_watched
from loop.watch.watcher import Watcher, WatchOptions
from tests.foreground import children, diagnose, popen_foreground, sigint

REFERENCE = (TASKS_DIR / "reference" / "reach.py").read_text()
SPEC = (TASKS_DIR / "reach.toml").read_text()
CONTROLLER_STAGES = ["detect", "load", "simulate", "score", "feedback"]
WAIT_S = 60


def save_by_rename(path: Path, text: str) -> None:
    """Save as many editors do: write a temporary file, then rename it over the target."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def events(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]


def stages(out: Path, save: int) -> list[str]:
    return [e["stage"] for e in events(out) if e["save"] == save]


def wait_until(predicate, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    return tmp_path / "src"


@pytest.mark.parametrize(
    "name, watched",
    [
        ("reach.py", True),
        ("reach.toml", True),
        (".#reach.py", False),
        ("reach.py~", False),
        (".reach.py.swp", False),
        ("4913", False),
        ("reach.py.tmp", False),
        ("notes.txt", False),
        ("#reach.py#", False),
    ],
)
def test_editor_by_products_are_ignored(tmp_path: Path, name: str, watched: bool) -> None:
    assert is_watched(tmp_path / name, tmp_path) is watched
    assert not is_watched(tmp_path / "__pycache__" / "reach.py", tmp_path)


def test_controller_saved_by_rename_is_hot_loaded_and_scored(folder: Path, tmp_path: Path):
    out = tmp_path / "out"
    with Watcher(folder, out, options=WatchOptions(seeds=(0, 1))) as watcher:
        save_by_rename(folder / "reach.py", REFERENCE)
        first = watcher.wait_handled(1, WAIT_S)[0]
        save_by_rename(folder / "reach.py", REFERENCE + "\n# edited\n")
        second = watcher.wait_handled(2, WAIT_S)[1]
    for h in (first, second):
        assert (h.file, h.kind, h.outcome, h.success) == ("reach.py", "controller", "success", True)
        assert h.score is not None and h.score > 0
        assert h.latency_s is not None and h.load_s is not None and h.first_step_s is not None
    assert stages(out, 1) == CONTROLLER_STAGES
    assert stages(out, 2) == CONTROLLER_STAGES
    by_stage = {e["stage"]: e for e in events(out) if e["save"] == 2}
    assert by_stage["score"]["success"] is True and by_stage["score"]["score"] == second.score
    assert all(e["file"] == "reach.py" and e["kind"] == "controller" for e in by_stage.values())
    assert "warm_s" not in by_stage["load"]  # the warm simulator was kept across saves


def test_a_saved_controller_is_recorded_and_with_video_gets_a_clip(folder: Path, tmp_path: Path):
    out = tmp_path / "out"
    with Watcher(folder, out, options=WatchOptions(seeds=(0, 1), video=True)) as watcher:
        save_by_rename(folder / "reach.py", REFERENCE)
        handled = watcher.wait_handled(1, WAIT_S)[0]
    assert handled.outcome == "success"
    saved = out / "saves" / "reach-1"
    assert handled.clip is not None and Path(handled.clip).parent == saved
    assert Path(handled.clip).stat().st_size > 10_000 and (saved / "rollouts.npz").is_file()
    assert stages(out, 1) == [*CONTROLLER_STAGES, "render"]  # after the stages, not in them
    render = next(e for e in events(out) if e["stage"] == "render")
    assert render["ok"] and render["path"] == handled.clip and render["file"] == "reach.py"
    assert "clip " in describe(handled)


def test_repeated_content_runs_once_and_by_products_are_ignored(folder: Path, tmp_path: Path):
    out = tmp_path / "out"
    with Watcher(folder, out, options=WatchOptions(seeds=(0,))) as watcher:
        target = folder / "reach.py"
        target.write_text(REFERENCE)  # an editor writing twice in quick succession
        target.write_text(REFERENCE)
        watcher.wait_handled(1, WAIT_S)
        save_by_rename(target, REFERENCE)  # saved again, unchanged
        for junk in (".#reach.py", "reach.py~", ".reach.py.swp", "4913", "reach.py.tmp"):
            (folder / junk).write_text("junk")
        (folder / "__pycache__").mkdir()
        (folder / "__pycache__" / "reach.py").write_text("junk")
        (folder / "sentinel.py").write_text("x = 1\n")  # handled after everything above
        handled = watcher.wait_handled(2, WAIT_S)
        time.sleep(0.2)
        assert [h.file for h in watcher.handled] == ["reach.py", "sentinel.py"]
        assert handled[0].outcome == "success" and watcher.feed.skipped >= 1


def test_bad_files_are_reported_and_watching_goes_on(folder: Path, tmp_path: Path):
    out = tmp_path / "out"
    with Watcher(folder, out, options=WatchOptions(seeds=(0,))) as watcher:
        saves = [
            ("nosuchtask.py", REFERENCE),
            ("broken.toml", "kind = \n[[["),
            ("reach.py", "def broken(:\n"),
            ("reach.py", REFERENCE),
        ]
        for n, (name, text) in enumerate(saves, 1):
            save_by_rename(folder / name, text)
            watcher.wait_handled(n, WAIT_S)
        unknown, toml, syntax, good = watcher.handled
    assert unknown.outcome == "bad file" and "unknown task" in unknown.error
    assert toml.outcome == "bad file" and "TOML" in toml.error
    assert syntax.outcome == "load error" and "SyntaxError" in syntax.error
    assert good.outcome == "success"
    detect = {e["save"]: e for e in events(out) if e["stage"] == "detect"}
    assert detect[1]["ok"] is False and detect[2]["ok"] is False and detect[3]["ok"] is True
    load = next(e for e in events(out) if e["save"] == 3 and e["stage"] == "load")
    assert load["ok"] is False and "SyntaxError" in load["error"]["message"]


def test_spec_saved_again_during_slow_generation_cancels_the_first(folder: Path, tmp_path):
    out = tmp_path / "out"
    reply = f"Here it is.\n```python\n{REFERENCE}```\n"
    with ScriptedServer(reply, tokens_per_s=25) as srv:
        choice = BackendChoice(name="openai", model="scripted", base_url=srv.url)
        options = WatchOptions(seeds=(0, 1), max_iters=1)
        with Watcher(folder, out, choice, options=options) as watcher:
            save_by_rename(folder / "reach.toml", SPEC)
            wait_until(lambda: srv.tokens_sent and srv.tokens_sent[0] > 0)
            save_by_rename(folder / "reach.toml", SPEC + "\n# latest save wins\n")
            first, second = watcher.wait_handled(2, WAIT_S)
    assert first.outcome == "cancelled" and first.score is None
    assert second.outcome == "success", second
    assert second.success and second.latency_s is not None
    assert (first.run, second.run) == ("runs/reach-1", "runs/reach-2")
    assert srv.disconnected[0]  # the first generation was cut off, not left running
    first_stages, second_stages = stages(out, 1), stages(out, 2)
    assert first_stages[0] == "detect" and "score" not in first_stages
    assert second_stages[0] == "detect" and "score" in second_stages
    score = next(e for e in events(out) if e["save"] == 2 and e["stage"] == "score")
    assert score["success"] is True and score["run"] == "runs/reach-2" and score["kind"] == "spec"
    summary = json.loads((out / "runs/reach-1/summary.json").read_text())
    assert summary["stopped_reason"] == "cancelled"
    assert (out / "runs/reach-2/task.toml").read_text().endswith("# latest save wins\n")


def saved_and_handled(path: Path, out: Path, edit: int) -> bool:
    """Save (a new edit every half second, as the observer may not be scheduled yet) until
    a save has run through to its feedback stage."""
    if any(e["stage"] == "feedback" for e in events(out)):
        return True
    if edit % 25 == 0:
        save_by_rename(path, REFERENCE + f"\n# edit {edit}\n")
    return False


def _gone(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_a_saved_spec_runs_with_several_candidates(folder: Path, tmp_path: Path):
    out = tmp_path / "out"
    with ScriptedServer(f"```python\n{REFERENCE}```\n", tokens_per_s=2000) as srv:
        choice = BackendChoice(name="openai", model="scripted", base_url=srv.url)
        options = WatchOptions(seeds=(0,), max_iters=1, candidates=2)
        with Watcher(folder, out, choice, options=options) as watcher:
            save_by_rename(folder / "reach.toml", SPEC)
            (handled,) = watcher.wait_handled(1, WAIT_S)
    assert handled.outcome == "success", handled
    summary = json.loads((out / handled.run / "summary.json").read_text())
    assert summary["candidates"] == 2 and len(summary["iterations"][0]["candidates"]) == 2
    assert {e.get("candidate") for e in events(out) if e["stage"] == "generate"} == {1, 2}


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_ctrl_c_stops_the_command_and_its_workers(folder: Path, tmp_path: Path):
    out = tmp_path / "out"
    env = {**os.environ, "ARMLOOP_GUI": "0"}
    cmd = [sys.executable, "-c", "from loop.cli import main; main()", "watch", str(folder)]
    proc = popen_foreground(  # SIGINT as at a terminal, whatever pytest inherited
        [*cmd, "--out", str(out), "-n", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(lambda: (out / "events.jsonl").exists())
        edits = iter(range(1000))
        wait_until(lambda: saved_and_handled(folder / "reach.py", out, next(edits)), WAIT_S)
        workers = children(proc.pid)
        assert workers, "the warm simulator runs in child processes"
        assert sigint(proc.pid) == "caught", f"SIGINT cannot stop it:\n{diagnose(proc.pid)}"
        proc.send_signal(signal.SIGINT)
        # bounded by design: lanes 20 s + a held simulator 20 s + the file feed 10 s
        try:
            output, _ = proc.communicate(timeout=2 * WAIT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {2 * WAIT_S} s after SIGINT:\n{diagnose(proc.pid)}")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "reach.py" in output and "stopped" in output
    wait_until(lambda: all(_gone(pid) for pid in workers))
