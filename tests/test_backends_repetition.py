"""The repetition cut: the detector on degenerate and on real text, and a stream through the
scripted server on loopback cut well before max_tokens (openai and anthropic)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from loop import ROOT, TASKS_DIR
from loop.backends import BackendConfig, BackendError, ChatRequest, make_backend
from loop.backends.repetition import (
    CHECK_EVERY,
    MIN_CHARS,
    MIN_REPEATS,
    Repetition,
    RepetitionCut,
    RepetitionDetector,
)
from loop.testing.scripted_server import ScriptedServer

REFERENCE = (TASKS_DIR / "reference" / "reach.py").read_text()
HEAD = REFERENCE.split("    def step")[0] + "    def step(self, obs):\n"
TWO_LINES = (
    '        error = np.asarray(obs["target_pos"]) - np.asarray(obs["ee_pos"])\n'
    "        action = self.kp * error\n"
)
DEGENERATE = "Here is the controller.\n```python\n" + HEAD + TWO_LINES * 400

CONTROLLERS = sorted((ROOT / "tests" / "valid").glob("*.py")) + sorted(
    (TASKS_DIR / "reference").glob("*.py")
)
PROSE = sorted(ROOT.glob("*.md")) + sorted((ROOT / "docs").glob("*.md"))
PROSE += sorted((ROOT / "loop" / "run" / "prompts").glob("*.md"))


def feed(text: str, chunk: int, detector: RepetitionDetector | None = None):
    """(repetition, characters fed when it fired), or (None, len(text))."""
    detector = detector or RepetitionDetector()
    for start in range(0, len(text), chunk):
        found = detector.feed(text[start : start + chunk])
        if found is not None:
            return found, start + len(text[start : start + chunk])
    return None, len(text)


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 10_000], ids=lambda c: f"chunk{c}")
def test_two_lines_repeated_are_cut_soon_after_they_start(chunk):
    found, at = feed(DEGENERATE, chunk)
    assert found is not None
    # the shortest block, quoted from a line start (the first line, unless one huge delta
    # hid where the repetition began)
    assert len(found.block) == len(TWO_LINES) and found.block in TWO_LINES * 2
    assert found.block.endswith("\n")
    onset = DEGENERATE.index(TWO_LINES)
    if chunk < 100:  # fed as a stream: cut as soon as the threshold is passed
        assert found.block == TWO_LINES
        threshold = max(MIN_CHARS, MIN_REPEATS * len(TWO_LINES))
        assert at - onset <= threshold + CHECK_EVERY + chunk
        assert MIN_REPEATS <= found.repeats <= MIN_REPEATS + 1
    assert found.chars >= MIN_CHARS and found.repeats * len(TWO_LINES) <= found.chars
    assert found.quote() == repr(found.block)  # printable: escapes shown


def test_a_quote_is_printable_and_short():
    assert Repetition("\x1b[2J\n", 9, 54).quote() == "'\\x1b[2J\\n'"
    assert Repetition("y" * 300, 6, 1800).quote() == repr("y" * 120) + "..."


@pytest.mark.parametrize(
    "text, block",
    [
        ("x = [" + "0.0, " * 2000, "0.0, "),  # a list of zeros that never ends
        ("def f():\n" + "\n" * 2000, "\n"),
        ("print('" + "ha" * 2000, "ha"),
        ("class A:\n" + "        pass\n" * 500, "        pass\n"),
        ("s = 1.0" + "0" * 2000, "0"),
    ],
    ids=["zeros", "newlines", "ha", "pass", "digits"],
)
def test_short_blocks_are_seen_through_their_multiples(text, block):
    for chunk in (1, 5):
        found, at = feed(text, chunk)
        assert found is not None and found.block == block
        assert at < len(text) // 2


def test_the_tail_kept_is_bounded_however_long_the_reply():
    detector = RepetitionDetector()
    text = " ".join(f"w{i}" for i in range(100_000))  # never repeats
    longest = 0
    for start in range(0, len(text), 5):
        assert detector.feed(text[start : start + 5]) is None
        longest = max(longest, detector.held)
    assert detector.chars == len(text)
    assert longest <= 2 * detector.keep < 10_000


@pytest.mark.parametrize("path", CONTROLLERS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_never_fires_on_real_controllers(path: Path):
    text = path.read_text()
    reply = f"Here is the controller.\n```python\n{text}```\nIt moves to the target.\n"
    for chunk in (1, 4, 17):
        assert feed(reply, chunk)[0] is None


@pytest.mark.parametrize("path", PROSE, ids=lambda p: p.name)
def test_never_fires_on_prose(path: Path):
    for chunk in (3, 50):
        assert feed(path.read_text(), chunk)[0] is None


def test_never_fires_on_code_that_looks_repetitive():
    zeros = "        self.q = [" + ", ".join(["0.0"] * 60) + "]\n"  # 60 joints' worth
    stubs = "".join(f"\nclass Phase{i}:\n    pass\n\n" for i in range(12))
    similar = "".join(
        f"        self.kp[{i}] = np.clip(self.kp[{i}] * 1.0, 0.0, 10.0)\n" for i in range(7)
    )
    blanks = "\n\n\n" + "    \n" * 4
    rows = "".join("    [0.0, 0.0, 0.0],\n" for _ in range(12))
    text = HEAD + zeros + similar + blanks + "TABLE = [\n" + rows + "]\n" + stubs
    for chunk in (1, 9):
        assert feed(text, chunk)[0] is None


# -- a stream through the scripted server ---------------------------------------------------


def backend(kind: str, srv: ScriptedServer, **changes):
    url = srv.url if kind == "openai" else srv.root
    config = BackendConfig(name="t", kind=kind, base_url=url, model="m")
    return make_backend(replace(config, **changes))


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_a_degenerate_stream_is_cut_and_says_what_it_saved(kind):
    reply = HEAD + TWO_LINES * 2000
    received = []
    request = ChatRequest([{"role": "user", "content": "write code"}], max_tokens=4000)
    with ScriptedServer(reply, tokens_per_s=1000) as srv, backend(kind, srv) as b:
        with pytest.raises(RepetitionCut) as caught:
            with b.stream(request) as s:
                for delta in s:
                    received.append(delta)
        assert isinstance(caught.value, BackendError)
        deadline = time.monotonic() + 30
        while not srv.disconnected[0] and time.monotonic() < deadline:
            time.sleep(0.01)  # the server notices the hang-up before its next token
        assert srv.disconnected[0] and srv.tokens_sent[0] < 4000
    cut = caught.value
    assert s.stopped_early and s.tokens_out == cut.tokens_out < 600  # far short of 4000
    assert cut.max_tokens == 4000 and cut.tokens_saved == 4000 - cut.tokens_out
    assert cut.tokens_per_s and cut.seconds_saved == pytest.approx(
        cut.tokens_saved / cut.tokens_per_s
    )
    assert cut.repetition.block == TWO_LINES
    assert "".join(received).startswith(HEAD)
    problem = cut.problem
    assert "repeated itself" in problem and f"{cut.repetition.repeats} times in a row" in problem
    assert f"{cut.tokens_saved} tokens not generated" in problem and "s saved at" in problem
    assert "error = np.asarray" in problem
    assert "repeat_penalty" in cut.fix and "another backend" in cut.fix
    assert cut.details()["tokens_saved"] == cut.tokens_saved


def test_switched_off_a_degenerate_stream_runs_to_max_tokens():
    reply = HEAD + TWO_LINES * 200
    with ScriptedServer(reply) as srv, backend("openai", srv, repetition_cut=False) as b:
        with b.stream(ChatRequest([{"role": "user", "content": "go"}], max_tokens=500)) as s:
            text = "".join(s)
    assert s.finish_reason == "length" and s.tokens_out == 500 and s.completed
    assert text.count(TWO_LINES) > 20


def test_a_normal_reply_streams_whole():
    reply = f"Here is the controller.\n```python\n{REFERENCE}```\n"
    with ScriptedServer(reply) as srv, backend("openai", srv) as b:
        with b.stream(ChatRequest([{"role": "user", "content": "go"}])) as s:
            assert "".join(s) == reply
    assert s.completed and not s.stopped_early
