"""Code extraction and static checks on the replies models really give."""

from loop.run.extract import FenceWatcher, extract_code, static_check

GOOD = """import numpy as np

class Controller:
    def __init__(self, robot):
        self.robot = robot

    def reset(self, obs):
        pass

    def step(self, obs):
        return {"ee_pos": obs["target_pos"]}
"""


def fenced(code: str, lang: str = "python") -> str:
    return f"```{lang}\n{code}```\n"


def test_fenced_block_with_prose_around() -> None:
    reply = "Here is the controller:\n\n" + fenced(GOOD) + "\nIt moves to the target."
    ex = extract_code(reply)
    assert ex.ok and ex.code == GOOD and ex.blocks == 1


def test_bare_code_without_fence() -> None:
    ex = extract_code(GOOD)
    assert ex.ok and "class Controller" in ex.code
    assert "no fenced block" in ex.note


def test_reply_cut_off_inside_its_block_is_still_read() -> None:
    ex = extract_code("```python\n" + GOOD)
    assert ex.ok and ex.code.strip() == GOOD.strip()


def test_no_code_at_all_says_what_to_send() -> None:
    ex = extract_code("I am not sure how to control this robot.")
    assert not ex.ok and ex.code is None
    assert "no Python code" in ex.problems[0] and "class Controller" in ex.problems[0]


def test_two_blocks_takes_the_one_defining_controller() -> None:
    helper = "def clamp(x):\n    return x\n"
    ex = extract_code(fenced(helper) + "and the controller\n" + fenced(GOOD))
    assert ex.ok and ex.code == GOOD and ex.blocks == 2


def test_two_controller_blocks_takes_the_last_and_says_so() -> None:
    first = GOOD.replace("target_pos", "ee_pos")
    ex = extract_code(fenced(first) + "Actually, better:\n" + fenced(GOOD))
    assert ex.code == GOOD and "used the last" in ex.note


def test_block_without_controller_is_reported() -> None:
    ex = extract_code(fenced("x = 1\n"))
    assert not ex.ok
    assert any("no top-level `class Controller`" in p for p in ex.problems)


def test_syntax_error_names_line_and_text() -> None:
    problems = static_check("class Controller:\n    def step(self, obs)\n        return {}\n")
    assert len(problems) == 1
    assert "line 2" in problems[0] and "def step(self, obs)" in problems[0]


def test_missing_step_method() -> None:
    problems = static_check("class Controller:\n    def reset(self, obs):\n        pass\n")
    assert problems == ["`Controller` has no `step(self, obs)` method"]


def test_forbidden_imports_and_escapes() -> None:
    code = GOOD + "import os\nfrom subprocess import run\nx = np.ctypeslib\ny = ().__class__\n"
    code += "z = eval('1')\n"
    problems = " | ".join(static_check(code))
    for needle in ("`os`", "`subprocess`", "`.ctypeslib`", "`eval`"):
        assert needle in problems
    assert "__class__" not in problems  # harmless on its own; the sandbox holds anyway


def test_dunder_chain_is_refused() -> None:
    problems = static_check(GOOD + "s = ().__class__.__base__.__subclasses__()\n")
    assert any("__subclasses__" in p for p in problems)


def test_own_attributes_named_like_modules_are_fine() -> None:
    code = GOOD.replace("self.robot = robot", "self.load = 0.0\n        self.core = robot")
    assert static_check(code) == []


def test_numpy_submodules_used_by_controllers_are_allowed() -> None:
    code = "import numpy.linalg\nfrom numpy.linalg import norm\n" + GOOD
    assert static_check(code) == []


def test_fence_watcher_fires_once_the_controller_block_closes() -> None:
    watcher = FenceWatcher()
    reply = "Sure.\n" + fenced(GOOD) + "This controller works by..."
    fired_at = None
    for i in range(0, len(reply), 7):
        if watcher.feed(reply[i : i + 7]):
            fired_at = i + 7
            break
    closing_fence_end = reply.index("```\nThis") + 3
    assert fired_at is not None
    assert fired_at - 7 < closing_fence_end <= fired_at  # the chunk that closed the block


def test_fence_watcher_waits_past_a_helper_block() -> None:
    watcher = FenceWatcher()
    assert not watcher.feed(fenced("def clamp(x):\n    return x\n"))
    assert watcher.feed(fenced(GOOD))
