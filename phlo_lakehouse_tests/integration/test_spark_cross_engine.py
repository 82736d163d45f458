"""Cross-engine checks with real Spark + Iceberg on the same SQLite catalog as PyIceberg.

What our operations commit must be what Iceberg's Java implementation reads and maintains:
Spark reads the same rows after our compaction, our compaction applies and drops the position
deletes Spark writes, and our expiry / vacuum leave nothing Spark's orphan scan would remove
(and the reverse).

Equality deletes, which Spark SQL never writes (Flink and the Java API do), are committed by
the test itself; Spark is the reader that applies them before and after our compaction.

Spark's ``remove_orphan_files`` refuses an ``older_than`` less than 24 h ago (the bypass,
``spark.testing``, is a static setting that also changes Spark itself), so the orphan scans here
backdate every file of the table and pass a cutoff between that date and now.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pytest

from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.operations import OperationExecutor
from phlo_lakehouse.operations.expire import ExpireSnapshotsOperation
from phlo_lakehouse.operations.live_files import live_files
from phlo_lakehouse.operations.optimize import OptimizeOperation
from phlo_lakehouse.operations.vacuum import VacuumOperation
from phlo_lakehouse.storage.listing import normalize_location

pytestmark = pytest.mark.spark

FUTURE = datetime.now(UTC) + timedelta(days=3650)
FUTURE_SQL = FUTURE.strftime("%Y-%m-%d %H:%M:%S")
BACKDATED = datetime(2020, 1, 1, tzinfo=UTC)
ORPHAN_CUTOFF_SQL = "2020-06-01 00:00:00"  # after BACKDATED, long before now: passes the 24 h guard
MOR_PROPERTIES = (
    "'format-version'='2', 'write.delete.mode'='merge-on-read', "
    "'write.update.mode'='merge-on-read', 'write.merge.mode'='merge-on-read'"
)


# -- helpers ------------------------------------------------------------------------------------


def fqn(lakehouse, name: str) -> str:
    """``<catalog>.<namespace>.<table>`` as Spark names it."""
    return f"{lakehouse.settings.name}.{name}"


def pyiceberg_rows(handle, snapshot_id: int | None = None) -> list[tuple]:
    """Rows of the ref (or ``snapshot_id``) as sorted tuples (timestamps as epoch microseconds),
    read by PyIceberg."""
    table = (
        handle.to_arrow()
        if snapshot_id is None
        else handle.table.scan(snapshot_id=snapshot_id).to_arrow()
    )
    columns = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())
        columns.append(column.to_pylist())
    return sorted(zip(*columns, strict=True))


def spark_rows(spark, table: str, snapshot_id: int | None = None) -> list[tuple]:
    """Rows of the table (or ``snapshot_id``) as sorted tuples (timestamps as epoch
    microseconds), read by Spark."""
    from pyspark.sql.types import TimestampNTZType, TimestampType

    frame = spark.sql(
        f"SELECT * FROM {table}" + (f" VERSION AS OF {snapshot_id}" if snapshot_id else "")
    )
    exprs = [
        f"unix_micros(`{f.name}`)"
        if isinstance(f.dataType, TimestampType | TimestampNTZType)
        else f"`{f.name}`"
        for f in frame.schema.fields
    ]
    return sorted(tuple(row) for row in frame.selectExpr(*exprs).collect())


def spark_current_snapshot(spark, table: str) -> tuple[int, str]:
    """(snapshot id, operation) of main's head as Spark sees it."""
    row = spark.sql(
        f"SELECT s.snapshot_id, s.operation FROM {table}.refs r "
        f"JOIN {table}.snapshots s ON r.snapshot_id = s.snapshot_id WHERE r.name = 'main'"
    ).collect()[0]
    return row.snapshot_id, row.operation


def local_path(location: str) -> Path:
    return Path(urlparse(location).path)


def backdate(handle, when: datetime = BACKDATED) -> None:
    """Set the modification time of every file under the table's location to ``when``."""
    stamp = when.timestamp()
    for root, _, files in os.walk(local_path(handle.table.location())):
        for name in files:
            os.utime(Path(root, name), (stamp, stamp))


def spark_orphans(spark, lakehouse, handle) -> set[tuple[str, str, str]]:
    """Spark's ``remove_orphan_files`` dry run on the (backdated) table, normalised locations."""
    backdate(handle)
    rows = spark.sql(
        f"CALL {lakehouse.settings.name}.system.remove_orphan_files("
        f"table => '{handle.identifier}', dry_run => true, "
        f"older_than => TIMESTAMP '{ORPHAN_CUTOFF_SQL}')"
    ).collect()
    return {normalize_location(row.orphan_file_location) for row in rows}


def spark_reachable(spark, table: str) -> set[str]:
    """Every file Spark's metadata tables say the table references: data and delete files of
    all snapshots, manifests, manifest lists and the metadata log."""
    return {
        row[0]
        for query in (
            f"SELECT file_path FROM {table}.all_files",
            f"SELECT path FROM {table}.all_manifests",
            f"SELECT manifest_list FROM {table}.snapshots",
            f"SELECT file FROM {table}.metadata_log_entries",
        )
        for row in spark.sql(query).collect()
    }


def plant_orphans(handle) -> set[tuple[str, str, str]]:
    """Unreferenced files in the data dir, a partition dir and the metadata dir."""
    import pyarrow.parquet as pq

    from phlo_lakehouse.demo import demo_rows

    root = local_path(handle.table.location())
    paths = [
        root / "data" / f"orphan-{uuid.uuid4()}.parquet",
        root / "data" / "event_day=2026-01-01" / f"orphan-{uuid.uuid4()}.parquet",
    ]
    for path in paths:
        pq.write_table(demo_rows(900_000, 5), path)
    manifest = root / "metadata" / f"{uuid.uuid4()}-m0.avro"
    manifest.write_bytes(b"Obj\x01 not a real manifest")
    return {normalize_location(str(p)) for p in (*paths, manifest)}


def is_checksum_sidecar(location: tuple[str, str, str]) -> bool:
    """Hadoop's local file system writes ``.<name>.crc`` next to every file Spark writes; no
    metadata references them and Spark's orphan scan skips hidden files."""
    name = location[2].rsplit("/", 1)[-1]
    return name.startswith(".") and name.endswith(".crc")


def our_orphans(lakehouse, name: str) -> set[tuple[str, str, str]]:
    """Our vacuum's dry run (every unreferenced file counts as old), normalised locations."""
    op = VacuumOperation(older_than="1s", force=True, now=FUTURE)
    result = OperationExecutor(lakehouse).run(op, name, dry_run=True)
    assert result.figures["prefix_mismatches"] == 0
    return {normalize_location(p) for p in result.details["orphan_files"]}


def delete_file_count(lakehouse, name: str) -> int:
    return lakehouse.collect_stats(name, full=True).delete_file_count


def mor_table(spark, lakehouse, name: str) -> list[tuple]:
    """A Spark-written merge-on-read table (3 inserts, a DELETE and an UPDATE, so position
    delete files); returns the rows it must hold."""
    table = fqn(lakehouse, name)
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {table.rsplit('.', 1)[0]}")
    spark.sql(
        f"CREATE TABLE {table} (id BIGINT, kind STRING, amount DOUBLE) USING iceberg "
        f"PARTITIONED BY (kind) TBLPROPERTIES ({MOR_PROPERTIES})"
    )
    for batch in range(3):
        spark.sql(
            f"INSERT INTO {table} SELECT id + {batch * 20}, IF(id % 2 = 0, 'a', 'b'), "
            f"(id + {batch * 20}) * 0.5 FROM range(20)"
        )
    spark.sql(f"DELETE FROM {table} WHERE id % 5 = 0")
    spark.sql(f"UPDATE {table} SET amount = -1.0 WHERE id = 7")
    return sorted(
        (i, "a" if i % 2 == 0 else "b", -1.0 if i == 7 else i * 0.5) for i in range(60) if i % 5
    )


# -- optimize -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"strategy": "binpack"},
        {"strategy": "sort", "sort_by": ["user_id desc"]},
        {"strategy": "zorder", "zorder_by": ["user_id", "amount"]},
    ],
    ids=["binpack", "sort", "zorder"],
)
def test_spark_reads_what_our_compaction_committed(spark, shared_lakehouse, unique_name, kwargs):
    name = f"{unique_name}.events"
    table = fqn(shared_lakehouse, name)
    handle = seed_demo_table(shared_lakehouse, name, commits=5, rows_per_commit=100)
    before = pyiceberg_rows(handle)
    assert spark_rows(spark, table) == before

    result = OperationExecutor(shared_lakehouse).run(OptimizeOperation(**kwargs), name)

    after = shared_lakehouse.get_table(name)
    assert result.committed and result.figures["files_to_rewrite"] == 20
    assert pyiceberg_rows(after) == before
    assert spark_rows(spark, table) == before
    assert spark_current_snapshot(spark, table) == (after.snapshot_id, "replace")
    spark_files = {r.file_path for r in spark.sql(f"SELECT file_path FROM {table}.files").collect()}
    assert spark_files == {f.path for f in live_files(after.table, after.snapshot).data}
    assert len(spark_files) == 4

    # Java writes on top of our replace snapshot (reading our manifests) and PyIceberg follows.
    spark.sql(f"INSERT INTO {table} SELECT * FROM {table} WHERE event_id < 3")
    assert len(pyiceberg_rows(shared_lakehouse.get_table(name))) == len(before) + 3


def test_compaction_applies_and_drops_spark_position_deletes(spark, shared_lakehouse, unique_name):
    name = f"{unique_name}.mor"
    table = fqn(shared_lakehouse, name)
    expected = mor_table(spark, shared_lakehouse, name)
    stats = shared_lakehouse.collect_stats(name, full=True)
    assert stats.delete_file_count > 0 and stats.position_delete_count > 0
    assert spark.sql(f"SELECT * FROM {table}.delete_files").count() == stats.delete_file_count
    assert pyiceberg_rows(shared_lakehouse.get_table(name)) == expected
    assert spark_rows(spark, table) == expected

    result = OperationExecutor(shared_lakehouse).run(OptimizeOperation(), name)

    after = shared_lakehouse.get_table(name)
    assert result.committed
    assert result.figures["delete_files_to_apply"] == stats.delete_file_count
    assert len(result.details["delete_files_removed"]) == stats.delete_file_count
    assert delete_file_count(shared_lakehouse, name) == 0
    assert spark.sql(f"SELECT * FROM {table}.delete_files").count() == 0
    assert pyiceberg_rows(after) == expected
    assert spark_rows(spark, table) == expected
    assert after.snapshot.summary.operation.value == "replace"
    assert spark_current_snapshot(spark, table) == (after.snapshot_id, "replace")
    assert after.snapshot.summary["total-delete-files"] == "0"
    assert after.snapshot.summary["total-records"] == str(len(expected))


# -- expire and vacuum --------------------------------------------------------------------------


def test_spark_finds_no_orphans_after_our_expiry(spark, shared_lakehouse, unique_name):
    """History with PyIceberg appends, Spark position deletes and our compaction; after our expiry
    Spark reads the same rows and its orphan scan finds nothing we should have deleted."""
    name = f"{unique_name}.events"
    table = fqn(shared_lakehouse, name)
    seed_demo_table(
        shared_lakehouse,
        name,
        commits=5,
        rows_per_commit=40,
        properties={"write.delete.mode": "merge-on-read", "write.update.mode": "merge-on-read"},
    )
    spark.sql(f"DELETE FROM {table} WHERE event_id % 7 = 0")
    executor = OperationExecutor(shared_lakehouse)
    executor.run(OptimizeOperation(), name)
    expected = pyiceberg_rows(shared_lakehouse.get_table(name))
    assert spark_rows(spark, table) == expected
    assert spark_orphans(spark, shared_lakehouse, shared_lakehouse.get_table(name)) == set()

    expire = ExpireSnapshotsOperation(older_than="1s", retain_last=1, now=FUTURE)
    result = executor.run(expire, name)

    after = shared_lakehouse.get_table(name)
    assert result.committed and result.figures["snapshots_to_expire"] == 6
    assert result.figures["data_files_to_delete"] == 20
    assert result.figures["delete_files_to_delete"] > 0
    assert len(after.table.snapshots()) == 1
    assert spark.sql(f"SELECT * FROM {table}.snapshots").count() == 1
    assert pyiceberg_rows(after) == expected
    assert spark_rows(spark, table) == expected
    assert spark_orphans(spark, shared_lakehouse, after) == set()
    # Our expiry deleted Spark's delete files but not their Hadoop .crc sidecars.
    assert {f for f in our_orphans(shared_lakehouse, name) if not is_checksum_sidecar(f)} == set()


def test_both_engines_agree_on_orphans_and_our_vacuum_leaves_none(
    spark, shared_lakehouse, unique_name
):
    """History by both engines (PyIceberg appends, our compaction, a Spark append, a tag), plus
    planted orphans: our vacuum's dry run finds what Spark's orphan scan finds; after our vacuum
    Spark finds nothing, every file Spark's metadata references exists and time travel works."""
    name = f"{unique_name}.events"
    table = fqn(shared_lakehouse, name)
    handle = seed_demo_table(shared_lakehouse, name, commits=5, rows_per_commit=40)
    first = handle.table.metadata.snapshots[0].snapshot_id
    handle.table.manage_snapshots().create_tag(first, "first").commit()
    executor = OperationExecutor(shared_lakehouse)
    executor.run(OptimizeOperation(), name)
    spark.sql(f"INSERT INTO {table} SELECT * FROM {table} WHERE event_id < 3")
    handle = shared_lakehouse.get_table(name)
    planted = plant_orphans(handle)
    rows, first_rows = pyiceberg_rows(handle), pyiceberg_rows(handle, first)

    found_by_spark = spark_orphans(spark, shared_lakehouse, handle)
    found_by_us = our_orphans(shared_lakehouse, name)
    assert found_by_spark == planted
    # Spark skips hidden files; our vacuum also lists the .crc sidecars of Spark's files.
    assert {f for f in found_by_us if not is_checksum_sidecar(f)} == found_by_spark

    op = VacuumOperation(older_than="1s", force=True, now=FUTURE)
    result = executor.run(op, name)

    after = shared_lakehouse.get_table(name)
    assert not result.committed and result.figures["orphan_files"] == len(found_by_us)
    assert spark_orphans(spark, shared_lakehouse, after) == set()
    assert all(local_path(p).is_file() for p in spark_reachable(spark, table))
    assert pyiceberg_rows(after) == spark_rows(spark, table) == rows
    assert spark_rows(spark, table, first) == first_rows


def test_our_vacuum_finds_no_orphans_after_spark_expiry(spark, shared_lakehouse, unique_name):
    """Spark's expire_snapshots deletes the files of expired snapshots; our vacuum must then
    see no orphans (the metadata log and Spark's own files included)."""
    name = f"{unique_name}.events"
    table = fqn(shared_lakehouse, name)
    seed_demo_table(shared_lakehouse, name, commits=5, rows_per_commit=40)
    OperationExecutor(shared_lakehouse).run(OptimizeOperation(), name)
    spark.sql(f"DELETE FROM {table} WHERE event_id % 7 = 0")  # copy-on-write: Spark data files
    expected = pyiceberg_rows(shared_lakehouse.get_table(name))

    expired = spark.sql(
        f"CALL {shared_lakehouse.settings.name}.system.expire_snapshots("
        f"table => '{name}', older_than => TIMESTAMP '{FUTURE_SQL}', retain_last => 1)"
    ).collect()[0]

    assert expired.deleted_data_files_count == 20 + 4  # seeded files, then compacted ones
    after = shared_lakehouse.get_table(name)
    assert len(after.table.snapshots()) == 1
    assert {f for f in our_orphans(shared_lakehouse, name) if not is_checksum_sidecar(f)} == set()
    assert pyiceberg_rows(after) == spark_rows(spark, table) == expected


# -- equality deletes ---------------------------------------------------------------------------


def commit_equality_delete(handle, column: str, values: list) -> str:
    """Commit an equality delete file on ``column`` (a global delete in the unpartitioned spec)
    with our manifest writer, the way Flink or the Java API would; returns its path. Spark SQL
    never writes equality deletes, so the test writes one itself."""
    import pyarrow.parquet as pq
    from pyiceberg.manifest import (
        DataFile,
        DataFileContent,
        FileFormat,
        ManifestContent,
        ManifestEntry,
        ManifestEntryStatus,
    )
    from pyiceberg.table.snapshots import Operation, Snapshot, Summary
    from pyiceberg.table.update import AddSnapshotUpdate, AssertRefSnapshotId, SetSnapshotRefUpdate
    from pyiceberg.typedef import Record

    from phlo_lakehouse.operations.commit import commit_updates
    from phlo_lakehouse.operations.manifest_factory import ManifestFactory

    table = handle.table
    field = table.schema().find_field(column)
    key = pa.field(column, pa.large_string(), metadata={b"PARQUET:field_id": str(field.field_id)})
    path = f"{table.location()}/data/eq-delete-{uuid.uuid4().hex}.parquet"
    local = urlparse(path).path
    Path(local).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({column: pa.array(values, pa.large_string())}, pa.schema([key])), local)
    delete_file = DataFile.from_args(
        content=DataFileContent.EQUALITY_DELETES,
        file_path=path,
        file_format=FileFormat.PARQUET,
        partition=Record(),
        record_count=len(values),
        file_size_in_bytes=os.path.getsize(local),
        equality_ids=[field.field_id],
    )
    delete_file.spec_id = table.spec().spec_id
    metadata, head = table.metadata, table.current_snapshot()
    snapshot_id, sequence_number = metadata.new_snapshot_id(), metadata.next_sequence_number()
    factory = ManifestFactory(table, snapshot_id, uuid.uuid4(), [])
    with factory.writer(delete_file.spec_id, ManifestContent.DELETES) as writer:
        writer.add_entry(
            ManifestEntry.from_args(
                status=ManifestEntryStatus.ADDED,
                snapshot_id=snapshot_id,
                sequence_number=None,
                file_sequence_number=None,
                data_file=delete_file,
            )
        )
    manifests = [writer.to_manifest_file(), *head.manifests(table.io)]
    snapshot = Snapshot(
        snapshot_id=snapshot_id,
        parent_snapshot_id=head.snapshot_id,
        sequence_number=sequence_number,
        manifest_list=factory.manifest_list(manifests, head.snapshot_id, sequence_number)[0],
        summary=Summary(operation=Operation.DELETE),
        schema_id=metadata.current_schema_id,
    )
    commit_updates(
        table,
        [
            AddSnapshotUpdate(snapshot=snapshot),
            SetSnapshotRefUpdate(ref_name="main", type="branch", snapshot_id=snapshot_id),
        ],
        [AssertRefSnapshotId(ref="main", snapshot_id=head.snapshot_id)],
    )
    return path


def test_compaction_applies_equality_deletes_null_safely_by_sequence_number(
    spark, shared_lakehouse, unique_name
):
    """An equality delete on ``kind`` for 'buy' and NULL removes those rows from files written
    before it (NULL matches NULL, as in Iceberg) and not from a file appended after it; our
    compaction applies it, drops the delete file, and Spark reads the same rows before and
    after."""
    from phlo_lakehouse.demo import demo_rows

    name = f"{unique_name}.eq"
    table = fqn(shared_lakehouse, name)
    handle = seed_demo_table(
        shared_lakehouse, name, commits=3, rows_per_commit=30, partitioned=False
    )
    with_nulls = demo_rows(100, 9)
    kinds = pa.array([None, "buy", "view"] * 3, pa.string())
    handle.table.append(with_nulls.set_column(3, "kind", kinds))
    commit_equality_delete(shared_lakehouse.get_table(name), "kind", ["buy", None])
    later = demo_rows(200, 6)  # 2 of them 'buy': written after the delete, so they stay
    shared_lakehouse.get_table(name).table.append(later)
    expected = spark_rows(spark, table)
    kinds_left = [row[3] for row in expected]
    assert None not in kinds_left and kinds_left.count("buy") == 2
    assert len(expected) == 90 + 9 + 6 - 30 - 3 - 3

    result = OperationExecutor(shared_lakehouse).run(OptimizeOperation(min_input_files=2), name)

    after = shared_lakehouse.get_table(name)
    assert result.committed and result.figures["delete_files_to_apply"] == 1
    assert len(result.details["delete_files_removed"]) == 1
    assert delete_file_count(shared_lakehouse, name) == 0
    assert spark_rows(spark, table) == expected
    assert pyiceberg_rows(after) == expected
