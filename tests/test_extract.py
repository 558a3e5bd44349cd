"""Code extraction and static checks on the replies models really give."""

import pytest

from loop.run.extract import PROMPT_IMPORTS, FenceWatcher, extract_code, static_check

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


def test_what_the_sandbox_handles_is_left_to_it() -> None:
    """getattr, dunders, numpy's submodules, open, eval, os: the sandbox is the guard; the
    static check refuses only what cannot run."""
    extra = (
        "import os\nimport sys\nimport time\nfrom subprocess import run\nimport numpy.linalg\n"
        "x = np.ctypeslib\ny = ().__class__.__base__.__subclasses__()\nz = eval('1')\n"
        "dt = getattr(object(), 'dt', 1 / 240)\nf = open\nsetattr(np, 'k', 1)\n"
        "w = np.lib.stride_tricks.sliding_window_view\nd = np.__dict__\n"
    )
    assert static_check(GOOD + extra) == []


def test_the_dt_default_of_a_frontier_model_is_fine() -> None:
    code = GOOD.replace("self.robot = robot", 'self.dt = getattr(robot, "dt", 1 / 240)')
    assert static_check(code) == []


def test_an_import_that_cannot_succeed_is_refused_with_a_fix() -> None:
    code = "import numpy as np\nfrom armloop_no_such_pkg.sub import x\n" + GOOD
    problems = static_check(code)
    assert len(problems) == 1
    assert "line 2" in problems[0] and "`armloop_no_such_pkg`" in problems[0]
    assert "numpy" in problems[0] and "standard library" in problems[0]


def test_a_relative_import_is_refused() -> None:
    problems = static_check("from . import helpers\n" + GOOD)
    assert len(problems) == 1 and "relative import" in problems[0]


@pytest.mark.parametrize(
    "code",
    [
        # guarded, conditional or deferred imports may never run
        "try:\n    import armloop_no_such\nexcept ImportError:\n    pass\n" + GOOD,
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import armloop_no_such\n" + GOOD,
        GOOD + "\n\ndef plot():\n    import armloop_no_such\n",
        # earlier module code may change what can be imported
        "import sys\nsys.path.insert(0, 'x')\nimport armloop_no_such\n" + GOOD,
        "import pybullet\nimport armloop_no_such\n" + GOOD,
    ],
    ids=["try", "type_checking", "in_function", "after_code", "after_third_party"],
)
def test_imports_that_may_not_run_at_load_are_left_alone(code: str) -> None:
    assert static_check(code) == []


def test_compile_time_errors_are_syntax_errors_too() -> None:
    problems = static_check(GOOD + "return 1\n")
    assert len(problems) == 1 and "syntax error" in problems[0] and "'return'" in problems[0]


def test_a_controller_bound_by_another_name_is_fine() -> None:
    code = GOOD.replace("class Controller:", "class ReachController:")
    assert static_check(code + "\n\nController = ReachController\n") == []
    assert static_check(code) == [
        "no top-level `class Controller` is defined: the module must define it"
    ]


def test_a_step_inherited_from_a_base_class_is_fine() -> None:
    base = "class Base:\n    def step(self, obs):\n        return {}\n\n\n"
    assert static_check(base + "class Controller(Base):\n    pass\n") == []
    imported = "from tasks.reference.reach import Controller as Base\n\n\n"
    assert static_check(imported + "class Controller(Base):\n    pass\n") == []
    assigned = "def go(self, obs):\n    return {}\n\n\nclass Controller:\n    step = go\n"
    assert static_check(assigned) == []


PLAIN = "class Controller:\n    def reset(self, obs):\n        pass\n\n    def stepp(self, obs):\n"
PLAIN += "        return {}\n"


def test_a_misnamed_step_of_a_plain_class_is_refused() -> None:
    assert static_check(PLAIN) == ["`Controller` has no `step(self, obs)` method"]
    based = "class Base:\n    gain = 0.5\n\n\n" + PLAIN.replace("Controller:", "Controller(Base):")
    assert static_check(based) == ["`Controller` has no `step(self, obs)` method"]
    members = "    gain = 0.5\n\n    @property\n    def k(self):\n        return 1\n\n"
    members += "    @k.setter\n    def k(self, v):\n        pass\n\n    @staticmethod\n"
    members += "    def clip(x):\n        return x\n\n"
    with_members = PLAIN.replace("    def reset", members + "    def reset")
    assert static_check(with_members) == ["`Controller` has no `step(self, obs)` method"]


@pytest.mark.parametrize(
    "code",
    [
        "from functools import total_ordering\n\n\n@total_ordering\n" + PLAIN,
        PLAIN + "\n\nregister(Controller)\n",
        PLAIN.replace("    def reset", "    helper = make_helper()\n\n    def reset"),
        PLAIN.replace("    def reset", "    @some_decorator\n    def reset"),
        "class Base:\n    def __init_subclass__(cls):\n        extend(cls)\n\n\n"
        + PLAIN.replace("Controller:", "Controller(Base):"),
        "import numpy as np\n\n\n" + PLAIN.replace("Controller:", "Controller(np.ndarray):"),
        "from functools import cache as property\n\n\n"
        + PLAIN.replace("    def reset", "    @property\n    def reset"),
    ],
    ids=[
        "decorated",
        "referenced",
        "computed_member",
        "decorated_method",
        "subclass_hook",
        "base",
        "rebound_builtin",
    ],
)
def test_step_may_come_from_elsewhere(code: str) -> None:
    assert static_check(code) == []


def test_own_attributes_named_like_modules_are_fine() -> None:
    code = GOOD.replace("self.robot = robot", "self.load = 0.0\n        self.core = robot")
    assert static_check(code) == []


def test_numpy_submodules_used_by_controllers_are_allowed() -> None:
    code = "import numpy.linalg\nfrom numpy.linalg import norm\nimport numpy.typing\n" + GOOD
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


def test_the_prompt_states_the_rule_the_check_applies() -> None:
    """The prompt names numpy and the standard library, not an allow-list the check enforces;
    every module it names passes the check."""
    from loop.run.prompting import system_message
    from loop.task.catalog import load_task

    text = " ".join(system_message(load_task("reach")).split())
    assert "numpy and the Python standard library" in text
    assert "Import only numpy and the standard maths modules" not in text
    for name in PROMPT_IMPORTS:
        assert name in text
        assert static_check(f"import {name}\n" + GOOD) == []


def test_when_the_child_cannot_be_asked_no_import_is_refused(monkeypatch) -> None:
    from loop.sandbox import imports

    monkeypatch.setattr(imports, "_view", [None])
    imports._probed.cache_clear()
    try:
        assert static_check("import armloop_no_such_module_either\n" + GOOD) == []
    finally:
        imports._probed.cache_clear()
