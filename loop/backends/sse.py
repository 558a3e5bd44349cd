"""A Server-Sent Events decoder that follows the WHATWG spec (the `text/event-stream` parser).

Feed it bytes as they arrive; it returns the events completed by them. Lines end in CRLF,
LF or CR (a CR ends its line at once; an LF opening the next chunk is then its other half);
`:` lines are comments; `data` lines are joined with newlines; an event with no data is not
dispatched; an unfinished event at end of stream is discarded (the caller decides if that
is an error). Only the first BOM of the stream is stripped; `retry` takes ASCII digits only;
an `id` holding NUL is ignored; unknown fields are ignored.

Linear time: each feed scans only its own text for line ends, and the unfinished line is
kept as a list of pieces, joined once when its line end arrives.
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
        self._pieces: list[str] = []  # the unfinished line
        self._after_cr = False  # the last text ended in CR: an LF next completes a CRLF
        self._started = False
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self._retry: int | None = None
        self.last_event_id: str | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        return self._text(self._utf8.decode(chunk))

    def finish(self) -> list[ServerSentEvent]:
        """End of stream: an unfinished line and an undispatched event are dropped."""
        events = self._text(self._utf8.decode(b"", final=True))
        self._pieces = []
        self._after_cr = False
        self._reset()
        return events

    @property
    def pending(self) -> bool:
        """True if bytes of an unfinished event are buffered (a cut mid-event)."""
        return bool(self._pieces or self._data or self._event)

    def _text(self, text: str) -> list[ServerSentEvent]:
        if not text:
            return []
        if not self._started:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._after_cr:
            self._after_cr = False
            text = text.removeprefix("\n")
        parts = _EOL.split(text)  # only the new text is scanned
        if len(parts) == 1:
            if text:
                self._pieces.append(text)
            return []
        self._pieces.append(parts[0])
        parts[0] = "".join(self._pieces)
        last = parts.pop()
        self._pieces = [last] if last else []
        self._after_cr = text.endswith("\r")
        events = []
        for line in parts:
            event = self._line(line)
            if event is not None:
                events.append(event)
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
