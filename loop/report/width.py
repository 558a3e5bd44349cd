"""What a faster model buys: a shorter cycle (speed-up K) or more candidates per iteration
(width N), from measured runs.

Per group of trials at one width N (one bench arm):

- candidate_success_rate p: candidates that succeeded / candidates that got an answer (model
  server failures left out), over every iteration of every trial;
- cycle: the mean iteration wall time, split into the time spent waiting on the model
  (ttft + generate along the critical path) and the rest; at speed-up K the `generate` part
  is K times shorter, every other part as measured;
- the projection: an iteration succeeds with q = 1 - (1 - p)^N; within M iterations a trial
  succeeds with 1 - (1 - q)^M, after E[G | G <= M] iterations on average (G geometric in q),
  so the expected time to success is E[G | G <= M] x cycle(K).

Per backend, the arms' projections side by side answer the question: at K = 1 and K = the
report's speed-up, which width reaches a working controller sooner. `benchmarks/projection.py`
checks the projection against measured runs of paced scripted servers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from statistics import fmean
from typing import Any

from loop.report.stats import Trial, measured_time_to_success, stage

DEFAULT_MAX_ITERS = 5


def candidates_of(it: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """An iteration's candidates (one candidate: the iteration itself)."""
    return list(it.get("candidates") or [it])


def candidate_success_rate(trials: Sequence[Trial]) -> tuple[float | None, int]:
    """(p, candidates that got an answer)."""
    answered = [
        c for t in trials for it in t.iterations for c in candidates_of(it) if not c.get("error")
    ]
    if not answered:
        return None, 0
    return sum(bool(c.get("success")) for c in answered) / len(answered), len(answered)


def expected_iterations(q: float, max_iters: int) -> tuple[float, float]:
    """(E[G | G <= M], P(G <= M)) for G ~ Geometric(q)."""
    if q <= 0:
        return float("inf"), 0.0
    within = 1.0 - (1.0 - q) ** max_iters
    mean = sum(g * q * (1.0 - q) ** (g - 1) for g in range(1, max_iters + 1)) / within
    return mean, within


def cycle_parts(trials: Sequence[Trial]) -> tuple[float | None, float | None]:
    """(mean cycle, mean generate) over every iteration."""
    its = [it for t in trials for it in t.iterations]
    if not its:
        return None, None
    return fmean(float(it["cycle_s"]) for it in its), fmean(stage(it, "generate") for it in its)


def arm_stats(trials: Sequence[Trial], speedups: Iterable[float]) -> dict[str, Any]:
    """The width figures of one arm (one backend at one width)."""
    width = int(trials[0].extra.get("width", 1)) if trials else 1
    max_iters = int(trials[0].extra.get("max_iters") or DEFAULT_MAX_ITERS) if trials else 1
    p, answered = candidate_success_rate(trials)
    cycle, generate = cycle_parts(trials)
    measured = [v for t in trials if (v := measured_time_to_success(t)) is not None]
    out: dict[str, Any] = {
        "candidates": width,
        "max_iters": max_iters,
        "candidates_answered": answered,
        "candidate_success_rate": p,
        "cycle_s_mean": cycle,
        "time_to_success_s_mean": fmean(measured) if measured else None,
        "projected": {},
    }
    if p is None or cycle is None or generate is None:
        return out
    q = 1.0 - (1.0 - p) ** width
    iters, within = expected_iterations(q, max_iters)
    out.update(iteration_success_rate=q, success_within_max_iters=within)
    out["expected_iterations"] = iters if q > 0 else None
    for k in speedups:
        projected_cycle = cycle - generate + generate / k
        tts = iters * projected_cycle if q > 0 else None
        out["projected"][f"{k:g}"] = {"cycle_s": projected_cycle, "time_to_success_s": tts}
    return out


def width_answer(trials: Sequence[Trial], speedup: float) -> dict[str, Any]:
    """Per backend: each measured width's projection at K = 1 and K = speedup, and which of
    the (K, N) pairs reaches success soonest."""
    answer: dict[str, Any] = {}
    names = list(dict.fromkeys(str(t.extra.get("backend_name", t.backend)) for t in trials))
    for name in names:
        mine = [t for t in trials if str(t.extra.get("backend_name", t.backend)) == name]
        widths = sorted({int(t.extra.get("width", 1)) for t in mine})
        arms = {
            str(n): arm_stats([t for t in mine if int(t.extra.get("width", 1)) == n], (1, speedup))
            for n in widths
        }
        answer[name] = {"arms": arms, **_verdict(arms, speedup)}
    return answer


def _verdict(arms: Mapping[str, Mapping[str, Any]], speedup: float) -> dict[str, Any]:
    pairs = [
        (proj["time_to_success_s"], float(k), int(n))
        for n, arm in arms.items()
        for k, proj in arm["projected"].items()
        if proj.get("time_to_success_s") is not None
    ]
    if not pairs:
        return {"best": None, "says": "no candidate succeeded: nothing to project"}
    tts, k, n = min(pairs)
    base = next((t for t, kk, nn in pairs if kk == 1 and nn == 1), None)
    says = f"fastest: {n} candidate(s) at {k:g}x generation, {tts:.1f} s to success"
    if base:
        says += f" ({base / tts:.1f}x sooner than 1 candidate at 1x)"
    faster = next((t for t, kk, nn in pairs if kk == speedup and nn == 1), None)
    wider = min((t for t, kk, nn in pairs if kk == 1 and nn > 1), default=None)
    if faster and wider:
        which = "speed" if faster < wider else "width"
        says += (
            f"; {speedup:g}x speed alone {faster:.1f} s, width alone {wider:.1f} s: "
            f"{which} pays more"
        )
    return {"best": {"candidates": n, "speedup": k, "time_to_success_s": tts}, "says": says}
