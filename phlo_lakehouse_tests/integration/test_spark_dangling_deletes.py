"""Dangling delete files made the way streaming upserts make them, removed by us, checked by Spark.

Spark MERGEs batches of upserts into a merge-on-read table round after round (each round writes
position delete files against the previous rounds' data files), then Spark's own
``rewrite_data_files`` compacts some partitions without removing dangling deletes. The oracle for
"dangling" reads every live delete file's contents with Spark and asks whether any row of it
points at a live data file its sequence number allows: it shares no code with ours.
"""

from __future__ import annotations

import pytest

from phlo_lakehouse.operations import OperationExecutor
from phlo_lakehouse.operations.dangling import RemoveDanglingDeletesOperation
from phlo_lakehouse.operations.optimize import OptimizeOperation
from phlo_lakehouse.storage.listing import normalize_location
from phlo_lakehouse_tests.integration.test_spark_cross_engine import (
    MOR_PROPERTIES,
    fqn,
    pyiceberg_rows,
    spark_rows,
)

pytestmark = [pytest.mark.spark, pytest.mark.slow]

ROUNDS = 6
KEYS = 200


def streaming_upserts(spark, lakehouse, name: str, *, compact_where: str | None) -> None:
    """``ROUNDS`` MERGE rounds of upserts into a 4-partition merge-on-read table, then Spark's
    compaction of the partitions ``compact_where`` selects (all when None)."""
    table = fqn(lakehouse, name)
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {table.rsplit('.', 1)[0]}")
    spark.sql(
        f"CREATE TABLE {table} (id BIGINT, part INT, val STRING, round INT) USING iceberg "
        f"PARTITIONED BY (part) TBLPROPERTIES ({MOR_PROPERTIES})"
    )
    spark.sql(f"INSERT INTO {table} SELECT id, CAST(id % 4 AS INT), 'v0', 0 FROM range({KEYS})")
    for round_ in range(1, ROUNDS + 1):
        # Each round updates a third of the keys (a different third each time) and adds new ones.
        spark.sql(
            f"MERGE INTO {table} t USING (SELECT id, CAST(id % 4 AS INT) AS part, "
            f"'v{round_}' AS val, {round_} AS round FROM range({KEYS + round_ * 10}) "
            f"WHERE id % 3 = {round_ % 3} OR id >= {KEYS}) s ON t.id = s.id "
            "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
        )
    where = f", where => '{compact_where}'" if compact_where else ""
    spark.sql(
        f"CALL {lakehouse.settings.name}.system.rewrite_data_files(table => '{name}'{where}, "
        "options => map('rewrite-all', 'true', 'remove-dangling-deletes', 'false'))"
    )


def live_data_sequence(spark, table: str) -> dict[tuple, int]:
    """Live data files as Spark's ``entries`` table lists them: normalized path → sequence."""
    rows = spark.sql(
        f"SELECT data_file.file_path AS path, sequence_number FROM {table}.entries "
        "WHERE status < 2 AND data_file.content = 0"
    ).collect()
    return {normalize_location(r.path): r.sequence_number for r in rows}


def dangling_by_contents(spark, table: str) -> set[tuple]:
    """Live delete files none of whose rows points at a live data file it may apply to (read
    from the delete files' contents by Spark): normalized paths."""
    data = live_data_sequence(spark, table)
    deletes = spark.sql(
        f"SELECT data_file.file_path AS path, sequence_number FROM {table}.entries "
        "WHERE status < 2 AND data_file.content = 1"
    ).collect()
    assert deletes, "the scenario must produce position delete files"
    dangling = set()
    for delete in deletes:
        referenced = {
            normalize_location(r.file_path)
            for r in spark.read.parquet(delete.path).select("file_path").distinct().collect()
        }
        if not any(
            data.get(p, delete.sequence_number + 1) <= delete.sequence_number for p in referenced
        ):
            dangling.add(normalize_location(delete.path))
    return dangling


def live_delete_paths(spark, table: str) -> set[tuple]:
    rows = spark.sql(f"SELECT file_path FROM {table}.delete_files").collect()
    return {normalize_location(r.file_path) for r in rows}


def java_dangling_removal(spark, table: str) -> int:
    """Run Iceberg's own RemoveDanglingDeleteFiles action (Java, through Spark's JVM) on the
    table; returns how many delete files it removed."""
    jvm = spark._jvm
    java_table = jvm.org.apache.iceberg.spark.Spark3Util.loadIcebergTable(
        spark._jsparkSession, table
    )
    action = jvm.org.apache.iceberg.spark.actions.SparkActions.get(spark._jsparkSession)
    result = action.removeDanglingDeleteFiles(java_table).execute()
    return jvm.org.apache.iceberg.relocated.com.google.common.collect.Iterables.size(
        result.removedDeleteFiles()
    )


def test_streaming_upserts_dangling_deletes_all_removed_and_only_they(
    spark, shared_lakehouse, unique_name
):
    name = f"{unique_name}.upserts"
    table = fqn(shared_lakehouse, name)
    streaming_upserts(spark, shared_lakehouse, name, compact_where="part < 2")
    rows_before = spark_rows(spark, table)
    deletes_before = live_delete_paths(spark, table)
    expected = dangling_by_contents(spark, table)
    assert expected and expected != deletes_before  # some dangling, some still applying

    executor = OperationExecutor(shared_lakehouse)
    dry = executor.run(RemoveDanglingDeletesOperation(), name, dry_run=True)
    result = executor.run(RemoveDanglingDeletesOperation(), name)

    planned = {normalize_location(p) for p in dry.details["dangling_delete_files"]}
    assert planned == expected
    assert result.committed and dry.figures == result.figures
    assert result.figures["dangling_delete_files"] == len(expected)
    assert live_delete_paths(spark, table) == deletes_before - expected
    assert spark_rows(spark, table) == rows_before
    assert pyiceberg_rows(shared_lakehouse.get_table(name)) == rows_before
    after = shared_lakehouse.get_table(name)
    assert after.snapshot.summary.operation.value == "replace"
    assert after.snapshot.summary["removed-delete-files"] == str(len(expected))
    assert after.snapshot.summary["total-delete-files"] == str(len(deletes_before - expected))
    # Iceberg's own action finds nothing left to remove, and a second run of ours neither.
    assert java_dangling_removal(spark, table) == 0
    again = executor.run(RemoveDanglingDeletesOperation(), name)
    assert not again.committed and again.figures["dangling_delete_files"] == 0


def test_spark_rewrite_with_remove_dangling_deletes_finds_nothing_after_ours(
    spark, shared_lakehouse, unique_name
):
    """After our removal, Spark's rewrite_data_files with remove-dangling-deletes removes no
    delete file (its result counts them)."""
    name = f"{unique_name}.upserts"
    table = fqn(shared_lakehouse, name)
    streaming_upserts(spark, shared_lakehouse, name, compact_where=None)
    rows_before = spark_rows(spark, table)
    assert dangling_by_contents(spark, table) == live_delete_paths(spark, table)

    OperationExecutor(shared_lakehouse).run(RemoveDanglingDeletesOperation(), name)

    assert live_delete_paths(spark, table) == set()
    row = spark.sql(
        f"CALL {shared_lakehouse.settings.name}.system.rewrite_data_files(table => '{name}', "
        "options => map('rewrite-all', 'true', 'remove-dangling-deletes', 'true'))"
    ).collect()[0]
    assert row.removed_delete_files_count == 0
    assert spark_rows(spark, table) == rows_before


def test_optimize_removes_dangling_deletes_by_default(spark, shared_lakehouse, unique_name):
    """Our compaction (remove_dangling_deletes on by default, as Spark 1.10's option) removes the
    dangling deletes in its own commit; with the option off they stay. New files keep the
    starting snapshot's sequence number (use_starting_sequence_number) and Spark agrees."""
    name = f"{unique_name}.upserts"
    table = fqn(shared_lakehouse, name)
    streaming_upserts(spark, shared_lakehouse, name, compact_where="part < 2")
    rows_before = spark_rows(spark, table)
    dangling = dangling_by_contents(spark, table)
    executor = OperationExecutor(shared_lakehouse)

    kept = executor.run(
        OptimizeOperation(remove_dangling_deletes=False, partition_filter="part = 3"), name
    )
    assert kept.figures["dangling_delete_files"] == 0
    assert dangling <= live_delete_paths(spark, table)

    start = shared_lakehouse.get_table(name).snapshot.sequence_number
    result = executor.run(OptimizeOperation(partition_filter="part = 2"), name)

    assert result.committed and result.figures["dangling_delete_files"] == len(dangling)
    assert not dangling & live_delete_paths(spark, table)
    assert spark_rows(spark, table) == rows_before
    assert java_dangling_removal(spark, table) == 0
    written = {normalize_location(p) for p in result.details["files_written"]}
    sequence = live_data_sequence(spark, table)
    assert written and {sequence[p] for p in written} == {start}
