"""ComputeTableStatsOperation on a real SQLite catalog: the Puffin file (read back with PyIceberg's
own Puffin reader and DataSketches), NDVs against exact counts from pyarrow, dry run == real
run, bad input refused before anything is written, and expire/vacuum keeping the statistics
file exactly as long as its snapshot lives."""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.compute as pc
import pytest
from datasketches import compact_theta_sketch

from phlo_lakehouse.demo import demo_rows, seed_demo_table
from phlo_lakehouse.errors import InvalidInput, NotFound
from phlo_lakehouse.operations import OperationExecutor
from phlo_lakehouse.operations.expire import ExpireSnapshotsOperation
from phlo_lakehouse.operations.table_stats import ComputeTableStatsOperation
from phlo_lakehouse.operations.vacuum import VacuumOperation

TABLE = "raw.events"
COLUMNS = ["event_id", "event_time", "user_id", "kind", "amount"]


def _run(lakehouse, op, *, dry_run=False):
    return OperationExecutor(lakehouse).run(op, TABLE, dry_run=dry_run)


def _local(uri: str) -> Path:
    return Path(urlparse(uri).path)


def _table_files(handle) -> set[Path]:
    return {p for p in _local(handle.table.location()).rglob("*") if p.is_file()}


def test_statistics_file_holds_one_exact_sketch_per_column(lakehouse):
    from pyiceberg.table.puffin import PuffinFile

    handle = seed_demo_table(lakehouse, TABLE, commits=3, rows_per_commit=400)
    rows = handle.to_arrow()

    dry = _run(lakehouse, ComputeTableStatsOperation(), dry_run=True)
    result = _run(lakehouse, ComputeTableStatsOperation())

    assert dry.figures == result.figures
    assert result.figures == {
        "columns": 5,
        "rows": 1200,
        "data_files": int(handle.snapshot.summary["total-data-files"]),
        "statistics_file_replaced": 0,
    }
    exact = {c: len(pc.unique(rows.column(c))) for c in COLUMNS}
    assert result.details["ndv"] == exact
    after = lakehouse.get_table(TABLE)
    assert after.snapshot_id == handle.snapshot_id  # statistics add no snapshot
    [stats] = after.table.metadata.statistics
    assert stats.snapshot_id == handle.snapshot_id
    assert stats.statistics_path == result.details["statistics_path"]
    raw = _local(stats.statistics_path).read_bytes()
    assert stats.file_size_in_bytes == len(raw)
    puffin = PuffinFile(raw)
    field_ids = {f.name: f.field_id for f in after.table.schema().fields}
    assert [b.fields for b in puffin.footer.blobs] == [[field_ids[c]] for c in COLUMNS]
    for blob, column in zip(puffin.footer.blobs, COLUMNS, strict=True):
        assert blob.type == "apache-datasketches-theta-v1"
        assert blob.compression_codec == "zstd"
        assert blob.snapshot_id == handle.snapshot_id
        assert blob.sequence_number == handle.snapshot.sequence_number
        sketch = compact_theta_sketch.deserialize(puffin.get_blob_payload(blob))
        assert sketch.get_estimate() == exact[column]
        assert blob.properties == {"ndv": str(exact[column])}
    assert [b.properties for b in stats.blob_metadata] == [
        b.properties for b in puffin.footer.blobs
    ]


def test_a_second_run_replaces_the_snapshots_statistics(lakehouse):
    seed_demo_table(lakehouse, TABLE, commits=2, rows_per_commit=50)
    first = _run(lakehouse, ComputeTableStatsOperation(columns=["kind"]))
    second = _run(lakehouse, ComputeTableStatsOperation(columns=["kind", "user_id"]))

    assert second.figures["statistics_file_replaced"] == 1
    [stats] = lakehouse.get_table(TABLE).table.metadata.statistics
    assert stats.statistics_path == second.details["statistics_path"]
    assert stats.statistics_path != first.details["statistics_path"]
    assert second.details["ndv"] == {"kind": 3, "user_id": 97}


def test_older_snapshot_and_deleted_rows(lakehouse):
    """Statistics of an older snapshot count that snapshot's rows; a copy-on-write delete is
    reflected in the head's."""
    handle = seed_demo_table(lakehouse, TABLE, commits=2, rows_per_commit=300)
    first_id = handle.table.snapshots()[0].snapshot_id
    handle.table.delete("event_id >= 100")

    old = _run(lakehouse, ComputeTableStatsOperation(columns=["event_id"], snapshot_id=first_id))
    head = _run(lakehouse, ComputeTableStatsOperation(columns=["event_id"]))

    assert old.details["ndv"] == {"event_id": 300}
    assert head.details["ndv"] == {"event_id": 100}
    statistics = lakehouse.get_table(TABLE).table.metadata.statistics
    assert {s.snapshot_id for s in statistics} == {first_id, head.snapshot_id_before}


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"columns": ["nope"]}, InvalidInput, "unknown column 'nope'"),
        ({"columns": []}, InvalidInput, "columns is empty"),
        ({"columns": "kind"}, InvalidInput, "must be a list"),
        ({"snapshot_id": 12345}, NotFound, "snapshot 12345 not found"),
        ({"snapshot_id": "latest"}, InvalidInput, "is not a snapshot id"),
    ],
)
def test_bad_input_fails_before_anything_is_written(lakehouse, kwargs, error, message):
    handle = seed_demo_table(lakehouse, TABLE, commits=1, rows_per_commit=10)
    files = _table_files(handle)
    with pytest.raises(error, match=message):
        _run(lakehouse, ComputeTableStatsOperation(**kwargs))
    after = lakehouse.get_table(TABLE)
    assert _table_files(after) == files
    assert after.table.metadata.statistics == []


def test_nested_column_is_refused(lakehouse):
    import pyarrow as pa

    lakehouse.catalog().create_namespace_if_not_exists("raw")
    rows = pa.table({"id": [1, 2], "tags": [["a"], ["b", "c"]]})
    table = lakehouse.catalog().create_table("raw.nested", schema=rows.schema)
    table.append(rows)
    with pytest.raises(InvalidInput, match="'tags' has type list"):
        OperationExecutor(lakehouse).run(ComputeTableStatsOperation(columns=["tags"]), "raw.nested")
    result = OperationExecutor(lakehouse).run(ComputeTableStatsOperation(), "raw.nested")
    assert result.details["ndv"] == {"id": 2}  # nested columns are left out by default


def test_expire_and_vacuum_keep_statistics_while_the_snapshot_lives(lakehouse):
    seed_demo_table(lakehouse, TABLE, commits=2, rows_per_commit=20)
    stats_path = _local(_run(lakehouse, ComputeTableStatsOperation()).details["statistics_path"])
    lakehouse.get_table(TABLE).table.append(demo_rows(1000, 5))

    vacuum = _run(lakehouse, VacuumOperation(timedelta(0), force=True))
    expire = _run(lakehouse, ExpireSnapshotsOperation(older_than="0s", retain_last=2))

    assert vacuum.figures["orphan_files"] == 0 and stats_path.exists()
    assert expire.figures["statistics_files_to_delete"] == 0 and stats_path.exists()
    assert len(lakehouse.get_table(TABLE).table.metadata.statistics) == 1

    expired = _run(lakehouse, ExpireSnapshotsOperation(older_than="0s", retain_last=1))

    assert expired.figures["statistics_files_to_delete"] == 1
    assert not stats_path.exists()
    assert lakehouse.get_table(TABLE).table.metadata.statistics == []
