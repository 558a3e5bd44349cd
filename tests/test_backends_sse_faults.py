"""Unusual and broken event streams through the scripted server on loopback, for the openai
and anthropic backends: the right reply text, or a BackendError with problem and fix, and
never another exception type out of the stream iteration."""

from __future__ import annotations

import json
import secrets
import time

import pytest

from loop.backends import BackendConfig, BackendError, ChatRequest, make_backend
from loop.testing.scripted_server import ScriptedServer

KINDS = ["openai", "anthropic"]
MSGS = [{"role": "user", "content": "write code"}]
REPLY = "def f(x):\n    return x + 1\n"


def backend(kind: str, srv: ScriptedServer):
    url = srv.url if kind == "openai" else srv.root
    return make_backend(BackendConfig(name="t", kind=kind, base_url=url, model="m"))


def read(kind: str, srv: ScriptedServer) -> tuple[str, object]:
    """The reply text; any exception but BackendError fails the test as it is."""
    with backend(kind, srv) as b, b.stream(ChatRequest(MSGS)) as s:
        parts = list(s)
    assert all(type(p) is str for p in parts), parts
    return "".join(parts), s


def token_event(kind: str, text) -> bytes:
    """A content event carrying `text` (any JSON value: the tests send wrong types too)."""
    if kind == "openai":
        body = {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
        return b"data: " + json.dumps(body).encode() + b"\n\n"
    body = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}}
    body["delta"]["text"] = text
    return b"event: content_block_delta\ndata: " + json.dumps(body).encode() + b"\n\n"


# -- unusual but valid streams: the right text ----------------------------------------------

UNUSUAL = {
    "non-ascii retry": {"inject": {0: "retry: ²\n\n".encode(), 3: "retry: ١٢\n".encode()}},
    "cr line ends": {"eol": b"\r"},
    "crlf line ends": {"eol": b"\r\n"},
    "comments and keepalives between tokens": {"between": b": keepalive\n\n:\r\n\r\n"},
    "events of unknown type between tokens": {
        "between": b'event: whatever\ndata: {"type": "whatever"}\n\nevent: x\ndata: not json\n\n'
    },
    "empty data events between tokens": {"between": b"data:\n\ndata: \n\n"},
    "unknown fields, ids and retries mixed in": {
        "between": b"id: 5\nretry: 100\nfoo: bar\n",  # fields of the next token's event
    },
    "data after the end, stream held open": {
        "after_end": b"data: not json\n\nevent: content_block_delta\ndata: {oops\n\n",
        "hold_open_s": 20,
    },
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", list(UNUSUAL))
def test_unusual_streams_give_the_right_text(kind, case):
    with ScriptedServer(REPLY, **UNUSUAL[case]) as srv:
        t0 = time.perf_counter()
        text, s = read(kind, srv)
    assert text == REPLY and s.completed
    assert time.perf_counter() - t0 < 10


@pytest.mark.parametrize("kind", KINDS)
def test_a_huge_line_gives_the_right_text_in_bounded_time(kind):
    # distinct characters: one letter 4 Mi times is a repetition the stream would cut
    word = secrets.token_hex(2 * 1024 * 1024)
    reply = f"def f():\n    return '{word}'\n"
    with ScriptedServer(reply) as srv:
        t0 = time.perf_counter()
        text, _ = read(kind, srv)
    assert text == reply
    assert time.perf_counter() - t0 < 20  # generous: about 0.1 s here


# -- broken streams: a BackendError with problem and fix -------------------------------------

BROKEN = {
    "openai": {
        "choices not a list": b'data: {"choices": 5}\n\n',
        "a choice not an object": b'data: {"choices": [1]}\n\n',
        "delta not an object": b'data: {"choices": [{"delta": "x"}]}\n\n',
        "content a number": b'data: {"choices": [{"delta": {"content": 5}}]}\n\n',
        "content a list": b'data: {"choices": [{"delta": {"content": ["a"]}}]}\n\n',
        "error as a string": b'data: {"error": "boom"}\n\n',
        "error event": b'event: error\ndata: {"error": {"message": "boom"}}\n\n',
    },
    "anthropic": {
        "delta not an object": b'event: content_block_delta\ndata: {"type": '
        b'"content_block_delta", "delta": "x"}\n\n',
        "text a number": token_event("anthropic", 5),
        "message not an object": b'event: message_start\ndata: {"type": "message_start", '
        b'"message": "x"}\n\n',
        "error as a string": b'event: error\ndata: {"type": "error", "error": "boom"}\n\n',
        "not JSON": b"event: content_block_delta\ndata: {oops\n\n",
    },
}


@pytest.mark.parametrize(
    ("kind", "case"), [(k, c) for k in KINDS for c in BROKEN[k]], ids=lambda v: str(v)
)
def test_broken_events_give_a_backend_error_with_problem_and_fix(kind, case):
    with ScriptedServer(REPLY, inject={2: BROKEN[kind][case]}) as srv:
        root = srv.root
        with pytest.raises(BackendError) as err:
            read(kind, srv)
    assert root in err.value.problem and err.value.fix


@pytest.mark.parametrize("kind", KINDS)
def test_usage_counts_of_the_wrong_type_are_ignored(kind):
    if kind == "openai":
        usage = {"prompt_tokens": "many", "completion_tokens": []}
        bad = b"data: " + json.dumps({"choices": [], "usage": usage}).encode()
    else:
        body = {"type": "message_delta", "usage": {"output_tokens": "x"}}
        bad = b"event: message_delta\ndata: " + json.dumps(body).encode()
    with ScriptedServer(REPLY, usage=False, inject={2: bad + b"\n\n"}) as srv:
        text, s = read(kind, srv)
    assert text == REPLY
    assert type(s.tokens_in) is int and type(s.tokens_out) is int
    assert s.timing()["tokens_per_s"] is None or s.timing()["tokens_per_s"] > 0


@pytest.mark.parametrize("kind", KINDS)
def test_a_body_that_fails_to_decompress_is_a_backend_error(kind):
    with ScriptedServer(REPLY, stream_headers={"Content-Encoding": "gzip"}) as srv:
        with pytest.raises(BackendError) as err:
            read(kind, srv)
    assert "DecodingError" in err.value.problem and err.value.fix


@pytest.mark.parametrize("kind", KINDS)
def test_an_unexpected_error_while_decoding_is_a_backend_error(kind, monkeypatch):
    """The safety net at the Stream layer: whatever goes wrong reading the stream reaches the
    caller as a BackendError (with the cause chained), so `except BackendError` is enough."""
    from loop.backends import sse

    def broken_feed(self, chunk):
        raise RuntimeError("a decoder bug")

    monkeypatch.setattr(sse.SSEDecoder, "feed", broken_feed)
    with ScriptedServer(REPLY) as srv:
        with pytest.raises(BackendError) as err:
            read(kind, srv)
    assert "RuntimeError: a decoder bug" in err.value.problem and err.value.fix
    assert isinstance(err.value.__cause__, RuntimeError)
