"""Feedback text for the model: what failed, where in its own code, and the numbers.

Compact by design (a small model with a 4k context reads it): seeds that failed the same
way are reported once ("seeds 0-2: ..."), an exception shows the failing line of the
controller's code with a few lines around it, a bad action shows what step() returned next
to what the task accepts, and a behavioural failure keeps the kind's numbers over time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from loop.feedback.action import accepted_actions, returned_sizes, size_hints, step_returns
from loop.feedback.code import failing_code
from loop.feedback.hints import exception_hints, randomness_notes
from loop.sim.scoring import Evaluation, SeedResult
from loop.task.spec import TaskSpec

MAX_GROUPS = 2  # distinct controller failures shown
MAX_BEHAVIOUR = 3  # failing seeds shown one line each
MAX_CHARS = 2400  # ~700 tokens: the prompt + a reply must fit a 4k context
AT_T = re.compile(r" at t=([\d.]+) s; (.*)$", re.S)
RETURNED = "; step() returned "


def seed_list(seeds: Sequence[int]) -> str:
    """'seed 0', 'seeds 0-2', 'seeds 0, 2, 5'."""
    seeds = sorted(seeds)
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    if seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"seeds {seeds[0]}-{seeds[-1]}"
    return "seeds " + ", ".join(map(str, seeds))


def _key(s: SeedResult) -> tuple[str, str, str]:
    failure = s.failure or {}
    message = failure.get("message", "").split(RETURNED)[0]
    message = re.sub(r"\d+(\.\d+)?", "#", message)
    return failure.get("kind", ""), message, failure.get("traceback", "")


def group_failures(seeds: Sequence[SeedResult]) -> list[list[SeedResult]]:
    """Seeds whose controller failed, grouped by the same failure (numbers ignored)."""
    groups: dict[tuple[str, str, str], list[SeedResult]] = {}
    for s in seeds:
        if s.failure:
            groups.setdefault(_key(s), []).append(s)
    return list(groups.values())


def failure_block(task: TaskSpec, group: list[SeedResult], code: str | None) -> list[str]:
    first = group[0]
    failure = first.failure or {}
    kind = failure.get("kind", "failure").replace("_", " ")
    message, _, returned = failure.get("message", "").partition(RETURNED)
    found = AT_T.search(first.message)
    when = f" at t={found.group(1)} s" if found and "(at t=" not in message else ""
    same = " (same failure)" if len(group) > 1 else ""
    lines = [f"{seed_list([s.seed for s in group])}{same}: {kind}{when}: {message.strip()}"]
    if failure.get("traceback"):
        lines.append(failing_code(failure["traceback"], code))
        lines += exception_hints(task, message, failure["traceback"])
    if failure.get("kind") == "bad_action":
        lines += bad_action_lines(task, returned, code, message)
    if found and float(found.group(1)) >= 1.0:
        lines.append(f"  before it failed: {found.group(2)}")
    return lines


def bad_action_lines(
    task: TaskSpec, returned: str, code: str | None, message: str = ""
) -> list[str]:
    """What step() returned, what the task accepts, a fix for a size mix-up, and the code's
    return lines, the ones that return the offending keys marked >>."""
    lines = []
    if returned:
        lines.append(f"  step() returned: {returned.strip()}")
    lines.append(f"  this task accepts exactly one of: {accepted_actions(task)}")
    sizes = returned_sizes(returned)
    lines += [f"  fix: {hint}" for hint in size_hints(task, sizes)]
    returns = step_returns(code)
    said = returned + " " + message
    empty = any(x in said for x in ("an empty dict", "a NoneType", "got NoneType"))
    marked = [
        (n, src)
        for n, src in returns
        if any(_mentions(src, k) for k in sizes) or (empty and _returns_empty(src))
    ]
    shown = (marked + [r for r in returns if r not in marked])[:4]
    for n, source in sorted(shown):
        mark = ">>" if (n, source) in marked else "  "
        lines.append(f"{mark} your step() returns at line {n}: {source}")
    return lines


def _returns_empty(source: str) -> bool:
    """`return {}`, `return dict()`, a bare `return` or `return None`."""
    return (
        re.fullmatch(r"return(\s*(\{\s*\}|dict\(\s*\)|None))?", source.split("#")[0].strip())
        is not None
    )


def _mentions(source: str, key: str) -> bool:
    return f'"{key}"' in source or f"'{key}'" in source


def behaviour_lines(seeds: Sequence[SeedResult]) -> list[str]:
    """Failing seeds with the kind's numbers: one full line per pattern, the rest in short."""
    groups: dict[str, list[SeedResult]] = {}
    for s in seeds:
        groups.setdefault(re.sub(r"[-+]?\d+(\.\d+)?", "#", s.message), []).append(s)
    lines, shown = [], 0
    for group in groups.values():
        first, rest = group[0], group[1:]
        if shown < MAX_BEHAVIOUR:
            shown += 1
            lines.append(f"seed {first.seed}: {first.message}")
            if first.end_state:
                lines.append(f"  {first.end_state}")
        else:
            rest = group
        if rest:
            heads = "; ".join(_headline(s.message) for s in rest)
            lines.append(f"{seed_list([s.seed for s in rest])}: same pattern ({heads})")
    return lines


def _headline(message: str) -> str:
    """'cube ended 0.133 m' from a kind's message: its words up to the first distance."""
    found = re.match(r"[^;]*?\d+\.\d+ m\b", message)
    return found.group(0) if found else message.split(";")[0]


def feedback(task: TaskSpec, evaluation: Evaluation, code: str | None = None) -> str:
    ev = evaluation
    n, ok = len(ev.seeds), sum(s.success for s in ev.seeds)
    lines = [f"{task.name}: {ok}/{n} seeds succeeded, mean score {ev.score:.2f}."]
    groups = group_failures(ev.seeds)
    for group in groups[:MAX_GROUPS]:
        lines += failure_block(task, group, code)
    for group in groups[MAX_GROUPS:]:
        lines.append(f"{seed_list([s.seed for s in group])}: {group[0].message}")
    lines += behaviour_lines([s for s in ev.seeds if not s.success and not s.failure])
    if ev.success:
        lines.append("All seeds succeeded.")
    else:
        lines += randomness_notes(code)
    return clip("\n".join(lines))


def clip(text: str, limit: int = MAX_CHARS) -> str:
    """Cut at a line boundary so the feedback never crowds out the model's reply."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    return text[: cut if cut > 0 else limit] + "\n[feedback cut to fit the context]"


def load_feedback(error: dict[str, str] | None, code: str | None = None) -> str:
    """The module failed to load (import error, no Controller class, ...)."""
    error = error or {}
    lines = [f"The controller module failed to load: {error.get('message', 'unknown error')}"]
    if error.get("traceback"):
        lines.append(failing_code(error["traceback"], code))
    return "\n".join(lines)
