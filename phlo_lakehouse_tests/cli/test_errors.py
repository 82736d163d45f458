"""Error rendering: `LakehouseError` → ``error:``/``hint:`` and its exit code, anything else →
one line and exit 1, tracebacks only with ``--debug``; faults are real (unreachable catalog,
corrupted metadata), not mocks."""

from pathlib import Path
from urllib.parse import urlparse

import pytest

from phlo_lakehouse.testing.cli import CLITestCase
from phlo_lakehouse_tests.cli.conftest import table_state


class TestErrors(CLITestCase):
    tables = ["raw.events", "raw.broken"]

    def _corrupt(self, name):
        location = self.lakehouse.get_table(name).table.metadata_location
        Path(urlparse(location).path).write_text("{not json")

    def test_unexpected_exception_is_one_line_and_exit_1(self):
        self._corrupt("raw.broken")
        result = self.invoke_command(["tables", "stats", "raw.broken"])
        self.assert_exit_code(result, 1)
        assert result.stderr.splitlines() == [
            "error: ValidationError: 1 validation error for TableMetadataWrapper",
            "hint: re-run with --debug for the traceback",
        ]
        assert "Traceback" not in result.output

    def test_debug_adds_the_traceback(self):
        self._corrupt("raw.broken")
        result = self.invoke_command(["tables", "stats", "raw.broken", "--debug"])
        self.assert_exit_code(result, 1)
        assert result.stderr.startswith("Traceback (most recent call last):")
        assert "error: ValidationError" in result.stderr

    def test_debug_before_the_command_works_too(self):
        result = self.invoke_command(["--debug", "tables", "stats", "raw.nope"])
        self.assert_exit_code(result, 2)
        assert "Traceback" in result.stderr
        assert "error: table raw.nope does not exist" in result.stderr

    def test_unreachable_catalog_is_a_failed_operation_exit_1(self):
        result = self.invoke_command(
            ["--catalog-type", "rest", "--catalog-uri", "http://127.0.0.1:9", "tables", "list"]
        )
        self.assert_exit_code(result, 1)
        error, hint = result.stderr.splitlines()
        assert error.startswith("error: cannot reach the rest catalog 'lakehouse'")
        assert hint == "hint: check that the service is running and the uri/port are right"

    def test_bad_catalog_settings_are_invalid_input_exit_2(self):
        result = self.invoke_command(
            ["--catalog-uri", "ftp://host/x", "tables", "list"],
            env={"PHLO_LAKEHOUSE_CATALOG_TYPE": None},
        )
        self.assert_exit_code(result, 2)
        assert result.stderr.startswith("error: cannot tell the catalog type from uri")

    def test_an_operation_error_mid_run_changes_nothing_else(self):
        self._corrupt("raw.broken")
        before = table_state(self.lakehouse, "raw.events")
        result = self.invoke_command(["optimize", "raw.*", "--yes"])
        self.assert_exit_code(result, 1)
        assert table_state(self.lakehouse, "raw.events") == before


class TestMissingMetadata(CLITestCase):
    tables = ["raw.gone"]

    def _delete_metadata(self) -> Path:
        location = self.lakehouse.get_table("raw.gone").table.metadata_location
        path = Path(urlparse(location).path)
        path.unlink()
        return path

    def test_cli_names_the_missing_file_instead_of_an_unreachable_catalog(self):
        path = self._delete_metadata()
        result = self.invoke_command(["tables", "describe", "raw.gone"])
        self.assert_exit_code(result, 1)
        error, hint = result.stderr.splitlines()
        assert error == (
            f"error: table metadata file {path} is missing from storage "
            "(the catalog still points at it)"
        )
        assert hint.startswith("hint: restore the file from a backup")
        assert "cannot reach" not in result.stderr

    def test_python_api_raises_table_metadata_missing_with_the_path(self):
        from phlo_lakehouse import IcebergLakehouse
        from phlo_lakehouse.errors import TableMetadataMissing

        path = self._delete_metadata()
        with pytest.raises(TableMetadataMissing) as raised:
            IcebergLakehouse(self.lakehouse.settings).get_table("raw.gone")
        assert raised.value.path == str(path)
