"""reach: bring the end effector to a seeded target and hold it there."""

from __future__ import annotations

from typing import Any

import numpy as np

from loop.sim import metrics as m
from loop.sim.kinds.base import Kind, Outcome
from loop.sim.kinds.registry import register


@register
class Reach(Kind):
    name = "reach"
    obs_docs = {"target_pos": "target position for the end effector (3,), m, fixed for the episode"}
    randomize = {
        "q_noise": 0.1,  # rad, uniform noise on each joint of the start pose
        "target_x": [0.3, 0.6],
        "target_y": [-0.3, 0.3],
        "target_z": [0.1, 0.45],
        "min_distance": 0.15,  # m from the start end-effector position
    }
    success = {"tolerance": 0.05, "hold_s": 0.5}

    def build(self, world) -> None:
        self.marker = world.add_marker(0.025, (0.9, 0.1, 0.1, 0.7))

    def randomize_episode(self, world, rng) -> dict[str, Any]:
        r = self.task.randomize
        start, _ = world.ee_pose()
        lo = np.array([r["target_x"][0], r["target_y"][0], r["target_z"][0]])
        hi = np.array([r["target_x"][1], r["target_y"][1], r["target_z"][1]])
        for _ in range(100):
            target = rng.uniform(lo, hi)
            if np.linalg.norm(target - start) >= r["min_distance"]:
                break
        world.set_pose(self.marker, target)
        return {"target_pos": target, "start_pos": start}

    def evaluate(self, record) -> Outcome:
        s = self.task.success
        tol, hold = s["tolerance"], s["hold_s"]
        target = np.asarray(record.episode["target_pos"])
        start = np.asarray(record.episode["start_pos"])
        t, dist = record.t, np.linalg.norm(record.ee_pos - target, axis=1)
        held = t >= t[-1] - hold + 1e-9
        final = float(dist[-1])
        success = bool(np.all(dist[held] <= tol)) and record.failure is None
        axis = (target - start) / max(np.linalg.norm(target - start), 1e-9)
        past = float(max(0.0, np.max((record.ee_pos - target) @ axis)))
        metrics = {
            "final_distance": final,
            "min_distance": float(dist.min()),
            "time_to_reach": m.time_to_reach(t, dist, tol),
            "overshoot": past,
            "max_hold_distance": float(dist[held].max()),
            **m.common(record),
        }
        score = 1.0 if success else m.shaped(final, float(dist[0]))
        return Outcome(success, score, metrics, self._message(record, metrics, dist, tol, hold))

    def _message(self, record, metrics, dist, tol, hold) -> str:
        t = record.t
        if metrics["max_hold_distance"] <= tol:
            head = f"end effector within {tol} m of the target for the last {hold} s"
        else:
            head = (
                f"end-effector error {metrics['max_hold_distance']:.3f} m > {tol} m during the "
                f"last {hold} s (final {metrics['final_distance']:.3f} m)"
            )
        parts = [head, f"distance {m.timeline(t, dist)}"]
        if metrics["overshoot"] > 0.02:
            i = int(np.argmax(dist * (t > (metrics["time_to_reach"] or 0))))
            parts.append(
                f"overshoot {metrics['overshoot']:.3f} m past the target (max at t={t[i]:.1f} s)"
            )
        closing = dist[-1] > tol and dist[-1] < dist[t >= t[-1] - hold - 0.5][0] - 0.005
        ts = None if closing else m.stalled(t, dist)
        if ts is not None and dist[-1] > tol:
            parts.append(f"stalled at {dist[-1]:.3f} m from t={ts:.1f} s")
        parts += self._diagnosis(t, dist, tol, hold, ts, closing)
        notes = m.common_notes(metrics)
        return "; ".join(parts + ([notes] if notes else []))

    @staticmethod
    def _diagnosis(t, dist, tol, hold, stalled_at, closing) -> list[str]:
        """What the timeline means, for a hold that failed: left the target, too slow, or
        stopped short. Read from the distances only, never from the controller's code."""
        if dist[-1] <= tol and np.all(dist[t >= t[-1] - hold + 1e-9] <= tol):
            return []
        inside = np.flatnonzero(dist <= tol)
        if inside.size and dist[-1] > tol:
            return [
                f"so: it was within {tol} m at t={t[inside[0]]:.1f} s, then moved away: keep "
                "commanding the target until the episode ends"
            ]
        if closing:
            return [
                f"so: still closing in when the episode ended, but it must be within {tol} m "
                f"from t={t[-1] - hold:g} s on: move faster, or command the target from the start"
            ]
        if stalled_at is not None:
            return [
                f"so: from t={stalled_at:.1f} s the arm held still {dist[-1]:.3f} m from the "
                "target: the command held from then on is not the target"
            ]
        return []
