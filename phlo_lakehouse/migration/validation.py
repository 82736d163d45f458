"""Validating a migration: row counts, schema equivalence, file set equality and checksums of
the rows of sampled files, read once through the source and once through the Iceberg table.

A source is anything with the `TableView` interface: an Iceberg table (`IcebergTableView`) or an
external Parquet table described by a metastore (`ExternalTableView`, partition values taken from
the metastore, as Hive and Spark read them).

Example:
    >>> report = compare_tables(source_view, IcebergTableView(table))  # doctest: +SKIP
    >>> report.passed, report.differences()  # doctest: +SKIP
    (False, ['row_count: source 120, target 119'])
"""

from __future__ import annotations

import hashlib
import io as _io
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.storage.listing import normalize_location

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.io import FileIO
    from pyiceberg.schema import Schema
    from pyiceberg.table import FileScanTask, Table

    from phlo_lakehouse.migration.datafiles import SourceFile


@dataclass(frozen=True)
class ValidationCheck:
    """One comparison: its name, whether it passed, both sides' values and what differs."""

    name: str
    passed: bool
    source: Any
    target: Any
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "source": self.source,
            "target": self.target,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class ValidationReport:
    """The checks of one migrated table.

    Example:
        >>> check = ValidationCheck("row_count", True, 3, 3)
        >>> ValidationReport("hive:db.t", "db.t", (check,)).passed
        True
    """

    source: str
    target: str
    checks: tuple[ValidationCheck, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return all(c.passed for c in self.checks)

    def differences(self) -> list[str]:
        """One line per failed check: what differs."""
        return [f"{c.name}: {c.detail}" for c in self.checks if not c.passed]

    def summary(self) -> str:
        """One line: passed, or what differs."""
        if self.passed:
            return f"{self.source} = {self.target}: " + ", ".join(c.name for c in self.checks)
        return f"{self.source} != {self.target}: " + "; ".join(self.differences())

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "passed": self.passed,
            "checks": [c.to_dict() for c in self.checks],
        }


class TableView(ABC):
    """A table as one engine reads it."""

    @property
    @abstractmethod
    def schema(self) -> Schema:
        """Its columns as an Iceberg schema."""

    @abstractmethod
    def files(self) -> Mapping[str, str]:
        """Normalized data-file location → location as the table records it."""

    @abstractmethod
    def row_count(self) -> int:
        """Number of rows."""

    @abstractmethod
    def read_file(self, path: str) -> pa.Table:
        """The rows of data file ``path`` (a key of `files`) with every schema column."""


class IcebergTableView(TableView):
    """An Iceberg table's current snapshot (no delete files expected after a migration)."""

    def __init__(self, table: Table) -> None:
        self.table = table

    @property
    def schema(self) -> Schema:
        return self.table.schema()

    @cached_property
    def _tasks(self) -> dict[str, FileScanTask]:
        tasks = self.table.scan().plan_files()
        return {_key(t.file.file_path): t for t in tasks}

    def files(self) -> Mapping[str, str]:
        return {key: task.file.file_path for key, task in self._tasks.items()}

    def row_count(self) -> int:
        return sum(t.file.record_count for t in self._tasks.values()) - sum(
            d.record_count for t in self._tasks.values() for d in t.delete_files
        )

    def read_file(self, path: str) -> pa.Table:
        from pyiceberg.expressions import AlwaysTrue
        from pyiceberg.io.pyarrow import ArrowScan

        scan = ArrowScan(self.table.metadata, self.table.io, self.schema, AlwaysTrue())
        return scan.to_table([self._tasks[path]])


class ExternalTableView(TableView):
    """Parquet files listed from a metastore's partitions; partition columns from the metastore.

    Args:
        io: reads the files.
        schema: the Iceberg schema the metastore's columns map to.
        partition_columns: names of the partition columns, in key order.
        files: the table's files (with their raw partition values).
    """

    def __init__(
        self,
        io: FileIO,
        schema: Schema,
        partition_columns: Sequence[str],
        files: Sequence[SourceFile],
    ) -> None:
        self.io = io
        self._schema = schema
        self.partition_columns = list(partition_columns)
        self._files = {_key(f.path): f for f in files}

    @property
    def schema(self) -> Schema:
        return self._schema

    def files(self) -> Mapping[str, str]:
        return {key: f.path for key, f in self._files.items()}

    def row_count(self) -> int:
        from concurrent.futures import ThreadPoolExecutor

        from phlo_lakehouse.migration.datafiles import FOOTER_THREADS, read_footer

        paths = [f.path for f in self._files.values()]
        if not paths:
            return 0
        with ThreadPoolExecutor(max_workers=min(FOOTER_THREADS, len(paths))) as pool:
            return sum(pool.map(lambda p: read_footer(self.io, p).num_rows, paths))

    def read_file(self, path: str) -> pa.Table:
        import pyarrow as pa
        import pyarrow.parquet as pq
        from pyiceberg.io.pyarrow import schema_to_pyarrow

        from phlo_lakehouse.migration.hive_schema import HIVE_NULL_PARTITION

        source = self._files[path]
        with self.io.new_input(source.path).open() as stream:
            raw = pq.read_table(stream)
        by_lower = {name.lower(): name for name in raw.column_names}
        partition = dict(zip(self.partition_columns, source.partition, strict=True))
        arrow_schema = schema_to_pyarrow(self._schema, include_field_ids=False)
        columns = []
        for arrow_field in arrow_schema:
            if arrow_field.name in partition:
                value = partition[arrow_field.name]
                value = None if value == HIVE_NULL_PARTITION else value
                column = pa.array([value] * raw.num_rows, pa.string())
            elif arrow_field.name.lower() in by_lower:
                column = raw.column(by_lower[arrow_field.name.lower()])
            else:
                column = pa.nulls(raw.num_rows, arrow_field.type)
            columns.append(column.cast(arrow_field.type))
        return pa.Table.from_arrays(columns, schema=arrow_schema)


def compare_tables(
    source: TableView,
    target: TableView,
    *,
    sample_files: int = 3,
    source_name: str = "source",
    target_name: str = "target",
) -> ValidationReport:
    """Compare ``target`` with ``source``: schema, files, row count, checksums of sampled files.

    Example:
        >>> compare_tables(view, view, source_name="a", target_name="a").passed  # doctest: +SKIP
        True
    """
    checks = [_schema_check(source.schema, target.schema)]
    source_files, target_files = source.files(), target.files()
    checks.append(_file_check(set(source_files), set(target_files)))
    source_rows, target_rows = source.row_count(), target.row_count()
    checks.append(
        ValidationCheck(
            "row_count",
            source_rows == target_rows,
            source_rows,
            target_rows,
            "" if source_rows == target_rows else f"source {source_rows}, target {target_rows}",
        )
    )
    common = sorted(set(source_files) & set(target_files))
    checks.append(_checksum_check(source, target, _sample(common, sample_files)))
    return ValidationReport(source_name, target_name, tuple(checks))


def _schema_check(source: Schema, target: Schema) -> ValidationCheck:
    left = [(f.name, str(f.field_type)) for f in source.fields]
    right = [(f.name, str(f.field_type)) for f in target.fields]
    if left == right:
        return ValidationCheck("schema", True, _columns(left), _columns(right))
    only_source = [f"{n} {t}" for n, t in left if (n, t) not in right]
    only_target = [f"{n} {t}" for n, t in right if (n, t) not in left]
    detail = (
        f"source only: {', '.join(only_source) or '-'}; "
        f"target only: {', '.join(only_target) or '-'}"
    )
    if not only_source and not only_target:
        detail = "same columns in a different order"
    return ValidationCheck("schema", False, _columns(left), _columns(right), detail)


def _columns(columns: list[tuple[str, str]]) -> str:
    return ", ".join(f"{n} {t}" for n, t in columns)


def _file_check(source: set[str], target: set[str]) -> ValidationCheck:
    missing, extra = sorted(source - target), sorted(target - source)
    detail = ""
    if missing or extra:
        detail = (
            f"{len(missing)} source file(s) not in the target "
            f"(e.g. {', '.join(missing[:2]) or '-'}), {len(extra)} target file(s) not in the "
            f"source (e.g. {', '.join(extra[:2]) or '-'})"
        )
    return ValidationCheck("files", not detail, len(source), len(target), detail)


def _sample(paths: list[str], count: int) -> list[str]:
    """Up to ``count`` paths spread evenly over the sorted list (deterministic)."""
    if count <= 0 or not paths:
        return []
    if len(paths) <= count:
        return paths
    step = len(paths) / count
    return [paths[int(i * step)] for i in range(count)]


def _checksum_check(source: TableView, target: TableView, sample: list[str]) -> ValidationCheck:
    differing = []
    sums: dict[str, list[str]] = {}
    for path in sample:
        left, right = rows_checksum(source.read_file(path)), rows_checksum(target.read_file(path))
        sums[path] = [left, right]
        if left != right:
            differing.append(path)
    detail = f"rows differ in {', '.join(differing)}" if differing else ""
    return ValidationCheck(
        "checksums",
        not differing,
        {p: s[0] for p, s in sums.items()},
        {p: s[1] for p, s in sums.items()},
        detail,
    )


def rows_checksum(table: pa.Table) -> str:
    """SHA-256 of the rows in a canonical form: types widened (large strings, int64, float64),
    rows sorted, written as CSV. Row order and Arrow layout do not change it.

    Example:
        >>> import pyarrow as pa
        >>> a = pa.table({"x": [2, 1], "s": ["b", "a"]})
        >>> rows_checksum(a) == rows_checksum(a.sort_by("x"))
        True
    """
    import pyarrow as pa
    import pyarrow.csv as csv

    columns, names = [], []
    for name, column in zip(table.column_names, table.columns, strict=True):
        kind = column.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            column = column.cast(pa.large_string())
        elif pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            column = column.cast(pa.large_binary())
        elif pa.types.is_integer(kind):
            column = column.cast(pa.int64())
        elif pa.types.is_floating(kind):
            column = column.cast(pa.float64())
        elif pa.types.is_nested(kind):
            values = [json.dumps(v, sort_keys=True, default=str) for v in column.to_pylist()]
            column = pa.chunked_array([pa.array(values, pa.large_string())])
        columns.append(column)
        names.append(name)
    canonical = pa.Table.from_arrays(columns, names=names)
    if canonical.num_rows and names:
        canonical = canonical.sort_by([(n, "ascending") for n in names])
    buffer = _io.BytesIO()
    csv.write_csv(canonical, buffer)
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def _key(path: str) -> str:
    scheme, authority, location = normalize_location(path)
    return f"{scheme}://{authority}{location}"
