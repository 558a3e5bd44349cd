"""Shared metrics over a record's arrays: contacts, limit hits, distance timelines, stalls."""

from __future__ import annotations

import numpy as np

MARKS = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0)


def rising_edges(flags: np.ndarray) -> int:
    """How many times a boolean series (n,) or (n, k) switches from False to True."""
    f = np.asarray(flags, dtype=bool)
    if f.size == 0:
        return 0
    if f.ndim == 1:
        f = f[:, None]
    prev = np.vstack([np.zeros((1, f.shape[1]), bool), f[:-1]])
    return int(np.sum(f & ~prev))


def time_to_reach(t: np.ndarray, dist: np.ndarray, tol: float) -> float | None:
    idx = np.flatnonzero(dist <= tol)
    return float(t[idx[0]]) if idx.size else None


def timeline(t: np.ndarray, dist: np.ndarray, marks=MARKS) -> str:
    """'0.300 m at t=0 s, 0.210 m at t=0.5 s, ...' at the marks the episode covers."""
    covered = [m for m in marks if len(t) and m <= t[-1] + 1e-9]
    if len(covered) > 2 and float(np.ptp(dist)) < 0.001:
        return f"{dist[0]:.3f} m throughout"
    parts = []
    for m in marks:
        if len(t) and m <= t[-1] + 1e-9:
            i = int(np.argmin(np.abs(t - m)))
            parts.append(f"{dist[i]:.3f} m at t={m:g} s")
    return ", ".join(parts)


def stalled(t: np.ndarray, dist: np.ndarray, band: float = 0.005) -> float | None:
    """Earliest time after which the distance stays within `band` m (None if still moving)."""
    if len(t) < 3:
        return None
    hi = np.maximum.accumulate(dist[::-1])[::-1]
    lo = np.minimum.accumulate(dist[::-1])[::-1]
    idx = np.flatnonzero(hi - lo < band)
    if not idx.size or t[-1] - t[idx[0]] < 0.3:
        return None
    return float(t[idx[0]])


def shaped(final: float, initial: float) -> float:
    """Partial credit in [0, 0.9] for closing the gap; 1.0 is reserved for success."""
    if initial <= 1e-9:
        return 0.0
    return float(0.9 * np.clip(1.0 - final / initial, 0.0, 1.0))


def common(record) -> dict[str, int]:
    return {
        "joint_limit_hits": rising_edges(record.limit_hit),
        "table_collisions": rising_edges(record.table_contact),
    }


def common_notes(metrics: dict) -> str:
    notes = []
    if metrics.get("joint_limit_hits"):
        notes.append(f"hit joint limits {metrics['joint_limit_hits']}x")
    if metrics.get("table_collisions"):
        notes.append(f"touched the table {metrics['table_collisions']}x")
    return "; ".join(notes)
