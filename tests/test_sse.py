"""The SSE decoder against the WHATWG event-stream rules."""

import time

from loop.backends.sse import ServerSentEvent, SSEDecoder, iter_events


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    return list(iter_events(chunks))


def test_basic_events_and_default_type():
    events = decode(b"data: a\n\nevent: ping\ndata: {}\n\n")
    assert events == [ServerSentEvent("message", "a"), ServerSentEvent("ping", "{}")]


def test_line_endings_crlf_cr_lf_and_crlf_split_across_chunks():
    events = decode(b"data: 1\r\n\r\ndata: 2\r\rdata: 3\n\ndata: 4\r", b"\n\r\n")
    assert [e.data for e in events] == ["1", "2", "3", "4"]


def test_multiline_data_comments_and_single_leading_space():
    events = decode(b": comment\ndata:  two spaces\ndata:x\n\n")
    assert events[0].data == " two spaces\nx"


def test_event_without_data_is_not_dispatched_and_unfinished_event_dropped():
    assert decode(b"event: ping\n\ndata: cut off") == []


def test_byte_by_byte_with_utf8_and_bom():
    raw = "\ufeffdata: héllo ✓\n\n".encode()
    decoder = SSEDecoder()
    events = [e for i in range(len(raw)) for e in decoder.feed(raw[i : i + 1])]
    assert [e.data for e in events] == ["héllo ✓"]


def test_id_and_retry_fields():
    events = decode(b"id: 7\nretry: 1500\ndata: x\n\nretry: nope\ndata: y\n\n")
    assert (events[0].id, events[0].retry) == ("7", 1500)
    assert (events[1].id, events[1].retry) == ("7", None)  # last event id persists


def test_field_without_colon_and_unknown_fields_ignored():
    assert [e.data for e in decode(b"data\nfoo: bar\n\n")] == [""]  # `data` alone: empty line


def test_retry_takes_only_ascii_digits():
    """WHATWG: a retry value of only ASCII digits sets the time; anything else is ignored.
    str.isdigit accepts "²" (int() then raises) and "١٢" (int() reads 12): both ignored."""
    values = ["²", "١٢", "１２", "1000x", "", " 5", "-1", "+5", "1 000", "1.5", "0x10"]
    raw = b"".join(f"retry: {v}\ndata: {i}\n\n".encode() for i, v in enumerate(values))
    events = decode(raw + b"retry: 0\ndata: ok\n\n")
    assert [(e.data, e.retry) for e in events] == [
        *((str(i), None) for i in range(len(values))),
        ("ok", 0),
    ]


def test_a_long_line_in_small_chunks_takes_linear_time():
    """One 4 MiB line fed in 1 KiB chunks: the decoder once re-scanned its whole buffer on
    every feed (about 80 s); linear, it takes well under a second. The bound is generous
    for a loaded machine, and checked as it goes so that a regression fails fast."""
    size, step = 4 * 1024 * 1024, 1024
    raw = b"data: " + b"x" * size + b"\n\n"
    decoder = SSEDecoder()
    t0 = time.perf_counter()
    events = []
    for i, start in enumerate(range(0, len(raw), step)):
        events += decoder.feed(raw[start : start + step])
        if i % 64 == 0:
            elapsed = time.perf_counter() - t0
            assert elapsed < 10, f"only {start} of {len(raw)} bytes after {elapsed:.1f} s"
    assert [len(e.data) for e in events] == [size]


def test_a_cr_at_the_end_of_a_chunk_ends_the_line_at_once():
    """A trailing CR is a line end already; an LF opening the next chunk is its other half."""
    decoder = SSEDecoder()
    assert [e.data for e in decoder.feed(b"data: 1\r\r")] == ["1"]  # no wait for more
    assert decoder.feed(b"\ndata: 2\r") == []  # that LF closed the CRLF, not an empty line
    assert [e.data for e in decoder.feed(b"\n\r\n")] == ["2"]
