"""The SSE decoder against the WHATWG event-stream rules."""

import re
import time

import pytest

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


# -- the WHATWG rules, case by case: each stream fed whole, in random chunks, byte by byte --
# Cases from the spec's parsing section and the web-platform-tests eventsource/format-*
# tests (comment fest, newline fest, field parsing, BOM, double BOM, data before the final
# empty line, empty event/retry fields, NUL), plus the cases public SSE parsers test.

E = ServerSentEvent
LONG_COMMENT = b"x" * 2048
CASES = {
    "lf": (b"data: abc\ndata: def\n\ndata: foo\n\n", [E(data="abc\ndef"), E(data="foo")]),
    "crlf": (
        b"data: abc\r\ndata: def\r\n\r\ndata: foo\r\n\r\n",
        [E(data="abc\ndef"), E(data="foo")],
    ),
    "cr": (b"data: abc\rdata: def\r\rdata: foo\r\r", [E(data="abc\ndef"), E(data="foo")]),
    "mixed line ends": (b"data: 1\r\ndata: 2\rdata: 3\n\r\n", [E(data="1\n2\n3")]),
    "cr then crlf": (b"data: a\r\r\ndata: b\r\n\r", [E(data="a"), E(data="b")]),
    "wpt newline fest": (b"data:test\r\ndata\ndata:test\r\n\r\n", [E(data="test\n\ntest")]),
    "bom": (
        b"\xef\xbb\xbfdata: 1\n\n\xef\xbb\xbfdata: 2\n\ndata: 3\n\n",
        [E(data="1"), E(data="3")],
    ),
    "double bom": (b"\xef\xbb\xbf\xef\xbb\xbfdata: 1\n\ndata: 2\n\n", [E(data="2")]),
    "wpt comment fest": (
        b"data:1\r:\x00\n:\r\ndata:2\n:"
        + LONG_COMMENT
        + b"\rdata:3\n:data:fail\r:"
        + LONG_COMMENT
        + b"\ndata:4\n\n",
        [E(data="1\n2\n3\n4")],
    ),
    "comments only": (b": hi\n:\n: there\r\n\r\n", []),
    "keepalive comments between events": (
        b"data: 1\n\n: keepalive\n\n: ping\r\n\r\ndata: 2\n\n",
        [E(data="1"), E(data="2")],
    ),
    "wpt data without colon": (
        b"data:\n\ndata\ndata\n\ndata:test\n\n",
        [E(data=""), E(data="\n"), E(data="test")],
    ),
    "no space after colon": (b"event:ping\ndata:x\n\n", [E("ping", "x")]),
    "only one leading space stripped": (b"data:  x\ndata:\ty\n\n", [E(data=" x\n\ty")]),
    "colon inside the value": (b"data: a: b:c\n\n", [E(data="a: b:c")]),
    "space before the colon is part of the name": (b"data : x\n\n", []),
    "wpt field parsing": (
        b"data:\x00\ndata:  2\rData:1\ndata\x00:2\ndata:1\r\x00data:4\nda-ta:3\rdata_5\n"
        b"data:3\rdata:\r\n data:32\ndata:4\n\n",
        [E(data="\x00\n 2\n1\n3\n\n4")],
    ),
    "unknown fields ignored": (
        b"foo: bar\nDATA: x\nEvent: y\nretries: 5\ndata: z\n\n",
        [E(data="z")],
    ),
    "empty data lines": (b"data:\ndata:\ndata:\n\ndata:\n\n", [E(data="\n\n"), E(data="")]),
    "multiple data lines joined with LF": (b"data: 1\ndata: 2\ndata: 3\n\n", [E(data="1\n2\n3")]),
    "trailing event without blank line is discarded": (b"data: a\n\ndata: b\n", [E(data="a")]),
    "trailing line without line end is discarded": (b"data: a\n\ndata: b", [E(data="a")]),
    "wpt data before final empty line": (
        b"retry:1000\ndata:test1\n\nid:test\ndata:test2",
        [E(data="test1", retry=1000)],
    ),
    "event name reset after dispatch": (
        b"event: ping\ndata: 1\n\ndata: 2\n\n",
        [E("ping", "1"), E("message", "2")],
    ),
    "event name reset by an event without data": (b"event: ping\n\ndata: 2\n\n", [E(data="2")]),
    "wpt empty event field": (b"event: \ndata: data\n\n", [E(data="data")]),
    "event without data is not dispatched": (b"event: ping\nid: 1\nretry: 5\n\n", []),
    "id containing NUL is ignored": (
        b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
        [E(data="a", id="1"), E(data="b", id="1")],
    ),
    "empty id resets the last event id": (
        b"id: 1\ndata: a\n\nid\ndata: b\n\n",
        [E(data="a", id="1"), E(data="b", id="")],
    ),
    "last event id persists, also set by an event without data": (
        b"id: 7\ndata: a\n\ndata: b\n\nid: 8\n\ndata: c\n\n",
        [E(data="a", id="7"), E(data="b", id="7"), E(data="c", id="8")],
    ),
    "retry with non-digits ignored": (
        "retry: 1000x\ndata: a\n\nretry: ²\ndata: b\n\nretry\ndata: c\n\n".encode()
        + b"retry: 20\ndata: d\n\n",
        [E(data="a"), E(data="b"), E(data="c"), E(data="d", retry=20)],
    ),
    "wpt null character": (b"data:\x00\n\n", [E(data="\x00")]),
    "utf-8 and invalid bytes replaced": (
        "data: héllo ✓ 🤖\n\n".encode() + b"data: \xff\xe2\x9c\n\n",
        [E(data="héllo ✓ 🤖"), E(data="\ufffd\ufffd")],
    ),
    "blank lines only": (b"\n\n\r\n\r\r", []),
    "openai chunks and done": (
        b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n',
        [E(data='{"choices":[{"delta":{"content":"hi"}}]}'), E(data="[DONE]")],
    ),
    "anthropic named events": (
        b'event: message_start\ndata: {"type":"message_start"}\n\nevent: ping\ndata: {}\n\n',
        [E("message_start", '{"type":"message_start"}'), E("ping", "{}")],
    ),
}


def random_chunks(raw: bytes, rng) -> list[bytes]:
    """Random cuts (empty chunks included), so CR/LF pairs and UTF-8 sequences get split."""
    cuts = sorted(rng.randint(0, len(raw)) for _ in range(rng.randint(0, max(1, len(raw) // 3))))
    edges = [0, *cuts, len(raw)]
    return [raw[a:b] for a, b in zip(edges, edges[1:], strict=False)]


def feedings(raw: bytes, seeds: int = 10) -> dict[str, list[bytes]]:
    import random

    ways = {"whole": [raw], "byte by byte": [raw[i : i + 1] for i in range(len(raw))]}
    for seed in range(seeds):
        ways[f"random chunks (seed {seed})"] = random_chunks(raw, random.Random(seed))
    return ways


@pytest.mark.parametrize("name", list(CASES))
def test_whatwg_case_whole_in_random_chunks_and_byte_by_byte(name):
    raw, expected = CASES[name]
    for how, chunks in feedings(raw).items():
        assert decode(*chunks) == expected, how


def test_the_decoder_remembers_the_last_event_id_and_drops_an_unfinished_id_at_the_end():
    decoder = SSEDecoder()
    decoder.feed(b"id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: cut")
    assert decoder.last_event_id == "1"
    decoder.finish()
    assert decoder.last_event_id == "1"  # the event that set id 2 was never dispatched


def test_only_the_stream_start_is_checked_for_a_bom():
    decoder = SSEDecoder()
    assert [e.data for e in decoder.feed(b"\xef\xbb")] == []  # a BOM split across chunks
    assert [e.data for e in decoder.feed(b"\xbfdata: 1\n\n")] == ["1"]
    assert decoder.feed(b"\xef\xbb\xbfdata: 2\n\n") == []  # a later BOM is part of the name


# -- property: any stream, any chunking, gives what a plain whole-text reading gives --------

PIECES = [
    b"data: x", b"data:y", b"data", b"data:", b"data:  two", b"event: e", b"event:", b"id: 3",
    b"id: 4\x005", b"id", b"retry: 10", "retry: ²".encode(), b"retry: 7x", b": comment", b":",
    b"foo: bar", b"", b"", b"", "data: é✓".encode(), b"data: \xff", b"data: \xe2\x9c",
    b"\xef\xbb\xbfdata: z",
]  # fmt: skip


def reference(raw: bytes) -> list[ServerSentEvent]:
    """The spec's algorithm read literally, on the whole text at once (no incremental state)."""
    text = raw.decode("utf-8", errors="replace").removeprefix("\ufeff")
    lines = re.split(r"\r\n|\r|\n", text)[:-1]  # the last piece has no line end: not a line
    events, data, event, id_buffer, last_id, retry = [], [], "", None, None, None
    for line in lines:
        if line == "":
            if id_buffer is not None:
                last_id = id_buffer
            if data:
                events.append(E(event or "message", "\n".join(data), last_id, retry))
            data, event, id_buffer, retry = [], "", None, None
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")  # no colon: the whole line names the field
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id" and "\x00" not in value:
            id_buffer = value
        elif name == "retry" and re.fullmatch(r"[0-9]+", value, flags=re.ASCII):
            retry = int(value)
    return events


def test_any_chunking_gives_the_events_of_a_whole_text_reading():
    import random

    rng = random.Random(20240611)
    for _ in range(150):
        lines = [rng.choice(PIECES) for _ in range(rng.randint(0, 25))]
        eols = [rng.choice([b"\n", b"\r", b"\r\n"]) for _ in lines]
        raw = (b"\xef\xbb\xbf" if rng.random() < 0.3 else b"") + b"".join(
            line + eol for line, eol in zip(lines, eols, strict=True)
        )
        if rng.random() < 0.3:
            raw += rng.choice(PIECES)  # an unfinished last line
        expected = reference(raw)
        for how, chunks in feedings(raw, seeds=3).items():
            assert decode(*chunks) == expected, (how, raw)
