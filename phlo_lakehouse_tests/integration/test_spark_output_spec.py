"""Partition evolution in Spark, then our compaction into the current spec (``output_spec_id``),
checked by Spark: the same rows, every live file in the current spec, each file's partition
values equal to its own column bounds as Spark's ``files`` table reports them, pruning by the
new field correct, and Spark's own ``rewrite_data_files`` finds nothing left to compact."""

from __future__ import annotations

import pytest

from phlo_lakehouse.operations import OperationExecutor
from phlo_lakehouse.operations.optimize import OptimizeOperation
from phlo_lakehouse_tests.integration.test_spark_cross_engine import (
    fqn,
    pyiceberg_rows,
    spark_rows,
)

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def test_old_spec_files_rewritten_into_the_current_spec_read_by_spark(
    spark, shared_lakehouse, unique_name
):
    name = f"{unique_name}.evolved"
    table = fqn(shared_lakehouse, name)
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {table.rsplit('.', 1)[0]}")
    spark.sql(
        f"CREATE TABLE {table} (id BIGINT, ts TIMESTAMP, kind STRING) USING iceberg "
        "PARTITIONED BY (days(ts)) TBLPROPERTIES ('format-version'='2')"
    )
    insert = (
        f"INSERT INTO {table} SELECT id, TIMESTAMP '2026-01-01 00:00:00' + "
        "make_interval(0, 0, 0, CAST(id % 3 AS INT), 0, 0, id), "
        "element_at(array('click', 'view', 'buy'), CAST(id % 3 AS INT) + 1) FROM range({a}, {b})"
    )
    for start in range(0, 90, 30):
        spark.sql(insert.format(a=start, b=start + 30))
    spark.sql(f"ALTER TABLE {table} ADD PARTITION FIELD kind")
    for start in range(90, 180, 30):
        spark.sql(insert.format(a=start, b=start + 30))
    rows = spark_rows(spark, table)
    specs = {r.spec_id for r in spark.sql(f"SELECT spec_id FROM {table}.files").collect()}
    assert specs == {0, 1}
    clicks = sum(1 for r in rows if r[2] == "click")

    result = OperationExecutor(shared_lakehouse).run(OptimizeOperation(min_input_files=2), name)

    assert result.committed
    assert spark_rows(spark, table) == rows == pyiceberg_rows(shared_lakehouse.get_table(name))
    files = spark.sql(f"SELECT spec_id, partition, readable_metrics FROM {table}.files").collect()
    assert {f.spec_id for f in files} == {1}
    for f in files:
        ts, kind = f.readable_metrics.ts, f.readable_metrics.kind
        assert kind.lower_bound == kind.upper_bound == f.partition.kind
        assert f.partition.ts_day == ts.lower_bound.date() == ts.upper_bound.date()
    assert spark.sql(f"SELECT count(*) AS n FROM {table} WHERE kind = 'click'").first().n == clicks
    row = spark.sql(
        f"CALL {shared_lakehouse.settings.name}.system.rewrite_data_files(table => '{name}')"
    ).collect()[0]
    assert row.rewritten_data_files_count == 0
