"""The fast paths under the maintenance engine give exactly what the slow, general paths give:
direct Parquet reads vs PyIceberg's ArrowScan, projected manifest reads vs PyIceberg's manifest
reader, the parallel storage listing vs a plain recursive walk; plus the GC pause they run under.
"""

from __future__ import annotations

import gc
import os
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from phlo_lakehouse._upstream.avro_manifests import (
    manifest_content_paths,
    manifest_list_live,
    manifest_list_paths,
)
from phlo_lakehouse.demo import demo_rows, seed_demo_table
from phlo_lakehouse.operations import OperationExecutor
from phlo_lakehouse.operations.gc_pause import gc_paused
from phlo_lakehouse.operations.live_files import live_files
from phlo_lakehouse.operations.optimize import OptimizeOperation
from phlo_lakehouse.operations.reachable import reachable_files
from phlo_lakehouse.operations.read import ScanReader, _DirectReader, read_group, write_schema
from phlo_lakehouse.storage.listing import list_storage, normalize_location
from phlo_lakehouse_tests.operations.conftest import rows_of

TABLE = "raw.events"


def _scan_rows(table, files) -> pa.Table:
    """The files' rows through PyIceberg's ArrowScan only (the general path)."""
    reader = ScanReader(table, write_schema(table))
    return pa.Table.from_batches(list(reader.read([(f, set()) for f in files])))


def _group_rows(table, files) -> pa.Table:
    return pa.Table.from_batches(list(read_group(table, files, {})), schema=write_schema(table))


def _local(uri: str) -> str:
    return normalize_location(uri)[2]


# -- direct Parquet reads ------------------------------------------------------------------------


def test_files_written_under_the_current_schema_are_read_directly_and_identically(lakehouse):
    handle = seed_demo_table(lakehouse, TABLE, commits=3, rows_per_commit=40)
    table = handle.table
    files = live_files(table, handle.snapshot).data
    direct = _DirectReader(table, write_schema(table))

    assert all(direct.read(f) is not None for f in files)
    fast, general = _group_rows(table, files), _scan_rows(table, files)
    assert fast.schema.equals(general.schema, check_metadata=True)
    assert fast.equals(general)


def test_a_file_with_other_offset_widths_is_cast_to_the_write_schema(lakehouse):
    """string/large_string (as Spark and PyIceberg write) differ only in offset width."""
    handle = seed_demo_table(lakehouse, TABLE, commits=1, rows_per_commit=10)
    table = handle.table
    target = write_schema(table)
    swapped = pa.schema(
        [f.with_type(pa.string()) if pa.types.is_large_string(f.type) else f for f in target]
    )
    assert not swapped.equals(target)
    rows = demo_rows(1_000, 12, days=1).cast(swapped)
    path = f"{table.location()}/data/imported.parquet"
    Path(_local(path)).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(rows, _local(path))
    table.add_files([path])
    handle = lakehouse.get_table(TABLE)
    imported = [f for f in live_files(handle.table, handle.snapshot).data if f.path == path]

    read = _DirectReader(handle.table, target).read(imported[0])
    assert read is not None and read.schema.equals(target, check_metadata=True)
    assert read.equals(_scan_rows(handle.table, imported))


def test_files_of_an_older_schema_go_through_pyiceberg_with_the_new_column_null(lakehouse):
    handle = seed_demo_table(lakehouse, TABLE, commits=2, rows_per_commit=20)
    with handle.table.update_schema() as update:
        update.add_column("country", _iceberg_string())
    handle = lakehouse.get_table(TABLE)
    table = handle.table
    files = live_files(table, handle.snapshot).data

    assert all(_DirectReader(table, write_schema(table)).read(f) is None for f in files)
    rows = _group_rows(table, files)
    assert rows.schema.equals(write_schema(table), check_metadata=True)
    assert rows.column("country").null_count == rows.num_rows == 40
    assert sorted(rows.column("event_id").to_pylist()) == list(range(40))


def test_optimize_after_schema_evolution_keeps_every_row_of_both_schemas(lakehouse):
    handle = seed_demo_table(lakehouse, TABLE, commits=3, rows_per_commit=20)
    with handle.table.update_schema() as update:
        update.add_column("country", _iceberg_string())
    table = lakehouse.get_table(TABLE).table
    newer = demo_rows(500, 30).append_column("country", pa.array(["nl"] * 30, pa.large_string()))
    table.append(newer.cast(table.schema().as_arrow()))
    before = rows_of(lakehouse.get_table(TABLE))

    result = OperationExecutor(lakehouse).run(OptimizeOperation(min_input_files=2), TABLE)

    assert result.committed and result.figures["files_to_rewrite"] > 4
    assert rows_of(lakehouse.get_table(TABLE)) == before


def _iceberg_string():
    from pyiceberg.types import StringType

    return StringType()


# -- projected manifest reads ----------------------------------------------------------------


def test_projected_manifest_reads_match_pyiceberg_including_deleted_entries(lakehouse):
    handle = seed_demo_table(lakehouse, TABLE, commits=4, rows_per_commit=20)
    OperationExecutor(lakehouse).run(OptimizeOperation(min_input_files=2), TABLE)
    table = lakehouse.get_table(TABLE).table
    manifests = table.current_snapshot().manifests(table.io)
    statuses = set()
    for manifest in manifests:
        everything = manifest.fetch_manifest_entry(table.io, discard_deleted=False)
        live = manifest.fetch_manifest_entry(table.io, discard_deleted=True)
        statuses |= {int(e.status) for e in everything}
        assert manifest_content_paths(table.io, manifest.manifest_path, live_only=False) == [
            (e.data_file.file_path, int(e.data_file.content)) for e in everything
        ]
        assert manifest_content_paths(table.io, manifest.manifest_path) == [
            (e.data_file.file_path, int(e.data_file.content)) for e in live
        ]
    assert 2 in statuses  # the compaction's manifest records the files it removed as DELETED
    for snapshot in table.snapshots():
        assert manifest_list_paths(table.io, snapshot.manifest_list) == [
            m.manifest_path for m in snapshot.manifests(table.io)
        ]
    assert handle.snapshot_id in {s.snapshot_id for s in table.snapshots()}


def test_a_manifest_list_says_which_manifests_may_hold_live_files(lakehouse):
    seed_demo_table(lakehouse, TABLE, commits=4, rows_per_commit=20)
    OperationExecutor(lakehouse).run(OptimizeOperation(min_input_files=2), TABLE)
    table = lakehouse.get_table(TABLE).table
    flags = set()
    for snapshot in table.snapshots():
        rows = manifest_list_live(table.io, snapshot.manifest_list, read=_whole_file(table.io))
        assert [path for path, _ in rows] == manifest_list_paths(table.io, snapshot.manifest_list)
        for (path, may_hold_live), manifest in zip(rows, snapshot.manifests(table.io), strict=True):
            live = manifest.fetch_manifest_entry(table.io, discard_deleted=True)
            assert may_hold_live == bool(live), path  # never False for a manifest with live files
            flags.add(may_hold_live)
    assert flags == {True, False}  # the compaction wrote a manifest of DELETED entries only


def _whole_file(io):
    def read(path: str) -> bytes:
        with io.new_input(path).open() as stream:
            return stream.read()

    return read


def test_reachable_files_equal_a_full_read_of_every_snapshot(lakehouse):
    seed_demo_table(lakehouse, TABLE, commits=5, rows_per_commit=20)
    OperationExecutor(lakehouse).run(OptimizeOperation(min_input_files=2), TABLE)
    table = lakehouse.get_table(TABLE).table
    table.manage_snapshots().create_tag(table.snapshots()[1].snapshot_id, "old").commit()
    table = lakehouse.get_table(TABLE).table

    expected = set()
    for snapshot in table.snapshots():
        for manifest in snapshot.manifests(table.io):
            expected |= {e.data_file.file_path for e in manifest.fetch_manifest_entry(table.io)}
    reach = reachable_files(table)
    assert reach.content == expected
    assert reach.manifest_lists == {s.manifest_list for s in table.snapshots()}


# -- storage listing -------------------------------------------------------------------------


def test_listing_finds_files_at_every_depth_like_a_plain_walk(tmp_path):
    root = tmp_path / "table"
    paths = [
        "top.txt",
        "data/a.parquet",
        "data/p=1/b.parquet",
        "data/p=1/q=2/c.parquet",
        "data/p=1/q=2/r=3/d.parquet",
        "metadata/v1.metadata.json",
        ".hidden/e",
    ]
    for relative in paths:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(b"x" * len(relative))
    (root / "empty" / "deeper").mkdir(parents=True)
    walked = {
        os.path.join(directory, name) for directory, _, names in os.walk(root) for name in names
    }

    listed = list_storage(_io(), f"file://{root}")

    assert {_local(f.path) for f in listed} == walked
    assert all(f.location == normalize_location(f.path) for f in listed)
    sizes = {_local(f.path): f.size for f in listed}
    assert sizes[str(root / "data/p=1/q=2/r=3/d.parquet")] == len("data/p=1/q=2/r=3/d.parquet")


def test_listing_a_missing_location_finds_nothing(tmp_path):
    assert list_storage(_io(), f"file://{tmp_path}/nothing-here") == []


def _io():
    from pyiceberg.io.pyarrow import PyArrowFileIO

    return PyArrowFileIO()


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("file:/tmp/x", ("file", "", "/tmp/x")),
        ("file:///tmp//x/", ("file", "", "/tmp/x")),
        ("/tmp/x", ("file", "", "/tmp/x")),
        ("s3a://bucket/k", ("s3", "bucket", "/k")),
        ("S3N://bucket", ("s3", "bucket", "/")),
        ("s3://bucket/a?b;c#d", ("s3", "bucket", "/a?b;c#d")),
        ("abfss://c@acct.dfs.core.windows.net/p", ("abfss", "c@acct.dfs.core.windows.net", "/p")),
        ("hdfs://nn:8020/w/t", ("hdfs", "nn:8020", "/w/t")),
    ],
)
def test_normalize_location_keeps_query_and_fragment_characters_in_the_path(uri, expected):
    assert normalize_location(uri) == expected


# -- the GC pause ----------------------------------------------------------------------------


def test_gc_pause_nests_and_restores_collection():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_gc_pause_leaves_a_disabled_collector_disabled():
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_gc_pauses_overlapping_in_threads_resume_only_when_the_last_ends():
    inside, release = threading.Barrier(3), threading.Event()
    states: list[bool] = []

    def worker(wait: bool) -> None:
        with gc_paused():
            inside.wait()
            if wait:
                release.wait()
            states.append(gc.isenabled())

    threads = [threading.Thread(target=worker, args=(w,)) for w in (False, True)]
    for thread in threads:
        thread.start()
    inside.wait()
    threads[0].join()
    still_paused = not gc.isenabled()
    release.set()
    threads[1].join()
    assert still_paused and states == [False, False] and gc.isenabled()


@pytest.mark.parametrize("entries", [1, 3])
def test_projected_reads_of_delete_manifests_keep_the_content_kind(lakehouse, entries):
    """One entry per block (the leading-fields read) and several (the whole-record read)."""
    from pyiceberg.manifest import DataFileContent, ManifestEntry, ManifestEntryStatus

    from phlo_lakehouse._upstream.manifest_writer import manifest_writer

    handle = seed_demo_table(lakehouse, TABLE, commits=1, rows_per_commit=5)
    table = handle.table
    source = live_files(table, handle.snapshot).data[0].data_file
    path = f"{table.location()}/metadata/deletes-{entries}.avro"
    writer = manifest_writer(
        2, table.spec(), table.schema(), table.io.new_output(path), 9, "gzip", deletes=True
    )
    kinds = [DataFileContent.POSITION_DELETES, DataFileContent.EQUALITY_DELETES] * 2
    with writer:
        for index in range(entries):
            delete_file = source.__class__.from_args(
                content=kinds[index],
                file_path=f"{table.location()}/data/delete-{index}.parquet",
                file_format=source.file_format,
                partition=source.partition,
                record_count=1,
                file_size_in_bytes=10,
                equality_ids=[1] if kinds[index] == DataFileContent.EQUALITY_DELETES else None,
            )
            delete_file.spec_id = source.spec_id
            writer.add_entry(
                ManifestEntry.from_args(
                    status=ManifestEntryStatus.ADDED,
                    snapshot_id=9,
                    sequence_number=None,
                    file_sequence_number=None,
                    data_file=delete_file,
                )
            )
    manifest = writer.to_manifest_file()
    expected = [
        (e.data_file.file_path, int(e.data_file.content))
        for e in manifest.fetch_manifest_entry(table.io)
    ]
    assert len(expected) == entries and expected[0][1] == 1
    assert manifest_content_paths(table.io, path) == expected
