"""Rewriting a file group by decoding it: rows read (deletes applied), ordered (sort, z-order) and
written back as target-size Parquet files.

`RollingDataFileWriter` takes batches already in the write schema (`read.read_group` produces
them) and streams them into row groups of bounded size, so memory is bounded by one row-group
buffer per group being written, never by the table.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.operations.read import read_group, write_schema

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table
    from pyiceberg.typedef import Record

    from phlo_lakehouse.operations.file_groups import FileGroup
    from phlo_lakehouse.operations.live_files import LiveFile

#: Arrow bytes buffered per row group when ``write.parquet.row-group-size-bytes`` is not set.
ROW_GROUP_BUFFER_BYTES_DEFAULT = 64 * 1024 * 1024


class PartitionPath:
    """The bit of PyIceberg's PartitionKey a location provider uses: ``to_path()``."""

    def __init__(self, table: Table, spec_id: int, partition: Record) -> None:
        self._spec = table.metadata.specs()[spec_id]
        self._schema = table.metadata.schema()
        self.partition = partition

    def to_path(self) -> str:
        return self._spec.partition_to_path(self.partition, self._schema)

    def __bool__(self) -> bool:
        # Location providers test the key for truth: an unpartitioned spec has no partition
        # directory (else "data//name", which S3 filesystems refuse as an empty path component).
        return bool(self._spec.fields)


class FileWriting:
    """What every file writer here shares: a context manager that closes on success and aborts
    (deleting what it wrote) on error, and ``write_all``. Subclasses define ``write``,
    ``close`` and ``abort``."""

    def __enter__(self) -> Any:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write_all(self, batches: Iterable[pa.RecordBatch]) -> None:
        """Write every batch."""
        for batch in batches:
            self.write(batch)

    def write(self, batch: pa.RecordBatch) -> None:
        raise NotImplementedError

    def close(self) -> Any:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError


class RollingDataFileWriter(FileWriting):
    """Writes batches of one partition into Parquet files of ``rows_per_file`` rows each.

    Batches must have the write schema (`read.write_schema`). They are buffered up to one row
    group - ``write.parquet.row-group-size-bytes`` of Arrow data if the table sets it, else
    64 MiB (about 15-25 MB of Parquet) - and then written without a copy, so tiny input files
    still produce well-sized row groups and memory does not grow with the group.

    Example:
        >>> w = RollingDataFileWriter(table, 0, Record(), rows_per_file=10**6)  # doctest: +SKIP
        >>> with w:                                                          # doctest: +SKIP
        ...     w.write(batch)
        >>> w.data_files                                                     # doctest: +SKIP
    """

    #: What the files hold: Iceberg's content id (0 data; a subclass writes 1, position deletes),
    #: and the end of their names.
    content = 0
    name_suffix = ""

    def __init__(
        self,
        table: Table,
        spec_id: int,
        partition: Record,
        *,
        rows_per_file: int,
        sort_order_id: int | None = None,
        lineage: bool = False,
    ) -> None:
        from pyiceberg.io.pyarrow import ParquetFormatModel, schema_to_pyarrow
        from pyiceberg.schema import sanitize_column_names
        from pyiceberg.table import TableProperties
        from pyiceberg.table.locations import load_location_provider

        self.table = table
        self.metadata = table.metadata
        self.spec_id = spec_id
        self.partition = partition
        self.rows_per_file = max(1, rows_per_file)
        self.sort_order_id = sort_order_id
        self.table_schema = self.metadata.schema()
        self.file_schema = sanitize_column_names(self.table_schema)
        self.format_model = ParquetFormatModel()
        self.locations = load_location_provider(self.metadata.location, self.metadata.properties)
        self.partition_path = PartitionPath(table, spec_id, partition)
        self.arrow_schema = write_schema(table)
        #: properties the Parquet writer and its statistics follow
        self.write_properties: dict[str, str] = dict(self.metadata.properties)
        #: format v3: rows carry ``_row_id`` and ``_last_updated_sequence_number`` (`lineage`)
        self.lineage = lineage
        if lineage:
            from phlo_lakehouse.operations.lineage import lineage_schema, lineage_write_properties

            self.file_schema = lineage_schema(table)
            self.arrow_schema = schema_to_pyarrow(self.file_schema, include_field_ids=True)
            self.write_properties = lineage_write_properties(self.write_properties)
        self.row_group_bytes = int(
            self.metadata.properties.get(
                TableProperties.PARQUET_ROW_GROUP_SIZE_BYTES, ROW_GROUP_BUFFER_BYTES_DEFAULT
            )
        )
        self.write_uuid = uuid.uuid4()
        self.data_files: list[DataFile] = []
        self.written_paths: list[str] = []
        self._buffer: list[pa.RecordBatch] = []
        self._buffer_rows = 0
        self._buffer_bytes = 0
        self._writer: Any = None
        self._output: Any = None
        self._path = ""
        self._file_rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        """Buffer ``batch``; flush full row groups and roll files at ``rows_per_file``."""
        while batch.num_rows:
            room = self.rows_per_file - self._file_rows - self._buffer_rows
            take = batch.slice(0, room) if batch.num_rows > room else batch
            batch = batch.slice(take.num_rows)
            self._buffer.append(take)
            self._buffer_rows += take.num_rows
            self._buffer_bytes += take.nbytes
            if self._file_rows + self._buffer_rows >= self.rows_per_file:
                self._flush()
                self._finish_file()
            elif self._buffer_bytes >= self.row_group_bytes:
                self._flush()

    def close(self) -> list[DataFile]:
        """Write what is buffered and finish the last file; returns every file written."""
        if self._buffer_rows:
            self._flush()
        if self._writer is not None:
            self._finish_file()
        return self.data_files

    def abort(self) -> None:
        """Stop writing and delete every file this writer created."""
        from phlo_lakehouse.storage.deletion import delete_files

        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # noqa: BLE001 - the file is deleted next either way
                pass
            self._writer = None
        delete_files(self.table.io, self.written_paths)

    def _flush(self) -> None:
        import pyarrow as pa

        if not self._buffer_rows:
            return
        if self._writer is None:
            self._open()
        # Chunked as read: the Parquet writer slices row groups itself, a combine would copy.
        self._writer.write(pa.Table.from_batches(self._buffer, schema=self.arrow_schema))
        self._file_rows += self._buffer_rows
        self._buffer, self._buffer_rows, self._buffer_bytes = [], 0, 0

    def _open(self) -> None:
        name = f"{len(self.data_files):05d}-0-{self.write_uuid}{self.name_suffix}.parquet"
        self._path = self.locations.new_data_location(name, self.partition_path)  # type: ignore[arg-type]
        self._output = self.table.io.new_output(self._path)
        self.written_paths.append(self._path)
        self._writer = self.format_model.create_writer(
            self._output, self.file_schema, self.write_properties
        )

    def _finish_file(self) -> None:
        from pyiceberg.manifest import DataFile, DataFileContent, FileFormat

        statistics = self._writer.close()
        self._writer = None
        data_file = DataFile.from_args(
            content=DataFileContent(self.content),
            file_path=self._path,
            file_format=FileFormat.PARQUET,
            partition=self.partition,
            file_size_in_bytes=len(self._output),
            sort_order_id=self.sort_order_id,
            spec_id=self.spec_id,
            equality_ids=None,
            key_metadata=None,
            **statistics.to_serialized_dict(),
        )
        data_file.spec_id = self.spec_id  # not a from_args field in PyIceberg 0.12
        if self.lineage:  # a v3 record; first_row_id comes from the manifest list
            from phlo_lakehouse._upstream.manifests_v3 import as_v3_data_file

            data_file = as_v3_data_file(data_file)
        self.data_files.append(data_file)
        self._file_rows = 0


def sort_rows(rows: pa.Table, keys: Sequence[tuple[str, str, str]]) -> pa.Table:
    """Sort by ``(column, "ascending"|"descending", "at_start"|"at_end")`` keys."""
    import pyarrow.compute as pc

    if not keys or rows.num_rows < 2:
        return rows
    import pyarrow as pa

    # Keys may name struct fields (loc.lat): sort a table of the key values, take the rows.
    key_table = pa.table({f"k{i}": column_values(rows, key[0]) for i, key in enumerate(keys)})
    sort_keys = [(f"k{i}", *key[1:]) for i, key in enumerate(keys)]
    return rows.take(pc.sort_indices(key_table, options=pc.SortOptions(sort_keys)))


def column_values(rows: pa.Table, name: str) -> pa.ChunkedArray:
    """The values of column ``name``: a top-level column or a struct field path (``loc.lat``)."""
    import pyarrow.compute as pc

    if name in rows.column_names:
        return rows[name]
    parts = name.split(".")
    for depth in range(len(parts) - 1, 0, -1):
        top = ".".join(parts[:depth])
        if top in rows.column_names:
            return pc.struct_field(rows[top], parts[depth:])
    raise KeyError(name)


def zorder_rows(rows: pa.Table, columns: Sequence[str]) -> pa.Table:
    """Order rows along a Z-order curve over ``columns``.

    Each column is ranked (dense, nulls first), the ranks are scaled to the same number of bits,
    and the bits are interleaved into one 64-bit key, so clustering does not depend on value
    ranges or types (ints, floats, dates, timestamps and strings alike).
    """
    import numpy as np
    import pyarrow.compute as pc

    if rows.num_rows < 2:
        return rows
    bits = max(1, min(32, 64 // len(columns)))
    top = float((1 << bits) - 1)
    z = np.zeros(rows.num_rows, dtype=np.uint64)
    scaled_cols = []
    for name in columns:
        ranks = pc.rank(column_values(rows, name), sort_keys="ascending", tiebreaker="dense")
        ranks_np = ranks.to_numpy().astype(np.float64) - 1.0
        highest = float(ranks_np.max()) if ranks_np.size else 0.0
        scaled = np.floor(ranks_np * (top / highest)) if highest else ranks_np
        scaled_cols.append(scaled.astype(np.uint64))
    for bit in range(bits - 1, -1, -1):
        for scaled in scaled_cols:
            z = (z << np.uint64(1)) | ((scaled >> np.uint64(bit)) & np.uint64(1))
    return rows.take(np.argsort(z, kind="stable"))


def rewrite_group(
    table: Table,
    group: FileGroup,
    files: list[LiveFile],
    deletes: dict[str, list[LiveFile]],
    *,
    strategy: str,
    sort_keys: list[tuple[str, str, str]],
    table_sort_order: bool,
    zorder_by: Sequence[str],
    repartition: bool = False,
) -> tuple[list[DataFile], int, list[str]]:
    """Rewrite one file group by decoding it: read its rows (deletes applied), order them per
    ``strategy`` and write target-size files. Returns the new data files, the rows read and
    every path written (to delete if the commit fails). With ``repartition`` (files of another
    spec) the rows are split by the partitions of the group's spec.

    Raises:
        RuntimeError: the files written hold another number of rows than were read.
    """
    rows_per_file = max(1, math.ceil(group.input_records / max(1, group.expected_output_files)))
    partition = files[0].data_file.partition
    lineage = table.metadata.format_version >= 3
    read: Any = read_group
    if lineage:  # every row keeps its _row_id and _last_updated_sequence_number
        from phlo_lakehouse.operations.lineage import read_lineage_group as read
    sort_order_id = (
        table.metadata.default_sort_order_id if strategy == "sort" and table_sort_order else None
    )
    if repartition:
        from phlo_lakehouse.operations.repartition import PartitionedWriter

        writer: Any = PartitionedWriter(
            table,
            group.spec_id,
            rows_per_file=rows_per_file,
            sort_order_id=sort_order_id,
            lineage=lineage,
        )
    else:
        writer = RollingDataFileWriter(
            table,
            group.spec_id,
            partition,
            rows_per_file=rows_per_file,
            sort_order_id=sort_order_id,
            lineage=lineage,
        )
    rows_read = 0
    with writer:
        if strategy == "binpack":
            for batch in read(table, files, deletes):
                rows_read += batch.num_rows
                writer.write(batch)
        else:
            import pyarrow as pa

            batches = list(read(table, files, deletes))
            rows = pa.Table.from_batches(batches, schema=batches[0].schema) if batches else None
            if rows is not None and rows.num_rows:
                rows_read = rows.num_rows
                ordered = (
                    sort_rows(rows, sort_keys)
                    if strategy == "sort"
                    else zorder_rows(rows, zorder_by)
                )
                writer.write_all(ordered.to_batches())
    written_rows = sum(f.record_count for f in writer.data_files)
    if written_rows != rows_read:
        writer.abort()
        raise RuntimeError(
            f"rewrite of group {group.group_id} wrote {written_rows} rows, read {rows_read}"
        )
    return writer.data_files, rows_read, writer.written_paths
