"""Writing rows into another partition spec: each batch split by the spec's partition values
(its transforms applied with PyIceberg's public ``Transform.pyarrow_transform``), one
`RollingDataFileWriter` per partition. Compaction uses it to rewrite files of an older spec into
the current one (or a given one) after partition evolution, as Spark's ``output-spec-id``.

Example:
    >>> with PartitionedWriter(table, spec_id=1, rows_per_file=10**6) as writer:  # doctest: +SKIP
    ...     writer.write(batch)
    >>> writer.data_files                                                     # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from phlo_lakehouse.metadata import partition_values
from phlo_lakehouse.operations.rewrite import FileWriting, RollingDataFileWriter

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table
    from pyiceberg.typedef import Record


def split_by_partition(
    table: Table, spec_id: int, rows: pa.RecordBatch
) -> list[tuple[Record, Any]]:
    """``rows`` (in the write schema) cut into (partition record, rows) of spec ``spec_id``."""
    import pyarrow as pa
    from pyiceberg.partitioning import PartitionFieldValue, PartitionKey
    from pyiceberg.schema import sanitize_column_names
    from pyiceberg.typedef import Record

    spec = table.metadata.specs()[spec_id]
    if not spec.fields:
        return [(Record(), rows)] if rows.num_rows else []
    schema = table.metadata.schema()
    names = sanitize_column_names(schema)
    flat = pa.Table.from_batches([rows]).flatten() if rows.num_rows else None
    if flat is None:
        return []
    keys = {}
    for i, field in enumerate(spec.fields):
        source = schema.find_field(field.source_id)
        column = flat.column(names.find_column_name(field.source_id))
        keys[f"__p{i}"] = field.transform.pyarrow_transform(source.field_type)(column)
    keyed = pa.table({**keys, "__row": pa.array(range(rows.num_rows), pa.int64())})
    groups = keyed.group_by(list(keys), use_threads=False).aggregate([("__row", "list")])
    parts = []
    for group in groups.to_pylist():
        key = PartitionKey(
            field_values=[
                PartitionFieldValue(field=field, value=group[f"__p{i}"])
                for i, field in enumerate(spec.fields)
            ],
            partition_spec=spec,
            schema=schema,
        )
        parts.append((key.partition, rows.take(pa.array(group["__row_list"], pa.int64()))))
    return parts


class PartitionedWriter(FileWriting):
    """Writes batches into files of spec ``spec_id``, one rolling writer per partition; the
    same interface as `RollingDataFileWriter` (``write``, ``write_all``, ``data_files``,
    ``written_paths``, ``abort``, a context manager)."""

    def __init__(
        self,
        table: Table,
        spec_id: int,
        *,
        rows_per_file: int,
        sort_order_id: int | None = None,
        lineage: bool = False,
    ) -> None:
        self.table = table
        self.lineage = lineage
        self.spec_id = spec_id
        self.rows_per_file = rows_per_file
        self.sort_order_id = sort_order_id
        self._writers: dict[tuple, RollingDataFileWriter] = {}

    def write(self, batch: pa.RecordBatch) -> None:
        for partition, rows in split_by_partition(self.table, self.spec_id, batch):
            key = partition_values(partition)
            if key not in self._writers:
                self._writers[key] = RollingDataFileWriter(
                    self.table,
                    self.spec_id,
                    partition,
                    rows_per_file=self.rows_per_file,
                    sort_order_id=self.sort_order_id,
                    lineage=self.lineage,
                )
            self._writers[key].write(rows)

    def close(self) -> list[DataFile]:
        for writer in self._writers.values():
            writer.close()
        return self.data_files

    def abort(self) -> None:
        for writer in self._writers.values():
            writer.abort()

    @property
    def data_files(self) -> list[DataFile]:
        return [f for w in self._writers.values() for f in w.data_files]

    @property
    def written_paths(self) -> list[str]:
        return [p for w in self._writers.values() for p in w.written_paths]
