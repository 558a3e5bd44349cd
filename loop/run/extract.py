"""Code out of a model's reply, and the static check run before any simulation.

A reply may hold the code in a fenced block (```python ... ```), several blocks, or bare code.
The static check only saves a wasted run: it refuses code that certainly cannot run (a syntax
error, no `Controller`, a `Controller` without `step`, an import that fails where the
controller runs) and nothing else. getattr, dunders, numpy's submodules, open, eval, os: all
are left to the sandbox, whose kernel-enforced limits are the guard (docs/sandbox.md).
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field

from loop.sandbox.imports import child_can_import

FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+-]*)[^\n]*\n(.*?)^[ \t]*```[ \t]*$", re.M | re.S)
CONTROLLER = re.compile(r"^(class\s+Controller\b|Controller\s*[:=])", re.M)

#: the standard library's modules the prompt names next to numpy; the check does not limit
#: imports to these, it refuses only those that cannot be imported where the controller runs
PROMPT_IMPORTS = (
    "math",
    "cmath",
    "dataclasses",
    "collections",
    "functools",
    "itertools",
    "typing",
    "enum",
    "abc",
    "numbers",
    "statistics",
    "copy",
)
#: where any of these appears, module code may bind names or reach attributes at run time, so
#: the check cannot tell that `Controller` or `step` is missing and says nothing
DYNAMIC = re.compile(
    r"exec|eval|compile|globals|locals|vars|setattr|getattr|attrgetter|__dict__|__globals__"
    r"|f_globals|modules|import_module|__import__|get_referrers|get_objects|reload|__subclasses__"
)
#: importing these cannot change what later imports find (no import hooks)
INERT_IMPORTS = frozenset(sys.stdlib_module_names) | {"numpy"}


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
    return CONTROLLER.search(code) is not None


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
    """What certainly keeps the code from running, each phrased as a fix; [] if it may run."""
    try:
        tree = ast.parse(code, filename="controller.py")
        compile(tree, "controller.py", "exec", dont_inherit=True)  # the compiler's own errors
    except SyntaxError as exc:
        line = (exc.text or "").strip()
        return [f"syntax error at line {exc.lineno}: {exc.msg}" + (f": `{line}`" if line else "")]
    except ValueError as exc:  # e.g. null bytes: the child's compile() refuses them alike
        return [f"the code cannot be compiled: {exc}"]
    except (RecursionError, MemoryError):  # this process cannot tell; the child decides
        return []
    return _contract_problems(tree, code) + _import_problems(tree)


def _dynamic(tree: ast.Module, code: str) -> bool:
    star = any(
        isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names)
        for n in ast.walk(tree)
    )
    return star or DYNAMIC.search(code) is not None


def _binds(node: ast.AST, name: str) -> bool:
    if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        return node.name == name
    if isinstance(node, ast.Name):
        return node.id == name and not isinstance(node.ctx, ast.Load)
    if isinstance(node, ast.alias):
        return (node.asname or node.name.partition(".")[0]) == name
    if isinstance(node, ast.Global | ast.Nonlocal):
        return name in node.names
    return isinstance(node, ast.arg) and node.arg == name


#: builtins a plain class may use (unless the module rebinds them)
PLAIN_BUILTINS = frozenset({"object", "staticmethod", "classmethod", "property"})


def _literal(node: ast.expr | None) -> bool:
    try:
        node is None or ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _plain_member(node: ast.stmt, properties: set[str]) -> bool:
    """A class-body statement that can add no attribute but its own: a method (decorated at
    most by staticmethod, classmethod, property or that property's setter), a name bound to a
    literal, a docstring, `pass`."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        for deco in node.decorator_list:
            if isinstance(deco, ast.Name) and deco.id in PLAIN_BUILTINS - {"object"}:
                if deco.id == "property":
                    properties.add(node.name)
            elif not (
                isinstance(deco, ast.Attribute)
                and deco.attr in ("setter", "getter", "deleter")
                and isinstance(deco.value, ast.Name)
                and deco.value.id in properties
            ):
                return False
        return node.name != "__init_subclass__"
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return all(isinstance(t, ast.Name) for t in targets) and _literal(node.value)
    return isinstance(node, ast.Pass) or (
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    )


def _plain(cls: ast.ClassDef, classes: dict[str, ast.ClassDef], seen: set[str]) -> bool:
    """Nothing but the class's own body gives it attributes: no decorator or metaclass, only
    plain members, and bases only `object` or plain classes of this module."""
    if cls.decorator_list or cls.keywords or cls.name in seen:
        return False
    seen.add(cls.name)
    properties: set[str] = set()
    if not all(_plain_member(node, properties) for node in cls.body):
        return False
    for base in cls.bases:
        if not isinstance(base, ast.Name):
            return False
        if base.id != "object" and not (
            base.id in classes and _plain(classes[base.id], classes, seen)
        ):
            return False
    return True


def controller_missing(tree: ast.Module, code: str) -> bool:
    """The module certainly binds no `Controller`: the name appears nowhere in it (no class,
    assignment, import or string of that name) and nothing in it binds names dynamically."""
    return not re.search(r"\bController\b", code) and not _dynamic(tree, code)


def _contract_problems(tree: ast.Module, code: str) -> list[str]:
    """No `Controller`, or a `Controller` without `step`, only where nothing could supply them:
    `step` is missing only from a plain class (see `_plain`) that the module never refers to
    again (so no code can add to it), in a module where the word `step` appears nowhere."""
    if controller_missing(tree, code):
        return ["no top-level `class Controller` is defined: the module must define it"]
    if _dynamic(tree, code) or re.search(r"\bstep\b", code):
        return []
    nodes = list(ast.walk(tree))
    if any(_binds(n, name) for n in nodes for name in PLAIN_BUILTINS):
        return []
    named = [n for n in nodes if _binds(n, "Controller") or getattr(n, "id", "") == "Controller"]
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    top = classes.get("Controller")
    if named == [top] and _plain(top, classes, set()):
        return ["`Controller` has no `step(self, obs)` method"]
    return []


def _import_problems(tree: ast.Module) -> list[str]:
    """Imports that certainly fail in the child: only the module's leading imports, which run
    first and unconditionally at load, up to the first that could install an import hook.
    Imports in try blocks, under `if`, in functions or after other code may never run, or
    may find what earlier code made findable; those are left to the load."""
    problems = []
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if not isinstance(node, ast.Import | ast.ImportFrom):
            break
        if isinstance(node, ast.ImportFrom) and node.level:
            problems.append(
                f"line {node.lineno}: `{ast.unparse(node)}` is a relative import, but the "
                "controller is a single module, not part of a package: define what you need "
                "in the module itself"
            )
            continue
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
        tops = [name.partition(".")[0] for name in names if name]
        for top in tops:
            if not child_can_import(top):
                problems.append(
                    f"line {node.lineno}: there is no module `{top}` where the controller "
                    f"runs (`{ast.unparse(node)}` fails there); use numpy and the Python "
                    "standard library"
                )
        if not all(top in INERT_IMPORTS for top in tops):
            break
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
