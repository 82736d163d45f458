"""`CliState` settings precedence and the `--dry-run`/`--yes` rule, without a terminal."""

import pytest

from phlo_lakehouse.cli.apply import APPLY, PREVIEW, Confirmation, ConfirmationRequired
from phlo_lakehouse.cli.command import CliState
from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.testing.cli import CLITestCase
from phlo_lakehouse_tests.cli.conftest import TOP_LEVEL_COMMANDS

ENV = {
    "PHLO_LAKEHOUSE_CATALOG_URI": "http://rest:8181",
    "PHLO_LAKEHOUSE_WAREHOUSE": "s3://bucket/wh",
    "PHLO_LAKEHOUSE_REF": "dev",
}


def test_environment_alone():
    settings = CliState(env=ENV).settings()
    expected = ("rest", "http://rest:8181", "dev")
    assert (settings.type, settings.uri, settings.default_ref) == expected


def test_home_alone_means_the_embedded_catalog_whatever_the_environment(tmp_path):
    settings = CliState(catalog_options={"home": str(tmp_path)}, env=ENV).settings()
    assert settings.type == "sql"
    assert settings.uri == f"sqlite:///{tmp_path}/catalog.db"
    assert settings.warehouse == f"file://{tmp_path}/warehouse"
    assert settings.default_ref == "dev"


def test_options_override_the_environment():
    options = {"catalog_type": "nessie", "catalog_uri": "http://nessie:19120/api/v2"}
    settings = CliState(catalog_options=options, env=ENV).settings()
    assert (settings.type, settings.uri) == ("nessie", "http://nessie:19120")
    assert settings.warehouse == "s3://bucket/wh"


def test_no_options_and_no_environment_is_the_default_home():
    settings = CliState(env={}).settings()
    assert settings.type == "sql" and settings.uri.endswith("/.lakehouse/catalog.db")


def test_the_rule_without_a_terminal():
    state = CliState()
    assert Confirmation(yes=False, dry_run=True).mode(state, "x") == PREVIEW
    assert Confirmation(yes=True, dry_run=False).mode(state, "x") == APPLY
    with pytest.raises(ConfirmationRequired, match="pass --yes to apply"):
        Confirmation(yes=False, dry_run=False).mode(state, "x")
    with pytest.raises(InvalidInput, match="exclude each other"):
        Confirmation(yes=True, dry_run=True).mode(state, "x")


class TestHomeOption(CLITestCase):
    tables = ["raw.events"]

    def test_home_points_at_another_lakehouse(self, tmp_path):
        from phlo_lakehouse.testing.lakehouses import temporary_lakehouse

        with temporary_lakehouse(["other.t"], home=tmp_path / "other"):
            result = self.invoke_command(
                ["--home", str(tmp_path / "other"), "tables", "list", "--json"]
            )
        self.assert_success(result)
        assert self.json_output(result)["tables"] == ["other.t"]

    def test_version(self):
        result = self.invoke_command(["--version"])
        self.assert_success(result)
        self.assert_output_contains(result, "phlo-lakehouse, version ")

    def test_help_lists_every_command(self):
        result = self.invoke_command(["--help"])
        self.assert_success(result)
        for name in TOP_LEVEL_COMMANDS:
            self.assert_output_contains(result, f"  {name} ")


def test_importing_the_cli_stays_light():
    """Phlo imports our group to build `phlo --help`: no Iceberg, Arrow, Nessie or Dagster."""
    import subprocess
    import sys

    code = (
        "import sys, phlo_lakehouse.cli.main; "
        "print(sorted(m for m in ('pyiceberg', 'pyarrow', 'pynessie', 'dagster', 'sqlalchemy',"
        " 'phlo') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
