"""Format v3 tables written by Spark 1.10 with deletion vectors: read correctly, vacuumed
correctly (DV Puffin files are reachable), and every committing operation refused in its plan
with one line, before anything is written (PyIceberg 0.12 writes no v3 metadata or manifests)."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.operations import (
    ComputeTableStatsOperation,
    DataRetentionOperation,
    ExpireSnapshotsOperation,
    OperationExecutor,
    OptimizeOperation,
    RemoveDanglingDeletesOperation,
    RewriteManifestsOperation,
    RewritePositionDeletesOperation,
    VacuumOperation,
)
from phlo_lakehouse_tests.integration.test_spark_cross_engine import (
    backdate,
    fqn,
    local_path,
    pyiceberg_rows,
    spark_rows,
)

pytestmark = [pytest.mark.spark, pytest.mark.slow]

REFUSED = [
    OptimizeOperation(),
    ExpireSnapshotsOperation(older_than="0s"),
    RewriteManifestsOperation(),
    RemoveDanglingDeletesOperation(),
    ComputeTableStatsOperation(),
    DataRetentionOperation(column="ts", retention="1d"),
    RewritePositionDeletesOperation(),
]


def files_under(handle) -> set[str]:
    root = local_path(handle.table.location())
    return {os.path.join(d, f) for d, _, names in os.walk(root) for f in names}


@pytest.fixture
def v3_table(spark, shared_lakehouse, unique_name):
    name = f"{unique_name}.v3"
    table = fqn(shared_lakehouse, name)
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {table.rsplit('.', 1)[0]}")
    spark.sql(
        f"CREATE TABLE {table} (id BIGINT, ts TIMESTAMP, kind STRING) USING iceberg "
        "PARTITIONED BY (kind) TBLPROPERTIES ('format-version'='3', "
        "'write.delete.mode'='merge-on-read', 'write.update.mode'='merge-on-read')"
    )
    for batch in range(3):
        spark.sql(
            f"INSERT INTO {table} SELECT id, timestamp_micros(id * 1000000), "
            f"IF(id % 2 = 0, 'a', 'b') FROM range({batch * 50}, {batch * 50 + 50})"
        )
    spark.sql(f"DELETE FROM {table} WHERE id % 5 = 0")
    spark.sql(f"UPDATE {table} SET kind = kind WHERE id % 7 = 0")
    return name, table


def test_spark_v3_table_with_deletion_vectors_reads_the_same_rows(
    spark, shared_lakehouse, v3_table
):
    name, table = v3_table
    handle = shared_lakehouse.get_table(name)
    assert handle.table.metadata.format_version == 3
    formats = {r[0] for r in spark.sql(f"SELECT file_format FROM {table}.delete_files").collect()}
    assert formats == {"PUFFIN"}  # deletion vectors
    assert pyiceberg_rows(handle) == spark_rows(spark, table)


def test_committing_operations_are_refused_in_the_plan(spark, shared_lakehouse, v3_table):
    name, table = v3_table
    handle = shared_lakehouse.get_table(name)
    files, location = files_under(handle), handle.table.metadata_location
    for operation in REFUSED:
        for dry_run in (True, False):
            with pytest.raises(InvalidInput) as raised:
                OperationExecutor(shared_lakehouse).run(operation, name, dry_run=dry_run)
            message = raised.value.message
            assert message.startswith(f"{operation.name} cannot commit to format v3 table")
            assert "\n" not in message
    after = shared_lakehouse.get_table(name)
    assert after.table.metadata_location == location and files_under(after) == files
    assert pyiceberg_rows(after) == spark_rows(spark, table)


def test_vacuum_keeps_deletion_vectors_and_finds_a_planted_orphan(
    spark, shared_lakehouse, v3_table
):
    name, table = v3_table
    handle = shared_lakehouse.get_table(name)
    orphan = local_path(handle.table.location()) / "data" / "orphan.parquet"
    orphan.write_bytes(b"not referenced")
    backdate(handle)
    rows = spark_rows(spark, table)

    result = OperationExecutor(shared_lakehouse).run(VacuumOperation(timedelta(days=1)), name)

    assert result.figures["orphan_files"] == 1 and not orphan.exists()
    assert spark_rows(spark, table) == rows
    assert pyiceberg_rows(shared_lakehouse.get_table(name)) == rows
