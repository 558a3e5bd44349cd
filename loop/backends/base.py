"""What every backend shares: the request, the config, the timed stream, the backend base.

A Stream is a context manager and an iterator of text deltas. Its clock fields use
time.perf_counter():

    t_sent         just before the first HTTP attempt left (retry waits count towards TTFT;
                   `attempts` and `retry_wait_s` say how much of it was retrying)
    t_first_token  when the first non-empty text delta arrived
    t_last_token   when the last delta *yielded to the caller* arrived, so a caller that
                   stops early (s.close()) ends `generate` at the last token it used

Counts: `tokens_out` is the server's count when it sent usage and the stream ran to its
end, else the number of content-bearing chunks received (OpenAI, vLLM and llama.cpp send
one token per chunk). `tokens_in` is the server's count when sent, else an estimate:
`tokens_method` says which ("server", "tokenizer" or "chars/4").

Every failure while iterating is a BackendError: the protocol's own errors, and anything
unexpected while reading or decoding the stream (wrapped, the cause chained), so a
caller's `except BackendError` is enough. A reply that degenerates into repeating itself is
cut (the response closed, so the server stops) with RepetitionCut, a BackendError saying what
repeated and what the cut saved (loop/backends/repetition.py), unless the backend's config
has repetition_cut = False. Events with blank data carry nothing and are
skipped before the protocol sees them; a delta that is not a str is a malformed event.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Protocol

import httpx

from loop.backends.repetition import Repetition, RepetitionCut, RepetitionDetector
from loop.backends.sampling import Sampling
from loop.errors import BackendError


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion: OpenAI-style messages; None means the backend's default."""

    messages: list[dict]
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Timeouts:
    """Seconds. `first_token` bounds the wait for headers and the first token (prompt
    processing on a CPU is slow); `stall` bounds the silence between bytes afterwards."""

    connect: float = 10.0
    write: float = 30.0
    pool: float = 10.0
    first_token: float = 300.0
    stall: float = 60.0

    def httpx(self) -> httpx.Timeout:
        read = max(self.first_token, self.stall)
        return httpx.Timeout(connect=self.connect, read=read, write=self.write, pool=self.pool)


# Code generation samples cool by default: servers' own defaults (0.8 for llama-cpp-python,
# 1.0 for OpenAI) made the embedded model's first answer to `reach` succeed 1 time in 15,
# 0.2 made it 6 in 10 (bench/results/model_suite_exp_t02.json). A profile or --temperature
# overrides it.
DEFAULT_TEMPERATURE = 0.2


@dataclass(frozen=True)
class BackendConfig:
    """A resolved backend: a built-in kind or an armloop.toml profile, plus CLI overrides.

    `sampling`: the sampling parameters sent in every request besides temperature (only
    those set; loop/backends/sampling.py). `repetition_cut`: cut a reply that repeats itself
    (loop/backends/repetition.py)."""

    name: str
    kind: str  # local | openai | anthropic
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    temperature: float | None = DEFAULT_TEMPERATURE
    max_tokens: int | None = None
    price_in_per_mtok: float | None = None
    price_out_per_mtok: float | None = None
    n_ctx: int | None = None
    server: str | None = None  # local: "llama.cpp" (default) or "llama-cpp-python"
    slots: int | None = None  # local: requests served at once (llama.cpp)
    threads: int | None = None  # local: decoding threads
    max_attempts: int = 4
    timeouts: Timeouts = field(default_factory=Timeouts)
    sampling: Sampling = field(default_factory=Sampling)
    repetition_cut: bool = True


class Watchdog:
    """Cuts a response that goes silent: `limit` seconds without bytes -> `fired`.

    The limit is `first_token` until `got_token()`, then `stall`. Firing shuts the socket
    down, which wakes the blocked read at once and tells the server to stop.
    """

    def __init__(self, cut: Callable[[], None], timeouts: Timeouts) -> None:
        self._cut = cut
        self._stall = timeouts.stall
        self.limit = timeouts.first_token
        self.last = time.perf_counter()
        self.fired = False
        self.idle = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="armloop-watchdog", daemon=True)
        self._thread.start()

    def touch(self) -> None:
        self.last = time.perf_counter()

    def got_token(self) -> None:
        self.limit = self._stall

    def stop(self) -> None:
        self._done.set()

    def _run(self) -> None:
        while True:
            remaining = self.limit - (time.perf_counter() - self.last)
            if remaining <= 0:
                self.idle = time.perf_counter() - self.last
                self.fired = True
                self._cut()
                return
            if self._done.wait(min(remaining, 1.0)):
                return


def cut_response(response: httpx.Response) -> None:
    """Shut the response's socket down (safe from another thread), then close it."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Stream:
    """Timed iterator of text deltas over one streaming HTTP response.

    Subclasses implement `_deltas(events)`, turning SSE events into text deltas and
    setting usage fields (`_server_in`, `_server_out`, `finish_reason`) as they come.
    """

    def __init__(
        self,
        response: httpx.Response,
        *,
        url: str,
        timeouts: Timeouts,
        t_sent: float,
        attempts: int = 1,
        retry_wait_s: float = 0.0,
        estimate_in: Callable[[], tuple[int, str]] | None = None,
        max_tokens: int | None = None,
        repetition_cut: bool = True,
    ) -> None:
        self.url = url
        self.max_tokens = max_tokens  # what the request allowed (None: the server's limit)
        self.t_sent = t_sent
        self.t_headers = time.perf_counter()
        self.t_first_token: float | None = None
        self.t_last_token: float | None = None
        self.attempts = attempts
        self.retry_wait_s = retry_wait_s
        self.finish_reason: str | None = None
        self.tokens_cached: int | None = None  # prompt tokens the server had cached, if said
        self.completed = False  # the server said the reply ended ([DONE] / message_stop)
        self.stopped_early = False
        self.chunks_out = 0
        self._server_in: int | None = None
        self._server_out: int | None = None
        self._estimate_in = estimate_in
        self._estimated_in: tuple[int, str] | None = None
        self._response = response
        self._timeouts = timeouts
        self._watchdog = Watchdog(lambda: cut_response(response), timeouts)
        self._iter: Iterator[str] | None = None
        self._closed = False
        self._last_data: str | None = None  # the last event's data, for error messages
        self._repetition = RepetitionDetector() if repetition_cut else None

    # -- the caller's side -------------------------------------------------------------

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[str]:
        if self._iter is None:
            self._iter = self._timed()
        return self._iter

    def text(self) -> str:
        """Read the whole reply."""
        return "".join(self)

    def close(self) -> None:
        """Stop: closes the HTTP response (the server sees the disconnect and stops)."""
        if self._closed:
            return
        self._closed = True
        if not self.completed:
            self.stopped_early = True
            cut_response(self._response)
        self._watchdog.stop()
        self._response.close()

    @property
    def usage_from_server(self) -> bool:
        """True when both counts are the server's own (usage sent, stream not cut short)."""
        return self._server_in is not None and self._tokens_out_is_server()

    @property
    def tokens_out(self) -> int:
        if self._tokens_out_is_server():
            return self._server_out  # type: ignore[return-value]
        return self.chunks_out

    @property
    def tokens_in(self) -> int:
        return self._tokens_in()[0]

    @property
    def tokens_method(self) -> str:
        """How tokens_in was counted: server, tokenizer (server's own, estimated template
        overhead) or chars/4."""
        return self._tokens_in()[1]

    @property
    def ttft_s(self) -> float | None:
        return None if self.t_first_token is None else self.t_first_token - self.t_sent

    @property
    def generate_s(self) -> float | None:
        if self.t_first_token is None or self.t_last_token is None:
            return None
        return self.t_last_token - self.t_first_token

    @property
    def tokens_per_s(self) -> float | None:
        """Decode rate: tokens after the first over first -> last token (None if < 2)."""
        span = self.generate_s
        if not span or self.tokens_out < 2:
            return None
        return (self.tokens_out - 1) / span

    def timing(self) -> dict:
        """The honest account, as a JSON-ready dict."""
        return {
            "ttft_s": self.ttft_s,
            "generate_s": self.generate_s,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "tokens_cached": self.tokens_cached,
            "tokens_per_s": self.tokens_per_s,
            "usage_from_server": self.usage_from_server,
            "tokens_method": self.tokens_method,
            "finish_reason": self.finish_reason,
            "attempts": self.attempts,
            "retry_wait_s": self.retry_wait_s,
            "stopped_early": self.stopped_early,
        }

    # -- internals ---------------------------------------------------------------------

    def _tokens_out_is_server(self) -> bool:
        return self._server_out is not None and not self.stopped_early

    def _tokens_in(self) -> tuple[int, str]:
        if self._server_in is not None:
            return self._server_in, "server"
        if self._estimated_in is None:
            self._estimated_in = self._estimate_in() if self._estimate_in else (0, "chars/4")
        return self._estimated_in

    def _timed(self) -> Iterator[str]:
        from loop.backends.sse import SSEDecoder

        events = self._events(SSEDecoder())
        try:
            for delta in self._deltas(events):
                if not isinstance(delta, str):
                    why = f"text of type {type(delta).__name__}, not a string"
                    raise self._malformed(self._last_data or "", why)
                now = time.perf_counter()
                if self.t_first_token is None:
                    self.t_first_token = now
                    self._watchdog.got_token()
                self.chunks_out += 1
                if self._repetition is not None and (found := self._repetition.feed(delta)):
                    raise self._repeating(found, now)
                self.t_last_token = now
                yield delta
        except BackendError:
            raise
        except Exception as exc:  # noqa: BLE001 - the caller's `except BackendError` is enough
            raise self._unreadable(exc) from exc
        finally:
            events.close()  # a reply that ended ([DONE]) leaves the rest of the body unread
            self._watchdog.stop()
        if not self.completed and not self._closed:
            raise self._cut_error("the stream ended before the reply was complete")

    def _events(self, decoder):
        try:
            for chunk in self._response.iter_bytes():
                self._watchdog.touch()
                yield from self._meaningful(decoder.feed(chunk))
            yield from self._meaningful(decoder.finish())
        except httpx.TransportError as exc:
            if self._watchdog.fired:
                raise self._stall_error() from exc
            if self._closed:
                return
            what = f"the connection broke mid-stream ({type(exc).__name__})"
            raise self._cut_error(what) from exc
        if self._watchdog.fired:
            raise self._stall_error()

    def _meaningful(self, events: list) -> Iterator:
        for event in events:
            self._last_data = event.data
            if event.data.strip():  # `data:` alone (a keepalive) carries nothing
                yield event

    def _repeating(self, found: Repetition, now: float) -> RepetitionCut:
        """Close the response (the server stops generating) and say what that saved."""
        self.close()
        span = now - self.t_first_token if self.t_first_token is not None else 0.0
        rate = (self.chunks_out - 1) / span if span > 0 and self.chunks_out >= 2 else None
        return RepetitionCut(
            found, tokens_out=self.chunks_out, max_tokens=self.max_tokens, tokens_per_s=rate
        )

    def _unreadable(self, exc: Exception) -> BackendError:
        last = "" if self._last_data is None else f"; last event: {self._last_data[:200]!r}"
        return BackendError(
            f"{self.url}: could not read the stream ({type(exc).__name__}: {exc}), after "
            f"{self.chunks_out} tokens{last}",
            "the server sent something this backend does not understand: check the backend "
            "kind and base URL, and retry; if a server that follows the protocol does this, "
            "it is an armloop bug (report the server and the last event)",
        )

    def _stall_error(self) -> BackendError:
        waiting = "the first token" if self.t_first_token is None else "more tokens"
        return BackendError(
            f"{self.url} went silent: no bytes for {self._watchdog.idle:.1f} s while waiting "
            f"for {waiting} (after {self.chunks_out} tokens)",
            "the server is stuck or overloaded; retry, or raise the profile's "
            f"{'first_token_s' if self.t_first_token is None else 'stall_s'}",
        )

    def _cut_error(self, what: str) -> BackendError:
        return BackendError(
            f"{self.url}: {what}, after {self.chunks_out} tokens",
            "the server or the network dropped the connection; retry the request",
        )

    def _malformed(self, data: str, why: str) -> BackendError:
        return BackendError(
            f"{self.url} sent a malformed stream event ({why}): {data[:200]!r}",
            "the server is not speaking this backend's streaming protocol; check the backend "
            "kind and base URL",
        )

    def _deltas(self, events: Iterator) -> Iterator[str]:  # pragma: no cover - abstract
        raise NotImplementedError


class ChatBackend(Protocol):
    """What the loop needs of a model backend."""

    kind: str
    config: BackendConfig

    def describe(self) -> dict: ...

    def stream(self, request: ChatRequest) -> Stream: ...

    def warm(self, prefix: list[dict] | None = None, streams: int = 1) -> dict[str, float]: ...

    def close(self) -> None: ...


def count(value: object, default: int | None = None) -> int | None:
    """A token count from a server's usage, or `default` if it is not a non-negative int."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return default


class Backend:
    """Base class: config, HTTP client, describe(), close(). Subclasses implement stream()."""

    kind = "base"

    def __init__(self, config: BackendConfig) -> None:
        self.config = config
        self.price_in_per_mtok = config.price_in_per_mtok
        self.price_out_per_mtok = config.price_out_per_mtok
        self._client = httpx.Client(timeout=config.timeouts.httpx())

    @property
    def model(self) -> str | None:
        return self.config.model

    @property
    def base_url(self) -> str | None:
        return self.config.base_url

    def sampling_params(self, request: ChatRequest | None = None) -> dict[str, float | int]:
        """The sampling parameters a request's body carries: temperature (the request's, else
        the config's) and the config's `sampling`, only those set."""
        temperature = self.config.temperature
        if request is not None and request.temperature is not None:
            temperature = request.temperature
        sent: dict[str, float | int] = {} if temperature is None else {"temperature": temperature}
        return {**sent, **self.config.sampling.sent()}

    def describe(self) -> dict:
        """Everything needed to repeat a run with this backend (the key's variable name only).

        options.sampling is what every request sends unless the loop sets a request's own
        temperature (the generate events in events.jsonl carry each request's)."""
        c = self.config
        options = {
            "temperature": c.temperature,
            "max_tokens": c.max_tokens,
            "price_in_per_mtok": self.price_in_per_mtok,
            "price_out_per_mtok": self.price_out_per_mtok,
            "max_attempts": c.max_attempts,
            "repetition_cut": c.repetition_cut,
            "timeouts": asdict(c.timeouts),
            "sampling": self.sampling_params(),
        }
        if c.n_ctx is not None:
            options["n_ctx"] = c.n_ctx
        return {
            "kind": self.kind,
            "name": c.name,
            "model": self.model,
            "base_url": self.base_url,
            "api_key_env": c.api_key_env,
            "options": options,
        }

    def stream(self, request: ChatRequest) -> Stream:  # pragma: no cover - abstract
        raise NotImplementedError

    def warm(self, prefix: list[dict] | None = None, streams: int = 1) -> dict[str, float]:
        """Get ready before the first timed request; seconds per step taken ({} if none).

        Remote servers need nothing (and a prefill would be billed); the embedded model starts
        its server here (able to serve `streams` requests at once) and prefills `prefix`, the
        run's unchanging first messages."""
        return {}

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
