"""`armloop replay` on real recordings: a reference controller's run through the loop (scripted
model server on a real socket, the real simulator and sandbox), rendered with TinyRenderer.

The motion test reads the frames themselves: the segmentation mask of each rendered frame
locates the fingers and the target marker, and those pixel positions are checked against the
camera's projection of the recorded end effector and target (the same matrices) and against
each other: the fingers start far from the target and end on it. The encoded .mp4 is decoded
and compared with the rendered frames."""

from __future__ import annotations

import json
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pybullet as p
import pytest
from typer.testing import CliRunner

from loop import TASKS_DIR
from loop.cli import app
from loop.commands.run import run_command
from loop.errors import ArmloopError
from loop.replay.clip import frames, plan, render_clip
from loop.replay.encode import open_writer
from loop.replay.scene import Scene
from loop.replay.source import choose
from loop.run.rundir import STAGES, read_events
from loop.run.setup import BackendChoice
from loop.sim.evaluator import Evaluator
from loop.sim.rollouts import load_rollouts, save_rollouts
from loop.sim.scoring import score
from loop.task.catalog import load_task
from loop.testing.scripted_server import ScriptedServer

REFERENCE = (TASKS_DIR / "reference" / "reach.py").read_text()
HOSTILE = Path(__file__).parent / "hostile"


def fenced(code: str) -> str:
    return f"Here it is.\n```python\n{code}```\n"


def loop_run(out: Path, replies: list[str], seeds: int = 2, video: bool = False) -> Path:
    with ScriptedServer(replies, tokens_per_s=4000) as server:
        run_command(
            "reach",
            choice=BackendChoice(name="openai", model="scripted", base_url=server.url),
            max_iters=len(replies),
            seeds=seeds,
            out=out,
            resume=None,
            video=video,
        )
    return out


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return loop_run(tmp_path_factory.mktemp("replay") / "run", [fenced(REFERENCE)])


def centroid(mask: np.ndarray) -> np.ndarray | None:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean() + 0.5, ys.mean() + 0.5]) if len(xs) else None


def finger_links(scene: Scene) -> set[int]:
    w = scene.world
    return {
        j
        for j in range(p.getNumJoints(w.robot, physicsClientId=w.client))
        if b"finger" in p.getJointInfo(w.robot, j, physicsClientId=w.client)[12]
    }


def test_the_loop_records_every_seed_in_the_simulate_stage(reference_run: Path) -> None:
    npz = reference_run / "iter_001" / "rollouts.npz"
    rollouts = load_rollouts(npz)
    assert rollouts.task_name == "reach" and rollouts.robot == "panda" and rollouts.seeds == [0, 1]
    assert rollouts.dt == pytest.approx(1 / 30)
    record = rollouts.records[1]
    assert record.steps == 91 and record.fingers.shape == (91, 2) and "target_pos" in record.marks
    # the recording rescores to what the loop scored
    result = json.loads((reference_run / "iter_001" / "result.json").read_text())
    task = load_task(reference_run / "task.toml")
    rescored = score(task, list(rollouts.records.values()))
    assert [s.score for s in rescored.seeds] == [s["score"] for s in result["evaluation"]["seeds"]]
    simulate = next(
        e for e in read_events(reference_run / "events.jsonl") if e["stage"] == "simulate"
    )
    assert simulate["rollouts_bytes"] == npz.stat().st_size
    assert 0 < simulate["rollouts_write_s"] < simulate["duration_s"]


def test_frames_show_the_arm_moving_to_the_target(reference_run: Path, tmp_path: Path) -> None:
    choice = choose(reference_run)  # defaults: the last iteration, its worst seed
    assert choice.iteration == 1 and choice.result.success
    record = choice.record
    target = record.marks["target_pos"][0]
    scene = Scene(choice.task)
    fingers = finger_links(scene)
    marker = scene.markers
    plan_ = plan(choice, scene, 640, 480)
    cam = plan_.camera
    out = tmp_path / "clip.mp4"
    writer = open_writer(out, 640, 480, plan_.fps)
    rendered, seen, projected = [], [], []
    try:
        for tick, frame, rgb in frames(choice, plan_, scene):
            writer.add(rgb)
            rendered.append(rgb)
            body, link = frame.seg & 0xFFFFFF, (frame.seg >> 24) - 1
            hand = centroid((body == scene.world.robot) & np.isin(link, list(fingers)))
            mark = centroid(body == marker["target_pos"][0])
            seen.append((tick, hand, mark))
            projected.append(cam.project(np.array([record.ee_pos[tick], target])))
    finally:
        writer.close()
        scene.close()
    # the camera's projection is where the renderer drew the bodies
    _, hand0, mark0 = seen[0]
    assert mark0 is not None and hand0 is not None
    assert np.linalg.norm(mark0 - projected[0][1]) < 3.0
    assert np.linalg.norm(hand0 - projected[0][0]) < 25.0
    # from the frames: the fingers' pixels start far from the target marker and end on it
    dist = np.array([np.linalg.norm(h - mark0) for _, h, _ in seen if h is not None])
    ee_px = np.array([np.linalg.norm(pr[0] - pr[1]) for pr in projected])
    assert dist[0] > 60 and dist[-1] < 20 and dist[-1] < dist[0] / 4
    assert np.all(np.diff(dist) < 3.0)  # closing in, never moving away on the way
    print(
        f"fingers to target (frame pixels): {dist[0]:.1f} -> {dist[-1]:.1f} px; projected "
        f"end effector to target: {ee_px[0]:.1f} -> {ee_px[-1]:.1f} px; {len(dist)} frames"
    )
    assert ee_px[0] > 60 and ee_px[-1] < 8
    # the trail: drawn over the frame at the projected path (orange pixels near the end point)
    end = projected[-1][0].astype(int)
    patch = rendered[-1][end[1] - 3 : end[1] + 4, end[0] - 3 : end[0] + 4].reshape(-1, 3)
    assert any(r > 200 and 100 < g < 180 and b < 60 for r, g, b in patch)
    # the encoded clip: every frame, close to what was rendered, and the arm moved
    decoded = list(imageio_ffmpeg.read_frames(str(out)))[1:]  # [0] is the metadata
    assert len(decoded) == len(rendered) == len(plan_.ticks)
    first = np.frombuffer(decoded[0], np.uint8).reshape(480, 640, 3).astype(float)
    last = np.frombuffer(decoded[-1], np.uint8).reshape(480, 640, 3).astype(float)
    assert np.abs(first - rendered[0]).mean() < 6 and np.abs(last - rendered[-1]).mean() < 6
    assert np.abs(first - last).mean() > 2


def test_replaying_twice_gives_identical_frames(reference_run: Path, tmp_path: Path) -> None:
    choice = choose(reference_run, seed=0)
    runs = []
    for k in range(2):
        with Scene(choice.task) as scene:
            plan_ = plan(choice, scene, 320, 240)
            runs.append([rgb for _, _, rgb in frames(choice, plan_, scene)])
        render_clip(choice, tmp_path / f"clip{k}.gif", 320, 240)
    assert len(runs[0]) == len(runs[1]) > 90
    assert all(np.array_equal(a, b) for a, b in zip(*runs, strict=True))
    assert (tmp_path / "clip0.gif").read_bytes() == (tmp_path / "clip1.gif").read_bytes()


def test_a_hostile_controller_replays_up_to_its_crash(tmp_path: Path) -> None:
    task = load_task("reach")
    with Evaluator(task, workers=1) as ev:
        assert ev.load((HOSTILE / "crash_midway.py").read_text()).ok
        records = ev.simulate([0])
        assert ev.load((HOSTILE / "segfault.py").read_text()).ok
        at_once = ev.simulate([1])
    save_rollouts(tmp_path / "rollouts.npz", task, records + at_once)
    crashed = choose(tmp_path / "rollouts.npz")  # the worst seed: both score 0, the first
    record = crashed.record
    assert record.failure["kind"] == "crash" and record.t[-1] == pytest.approx(1.0)
    with Scene(task) as scene:
        plan_ = plan(crashed, scene, 320, 240)
        shown = list(frames(crashed, plan_, scene))
    ticks = [tick for tick, _, _ in shown]
    assert max(ticks) == record.steps - 1 and len(set(ticks)) == record.steps  # every tick
    assert len(ticks) == record.steps + 30  # and the end held for a second
    robot = scene.world.robot
    moved = [centroid((f.seg & 0xFFFFFF) == robot) for _, f, _ in (shown[0], shown[-1])]
    assert np.linalg.norm(moved[0] - moved[1]) > 5  # the arm moved before the crash
    result = CliRunner().invoke(
        app, ["replay", str(tmp_path), "--seed", "1", "--out", str(tmp_path / "at_once.webp")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "at_once.webp").stat().st_size > 0  # crashed at its first step


def test_run_video_renders_each_iteration_outside_the_stages(tmp_path: Path) -> None:
    broken = REFERENCE.replace(
        "    def step(self, obs):\n", "    def step(self, obs):\n        x = 1 / 0\n"
    )
    out = loop_run(tmp_path / "run", [fenced(broken), fenced(REFERENCE)], seeds=1, video=True)
    events = list(read_events(out / "events.jsonl"))
    renders = [e for e in events if e["stage"] == "render"]
    assert [e["iteration"] for e in renders] == [1, 2] and all(e["ok"] for e in renders)
    for e in renders:
        assert (
            Path(e["path"]).is_file()
            and Path(e["path"]).parent.name == f"iter_{e['iteration']:03d}"
        )
        # after the iteration's last stage
        last = max(
            x["t"] for x in events if x["iteration"] == e["iteration"] and x["stage"] in STAGES
        )
        assert e["t"] >= last
    summary = json.loads((out / "summary.json").read_text())
    for it in summary["iterations"]:
        assert set(it["stages"]) == set(STAGES)
        assert it["cycle_s"] == pytest.approx(sum(it["stages"].values()))
    assert summary["render_s"] == pytest.approx(sum(e["duration_s"] for e in renders))
    accounted = summary["setup_s"]["total"] + sum(i["cycle_s"] for i in summary["iterations"])
    assert accounted + summary["render_s"] <= summary["wall_s"] + 1e-6
    assert summary["wall_s"] - accounted - summary["render_s"] < 0.5


# -- bad input ---------------------------------------------------------------------------


def error_of(path: Path, **kw) -> ArmloopError:
    with pytest.raises(ArmloopError) as info:
        choose(path, **kw)
    return info.value


def test_a_run_from_before_recordings_says_how_to_record(
    reference_run: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old"
    old.mkdir()
    for name in ("config.toml", "task.toml", "summary.json", "events.jsonl"):
        (old / name).write_bytes((reference_run / name).read_bytes())
    (old / "iter_001").mkdir()
    for name in ("controller.py", "result.json", "prompt.md", "response.md"):
        (old / "iter_001" / name).write_bytes((reference_run / "iter_001" / name).read_bytes())
    err = error_of(old)
    assert "no recorded rollouts" in err.problem
    assert f"--controller {old}/iter_001/controller.py" in err.fix and "--record" in err.fix
    assert "--seeds 2" in err.fix
    cli = CliRunner().invoke(app, ["replay", str(old)])
    assert cli.exit_code == 2 and "no recorded rollouts" in cli.output
    # the fix works: record it, then it replays
    fix = err.fix.split("`")[1].split()[1:]
    assert CliRunner().invoke(app, fix).exit_code == 0
    assert choose(old).iteration == 1


def test_a_missing_iteration_or_seed_is_named(reference_run: Path) -> None:
    err = error_of(reference_run, iteration=7)
    assert "no iteration 7" in err.problem and "(it has 1)" in err.problem and "--iter" in err.fix
    err = error_of(reference_run, seed=5)
    assert "seeds 0, 1, not seed 5" in err.problem and "--seed" in err.fix
    assert (
        "not WIDTHxHEIGHT"
        in CliRunner().invoke(app, ["replay", str(reference_run), "--size", "big"]).output
    )
    odd = CliRunner().invoke(app, ["replay", str(reference_run), "--size", "641x480"])
    assert odd.exit_code == 2 and "even" in odd.output


@pytest.mark.parametrize("damage", ["truncated", "garbage", "key_missing"])
def test_a_damaged_recording_is_named_with_the_command_to_record_it(
    reference_run: Path, tmp_path: Path, damage: str
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    for name in ("config.toml", "task.toml"):
        (run / name).write_bytes((reference_run / name).read_bytes())
    (run / "iter_001").mkdir()
    data = (reference_run / "iter_001" / "rollouts.npz").read_bytes()
    npz = run / "iter_001" / "rollouts.npz"
    if damage == "truncated":
        npz.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        npz.write_bytes(b"not a zip file at all")
    else:
        with np.load(reference_run / "iter_001" / "rollouts.npz") as z:
            kept = {k: z[k] for k in z.files if k != "seed_1/q"}
        np.savez_compressed(npz, **kept)
    err = error_of(run)
    assert str(npz) in err.problem
    assert ("damaged" in err.problem) or ("seed_1/q" in err.problem)
    assert "--record" in err.fix and str(npz) in err.fix
