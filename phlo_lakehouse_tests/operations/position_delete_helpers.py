"""Position deletes committed the way a merge-on-read writer commits them, for tests without Spark.

The delete files are written here with plain pyarrow (the spec's field ids, full ``file_path``
and ``pos`` bounds as Java writes them), independently of the package's own delete writer, and
committed as a ``delete`` snapshot. What they delete is then read back by PyIceberg's scan, the
oracle the tests compare with.
"""

from __future__ import annotations

import struct
import uuid
from collections import defaultdict

import pyarrow as pa
import pyarrow.parquet as pq

from phlo_lakehouse.operations.live_files import live_files
from phlo_lakehouse.operations.replace import ReplaceFiles

FILE_PATH_ID, POS_ID = 2147483546, 2147483545
SCHEMA = pa.schema(
    [
        pa.field("file_path", pa.string(), False, {b"PARQUET:field_id": str(FILE_PATH_ID)}),
        pa.field("pos", pa.int64(), False, {b"PARQUET:field_id": str(POS_ID)}),
    ]
)


def delete_positions(handle, positions: dict[str, list[int]], *, per_data_file: bool = True):
    """Commit position deletes of ``positions`` (data file path → row positions): one delete file
    per data file (``per_data_file``) or one per partition. Returns the refreshed handle."""
    from pyiceberg.manifest import DataFile, DataFileContent, FileFormat

    table = handle.table
    data = {f.path: f for f in live_files(table, handle.snapshot).data}
    chunks: dict[object, list[tuple[str, int]]] = defaultdict(list)
    for path, rows in sorted(positions.items()):
        key = path if per_data_file else data[path].partition_key
        chunks[key] += [(path, pos) for pos in sorted(rows)]
    added = []
    for pairs in chunks.values():
        first = data[pairs[0][0]]
        location = table.location() + f"/data/test-{uuid.uuid4()}-deletes.parquet"
        rows = pa.table(
            {"file_path": [p for p, _ in pairs], "pos": [n for _, n in pairs]}, schema=SCHEMA
        )
        with table.io.new_output(location).create() as out:
            pq.write_table(rows, out)
        delete = DataFile.from_args(
            content=DataFileContent.POSITION_DELETES,
            file_path=location,
            file_format=FileFormat.PARQUET,
            partition=first.data_file.partition,
            record_count=len(pairs),
            file_size_in_bytes=len(table.io.new_input(location)),
            lower_bounds={
                FILE_PATH_ID: min(p for p, _ in pairs).encode(),
                POS_ID: struct.pack("<q", min(n for _, n in pairs)),
            },
            upper_bounds={
                FILE_PATH_ID: max(p for p, _ in pairs).encode(),
                POS_ID: struct.pack("<q", max(n for _, n in pairs)),
            },
        )
        delete.spec_id = first.spec_id
        added.append(delete)
    ReplaceFiles(
        table,
        handle.table_ref,
        starting_snapshot_id=handle.snapshot_id,
        removed=[],
        added=[],
        added_deletes=added,
        operation="delete",
        drop_unused_deletes=False,
    ).commit()
    return handle.refresh()


def position_deletes_of(handle) -> list:
    """The ref's live position delete files (LiveFile), by path."""
    live = live_files(handle.table, handle.snapshot)
    return sorted((d for d in live.deletes if d.data_file.content == 1), key=lambda d: d.path)


def deleted_pairs(handle) -> set[tuple[str, int]]:
    """Every (file_path, pos) the ref's live position delete files hold, read with pyarrow."""
    pairs = set()
    for delete in position_deletes_of(handle):
        with handle.table.io.new_input(delete.path).open() as stream:
            rows = pq.read_table(stream, columns=["file_path", "pos"])
        pairs |= set(zip(rows["file_path"].to_pylist(), rows["pos"].to_pylist(), strict=True))
    return pairs
