"""Position delete files written by Spark (merge-on-read MERGE rounds), compacted by our
RewritePositionDeletesOperation, checked by Spark.

The oracles are Spark's own: the rows it reads, the ``(file_path, pos)`` rows of its
``position_deletes`` metadata table (every live delete file read by Iceberg's Java reader), its
``entries`` table (sequence numbers) and its own ``rewrite_position_delete_files`` run after
ours, which must find nothing to merge (the same delete files and rows before and after).
"""

from __future__ import annotations

import pytest

from phlo_lakehouse.operations import OperationExecutor
from phlo_lakehouse.operations.position_deletes import RewritePositionDeletesOperation
from phlo_lakehouse.storage.listing import normalize_location
from phlo_lakehouse_tests.integration.test_spark_cross_engine import (
    MOR_PROPERTIES,
    fqn,
    pyiceberg_rows,
    spark_rows,
)
from phlo_lakehouse_tests.integration.test_spark_dangling_deletes import java_dangling_removal

pytestmark = [pytest.mark.spark, pytest.mark.slow]

ROUNDS = 5
KEYS = 160


def upserts(spark, lakehouse, name: str, *, granularity: str | None = None) -> str:
    """A 4-partition merge-on-read table after ``ROUNDS`` MERGE rounds that update a quarter of
    the keys each (a different quarter every round), so each data file collects several
    position delete files."""
    table = fqn(lakehouse, name)
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {table.rsplit('.', 1)[0]}")
    extra = f", 'write.delete.granularity'='{granularity}'" if granularity else ""
    spark.sql(
        f"CREATE TABLE {table} (id BIGINT, part INT, val STRING) USING iceberg "
        f"PARTITIONED BY (part) TBLPROPERTIES ({MOR_PROPERTIES}{extra})"
    )
    for start in range(0, KEYS, KEYS // 4):  # four appends: four data files per partition
        spark.sql(
            f"INSERT INTO {table} SELECT id, CAST(id % 4 AS INT), 'v0' "
            f"FROM range({start}, {start + KEYS // 4})"
        )
    for round_ in range(1, ROUNDS + 1):
        spark.sql(
            f"MERGE INTO {table} t USING (SELECT id, CAST(id % 4 AS INT) AS part, "
            f"'v{round_}' AS val FROM range({KEYS}) WHERE (id DIV 4) % {ROUNDS} = {round_ - 1}) s "
            "ON t.id = s.id WHEN MATCHED THEN UPDATE SET *"
        )
    return table


def deleted_rows(spark, table: str) -> set[tuple]:
    """Every (data file, position) the live position delete files hold, read by Spark."""
    rows = spark.sql(f"SELECT file_path, pos FROM {table}.position_deletes").collect()
    return {(normalize_location(r.file_path), r.pos) for r in rows}


def delete_files(spark, table: str) -> dict[tuple, int]:
    """Live position delete files as Spark's entries table lists them: path → data sequence."""
    rows = spark.sql(
        f"SELECT data_file.file_path AS path, sequence_number FROM {table}.entries "
        "WHERE status < 2 AND data_file.content = 1"
    ).collect()
    return {normalize_location(r.path): r.sequence_number for r in rows}


def live_data(spark, table: str) -> set[tuple]:
    rows = spark.sql(f"SELECT file_path FROM {table}.data_files").collect()
    return {normalize_location(r.file_path) for r in rows}


def referenced(spark, table: str) -> dict[tuple, set[tuple]]:
    """Delete file → the data files its rows point at (Spark's position_deletes table)."""
    rows = spark.sql(f"SELECT delete_file_path, file_path FROM {table}.position_deletes").collect()
    out: dict[tuple, set[tuple]] = {}
    for r in rows:
        out.setdefault(normalize_location(r.delete_file_path), set()).add(
            normalize_location(r.file_path)
        )
    return out


def spark_rewrite(spark, lakehouse, name: str) -> int:
    row = spark.sql(
        f"CALL {lakehouse.settings.name}.system.rewrite_position_delete_files("
        f"table => '{name}', options => map('rewrite-all', 'true'))"
    ).collect()[0]
    return row.rewritten_delete_files_count


@pytest.mark.parametrize("output", ["file", "partition"])
def test_spark_reads_the_same_rows_and_finds_nothing_to_merge_after_ours(
    spark, shared_lakehouse, unique_name, output
):
    """Spark writes partition-scoped delete files (one per partition and MERGE round, as Flink
    and older Spark do); ours compacts them into one per data file or one per partition."""
    name = f"{unique_name}.upserts"
    table = upserts(spark, shared_lakehouse, name, granularity="partition")
    rows, pairs = spark_rows(spark, table), deleted_rows(spark, table)
    before = delete_files(spark, table)
    data = live_data(spark, table)
    assert len(before) > 4 * 2  # several per partition: work to do

    executor = OperationExecutor(shared_lakehouse)
    op = RewritePositionDeletesOperation(min_input_files=2, delete_granularity=output)
    dry = executor.run(op, name, dry_run=True)
    result = executor.run(
        RewritePositionDeletesOperation(min_input_files=2, delete_granularity=output), name
    )

    assert result.committed and dry.figures == result.figures
    assert result.figures["delete_files_to_rewrite"] == len(before)
    assert spark_rows(spark, table) == rows == pyiceberg_rows(shared_lakehouse.get_table(name))
    assert deleted_rows(spark, table) == pairs  # no dangling row here: every pair kept
    after = delete_files(spark, table)
    scope = referenced(spark, table)
    if output == "file":
        assert all(len(files) == 1 for files in scope.values())
        assert len(after) == len({p for p, _ in pairs})
    else:
        assert len(after) == 4  # one per partition
    # each new file carries the highest sequence number its partition's files had
    highest: dict[str, int] = {}
    for delete, seq in before.items():
        highest[_partition(delete)] = max(highest.get(_partition(delete), 0), seq)
    for delete, seq in after.items():
        assert seq == highest[_partition(delete)]
    assert {p for files in scope.values() for p in files} <= data

    # Spark's own procedure over every file, writing the same granularity, merges nothing more
    spark.sql(f"ALTER TABLE {table} SET TBLPROPERTIES ('write.delete.granularity'='{output}')")
    spark_rewrite(spark, shared_lakehouse, name)
    assert len(delete_files(spark, table)) == len(after)
    assert deleted_rows(spark, table) == pairs and spark_rows(spark, table) == rows


def test_spark_file_scoped_deletes_are_left_as_they_are(spark, shared_lakehouse, unique_name):
    """Spark 1.10 with its default file granularity keeps one delete file per data file (it
    folds earlier deletes into each new one): ours finds nothing to merge, Spark neither."""
    name = f"{unique_name}.upserts"
    table = upserts(spark, shared_lakehouse, name)
    before, pairs = delete_files(spark, table), deleted_rows(spark, table)
    assert all(len(files) == 1 for files in referenced(spark, table).values())

    result = OperationExecutor(shared_lakehouse).run(
        RewritePositionDeletesOperation(min_input_files=2), name
    )

    assert not result.committed and result.figures["file_groups"] == 0
    assert delete_files(spark, table) == before
    spark_rewrite(spark, shared_lakehouse, name)
    assert len(delete_files(spark, table)) == len(before)
    assert deleted_rows(spark, table) == pairs


def _partition(delete: tuple) -> str:
    return delete[2].rsplit("/", 2)[-2]  # the part=N directory


def test_dangling_rows_and_files_dropped_after_spark_compacts_some_data(
    spark, shared_lakehouse, unique_name
):
    """Spark compacts two partitions' data without removing dangling deletes. Ours drops the
    delete files that apply to nothing unread, drops the rows of rewritten files whose data
    file is gone, keeps every pair whose data file is live; Spark reads the same rows and
    Iceberg's own dangling-delete action finds nothing left."""
    name = f"{unique_name}.upserts"
    table = upserts(spark, shared_lakehouse, name, granularity="partition")
    spark.sql(
        f"CALL {shared_lakehouse.settings.name}.system.rewrite_data_files(table => '{name}', "
        "where => 'part < 2', "
        "options => map('rewrite-all', 'true', 'remove-dangling-deletes', 'false'))"
    )
    rows, data = spark_rows(spark, table), live_data(spark, table)
    by_file = pairs_by_delete_file(spark, table)
    pairs = set().union(*by_file.values())
    live_pairs = {(p, n) for p, n in pairs if p in data}
    assert live_pairs != pairs  # the scenario leaves dangling deletes

    result = OperationExecutor(shared_lakehouse).run(
        RewritePositionDeletesOperation(min_input_files=2), name
    )

    untouched = set(by_file) & set(delete_files(spark, table))  # neither rewritten nor dropped
    assert result.figures["dangling_delete_files"] > 0 and result.committed
    assert deleted_rows(spark, table) == live_pairs.union(*(by_file[f] for f in untouched))
    assert spark_rows(spark, table) == rows
    assert java_dangling_removal(spark, table) == 0


def pairs_by_delete_file(spark, table: str) -> dict[tuple, set[tuple]]:
    rows = spark.sql(f"SELECT delete_file_path, file_path, pos FROM {table}.position_deletes")
    out: dict[tuple, set[tuple]] = {}
    for r in rows.collect():
        key = normalize_location(r.delete_file_path)
        out.setdefault(key, set()).add((normalize_location(r.file_path), r.pos))
    return out
