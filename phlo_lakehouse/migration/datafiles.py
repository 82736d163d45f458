"""Existing Parquet files as Iceberg data files, without reading or rewriting their rows.

A Hive-layout file keeps its partition columns only in the directory name (``dt=…``), so
PyIceberg's ``add_files`` (which infers partition values from column statistics) would give
every file a null partition. Here each file's partition value comes from the metastore, the
statistics from its Parquet footer, and the footer's columns are checked against the table
schema first, so an incompatible file fails the migration before anything is committed.

Example:
    >>> part = SourcePartition(("2026-01-01",), "file:/wh/t/dt=2026-01-01")
    >>> files = list_source_files(io, [part])                            # doctest: +SKIP
    >>> build_data_files(io, schema, spec, files).records                # doctest: +SKIP
    1200
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.migration.hive_schema import partition_value
from phlo_lakehouse.storage.listing import list_storage

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyiceberg.io import FileIO
    from pyiceberg.manifest import DataFile
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.schema import Schema

#: Footers are read in parallel threads (pyarrow releases the GIL; on S3 this hides latency).
FOOTER_THREADS = 8


@dataclass(frozen=True)
class SourcePartition:
    """One partition as the metastore records it: raw values (in key order) and location."""

    values: tuple[str | None, ...]
    location: str


@dataclass(frozen=True)
class SourceFile:
    """A data file of the source table, with its partition's raw values."""

    path: str
    size: int
    partition: tuple[str | None, ...]

    def to_json(self) -> list[Any]:
        """``[path, size, [values…]]`` (plan details stay compact for 10,000s of files)."""
        return [self.path, self.size, list(self.partition)]

    @classmethod
    def from_json(cls, value: Sequence[Any]) -> SourceFile:
        """The inverse of `to_json`."""
        return cls(str(value[0]), int(value[1]), tuple(value[2]))


def list_source_files(
    io: FileIO, partitions: Sequence[SourcePartition], *, threads: int = FOOTER_THREADS
) -> list[SourceFile]:
    """Every visible file under each partition location, sorted by path.

    Hidden names (``_SUCCESS``, ``.crc`` files, ``_temporary/`` …: any path part below the
    partition location starting with ``_`` or ``.``) are skipped, as Hive and Spark skip them.
    """

    def _list(partition: SourcePartition) -> list[SourceFile]:
        root = partition.location.rstrip("/")
        found = []
        for stored in list_storage(io, root):
            relative = _relative(stored.path, root)
            if any(part.startswith(("_", ".")) for part in relative.split("/")):
                continue
            found.append(SourceFile(stored.path, stored.size, partition.values))
        return found

    if not partitions:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(partitions)))) as pool:
        listed = [f for group in pool.map(_list, partitions) for f in group]
    return sorted(listed, key=lambda f: f.path)


def _relative(path: str, root: str) -> str:
    from phlo_lakehouse.storage.listing import normalize_location

    file_path = normalize_location(path)[2]
    root_path = normalize_location(root)[2]
    return file_path[len(root_path) :].lstrip("/")


def read_footer(io: FileIO, path: str) -> pq.FileMetaData:
    """The Parquet footer of ``path``.

    Raises:
        InvalidInput: the file is not a Parquet file.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with io.new_input(path).open() as stream:
            return pq.read_metadata(stream)
    except (pa.ArrowInvalid, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise InvalidInput(
            f"{path} is not a readable Parquet file ({str(e).splitlines()[0][:120]})",
            hint="only Parquet tables migrate without rewriting data; remove stray files first",
        ) from e


class _SchemaCheck:
    """Checks footers against the table schema, once per distinct file schema, and records
    file column names that differ from the metastore's only in case (Hive lower-cases names,
    Spark keeps them in the files): those become name-mapping aliases."""

    def __init__(self, schema: Schema, format_version: int) -> None:
        self.schema = schema
        self.format_version = format_version
        self.by_lower = {f.name.lower(): f for f in schema.fields}
        self.aliases: dict[int, set[str]] = {}
        self._checked: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def problem(self, arrow_schema: pa.Schema) -> str | None:
        key = arrow_schema.to_string(show_field_metadata=False, show_schema_metadata=False)
        with self._lock:
            if key not in self._checked:
                self._checked[key] = self._compare(arrow_schema)
            return self._checked[key]

    def _compare(self, arrow_schema: pa.Schema) -> str | None:
        import pyarrow as pa
        from pyiceberg.exceptions import ResolveError
        from pyiceberg.io.pyarrow import UnsupportedPyArrowTypeException, pyarrow_to_schema
        from pyiceberg.schema import promote

        extra = [f.name for f in arrow_schema if f.name.lower() not in self.by_lower]
        if extra:
            return f"it has column(s) the table does not declare: {', '.join(extra)}"
        renamed = []
        for arrow_field in arrow_schema:
            field = self.by_lower[arrow_field.name.lower()]
            if arrow_field.name != field.name:
                self.aliases.setdefault(field.field_id, set()).add(arrow_field.name)
            renamed.append(arrow_field.with_name(field.name))
        try:
            provided = pyarrow_to_schema(
                pa.schema(renamed),
                name_mapping=self.schema.name_mapping,
                # Spark's INT96 timestamps read as ns; format 1 and 2 tables read them as us,
                # as PyIceberg's own scans do.
                downcast_ns_timestamp_to_us=self.format_version <= 2,
                format_version=self.format_version,  # type: ignore[arg-type]
            )
        except (TypeError, ValueError, UnsupportedPyArrowTypeException) as e:
            return f"its schema has no Iceberg equivalent ({str(e).splitlines()[0][:120]})"
        for field in provided.fields:
            wanted = self.schema.find_field(field.field_id)
            if field.field_type == wanted.field_type:
                continue
            if field.field_type.is_primitive and wanted.field_type.is_primitive:
                try:
                    promote(field.field_type, wanted.field_type)
                    continue
                except ResolveError:
                    pass
            elif type(field.field_type) is type(wanted.field_type):
                continue
            return (
                f"column {wanted.name!r} is {field.field_type} in the file, "
                f"{wanted.field_type} in the table"
            )
        return None


class _CaseInsensitivePaths(dict[str, int]):
    """Parquet column path → field id, matching paths whose top-level name differs in case."""

    def __missing__(self, key: str) -> int:
        head, _, rest = key.partition(".")
        for path, field_id in self.items():
            path_head, _, path_rest = path.partition(".")
            if path_head.lower() == head.lower() and path_rest == rest:
                return field_id
        raise KeyError(key)


@dataclass(frozen=True)
class ParquetImport:
    """The data files built from existing Parquet files, and the name mapping to read them.

    Attributes:
        data_files: one `DataFile` per source file, in the source order.
        name_mapping: the schema's name mapping plus the case variants the files use (JSON).
        records: total rows according to the footers.
    """

    data_files: list[DataFile]
    name_mapping: str
    records: int


def build_data_files(
    io: FileIO,
    schema: Schema,
    spec: PartitionSpec,
    files: Sequence[SourceFile],
    *,
    properties: dict[str, str] | None = None,
    format_version: int = 2,
    threads: int = FOOTER_THREADS,
) -> ParquetImport:
    """Iceberg `DataFile`s for ``files`` under ``spec`` (identity on the partition columns, in
    the order of each file's raw partition values), reading only the footers.

    Raises:
        InvalidInput: a file is not Parquet or its columns do not fit the table schema.
    """
    from pyiceberg.io.pyarrow import (
        MetricModeTypes,
        MetricsMode,
        compute_statistics_plan,
        data_file_statistics_from_parquet_metadata,
        parquet_path_to_id_mapping,
    )
    from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
    from pyiceberg.typedef import Record

    partition_types = [schema.find_field(f.source_id).field_type for f in spec.fields]
    stats_plan = compute_statistics_plan(schema, properties or {})
    column_mapping = _CaseInsensitivePaths(parquet_path_to_id_mapping(schema))
    check = _SchemaCheck(schema, format_version)

    def _stats_plan(footer: pq.FileMetaData) -> dict[int, Any]:
        """No min/max for INT96 columns (legacy Spark/Hive timestamps), as Iceberg's own
        importers do: PyIceberg has no statistics for that physical type."""
        int96 = [
            footer.schema.column(i).path
            for i in range(footer.num_columns)
            if footer.schema.column(i).physical_type == "INT96"
        ]
        if not int96:
            return stats_plan
        plan = dict(stats_plan)
        for path in int96:
            field_id = column_mapping[path]
            plan[field_id] = replace(plan[field_id], mode=MetricsMode(MetricModeTypes.NONE))
        return plan

    def _build(source: SourceFile) -> DataFile:
        footer = read_footer(io, source.path)
        problem = check.problem(footer.schema.to_arrow_schema())
        if problem:
            raise InvalidInput(
                f"{source.path} does not match the table schema: {problem}",
                hint="fix or remove that file, or align the metastore columns with the files",
            )
        statistics = data_file_statistics_from_parquet_metadata(
            parquet_metadata=footer,
            stats_columns=_stats_plan(footer),
            parquet_column_mapping=column_mapping,
        )
        values = [
            partition_value(raw, kind)
            for raw, kind in zip(source.partition, partition_types, strict=True)
        ]
        return DataFile.from_args(
            content=DataFileContent.DATA,
            file_path=source.path,
            file_format=FileFormat.PARQUET,
            partition=Record(*values),
            file_size_in_bytes=source.size,
            sort_order_id=None,
            spec_id=spec.spec_id,
            equality_ids=None,
            key_metadata=None,
            **statistics.to_serialized_dict(),
        )

    data_files: list[DataFile] = []
    if files:
        with ThreadPoolExecutor(max_workers=max(1, min(threads, len(files)))) as pool:
            data_files = list(pool.map(_build, files))
    return ParquetImport(
        data_files=data_files,
        name_mapping=_name_mapping_json(schema, check.aliases),
        records=sum(f.record_count for f in data_files),
    )


def _name_mapping_json(schema: Schema, aliases: dict[int, set[str]]) -> str:
    from pyiceberg.table.name_mapping import MappedField, NameMapping

    mapping = schema.name_mapping
    fields = [
        MappedField(
            field_id=f.field_id,
            names=[*f.names, *sorted(aliases.get(f.field_id or -1, set()) - set(f.names))],
            fields=f.fields,
        )
        for f in mapping.root
    ]
    return NameMapping(root=fields).model_dump_json()
