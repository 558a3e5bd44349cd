"""Keys come from the environment and go only where they belong."""

from __future__ import annotations

import pytest

from loop.backends import BackendError, ChatRequest, open_backend
from loop.backends.keys import key_env_for
from loop.testing.scripted_server import ScriptedServer


def test_openai_key_is_not_sent_to_a_custom_base_url(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-openai")
    with ScriptedServer("ok") as srv:
        b = open_backend("openai", base_url=srv.url)
        b.stream(ChatRequest([{"role": "user", "content": "x"}])).text()
        headers = [r.headers for r in srv.requests]
    assert headers and all("authorization" not in h for h in headers)
    assert not any("sk-secret-openai" in v for h in headers for v in h.values())
    assert b.describe()["api_key_env"] is None


def test_profile_key_is_sent_to_its_server(tmp_path, monkeypatch):
    monkeypatch.setenv("VLLM_KEY", "vk-1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-openai")
    with ScriptedServer("ok", require_key="vk-1") as srv:
        toml = tmp_path / "armloop.toml"
        toml.write_text(
            f'[backends.vllm]\nbackend = "openai"\nbase_url = "{srv.url}"\n'
            'api_key_env = "VLLM_KEY"\nmodel = "m"\n'
        )
        b = open_backend("vllm", config=toml)
        assert b.stream(ChatRequest([{"role": "user", "content": "x"}])).text() == "ok"
        assert srv.requests[-1].headers["authorization"] == "Bearer vk-1"
    described = repr(b.describe())
    assert "vk-1" not in described and "VLLM_KEY" in described


def test_vendor_variable_refused_for_another_host():
    with pytest.raises(BackendError) as err:
        key_env_for("openai", "http://127.0.0.1:8000/v1", "OPENAI_API_KEY")
    assert "only ever sent to https://api.openai.com" in err.value.problem
    with pytest.raises(BackendError):
        key_env_for("openai", "https://evil.example/v1", "ANTHROPIC_API_KEY")
    assert key_env_for("openai", "http://api.openai.com/v1", None) is None  # not https


def test_official_hosts_want_their_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(BackendError) as err:
        open_backend("openai")
    assert "OPENAI_API_KEY is not set" in err.value.problem
    with pytest.raises(BackendError, match="ANTHROPIC_API_KEY"):
        open_backend("anthropic")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    described = open_backend("openai").describe()
    assert described["api_key_env"] == "OPENAI_API_KEY" and "sk-x" not in repr(described)
    assert described["base_url"] == "https://api.openai.com/v1"


def test_missing_profile_key_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("GROQ_KEY", raising=False)
    toml = tmp_path / "armloop.toml"
    toml.write_text(
        '[backends.groq]\nbackend = "openai"\nbase_url = "https://x.example/v1"\n'
        'api_key_env = "GROQ_KEY"\n'
    )
    with pytest.raises(BackendError) as err:
        open_backend("groq", config=toml)
    assert "GROQ_KEY" in err.value.problem and "export GROQ_KEY" in err.value.fix
