"""Sending a streaming request: retries before the stream starts, and HTTP errors explained.

Retried: connect errors and HTTP 408, 409, 429 and 5xx, up to `max_attempts` in all. The
wait is Retry-After (`retry-after-ms`, or `retry-after` in seconds or as an HTTP date) when
the server gives one of at most `max_retry_after_s`, else capped exponential backoff with
jitter (as openai-python does). `x-should-retry: true|false` overrides the status rule.
Nothing is retried once a 2xx response has started: the stream's timing would be a lie.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from loop.errors import BackendError

RETRY_STATUS = frozenset({408, 409, 429})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    initial_s: float = 0.5
    cap_s: float = 8.0
    max_retry_after_s: float = 60.0


@dataclass(frozen=True)
class Sent:
    """A 2xx streaming response and what it took to get it."""

    response: httpx.Response
    t_sent: float
    attempts: int
    retry_wait_s: float


def retry_after_s(headers: httpx.Headers, now: float | None = None) -> float | None:
    """The server's requested wait in seconds, or None."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:  # "-0000" dates parse naive; HTTP dates are GMT
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return max(0.0, parsed.timestamp() - (time.time() if now is None else now))


def backoff_s(policy: RetryPolicy, retries_done: int) -> float:
    """Capped exponential backoff, jittered down by up to 25%."""
    delay = min(policy.initial_s * 2.0**retries_done, policy.cap_s)
    return delay * (1.0 - 0.25 * random.random())


def should_retry(response: httpx.Response) -> bool:
    hint = response.headers.get("x-should-retry")
    if hint in ("true", "false"):
        return hint == "true"
    return response.status_code in RETRY_STATUS or response.status_code >= 500


def wait_s(policy: RetryPolicy, retries_done: int, headers: httpx.Headers) -> float:
    asked = retry_after_s(headers)
    if asked is not None and 0 <= asked <= policy.max_retry_after_s:
        return asked
    return backoff_s(policy, retries_done)


def send_streaming(
    client: httpx.Client,
    url: str,
    payload: dict,
    headers: dict[str, str],
    policy: RetryPolicy,
    *,
    unreachable_fix: str,
    sleep: Callable[[float], None] = time.sleep,
) -> Sent | httpx.Response:
    """POST and return Sent on 2xx; a final non-2xx response (body read) is returned as is.

    Connect failures that outlast the retries raise BackendError naming the URL.
    """
    t_sent = time.perf_counter()
    waited = 0.0
    for attempt in range(1, policy.max_attempts + 1):
        last = attempt == policy.max_attempts
        try:
            request = client.build_request("POST", url, json=payload, headers=headers)
            response = client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            if last:
                raise BackendError(
                    f"cannot reach {url} ({_reason(exc)}) after {attempt} attempts",
                    unreachable_fix,
                ) from exc
            pause = backoff_s(policy, attempt - 1)
        except httpx.TimeoutException as exc:
            raise BackendError(
                f"{url} sent no response headers in time ({type(exc).__name__})",
                "the server is overloaded or stuck; retry, or raise the profile's first_token_s",
            ) from exc
        except httpx.TransportError as exc:
            raise BackendError(f"request to {url} failed: {_reason(exc)}", unreachable_fix) from exc
        else:
            if response.is_success:
                return Sent(response, t_sent, attempt, waited)
            response.read()
            response.close()
            if last or not should_retry(response):
                return response
            pause = wait_s(policy, attempt - 1, response.headers)
        sleep(pause)
        waited += pause
    raise AssertionError("unreachable")  # pragma: no cover


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


def error_message(response: httpx.Response) -> str:
    """The server's own words from an error body (OpenAI, Anthropic, FastAPI or plain)."""
    text = response.text.strip()
    try:
        body = json.loads(text)
    except ValueError:
        return text[:300]
    if isinstance(body, dict):
        err = body.get("error", body.get("detail", body))
        if isinstance(err, dict):
            err = err.get("message", err)
        return str(err)[:300]
    return text[:300]


def http_error(
    response: httpx.Response, url: str, key_env: str | None, attempts: int
) -> BackendError:
    """Explain a final non-2xx response: what happened and what to do."""
    status = response.status_code
    said = error_message(response)
    where = f"{url} answered HTTP {status}: {said}"
    if status in (401, 403):
        if key_env:
            return BackendError(
                f"the key in ${key_env} was rejected: {where}",
                f"set {key_env} to a valid key for this server",
            )
        return BackendError(
            f"{where} (no key was sent)",
            "this server wants a key: add a profile to armloop.toml with base_url and "
            "api_key_env naming the variable that holds it",
        )
    if status == 404:
        return BackendError(where, "check the base URL (OpenAI-style URLs end in /v1) and model")
    if status in RETRY_STATUS or status >= 500:
        return BackendError(
            f"{where} (gave up after {attempts} attempts)",
            "the server is rate-limited or failing; wait and retry, or raise max_attempts",
        )
    return BackendError(where, "check the model name and request options for this server")
