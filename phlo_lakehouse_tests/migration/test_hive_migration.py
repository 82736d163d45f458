"""HiveMigration against the real Hive metastore: Spark writes the partitioned Parquet source
tables, the migration turns them into Iceberg tables over the same files, and Spark (Iceberg's
Hive catalog) and PyIceberg read the same rows afterwards."""

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from phlo_lakehouse.migration import HiveMigration, ValidationFailed
from phlo_lakehouse.migration.hive import ORIGINAL_TYPE_PARAMETER
from phlo_lakehouse.migration.metastore import BACKUP_OF_PARAMETER
from phlo_lakehouse.storage.listing import list_storage
from phlo_lakehouse_tests.migration.conftest import (
    DAYS,
    day_rows,
    hive_client,
    hive_table_names,
    sorted_rows,
    write_hive_parquet_table,
)

pytestmark = [pytest.mark.hive]


def spark_orders(spark, database: str) -> list[dict]:
    """A managed Hive-serde Parquet table partitioned by dt, two inserts (two files a day)."""
    spark.sql(
        f"CREATE TABLE {database}.orders (id BIGINT, name STRING, amount DOUBLE) "
        "PARTITIONED BY (dt STRING) STORED AS PARQUET"
    )
    rows = []
    for batch in range(2):
        values = []
        for number, day in enumerate(DAYS):
            for row in day_rows(day, batch * 100 + number * 10, 4).to_pylist():
                rows.append({**row, "dt": day})
                values.append(f"({row['id']}, '{row['name']}', {row['amount']}, '{day}')")
        spark.sql(f"INSERT INTO {database}.orders PARTITION (dt) VALUES {', '.join(values)}")
    return rows


def spark_events(spark, database: str) -> list[dict]:
    """A Spark datasource Parquet table partitioned by (dt string, hour int)."""
    spark.sql(
        f"CREATE TABLE {database}.events (id BIGINT, name STRING, dt STRING, hour INT) "
        "USING parquet PARTITIONED BY (dt, hour)"
    )
    rows = [{"id": i, "name": f"e{i}", "dt": DAYS[i % 2], "hour": i % 3} for i in range(12)]
    values = ", ".join(f"({r['id']}, '{r['name']}', '{r['dt']}', {r['hour']})" for r in rows)
    spark.sql(f"INSERT INTO {database}.events VALUES {values}")
    return rows


@pytest.mark.spark
def test_snapshot_mode_creates_iceberg_tables_spark_and_pyiceberg_read_alike(
    spark_hive, hive_uri, hive_lakehouse, database, tmp_path: Path
):
    expected = {
        "orders": spark_orders(spark_hive, database),
        "events": spark_events(spark_hive, database),
    }
    migration = HiveMigration(hive_lakehouse, metastore_uri=hive_uri, suffix="_iceberg")

    preview = migration.run([f"{database}.*"], dry_run=True)
    assert [(t.source, t.status) for t in preview.tables] == [
        (f"{database}.events", "planned"),
        (f"{database}.orders", "planned"),
    ]
    written = list((tmp_path / f"{database}.db" / "orders").glob("dt=*/part-*"))
    assert preview.tables[1].figures["data_files"] == len(written) >= 6
    assert hive_table_names(hive_uri, database) == ["events", "orders"]

    summary = migration.run([f"{database}.*"])

    assert summary.ok, summary.summary()
    assert summary.figures["migrated"] == 2 and summary.figures["records"] == 36
    for name, rows in expected.items():
        target = f"{database}.{name}_iceberg"
        pyiceberg_rows = sorted_rows(hive_lakehouse.get_table(target).to_arrow().to_pylist())
        spark_rows = sorted_rows(spark_hive.sql(f"SELECT * FROM hive_ice.{target}"))
        source_rows = sorted_rows(spark_hive.sql(f"SELECT * FROM {database}.{name}"))
        assert pyiceberg_rows == spark_rows == source_rows == sorted_rows(rows)
    orders = hive_lakehouse.get_table(f"{database}.orders_iceberg").table
    # Partition values come from the metastore: filtering on them prunes and finds the rows.
    day = orders.scan(row_filter=f"dt = '{DAYS[1]}'")
    assert {f.file.partition[0] for f in day.plan_files()} == {DAYS[1]}
    assert day.to_arrow().num_rows == 8
    events = hive_lakehouse.get_table(f"{database}.events_iceberg").table
    assert [(f.name, str(f.transform)) for f in events.spec().fields] == [
        ("dt", "identity"),
        ("hour", "identity"),
    ]
    assert events.scan(row_filter="hour = 2").to_arrow().num_rows == 4
    assert orders.properties["gc.enabled"] == "false"
    assert "schema.name-mapping.default" in orders.properties
    assert migration.validate_migration(f"{database}.orders").passed

    again = migration.run([f"{database}.*"])
    assert [t.status for t in again.tables] == ["skipped", "skipped"]


@pytest.mark.spark
def test_migrate_mode_gives_the_name_to_iceberg_and_keeps_a_backup(
    spark_hive, hive_uri, hive_lakehouse, database
):
    rows = spark_orders(spark_hive, database)
    with hive_client(hive_uri) as client:
        location = client.get_table(database, "orders").sd.location
    migration = HiveMigration(hive_lakehouse, metastore_uri=hive_uri, mode="migrate")

    result = migration.migrate_table(f"{database}.orders")

    assert (result.status, result.action) == ("migrated", "replace")
    assert result.validation["passed"]
    assert hive_table_names(hive_uri, database) == ["orders", "orders_backup_"]
    with hive_client(hive_uri) as client:
        backup = client.get_table(database, "orders_backup_")
    assert backup.tableType == "EXTERNAL_TABLE" and backup.sd.location == location
    assert backup.parameters[ORIGINAL_TYPE_PARAMETER] == "MANAGED_TABLE"
    assert backup.parameters[BACKUP_OF_PARAMETER] == f"{database}.orders"
    table = hive_lakehouse.get_table(f"{database}.orders").table
    assert table.location() == location
    expected = sorted_rows(rows)
    assert sorted_rows(table.scan().to_arrow().to_pylist()) == expected
    assert sorted_rows(spark_hive.sql(f"SELECT * FROM hive_ice.{database}.orders")) == expected
    assert sorted_rows(spark_hive.sql(f"SELECT * FROM {database}.orders_backup_")) == expected
    assert migration.validate_migration(f"{database}.orders").passed
    assert migration.migrate_table(f"{database}.orders").status == "skipped"

    # New writes land below _iceberg/, which Hive and Spark readers of the backup skip.
    table.append(day_rows(DAYS[0], 900, 3).append_column("dt", [[DAYS[0]] * 3]))
    assert len(spark_hive.sql(f"SELECT * FROM hive_ice.{database}.orders")) == len(rows) + 3
    assert sorted_rows(spark_hive.sql(f"SELECT * FROM {database}.orders_backup_")) == expected


def test_a_failed_validation_publishes_nothing_and_leaves_the_source_intact(
    hive_uri, hive_lakehouse, database, tmp_path: Path
):
    rows = write_hive_parquet_table(hive_uri, database, "orders", tmp_path)
    migration = HiveMigration(hive_lakehouse, metastore_uri=hive_uri, mode="migrate")
    plan = migration.plan(f"{database}.orders")
    # The source changes between plan and execution: a late file lands in one partition.
    late = tmp_path / f"{database}.db" / "orders" / f"dt={DAYS[1]}" / "late.parquet"
    pq.write_table(day_rows(DAYS[1], 1000, 3), late)

    with pytest.raises(ValidationFailed) as error:
        migration.execute_plan(plan)

    differences = error.value.report.differences()
    assert differences[0].startswith("files: 1 source file(s) not in the target")
    assert differences[1] == f"row_count: source {len(rows) + 3}, target {len(rows)}"
    assert "\n" not in str(error.value) and error.value.hint
    assert hive_table_names(hive_uri, database) == ["orders"]  # no backup, no staging table
    with hive_client(hive_uri) as client:
        source = client.get_table(database, "orders")
    assert source.tableType == "EXTERNAL_TABLE" and "table_type" not in source.parameters
    leftovers = list_storage(_io(), _iceberg(tmp_path, database))
    assert leftovers == []  # the staging table's metadata files were deleted

    assert migration.migrate_table(f"{database}.orders").status == "migrated"  # planned afresh
    assert hive_lakehouse.get_table(f"{database}.orders").to_arrow().num_rows == len(rows) + 3


def _io():
    from pyiceberg.io.pyarrow import PyArrowFileIO

    return PyArrowFileIO({})


def _iceberg(root: Path, database: str) -> str:
    return f"file://{root}/{database}.db/orders/_iceberg"


def test_int96_timestamps_and_mixed_case_file_columns_migrate(hive_uri, database, tmp_path: Path):
    """Spark keeps column case in the files while the metastore lower-cases names, and writes
    timestamps as INT96: both read back correctly through the name mapping."""
    import datetime
    import json

    import pyarrow as pa

    from phlo_lakehouse import CatalogSettings, IcebergLakehouse

    columns = (("userid", "bigint"), ("seen", "timestamp"))
    write_hive_parquet_table(
        hive_uri, database, "visits", tmp_path, write=False, columns=columns, days=DAYS[:1]
    )
    seen = [datetime.datetime(2026, 1, 1, h) for h in (1, 2)]
    folder = tmp_path / f"{database}.db" / "visits" / f"dt={DAYS[0]}"
    pq.write_table(
        pa.table({"userId": [7, 8], "seen": pa.array(seen, pa.timestamp("us"))}),
        folder / "part-0.parquet",
        use_deprecated_int96_timestamps=True,
    )
    target = IcebergLakehouse(CatalogSettings.embedded(tmp_path / "lakehouse"))

    result = HiveMigration(target, metastore_uri=hive_uri).migrate_table(f"{database}.visits")

    assert result.status == "migrated" and result.validation["passed"]
    table = target.get_table(f"{database}.visits").table
    assert table.scan().to_arrow().to_pylist() == [
        {"userid": 7, "seen": seen[0], "dt": DAYS[0]},
        {"userid": 8, "seen": seen[1], "dt": DAYS[0]},
    ]
    mapping = json.loads(table.properties["schema.name-mapping.default"])
    assert mapping[0]["names"] == ["userid", "userId"]
