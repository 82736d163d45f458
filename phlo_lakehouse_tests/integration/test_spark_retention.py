"""Data retention on Spark-written merge-on-read tables (position deletes in play), read back by
Spark: exactly the rows older than the cutoff are gone, partitioned and unpartitioned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from phlo_lakehouse.operations import OperationExecutor
from phlo_lakehouse.operations.retention import DataRetentionOperation
from phlo_lakehouse_tests.integration.test_spark_cross_engine import (
    MOR_PROPERTIES,
    fqn,
    pyiceberg_rows,
    spark_rows,
)

pytestmark = [pytest.mark.spark, pytest.mark.slow]

START_MICROS = 1767225600000000  # 2026-01-01T00:00:00Z
NOW = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=30, hours=60)  # cutoff: day 3, 12:00
CUTOFF_MICROS = START_MICROS + 60 * 3600 * 1_000_000


@pytest.mark.parametrize("partitioned", [True, False], ids=["days(ts)", "unpartitioned"])
def test_spark_reads_exactly_the_young_rows_after_our_retention(
    spark, shared_lakehouse, unique_name, partitioned
):
    name = f"{unique_name}.retention"
    table = fqn(shared_lakehouse, name)
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {table.rsplit('.', 1)[0]}")
    spark.sql(
        f"CREATE TABLE {table} (id BIGINT, ts TIMESTAMP, val STRING) USING iceberg "
        + ("PARTITIONED BY (days(ts)) " if partitioned else "")
        + f"TBLPROPERTIES ({MOR_PROPERTIES})"
    )
    for batch in range(3):  # 5 days of rows, every 30 minutes, three inserts
        spark.sql(
            f"INSERT INTO {table} SELECT id, timestamp_micros({START_MICROS} + id * 1800000000), "
            f"'b{batch}' FROM range({batch * 80}, {batch * 80 + 80})"
        )
    spark.sql(f"DELETE FROM {table} WHERE id % 7 = 0")  # position deletes
    before = spark_rows(spark, table)
    expected = [r for r in before if r[1] >= CUTOFF_MICROS]
    assert len(expected) < len(before)

    op = DataRetentionOperation(column="ts", retention="30d", now=NOW)
    dry = OperationExecutor(shared_lakehouse).run(op, name, dry_run=True)
    result = OperationExecutor(shared_lakehouse).run(op, name)

    assert dry.figures == result.figures
    assert result.figures["rows_to_delete"] == len(before) - len(expected)
    assert spark_rows(spark, table) == expected
    assert pyiceberg_rows(shared_lakehouse.get_table(name)) == expected
    if partitioned:
        assert result.figures["partitions_to_drop"] == 2  # days 1 and 2, metadata only
    # Spark keeps writing on top of our commit.
    spark.sql(f"INSERT INTO {table} VALUES (100000, TIMESTAMP '2026-01-01 00:00:00', 'late')")
    assert len(spark_rows(spark, table)) == len(expected) + 1
