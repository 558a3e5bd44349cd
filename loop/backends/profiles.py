"""Backend profiles from armloop.toml: `[backends.NAME]` tables.

    [backends.groq]
    backend = "openai"                      # kind: local | openai | anthropic
    base_url = "https://api.groq.com/openai/v1"
    model = "llama-3.3-70b-versatile"
    api_key_env = "GROQ_API_KEY"            # the variable holding the key, never the key
    temperature = 0.2
    max_tokens = 2048
    price_in_per_mtok = 0.59                # USD per million tokens, for cost columns
    price_out_per_mtok = 0.79
    repetition_cut = true                   # cut a reply that repeats itself (the default)

    [backends.groq.sampling]                # sent in every request, only those given
    top_p = 0.95                            # also top_k, min_p, repeat_penalty,
    frequency_penalty = 0.2                 # presence_penalty (loop/backends/sampling.py)

The embedded model (backend = "local") also takes n_ctx, server ("llama.cpp", the
default, or "llama-cpp-python"), slots (requests served at once) and threads (decoding
threads). Also: max_attempts, connect_s, first_token_s, stall_s. Unknown keys (and
unknown sampling parameters) are rejected, naming them and the allowed ones. Other top-level
tables are not ours.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from loop.backends.base import BackendConfig, Timeouts
from loop.backends.kinds import KINDS
from loop.backends.sampling import ALLOWED as SAMPLING_NAMES
from loop.backends.sampling import sampling_from_table
from loop.errors import BackendError

DEFAULT_CONFIG = Path("armloop.toml")

_STR = {"backend", "model", "base_url", "api_key_env", "server"}
_NUM = {"temperature", "price_in_per_mtok", "price_out_per_mtok"}
_NUM |= {"connect_s", "first_token_s", "stall_s"}
_INT = {"max_tokens", "n_ctx", "max_attempts", "slots", "threads"}
_BOOL = {"repetition_cut"}
_TABLE = {"sampling"}
ALLOWED = _STR | _NUM | _INT | _BOOL | _TABLE


@dataclass(frozen=True)
class Profiles:
    path: Path | None
    backends: dict[str, BackendConfig]


def load_profiles(config: Path | None = None) -> Profiles:
    """Profiles from `config`, else ./armloop.toml if present, else none."""
    path = config if config is not None else (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    if path is None:
        return Profiles(None, {})
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError as exc:
        raise BackendError(f"config file {path} does not exist", "check --config") from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BackendError(f"cannot read {path}: {exc}", f"fix the TOML in {path}") from exc
    tables = data.get("backends", {})
    if not isinstance(tables, dict):
        raise BackendError(f"{path}: `backends` must be a table", "use [backends.NAME] tables")
    backends = {name: _profile(path, name, table) for name, table in tables.items()}
    return Profiles(Path(path), backends)


def _profile(path: Path, name: str, table: object) -> BackendConfig:
    where = f"{path} [backends.{name}]"
    if not isinstance(table, dict):
        raise BackendError(f"{where} is not a table", f"write it as [backends.{name}]")
    unknown = sorted(set(table) - ALLOWED)
    if unknown:
        fix = f"allowed keys: {', '.join(sorted(ALLOWED))}"
        misplaced = [k for k in unknown if k in SAMPLING_NAMES]
        if misplaced:
            fix += f"; put {', '.join(misplaced)} in a [backends.{name}.sampling] table"
        raise BackendError(
            f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}", fix
        )
    for key, value in table.items():
        _check_type(where, key, value)
    kind = table.get("backend")
    if kind not in KINDS:
        raise BackendError(
            f"{where}: backend = {kind!r} is not a backend kind",
            f"set backend to one of {', '.join(KINDS)}",
        )
    defaults = Timeouts()
    timeouts = Timeouts(
        connect=table.get("connect_s", defaults.connect),
        first_token=table.get("first_token_s", defaults.first_token),
        stall=table.get("stall_s", defaults.stall),
    )
    fields = {
        k: table[k]
        for k in ALLOWED - {"backend", "connect_s", "first_token_s", "stall_s"} - _TABLE
        if k in table
    }
    if "sampling" in table:
        sampling_where = f"{path} [backends.{name}.sampling]"
        fields["sampling"] = sampling_from_table(sampling_where, table["sampling"])
    return BackendConfig(name=name, kind=kind, timeouts=timeouts, **fields)


def _check_type(where: str, key: str, value: object) -> None:
    if key in _TABLE:
        return  # checked by its own reader, which names its keys
    if key in _BOOL:
        ok, want = isinstance(value, bool), "true or false"
    elif key in _STR:
        ok, want = isinstance(value, str) and value != "", "a non-empty string"
    elif key in _INT:
        ok, want = (
            isinstance(value, int) and not isinstance(value, bool) and value > 0,
            ("a positive integer"),
        )
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
        want = "a non-negative number"
    if not ok:
        raise BackendError(f"{where}: {key} = {value!r} is not {want}", f"make {key} {want}")


def resolve(
    name: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    config: Path | None = None,
) -> BackendConfig:
    """The config for --backend NAME (a profile name or a kind; None -> local) + overrides."""
    profiles = load_profiles(config)
    name = name or "local"
    if name in profiles.backends:
        resolved = profiles.backends[name]
    elif name in KINDS:
        resolved = BackendConfig(name=name, kind=name)
    else:
        known = sorted(set(KINDS) | set(profiles.backends))
        where = f" in {profiles.path}" if profiles.path else " (no armloop.toml here)"
        raise BackendError(
            f"no backend or profile named {name!r}{where}",
            f"use one of: {', '.join(known)}, or add [backends.{name}] to armloop.toml",
        )
    if model is not None:
        resolved = replace(resolved, model=model)
    if base_url is not None:
        resolved = replace(resolved, base_url=base_url)
    return resolved


def all_configs(config: Path | None = None) -> list[BackendConfig]:
    """The built-in kinds, then every profile (a profile may shadow a kind's name)."""
    profiles = load_profiles(config)
    builtins = [BackendConfig(name=k, kind=k) for k in KINDS if k not in profiles.backends]
    return builtins + list(profiles.backends.values())
