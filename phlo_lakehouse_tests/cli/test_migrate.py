"""``migrate catalog``: preview first, then register into another real catalog (no data copied)."""

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.testing.cli import CLITestCase
from phlo_lakehouse.testing.lakehouses import TableSeed


class TestMigrateCatalog(CLITestCase):
    tables = [TableSeed("raw.events", commits=2, rows_per_commit=30)]

    def test_preview_then_move_into_another_sql_catalog(self, tmp_path):
        target = CatalogSettings(
            type="sql", uri=f"sqlite:///{tmp_path}/target.db", warehouse=f"file://{tmp_path}/wh"
        )
        args = [
            "migrate",
            "catalog",
            "raw.*",
            "--to-type",
            "sql",
            "--to-uri",
            target.uri,
            "--to-warehouse",
            target.warehouse,
            "--drop-source",
        ]
        self.assert_exit_code(self.invoke_command(args), 2)  # non-interactive needs --yes
        preview = self.invoke_command([*args, "--dry-run", "--format", "json"])
        self.assert_success(preview)
        assert self.lakehouse.table_exists("raw.events")
        assert not IcebergLakehouse(target).table_exists("raw.events")

        moved = self.invoke_command([*args, "--yes"])
        self.assert_success(moved)
        assert IcebergLakehouse(target).get_table("raw.events").to_arrow().num_rows == 60
        assert not self.lakehouse.table_exists("raw.events")

    def test_unknown_source_table_exits_2(self, tmp_path):
        result = self.invoke_command(
            [
                "migrate",
                "catalog",
                "raw.nope",
                "--to-type",
                "sql",
                "--to-uri",
                f"sqlite:///{tmp_path}/t.db",
                "--to-warehouse",
                f"file://{tmp_path}/wh",
                "--yes",
            ]
        )
        assert result.exit_code in (1, 2)
        self.assert_output_contains(result, "raw.nope")

    def test_nothing_matching_exits_2_like_every_other_selector(self, tmp_path):
        target = f"sqlite:///{tmp_path}/t.db"
        migrate = [
            "migrate", "catalog", "nope.*", "--to-type", "sql", "--to-uri", target,
            "--to-warehouse", f"file://{tmp_path}/wh", "--yes",
        ]  # fmt: skip
        # the same empty selection through the maintenance selectors (the oracle: their rule)
        for args in (migrate, ["vacuum", "nope.*", "--yes"], ["optimize", "nope.*", "--yes"]):
            result = self.invoke_command(args)
            self.assert_exit_code(result, 2)
            error, hint = result.stderr.splitlines()
            assert error.startswith("error: no table matches 'nope.*'"), error
            assert hint.startswith("hint: ") and "Traceback" not in result.output
        assert "in this catalog" in self.invoke_command(migrate).stderr
        # nothing changed: the source keeps its table, the target catalog has none
        assert self.lakehouse.table_exists("raw.events")
        assert (
            IcebergLakehouse(
                CatalogSettings(type="sql", uri=target, warehouse=f"file://{tmp_path}/wh")
            ).list_tables()
            == []
        )
