"""Cutting a reply that has degenerated into repeating itself, instead of paying for it to
the token cap.

A small model sampled without a repeat penalty can fall into a loop and write the same line
or two until max_tokens (the embedded model on llama.cpp's server: 1,200 tokens, 324 s for
nothing). Every Stream feeds its text deltas to a RepetitionDetector as they arrive; when it
fires, the stream is closed (the server stops generating) and RepetitionCut, a BackendError,
says what repeated and what the cut saved.

The rule: the tail of the reply is one block of B characters repeated back to back, over at
least max(MIN_CHARS, MIN_REPEATS * B) characters, for some MIN_BLOCK <= B <= MAX_BLOCK (a
shorter block, such as `0.0, `, is seen through its multiples; the report names the shortest
one). Why these numbers: over every Python, Markdown and TOML file of this repository (the
reference controllers, tests/valid/ and the prompts among them) the longest stretch that
repeats a block back to back is 129 characters with at least two copies (two rows of a test
table) and 86 with at least six (a `# ----` rule), while a literal list of 64 zeros,
`[0.0, 0.0, ...]`, is 320 characters. MIN_CHARS = 320 stays above all of them; a degenerate
two-line loop of ~60 characters is cut after about 360 characters of it, about 100 tokens,
where the cap would have let it run on for a thousand. MIN_REPEATS = 6 keeps a long block
(a repeated function, say) from being cut before it has plainly become a loop.

Cost: the detector keeps only the last few thousand characters and looks once every
CHECK_EVERY characters, at most MAX_BLOCK candidate block lengths (found with str.rfind of
the last MIN_BLOCK characters) each checked with slice comparisons of bounded length, so the
work per delta is bounded and a whole reply costs time linear in its length.
"""

from __future__ import annotations

from dataclasses import dataclass

from loop.errors import BackendError

MIN_BLOCK = 8  # characters; a shorter block is caught through its multiples
MAX_BLOCK = 320  # a few lines of code
MIN_REPEATS = 6
MIN_CHARS = 320  # characters of repetition before a cut
CHECK_EVERY = 16  # characters between two looks at the tail
_PROBE = 64  # characters compared first, before the whole stretch


@dataclass(frozen=True)
class Repetition:
    """What repeated: `block` (its shortest form, from a line start when it holds one),
    `repeats` whole copies back to back at the end of the reply, over `chars` characters."""

    block: str
    repeats: int
    chars: int

    def quote(self, limit: int = 120) -> str:
        """The block as a short printable quote (escapes shown, long blocks shortened)."""
        if len(self.block) <= limit:
            return repr(self.block)
        return repr(self.block[:limit]) + "..."


class RepetitionDetector:
    """Fed the text deltas of one reply; `feed` returns the Repetition once it has one."""

    def __init__(
        self,
        *,
        min_block: int = MIN_BLOCK,
        max_block: int = MAX_BLOCK,
        min_repeats: int = MIN_REPEATS,
        min_chars: int = MIN_CHARS,
        check_every: int = CHECK_EVERY,
    ) -> None:
        self.min_block, self.max_block = min_block, max_block
        self.min_repeats, self.min_chars = min_repeats, min_chars
        self.check_every = check_every
        self._shortest = max(min_chars, min_repeats * min_block)  # tail needed to fire at all
        longest = max(min_chars, min_repeats * max_block)
        # the tail any check reads; at most 2 * keep characters are held
        self.keep = longest + max_block + check_every
        self._tail = ""
        self._unchecked = 0
        self.chars = 0  # characters fed in all
        self.found: Repetition | None = None

    def feed(self, delta: str) -> Repetition | None:
        if self.found is not None:
            return self.found
        self._tail += delta
        self.chars += len(delta)
        self._unchecked += len(delta)
        if len(self._tail) > 2 * self.keep:
            self._tail = self._tail[-self.keep :]
        if self._unchecked < self.check_every:
            return None
        self._unchecked = 0
        self.found = self._check(self._tail)
        return self.found

    def _check(self, s: str) -> Repetition | None:
        n, k = len(s), self.min_block
        if n < self._shortest:
            return None
        key = s[n - k :]
        low = max(0, n - self.max_block - k)
        high = n - self.min_block  # an earlier copy of the key ends here or before
        while True:
            pos = s.rfind(key, low, high)
            if pos < 0:
                return None
            period = n - (pos + k)  # increasing from one candidate to the next
            high = pos + k - 1
            need = max(self.min_chars, self.min_repeats * period)
            if need > n:
                return None
            probe = min(need - period, _PROBE)
            if s[n - probe :] != s[n - probe - period : n - period]:
                continue
            if s[n - need + period :] == s[n - need : n - period]:
                return _describe(s, period, n - need, whole=self.chars == n)

    @property
    def held(self) -> int:
        """Characters held now (at most 2 * keep)."""
        return len(self._tail)

    def __repr__(self) -> str:
        return f"RepetitionDetector(chars={self.chars}, found={self.found!r})"


def _describe(s: str, period: int, start: int, whole: bool) -> Repetition:
    """The repetition of `period` ending `s` and starting at or before `start`; `whole`: `s`
    is the whole reply (not a tail of it)."""
    n = len(s)
    while start > 0 and s[start - 1] == s[start - 1 + period]:
        start -= 1
    shortest = next(
        d for d in range(1, period + 1) if period % d == 0 and s[start + d :] == s[start : n - d]
    )
    first = start
    at_line_start = s[start - 1] == "\n" if start > 0 else whole
    if not at_line_start:
        newline = s.find("\n", start, start + shortest)
        if newline >= 0 and newline + 1 + shortest <= n:
            first = newline + 1  # quote it from a line start
    return Repetition(s[first : first + shortest], (n - start) // shortest, n - start)


class RepetitionCut(BackendError):
    """A reply cut because it repeated itself: what repeated and what the cut saved."""

    def __init__(
        self,
        repetition: Repetition,
        *,
        tokens_out: int,
        max_tokens: int | None,
        tokens_per_s: float | None,
    ) -> None:
        self.repetition = repetition
        self.tokens_out = tokens_out
        self.max_tokens = max_tokens
        self.tokens_per_s = tokens_per_s
        self.tokens_saved = None if max_tokens is None else max(0, max_tokens - tokens_out)
        self.seconds_saved = (
            self.tokens_saved / tokens_per_s
            if self.tokens_saved is not None and tokens_per_s
            else None
        )
        r = repetition
        what = (
            f"the reply repeated itself: {r.quote()} {r.repeats} times in a row "
            f"({r.chars} characters)"
        )
        if self.tokens_saved is None:
            saved = f"cut after {tokens_out} tokens (no max_tokens: the server's own limit)"
        else:
            saved = (
                f"cut after {tokens_out} tokens of max_tokens {max_tokens}: "
                f"{self.tokens_saved} tokens not generated"
            )
            if self.seconds_saved is not None:
                secs = self.seconds_saved
                shown = f"{secs:.1f}" if secs < 10 else f"{secs:.0f}"
                saved += f", about {shown} s saved at {tokens_per_s:.1f} tokens/s"
        super().__init__(
            f"{what}; {saved}",
            "the model fell into a loop: send a repeat penalty (repeat_penalty = 1.1, or "
            "frequency_penalty = 0.5 where only OpenAI's names are taken, in the profile's "
            "[backends.NAME.sampling] table), sample a little hotter (greedy sampling loops "
            "most), or use another backend; repetition_cut = false in the profile turns this "
            "cut off",
        )

    def details(self) -> dict:
        """For events.jsonl and result.json."""
        return {
            "block": self.repetition.block,
            "repeats": self.repetition.repeats,
            "chars": self.repetition.chars,
            "tokens_out": self.tokens_out,
            "max_tokens": self.max_tokens,
            "tokens_saved": self.tokens_saved,
            "tokens_per_s": self.tokens_per_s,
            "seconds_saved": self.seconds_saved,
        }
