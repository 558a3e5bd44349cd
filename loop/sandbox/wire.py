"""Length-prefixed JSON frames between the sim worker and the controller child.

Frame: 4-byte big-endian length, then that many bytes of UTF-8 JSON. JSON only: the child is
untrusted, so nothing it sends is ever unpickled or evaluated, and frame sizes are capped.
"""

from __future__ import annotations

import json
import os
import select
import struct
import threading
from collections.abc import Callable
from typing import Any

HEADER = struct.Struct(">I")
MAX_FRAME = 16 << 20


class WireError(Exception):
    """The peer sent something that is not a well-formed frame."""


def _default(value: Any) -> Any:
    """JSON fallback for numpy arrays and scalars (duck-typed: no numpy import needed)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode(message: Any) -> bytes:
    body = json.dumps(message, default=_default, separators=(",", ":")).encode()
    if len(body) > MAX_FRAME:
        raise WireError(f"frame of {len(body)} bytes exceeds {MAX_FRAME}")
    return HEADER.pack(len(body)) + body


def decode(body: bytes) -> Any:
    """The frame's JSON value; a WireError for anything else (never another exception).

    Strict UTF-8: json.loads(bytes) would also take UTF-16/32, a byte order mark and encoded
    surrogates. Too deep (RecursionError) and ints of more than 4300 digits are refused too."""
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise WireError(f"malformed frame: {str(exc)[:200]}") from None


def write_frame(fd: int, message: Any) -> None:
    view = memoryview(encode(message))
    while view:
        view = view[os.write(fd, view) :]


def read_exact(fd: int, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, n - got)
        if not chunk:
            raise EOFError("peer closed the pipe")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> Any:
    """Blocking read of one frame (the child's side; the parent reads with a deadline)."""
    (size,) = HEADER.unpack(read_exact(fd, HEADER.size))
    if size > MAX_FRAME:
        raise WireError(f"frame of {size} bytes exceeds {MAX_FRAME}")
    return decode(read_exact(fd, size))


class FrameBuffer:
    """Incremental frame parser for non-blocking reads with a deadline."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def pop(self) -> tuple[bool, Any]:
        """(True, message) once a whole frame has arrived, else (False, None)."""
        if len(self._buf) < HEADER.size:
            return False, None
        (size,) = HEADER.unpack_from(self._buf)
        if size > MAX_FRAME:
            raise WireError(f"frame of {size} bytes exceeds {MAX_FRAME}")
        end = HEADER.size + size
        if len(self._buf) < end:
            return False, None
        body = bytes(self._buf[HEADER.size : end])
        del self._buf[:end]
        return True, decode(body)


HANGUP = select.POLLHUP | select.POLLERR | select.POLLNVAL


def on_hangup(fd: int, then: Callable[[], object]) -> threading.Thread:
    """Call `then` (in a daemon thread) once the peer of `fd` is gone: every writer of a pipe
    closed, or the other end of a socket. A parent killed with SIGKILL closes its ends too, so
    a process watching its parent's pipe this way never outlives it, whatever it is running."""

    def watch() -> None:
        poller = select.poll()
        poller.register(fd, select.POLLHUP)
        while not any(event & HANGUP for _, event in poller.poll()):
            pass
        then()

    thread = threading.Thread(target=watch, name="armloop-hangup", daemon=True)
    thread.start()
    return thread
