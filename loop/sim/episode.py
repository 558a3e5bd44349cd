"""One episode in a sim worker: reset from the saved state, run the controller, record state."""

from __future__ import annotations

import time

import numpy as np

from loop.sandbox.host import ControllerFailure, ControllerHost
from loop.sim.kinds.base import Kind
from loop.sim.record import MARK_KEYS, EpisodeRecord
from loop.sim.world import World
from loop.task.contract import ActionError, validate_action
from loop.task.describe import describe_action, numbers
from loop.task.spec import TaskSpec


class Recorder:
    """Preallocated arrays, one row per control tick, filled from the simulator's own state.

    Besides what scoring reads, `sample_extras` keeps what a redraw needs and scoring does not:
    the finger joint positions (already read for obs["gripper"]) and the task's target points
    as observed (`marks`: MARK_KEYS the task observes)."""

    def __init__(self, world: World, n: int, marks: tuple[str, ...] = ()) -> None:
        dof = world.info.dof
        self.world, self.n, self.i = world, 0, 0
        self.t = np.zeros(n)
        self.q, self.dq = np.zeros((n, dof)), np.zeros((n, dof))
        self.ee_pos, self.ee_quat = np.zeros((n, 3)), np.zeros((n, 4))
        self.gripper = np.zeros(n)
        self.table_contact = np.zeros(n, bool)
        self.limit_hit = np.zeros((n, dof), bool)
        self.objects = {name: np.zeros((n, 7)) for name in world.tracked}
        self.fingers = np.zeros((n, len(world.fingers)))
        self.marks = {key: np.zeros((n, 3)) for key in marks}

    def sample(self, obs: dict) -> None:
        i, w = self.i, self.world
        self.t[i] = obs["t"]
        self.q[i], self.dq[i] = obs["q"], obs["dq"]
        self.ee_pos[i], self.ee_quat[i] = obs["ee_pos"], obs["ee_quat"]
        self.gripper[i] = obs.get("gripper", 0.0)
        self.table_contact[i] = w.table_contact()
        self.limit_hit[i] = w.limit_hits(obs["q"])
        for name, body in w.tracked.items():
            self.objects[name][i] = w.pose(body)
        self.sample_extras(i, obs)
        self.i += 1

    def sample_extras(self, i: int, obs: dict) -> None:
        self.fingers[i] = self.world.finger_q
        for key, rows in self.marks.items():
            rows[i] = obs[key]

    def record(
        self, seed: int, episode: dict, failure, first_step_at, wall_s, output, end: str
    ) -> EpisodeRecord:
        k = self.i
        return EpisodeRecord(
            seed=seed,
            t=self.t[:k],
            q=self.q[:k],
            dq=self.dq[:k],
            ee_pos=self.ee_pos[:k],
            ee_quat=self.ee_quat[:k],
            gripper=self.gripper[:k],
            table_contact=self.table_contact[:k],
            limit_hit=self.limit_hit[:k],
            objects={n: a[:k] for n, a in self.objects.items()},
            fingers=self.fingers[:k],
            marks={n: a[:k] for n, a in self.marks.items()},
            episode=episode,
            failure=failure,
            first_step_at=first_step_at,
            wall_s=wall_s,
            output=output,
            end_state=end,
        )


def observe(world: World, kind: Kind, t: float) -> dict:
    obs = world.observe(t)
    obs.update(kind.observe(world, t))
    return obs


def run_episode(
    world: World,
    kind: Kind,
    host: ControllerHost,
    task: TaskSpec,
    seed: int,
    realtime: bool = False,
    recorder: type[Recorder] = Recorder,
) -> EpisodeRecord:
    start = time.monotonic()
    world.restore()
    episode = kind.reset(world, np.random.default_rng(seed))
    n, sub, dt = task.n_ticks, task.substeps, task.control_dt
    failure, first_step_at, last = None, None, None
    obs = observe(world, kind, 0.0)
    marks = tuple(k for k in MARK_KEYS if np.shape(obs.get(k)) == (3,))
    rec = recorder(world, n + 1, marks)
    try:
        host.reset(obs)
        for k in range(n):
            rec.sample(obs)
            raw = host.step(obs)
            try:
                action = validate_action(raw, world.info, task.actions)
            except ActionError as exc:
                returned = f"{exc} (at t={obs['t']:.2f} s); step() returned {describe_action(raw)}"
                raise ControllerFailure("bad_action", returned) from None
            world.apply(action, obs["q"])
            last = (obs, raw)
            if first_step_at is None:
                first_step_at = time.monotonic()
            world.step(sub)
            obs = observe(world, kind, (k + 1) * dt)
            if realtime:
                time.sleep(max(0.0, start + (k + 1) * dt - time.monotonic()))
    except ControllerFailure as exc:
        failure = exc.to_dict()
    rec.sample(obs)
    return rec.record(
        seed,
        episode,
        failure,
        first_step_at,
        time.monotonic() - start,
        host.output(),
        end_state(task, last),
    )


def end_state(task: TaskSpec, last: tuple[dict, object] | None) -> str:
    """'at t=2.97 s step() returned {...} for ee_pos [...], target_pos [...]'."""
    if last is None:
        return ""
    obs, action = last
    keys = ["ee_pos"] + [k for k in task.obs_keys if k in obs and k != "ee_pos"]
    seen = ", ".join(f"{k} {numbers(obs[k])}" for k in keys)
    return f"at t={obs['t']:.2f} s step() returned {describe_action(action)} for {seen}"
