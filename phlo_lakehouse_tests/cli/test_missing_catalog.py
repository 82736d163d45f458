"""A catalog that does not exist is an error with a hint, not a new empty lakehouse: a mistyped
``--home`` or sqlite ``--catalog-uri``, or no ``--home`` at all in a directory without
``.lakehouse``. ``demo seed`` and ``--create`` create one; the Python API still does."""

from __future__ import annotations

import os
import subprocess

from click.testing import CliRunner

from phlo_lakehouse import IcebergLakehouse
from phlo_lakehouse.cli.main import cli
from phlo_lakehouse.config import CatalogSettings
from phlo_lakehouse.testing.cli import settings_env
from phlo_lakehouse_tests.cli.conftest import script

HINT = (
    "hint: check --home/--catalog-uri; create one with `phlo-lakehouse demo seed`, "
    "or pass --create before the command"
)


def _invoke(args, env=None):
    base = settings_env(CatalogSettings.embedded("/nonexistent-unused"))
    base = {k: None for k in base}  # no catalog variables: only the flags decide
    return CliRunner().invoke(cli, args, env={**base, **(env or {})}, catch_exceptions=True)


def test_a_mistyped_home_is_exit_2_and_creates_nothing(tmp_path):
    home = tmp_path / "lakehuose"
    result = _invoke(["--home", str(home), "tables", "list"])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [f"error: no lakehouse at {home}", HINT]
    assert not home.exists()


def test_a_mistyped_sqlite_uri_is_exit_2_and_creates_nothing(tmp_path):
    IcebergLakehouse(CatalogSettings.embedded(tmp_path)).catalog()
    typo = tmp_path / "catalgo.db"
    result = _invoke(
        [
            "--catalog-uri",
            f"sqlite:///{typo}",
            "--warehouse",
            f"file://{tmp_path}/warehouse",
            "tables",
            "list",
        ]
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[0] == f"error: no lakehouse at {typo}"
    assert not typo.exists()


def test_no_home_in_an_empty_directory_does_not_create_dot_lakehouse(tmp_path):
    process = subprocess.run(
        [script("phlo-lakehouse"), "tables", "list"],
        cwd=tmp_path,
        env={
            k: v for k, v in os.environ.items() if not k.startswith(("PHLO_LAKEHOUSE_", "NESSIE_"))
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 2, process.stderr
    assert process.stderr.splitlines() == [
        f"error: no lakehouse at {tmp_path / '.lakehouse'}",
        HINT,
    ]
    assert "Traceback" not in process.stderr
    assert list(tmp_path.iterdir()) == []


def test_create_flag_makes_an_empty_lakehouse_that_later_commands_accept(tmp_path):
    home = tmp_path / "new"
    created = _invoke(["--home", str(home), "--create", "tables", "list"])
    assert created.exit_code == 0, created.output
    assert (home / "catalog.db").is_file()
    again = _invoke(["--home", str(home), "tables", "list"])
    assert again.exit_code == 0, again.output
    assert IcebergLakehouse(CatalogSettings.embedded(home)).list_tables() == []


def test_demo_seed_creates_the_lakehouse_it_seeds(tmp_path):
    home = tmp_path / "demo"
    seeded = _invoke(["--home", str(home), "demo", "seed", "--commits", "2", "--yes"])
    assert seeded.exit_code == 0, seeded.output
    table = IcebergLakehouse(CatalogSettings.embedded(home)).get_table("demo.events")
    assert len(table.table.snapshots()) >= 2


def test_the_python_api_still_creates_its_embedded_default(tmp_path):
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(tmp_path / "api"))
    assert lakehouse.list_tables() == []
    assert (tmp_path / "api" / "catalog.db").is_file()
