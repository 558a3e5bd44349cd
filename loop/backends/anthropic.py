"""Anthropic Messages API, streamed: POST {base_url}/v1/messages.

Headers x-api-key and anthropic-version: 2023-06-01. System messages go to the top-level
`system`. Named SSE events: message_start (usage.input_tokens, plus cache read/creation
tokens), content_block_start, content_block_delta (text_delta is text; other delta types
are skipped), content_block_stop, message_delta (stop_reason, cumulative
usage.output_tokens), message_stop (the end: nothing after it is read), ping, error; ping
and unknown named events are skipped unread, as Anthropic's versioning policy asks (an
unnamed event is typed by its body's `type`). Usage counts that are not non-negative ints
are ignored. `seed` has no Anthropic equivalent and is not sent. Of the sampling parameters
the Messages API takes top_p and top_k; a config with any other (min_p, repeat_penalty,
presence_penalty, frequency_penalty) is refused when the backend is made.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import httpx

from loop.backends.base import Backend, BackendConfig, ChatRequest, Stream, count
from loop.backends.keys import key_env_for, read_key
from loop.backends.retry import RetryPolicy, http_error, send_streaming
from loop.backends.sse import ServerSentEvent
from loop.errors import BackendError

ANTHROPIC_URL = "https://api.anthropic.com"
ANTHROPIC_MODEL = "claude-3-5-haiku-latest"
ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
SAMPLING = ("top_p", "top_k")  # the sampling parameters the Messages API takes
# named events this backend reads; "message" is an unnamed event (typed by its body)
KNOWN_EVENTS = {
    "message", "message_start", "content_block_start", "content_block_delta",
    "content_block_stop", "message_delta", "message_stop", "error",
}  # fmt: skip


class AnthropicStream(Stream):
    def _deltas(self, events: Iterator[ServerSentEvent]) -> Iterator[str]:
        for event in events:
            if event.event not in KNOWN_EVENTS:
                continue  # a newer event type: ignored, as the versioning policy asks
            body = self._parse(event)
            kind = body.get("type", event.event)
            if kind == "message_start":
                self._usage((body.get("message") or {}).get("usage") or {})
            elif kind == "content_block_start":
                block = body.get("content_block") or {}
                if block.get("type") == "text" and block.get("text"):
                    yield block["text"]
            elif kind == "content_block_delta":
                delta = body.get("delta") or {}
                if delta.get("type") == "text_delta" and delta.get("text"):
                    yield delta["text"]
            elif kind == "message_delta":
                stop = (body.get("delta") or {}).get("stop_reason")
                self.finish_reason = stop or self.finish_reason
                self._usage(body.get("usage") or {})
            elif kind == "message_stop":
                self.completed = True
                return  # the reply ends here: whatever follows is not read
            elif kind == "error":
                err = body.get("error") or {}
                err = err if isinstance(err, dict) else {"message": err}
                raise BackendError(
                    f"{self.url} reported {err.get('type', 'an error')} mid-stream: "
                    f"{err.get('message', body)}",
                    "retry later (overloaded_error is temporary); check the model name otherwise",
                )

    def _usage(self, usage: dict) -> None:
        tokens_in = count(usage.get("input_tokens"))
        if tokens_in is not None:
            cached = count(usage.get("cache_read_input_tokens"), 0) + count(
                usage.get("cache_creation_input_tokens"), 0
            )
            self._server_in = tokens_in + cached
        if self._server_in is not None:
            self._server_out = count(usage.get("output_tokens"), self._server_out)

    def _parse(self, event: ServerSentEvent) -> dict:
        try:
            body = json.loads(event.data)
        except ValueError as exc:
            raise self._malformed(event.data, f"{event.event} data is not JSON") from exc
        if not isinstance(body, dict):
            raise self._malformed(event.data, "not a JSON object")
        return body


class AnthropicBackend(Backend):
    kind = "anthropic"

    def __init__(self, config: BackendConfig) -> None:
        refused = [name for name in config.sampling.sent() if name not in SAMPLING]
        if refused:
            raise BackendError(
                f"backend {config.name!r}: the Anthropic Messages API takes no "
                f"{', '.join(refused)}",
                f"remove {', '.join(refused)} from [backends.{config.name}.sampling]; "
                f"it takes {' and '.join(SAMPLING)}",
            )
        root = (config.base_url or ANTHROPIC_URL).rstrip("/").removesuffix("/v1")
        super().__init__(replace(config, base_url=root, model=config.model or ANTHROPIC_MODEL))
        self.url = f"{root}/v1/messages"
        self.api_key_env = key_env_for("anthropic", root, config.api_key_env)
        self._key = read_key(self.api_key_env, root) if self.api_key_env else None
        self._policy = RetryPolicy(max_attempts=config.max_attempts)

    def describe(self) -> dict:
        return {**super().describe(), "api_key_env": self.api_key_env}

    def stream(self, request: ChatRequest) -> AnthropicStream:
        sent = send_streaming(
            self._client,
            self.url,
            self._payload(request),
            self._headers(),
            self._policy,
            unreachable_fix=f"check the network and base URL {self.config.base_url}",
        )
        if isinstance(sent, httpx.Response):
            raise http_error(sent, self.url, self.api_key_env, self._policy.max_attempts)
        chars = sum(len(str(m.get("content", ""))) for m in request.messages)
        return AnthropicStream(
            sent.response,
            url=self.url,
            timeouts=self.config.timeouts,
            t_sent=sent.t_sent,
            attempts=sent.attempts,
            retry_wait_s=sent.retry_wait_s,
            estimate_in=lambda: (chars // 4, "chars/4"),
            max_tokens=self._max_tokens(request),
            repetition_cut=self.config.repetition_cut,
        )

    def _payload(self, request: ChatRequest) -> dict:
        system = [m["content"] for m in request.messages if m.get("role") == "system"]
        messages = [m for m in request.messages if m.get("role") != "system"]
        max_tokens = self._max_tokens(request)
        payload: dict = {"model": self.model, "max_tokens": max_tokens, "messages": messages}
        if system:
            payload["system"] = "\n\n".join(system)
        payload.update(self.sampling_params(request))
        payload["stream"] = True
        return payload

    def _max_tokens(self, request: ChatRequest) -> int:
        return request.max_tokens or self.config.max_tokens or DEFAULT_MAX_TOKENS

    def _headers(self) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION, "accept": "text/event-stream"}
        if self._key:
            headers["x-api-key"] = self._key
        return headers
