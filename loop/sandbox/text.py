"""Text from a controller, made safe to show: `printable(text)`.

Whatever a controller prints or raises, and whatever its child process writes in a reply, is
shown on terminals (`armloop eval`, `armloop watch`), written to run files and sent to the
model. Control characters would reach a terminal as escape sequences: clearing the screen,
setting the clipboard (OSC 52), rewriting the line with \\r, ringing the bell. printable()
drops every C0 and C1 control character and DEL except \\n and \\t, and replaces lone
surrogates (which no UTF-8 file or terminal takes) with U+FFFD.
"""

from __future__ import annotations

KEEP = "\n\t"
_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
_TABLE: dict[int, int | None] = {c: None for c in _CONTROLS if chr(c) not in KEEP}
_TABLE.update({c: 0xFFFD for c in range(0xD800, 0xE000)})


def printable(text: str) -> str:
    """`text` without control characters (but \\n and \\t) and without lone surrogates."""
    return text.translate(_TABLE)
