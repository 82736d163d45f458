"""`DataRetentionOperation`: delete the rows older than a retention on a timestamp or date column.

What Amoro's ``data-expire`` and S3 Tables' record expiration do, planned from metadata first:

- a data file whose rows are all old — its partition range (identity, year, month, day or hour of
  the column) or its column upper bound proves it, and it holds no null in the column — is
  dropped without being read (metadata only);
- a file whose column range straddles the cutoff is a boundary file: planning reads it to count
  its old live rows, execution rewrites it without them (copy-on-write);
- every other file is untouched. Rows whose column is null are never old.

On format v3 the rows kept from a boundary file are written with their row lineage
(``_row_id``, ``_last_updated_sequence_number``: `operations.lineage`), and the deletion vectors
of the files removed leave with them, entry by entry (the replace producer's unused-delete rule).

One commit through the shared replace producer, labelled ``delete`` (files dropped only) or
``overwrite`` (boundary files rewritten): it re-checks on every attempt that each removed file is
still live and that no delete committed meanwhile applies to one, and rebuilds on the current head,
so rows appended concurrently are kept whatever their age. The dry run reports exactly the rows,
files and partitions the real run removes.

Example:
    >>> op = DataRetentionOperation(column="event_time", retention="365d")
    >>> OperationExecutor(lakehouse).run(op, "raw.events", dry_run=True).figures  # doctest: +SKIP
    {'rows_to_delete': 1200, 'files_to_drop': 4, 'files_to_rewrite': 1, ...}
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.operations.base import OperationPlan, OperationResult, TableOperation
from phlo_lakehouse.operations.format_support import check_format_support
from phlo_lakehouse.units import parse_duration
from phlo_lakehouse.vocabulary import Arg, Phrase

if TYPE_CHECKING:
    from pyiceberg.types import NestedField

    from phlo_lakehouse.operations.live_files import LiveFile
    from phlo_lakehouse.table import LakehouseTable

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Iceberg time units per transform, for partition ranges.
_PARTITION_UNITS = {"year", "month", "day", "hour", "identity"}


class DataRetentionOperation(TableOperation):
    """Delete rows whose ``column`` is older than ``retention`` (before now - retention).

    Args:
        column: a top-level ``timestamp``, ``timestamptz``, ``timestamp_ns`` or ``date`` column.
        retention: how long rows are kept, e.g. "90d", "P1Y" is not accepted (use "365d"),
            seconds or a timedelta; must be positive.
        now: the reference time (default: the time of planning), for reproducible runs.

    Figures: ``rows_to_delete``, ``files_to_drop`` (metadata only), ``files_to_rewrite``
    (boundary files), ``partitions_to_drop`` (every live file of the partition dropped),
    ``bytes_to_drop``.
    """

    name = "data_retention"
    permission = "write"

    def __init__(
        self,
        *,
        column: str,
        retention: str | int | float | timedelta,
        now: datetime | None = None,
    ) -> None:
        if not isinstance(column, str) or not column.strip():
            raise InvalidInput(
                "column must be a column name",
                hint=Phrase("e.g. {}", Arg("column", "event_time", group=self.name)),
            )
        self.column = column
        self.retention = parse_duration(retention, name="retention")
        if self.retention <= timedelta(0):
            raise InvalidInput(
                f"retention={retention!r} must be positive: it would delete every row",
                hint=Phrase(
                    "e.g. {}", Arg("retention", "90d", group=self.name, flag="--older-than")
                ),
            )
        if now is not None and now.tzinfo is None:
            raise InvalidInput("now must be timezone-aware", hint="e.g. datetime.now(UTC)")
        self.now = now

    def settings(self) -> dict[str, Any]:
        return {"column": self.column, "retention_seconds": self.retention.total_seconds()}

    def plan(self, table: LakehouseTable) -> OperationPlan:
        from phlo_lakehouse.operations.delete_index import deletes_by_data_file
        from phlo_lakehouse.operations.live_files import live_files

        if table.ref_kind != "branch":
            raise InvalidInput(
                f"{table.ref!r} is a tag; rows are deleted on branches", hint="use a branch"
            )
        field = self._field(table)
        check_format_support(table, self.name)
        cutoff = (self.now or datetime.now(UTC)) - self.retention
        bound = _cutoff_value(field, cutoff)
        live = live_files(table.table, table.snapshot)
        deletes = deletes_by_data_file(live)
        drop, boundary = [], []
        for data in live.data:
            verdict = _classify(table, data, field, bound)
            if verdict == "old":
                drop.append(data)
            elif verdict == "straddles":
                boundary.append(data)
        counts = _old_rows(table, field, bound, drop, boundary, deletes)
        rewrite = [f for f in boundary if counts[f.path] > 0]
        by_partition: dict[tuple, int] = {}
        for data in live.data:
            by_partition[data.partition_key] = by_partition.get(data.partition_key, 0) + 1
        dropped_per_partition: dict[tuple, int] = {}
        for data in drop:
            key = data.partition_key
            dropped_per_partition[key] = dropped_per_partition.get(key, 0) + 1
        figures = {
            "rows_to_delete": sum(counts[f.path] for f in drop + rewrite),
            "files_to_drop": len(drop),
            "files_to_rewrite": len(rewrite),
            "partitions_to_drop": sum(
                1 for key, n in dropped_per_partition.items() if n == by_partition[key]
            ),
            "bytes_to_drop": sum(f.data_file.file_size_in_bytes for f in drop),
        }
        details = {
            "column": field.name,
            "field_id": field.field_id,
            "cutoff": cutoff.isoformat(),
            "files_to_drop": sorted(f.path for f in drop),
            "files_to_rewrite": sorted(f.path for f in rewrite),
        }
        return self._plan(table, figures, details)

    def execute(self, table: LakehouseTable, plan: OperationPlan) -> OperationResult:
        from phlo_lakehouse.operations.delete_index import deletes_by_data_file
        from phlo_lakehouse.operations.live_files import live_files
        from phlo_lakehouse.operations.replace import ReplaceFiles
        from phlo_lakehouse.storage import delete_files

        drop, rewrite = set(plan.details["files_to_drop"]), set(plan.details["files_to_rewrite"])
        if not drop and not rewrite:
            return OperationResult.applied(plan, committed=False)
        snapshot_id = plan.snapshot_id
        snapshot = table.table.snapshot_by_id(snapshot_id) if snapshot_id is not None else None
        live = live_files(table.table, snapshot)
        deletes = deletes_by_data_file(live)
        field = table.table.schema().find_field(plan.details["field_id"])
        bound = _cutoff_value(field, datetime.fromisoformat(plan.details["cutoff"]))
        removed = [f for f in live.data if f.path in drop | rewrite]
        added, written = [], []
        commit_sent = False
        try:
            for data in (f for f in live.data if f.path in rewrite):
                files, paths = _rewrite_without_old_rows(table, data, field, bound, deletes)
                added += files
                written += paths
            commit_sent = True
            outcome = ReplaceFiles(
                table.table,
                table.table_ref,
                starting_snapshot_id=plan.snapshot_id,
                removed=removed,
                added=added,
                operation="overwrite" if added else "delete",
                summary={"phlo-lakehouse.operation": self.name},
                known_entries=live.entries,
            ).commit()
        except BaseException as error:
            from phlo_lakehouse.outcome import may_clean_up

            if may_clean_up(error, commit_sent=commit_sent):
                delete_files(table.table.io, written)  # provably not committed: ours to remove
            raise
        return OperationResult.applied(
            plan,
            snapshot_id_after=outcome.snapshot.snapshot_id,
            details={**plan.details, "files_written": sorted(f.file_path for f in added)},
            attempts=outcome.attempts,
        )

    def _field(self, table: LakehouseTable) -> NestedField:
        schema = table.table.schema()
        top_level = {f.name: f for f in schema.fields}
        field = top_level.get(self.column)
        if field is None:
            raise InvalidInput(
                f"unknown column {self.column!r} in {table.identifier}",
                hint="columns: " + ", ".join(top_level),
            )
        if not _is_temporal(field):
            raise InvalidInput(
                f"column {self.column!r} has type {field.field_type}: retention needs a "
                "timestamp or date column",
                hint="pick a timestamp, timestamptz or date column",
            )
        return field


def _is_temporal(field: NestedField) -> bool:
    name = str(field.field_type)
    return name == "date" or name.startswith("timestamp")


def _nanos(field: NestedField) -> bool:
    return str(field.field_type).startswith("timestamp_ns")


def _cutoff_value(field: NestedField, cutoff: datetime) -> int:
    """The cutoff in the column's physical unit: days for dates (rows before the cutoff's day),
    micro- or nanoseconds since the epoch for timestamps (UTC for both kinds)."""
    if str(field.field_type) == "date":
        return (cutoff.astimezone(UTC).date() - date(1970, 1, 1)).days
    delta = cutoff.astimezone(UTC) - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return micros * 1000 if _nanos(field) else micros


def _classify(table: LakehouseTable, data: LiveFile, field: NestedField, bound: int) -> str:
    """ "old" (every row older than ``bound``), "young" (none) or "straddles" (read to know)."""
    file = data.data_file
    nulls = (file.null_value_counts or {}).get(field.field_id)
    upper_of_partition = _partition_upper(table, data, field)
    if upper_of_partition is not None and upper_of_partition <= bound and nulls == 0:
        return "old"
    lower = (file.lower_bounds or {}).get(field.field_id)
    upper = (file.upper_bounds or {}).get(field.field_id)
    if (file.value_counts or {}).get(field.field_id) == nulls and nulls is not None:
        return "young"  # only nulls: never old
    if lower is None or upper is None:
        return "straddles"
    low, high = _stored_value(field, lower), _stored_value(field, upper)
    if high < bound and nulls == 0:
        return "old"
    if low >= bound:
        return "young"
    return "straddles"


def _stored_value(field: NestedField, raw: bytes) -> int:
    """A bound of a date or timestamp column as stored: days, micro- or nanoseconds."""
    from pyiceberg.conversions import from_bytes
    from pyiceberg.types import PrimitiveType

    kind = field.field_type
    value: object = from_bytes(kind, raw) if isinstance(kind, PrimitiveType) else None
    if not isinstance(value, int):
        raise TypeError(f"column {field.name!r} is not a date or timestamp column")
    return value


def _partition_upper(table: LakehouseTable, data: LiveFile, field: NestedField) -> int | None:
    """The exclusive upper end of the file's partition range in the column's unit, when the
    partition spec has a time transform of the column; else None."""
    spec = table.table.metadata.specs()[data.spec_id]
    for position, partition_field in enumerate(spec.fields):
        transform = str(partition_field.transform)
        if partition_field.source_id != field.field_id or transform not in _PARTITION_UNITS:
            continue
        value = data.data_file.partition[position]
        if value is None:
            return None
        if transform == "identity":
            return value + 1
        return _range_end(transform, value, field)
    return None


def _range_end(transform: str, value: int, field: NestedField) -> int:
    """Start of the partition after ``value`` of a year/month/day/hour transform."""
    if transform in ("year", "month"):
        months = value * 12 + 12 if transform == "year" else value + 1
        end = datetime(1970 + months // 12, months % 12 + 1, 1, tzinfo=UTC)
    elif transform == "day":
        end = _EPOCH + timedelta(days=value + 1)
    else:
        end = _EPOCH + timedelta(hours=value + 1)
    if str(field.field_type) == "date":
        return (end.date() - date(1970, 1, 1)).days
    return _cutoff_value(field, end)


def _old_rows(table, field, bound, drop, boundary, deletes) -> dict[str, int]:
    """Old live rows per file: a dropped file's record count when no delete applies to it, else
    counted from its live rows (deletes applied), like every boundary file."""
    position = _column_position(table, field.field_id)
    counts = {f.path: f.data_file.record_count for f in drop if not deletes.get(f.path)}
    for data in [f for f in drop if f.path not in counts] + boundary:
        counts[data.path] = sum(
            len(batch) - _keep_mask(batch, position, bound).true_count
            for batch in _live_rows(table, data, deletes)
        )
    return counts


def _live_rows(table: LakehouseTable, data: LiveFile, deletes: dict[str, list]):
    from phlo_lakehouse.operations.read import read_group

    return read_group(table.table, [data], {data.path: deletes.get(data.path, [])})


def _keep_mask(batch, position: int, bound: int):
    """True for rows to keep: the column is null or not older than ``bound``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = batch.column(position)
    physical = column.cast(pa.int32()) if pa.types.is_date32(column.type) else column
    values = physical.cast(pa.int64())
    return pc.fill_null(pc.greater_equal(values, pa.scalar(bound, pa.int64())), True)


def _column_position(table: LakehouseTable, field_id: int) -> int:
    """The column's index in `read.read_group`'s batches (the current schema's top-level order)."""
    return [f.field_id for f in table.table.schema().fields].index(field_id)


def _rewrite_without_old_rows(table, data, field, bound, deletes):
    """Write ``data``'s live rows that are not old into new files of its partition; on format
    v3 each with its ``_row_id`` and ``_last_updated_sequence_number`` (`operations.lineage`,
    as compaction writes them), so the rows kept keep their lineage."""
    from phlo_lakehouse.operations.rewrite import RollingDataFileWriter

    position = _column_position(table, field.field_id)
    lineage = table.table.metadata.format_version >= 3
    writer = RollingDataFileWriter(
        table.table,
        data.spec_id,
        data.data_file.partition,
        rows_per_file=max(1, data.data_file.record_count),
        lineage=lineage,
    )
    if lineage:
        from phlo_lakehouse.operations.lineage import read_lineage_group

        batches = read_lineage_group(table.table, [data], {data.path: deletes.get(data.path, [])})
    else:
        batches = _live_rows(table, data, deletes)
    with writer:
        for batch in batches:
            kept = batch.filter(_keep_mask(batch, position, bound))
            if kept.num_rows:
                writer.write(kept)
    return writer.data_files, writer.written_paths
