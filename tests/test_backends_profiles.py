"""armloop.toml profiles: parsing, validation errors, resolution."""

from __future__ import annotations

import pytest

from loop.backends import BackendError
from loop.backends.profiles import all_configs, resolve
from loop.backends.retry import retry_after_s

GOOD = """
[backends.fast]
backend = "openai"
base_url = "https://api.groq.com/openai/v1"
model = "llama"
api_key_env = "GROQ_API_KEY"
temperature = 0.2
max_tokens = 1024
price_in_per_mtok = 0.59
price_out_per_mtok = 0.79
stall_s = 20
max_attempts = 2

[backends.local]
backend = "local"
n_ctx = 8192

[other_section]
anything = 1
"""


def write(tmp_path, text):
    path = tmp_path / "armloop.toml"
    path.write_text(text)
    return path


def test_profile_fields_and_overrides(tmp_path):
    path = write(tmp_path, GOOD)
    fast = resolve("fast", config=path)
    assert (fast.kind, fast.model, fast.api_key_env, fast.max_tokens) == (
        "openai",
        "llama",
        "GROQ_API_KEY",
        1024,
    )
    assert fast.price_out_per_mtok == 0.79 and fast.timeouts.stall == 20
    assert fast.max_attempts == 2
    assert resolve("fast", model="other", config=path).model == "other"
    assert resolve(None, config=path).n_ctx == 8192  # a profile may shadow a kind
    assert resolve("anthropic", config=path).kind == "anthropic"
    names = [c.name for c in all_configs(path)]
    assert names == ["openai", "anthropic", "fast", "local"]


@pytest.mark.parametrize(
    "table, problem",
    [
        ('backend = "openai"\nmodle = "x"\n', "unknown key modle"),
        ('backend = "openai"\nmodle = "x"\nurl = "y"\n', "unknown keys modle, url"),
        ('backend = "vllm"\n', "backend = 'vllm' is not a backend kind"),
        ('model = "x"\n', "backend = None is not a backend kind"),
        ('backend = "openai"\nmax_tokens = "lots"\n', "max_tokens = 'lots' is not a positive"),
        ('backend = "openai"\ntemperature = true\n', "temperature = True is not a non-negative"),
    ],
)
def test_profile_errors_name_the_problem(tmp_path, table, problem):
    path = write(tmp_path, "[backends.p]\n" + table)
    with pytest.raises(BackendError) as err:
        resolve("p", config=path)
    assert problem in err.value.problem and "[backends.p]" in err.value.problem


def test_unknown_keys_error_lists_allowed_keys(tmp_path):
    path = write(tmp_path, '[backends.p]\nbackend = "openai"\nkey = "sk-oops"\n')
    with pytest.raises(BackendError) as err:
        resolve("p", config=path)
    assert "api_key_env" in err.value.fix


def test_unknown_name_bad_toml_and_missing_file(tmp_path):
    path = write(tmp_path, GOOD)
    with pytest.raises(BackendError) as err:
        resolve("nope", config=path)
    assert "fast" in err.value.fix and "local" in err.value.fix
    with pytest.raises(BackendError, match="cannot read"):
        resolve("p", config=write(tmp_path, "[backends.p\n"))
    with pytest.raises(BackendError, match="does not exist"):
        resolve("p", config=tmp_path / "missing.toml")


def test_retry_after_forms():
    import httpx

    assert retry_after_s(httpx.Headers({"retry-after": "3"})) == 3.0
    assert retry_after_s(httpx.Headers({"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    date = httpx.Headers({"retry-after": "Wed, 21 Oct 2015 07:28:05 GMT"})
    assert retry_after_s(date, now=1445412480.0) == pytest.approx(5.0)
    assert retry_after_s(httpx.Headers({"retry-after": "soon"})) is None
    assert retry_after_s(httpx.Headers({})) is None
