"""Code out of a model's reply, and the static checks run before any simulation.

A reply may hold the code in a fenced block (```python ... ```), several blocks, or bare code.
The static check is the first line of defence only: the sandbox's process limits hold when it
is bypassed. Its job is to turn the common mistakes into feedback without spending a sim run.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+-]*)[^\n]*\n(.*?)^[ \t]*```[ \t]*$", re.M | re.S)

#: modules a controller may import (the contract's promise: numpy and the standard maths)
ALLOWED_IMPORTS = frozenset(
    {
        "numpy",
        "math",
        "cmath",
        "typing",
        "dataclasses",
        "collections",
        "functools",
        "itertools",
        "enum",
        "__future__",
        "random",
        "abc",
        "numbers",
        "statistics",
        "copy",
    }
)
#: names no controller needs; each is an escape hatch
FORBIDDEN_NAMES = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "open",
        "__import__",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "breakpoint",
        "input",
        "memoryview",
        "exit",
        "quit",
    }
)
#: attribute names that lead out of numpy or into the interpreter's internals
FORBIDDEN_ATTRS = frozenset(
    {
        "ctypeslib",
        "ctypes",
        "os",
        "sys",
        "subprocess",
        "system",
        "popen",
        "lib",
        "_core",
        "core",
        "f2py",
        "distutils",
        "testing",
        "load",
        "fromfile",
        "tofile",
        "save",
        "savez",
        "memmap",
        "DataSource",
    }
)


@dataclass(frozen=True)
class Extraction:
    """The code taken from a reply, or why there is none."""

    code: str | None
    blocks: int
    note: str = ""
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.code is not None and not self.problems


def code_blocks(text: str) -> list[tuple[str, str]]:
    """All closed fenced blocks as (language, body)."""
    return [(m.group(1).lower(), m.group(2)) for m in FENCE.finditer(text)]


def _defines_controller(code: str) -> bool:
    return re.search(r"^class\s+Controller\b", code, re.M) is not None


def extract_code(reply: str) -> Extraction:
    """Pick the controller out of a reply: the fenced block that defines `Controller`.

    With several such blocks the last one wins (models revise as they go) and the note says so.
    With no fence, the whole reply is taken when it parses and defines `Controller`.
    """
    blocks = code_blocks(reply)
    candidates = [body for lang, body in blocks if lang in ("", "python", "py", "python3")]
    with_ctrl = [body for body in candidates if _defines_controller(body)]
    if with_ctrl:
        note = ""
        if len(with_ctrl) > 1:
            note = f"the reply had {len(with_ctrl)} code blocks defining Controller; used the last"
        return _checked(with_ctrl[-1], len(blocks), note)
    if candidates:
        body = max(candidates, key=len)
        return _checked(body, len(blocks), "no code block defined `class Controller`")
    bare = _strip_unclosed_fence(reply)
    if _defines_controller(bare):
        return _checked(bare, 0, "no fenced block; used the reply as code")
    return Extraction(
        code=None,
        blocks=len(blocks),
        problems=(
            "the reply contained no Python code: answer with one ```python block that "
            "defines `class Controller` with `__init__(self, robot)`, `reset(self, obs)` and "
            "`step(self, obs)`",
        ),
    )


def _strip_unclosed_fence(text: str) -> str:
    """A reply cut off mid-block: drop the opening fence line so the code can still be read."""
    lines = text.strip().splitlines()
    if lines and lines[0].lstrip().startswith("```"):
        lines = lines[1:]
    if lines and lines[-1].strip() == "```":
        lines = lines[:-1]
    return "\n".join(lines) + "\n"


def _checked(code: str, blocks: int, note: str) -> Extraction:
    return Extraction(code=code, blocks=blocks, note=note, problems=tuple(static_check(code)))


def static_check(code: str) -> list[str]:
    """Problems that make running the code pointless or unsafe, each phrased as a fix."""
    try:
        tree = ast.parse(code, filename="controller.py")
    except SyntaxError as exc:
        line = (exc.text or "").rstrip()
        return [f"syntax error at line {exc.lineno}: {exc.msg}: `{line.strip()}`"]
    problems = _contract_problems(tree)
    problems += _import_problems(tree)
    problems += _name_problems(tree)
    return problems


def _contract_problems(tree: ast.Module) -> list[str]:
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Controller"]
    if not classes:
        return ["no top-level `class Controller` is defined: the module must define it"]
    methods = {n.name for n in classes[-1].body if isinstance(n, ast.FunctionDef)}
    missing = [m for m in ("step",) if m not in methods]
    if missing:
        return [f"`Controller` has no `{m}(self, obs)` method" for m in missing]
    return []


def _import_problems(tree: ast.Module) -> list[str]:
    problems = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else ["." * node.level]
        for name in names:
            if name.split(".")[0] not in ALLOWED_IMPORTS or name.startswith("numpy."):
                if name in ("numpy.linalg", "numpy.random"):
                    continue
                problems.append(
                    f"line {node.lineno}: import of `{name}` is not allowed; controllers may "
                    f"import only {', '.join(sorted(ALLOWED_IMPORTS - {'__future__'}))}"
                )
    return problems


def _module_aliases(tree: ast.Module) -> set[str]:
    """Names bound to imported modules (`np` for `import numpy as np`)."""
    aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases |= {a.asname or a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            aliases |= {a.asname or a.name for a in node.names}
    return aliases


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _name_problems(tree: ast.Module) -> list[str]:
    problems = []
    modules = _module_aliases(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            problems.append(f"line {node.lineno}: `{node.id}` is not allowed in a controller")
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("__") and node.attr.endswith("__"):
                if node.attr not in ("__init__", "__class__", "__name__"):
                    problems.append(
                        f"line {node.lineno}: dunder attribute `{node.attr}` is not allowed"
                    )
            elif node.attr in FORBIDDEN_ATTRS and _root_name(node) in modules:
                problems.append(
                    f"line {node.lineno}: `.{node.attr}` of an imported module is not allowed "
                    "in a controller"
                )
    return problems


class FenceWatcher:
    """Fed the stream's deltas; says when a complete controller block has closed.

    Lets the loop stop reading (and the server stop generating) the moment the code is in:
    the prose a model adds after its code block costs time and is never used.
    """

    def __init__(self) -> None:
        self.text = ""
        self._scanned_blocks = 0

    def feed(self, delta: str) -> bool:
        """Add a delta; True once a closed block defines `Controller` with a `step` method."""
        self.text += delta
        if "\n" not in delta and "`" not in delta:
            return False
        blocks = code_blocks(self.text)
        if len(blocks) == self._scanned_blocks:
            return False
        self._scanned_blocks = len(blocks)
        return any(
            _defines_controller(body) and re.search(r"def\s+step\s*\(", body) for _, body in blocks
        )
