"""Row-group stitching with real Spark + Iceberg: Spark reads the stitched files, and files Spark
(parquet-mr) wrote stitch too.

Oracles: Spark's own reads before the compaction, and Spark reading the stitched Parquet files
directly (``spark.read.parquet``), not through our metadata.
"""

from __future__ import annotations

import pytest

from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.operations import OperationExecutor
from phlo_lakehouse.operations.live_files import live_files
from phlo_lakehouse.operations.optimize import OptimizeOperation
from phlo_lakehouse_tests.integration.test_spark_cross_engine import (
    fqn,
    pyiceberg_rows,
    spark_current_snapshot,
    spark_rows,
)

pytestmark = pytest.mark.spark


def _stitch(lakehouse, name: str) -> dict:
    op = OptimizeOperation(stitch="always", min_input_files=2)
    result = OperationExecutor(lakehouse).run(op, name)
    assert result.committed
    return result.details


def test_spark_reads_identical_rows_from_stitched_files(spark, shared_lakehouse, unique_name):
    name = f"{unique_name}.events"
    table = fqn(shared_lakehouse, name)
    handle = seed_demo_table(shared_lakehouse, name, commits=5, rows_per_commit=100)
    before = spark_rows(spark, table)
    inputs = {f.path for f in live_files(handle.table, handle.snapshot).data}

    details = _stitch(shared_lakehouse, name)

    assert details["stitched_groups"] == 4 and details["decoded_groups"] == 0
    after = shared_lakehouse.get_table(name)
    assert spark_rows(spark, table) == before
    assert pyiceberg_rows(after) == before
    assert spark_current_snapshot(spark, table) == (after.snapshot_id, "replace")
    stitched = sorted(details["files_written"])
    assert not set(stitched) & inputs
    # the Parquet files alone, read by Spark's Parquet reader (no Iceberg metadata involved)
    direct = spark.read.parquet(*stitched)
    assert direct.count() == len(before)
    assert sorted(r.event_id for r in direct.select("event_id").collect()) == sorted(
        r[0] for r in before
    )
    # Spark's metadata tables see our column metrics
    counts = spark.sql(f"SELECT record_count FROM {table}.files").collect()
    assert sum(r.record_count for r in counts) == len(before)


def test_files_spark_wrote_are_stitched_and_spark_reads_them(spark, shared_lakehouse, unique_name):
    name = f"{unique_name}.spark_written"
    table = fqn(shared_lakehouse, name)
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {table.rsplit('.', 1)[0]}")
    spark.sql(
        f"CREATE TABLE {table} (id BIGINT, kind STRING, amount DOUBLE, at TIMESTAMP) "
        "USING iceberg PARTITIONED BY (kind)"
    )
    # Nullable expressions: Iceberg's Spark writer marks a column REQUIRED in the Parquet file
    # when the query's column cannot be null, and such files differ from the table's write
    # schema (they are decoded, not stitched: test_unsafe_or_unwanted_groups...).
    for batch in range(4):
        spark.sql(
            f"INSERT INTO {table} SELECT IF(id < 0, NULL, id + {batch * 50}), "
            f"IF(id % 2 = 0, 'a', IF(id = 49, NULL, 'b')), "
            f"IF(id = 47, NULL, (id + {batch * 50}) * 0.5), "
            f"IF(id = 48, NULL, TIMESTAMP '2026-01-01 00:00:00' + make_interval(0, 0, 0, 0, 0, "
            f"0, id)) FROM range(50)"
        )
    before = spark_rows(spark, table)

    details = _stitch(shared_lakehouse, name)

    # partitions a, b and NULL; each holds 4 Spark-written files
    assert details["stitched_groups"] == 3, details["decode_reasons"]
    assert spark_rows(spark, table) == before
    assert pyiceberg_rows(shared_lakehouse.get_table(name)) == before
    # Spark keeps writing on top, and reads everything back
    spark.sql(f"INSERT INTO {table} SELECT * FROM {table} WHERE id < 3")
    assert len(spark_rows(spark, table)) == len(before) + 3
