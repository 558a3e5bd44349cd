"""`armloop backends`: rows for built-in kinds and profiles, reachability and probe figures."""

from __future__ import annotations

from typer.testing import CliRunner

from loop.backends.base import BackendConfig
from loop.cli import app
from loop.commands.backends import check
from loop.testing.scripted_server import ScriptedServer


def test_probe_row_for_a_reachable_server():
    with ScriptedServer(" ".join(str(i) for i in range(20)), tokens_per_s=200) as srv:
        row = check(BackendConfig(name="s", kind="openai", base_url=srv.url), probe=True)
    assert row.reachable == "yes" and row.model == "scripted-model"
    assert row.ttft.endswith("ms") and 150 < float(row.rate) < 250


def test_unreachable_and_missing_key_rows(monkeypatch):
    monkeypatch.delenv("SOME_KEY", raising=False)
    with ScriptedServer() as srv:
        url = srv.url
    row = check(BackendConfig(name="d", kind="openai", base_url=url), probe=True)
    assert row.reachable.startswith("no: ConnectError") and url in row.reachable
    row = check(
        BackendConfig(name="k", kind="openai", base_url=url, api_key_env="SOME_KEY"), probe=True
    )
    assert row.key == "SOME_KEY missing" and "SOME_KEY is not set" in row.reachable


def test_backends_command_lists_kinds_and_profiles(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with ScriptedServer() as srv:
        (tmp_path / "armloop.toml").write_text(
            f'[backends.mine]\nbackend = "openai"\nbase_url = "{srv.url}"\n'
        )
        result = CliRunner().invoke(app, ["backends", "--no-probe"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for text in ("local", "openai", "anthropic", "mine", "OPENAI_API_KEY missing", "yes"):
        assert text in result.output


def test_bad_profile_is_a_clean_cli_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "armloop.toml").write_text('[backends.x]\nbackend = "openai"\nurl = "y"\n')
    result = CliRunner().invoke(app, ["backends", "--no-probe"])
    assert result.exit_code == 2 and "unknown key url" in result.output
