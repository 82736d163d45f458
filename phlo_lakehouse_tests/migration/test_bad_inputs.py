"""Bad inputs fail with a one-line message and a hint, before anything is created: unknown
source tables, formats other than Parquet, schemas Iceberg cannot hold, files that do not match
the metastore's columns."""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.errors import InvalidInput, LakehouseError, TableNotFound
from phlo_lakehouse.migration import GlueMigration, HiveMigration, IcebergCatalogMigration
from phlo_lakehouse_tests.migration.conftest import (
    DAYS,
    hive_table_names,
    write_glue_parquet_table,
    write_hive_parquet_table,
)

CSV = {
    "input_format": "org.apache.hadoop.mapred.TextInputFormat",
    "serde": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
}
UNION = {"columns": (("id", "bigint"), ("payload", "uniontype<int,string>"))}


@pytest.fixture
def target(tmp_path) -> IcebergLakehouse:
    return IcebergLakehouse(CatalogSettings.embedded(tmp_path / "target"))


def _assert_one_line_with_hint(error: LakehouseError, *words: str) -> None:
    assert "\n" not in str(error) and error.hint, str(error)
    for word in words:
        assert word in error.message, error.message


def _assert_nothing_created(target: IcebergLakehouse, tmp_path: Path) -> None:
    assert target.list_namespaces() == []
    assert [p for p in (tmp_path / "target" / "warehouse").rglob("*") if p.is_file()] == []


@pytest.mark.hive
@pytest.mark.parametrize(
    ("table", "options", "words"),
    [
        ("missing", None, ("does not exist",)),
        ("csv", CSV, ("stored as csv",)),
        ("union", UNION, ("payload", "uniontype", "no Iceberg equivalent")),
    ],
)
def test_hive_bad_inputs_fail_before_anything_is_created(
    hive_uri, hive_lakehouse, database, target, tmp_path, table, options, words
):
    if options is not None:
        write_hive_parquet_table(hive_uri, database, table, tmp_path, write=False, **options)
    names = hive_table_names(hive_uri, database)
    for migration in (
        HiveMigration(target, metastore_uri=hive_uri),
        HiveMigration(hive_lakehouse, metastore_uri=hive_uri, mode="migrate"),
    ):
        with pytest.raises(LakehouseError) as error:
            migration.migrate_table(f"{database}.{table}")
        _assert_one_line_with_hint(error.value, *words)
        summary = migration.run([f"{database}.*"]) if options else None
        if summary is not None:
            assert [t.status for t in summary.tables] == ["failed"]
            assert summary.tables[0].hint == error.value.hint
    _assert_nothing_created(target, tmp_path)
    assert hive_table_names(hive_uri, database) == names
    assert not list(tmp_path.rglob("_iceberg"))


@pytest.mark.hive
def test_a_file_that_does_not_match_the_columns_fails_before_anything_is_created(
    hive_uri, database, target, tmp_path
):
    write_hive_parquet_table(hive_uri, database, "orders", tmp_path)
    stray = tmp_path / f"{database}.db" / "orders" / f"dt={DAYS[0]}" / "stray.parquet"
    pq.write_table(pa.table({"id": [1], "amount": ["not a number"]}), stray)

    with pytest.raises(InvalidInput) as error:
        HiveMigration(target, metastore_uri=hive_uri).migrate_table(f"{database}.orders")

    _assert_one_line_with_hint(error.value, "stray.parquet", "'amount' is string in the file")
    _assert_nothing_created(target, tmp_path)


@pytest.mark.moto
@pytest.mark.parametrize(("table", "words"), [("missing", ("does not exist",)), ("csv", ("csv",))])
def test_glue_bad_inputs_fail_before_anything_is_created(
    glue, moto_endpoint, target, tmp_path, unique_name, table, words
):
    from phlo_lakehouse_tests.migration.conftest import glue_properties

    if table == "csv":
        write_glue_parquet_table(
            glue,
            moto_endpoint,
            unique_name,
            "csv",
            classification="csv",
            input_format=CSV["input_format"],
            serde="org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        )
    migration = GlueMigration(
        target,
        glue_properties=glue_properties(moto_endpoint),
        io_properties=glue_properties(moto_endpoint),
    )
    with pytest.raises(LakehouseError) as error:
        migration.migrate_table(f"{unique_name}.{table}")
    _assert_one_line_with_hint(error.value, *words)
    _assert_nothing_created(target, tmp_path)


def test_an_unknown_iceberg_table_fails_before_anything_is_created(target, tmp_path):
    source = IcebergLakehouse(CatalogSettings.embedded(tmp_path / "source"))
    migration = IcebergCatalogMigration(source, target, drop_source=True)
    with pytest.raises(TableNotFound) as error:
        migration.migrate_table("raw.nope")
    _assert_one_line_with_hint(error.value, "raw.nope", "does not exist")
    _assert_nothing_created(target, tmp_path)


def test_bad_settings_fail_when_the_migration_is_built(target):
    with pytest.raises(InvalidInput, match="mode 'replace'"):
        HiveMigration(target, metastore_uri="thrift://127.0.0.1:1", mode="replace")
    with pytest.raises(InvalidInput, match="keeps the source's name"):
        GlueMigration(target, mode="migrate", suffix="_x")
    with pytest.raises(LakehouseError, match="thrift://host:port"):
        HiveMigration(target, metastore_uri="http://127.0.0.1:9083")
