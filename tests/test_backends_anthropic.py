"""The anthropic backend: Anthropic's documented event sequence, request shape, key routing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from loop.backends import BackendError, ChatRequest, open_backend
from loop.testing.scripted_server import ScriptedServer

FIXTURE = Path(__file__).parent / "fixtures" / "anthropic_stream.txt"
MSGS = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]


def test_recorded_stream_is_parsed(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    with ScriptedServer(recorded=FIXTURE.read_bytes(), recorded_chunk=5) as srv:
        b = open_backend("anthropic", base_url=srv.root, model="claude-test")
        with b.stream(ChatRequest(MSGS, max_tokens=64, temperature=0.0, seed=1)) as s:
            text = "".join(s)
        request = srv.requests[-1]
    assert text == "Hello!"
    assert (s.tokens_in, s.tokens_out, s.finish_reason) == (25, 15, "end_turn")
    assert s.usage_from_server and s.completed
    assert request.path == "/v1/messages"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "x-api-key" not in request.headers  # ANTHROPIC_API_KEY only goes to Anthropic
    assert request.json["system"] == "be brief"
    assert request.json["messages"] == [{"role": "user", "content": "hi"}]
    assert request.json["max_tokens"] == 64 and request.json["stream"] is True
    assert "seed" not in request.json


def test_generated_stream_profile_key_and_v1_suffix(tmp_path, monkeypatch):
    monkeypatch.setenv("PROXY_KEY", "pk-123")
    with ScriptedServer("one two three", require_key="pk-123") as srv:
        toml = tmp_path / "armloop.toml"
        toml.write_text(
            f'[backends.proxy]\nbackend = "anthropic"\nbase_url = "{srv.url}"\n'
            'api_key_env = "PROXY_KEY"\n'
        )
        b = open_backend("proxy", config=toml)
        with b.stream(ChatRequest([{"role": "user", "content": "count"}])) as s:
            assert "".join(s) == "one two three"
        assert srv.requests[-1].headers["x-api-key"] == "pk-123"
        assert srv.requests[-1].json["max_tokens"] == 4096
    assert s.tokens_out == 3 and s.tokens_in == 1
    assert "pk-123" not in repr(b.describe()) and b.describe()["api_key_env"] == "PROXY_KEY"


def test_wrong_key_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("PROXY_KEY", "wrong")
    with ScriptedServer(require_key="right") as srv:
        toml = tmp_path / "armloop.toml"
        toml.write_text(
            f'[backends.p]\nbackend = "anthropic"\nbase_url = "{srv.root}"\n'
            'api_key_env = "PROXY_KEY"\n'
        )
        b = open_backend("p", config=toml)
        with pytest.raises(BackendError) as err:
            b.stream(ChatRequest(MSGS))
    assert "PROXY_KEY" in err.value.problem and "401" in err.value.problem


def test_error_event_mid_stream():
    body = (
        b'event: message_start\ndata: {"type":"message_start","message":{"usage":'
        b'{"input_tokens":3,"output_tokens":1}}}\n\n'
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
        b'"message":"Overloaded"}}\n\n'
    )
    with ScriptedServer(recorded=body) as srv:
        b = open_backend("anthropic", base_url=srv.root)
        with pytest.raises(BackendError, match="overloaded_error"):
            b.stream(ChatRequest(MSGS)).text()


def test_non_ascii_retry_field_is_ignored():
    """`retry: ²` once made the decoder raise ValueError (str.isdigit accepts "²")."""
    inject = {0: "retry: ²\n\n".encode(), 1: "event: ping\nretry: ²\ndata: {}\n\n".encode()}
    with ScriptedServer("one two three", inject=inject) as srv:
        b = open_backend("anthropic", base_url=srv.root)
        with b.stream(ChatRequest(MSGS)) as s:
            assert s.text() == "one two three"
    assert s.completed


def test_the_reply_ends_at_message_stop_and_nothing_after_it_is_read():
    extra = (
        b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, '
        b'"delta": {"type": "text_delta", "text": "EXTRA"}}\n\n'
        b"event: content_block_delta\ndata: not json\n\n"
    )
    with ScriptedServer("one two three", after_end=extra, hold_open_s=20) as srv:
        b = open_backend("anthropic", base_url=srv.root)
        t0 = time.perf_counter()
        with b.stream(ChatRequest(MSGS)) as s:
            text = s.text()
        elapsed = time.perf_counter() - t0
    assert text == "one two three" and s.completed and not s.stopped_early
    assert s.usage_from_server and s.tokens_out == 3
    assert elapsed < 10  # not the 20 s the server holds the stream open
