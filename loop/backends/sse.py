"""A Server-Sent Events decoder that follows the WHATWG spec (the `text/event-stream` parser).

Feed it bytes as they arrive; it returns the events completed by them. Lines end in CRLF,
LF or CR (a CR at the end of a chunk waits for a possible LF); `:` lines are comments;
`data` lines are joined with newlines; an event with no data is not dispatched; an
unfinished event at end of stream is discarded (the caller decides if that is an error).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

_EOL = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class ServerSentEvent:
    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Incremental decoder: `feed(bytes) -> [events]`, then `finish() -> [events]`."""

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""
        self._started = False
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self._retry: int | None = None
        self.last_event_id: str | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        text = self._utf8.decode(chunk)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        self._buf += text
        return self._lines(final=False)

    def finish(self) -> list[ServerSentEvent]:
        """End of stream: complete lines are processed, an undispatched event is dropped."""
        self._buf += self._utf8.decode(b"", final=True)
        events = self._lines(final=True)
        self._reset()
        return events

    @property
    def pending(self) -> bool:
        """True if bytes of an unfinished event are buffered (a cut mid-event)."""
        return bool(self._buf or self._data or self._event)

    def _lines(self, final: bool) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        pos = 0
        for m in _EOL.finditer(self._buf):
            if m.group() == "\r" and m.end() == len(self._buf) and not final:
                break  # a CR at the end of the chunk may be the first half of CRLF
            event = self._line(self._buf[pos : m.start()])
            pos = m.end()
            if event is not None:
                events.append(event)
        self._buf = self._buf[pos:]
        return events

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)  # ASCII only: str.isdigit also accepts "²" and "١"
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        if self._id is not None:
            self.last_event_id = self._id
        if not self._data:
            self._reset()
            return None
        event = ServerSentEvent(
            event=self._event or "message",
            data="\n".join(self._data),
            id=self.last_event_id,
            retry=self._retry,
        )
        self._reset()
        return event

    def _reset(self) -> None:
        self._event = ""
        self._data = []
        self._id = None
        self._retry = None


def iter_events(chunks: Iterable[bytes]) -> Iterator[ServerSentEvent]:
    """Decode a whole byte stream into events."""
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.finish()
