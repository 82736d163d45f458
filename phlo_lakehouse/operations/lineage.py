"""Row lineage for compaction of format v3 tables: each surviving row read with its ``_row_id``
and ``_last_updated_sequence_number``, written back as the spec's reserved columns.

Iceberg spec, "Row Lineage": a row's ``_row_id`` is the value stored in its data file's
``_row_id`` column (field id 2147483540) when that is present and not null, else the file's
``first_row_id`` plus the row's position in the file (null when the file has no
``first_row_id``: rows written before an upgrade to v3); its ``_last_updated_sequence_number``
(field id 2147483539) is the stored value when not null, else the data sequence number of the
file's manifest entry. A compaction must carry both into the files it writes, so that readers
see the same values after the rewrite (Iceberg Java's Spark rewrite writes the same columns).

`read_lineage_group` reads each file through PyIceberg's ``ArrowScan`` *without* its deletes (so
batch rows are file positions 0, 1, …), computes both values per row, then drops the rows the
file's deletion vector or position deletes name (read as PyIceberg's scans read them) and
applies equality deletes. Files need their ``first_row_id`` materialised
(`phlo_lakehouse._upstream.manifests_v3.read_lineage_entries`, as `live_files` reads v3 tables).

Example:
    >>> ROW_ID_FIELD_ID, LAST_UPDATED_FIELD_ID
    (2147483540, 2147483539)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.operations.live_files import LiveFile

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table

ROW_ID = "_row_id"
ROW_ID_FIELD_ID = 2147483540
LAST_UPDATED = "_last_updated_sequence_number"
LAST_UPDATED_FIELD_ID = 2147483539
#: Why groups of a v3 table are decoded, never stitched (copied row groups cannot gain columns).
V3_DECODE_REASON = "format v3: rows are decoded to write their row lineage"


def lineage_schema(table: Table) -> Schema:
    """The table's current schema (names sanitised, as written) plus the two lineage columns:
    the schema of the Parquet files a v3 compaction writes."""
    from pyiceberg.schema import Schema, sanitize_column_names
    from pyiceberg.types import LongType, NestedField

    schema = sanitize_column_names(table.metadata.schema())
    return Schema(
        *schema.fields,
        NestedField(ROW_ID_FIELD_ID, ROW_ID, LongType(), required=False),
        NestedField(LAST_UPDATED_FIELD_ID, LAST_UPDATED, LongType(), required=False),
        schema_id=schema.schema_id,
    )


def lineage_write_properties(properties: dict[str, str]) -> dict[str, str]:
    """Write properties without column metrics for the lineage columns: their values are
    inherited where null, so bounds of the stored values would not bound what readers see."""
    from pyiceberg.table import TableProperties

    prefix = TableProperties.METRICS_MODE_COLUMN_CONF_PREFIX
    return {**properties, f"{prefix}.{ROW_ID}": "none", f"{prefix}.{LAST_UPDATED}": "none"}


def read_lineage_group(
    table: Table, files: Sequence[LiveFile], deletes: dict[str, list[LiveFile]]
) -> Iterator[pa.RecordBatch]:
    """Live rows of ``files`` (deletes applied) in the write schema plus ``_row_id`` and
    ``_last_updated_sequence_number`` (`lineage_schema`), every value materialised.

    Args:
        table: a format v3 table.
        files: data files with their ``first_row_id`` materialised, in this order.
        deletes: applicable delete files per data file path.
    """
    import pyarrow as pa
    from pyiceberg.io.pyarrow import schema_to_pyarrow
    from pyiceberg.manifest import DataFileContent
    from pyiceberg.table import FileScanTask

    from phlo_lakehouse.operations.read import ScanReader, write_schema

    reader = ScanReader(table, write_schema(table))
    target = schema_to_pyarrow(lineage_schema(table), include_field_ids=True)
    positions_by_delete: dict[str, dict[str, pa.ChunkedArray]] = {}
    for live in files:
        file_deletes = deletes.get(live.path, [])
        equality = [
            d for d in file_deletes if d.data_file.content == DataFileContent.EQUALITY_DELETES
        ]
        deleted = _deleted_positions(table, live, file_deletes, positions_by_delete)
        stored = _stored_lineage(table, live)
        offset = 0
        for batch in reader.scan.to_record_batches([FileScanTask(live.data_file)]):
            rows = reader.convert(batch)
            count = rows.num_rows
            positions = pa.array(range(offset, offset + count), pa.int64())
            row_ids, sequence_numbers = _lineage(live, positions, stored, offset)
            offset += count
            arrays = [*rows.columns, row_ids, sequence_numbers]
            out = pa.RecordBatch.from_arrays(arrays, schema=target)
            if deleted is not None:
                import pyarrow.compute as pc

                out = out.filter(pc.invert(pc.is_in(positions, value_set=deleted)))
            if equality and out.num_rows:
                kept = reader.apply_equality_deletes(out, equality)
                out = pa.RecordBatch.from_arrays(kept.columns, schema=target)
            if out.num_rows:
                yield out
        if offset != live.data_file.record_count:
            raise RuntimeError(
                f"{live.path} has {offset} rows, its manifest entry says "
                f"{live.data_file.record_count}: row positions (and _row_id) would be wrong"
            )


def _lineage(
    live: LiveFile, positions: pa.Array, stored: tuple[Any, Any], offset: int
) -> tuple[pa.Array, pa.Array]:
    import pyarrow as pa
    import pyarrow.compute as pc

    from phlo_lakehouse._upstream.manifests_v3 import MANIFEST_FIRST_ROW_ID, data_file_field

    count = len(positions)
    first_row_id = data_file_field(live.data_file, MANIFEST_FIRST_ROW_ID)
    if first_row_id is None:
        row_ids = pa.nulls(count, pa.int64())
    else:
        row_ids = pc.add(positions, pa.scalar(first_row_id, pa.int64()))
    sequence_numbers = pa.array([live.data_sequence_number] * count, pa.int64())
    stored_row_ids, stored_sequence_numbers = stored
    if stored_row_ids is not None:
        row_ids = pc.coalesce(stored_row_ids.slice(offset, count), row_ids)
    if stored_sequence_numbers is not None:
        sequence_numbers = pc.coalesce(
            stored_sequence_numbers.slice(offset, count), sequence_numbers
        )
    return _flat(row_ids), _flat(sequence_numbers)


def _flat(values: Any) -> pa.Array:
    import pyarrow as pa

    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values


def _stored_lineage(table: Table, live: LiveFile) -> tuple[Any, Any]:
    """The file's own ``_row_id`` and ``_last_updated_sequence_number`` columns (by field id),
    as int64 arrays in file order, or None where the file has no such column."""
    import pyarrow.parquet as pq

    with table.io.new_input(live.path).open(seekable=True) as stream:
        parquet = pq.ParquetFile(stream)
        names = {}
        for field in parquet.schema_arrow:
            field_id = (field.metadata or {}).get(b"PARQUET:field_id")
            if field_id in (str(ROW_ID_FIELD_ID).encode(), str(LAST_UPDATED_FIELD_ID).encode()):
                names[int(field_id)] = field.name
        if not names:
            return None, None
        read = parquet.read(columns=list(names.values()))
    import pyarrow as pa

    def column(field_id: int) -> Any:
        name = names.get(field_id)
        return read[name].cast(pa.int64()) if name is not None else None

    return column(ROW_ID_FIELD_ID), column(LAST_UPDATED_FIELD_ID)


def _deleted_positions(
    table: Table,
    live: LiveFile,
    file_deletes: list[LiveFile],
    cache: dict[str, dict[str, pa.ChunkedArray]],
) -> pa.Array | None:
    """Positions of ``live`` that its position deletes and deletion vectors delete, or None."""
    import pyarrow as pa
    from pyiceberg.manifest import DataFileContent

    from phlo_lakehouse._upstream.pyiceberg import deleted_positions

    chunks = []
    for delete in file_deletes:
        if delete.data_file.content != DataFileContent.POSITION_DELETES:
            continue
        if delete.path not in cache:
            cache[delete.path] = deleted_positions(table.io, delete.data_file)
        found = cache[delete.path].get(live.path)
        if found is not None:
            chunks.extend(found.cast(pa.int64()).chunks)
    if not chunks:
        return None
    return pa.chunked_array(chunks, pa.int64()).combine_chunks()
