"""OpenAI-compatible chat completions (OpenAI, vLLM, llama.cpp, Ollama /v1, LM Studio, ...).

POST {base_url}/chat/completions with stream=true and stream_options.include_usage=true.
A server that rejects stream_options (HTTP 400 naming it) is asked once more without, and
the backend remembers. Without a usage chunk, tokens_out counts content-bearing chunks
(one token per chunk on OpenAI, vLLM and llama.cpp) and tokens_in is estimated: with the
server's own tokenizer when its OpenAPI document lists `/extras/tokenize/count`
(llama-cpp-python), plus 4 tokens per message and 3 for the reply's priming; else chars/4.
The reply ends at `data: [DONE]`: nothing after it is read. The body carries temperature
and the config's sampling parameters (top_p, top_k, min_p, repeat_penalty, presence_penalty,
frequency_penalty: llama.cpp, llama-cpp-python and vLLM take them all), only those set.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx

from loop.backends.base import Backend, BackendConfig, ChatRequest, Stream, count
from loop.backends.keys import is_official, key_env_for, read_key
from loop.backends.retry import RetryPolicy, Sent, http_error, send_streaming
from loop.backends.sse import ServerSentEvent
from loop.errors import BackendError

OPENAI_URL = "https://api.openai.com/v1"
OPENAI_MODEL = "gpt-4o-mini"
TOKENIZE_PATH = "/extras/tokenize/count"


class OpenAIStream(Stream):
    """Chat completion chunks come as unnamed events; an `error` event is the server's error,
    events of other names are not this protocol's and are skipped."""

    def _deltas(self, events: Iterator[ServerSentEvent]) -> Iterator[str]:
        for event in events:
            if event.event not in ("message", "error"):
                continue
            if event.data.strip() == "[DONE]":
                self.completed = True
                return  # the reply ends here: whatever follows is not read
            if event.event == "error":
                raise self._server_error(event.data)
            chunk = self._parse(event.data)
            self._read_usage(chunk)
            for choice in chunk.get("choices") or []:
                if choice.get("finish_reason"):
                    self.finish_reason = choice["finish_reason"]
                content = (choice.get("delta") or {}).get("content")
                if content:
                    yield content
        if self.finish_reason is not None and not self._closed:
            self.completed = True  # a clean end after finish_reason, [DONE] or not

    def _read_usage(self, chunk: dict) -> None:
        """Token counts from `usage` (OpenAI, vLLM); cached prompt tokens from
        `usage.prompt_tokens_details.cached_tokens` (OpenAI) or `timings` (llama.cpp, whose
        cache_n + prompt_n is the prompt's length)."""
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._server_in = count(usage.get("prompt_tokens"), self._server_in)
            self._server_out = count(usage.get("completion_tokens"), self._server_out)
            details = usage.get("prompt_tokens_details")
            if isinstance(details, dict):
                self.tokens_cached = count(details.get("cached_tokens"), self.tokens_cached)
        timings = chunk.get("timings")
        if isinstance(timings, dict):
            cached, fresh = count(timings.get("cache_n")), count(timings.get("prompt_n"))
            self.tokens_cached = cached if cached is not None else self.tokens_cached
            if cached is not None and fresh is not None and not isinstance(usage, dict):
                self._server_in = cached + fresh  # the prompt, by the server's own count

    def _parse(self, data: str) -> dict:
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise self._malformed(data, "not JSON") from exc
        if not isinstance(chunk, dict):
            raise self._malformed(data, "not a JSON object")
        if chunk.get("error"):
            raise self._server_error(data)
        return chunk

    def _server_error(self, data: str) -> BackendError:
        try:
            said = json.loads(data)
        except ValueError:
            said = data[:200]
        if isinstance(said, dict):
            said = said.get("error", said)
        if isinstance(said, dict):
            said = said.get("message", said)
        return BackendError(
            f"{self.url} reported an error mid-stream: {said}",
            "retry; if it persists, check the server's log",
        )


class OpenAIBackend(Backend):
    """One OpenAI-compatible server. `unreachable_fix` says what to start if it is down."""

    kind = "openai"

    def __init__(
        self,
        config: BackendConfig,
        unreachable_fix: str | None = None,
        extra_body: dict | None = None,
    ) -> None:
        base_url = (config.base_url or OPENAI_URL).rstrip("/")
        super().__init__(_with(config, base_url=base_url))
        self.url = base_url
        self.api_key_env = key_env_for("openai", base_url, config.api_key_env)
        self._key = read_key(self.api_key_env, base_url) if self.api_key_env else None
        self._model = config.model or (OPENAI_MODEL if is_official("openai", base_url) else None)
        self._stream_options = True
        self._tokenizer: str | None | bool = None  # None: not looked up yet; False: none
        self._policy = RetryPolicy(max_attempts=config.max_attempts)
        self._extra_body = dict(extra_body or {})  # server-specific fields of every request
        self._unreachable_fix = unreachable_fix or (
            f"start the server at {base_url}, or fix --base-url / the profile's base_url"
        )

    @property
    def model(self) -> str | None:
        """The configured model, else the first one the server lists at /models."""
        if self._model is None:
            self._model = self._discover_model()
        return self._model

    def describe(self) -> dict:
        return {**super().describe(), "api_key_env": self.api_key_env}

    def stream(self, request: ChatRequest) -> OpenAIStream:
        """Send the request; return the open stream (retries happen before it starts)."""
        url = f"{self.url}/chat/completions"
        sent = self._send(url, request)
        if isinstance(sent, httpx.Response) and self._rejects_stream_options(sent):
            self._stream_options = False
            sent = self._send(url, request)
        if isinstance(sent, httpx.Response):
            raise http_error(sent, url, self.api_key_env, self._policy.max_attempts)
        return self._open(sent, url, request)

    def _open(self, sent: Sent, url: str, request: ChatRequest) -> OpenAIStream:
        return OpenAIStream(
            sent.response,
            url=url,
            timeouts=self.config.timeouts,
            t_sent=sent.t_sent,
            attempts=sent.attempts,
            retry_wait_s=sent.retry_wait_s,
            estimate_in=lambda: self._estimate_tokens_in(request.messages),
            max_tokens=_first(request.max_tokens, self.config.max_tokens),
            repetition_cut=self.config.repetition_cut,
        )

    def _send(self, url: str, request: ChatRequest) -> Sent | httpx.Response:
        return send_streaming(
            self._client,
            url,
            self._payload(request),
            self._headers(),
            self._policy,
            unreachable_fix=self._unreachable_fix,
        )

    def _payload(self, request: ChatRequest) -> dict:
        payload: dict = {"model": self.model or "default", "messages": request.messages}
        payload.update(self._extra_body)
        payload["stream"] = True
        if self._stream_options:
            payload["stream_options"] = {"include_usage": True}
        payload.update(self.sampling_params(request))
        max_tokens = _first(request.max_tokens, self.config.max_tokens)
        if max_tokens is not None:
            payload["max_tokens"] = max_tokens
        if request.seed is not None:
            payload["seed"] = request.seed
        return payload

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        return headers

    def _rejects_stream_options(self, response: httpx.Response) -> bool:
        return (
            self._stream_options
            and response.status_code in (400, 422)
            and "stream_options" in response.text
        )

    def _discover_model(self) -> str | None:
        try:
            response = self._client.get(f"{self.url}/models", headers=self._headers(), timeout=5)
            data = response.json().get("data") or []
            return data[0]["id"] if response.is_success and data else None
        except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def _estimate_tokens_in(self, messages: list[dict]) -> tuple[int, str]:
        texts = [m.get("content") or "" for m in messages if isinstance(m.get("content"), str)]
        tokenizer = self._tokenizer_url()
        if tokenizer:
            try:
                # a fresh connection: the stream's client may be closed by now, and a
                # single-slot server (llama.cpp) answers only once the generation has stopped
                response = httpx.post(
                    tokenizer, json={"input": "\n".join(texts)}, headers=self._headers(), timeout=10
                )
                count = int(response.json()["count"])
                return count + 4 * len(messages) + 3, "tokenizer"
            except (httpx.HTTPError, RuntimeError, ValueError, KeyError, TypeError):
                pass
        return sum(len(t) for t in texts) // 4 + 4 * len(messages) + 3, "chars/4"

    def _tokenizer_url(self) -> str | None:
        """The server's token-count endpoint, if its OpenAPI document lists one."""
        if self._tokenizer is None:
            root = self.url.removesuffix("/v1")
            self._tokenizer = False
            try:
                spec = httpx.get(f"{root}/openapi.json", timeout=3).json()
                if TOKENIZE_PATH in (spec.get("paths") or {}):
                    self._tokenizer = f"{root}{TOKENIZE_PATH}"
            except (httpx.HTTPError, RuntimeError, ValueError, AttributeError):
                pass
        return self._tokenizer or None


def _first(*values):
    return next((v for v in values if v is not None), None)


def _with(config: BackendConfig, **changes) -> BackendConfig:
    from dataclasses import replace

    return replace(config, **changes)
