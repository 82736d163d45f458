"""Position delete files as Iceberg Java reads and writes them: their ``(file_path, pos)`` rows
read back, and new files written sorted by path and position, one per referenced data file
(``file`` granularity, Spark's default) or one chain per partition (``partition``), with full
``file_path`` and ``pos`` bounds (Java's ``MetricsConfig.forPositionDelete``), so a file-scoped
output names its data file in its bounds.

Example:
    >>> rows = read_positions(table, deletes)                                   # doctest: +SKIP
    >>> files, paths = write_positions(table, 0, partition, rows, granularity="file",
    ...                                rows_per_file=10**6)                      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from phlo_lakehouse.errors import InvalidConfig
from phlo_lakehouse.operations.dangling import DELETE_FILE_PATH_ID
from phlo_lakehouse.operations.rewrite import RollingDataFileWriter
from phlo_lakehouse.units import int_property

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.manifest import DataFile
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table
    from pyiceberg.typedef import Record

    from phlo_lakehouse.operations.live_files import LiveFile

#: Field id of ``pos`` in position delete files.
DELETE_POS_ID = 2147483545
GRANULARITIES = ("file", "partition")
GRANULARITY_PROPERTY = "write.delete.granularity"
#: What Spark writes when the table does not say (``SparkWriteConf.deleteGranularity``).
DEFAULT_GRANULARITY = "file"
DELETE_TARGET_PROPERTY = "write.delete.target-file-size-bytes"
DEFAULT_DELETE_TARGET = 64 * 1024 * 1024


def position_delete_schema() -> Schema:
    """The Iceberg schema of a position delete file without row data."""
    from pyiceberg.schema import Schema
    from pyiceberg.types import LongType, NestedField, StringType

    return Schema(
        NestedField(DELETE_FILE_PATH_ID, "file_path", StringType(), required=True),
        NestedField(DELETE_POS_ID, "pos", LongType(), required=True),
    )


def delete_granularity(table: Table) -> str:
    """The table's ``write.delete.granularity`` ("file" when unset, as Spark writes).

    Raises:
        InvalidConfig: the property holds something else than file or partition.
    """
    raw = table.properties.get(GRANULARITY_PROPERTY, DEFAULT_GRANULARITY)
    value = str(raw).strip().lower()
    if value not in GRANULARITIES:
        raise InvalidConfig(
            f"table property {GRANULARITY_PROPERTY}={raw!r} is not file or partition",
            hint=f"fix or remove the table property {GRANULARITY_PROPERTY}",
        )
    return value


def delete_target_file_size(table: Table) -> int:
    """The table's ``write.delete.target-file-size-bytes``, else Iceberg's 64 MiB."""
    return int_property(table.properties, DELETE_TARGET_PROPERTY, DEFAULT_DELETE_TARGET, minimum=1)


def read_positions(table: Table, deletes: Sequence[LiveFile]) -> list[pa.Table]:
    """The ``(file_path, pos)`` rows of each position delete file (any row data left out)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    wanted = pa.schema([("file_path", pa.string()), ("pos", pa.int64())])
    tables = []
    for delete in deletes:
        with table.io.new_input(delete.path).open(seekable=True) as stream:
            rows = pq.read_table(stream, columns=["file_path", "pos"])
        tables.append(rows.replace_schema_metadata(None).cast(wanted))
    return tables


def live_positions(
    table: Table, deletes: list[LiveFile], data_sequence: dict[str, int]
) -> tuple[pa.Table, int, int]:
    """The rows of ``deletes`` that still delete something - their data file is live in the
    partition (``data_sequence``: path → data sequence number) and old enough for the delete
    to apply - without duplicates, sorted by (file_path, pos); and how many rows were dropped
    as dangling and as duplicates."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kept, read = [], 0
    for delete, rows in zip(deletes, read_positions(table, deletes), strict=True):
        read += rows.num_rows
        valid = pa.array(
            [p for p, s in data_sequence.items() if s <= delete.data_sequence_number], pa.string()
        )
        kept.append(rows.filter(pc.is_in(rows["file_path"], value_set=valid)))
    rows = pa.concat_tables(kept)
    unique = rows.group_by(["file_path", "pos"], use_threads=False).aggregate([])
    ordered = unique.sort_by([("file_path", "ascending"), ("pos", "ascending")])
    return ordered, read - rows.num_rows, rows.num_rows - ordered.num_rows


class PositionDeleteWriter(RollingDataFileWriter):
    """Writes sorted ``(file_path, pos)`` batches into position delete files of one partition."""

    content = 1  # DataFileContent.POSITION_DELETES
    name_suffix = "-deletes"

    def __init__(self, table: Table, spec_id: int, partition: Record, *, rows_per_file: int):
        from pyiceberg.io.pyarrow import schema_to_pyarrow

        super().__init__(table, spec_id, partition, rows_per_file=rows_per_file)
        self.file_schema = position_delete_schema()
        self.arrow_schema = schema_to_pyarrow(self.file_schema, include_field_ids=True)
        # Whole paths and positions as bounds: a reader matches a file-scoped delete by them.
        self.write_properties.update(
            {
                "write.metadata.metrics.column.file_path": "full",
                "write.metadata.metrics.column.pos": "full",
            }
        )


def write_positions(
    table: Table,
    spec_id: int,
    partition: Record,
    rows: pa.Table,
    *,
    granularity: str,
    rows_per_file: int,
) -> tuple[list[DataFile], list[str]]:
    """Write ``rows`` (sorted by file_path, pos) as position delete files of ``partition``.

    Returns:
        The new delete files and every path written (to delete if the commit fails).
    """
    import numpy as np

    writer = PositionDeleteWriter(table, spec_id, partition, rows_per_file=rows_per_file)
    rows = rows.cast(writer.arrow_schema)
    if granularity == "file" and rows.num_rows:
        # Sorted rows: each referenced data file is one run of equal paths.
        codes = rows["file_path"].combine_chunks().dictionary_encode().indices.to_numpy()
        starts = [0, *(np.flatnonzero(np.diff(codes)) + 1).tolist(), rows.num_rows]
        runs = [(a, b - a) for a, b in zip(starts, starts[1:], strict=False)]
    else:
        runs = [(0, rows.num_rows)] if rows.num_rows else []
    with writer:
        for offset, length in runs:
            writer.write_all(rows.slice(offset, length).to_batches())
            writer.close()  # ends the file: the next run starts a new one
    return writer.data_files, writer.written_paths
