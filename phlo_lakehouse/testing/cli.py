"""`CLITestCase`: test ``phlo-lakehouse`` commands on a real temporary lakehouse.

Subclass it in a pytest test class; every test gets a fresh `temporary_lakehouse` seeded with
the class's ``tables``, and `invoke_command` runs the real command group against it through
click's ``CliRunner`` (the catalog is passed the way users pass it: ``PHLO_LAKEHOUSE_*``
environment variables). stdin, stdout and stderr are not terminals there, so commands that
change anything need ``--yes`` (or ``--dry-run``), and no progress bar is drawn.

Example::

    from phlo_lakehouse.testing import CLITestCase, TableSeed

    class TestStats(CLITestCase):
        tables = [TableSeed("raw.orders", commits=3)]

        def test_stats(self):
            result = self.invoke_command(["tables", "stats", "raw.orders", "--format", "json"])
            self.assert_success(result)
            assert self.json_output(result)["row_count"] == 1500
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import click
import pytest
from click.testing import CliRunner, Result

from phlo_lakehouse.config import CatalogSettings
from phlo_lakehouse.lakehouse import IcebergLakehouse
from phlo_lakehouse.testing.lakehouses import TableSeed, temporary_lakehouse

#: Variables that would point the CLI at another catalog; cleared for every invocation.
_CATALOG_VARIABLES = ("NESSIE_HOST", "NESSIE_PORT", "ICEBERG_WAREHOUSE_PATH", "ICEBERG_NESSIE_REF")


def settings_env(settings: CatalogSettings) -> dict[str, str | None]:
    """Environment variables that point the CLI at ``settings``' catalog, clearing the others.

    Example:
        >>> env = settings_env(CatalogSettings.embedded("/tmp/lh"))
        >>> env["PHLO_LAKEHOUSE_CATALOG_URI"]
        'sqlite:////tmp/lh/catalog.db'
    """
    env: dict[str, str | None] = {
        name: None
        for name in os.environ
        if name.startswith("PHLO_LAKEHOUSE_") or name.startswith("MINIO_")
    }
    env.update({name: None for name in _CATALOG_VARIABLES})
    env.update(
        {
            "PHLO_LAKEHOUSE_CATALOG_TYPE": settings.type,
            "PHLO_LAKEHOUSE_CATALOG_NAME": settings.name,
            "PHLO_LAKEHOUSE_REF": settings.default_ref,
        }
    )
    if settings.uri:
        env["PHLO_LAKEHOUSE_CATALOG_URI"] = settings.uri
    if settings.warehouse:
        env["PHLO_LAKEHOUSE_WAREHOUSE"] = settings.warehouse
    if settings.properties:
        env["PHLO_LAKEHOUSE_CATALOG_PROPERTIES"] = json.dumps(dict(settings.properties))
    return env


class CLITestCase:
    """Base class for CLI tests on a real temporary lakehouse (pytest).

    Attributes:
        tables: what to seed before each test (names or `TableSeed`s); override per class.
        lakehouse: the test's `IcebergLakehouse`, set by the autouse fixture (or by you).
        command: the click command `invoke_command` runs (default: the ``phlo-lakehouse``
            group).
    """

    tables: ClassVar[Sequence[str | TableSeed]] = ()
    lakehouse: IcebergLakehouse
    command: ClassVar[click.Command | None] = None

    @pytest.fixture(autouse=True)
    def cli_lakehouse(self, tmp_path: Any) -> Iterator[IcebergLakehouse]:
        """The test's lakehouse (override this fixture to test on another catalog)."""
        with temporary_lakehouse(self.tables, home=tmp_path / "lakehouse") as lakehouse:
            self.lakehouse = lakehouse
            yield lakehouse

    def invoke_command(
        self,
        args: Sequence[str],
        input: str | bytes | None = None,
        *,
        env: Mapping[str, str | None] | None = None,
    ) -> Result:
        """Run the CLI with ``args`` against `lakehouse`.

        Args:
            args: the command line after ``phlo-lakehouse``.
            input: text for stdin (e.g. "y\\n" for a prompt; stdin is never a terminal here).
            env: extra environment variables (None removes one).

        Returns:
            click's `Result`: ``exit_code``, ``stdout``, ``stderr``, ``output``, ``exception``.
        """
        command = self.command
        if command is None:
            from phlo_lakehouse.cli.main import cli

            command = cli
        environment = {**settings_env(self.lakehouse.settings), **(env or {})}
        return CliRunner().invoke(
            command, list(args), input=input, env=environment, catch_exceptions=True
        )

    def assert_success(self, result: Result) -> None:
        """Assert exit code 0, showing stderr (and any escaped exception) when it is not."""
        assert result.exit_code == 0, _describe(result)

    def assert_exit_code(self, result: Result, code: int) -> None:
        """Assert the exit code is ``code``."""
        assert result.exit_code == code, _describe(result)

    def assert_output_contains(self, result: Result, text: str) -> None:
        """Assert ``text`` appears in stdout or stderr."""
        assert text in result.stdout or text in result.stderr, _describe(result)

    def json_output(self, result: Result) -> Any:
        """stdout parsed as the one JSON document it must be."""
        return json.loads(result.stdout)


def _describe(result: Result) -> str:
    parts = [f"exit code {result.exit_code}", f"stdout:\n{result.stdout}"]
    parts.append(f"stderr:\n{result.stderr}")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        parts.append("".join(traceback.format_exception(result.exception)))
    return "\n".join(parts)
