"""GlueMigration against moto's Glue and S3: boto3 creates partitioned Glue tables over Parquet
objects, the migration makes Iceberg tables (Glue catalog) over the same objects, and Spark
(Iceberg's GlueCatalog with S3FileIO) and PyIceberg read the same rows afterwards."""

import uuid

import pytest

from phlo_lakehouse.migration import GlueMigration
from phlo_lakehouse.migration.metastore import BACKUP_OF_PARAMETER
from phlo_lakehouse_tests.migration.conftest import (
    DAYS,
    glue_properties,
    sorted_rows,
    write_glue_parquet_table,
)

pytestmark = [pytest.mark.moto]


@pytest.fixture
def glue_database() -> str:
    return "g" + uuid.uuid4().hex[:10]


def _names(glue, database):
    return sorted(t["Name"] for t in glue.get_tables(DatabaseName=database)["TableList"])


@pytest.mark.spark
@pytest.mark.hive
def test_snapshot_mode_creates_an_iceberg_table_over_the_same_objects(
    spark_hive, glue, moto_endpoint, glue_lakehouse, glue_database
):
    rows = write_glue_parquet_table(glue, moto_endpoint, glue_database, "orders")
    migration = GlueMigration(glue_lakehouse, suffix="_iceberg")

    summary = migration.run([f"{glue_database}.*"])

    assert summary.ok, summary.summary()
    assert [(t.target, t.status) for t in summary.tables] == [
        (f"{glue_database}.orders_iceberg", "migrated")
    ]
    table = glue_lakehouse.get_table(f"{glue_database}.orders_iceberg").table
    data_files = {t.file.file_path for t in table.scan().plan_files()}
    assert all(p.startswith(f"s3://warehouse/{glue_database}/orders/dt=") for p in data_files)
    expected = sorted_rows(rows)
    assert sorted_rows(table.scan().to_arrow().to_pylist()) == expected
    spark_rows = spark_hive.sql(f"SELECT * FROM glue_ice.{glue_database}.orders_iceberg")
    assert sorted_rows(spark_rows) == expected
    assert table.scan(row_filter=f"dt = '{DAYS[2]}'").to_arrow().num_rows == 10
    assert _names(glue, glue_database) == ["orders", "orders_iceberg"]  # the source stays
    assert migration.validate_migration(f"{glue_database}.orders").passed
    assert migration.run([f"{glue_database}.*"]).tables[0].status == "skipped"


@pytest.mark.spark
@pytest.mark.hive
def test_migrate_mode_replaces_the_glue_table_and_keeps_a_backup_copy(
    spark_hive, glue, moto_endpoint, glue_lakehouse, glue_database
):
    rows = write_glue_parquet_table(glue, moto_endpoint, glue_database, "orders")
    migration = GlueMigration(glue_lakehouse, mode="migrate")

    dry = migration.migrate_table(f"{glue_database}.orders", dry_run=True)
    assert dry.status == "planned" and any("delete the Glue entry" in s for s in dry.steps)
    assert _names(glue, glue_database) == ["orders"]

    result = migration.migrate_table(f"{glue_database}.orders")

    assert (result.status, result.action) == ("migrated", "replace")
    assert _names(glue, glue_database) == ["orders", "orders_backup_"]
    backup = glue.get_table(DatabaseName=glue_database, Name="orders_backup_")["Table"]
    assert backup["Parameters"][BACKUP_OF_PARAMETER] == f"{glue_database}.orders"
    partitions = glue.get_partitions(DatabaseName=glue_database, TableName="orders_backup_")
    assert sorted(p["Values"][0] for p in partitions["Partitions"]) == list(DAYS)
    table = glue_lakehouse.get_table(f"{glue_database}.orders").table
    assert table.location() == f"s3://warehouse/{glue_database}/orders"
    expected = sorted_rows(rows)
    assert sorted_rows(table.scan().to_arrow().to_pylist()) == expected
    spark_rows = spark_hive.sql(f"SELECT * FROM glue_ice.{glue_database}.orders")
    assert sorted_rows(spark_rows) == expected
    assert migration.validate_migration(f"{glue_database}.orders").passed  # against the backup
    assert migration.migrate_table(f"{glue_database}.orders").status == "skipped"


def test_migrate_mode_needs_the_same_glue_catalog_as_target(lakehouse, moto_endpoint):
    from phlo_lakehouse.errors import InvalidConfig

    with pytest.raises(InvalidConfig, match="replaces Glue tables in place") as error:
        GlueMigration(lakehouse, mode="migrate", glue_properties=glue_properties(moto_endpoint))
    assert "snapshot" in error.value.hint
