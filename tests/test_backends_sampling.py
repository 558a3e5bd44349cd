"""Explicit sampling: what reaches the server's request body, what a profile may say, and the
embedded model's parameters against llama-cpp-python's own server defaults."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import pytest

from loop.backends import BackendConfig, BackendError, ChatRequest, make_backend
from loop.backends.profiles import resolve
from loop.backends.sampling import ALLOWED, EMBEDDED_SAMPLING, Sampling
from loop.testing.scripted_server import ScriptedServer

MSGS = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "write code"}]
PICKED = Sampling(top_p=0.9, top_k=20, min_p=0.05, repeat_penalty=1.1, frequency_penalty=0.25)


def backend(kind: str, srv: ScriptedServer, **changes):
    url = srv.url if kind == "openai" else srv.root
    config = BackendConfig(name="t", kind=kind, base_url=url, model="m")
    return make_backend(replace(config, **changes))


def body_of(b, srv: ScriptedServer, **request) -> dict:
    with b.stream(ChatRequest(MSGS, **request)) as s:
        s.text()
    return [r.json for r in srv.requests if r.method == "POST"][-1]


def test_sampling_parameters_reach_the_request_body():
    with ScriptedServer("ok") as srv, backend("openai", srv, sampling=PICKED) as b:
        body = body_of(b, srv)
        hotter = body_of(b, srv, temperature=0.7)
        described = b.describe()["options"]
    assert body["temperature"] == 0.2
    for name, value in PICKED.sent().items():
        assert body[name] == value and hotter[name] == value
    assert "presence_penalty" not in body  # not set: not sent
    assert hotter["temperature"] == 0.7
    assert described["sampling"] == {"temperature": 0.2, **PICKED.sent()}
    assert described["repetition_cut"] is True


def test_without_sampling_only_temperature_is_sent():
    """OpenAI itself refuses names it does not know (top_k): nothing unasked is sent."""
    with ScriptedServer("ok") as srv, backend("openai", srv) as b:
        body = body_of(b, srv)
    assert body["temperature"] == 0.2
    assert not set(ALLOWED) & set(body)


def test_anthropic_sends_top_p_and_top_k_and_refuses_the_rest():
    with ScriptedServer("ok") as srv:
        with backend("anthropic", srv, sampling=Sampling(top_p=0.9, top_k=30)) as b:
            body = body_of(b, srv)
        assert (body["top_p"], body["top_k"], body["temperature"]) == (0.9, 30, 0.2)
        with pytest.raises(BackendError) as caught:
            backend("anthropic", srv, sampling=PICKED)
    problem, fix = caught.value.problem, caught.value.fix
    assert "min_p" in problem and "repeat_penalty" in problem and "frequency_penalty" in problem
    assert "top_p" not in problem and "top_p" in fix and "top_k" in fix


def write(tmp_path, text):
    path = tmp_path / "armloop.toml"
    path.write_text(text)
    return path


def test_a_profile_sampling_table(tmp_path):
    path = write(
        tmp_path,
        '[backends.llamacpp]\nbackend = "openai"\nbase_url = "http://127.0.0.1:8080/v1"\n'
        "repetition_cut = false\n\n"
        "[backends.llamacpp.sampling]\ntop_p = 0.95\ntop_k = 40\nmin_p = 0.05\n"
        "repeat_penalty = 1.1\npresence_penalty = 0\nfrequency_penalty = 0.0\n",
    )
    config = resolve("llamacpp", config=path)
    assert config.sampling == EMBEDDED_SAMPLING and config.repetition_cut is False
    assert resolve("openai", config=path).sampling == Sampling()  # a kind: none set
    assert resolve("openai", config=path).repetition_cut is True


@pytest.mark.parametrize(
    "table, problem, fix",
    [
        ("[backends.x.sampling]\ntop_q = 0.9\n", "unknown sampling parameter top_q", "top_p"),
        ("[backends.x.sampling]\ntemperature = 0.5\n", "temperature", "on the profile itself"),
        ("top_k = 40\n", "unknown key top_k", "[backends.x.sampling] table"),
        ("[backends.x.sampling]\ntop_p = 1.5\n", "top_p = 1.5", "from 0.0 to 1.0"),
        ("[backends.x.sampling]\ntop_k = 4.5\n", "top_k = 4.5", "an integer"),
        ("[backends.x.sampling]\nrepeat_penalty = true\n", "repeat_penalty = True", "number"),
        ("sampling = 3\n", "is not a table", "top_p"),
        ('repetition_cut = "no"\n', "repetition_cut = 'no'", "true or false"),
    ],
    ids=["unknown", "temperature", "misplaced", "range", "int", "bool", "not-table", "cut"],
)
def test_bad_sampling_in_a_profile_is_refused_naming_it(tmp_path, table, problem, fix):
    head = '[backends.x]\nbackend = "openai"\n'
    if table.startswith("["):
        text = head + "\n" + table
    else:
        text = head + table
    path = write(tmp_path, text)
    with pytest.raises(BackendError) as caught:
        resolve("x", config=path)
    assert problem in caught.value.problem, caught.value.problem
    assert fix in caught.value.fix, caught.value.fix
    if "unknown sampling" in problem:
        for name in ALLOWED:
            assert name in caught.value.fix


def test_sampling_values_are_checked_when_made():
    with pytest.raises(BackendError, match="min_p"):
        Sampling(min_p=-0.1)
    assert Sampling(top_k=0, presence_penalty=-2).sent() == {"top_k": 0, "presence_penalty": -2}


@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python not installed"
)
def test_embedded_sampling_is_llama_cpp_pythons_server_defaults():
    """The values EMBEDDED_SAMPLING writes out are the ones the embedded model was measured
    with: llama-cpp-python's server defaults (llama_cpp/server/types.py)."""
    from llama_cpp.server.types import CreateChatCompletionRequest

    defaults = CreateChatCompletionRequest.model_fields
    for name, value in EMBEDDED_SAMPLING.sent().items():
        assert defaults[name].default == value, name
    assert set(EMBEDDED_SAMPLING.sent()) == set(ALLOWED)
