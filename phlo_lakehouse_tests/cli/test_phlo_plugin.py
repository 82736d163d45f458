"""``phlo lakehouse …`` through Phlo 0.16's plugin discovery (``phlo.plugins.cli`` entry point),
run as the real ``phlo`` executable against a temporary lakehouse."""

import json
import subprocess
from importlib.metadata import entry_points

import pytest

from phlo_lakehouse.cli.main import COMMANDS
from phlo_lakehouse.testing.lakehouses import temporary_lakehouse
from phlo_lakehouse_tests.cli.conftest import TOP_LEVEL_COMMANDS, cli_env, script
from phlo_lakehouse_tests.phlo_adapter.conftest import require_phlo

require_phlo()  # skips the module without phlo; fails it under CI=true


@pytest.fixture
def lakehouse(tmp_path):
    with temporary_lakehouse(["raw.events"], home=tmp_path / "lakehouse") as lakehouse:
        yield lakehouse


def phlo(lakehouse, tmp_path, *args):
    """Run the installed ``phlo`` in an empty project directory (Phlo writes ``.phlo/`` there),
    with Phlo's plugin allow/deny lists set so ours is the plugin loaded (PLUGINS_WHITELIST
    and PLUGINS_BLACKLIST are Phlo settings read from the environment)."""
    env = cli_env(
        lakehouse,
        PLUGINS_ENABLED="true",
        PLUGINS_WHITELIST='["lakehouse"]',
        PLUGINS_BLACKLIST="[]",
        PHLO_LOG_FILE_TEMPLATE="",
    )
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    return subprocess.run(
        [script("phlo"), *args], capture_output=True, text=True, env=env, cwd=project, timeout=120
    )


def test_entry_point_loads_our_plugin(tmp_path, monkeypatch):
    # Importing Phlo's plugin base sets up its logging, which creates .phlo/ in the cwd.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PHLO_LOG_FILE_TEMPLATE", "")
    from phlo.plugins.base.cli import CliCommandPlugin

    [entry] = [e for e in entry_points(group="phlo.plugins.cli") if e.name == "lakehouse"]
    plugin = entry.load()()
    assert isinstance(plugin, CliCommandPlugin)
    assert plugin.metadata.name == "lakehouse"
    [group] = plugin.get_cli_commands()
    assert group.name == "lakehouse"
    # Phlo adapts the commands it finds in ``commands`` when it adds the group: all are there
    assert sorted(group.commands) == sorted(COMMANDS)


def test_phlo_help_lists_lakehouse(lakehouse, tmp_path):
    result = phlo(lakehouse, tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    assert "lakehouse" in result.stdout


def test_phlo_lakehouse_help_lists_our_commands(lakehouse, tmp_path):
    result = phlo(lakehouse, tmp_path, "lakehouse", "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: phlo lakehouse" in result.stdout
    for name in TOP_LEVEL_COMMANDS:
        assert f"  {name} " in result.stdout


def test_phlo_lakehouse_tables_list(lakehouse, tmp_path):
    result = phlo(lakehouse, tmp_path, "lakehouse", "tables", "list")
    assert result.returncode == 0, result.stderr
    assert "raw.events" in result.stdout


def test_phlo_json_wraps_our_document_in_its_envelope(lakehouse, tmp_path):
    result = phlo(lakehouse, tmp_path, "--json", "lakehouse", "tables", "list")
    assert result.returncode == 0, result.stderr
    envelope = json.loads(result.stdout)
    assert envelope["status"] == "success"
    assert envelope["data"]["tables"] == ["raw.events"]


def test_phlo_json_errors_land_in_the_envelope(lakehouse, tmp_path):
    result = phlo(lakehouse, tmp_path, "lakehouse", "tables", "stats", "raw.nope", "--json")
    assert result.returncode == 2
    envelope = json.loads(result.stdout)
    assert envelope["errors"] == ["table raw.nope does not exist"]
    assert envelope["reason_code"] == "invalid_arguments"


def test_phlo_maintenance_needs_yes_and_applies_with_it(lakehouse, tmp_path):
    before = lakehouse.get_table("raw.events").table.metadata_location
    refused = phlo(lakehouse, tmp_path, "lakehouse", "manifests", "rewrite", "raw.events")
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[0].endswith("pass --yes to apply")
    assert lakehouse.get_table("raw.events").table.metadata_location == before
    applied = phlo(lakehouse, tmp_path, "lakehouse", "manifests", "rewrite", "raw.events", "-y")
    assert applied.returncode == 0, applied.stderr
    assert lakehouse.get_table("raw.events").table.metadata_location != before
