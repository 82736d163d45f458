"""Delete-file operations on format v3 tables, without Spark: deletion vectors (Puffin files,
written here by the spec with pyroaring, independently of the package) and position delete files
from before the upgrade, committed as a merge-on-read writer commits them; dangling ones found
and removed entry by entry. The oracle reads the manifest list and manifests with their own Avro
schemas and the position delete files with pyarrow. Spark-written tables are covered in
phlo_lakehouse_tests/integration/test_spark_format_v3.py.
"""

import json
import struct
import uuid
import zlib

from phlo_lakehouse.operations import OperationExecutor, RemoveDanglingDeletesOperation
from phlo_lakehouse.operations.live_files import live_files
from phlo_lakehouse.operations.manifests import RewriteManifestsOperation
from phlo_lakehouse.operations.replace import ReplaceFiles
from phlo_lakehouse_tests.operations.position_delete_helpers import delete_positions
from phlo_lakehouse_tests.operations.test_format_v3 import (
    DATA_FILE_NAMES,
    _avro_records,
    _document,
    _path,
    _row_ids_by_event,
    _values,
    v3_table,
)

PUFFIN_MAGIC = b"PFA1"
DV_MAGIC = b"\xd1\xd3\x39\x64"
ROW_POSITION_ID = 2147483545


def _dv_blob(positions: list[int]) -> bytes:
    """A ``deletion-vector-v1`` blob (Puffin spec): length, magic, 64-bit roaring bitmap in its
    portable form (bucket count, then each bucket's key and 32-bit bitmap), CRC-32."""
    from pyroaring import BitMap

    bitmap = struct.pack("<Q", 1) + struct.pack("<I", 0) + BitMap(positions).serialize()
    body = DV_MAGIC + bitmap
    return struct.pack(">I", len(body)) + body + struct.pack(">I", zlib.crc32(body))


def add_deletion_vectors(handle, vectors: list[dict[str, list[int]]]):
    """Commit one Puffin file per item of ``vectors`` (data file path -> deleted positions),
    each vector its own manifest entry. Returns the refreshed handle."""
    from pyiceberg.manifest import DataFileContent, FileFormat

    from phlo_lakehouse._upstream.manifests_v3 import as_v3_data_file
    from phlo_lakehouse.operations.live_files import live_files as read_live

    table = handle.table
    data = {f.path: f for f in read_live(table, handle.snapshot).data}
    added = []
    for puffin in vectors:
        location = f"{table.location()}/data/test-{uuid.uuid4()}-dvs.puffin"
        content, blobs = bytearray(PUFFIN_MAGIC), []
        for path, positions in sorted(puffin.items()):
            blob = _dv_blob(positions)
            blobs.append(
                {
                    "type": "deletion-vector-v1",
                    "fields": [ROW_POSITION_ID],
                    "snapshot-id": -1,
                    "sequence-number": -1,
                    "offset": len(content),
                    "length": len(blob),
                    "properties": {
                        "referenced-data-file": path,
                        "cardinality": str(len(positions)),
                    },
                }
            )
            content += blob
        payload = json.dumps({"blobs": blobs, "properties": {}}).encode()
        content += PUFFIN_MAGIC + payload + struct.pack("<i", len(payload)) + bytes(4)
        content += PUFFIN_MAGIC
        with table.io.new_output(location).create() as out:
            out.write(bytes(content))
        for blob in blobs:
            path = blob["properties"]["referenced-data-file"]
            vector = as_v3_data_file(
                data[path].data_file,
                content=DataFileContent.POSITION_DELETES,
                file_path=location,
                file_format=FileFormat.PUFFIN,
                record_count=int(blob["properties"]["cardinality"]),
                file_size_in_bytes=len(content),
                column_sizes=None,
                value_counts=None,
                null_value_counts=None,
                nan_value_counts=None,
                lower_bounds=None,
                upper_bounds=None,
                split_offsets=None,
                sort_order_id=None,
                first_row_id=None,
                referenced_data_file=path,
                content_offset=blob["offset"],
                content_size_in_bytes=blob["length"],
            )
            added.append(vector)
    _commit(handle, added_deletes=added)
    return handle.refresh()


def _commit(handle, *, removed=(), added_deletes=()) -> None:
    """A ``delete`` commit that leaves every delete file, as a writer that drops data files
    without looking at their deletes does."""
    ReplaceFiles(
        handle.table,
        handle.table_ref,
        starting_snapshot_id=handle.snapshot_id,
        removed=list(removed),
        added=[],
        added_deletes=list(added_deletes),
        operation="delete",
        drop_unused_deletes=False,
    ).commit()


def _manifest_state(handle) -> tuple[dict[str, int], list[dict]]:
    """Live data files (path -> data sequence number) and live delete entries of the head,
    decoded from the Avro files with their own schemas (the spec's inheritance rules)."""
    snapshot = _document(handle.table.metadata_location)["snapshots"][-1]
    data, deletes = {}, []
    for listed in _avro_records(snapshot["manifest-list"]):
        for entry in _avro_records(listed["manifest_path"]):
            if entry["status"] == 2:  # DELETED
                continue
            fields = dict(zip(DATA_FILE_NAMES, _values(entry["data_file"]), strict=False))
            sequence = entry["sequence_number"]
            fields["sequence"] = listed["sequence_number"] if sequence is None else sequence
            if fields["content"] == 0:
                data[fields["file_path"]] = fields["sequence"]
            else:
                deletes.append(fields)
    return data, deletes


def _dangling_by_spec(handle) -> set[tuple[str, str | None]]:
    """(path, referenced data file) of each dangling delete entry: a deletion vector whose data
    file is gone; a position delete file none of whose rows names a live data file at or below
    its sequence number (read with pyarrow)."""
    import pyarrow.parquet as pq

    data, deletes = _manifest_state(handle)
    dangling = set()
    for delete in deletes:
        referenced = delete["referenced_data_file"]
        if referenced is not None:
            if referenced not in data:
                dangling.add((delete["file_path"], referenced))
            continue
        paths = set(pq.read_table(_path(delete["file_path"]))["file_path"].to_pylist())
        if not any(data.get(p, delete["sequence"] + 1) <= delete["sequence"] for p in paths):
            dangling.add((delete["file_path"], None))
    return dangling


def test_remove_dangling_deletes_on_v3_removes_exactly_the_dangling_entries(lakehouse):
    """Deletion vectors of dropped data files are removed entry by entry (a vector of a live
    file in the same Puffin file stays), a position delete file from before the upgrade by the
    v2 rules; one metadata-only commit; rows and row lineage unchanged; dry run == real run."""
    name = v3_table(lakehouse)
    executor = OperationExecutor(lakehouse)
    executor.run(RewriteManifestsOperation(rewrite_all=True), name)  # rows get row ids
    handle = lakehouse.get_table(name)
    files = sorted(live_files(handle.table, handle.snapshot).data, key=lambda f: f.path)
    a, b, c, d, e = (f.path for f in files[:5])
    handle = delete_positions(handle, {e: [0]})  # a v2-era position delete file
    handle = add_deletion_vectors(handle, [{a: [0], b: [0], c: [0]}, {d: [0]}])
    live = live_files(handle.table, handle.snapshot).data
    _commit(handle, removed=[f for f in live if f.path in (a, b, e)])
    handle = lakehouse.get_table(name)
    rows = handle.to_arrow().sort_by("event_id")
    lineage = _row_ids_by_event(handle)
    data_before, deletes_before = _manifest_state(handle)
    assert len(rows) == len(lineage) - 2  # PyIceberg applies our vectors of c and d
    assert set(data_before) == {f.path for f in files} - {a, b, e}
    expected = _dangling_by_spec(handle)
    assert {r for _, r in expected} == {a, b, None} and len(expected) == 3
    document = _document(handle.table.metadata_location)
    op = RemoveDanglingDeletesOperation()

    dry = executor.run(op, name, dry_run=True)
    assert lakehouse.get_table(name).table.metadata_location == handle.table.metadata_location
    result = executor.run(RemoveDanglingDeletesOperation(), name)

    assert result.committed and dry.figures == result.figures
    assert dry.details["dangling_deletion_vectors"] == sorted(
        [list(k) for k in expected if k[1] is not None]
    )
    assert result.figures["dangling_delete_files"] == 3
    assert result.figures["dangling_deletion_vectors"] == 2
    after = lakehouse.get_table(name)
    _, deletes_after = _manifest_state(after)
    keys = {(x["file_path"], x["referenced_data_file"]) for x in deletes_before}
    assert {(x["file_path"], x["referenced_data_file"]) for x in deletes_after} == keys - expected
    assert any(x["referenced_data_file"] == c for x in deletes_after)  # same Puffin, stays
    assert _dangling_by_spec(after) == set()
    assert after.to_arrow().sort_by("event_id") == rows
    assert _row_ids_by_event(after) == lineage
    new = _document(after.table.metadata_location)
    snapshot = new["snapshots"][-1]
    assert snapshot["summary"]["operation"] == "replace"
    assert snapshot["added-rows"] == 0 and new["next-row-id"] == document["next-row-id"]
    again = executor.run(RemoveDanglingDeletesOperation(), name)
    assert not again.committed and again.figures["dangling_delete_files"] == 0


def test_data_retention_on_v3_drops_old_rows_keeping_the_lineage_of_every_kept_row(lakehouse):
    """Day 0 is wholly old (its files dropped metadata-only, their deletion vectors with them,
    entry by entry), one file of day 1 straddles the cutoff (rewritten without its old row, the
    kept row's _row_id and _last_updated_sequence_number written into the new file); a vector
    of a young file in the same Puffin file stays; dry run == real run."""
    from datetime import timedelta

    import pyarrow as pa
    import pyarrow.compute as pc

    from phlo_lakehouse.demo import _START
    from phlo_lakehouse.operations import DataRetentionOperation

    name = v3_table(lakehouse)
    executor = OperationExecutor(lakehouse)
    executor.run(RewriteManifestsOperation(rewrite_all=True), name)  # rows get row ids
    handle = lakehouse.get_table(name)
    cutoff = _START + timedelta(days=1, seconds=7)
    by_rows = {}
    for f in live_files(handle.table, handle.snapshot).data:
        ids = _read_ids(f.path)
        by_rows[tuple(ids)] = f.path
    old_file, young_file = by_rows[(0, 4)], by_rows[(2,)]  # day 0 and day 2 of the first commit
    handle = add_deletion_vectors(handle, [{old_file: [1], young_file: [0]}])
    rows = handle.to_arrow().sort_by("event_id")
    lineage = _row_ids_by_event(handle)
    at = pa.scalar(cutoff, rows["event_time"].type)
    old = rows.filter(pc.less(rows["event_time"], at))
    kept = rows.filter(pc.greater_equal(rows["event_time"], at))
    assert set(old["event_id"].to_pylist()) == {0, 8, 12, 16, 1, 5}  # 4 deleted by its vector
    now = cutoff + timedelta(days=1)
    op = DataRetentionOperation(column="event_time", retention="1d", now=now)

    dry = executor.run(op, name, dry_run=True)
    assert lakehouse.get_table(name).table.metadata_location == handle.table.metadata_location
    result = executor.run(op, name)

    assert result.committed and dry.figures == result.figures
    assert result.figures["rows_to_delete"] == len(old)
    assert (result.figures["files_to_drop"], result.figures["files_to_rewrite"]) == (5, 1)
    after = lakehouse.get_table(name)
    assert after.to_arrow().sort_by("event_id").to_pylist() == kept.to_pylist()
    after_lineage = _row_ids_by_event(after)
    kept_ids = kept["event_id"].to_pylist()
    assert {i: after_lineage[i] for i in kept_ids} == {i: lineage[i] for i in kept_ids}
    data, deletes = _manifest_state(after)
    assert [x["referenced_data_file"] for x in deletes] == [young_file]
    assert young_file in data and old_file not in data


def _read_ids(location: str) -> list[int]:
    import pyarrow.parquet as pq

    return pq.read_table(_path(location), columns=["event_id"])["event_id"].to_pylist()
