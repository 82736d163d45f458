"""Reading the live rows of data files, deletes applied, in the layout the rewrite writes.

Two paths, one result:

- **Direct.** A data file without deletes whose Parquet schema already is the table's write
  schema (same field ids, names, types and nullability, as every file PyIceberg or this package
  wrote under the current schema) is read with ``pyarrow.parquet`` alone and passed on without
  a copy. Files that differ only in string/binary offset width or in the spelling of UTC are
  cast on the way.
- **Through PyIceberg.** Anything else - deletes to apply, an older schema, files without field
  ids (name mapping), promoted types - goes through PyIceberg's ``ArrowScan`` and is converted
  to the write schema. Equality deletes, which PyIceberg cannot read, are applied here with a
  null-safe anti-join.

Either way every batch has exactly the schema of `write_schema`, so the writer never converts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.operations.live_files import LiveFile

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.table import Table

#: Files ``ArrowScan`` reads at once on the PyIceberg path.
READ_WINDOW = 16


def write_schema(table: Table) -> pa.Schema:
    """The Arrow schema of the Parquet files a rewrite of ``table`` writes (field ids included)."""
    from pyiceberg.io.pyarrow import schema_to_pyarrow
    from pyiceberg.schema import sanitize_column_names

    return schema_to_pyarrow(sanitize_column_names(table.metadata.schema()), include_field_ids=True)


def read_group(
    table: Table, files: Sequence[LiveFile], deletes: dict[str, list[LiveFile]]
) -> Iterator[pa.RecordBatch]:
    """Live rows of ``files`` in the table's write schema (`write_schema`), deletes applied.

    Args:
        table: the table (its current schema is the output schema).
        files: the data files to read, in this order.
        deletes: applicable delete files per data file path.
    """
    from pyiceberg.manifest import DataFileContent

    target = write_schema(table)
    direct = _DirectReader(table, target)
    scanned = ScanReader(table, target)
    pending: list[tuple[LiveFile, set[Any]]] = []
    for live in files:
        file_deletes = deletes.get(live.path, [])
        equality = [
            d for d in file_deletes if d.data_file.content == DataFileContent.EQUALITY_DELETES
        ]
        positional = {
            d.data_file
            for d in file_deletes
            if d.data_file.content == DataFileContent.POSITION_DELETES
        }
        rows = direct.read(live) if not file_deletes else None
        if rows is not None:
            yield from scanned.read(pending)
            pending = []
            yield from rows.to_batches()
        elif equality:
            yield from scanned.read(pending)
            pending = []
            yield from scanned.read_with_equality_deletes(live, positional, equality)
        else:
            pending.append((live, positional))
            if len(pending) >= READ_WINDOW:
                yield from scanned.read(pending)
                pending = []
    yield from scanned.read(pending)


class _DirectReader:
    """Reads a data file with pyarrow alone when its schema already is the write schema."""

    def __init__(self, table: Table, target: pa.Schema) -> None:
        from pyiceberg.io.pyarrow import PyArrowFileIO

        self.io = table.io
        self.arrow_io = table.io if isinstance(table.io, PyArrowFileIO) else None
        self.target = target
        self.castable: dict[pa.Schema, bool] = {}

    def read(self, live: LiveFile) -> pa.Table | None:
        """The file's rows in the write schema, or None when it needs PyIceberg's reader."""
        import pyarrow.parquet as pq
        from pyiceberg.manifest import FileFormat

        if live.data_file.file_format != FileFormat.PARQUET:
            return None
        with self._open(live.path) as stream:
            parquet = pq.ParquetFile(stream)
            schema = parquet.schema_arrow.remove_metadata()
            if schema.equals(self.target, check_metadata=True):
                return parquet.read().replace_schema_metadata(None)
            if not self._castable(schema):
                return None
            return parquet.read().cast(self.target)

    def _open(self, path: str) -> Any:
        if self.arrow_io is None:
            return self.io.new_input(path).open(seekable=True)
        scheme, netloc, location = self.arrow_io.parse_location(path, self.arrow_io.properties)
        return self.arrow_io.fs_by_scheme(scheme, netloc).open_input_file(location)

    def _castable(self, schema: pa.Schema) -> bool:
        if schema not in self.castable:
            self.castable[schema] = castable_schema(schema, self.target)
        return self.castable[schema]


def castable_schema(schema: pa.Schema, target: pa.Schema) -> bool:
    """Same top-level fields (ids, names, nullability) with primitive types that differ at most
    in offset width (string/large_string, binary/large_binary) or in how UTC is spelled."""
    if len(schema) != len(target):
        return False
    for field, wanted in zip(schema, target, strict=True):
        if (
            field.name != wanted.name
            or field.nullable != wanted.nullable
            or (field.metadata or {}) != (wanted.metadata or {})
        ):
            return False
        if field.type.equals(wanted.type, check_metadata=True):
            continue
        family = _type_family(field.type)
        if family is None or family != _type_family(wanted.type):
            return False
    return True


def _type_family(arrow_type: pa.DataType) -> tuple[str, ...] | None:
    import pyarrow as pa

    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return ("string",)
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return ("binary",)
    if pa.types.is_timestamp(arrow_type) and arrow_type.tz is not None:
        utc = arrow_type.tz.upper() in ("UTC", "+00:00", "Z", "ETC/UTC")
        return ("timestamptz", arrow_type.unit) if utc else None
    return None


class ScanReader:
    """Reads data files through PyIceberg's ``ArrowScan`` and converts them to the write schema."""

    def __init__(self, table: Table, target: pa.Schema) -> None:
        from pyiceberg.expressions import AlwaysTrue
        from pyiceberg.io.pyarrow import ArrowScan, ParquetFormatModel
        from pyiceberg.schema import sanitize_column_names

        self.table = table
        self.target = target
        self.schema = table.metadata.schema()
        self.file_schema = sanitize_column_names(self.schema)
        self.format_model = ParquetFormatModel()
        self.scan = ArrowScan(table.metadata, table.io, self.schema, AlwaysTrue())
        self.equality_keys: dict[str, pa.Table] = {}

    def read(self, files: list[tuple[LiveFile, set[Any]]]) -> Iterator[pa.RecordBatch]:
        from pyiceberg.table import FileScanTask

        if not files:
            return
        tasks = [
            FileScanTask(live.data_file, delete_files=positional) for live, positional in files
        ]
        for batch in self.scan.to_record_batches(tasks):
            yield self.convert(batch)

    def read_with_equality_deletes(
        self, live: LiveFile, positional: set[Any], equality: list[LiveFile]
    ) -> Iterator[pa.RecordBatch]:
        from pyiceberg.table import FileScanTask

        for batch in self.scan.to_record_batches([FileScanTask(live.data_file, positional)]):
            kept = self.apply_equality_deletes(batch, equality)
            if kept.num_rows:
                yield self.convert(kept)

    def convert(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        from phlo_lakehouse._upstream.pyiceberg import to_requested_schema

        converted = to_requested_schema(
            self.file_schema,
            self.schema,
            batch,
            include_field_ids=True,
            format_model=self.format_model,
        )
        if not converted.schema.equals(self.target, check_metadata=True):
            converted = converted.cast(self.target)
        return converted

    def apply_equality_deletes(
        self, batch: pa.RecordBatch, deletes: list[LiveFile]
    ) -> pa.RecordBatch:
        import pyarrow as pa

        current = pa.Table.from_batches([batch])
        for delete in deletes:
            if delete.path not in self.equality_keys:
                self.equality_keys[delete.path] = self._equality_keys(delete)
            keys = self.equality_keys[delete.path]
            if keys.num_rows and current.num_rows:
                current = _anti_join(current, keys)
        combined = current.combine_chunks()
        return combined.to_batches()[0] if combined.num_rows else batch.slice(0, 0)

    def _equality_keys(self, delete: LiveFile) -> pa.Table:
        from pyiceberg.expressions import AlwaysTrue
        from pyiceberg.io.pyarrow import ArrowScan
        from pyiceberg.manifest import DataFile, DataFileContent
        from pyiceberg.table import FileScanTask

        names = []
        for field_id in delete.data_file.equality_ids or []:
            name = self.schema.find_column_name(field_id)
            if name is None:
                raise ValueError(f"Could not find column: field id {field_id} of {delete.path}")
            names.append(name)
        projected = self.schema.select(*names)
        # ArrowScan reads data files; present the delete file as one (same layout, key columns).
        as_data = DataFile.from_args(
            content=DataFileContent.DATA,
            file_path=delete.data_file.file_path,
            file_format=delete.data_file.file_format,
            partition=delete.data_file.partition,
            record_count=delete.data_file.record_count,
            file_size_in_bytes=delete.data_file.file_size_in_bytes,
        )
        as_data.spec_id = delete.data_file.spec_id
        scan = ArrowScan(self.table.metadata, self.table.io, projected, AlwaysTrue())
        return scan.to_table([FileScanTask(as_data)])


def _anti_join(rows: pa.Table, keys: pa.Table) -> pa.Table:
    """Rows whose key columns match no row of ``keys``; NULL equals NULL as in Iceberg."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = list(keys.column_names)
    left = rows
    # Both sides are read by ArrowScan, but not always with the same offset widths.
    right = pa.table({name: keys[name].cast(rows.schema.field(name).type) for name in names})
    join_keys = []
    for name in names:
        null_key, value_key = f"__null_{name}", f"__value_{name}"
        left = left.append_column(null_key, pc.is_null(left[name]))
        right = right.append_column(null_key, pc.is_null(right[name]))
        default = _null_stand_in(left.schema.field(name).type)
        left = left.append_column(value_key, pc.fill_null(left[name], default))
        right = right.append_column(value_key, pc.fill_null(right[name], default))
        join_keys += [null_key, value_key]
    right = right.select(join_keys)
    kept = left.join(right, keys=join_keys, join_type="left anti", use_threads=True)
    return kept.select(rows.column_names)


def _null_stand_in(arrow_type: pa.DataType) -> Any:
    import pyarrow as pa

    for source in (pa.array([0]), pa.array([""]), pa.array([b""]), pa.array([False])):
        try:
            return source.cast(arrow_type)[0]
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    raise ValueError(f"equality deletes on {arrow_type} columns are not supported")
