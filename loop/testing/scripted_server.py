"""A scripted, paced OpenAI- and Anthropic-compatible HTTP server on real loopback sockets.

For tests and benchmarks:

    with ScriptedServer(["def f(): pass"], tokens_per_s=50, first_token_delay=0.2) as srv:
        backend = make_backend(resolve("openai", base_url=srv.url))   # srv.url ends in /v1
        ...
        srv.requests[0].json, srv.requests[0].headers, srv.tokens_sent[0]

Replies: a string, a list (by streamed call index; the last repeats) or a callable
(request_json) -> str. A reply is cut into tokens at word boundaries (each token is a
word with its trailing whitespace), so `"".join(tokens) == reply`.

Pacing is deterministic: token i leaves at t0 + first_token_delay + i / tokens_per_s,
t0 being when the request was read (sleep-paced on an absolute schedule, no drift).

Faults: the first `fail_first` completion calls get `fail_status` (with Retry-After /
retry-after-ms if given); `stall_after=N` sends N tokens then goes silent (until the client
hangs up or `stall_s`); `malformed_after=N` sends a broken event after N tokens;
`cut_after=N` drops the connection after N tokens (`cut_if(request_json)` decides per
request); `usage=False` never sends usage;
`reject_stream_options=True` answers 400 to requests with stream_options;
`require_key` wants that Bearer token / x-api-key; `tokenizer=True` serves
/extras/tokenize/count and lists it in /openapi.json (like llama-cpp-python).
`recorded=bytes` replays a recorded stream body verbatim, in `recorded_chunk`-byte pieces
(so events straddle chunk boundaries); a list of bytes is sent one HTTP chunk per item.

Raw bytes inside a generated stream, to test decoders: `inject={i: bytes}` sends the bytes
verbatim before token i (i = the number of tokens: just before the end events); `between`
is sent between every two tokens (comments, keepalives, events of unknown type);
`after_end` is sent after the final event ([DONE] / message_stop), and `hold_open_s` then
keeps the stream open that long (until the client hangs up); `eol=b"\r"` or `b"\r\n"`
ends the generated events' lines with CR or CRLF instead of LF; `stream_headers` are added
to the streamed response's headers (e.g. a Content-Encoding the body does not have).

The server notices a client that hangs up (it checks the socket before every token) and
stops generating; `tokens_sent[i]` is what call i really sent, `disconnected[i]` whether
the client left early.
"""

from __future__ import annotations

import json
import re
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Reply = str | list[str] | Callable[[dict], str]
_TOKEN = re.compile(r"\s+|\S+\s*")


def tokenize(text: str) -> list[str]:
    """Words with their trailing whitespace; leading whitespace is its own token."""
    return _TOKEN.findall(text)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    json: dict | None
    t: float = field(default_factory=time.perf_counter)


class _Gone(Exception):
    """The client hung up."""


class ScriptedServer:
    def __init__(
        self,
        replies: Reply = "Hello from the scripted server.",
        *,
        tokens_per_s: float | None = None,
        first_token_delay: float = 0.0,
        fail_first: int = 0,
        fail_status: int = 429,
        retry_after: str | None = None,
        retry_after_ms: int | None = None,
        stall_after: int | None = None,
        stall_s: float = 60.0,
        malformed_after: int | None = None,
        cut_after: int | None = None,
        cut_if: Callable[[dict], int | None] | None = None,
        usage: bool = True,
        reject_stream_options: bool = False,
        require_key: str | None = None,
        tokenizer: bool = False,
        model: str = "scripted-model",
        recorded: bytes | list[bytes] | None = None,
        recorded_chunk: int = 7,
        inject: dict[int, bytes] | None = None,
        between: bytes = b"",
        after_end: bytes = b"",
        hold_open_s: float = 0.0,
        eol: bytes = b"\n",
        stream_headers: dict[str, str] | None = None,
    ) -> None:
        self.replies = replies
        self.tokens_per_s = tokens_per_s
        self.first_token_delay = first_token_delay
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.retry_after = retry_after
        self.retry_after_ms = retry_after_ms
        self.stall_after = stall_after
        self.stall_s = stall_s
        self.malformed_after = malformed_after
        self.cut_after = cut_after
        self.cut_if = cut_if  # per request: the token index to drop the connection at, or None
        self.usage = usage
        self.reject_stream_options = reject_stream_options
        self.require_key = require_key
        self.tokenizer = tokenizer
        self.model = model
        self.recorded = recorded
        self.recorded_chunk = recorded_chunk
        self.inject = inject or {}
        self.between = between
        self.after_end = after_end
        self.hold_open_s = hold_open_s
        self.eol = eol
        self.stream_headers = stream_headers or {}
        self.requests: list[Recorded] = []
        self.tokens_sent: list[int] = []
        self.disconnected: list[bool] = []
        self._calls = 0
        self._streams = 0
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> ScriptedServer:
        handler = type("Handler", (_Handler,), {"scripted": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def root(self) -> str:
        """http://127.0.0.1:PORT (Anthropic-style base URL)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT/v1 (OpenAI-style base URL)."""
        return f"{self.root}/v1"

    # -- script ------------------------------------------------------------------------

    def _next_call(self) -> int:
        with self._lock:
            self._calls += 1
            return self._calls - 1

    def _next_stream(self) -> int:
        with self._lock:
            self.tokens_sent.append(0)
            self.disconnected.append(False)
            self._streams += 1
            return self._streams - 1

    def _reply_for(self, index: int, body: dict) -> str:
        if callable(self.replies):
            return self.replies(body)
        if isinstance(self.replies, str):
            return self.replies
        return self.replies[min(index, len(self.replies) - 1)]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    scripted: ScriptedServer

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        # as real servers do: no Nagle delay on small token writes (it skews TTFT by ~40 ms)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- routing -----------------------------------------------------------------------

    def do_GET(self) -> None:
        self._record(None)
        if self.path.rstrip("/") == "/v1/models":
            data = [{"id": self.scripted.model, "object": "model", "owned_by": "armloop"}]
            self._json(200, {"object": "list", "data": data})
        elif self.path == "/openapi.json":
            paths = {"/v1/chat/completions": {}, "/v1/models": {}}
            if self.scripted.tokenizer:
                paths["/extras/tokenize/count"] = {}
            self._json(200, {"openapi": "3.1.0", "paths": paths})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._record(None)
            self._json(400, {"error": {"message": "body is not JSON"}})
            return
        self._record(body)
        t0 = time.perf_counter()
        if self.path == "/extras/tokenize/count" and self.scripted.tokenizer:
            self._json(200, {"count": len(tokenize(body.get("input", "")))})
        elif self.path == "/v1/chat/completions":
            self._completion(body, t0, anthropic=False)
        elif self.path == "/v1/messages":
            self._completion(body, t0, anthropic=True)
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    # -- completions -------------------------------------------------------------------

    def _completion(self, body: dict, t0: float, anthropic: bool) -> None:
        s = self.scripted
        if not self._authorized(anthropic):
            msg = "invalid x-api-key" if anthropic else "Incorrect API key provided"
            self._json(401, {"error": {"type": "authentication_error", "message": msg}})
            return
        call = s._next_call()
        if call < s.fail_first:
            self._fail(s.fail_status)
            return
        if s.reject_stream_options and "stream_options" in body:
            msg = "Unrecognized request argument supplied: stream_options"
            self._json(400, {"error": {"message": msg}})
            return
        index = s._next_stream()
        tokens = tokenize(s._reply_for(index, body))
        limit = body.get("max_tokens")
        finish = "stop"
        if isinstance(limit, int) and len(tokens) > limit:
            tokens, finish = tokens[:limit], "length"
        prompt = _prompt_tokens(body)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in s.stream_headers.items():
            self.send_header(name, value)
        self.end_headers()
        emit = _AnthropicEvents(s.model, prompt) if anthropic else _OpenAIEvents(s.model, prompt)
        try:
            if s.recorded is not None:
                self._replay(s.recorded, s.recorded_chunk)
                return
            self._stream(index, tokens, t0, emit, finish, body)
        except _Gone:
            s.disconnected[index] = True
            self.close_connection = True

    def _stream(self, index: int, tokens: list[str], t0: float, emit, finish: str, body: dict):
        s = self.scripted
        cut = s.cut_if(body) if s.cut_if else s.cut_after
        self._event(emit.start())
        for i, token in enumerate(tokens):
            if i == s.stall_after:
                self._stall()
            if i == s.malformed_after:
                self._chunk(b'data: {"choices": [{"delta": {"content": "oops"\n\n')
            if i == cut:
                self._cut()
            if i in s.inject:
                self._chunk(s.inject[i])
            if i and s.between:
                self._chunk(s.between)
            if s.tokens_per_s:
                _sleep_until(t0 + s.first_token_delay + i / s.tokens_per_s)
            elif i == 0 and s.first_token_delay:
                _sleep_until(t0 + s.first_token_delay)
            self._event(emit.token(token))
            s.tokens_sent[index] += 1
        if len(tokens) in s.inject:
            self._chunk(s.inject[len(tokens)])
        with_usage = s.usage and (emit.always_usage or _wants_usage(body))
        self._event(emit.end(finish, len(tokens), with_usage))
        if s.after_end:
            self._chunk(s.after_end)
        if s.hold_open_s:
            self._hold(s.hold_open_s)
        self._send(b"0\r\n\r\n")

    def _event(self, data: bytes) -> None:
        """A generated event, its lines ended with `eol` (JSON bodies hold no raw newline)."""
        eol = self.scripted.eol
        self._chunk(data if eol == b"\n" else data.replace(b"\n", eol))

    def _replay(self, data: bytes | list[bytes], size: int) -> None:
        pieces = (
            data
            if isinstance(data, list)
            else [data[start : start + size] for start in range(0, len(data), size)]
        )
        for piece in pieces:
            self._chunk(piece)
        self._send(b"0\r\n\r\n")

    def _stall(self) -> None:
        self._hold(self.scripted.stall_s)
        raise _Gone()

    def _hold(self, seconds: float) -> None:
        """Send nothing for `seconds`; _Gone as soon as the client hangs up."""
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            self._check_gone(wait=0.05)

    def _cut(self) -> None:
        self.connection.shutdown(socket.SHUT_RDWR)
        raise _Gone()

    # -- plumbing ----------------------------------------------------------------------

    def _authorized(self, anthropic: bool) -> bool:
        key = self.scripted.require_key
        if key is None:
            return True
        if anthropic:
            return self.headers.get("x-api-key") == key
        return self.headers.get("Authorization") == f"Bearer {key}"

    def _fail(self, status: int) -> None:
        s = self.scripted
        headers = {}
        if s.retry_after is not None:
            headers["Retry-After"] = s.retry_after
        if s.retry_after_ms is not None:
            headers["retry-after-ms"] = str(s.retry_after_ms)
        self._json(status, {"error": {"message": f"scripted failure {status}"}}, headers)

    def _record(self, body: dict | None) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.scripted.requests.append(Recorded(self.command, self.path, headers, body))

    def _json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _chunk(self, data: bytes) -> None:
        if not data:
            return  # an empty HTTP chunk would end the body
        self._check_gone()
        self._send(b"%x\r\n%s\r\n" % (len(data), data))

    def _send(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError as exc:
            raise _Gone() from exc

    def _check_gone(self, wait: float = 0.0) -> None:
        """Raise _Gone if the client closed its end (readable with nothing to read)."""
        sock = self.connection
        readable, _, _ = select.select([sock], [], [], wait)
        if readable:
            try:
                if sock.recv(1, socket.MSG_PEEK) == b"":
                    raise _Gone()
            except OSError as exc:
                raise _Gone() from exc


class _OpenAIEvents:
    always_usage = False

    def __init__(self, model: str, prompt_tokens: int) -> None:
        self.model = model
        self.prompt = prompt_tokens
        self.created = int(time.time())

    def _chunk(self, choices: list, usage: dict | None = None) -> bytes:
        body = {
            "id": "chatcmpl-scripted",
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if usage is not None:
            body["usage"] = usage
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    def start(self) -> bytes:
        delta = {"role": "assistant", "content": ""}
        return self._chunk([{"index": 0, "delta": delta, "finish_reason": None}])

    def token(self, text: str) -> bytes:
        return self._chunk([{"index": 0, "delta": {"content": text}, "finish_reason": None}])

    def end(self, finish: str, n: int, with_usage: bool) -> bytes:
        out = self._chunk([{"index": 0, "delta": {}, "finish_reason": finish}])
        if with_usage:
            usage = {"prompt_tokens": self.prompt, "completion_tokens": n}
            usage["total_tokens"] = self.prompt + n
            out += self._chunk([], usage)
        return out + b"data: [DONE]\n\n"


class _AnthropicEvents:
    always_usage = True

    def __init__(self, model: str, prompt_tokens: int) -> None:
        self.model = model
        self.prompt = prompt_tokens

    @staticmethod
    def _event(name: str, body: dict) -> bytes:
        return f"event: {name}\ndata: {json.dumps(body)}\n\n".encode()

    def start(self) -> bytes:
        message = {
            "id": "msg_scripted",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": self.model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self.prompt, "output_tokens": 1},
        }
        block = {"type": "content_block_start", "index": 0}
        block["content_block"] = {"type": "text", "text": ""}
        return (
            self._event("message_start", {"type": "message_start", "message": message})
            + self._event("content_block_start", block)
            + self._event("ping", {"type": "ping"})
        )

    def token(self, text: str) -> bytes:
        delta = {"type": "text_delta", "text": text}
        body = {"type": "content_block_delta", "index": 0, "delta": delta}
        return self._event("content_block_delta", body)

    def end(self, finish: str, n: int, with_usage: bool) -> bytes:
        stop = "end_turn" if finish == "stop" else "max_tokens"
        delta = {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}}
        if with_usage:
            delta["usage"] = {"output_tokens": n}
        return (
            self._event("content_block_stop", {"type": "content_block_stop", "index": 0})
            + self._event("message_delta", delta)
            + self._event("message_stop", {"type": "message_stop"})
        )


def _prompt_tokens(body: dict) -> int:
    texts = [m.get("content") for m in body.get("messages") or []]
    if isinstance(body.get("system"), str):
        texts.append(body["system"])
    return sum(len(tokenize(t)) for t in texts if isinstance(t, str))


def _wants_usage(body: dict) -> bool:
    return bool((body.get("stream_options") or {}).get("include_usage"))


def _sleep_until(deadline: float) -> None:
    remaining = deadline - time.perf_counter()
    if remaining > 0:
        time.sleep(remaining)
