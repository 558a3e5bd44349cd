"""The openai backend against the scripted server: real sockets, real httpx, injected faults."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from loop.backends import BackendConfig, BackendError, ChatRequest, Timeouts, make_backend
from loop.backends.base import DEFAULT_TEMPERATURE
from loop.testing.scripted_server import ScriptedServer, tokenize

MSGS = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "write code"}]
REPLY = "def f(x):\n    return x + 1\n"
LONG = " ".join(f"w{i}" for i in range(200))


def backend(srv: ScriptedServer, **changes):
    config = BackendConfig(name="test", kind="openai", base_url=srv.url)
    return make_backend(replace(config, **changes))


def run(b, **request) -> tuple[str, object]:
    with b.stream(ChatRequest(MSGS, **request)) as s:
        return "".join(s), s


def test_stream_text_usage_and_request_shape():
    with ScriptedServer(REPLY) as srv, backend(srv, temperature=0.2) as b:
        text, s = run(b, max_tokens=100, seed=7)
        body = srv.requests[-1].json
    assert text == REPLY
    assert s.usage_from_server and s.tokens_out == len(tokenize(REPLY))
    assert s.tokens_in == 4 and s.finish_reason == "stop" and s.tokens_method == "server"
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.2, 100, 7)
    assert body["model"] == "scripted-model"  # discovered from /models
    assert s.t_sent < s.t_first_token <= s.t_last_token


def test_default_temperature_is_sent_and_a_request_overrides_it():
    """Servers' own defaults (0.8, 1.0) are too hot for code; the profile's value wins."""
    with ScriptedServer(REPLY) as srv, backend(srv) as b:
        run(b)
        assert srv.requests[-1].json["temperature"] == DEFAULT_TEMPERATURE == 0.2
        run(b, temperature=0.7)
        assert srv.requests[-1].json["temperature"] == 0.7


def test_timing_matches_a_paced_server_within_5_percent():
    rate, delay, n = 40.0, 0.3, 30
    with ScriptedServer(LONG, tokens_per_s=rate, first_token_delay=delay) as srv:
        with backend(srv) as b:
            _, s = run(b, max_tokens=n)
    assert s.tokens_out == n
    assert s.ttft_s == pytest.approx(delay, rel=0.05)
    assert s.tokens_per_s == pytest.approx(rate, rel=0.05)
    assert s.generate_s == pytest.approx((n - 1) / rate, rel=0.05)


def test_without_usage_counts_chunks_and_estimates_input():
    with ScriptedServer(REPLY, usage=False) as srv, backend(srv) as b:
        _, s = run(b)
    assert not s.usage_from_server
    assert s.tokens_out == len(tokenize(REPLY)) and s.tokens_method == "chars/4"
    with ScriptedServer(REPLY, usage=False, tokenizer=True) as srv, backend(srv) as b:
        _, s = run(b)
        assert s.tokens_method == "tokenizer" and s.tokens_in == 4 + 2 * 4 + 3
        assert srv.requests[-1].path == "/extras/tokenize/count"


def test_stop_early_closes_the_connection_and_the_server_stops():
    with ScriptedServer(LONG, tokens_per_s=100) as srv, backend(srv) as b:
        with b.stream(ChatRequest(MSGS)) as s:
            for i, _ in enumerate(s):
                if i == 4:
                    t_used = time.perf_counter()
                    s.close()
                    break
        time.sleep(0.15)
        assert srv.disconnected == [True]
        assert srv.tokens_sent[0] <= 7
    assert s.stopped_early and s.tokens_out == 5 and not s.usage_from_server
    assert s.t_last_token <= t_used


def test_max_tokens_gives_finish_reason_length():
    with ScriptedServer(LONG) as srv, backend(srv) as b:
        _, s = run(b, max_tokens=5)
    assert s.finish_reason == "length" and s.tokens_out == 5


def test_429_retry_after_is_honoured_then_succeeds():
    with ScriptedServer(REPLY, fail_first=1, fail_status=429, retry_after="1") as srv:
        with backend(srv) as b:
            t0 = time.perf_counter()
            text, s = run(b)
            elapsed = time.perf_counter() - t0
    assert text == REPLY and s.attempts == 2 and s.retry_wait_s == 1.0
    assert 1.0 <= elapsed < 1.5
    assert s.ttft_s >= 1.0  # t_sent is the first attempt: the wait is part of the user's TTFT


def test_retry_after_ms_and_500_then_success():
    with ScriptedServer(REPLY, fail_first=2, fail_status=503, retry_after_ms=150) as srv:
        with backend(srv) as b:
            text, s = run(b)
    assert text == REPLY and s.attempts == 3 and s.retry_wait_s == pytest.approx(0.3)
    with ScriptedServer(REPLY, fail_first=1, fail_status=500) as srv, backend(srv) as b:
        text, s = run(b)
    assert text == REPLY and s.attempts == 2 and 0.3 <= s.retry_wait_s <= 0.5  # backoff


def test_retries_run_out_with_a_clear_error():
    with ScriptedServer(REPLY, fail_first=9, retry_after="0") as srv:
        with backend(srv, max_attempts=3) as b, pytest.raises(BackendError) as err:
            run(b)
        assert len(srv.requests) == 3 + 1  # /models, then three attempts
    assert "HTTP 429" in err.value.problem and "3 attempts" in err.value.problem


def test_stalled_stream_is_reported_within_bounded_time():
    timeouts = Timeouts(first_token=2.0, stall=0.5)
    with ScriptedServer(LONG, stall_after=3, stall_s=10) as srv:
        with backend(srv, timeouts=timeouts) as b, pytest.raises(BackendError) as err:
            t0 = time.perf_counter()
            run(b)
        elapsed = time.perf_counter() - t0
        time.sleep(0.1)
        assert srv.disconnected == [True]  # the watchdog hung up, so the server stops
    assert "went silent" in err.value.problem and "after 3 tokens" in err.value.problem
    assert 0.5 <= elapsed < 1.5


def test_no_first_token_is_reported_with_the_first_token_limit():
    timeouts = Timeouts(first_token=0.5, stall=5.0)
    with ScriptedServer(LONG, stall_after=0, stall_s=10) as srv:
        with backend(srv, timeouts=timeouts) as b, pytest.raises(BackendError) as err:
            run(b)
    assert "waiting for the first token" in err.value.problem
    assert "first_token_s" in err.value.fix


def test_malformed_event():
    with ScriptedServer(LONG, malformed_after=2) as srv, backend(srv) as b:
        with pytest.raises(BackendError, match="malformed stream event"):
            run(b)


def test_connection_cut_mid_stream():
    with ScriptedServer(LONG, cut_after=3) as srv, backend(srv) as b:
        with pytest.raises(BackendError) as err:
            run(b)
    assert "after 3 tokens" in err.value.problem
    assert "broke mid-stream" in err.value.problem or "ended before" in err.value.problem


def test_stream_options_rejected_once_then_remembered():
    with ScriptedServer(REPLY, reject_stream_options=True) as srv, backend(srv) as b:
        assert run(b)[0] == REPLY
        assert run(b)[0] == REPLY
        posts = [r.json for r in srv.requests if r.method == "POST"]
    assert ["stream_options" in p for p in posts] == [True, False, False]


def test_unreachable_server_names_the_url():
    with ScriptedServer() as srv:
        url = srv.url
    config = BackendConfig(name="t", kind="openai", base_url=url, model="m", max_attempts=2)
    b = make_backend(config)
    with pytest.raises(BackendError) as err:
        run(b)
    assert url in err.value.problem and "start the server" in err.value.fix


def test_http_400_is_not_retried_and_is_explained():
    with ScriptedServer(fail_first=1, fail_status=400) as srv, backend(srv) as b:
        with pytest.raises(BackendError) as err:
            run(b)
        posts = [r for r in srv.requests if r.method == "POST"]
    assert "HTTP 400" in err.value.problem and "scripted failure" in err.value.problem
    assert len(posts) == 1


def test_non_ascii_retry_field_is_ignored():
    """`retry: ²` once made the decoder raise ValueError (str.isdigit accepts "²")."""
    inject = {0: "retry: ²\n\n".encode(), 2: "retry: ²\n".encode()}  # 2: in the next event
    with ScriptedServer(REPLY, inject=inject) as srv, backend(srv) as b:
        text, s = run(b)
    assert text == REPLY and s.completed


def test_the_reply_ends_at_done_and_nothing_after_it_is_read():
    """Chunks after `data: [DONE]` are not part of the reply, and the client does not wait
    for a server that keeps the stream open after it."""
    extra = b'data: {"choices": [{"delta": {"content": "EXTRA"}, "finish_reason": null}]}\n\n'
    after = extra + b"data: not json\n\n"
    with ScriptedServer(REPLY, after_end=after, hold_open_s=20) as srv, backend(srv) as b:
        t0 = time.perf_counter()
        text, s = run(b)
        elapsed = time.perf_counter() - t0
    assert text == REPLY and s.completed and not s.stopped_early
    assert s.usage_from_server and s.tokens_out == len(tokenize(REPLY))
    assert elapsed < 10  # not the 20 s the server holds the stream open
