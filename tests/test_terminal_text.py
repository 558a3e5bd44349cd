"""Text a controller prints or raises reaches terminals without control characters: no screen
clearing, no OSC 52 clipboard writes, no \\r overwrites, no bell, no rich markup; lone
surrogates become U+FFFD. Checked on printable() itself, on what the sandboxed host hands the
trusted side, and on `armloop eval`'s plain output (a real subprocess)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from loop.commands.watch import describe
from loop.sandbox.text import printable
from loop.watch.events import Handled
from tests.sandbox_helpers import REPO, run

HOSTILE = Path(__file__).parent / "hostile"
ESCAPES = HOSTILE / "terminal_escape.py"
ARMLOOP = str(Path(sys.executable).with_name("armloop"))
# C0 but \t and \n, DEL, C1 (as characters, and as UTF-8 bytes), lone surrogates
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")


def test_printable_strips_controls_and_keeps_text() -> None:
    nasty = "a\x1b[2Jb\x1b]52;c;cm0=\x07c\rd\x00e\x7ff\x9b31mg\ud800h"
    assert printable(nasty) == "a[2Jb]52;c;cm0=cdef31mg\ufffdh"
    text = "line 1\n\tline 2: é ü 中 ✓ [bold]"
    assert printable(text) == text
    assert not CONTROL.search(printable("".join(map(chr, range(0x3000)))))


def test_the_host_hands_over_printable_text() -> None:
    out = run(ESCAPES.read_text(), filename="terminal_escape.py", steps=1)
    assert out.kind == "exception", out.text()
    assert "RAISED" in out.failure.message and "PRINTED" in out.output
    for text in (out.failure.message, out.failure.traceback, out.output):
        assert not CONTROL.search(text), repr(text)


def test_armloop_eval_plain_output_has_no_escape_sequences(tmp_path: Path) -> None:
    (tmp_path / "terminal_escape.py").write_text(ESCAPES.read_text())
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200", "TERM": "xterm"}
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "DISPLAY"):
        env.pop(name, None)
    proc = subprocess.run(
        [ARMLOOP, "eval", "reach", "--controller", "terminal_escape.py", "--seeds", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=180,
    )
    both = proc.stdout + proc.stderr
    assert proc.returncode == 1, both.decode(errors="replace")[-3000:]
    text = proc.stdout.decode()
    assert "RAISED" in text and "[/] [bold red]markup[/bold red]" in text, text
    assert not CONTROL_BYTES.search(both), CONTROL_BYTES.findall(both)


def test_watch_lines_are_printable() -> None:
    nasty = "\x1b[2J\x1b]52;c;cm0=\x07x\ry"
    handled = Handled(1, f"ctl{nasty}.py", "controller", "failed", note=nasty, score=0.0)
    assert not CONTROL.search(describe(handled))
    handled = Handled(2, "ctl.py", "controller", "load error", error=nasty)
    assert not CONTROL.search(describe(handled))
    handled = Handled(3, "ctl.py", "controller", "load error", error="[\x1bbold]x")
    assert describe(handled).endswith("\\[bold]x"), "a dropped control char made a tag"
