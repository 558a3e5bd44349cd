"""Task kinds: the Python behind a family of TOML tasks (reset, observations, scoring).

How to add a kind (a task of an existing kind needs only a TOML file in tasks/):

1. Create loop/sim/kinds/NAME.py with a subclass of `Kind` decorated `@register`
   (modules in this package are imported automatically).
2. Class attributes: `name` (the spec's `kind = ...`); `obs_docs` {key: one-line doc} for
   the task's own observation keys (the prompt shows these docs); `params`, `randomize`,
   `success`: the allowed keys of those spec tables with their defaults (the spec loader
   rejects any other key and merges the file's values over the defaults).
3. Worker side (trusted, has a World): `build(world)` once per worker: add bodies with
   world.add_box / add_marker / load_urdf and `world.track(name, body)` the ones scoring
   needs; `randomize_episode(world, rng)` after each restoreState: place bodies with
   world.set_pose, return the seed's constants as a dict of numpy arrays / floats (stored
   in record.episode); `observe(world, t)` -> the task's obs keys (self.episode holds the
   constants). The base class already randomizes the arm's start pose (`q_noise`).
4. Main-process side (pure, no simulator): `evaluate(record) -> Outcome` from the record
   only (record.ee_pos, record.objects[name], record.episode, ...). Score in [0, 1], 1.0
   only with success; `message` is one line with numbers a model can act on; use
   loop/sim/scoring.py for the shared metrics and the distance timeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from loop.sim.record import EpisodeRecord
    from loop.sim.world import World
    from loop.task.spec import TaskSpec


@dataclass(frozen=True)
class Outcome:
    """What a kind concludes from one episode's record."""

    success: bool
    score: float
    metrics: dict[str, Any] = field(default_factory=dict)
    message: str = ""


class Kind:
    name: ClassVar[str] = ""
    obs_docs: ClassVar[dict[str, str]] = {}
    params: ClassVar[dict[str, Any]] = {}
    randomize: ClassVar[dict[str, Any]] = {}
    success: ClassVar[dict[str, Any]] = {}

    def __init__(self, task: TaskSpec) -> None:
        self.task = task
        self.episode: dict[str, Any] = {}

    # worker side -------------------------------------------------------------------------
    def build(self, world: World) -> None:
        """Add the kind's bodies once per worker (before the saved state is taken)."""

    def reset(self, world: World, rng: np.random.Generator) -> dict[str, Any]:
        """After restoreState: seeded arm start pose, then the kind's own randomization."""
        noise = float(self.task.randomize.get("q_noise", 0.0))
        info = world.info
        q0 = np.clip(
            info.home_q + rng.uniform(-noise, noise, info.dof), info.joint_lower, info.joint_upper
        )
        world.set_q(q0)
        self.episode = self.randomize_episode(world, rng)
        return self.episode

    def randomize_episode(self, world: World, rng: np.random.Generator) -> dict[str, Any]:
        return {}

    def observe(self, world: World, t: float) -> dict[str, Any]:
        """The task's own obs keys (copies: the controller must not alias simulator state)."""
        return {
            k: np.array(self.episode[k], dtype=float)
            for k in self.task.obs_keys
            if k in self.episode
        }

    # main-process side -------------------------------------------------------------------
    def evaluate(self, record: EpisodeRecord) -> Outcome:
        raise NotImplementedError
