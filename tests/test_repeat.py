"""Repeat detection on real replies: normalise_code and the repeat prompt.

The loop skipping simulation for a repeat is covered end to end in tests/test_loop.py.
"""

from __future__ import annotations

from pathlib import Path

from loop.run.extract import extract_code
from loop.run.prompting import Attempt, build_messages
from loop.run.records import normalise_code
from loop.task.catalog import load_task

REPLY = (Path(__file__).parent / "fixtures" / "qwen_reach_reply.md").read_text()  # a real reply


def code_of(reply: str) -> str:
    extraction = extract_code(reply)
    assert extraction.code is not None, extraction.problems
    return extraction.code


def reformatted(code: str) -> str:
    """What a model sends back as 'the same code': other comments, spacing, blank lines."""
    lines = []
    for line in code.splitlines():
        body = line.split("  #")[0].rstrip()
        lines.append(body.replace(" = ", "=").replace(", ", ","))
        if body.strip().startswith("def "):
            lines.append("        # step by step")
    return "\n\n".join(lines) + "\n"


def test_a_reformatted_commented_copy_of_a_real_reply_is_a_repeat() -> None:
    code = code_of(REPLY)
    again = (
        "Here is the corrected controller:\n\n```python\n" + reformatted(code) + "```\n"
        "This version fixes the error.\n"
    )
    copy = code_of(again)
    assert copy != code
    assert normalise_code(copy) == normalise_code(code)


def test_a_changed_constant_is_not_a_repeat() -> None:
    code = code_of(REPLY)
    changed = code.replace("* 3", "* 2", 1)
    assert changed != code
    assert normalise_code(changed) != normalise_code(code)


def test_code_with_a_syntax_error_still_compares_without_comments_and_spacing() -> None:
    broken = "def step(self obs):\n    return {'q': q}  # joints\n"
    assert normalise_code(broken) == normalise_code("def step(self obs):\n  return {'q': q}\n")
    assert normalise_code(broken) != normalise_code(broken.replace("'q'", "'dq'"))


def test_after_a_repeat_the_prompt_starts_afresh_with_the_feedback_but_not_the_code() -> None:
    code = code_of(REPLY)
    history = [
        Attempt(1, REPLY, code, "seeds 0-2 (same failure): exception: IndexError"),
        Attempt(2, REPLY, code, "same as attempt 1", repeat_of=1),
    ]
    messages = build_messages(load_task("reach"), (0, 1, 2), history, repeat_of=1)
    assert [m["role"] for m in messages] == ["system", "user"]  # no assistant turn to copy
    last = messages[-1]["content"]
    assert last.startswith(build_messages(load_task("reach"), (0, 1, 2), [])[-1]["content"])
    assert "repeated attempt 1" in last and "exception: IndexError" in last
    assert code.strip() not in last
    assert last.rstrip().endswith("```python block.")
