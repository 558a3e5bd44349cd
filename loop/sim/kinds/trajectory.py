"""Trajectory kinds: `circle` (track a point moving on a circle), `waypoints` (visit in order)."""

from __future__ import annotations

from typing import Any

import numpy as np

from loop.sim import metrics as m
from loop.sim.kinds.base import Kind, Outcome
from loop.sim.kinds.registry import register


def _uniform(rng: np.random.Generator, r: dict, *keys: str) -> np.ndarray:
    return np.array([rng.uniform(*r[k]) for k in keys])


def circle_point(center: np.ndarray, radius: float, period: float, t) -> np.ndarray:
    """Reference position(s) at time(s) t: counter-clockwise (seen from above), from +x."""
    a = 2 * np.pi * np.asarray(t, dtype=float) / period
    offset = np.stack([np.cos(a), np.sin(a), np.zeros_like(a)], axis=-1) * radius
    return center + offset


@register
class Circle(Kind):
    name = "circle"
    obs_docs = {
        "target_pos": "where the end effector should be now: the point moving on the circle, m",
        "center": "circle centre (3,), m; the circle is horizontal (constant z)",
        "radius": "circle radius, m",
        "period": "time for one lap, s; counter-clockwise seen from above, starting at +x",
    }
    params = {"period_s": 4.0, "settle_s": 1.0}
    randomize = {
        "q_noise": 0.1,
        "center_x": [0.4, 0.5],
        "center_y": [-0.1, 0.1],
        "center_z": [0.25, 0.4],
        "radius": [0.08, 0.12],
    }
    success = {"rms_error": 0.02}

    def build(self, world) -> None:
        self.marker = world.add_marker(0.015, (0.9, 0.1, 0.1, 0.7))

    def randomize_episode(self, world, rng) -> dict[str, Any]:
        r = self.task.randomize
        center = _uniform(rng, r, "center_x", "center_y", "center_z")
        radius = float(rng.uniform(*r["radius"]))
        world.set_pose(self.marker, center)
        return {"center": center, "radius": radius, "period": float(self.task.params["period_s"])}

    def observe(self, world, t: float) -> dict[str, Any]:
        e = self.episode
        obs = {
            "target_pos": circle_point(e["center"], e["radius"], e["period"], t),
            "center": np.array(e["center"]),
            "radius": e["radius"],
            "period": e["period"],
        }
        return {k: obs[k] for k in self.task.obs_keys}

    def evaluate(self, record) -> Outcome:
        e, thr = record.episode, self.task.success["rms_error"]
        settle = self.task.params["settle_s"]
        ref = circle_point(np.asarray(e["center"]), e["radius"], e["period"], record.t)
        err = np.linalg.norm(record.ee_pos - ref, axis=1)
        scored = record.t >= settle - 1e-9
        if not scored.any():
            scored[-1] = True
        rms = float(np.sqrt(np.mean(err[scored] ** 2)))
        radial = np.linalg.norm((record.ee_pos - e["center"])[:, :2], axis=1)
        worst = int(np.argmax(np.where(scored, err, -1)))
        metrics = {
            "path_rms_error": rms,
            "max_error": float(err[worst]),
            "mean_radius": float(radial[scored].mean()),
            "mean_height_error": float(np.mean(record.ee_pos[scored, 2] - e["center"][2])),
            "final_distance": float(err[-1]),
            **m.common(record),
        }
        success = rms <= thr and record.failure is None
        score = 1.0 if success else 0.9 * thr / max(rms, thr)
        msg = (
            f"path RMS error {rms:.3f} m {'<=' if rms <= thr else '>'} {thr} m "
            f"(from t={settle:g} s); "
            f"worst {err[worst]:.3f} m at t={record.t[worst]:.1f} s; traced mean radius "
            f"{metrics['mean_radius']:.3f} m vs {e['radius']:.3f} m, mean height error "
            f"{metrics['mean_height_error']:+.3f} m; error {m.timeline(record.t, err)}"
        )
        msg += late_start(record.t, err, scored, thr, settle) if not success else ""
        notes = m.common_notes(metrics)
        return Outcome(success, score, metrics, msg + (f"; {notes}" if notes else ""))


def late_start(
    t: np.ndarray, err: np.ndarray, scored: np.ndarray, thr: float, settle: float
) -> str:
    """'; so: ...' when the tracking is good but the scored window opens before the arm is on
    the path (the error is worst at its start and under the threshold over its second half)."""
    window = t[scored]
    if len(window) < 4:
        return ""
    half = scored & (t >= window[0] + (window[-1] - window[0]) / 2)
    worst = int(np.argmax(np.where(scored, err, -1)))
    if t[worst] > window[0] + 0.5 or float(np.sqrt(np.mean(err[half] ** 2))) > thr:
        return ""
    return (
        f"; so: tracking is good later (error {err[half].mean():.3f} m over the second half), "
        f"but at t={settle:g} s, when scoring starts, the arm is still {err[worst]:.3f} m off "
        f"the point: be on the moving point before t={settle:g} s"
    )


@register
class Waypoints(Kind):
    name = "waypoints"
    obs_docs = {"waypoints": "points to visit in this order (k, 3), m, fixed for the episode"}
    params = {"count": 4}
    randomize = {
        "q_noise": 0.1,
        "x": [0.3, 0.6],
        "y": [-0.3, 0.3],
        "z": [0.15, 0.45],
        "min_spacing": 0.12,
    }
    success = {"tolerance": 0.03}

    def build(self, world) -> None:
        n = int(self.task.params["count"])
        self.markers = [
            world.add_marker(0.015, (0.1, 0.3 + 0.6 * i / n, 0.9, 0.7)) for i in range(n)
        ]

    def randomize_episode(self, world, rng) -> dict[str, Any]:
        r = self.task.randomize
        points: list[np.ndarray] = []
        prev = world.ee_pose()[0]
        while len(points) < len(self.markers):
            cand = _uniform(rng, r, "x", "y", "z")
            if np.linalg.norm(cand - prev) >= r["min_spacing"]:
                points.append(cand)
                prev = cand
        for marker, pt in zip(self.markers, points, strict=True):
            world.set_pose(marker, pt)
        return {"waypoints": np.array(points)}

    def evaluate(self, record) -> Outcome:
        pts, tol = np.asarray(record.episode["waypoints"]), self.task.success["tolerance"]
        t, idx, times = record.t, 0, []
        for i in range(len(t)):
            if idx < len(pts) and np.linalg.norm(record.ee_pos[i] - pts[idx]) <= tol:
                times.append(float(t[i]))
                idx += 1
        n = len(pts)
        success = idx == n and record.failure is None
        metrics = {
            "waypoints_visited": idx,
            "visit_times": times,
            "time_to_reach": times[-1] if idx == n else None,
            **m.common(record),
        }
        if idx == n:
            metrics["final_distance"] = 0.0
            msg = f"visited all {n} waypoints in order within {tol} m; last at t={times[-1]:.2f} s"
            return Outcome(success, 1.0 if success else 0.9, metrics, msg)
        after = t >= (times[-1] if times else 0.0)
        dist = np.linalg.norm(record.ee_pos - pts[idx], axis=1)
        closest = int(np.argmin(np.where(after, dist, np.inf)))
        metrics["final_distance"] = float(dist[-1])
        metrics["closest_missed"] = float(dist[closest])
        start = float(dist[np.flatnonzero(after)[0]])
        score = 0.9 * (idx + m.shaped(float(dist[closest]), start) / 0.9) / n
        msg = (
            f"visited {idx}/{n} waypoints (tolerance {tol} m, visit times "
            f"{', '.join(f'{x:.2f} s' for x in times) or 'none'}); waypoint {idx} at "
            f"{np.round(pts[idx], 3).tolist()}: closest {dist[closest]:.3f} m "
            f"at t={t[closest]:.1f} s, "
            f"{dist[-1]:.3f} m at the end"
        )
        notes = m.common_notes(metrics)
        return Outcome(False, score, metrics, msg + (f"; {notes}" if notes else ""))
