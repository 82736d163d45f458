"""Format v3 tables written by Spark 3.5 + Iceberg 1.10 with deletion vectors and row lineage:
read correctly; their metadata written back by our v3 writer field for field; table stats,
expire, manifest rewrites and compaction (deletion vectors applied, lineage written into the
new files) commit what Spark reads with identical rows and row lineage (``_row_id``,
``_last_updated_sequence_number``) and keeps writing to; vacuum keeps deletion vectors; every
other committing operation refused in its plan, before anything is written."""

from __future__ import annotations

import json
import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from phlo_lakehouse._upstream.metadata_v3 import table_metadata_json
from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.operations import (
    ComputeTableStatsOperation,
    DataRetentionOperation,
    ExpireSnapshotsOperation,
    OperationExecutor,
    OptimizeOperation,
    RewriteManifestsOperation,
    RewritePositionDeletesOperation,
    VacuumOperation,
)
from phlo_lakehouse.storage.listing import normalize_location
from phlo_lakehouse_tests.integration.test_spark_cross_engine import (
    backdate,
    fqn,
    local_path,
    pyiceberg_rows,
    spark_rows,
)
from phlo_lakehouse_tests.integration.test_spark_table_stats import java_sketches

pytestmark = [pytest.mark.spark, pytest.mark.slow]

REFUSED = [
    RewritePositionDeletesOperation(),
]


def files_under(handle) -> set[str]:
    root = local_path(handle.table.location())
    return {os.path.join(d, f) for d, _, names in os.walk(root) for f in names}


def lineage(spark, table: str) -> list[tuple]:
    """Every row with its row lineage, as Spark reads it."""
    query = f"SELECT id, kind, _row_id, _last_updated_sequence_number FROM {table}"
    return sorted(tuple(r) for r in spark.sql(query).collect())


def document(location: str) -> dict:
    return json.loads(local_path(location).read_text(encoding="utf-8"))


def spark_v3_table(spark, lakehouse) -> tuple[str, str]:
    """Three appends, a DELETE (deletion vectors) and an UPDATE (new rows, merged vectors)."""
    name = f"t{uuid.uuid4().hex[:10]}.v3"
    table = fqn(lakehouse, name)
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


@pytest.fixture(scope="module")
def v3_table(spark, shared_lakehouse):
    """One Spark v3 table for the tests that leave its history as it is."""
    return spark_v3_table(spark, shared_lakehouse)


def test_spark_v3_table_with_deletion_vectors_reads_the_same_rows(
    spark, shared_lakehouse, v3_table
):
    name, table = v3_table
    handle = shared_lakehouse.get_table(name)
    assert handle.table.metadata.format_version == 3
    formats = {r[0] for r in spark.sql(f"SELECT file_format FROM {table}.delete_files").collect()}
    assert formats == {"PUFFIN"}  # deletion vectors
    assert pyiceberg_rows(handle) == spark_rows(spark, table)


def test_our_v3_writer_writes_back_every_metadata_document_spark_wrote(
    spark, shared_lakehouse, v3_table
):
    """Each metadata.json of the table's history (Spark's), parsed by PyIceberg and written by
    our writer, is the same document, field for field. The only liberties: PyIceberg writes a
    schema's empty ``identifier-field-ids`` and leaves out a null ``current-snapshot-id``."""
    from pyiceberg.serializers import FromInputFile

    name, table = v3_table
    handle = shared_lakehouse.get_table(name)
    log = spark.sql(f"SELECT file FROM {table}.metadata_log_entries").collect()
    locations = [row[0] for row in log]
    assert len(locations) == 6
    for location in locations:
        theirs = document(location)
        parsed = FromInputFile.table_metadata(handle.table.io.new_input(location))
        ours = json.loads(table_metadata_json(parsed))
        for schema in ours["schemas"]:
            assert schema.pop("identifier-field-ids") == []
        if theirs.get("current-snapshot-id", 0) is None:
            del theirs["current-snapshot-id"]
        assert ours == theirs, location
    last = document(locations[-1])
    assert last["next-row-id"] == 167  # 150 appended + 17 rewritten by the UPDATE
    assert [(s["first-row-id"], s["added-rows"]) for s in last["snapshots"]] == [
        (0, 50),
        (50, 50),
        (100, 50),
        (150, 0),
        (150, 17),
    ]


def test_table_stats_on_v3_commit_metadata_spark_and_iceberg_java_read(
    spark, shared_lakehouse, v3_table
):
    name, table = v3_table
    rows, rows_lineage = spark_rows(spark, table), lineage(spark, table)
    snapshots = spark.sql(f"SELECT * FROM {table}.snapshots ORDER BY committed_at").collect()
    before = shared_lakehouse.get_table(name)
    op = ComputeTableStatsOperation()

    dry = OperationExecutor(shared_lakehouse).run(op, name, dry_run=True)
    assert shared_lakehouse.get_table(name).table.metadata_location == (
        before.table.metadata_location
    )
    result = OperationExecutor(shared_lakehouse).run(op, name)

    assert dry.figures == result.figures and result.figures["columns"] == 3
    after = shared_lakehouse.get_table(name)
    assert spark_rows(spark, table) == rows and lineage(spark, table) == rows_lineage
    assert spark.sql(f"SELECT * FROM {table}.snapshots ORDER BY committed_at").collect() == (
        snapshots
    )
    log = [r.file for r in spark.sql(f"SELECT file FROM {table}.metadata_log_entries").collect()]
    assert normalize_location(log[-1]) == normalize_location(after.table.metadata_location)
    sketches = java_sketches(spark, table, after.snapshot_id)  # Iceberg Java loads the file
    distinct = spark.sql(f"SELECT count(DISTINCT id), count(DISTINCT kind) FROM {table}").first()
    assert [sketches[1].getEstimate(), sketches[3].getEstimate()] == list(distinct)


def test_expire_on_v3_keeps_lineage_and_every_file_retained_snapshots_need(spark, shared_lakehouse):
    name, table = spark_v3_table(spark, shared_lakehouse)
    rows, rows_lineage = spark_rows(spark, table), lineage(spark, table)
    head = spark.sql(f"SELECT snapshot_id FROM {table}.refs WHERE name = 'main'").first()[0]
    current_dvs = {r[0] for r in spark.sql(f"SELECT file_path FROM {table}.delete_files").collect()}
    every_dv = {
        r[0] for r in spark.sql(f"SELECT file_path FROM {table}.all_delete_files").collect()
    }
    before = document(shared_lakehouse.get_table(name).table.metadata_location)
    op = ExpireSnapshotsOperation(older_than="0s", retain_last=1)

    dry = OperationExecutor(shared_lakehouse).run(op, name, dry_run=True)
    result = OperationExecutor(shared_lakehouse).run(op, name)

    assert dry.figures == result.figures and result.figures["snapshots_to_expire"] == 4
    assert result.figures["delete_files_to_delete"] == len(every_dv - current_dvs) > 0
    snapshots = spark.sql(f"SELECT snapshot_id FROM {table}.snapshots").collect()
    assert [r[0] for r in snapshots] == [head]
    assert spark_rows(spark, table) == rows and lineage(spark, table) == rows_lineage
    # no file the retained snapshot needs is gone; the vectors only expired ones used are
    needed = [
        r[0]
        for query in (
            f"SELECT file_path FROM {table}.all_files",
            f"SELECT path FROM {table}.all_manifests",
            f"SELECT manifest_list FROM {table}.snapshots",
        )
        for r in spark.sql(query).collect()
    ]
    assert all(local_path(p).exists() for p in needed) and current_dvs <= set(needed)
    assert not any(local_path(p).exists() for p in every_dv - current_dvs)
    after = document(shared_lakehouse.get_table(name).table.metadata_location)
    assert after["next-row-id"] == before["next-row-id"] == 167
    (kept,) = [dict(s) for s in before["snapshots"] if s["snapshot-id"] == head]
    del kept["parent-snapshot-id"]  # expired: PyIceberg drops the dangling id, as on v2
    assert after["snapshots"] == [kept]

    spark.sql(f"INSERT INTO {table} SELECT id, current_timestamp(), 'c' FROM range(1000, 1010)")
    added = spark.sql(f"SELECT _row_id FROM {table} WHERE kind = 'c'").collect()
    assert sorted(r[0] for r in added) == list(range(167, 177))  # Java continues our lineage
    assert lineage(spark, table)[: len(rows_lineage)] == rows_lineage


def test_manifest_rewrite_on_v3_keeps_every_rows_lineage(spark, shared_lakehouse):
    """Each moved data file keeps the first_row_id it inherited, so no row is renumbered
    (Iceberg 1.10.2's own Spark action renumbers them all: apache/iceberg#16699); the new
    manifest and snapshot get row ids as the spec requires and Spark's next write follows."""
    name, table = spark_v3_table(spark, shared_lakehouse)
    rows, rows_lineage = spark_rows(spark, table), lineage(spark, table)
    counts = f"SELECT content, count(*) FROM {table}.manifests GROUP BY content ORDER BY content"
    assert [tuple(r) for r in spark.sql(counts).collect()] == [(0, 4), (1, 2)]
    op = RewriteManifestsOperation(rewrite_all=True)

    dry = OperationExecutor(shared_lakehouse).run(op, name, dry_run=True)
    result = OperationExecutor(shared_lakehouse).run(op, name)

    assert dry.figures == result.figures and result.figures["expected_manifests"] == 1
    assert [tuple(r) for r in spark.sql(counts).collect()] == [(0, 1), (1, 2)]
    head = spark.sql(
        f"SELECT s.operation FROM {table}.refs r JOIN {table}.snapshots s "
        "ON r.snapshot_id = s.snapshot_id WHERE r.name = 'main'"
    ).first()
    assert head[0] == "replace"
    assert spark_rows(spark, table) == rows and lineage(spark, table) == rows_lineage
    after = document(shared_lakehouse.get_table(name).table.metadata_location)
    snapshot = after["snapshots"][-1]
    assert (snapshot["first-row-id"], snapshot["added-rows"], after["next-row-id"]) == (
        167,
        167,
        334,
    )
    # again, into several manifests: each gets its own range, no row moves
    small = RewriteManifestsOperation(target_manifest_size="2KB", rewrite_all=True)
    result = OperationExecutor(shared_lakehouse).run(small, name)
    assert result.figures["expected_manifests"] >= 3
    assert lineage(spark, table) == rows_lineage
    next_row_id = document(shared_lakehouse.get_table(name).table.metadata_location)["next-row-id"]
    assert next_row_id == 334 + 167
    spark.sql(f"INSERT INTO {table} SELECT id, current_timestamp(), 'c' FROM range(1000, 1010)")
    added = spark.sql(f"SELECT _row_id FROM {table} WHERE kind = 'c'").collect()
    assert sorted(r[0] for r in added) == list(range(next_row_id, next_row_id + 10))
    assert lineage(spark, table)[: len(rows_lineage)] == rows_lineage


@pytest.fixture(scope="module")
def optimized(spark, shared_lakehouse):
    """A Spark v3 table (deletion vectors, rows the UPDATE rewrote with stored lineage) as Spark
    read it, then compacted by our optimize (dry run first)."""
    name, table = spark_v3_table(spark, shared_lakehouse)
    before = {
        "rows": spark_rows(spark, table),
        "lineage": lineage(spark, table),
        "files": spark.sql(f"SELECT count(*) FROM {table}.data_files").first()[0],
        "dvs": spark.sql(f"SELECT count(*) FROM {table}.delete_files").first()[0],
        "puffins": spark.sql(f"SELECT count(DISTINCT file_path) FROM {table}.delete_files").first()[
            0
        ],
    }
    op = OptimizeOperation(rewrite_all=True)
    dry = OperationExecutor(shared_lakehouse).run(op, name, dry_run=True)
    result = OperationExecutor(shared_lakehouse).run(op, name)
    return name, table, before, dry, result


def test_optimize_on_v3_keeps_every_rows_lineage_and_applies_the_deletion_vectors(
    spark, shared_lakehouse, optimized
):
    name, table, before, dry, result = optimized
    assert dry.figures == result.figures and result.figures["files_to_rewrite"] == before["files"]
    # deletion vectors of several data files share a Puffin file: the figure counts files
    assert before["dvs"] > before["puffins"] == result.figures["delete_files_to_apply"] > 0
    after = lineage(spark, table)
    assert len(set(after)) == len(after) == len(before["lineage"])
    assert set(after) == set(before["lineage"])  # (id, kind, _row_id, _last_updated_seq)
    assert spark_rows(spark, table) == before["rows"]
    assert spark.sql(f"SELECT count(*) FROM {table}.delete_files").first()[0] == 0
    files = spark.sql(f"SELECT count(*) FROM {table}.data_files").first()[0]
    assert files < before["files"] and files == len(result.details["files_written"])
    document_after = document(shared_lakehouse.get_table(name).table.metadata_location)
    snapshot = document_after["snapshots"][-1]
    assert snapshot["summary"]["operation"] == "replace"
    written = len(before["rows"])  # every live row, each in one new file
    assert (snapshot["first-row-id"], snapshot["added-rows"]) == (167, written)
    assert document_after["next-row-id"] == 167 + written


def test_spark_continues_the_lineage_and_rewrites_the_table_after_our_optimize(
    spark, shared_lakehouse, optimized
):
    name, table, before, _, _ = optimized
    next_row_id = document(shared_lakehouse.get_table(name).table.metadata_location)["next-row-id"]
    spark.sql(f"INSERT INTO {table} SELECT id, current_timestamp(), 'c' FROM range(1000, 1010)")
    added = spark.sql(f"SELECT _row_id FROM {table} WHERE kind = 'c'").collect()
    assert sorted(r[0] for r in added) == list(range(next_row_id, next_row_id + 10))
    kept = set(lineage(spark, table)) - {r for r in lineage(spark, table) if r[1] == "c"}
    assert kept == set(before["lineage"])
    rows = spark_rows(spark, table)
    spark.sql(
        f"CALL {shared_lakehouse.settings.name}.system.rewrite_data_files(table => '{name}', "
        "options => map('rewrite-all', 'true'))"
    ).collect()
    assert spark_rows(spark, table) == rows
    assert set(lineage(spark, table)) >= set(before["lineage"])


def test_optimize_of_one_partition_on_v3_keeps_the_other_partitions_deletion_vectors(
    spark, shared_lakehouse
):
    """Deletion vectors are entries, not files: a Puffin file may hold vectors of compacted
    and of untouched data files; only the compacted files' vectors leave."""
    name, table = spark_v3_table(spark, shared_lakehouse)
    rows, rows_lineage = spark_rows(spark, table), lineage(spark, table)
    vectors = f"SELECT partition.kind, referenced_data_file FROM {table}.delete_files"
    before = {tuple(r) for r in spark.sql(vectors).collect()}
    assert {kind for kind, _ in before} == {"a", "b"}
    shared = spark.sql(
        f"SELECT file_path FROM {table}.delete_files GROUP BY file_path "
        "HAVING count(DISTINCT partition.kind) = 2"
    ).collect()
    assert shared  # a Puffin file with vectors of both partitions
    op = OptimizeOperation(rewrite_all=True, partition_filter="kind = 'a'")

    dry = OperationExecutor(shared_lakehouse).run(op, name, dry_run=True)
    result = OperationExecutor(shared_lakehouse).run(op, name)

    assert dry.figures == result.figures and result.figures["partitions"] == 1
    assert {tuple(r) for r in spark.sql(vectors).collect()} == {v for v in before if v[0] == "b"}
    assert spark_rows(spark, table) == rows and set(lineage(spark, table)) == set(rows_lineage)


@pytest.mark.parametrize("dry_run", [True, False])
def test_operations_v3_cannot_do_are_refused_in_the_plan(
    spark, shared_lakehouse, v3_table, dry_run
):
    name, table = v3_table
    handle = shared_lakehouse.get_table(name)
    files, location = files_under(handle), handle.table.metadata_location
    for operation in REFUSED:
        with pytest.raises(InvalidInput) as raised:
            OperationExecutor(shared_lakehouse).run(operation, name, dry_run=dry_run)
        message = raised.value.message
        assert message.startswith(f"{operation.name} cannot commit to format v3 table")
        assert "PyIceberg 0.12" in message and "\n" not in message
    after = shared_lakehouse.get_table(name)
    assert after.table.metadata_location == location and files_under(after) == files
    assert pyiceberg_rows(after) == spark_rows(spark, table)


def test_vacuum_keeps_deletion_vectors_and_finds_a_planted_orphan(
    spark, shared_lakehouse, v3_table
):
    name, table = v3_table
    handle = shared_lakehouse.get_table(name)
    orphan = Path(local_path(handle.table.location())) / "data" / "orphan.parquet"
    orphan.write_bytes(b"not referenced")
    backdate(handle)
    rows, rows_lineage = spark_rows(spark, table), lineage(spark, table)

    result = OperationExecutor(shared_lakehouse).run(VacuumOperation(timedelta(days=1)), name)

    assert result.figures["orphan_files"] == 1 and not orphan.exists()
    assert spark_rows(spark, table) == rows and lineage(spark, table) == rows_lineage
    assert pyiceberg_rows(shared_lakehouse.get_table(name)) == rows


def test_refs_rollback_and_schema_changes_on_v3_are_read_by_spark(spark, shared_lakehouse):
    from phlo_lakehouse.operations.ref_ops import CreateRefOperation
    from phlo_lakehouse.operations.schema_ops import EvolveSchemaOperation, SchemaChanges
    from phlo_lakehouse.operations.snapshot_ops import RollbackOperation

    name, table = spark_v3_table(spark, shared_lakehouse)
    snapshots = spark.sql(f"SELECT snapshot_id FROM {table}.snapshots ORDER BY committed_at")
    deleted_at = [r[0] for r in snapshots.collect()][3]  # after the DELETE, before the UPDATE
    at_delete = spark_rows(spark, table, deleted_at)
    lineage_at_delete = sorted(
        tuple(r)
        for r in spark.sql(
            f"SELECT id, kind, _row_id, _last_updated_sequence_number FROM {table} "
            f"VERSION AS OF {deleted_at}"
        ).collect()
    )
    executor = OperationExecutor(shared_lakehouse)

    executor.run(CreateRefOperation("audit", kind="tag", snapshot_id=deleted_at), name)
    executor.run(RollbackOperation(deleted_at), name)
    executor.run(EvolveSchemaOperation(SchemaChanges.of(add_columns={"note": "string"})), name)

    assert spark_rows(spark, f"{table}") == [(*row, None) for row in at_delete]
    tagged = spark.sql(f"SELECT id FROM {table} VERSION AS OF 'audit'").count()
    assert tagged == len(at_delete)
    assert lineage(spark, table) == lineage_at_delete
    spark.sql(f"INSERT INTO {table} VALUES (5000, current_timestamp(), 'c', 'new')")
    assert spark.sql(f"SELECT note FROM {table} WHERE id = 5000").first()[0] == "new"


def test_remove_dangling_deletes_on_v3_removes_only_the_vectors_of_gone_data_files(
    spark, shared_lakehouse
):
    """Data files dropped by a writer that leaves their deletion vectors (one in each
    partition, from a Puffin file that also holds vectors of live files): ours removes exactly
    those vectors, Spark reads the same rows and lineage, and Iceberg's own dangling-delete
    action then finds nothing."""
    from phlo_lakehouse.operations.dangling import RemoveDanglingDeletesOperation
    from phlo_lakehouse.operations.live_files import live_files
    from phlo_lakehouse.operations.replace import ReplaceFiles
    from phlo_lakehouse_tests.integration.test_spark_dangling_deletes import (
        java_dangling_removal,
    )

    name, table = spark_v3_table(spark, shared_lakehouse)
    vectors = f"SELECT file_path, referenced_data_file FROM {table}.delete_files"
    shared = spark.sql(
        f"SELECT file_path FROM {table}.delete_files GROUP BY file_path "
        "HAVING count(DISTINCT partition.kind) = 2"
    ).first()[0]
    gone = {
        normalize_location(r[0])
        for r in spark.sql(
            f"SELECT min(referenced_data_file) FROM {table}.delete_files "
            f"WHERE file_path = '{shared}' GROUP BY partition.kind"
        ).collect()
    }
    handle = shared_lakehouse.get_table(name)
    live = live_files(handle.table, handle.snapshot).data
    ReplaceFiles(
        handle.table,
        handle.table_ref,
        starting_snapshot_id=handle.snapshot_id,
        removed=[f for f in live if normalize_location(f.path) in gone],
        added=[],
        operation="delete",
        drop_unused_deletes=False,
    ).commit()
    rows, rows_lineage = spark_rows(spark, table), lineage(spark, table)
    before = {
        (normalize_location(p), normalize_location(r)) for p, r in spark.sql(vectors).collect()
    }
    data = {
        normalize_location(r[0])
        for r in spark.sql(f"SELECT file_path FROM {table}.data_files").collect()
    }
    expected = {(p, r) for p, r in before if r not in data}
    assert {r for _, r in expected} == gone and len(before - expected) > 0
    executor = OperationExecutor(shared_lakehouse)

    dry = executor.run(RemoveDanglingDeletesOperation(), name, dry_run=True)
    result = executor.run(RemoveDanglingDeletesOperation(), name)

    assert result.committed and dry.figures == result.figures
    assert result.figures["dangling_deletion_vectors"] == len(expected) == 2
    after = {
        (normalize_location(p), normalize_location(r)) for p, r in spark.sql(vectors).collect()
    }
    assert after == before - expected
    assert spark_rows(spark, table) == rows and lineage(spark, table) == rows_lineage
    assert java_dangling_removal(spark, table) == 0
    assert spark_rows(spark, table) == rows and lineage(spark, table) == rows_lineage


def test_data_retention_on_v3_keeps_the_lineage_of_every_kept_row(spark, shared_lakehouse):
    """Files of the first insert are wholly old (dropped with their deletion vectors), those
    of the second and the UPDATE's straddle the cutoff (rewritten without their old rows):
    Spark reads exactly the young rows, each with the _row_id and
    _last_updated_sequence_number it had, and no deletion vector is left dangling."""
    from datetime import UTC, datetime, timedelta

    name, table = spark_v3_table(spark, shared_lakehouse)
    rows_lineage = lineage(spark, table)
    old = spark.sql(f"SELECT count(*) FROM {table} WHERE id < 75").first()[0]
    now = datetime(1970, 1, 2, 0, 1, 15, tzinfo=UTC)  # cutoff: 75 s after the epoch
    op = DataRetentionOperation(column="ts", retention=timedelta(days=1), now=now)

    dry = OperationExecutor(shared_lakehouse).run(op, name, dry_run=True)
    result = OperationExecutor(shared_lakehouse).run(op, name)

    assert result.committed and dry.figures == result.figures
    assert result.figures["rows_to_delete"] == old > 0
    assert result.figures["files_to_drop"] > 0 and result.figures["files_to_rewrite"] > 0
    assert lineage(spark, table) == [r for r in rows_lineage if r[0] >= 75]
    assert spark.sql(f"SELECT count(*) FROM {table} WHERE id < 75").first()[0] == 0
    data = {r[0] for r in spark.sql(f"SELECT file_path FROM {table}.data_files").collect()}
    vectors = spark.sql(f"SELECT referenced_data_file FROM {table}.delete_files").collect()
    assert vectors and {r[0] for r in vectors} <= data
    assert pyiceberg_rows(shared_lakehouse.get_table(name)) == spark_rows(spark, table)


def test_cherry_pick_on_v3_gives_the_picked_rows_the_next_row_ids(spark, shared_lakehouse):
    """Spark appends to an audit branch; our cherry-pick onto main: Spark reads main with the
    picked rows, each with a row id from next-row-id and the new snapshot's sequence number,
    every other row's lineage unchanged, and continues the lineage on its next write."""
    from phlo_lakehouse.operations.cherry_pick import CherryPickOperation

    name, table = spark_v3_table(spark, shared_lakehouse)
    rows_lineage = lineage(spark, table)
    spark.sql(f"ALTER TABLE {table} CREATE BRANCH audit")
    spark.sql(
        f"INSERT INTO {table}.branch_audit SELECT id, current_timestamp(), 'c' "
        "FROM range(2000, 2010)"
    )
    picked = spark.sql(f"SELECT snapshot_id FROM {table}.refs WHERE name = 'audit'").first()[0]
    next_row_id = document(shared_lakehouse.get_table(name).table.metadata_location)["next-row-id"]
    op = CherryPickOperation(picked)

    dry = OperationExecutor(shared_lakehouse).run(op, name, dry_run=True)
    result = OperationExecutor(shared_lakehouse).run(CherryPickOperation(picked), name)

    assert result.committed and dry.figures == result.figures
    after = lineage(spark, table)
    assert [r for r in after if r[1] != "c"] == rows_lineage
    new = [r for r in after if r[1] == "c"]
    sequence = document(shared_lakehouse.get_table(name).table.metadata_location)["snapshots"][-1][
        "sequence-number"
    ]
    assert sorted(r[0] for r in new) == list(range(2000, 2010))
    assert sorted(r[2] for r in new) == list(range(next_row_id, next_row_id + 10))
    assert {r[3] for r in new} == {sequence}
    spark.sql(f"INSERT INTO {table} SELECT id, current_timestamp(), 'd' FROM range(0, 3)")
    added = spark.sql(f"SELECT _row_id FROM {table} WHERE kind = 'd'").collect()
    assert sorted(r[0] for r in added) == list(range(next_row_id + 10, next_row_id + 13))
