"""Build the chat messages of one iteration from the templates in loop/run/prompts/.

Order matters for speed: the system message (contract, rules, worked example) and the task
message never change within a run, so a server's prompt cache covers them; only the last
attempt and its feedback change from one iteration to the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

from loop import TASKS_DIR
from loop.run.extract import PROMPT_IMPORTS

PROMPTS_DIR = Path(__file__).parent / "prompts"


@dataclass(frozen=True)
class Attempt:
    """An earlier iteration as the next prompt sees it."""

    index: int
    reply: str
    code: str | None
    feedback: str
    repeat_of: int | None = None
    others: tuple[str, ...] = ()  # one line on each other candidate of that iteration
    repeated_itself: bool = False  # the reply was cut for repeating itself; feedback says so


@cache
def template(name: str) -> Template:
    return Template((PROMPTS_DIR / f"{name}.md").read_text())


def render(name: str, **values: Any) -> str:
    """Fill a template; a missing value is an error, never a silent `$name` in the prompt."""
    return template(name).substitute({k: str(v) for k, v in values.items()}).strip() + "\n"


def example_task(task: Any) -> Any | None:
    """The worked example: the shortest reference controller of another kind of task."""
    from loop.task.catalog import list_tasks

    best = None
    for other in list_tasks():
        if other.kind == task.kind or other.name == task.name:
            continue
        path = TASKS_DIR / "reference" / f"{other.name}.py"
        if not path.exists():
            continue
        size = path.stat().st_size + (0 if other.robot == task.robot else 10_000)
        if best is None or size < best[0]:
            best = (size, other, path)
    return best


def system_message(task: Any) -> str:
    """The unchanging first message; built once per task spec file."""
    return _system_message(task.name, str(task.path), task)


@cache
def _system_message(name: str, path: str, task: Any) -> str:
    from loop.sandbox.host import Limits
    from loop.task.contract import contract_text
    from robots import robot_info

    example = example_task(task)
    if example is None:
        raise RuntimeError("no reference controller found for the prompt's worked example")
    _, other, path = example
    return render(
        "system",
        contract=contract_text(task).strip(),
        imports=", ".join(PROMPT_IMPORTS),
        dof=robot_info(task.robot, task.control_dt).dof,
        step_limit_s=Limits().step_s,
        example_task=other.name,
        example_description=first_paragraph(other.description),
        example_code=path.read_text().strip(),
        example_keys=", ".join(f'obs["{k}"]' for k in other.obs_keys if k not in task.obs_keys)
        or "none",
    )


def first_paragraph(text: str) -> str:
    return " ".join(text.strip().split("\n\n")[0].split())


def task_message(task: Any, seeds: Sequence[int]) -> str:
    return render(
        "task",
        task_name=task.name,
        robot=task.robot,
        description=task.description.strip(),
        obs_keys=", ".join(task.obs_keys),
        action_modes=", ".join(task.actions),
        control_hz=task.control_hz,
        control_dt=round(task.control_dt, 5),
        episode_s=task.episode_s,
        seeds=len(seeds),
    )


def build_messages(
    task: Any, seeds: Sequence[int], history: Sequence[Attempt], repeat_of: int | None = None
) -> list[dict[str, str]]:
    """System + task, then (after a failure) the last attempt and its feedback.

    After a repeated answer, or a reply cut for repeating itself, the conversation starts
    afresh: the failed reply is left out (a small model copies what it sees) and the task
    message ends with what went wrong."""
    messages = [
        {"role": "system", "content": system_message(task)},
        {"role": "user", "content": task_message(task, seeds)},
    ]
    if not history:
        return messages
    if repeat_of:
        original = next((a for a in history if a.index == repeat_of), history[-1])
        note = render("repeat", same_as=repeat_of, feedback=original.feedback.strip())
        messages[-1]["content"] += "\n" + note
        return messages
    last = history[-1]
    if last.repeated_itself:
        messages[-1]["content"] += "\n" + last.feedback.strip() + "\n"
        return messages
    answer = (
        f"```python\n{last.code.rstrip()}\n```" if last.code else last.reply.strip() or "(empty)"
    )
    feedback = last.feedback.strip() or "(none)"
    if last.others:
        lines = "\n".join(f"- {line}" for line in last.others)
        feedback += f"\n\nThe other answers to attempt {last.index} failed too:\n{lines}"
    follow_up = render("retry", attempt=last.index, feedback=feedback)
    messages += [
        {"role": "assistant", "content": answer},
        {"role": "user", "content": follow_up},
    ]
    return messages


def render_transcript(messages: Sequence[dict[str, str]]) -> str:
    """prompt.md: the request as a person reads it."""
    parts = [f"## {m['role']}\n\n{m['content'].strip()}\n" for m in messages]
    return "\n".join(parts)
