"""`ComputeTableStatsOperation`: NDV sketches per column in a Puffin statistics file, registered
with the snapshot — what Iceberg's ``compute_table_stats`` procedure does, without Spark.

Query engines plan joins and aggregations with these numbers: Spark reads the blobs' ``ndv``
property as column distinct counts, Trino reads and merges the sketches. The file holds one
``apache-datasketches-theta-v1`` blob per column (`puffin`), the snapshot's table metadata lists
it (``statistics``), replacing an earlier file for the same snapshot. Expire and vacuum keep a
statistics file as long as its snapshot lives.

Example:
    >>> op = ComputeTableStatsOperation(columns=["user_id", "kind"])
    >>> result = OperationExecutor(lakehouse).run(op, "demo.events")        # doctest: +SKIP
    >>> result.details["ndv"]                                              # doctest: +SKIP
    {'user_id': 50, 'kind': 3}
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import InvalidInput, NotFound
from phlo_lakehouse.operations.base import OperationPlan, OperationResult, TableOperation
from phlo_lakehouse.operations.format_support import check_format_support
from phlo_lakehouse.vocabulary import Arg, Phrase

if TYPE_CHECKING:
    from pyiceberg.schema import Schema
    from pyiceberg.table.snapshots import Snapshot

    from phlo_lakehouse.table import LakehouseTable


class ComputeTableStatsOperation(TableOperation):
    """Compute NDV theta sketches of columns and register them as the snapshot's statistics.

    Args:
        columns: top-level primitive columns (default: every top-level primitive column).
        snapshot_id: the snapshot to describe (default: the ref's head).

    Figures: ``columns``, ``rows`` (live rows of the snapshot, from its summary),
    ``data_files``, ``statistics_file_replaced`` (1 when the snapshot had statistics already).
    The result's details carry ``ndv`` per column and the statistics file's path.
    """

    name = "compute_table_stats"
    permission = "optimize"

    def __init__(
        self, *, columns: Sequence[str] | None = None, snapshot_id: int | None = None
    ) -> None:
        if isinstance(columns, str):
            raise InvalidInput(
                "columns must be a list of column names",
                hint=Phrase("e.g. {}", Arg("columns", [columns], group=self.name, flag="--column")),
            )
        if columns is not None and not columns:
            raise InvalidInput("columns is empty", hint="leave it out to describe every column")
        if snapshot_id is not None and (
            not isinstance(snapshot_id, int) or isinstance(snapshot_id, bool)
        ):
            raise InvalidInput(f"snapshot_id={snapshot_id!r} is not a snapshot id", hint="an int")
        self.columns = list(columns) if columns is not None else None
        self.snapshot_id = snapshot_id

    def settings(self) -> dict[str, Any]:
        return {"columns": self.columns, "snapshot_id": self.snapshot_id}

    def plan(self, table: LakehouseTable) -> OperationPlan:
        check_format_support(table, self.name)
        snapshot = self._snapshot(table)
        schemas = table.table.schemas()
        schema_id = snapshot.schema_id
        schema = schemas[schema_id] if schema_id in schemas else table.table.schema()
        columns = self._resolve_columns(table, schema)
        summary = snapshot.summary
        replaced = any(
            s.snapshot_id == snapshot.snapshot_id for s in table.table.metadata.statistics
        )
        figures = {
            "columns": len(columns),
            "rows": int(summary.get("total-records", 0)) if summary else 0,
            "data_files": int(summary.get("total-data-files", 0)) if summary else 0,
            "statistics_file_replaced": int(replaced),
        }
        details = {
            "snapshot_id": snapshot.snapshot_id,
            "sequence_number": snapshot.sequence_number,
            "columns": [{"name": n, "field_id": i} for n, i in columns],
        }
        return self._plan(table, figures, details)

    def execute(self, table: LakehouseTable, plan: OperationPlan) -> OperationResult:
        from pyiceberg.table.statistics import BlobMetadata, StatisticsFile
        from pyiceberg.table.update import SetStatisticsUpdate

        from phlo_lakehouse.errors import Conflict
        from phlo_lakehouse.operations.commit import commit_updates
        from phlo_lakehouse.operations.puffin import (
            NDV_PROPERTY,
            THETA_BLOB_TYPE,
            PuffinBlob,
            write_puffin,
        )
        from phlo_lakehouse.storage import delete_files

        snapshot_id = plan.details["snapshot_id"]
        columns = [(c["name"], c["field_id"]) for c in plan.details["columns"]]
        sketches = sketch_columns(table, snapshot_id, columns)
        blobs = [
            PuffinBlob(
                THETA_BLOB_TYPE,
                [field_id],
                snapshot_id,
                plan.details["sequence_number"],
                sketch.serialize(),
                {NDV_PROPERTY: str(int(sketch.estimate()))},
            )
            for (_, field_id), sketch in zip(columns, sketches, strict=True)
        ]
        path = table.table.location_provider().new_metadata_location(
            f"{snapshot_id}-{uuid.uuid4()}.stats"
        )
        written = write_puffin(table.table.io, path, blobs, created_by=_created_by())
        statistics = StatisticsFile(
            snapshot_id=snapshot_id,
            statistics_path=written.path,
            file_size_in_bytes=written.file_size_in_bytes,
            file_footer_size_in_bytes=written.footer_size_in_bytes,
            blob_metadata=[
                BlobMetadata(
                    type=b.type,
                    snapshot_id=b.snapshot_id,
                    sequence_number=b.sequence_number,
                    fields=b.fields,
                    properties=b.properties,
                )
                for b in blobs
            ],
        )
        try:
            commit_updates(table.table, [SetStatisticsUpdate(statistics=statistics)], [])
        except Conflict:
            delete_files(table.table.io, [written.path])  # proven not committed: ours to remove
            raise
        ndv = {name: int(s.estimate()) for (name, _), s in zip(columns, sketches, strict=True)}
        return OperationResult.applied(
            plan,
            snapshot_id_after=plan.snapshot_id,
            details={**plan.details, "ndv": ndv, "statistics_path": written.path},
        )

    def _snapshot(self, table: LakehouseTable) -> Snapshot:
        if self.snapshot_id is None:
            if table.snapshot is None:
                raise InvalidInput(
                    f"{table.identifier} has no snapshot to compute statistics for",
                    hint="write to the table first",
                )
            return table.snapshot
        snapshot = table.table.snapshot_by_id(self.snapshot_id)
        if snapshot is None:
            raise NotFound(
                f"snapshot {self.snapshot_id} not found in {table.identifier}",
                hint="list snapshots with `phlo-lakehouse snapshots list TABLE`",
            )
        return snapshot

    def _resolve_columns(self, table: LakehouseTable, schema: Schema) -> list[tuple[str, int]]:
        current_ids = {f.field_id for f in table.table.schema().fields}
        if self.columns is None:
            return [
                (f.name, f.field_id)
                for f in schema.fields
                if f.field_type.is_primitive and f.field_id in current_ids
            ]
        resolved = []
        top_level = {f.name: f for f in schema.fields}
        for name in self.columns:
            column = top_level.get(name)
            if column is None:
                raise InvalidInput(
                    f"unknown column {name!r} in {table.identifier}",
                    hint="columns: " + ", ".join(top_level),
                )
            if not column.field_type.is_primitive:
                raise InvalidInput(
                    f"column {name!r} has type {column.field_type}: NDV sketches need a "
                    "primitive column",
                    hint="pick top-level primitive columns",
                )
            if column.field_id not in current_ids:
                raise InvalidInput(
                    f"column {name!r} was dropped from {table.identifier} since the snapshot",
                    hint="describe columns the current schema still has",
                )
            resolved.append((name, column.field_id))
        return resolved


def sketch_columns(
    table: LakehouseTable, snapshot_id: int, columns: list[tuple[str, int]]
) -> list[Any]:
    """One `puffin.ColumnSketch` per column over the live rows of ``snapshot_id`` (position and
    equality deletes applied), read file by file."""
    from phlo_lakehouse.operations.delete_index import deletes_by_data_file
    from phlo_lakehouse.operations.live_files import live_files
    from phlo_lakehouse.operations.puffin import ColumnSketch
    from phlo_lakehouse.operations.read import read_group

    # read_group yields batches in the current schema's top-level field order
    position = {f.field_id: i for i, f in enumerate(table.table.schema().fields)}
    by_id = {f.field_id: f for f in table.table.schema().fields}
    sketches = [ColumnSketch(by_id[field_id].field_type) for _, field_id in columns]
    indexes = [position[field_id] for _, field_id in columns]
    live = live_files(table.table, table.table.snapshot_by_id(snapshot_id))
    for batch in read_group(table.table, live.data, deletes_by_data_file(live)):
        for sketch, index in zip(sketches, indexes, strict=True):
            sketch.update(batch.column(index))
    return sketches


def _created_by() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"phlo-lakehouse {version('phlo-lakehouse')}"
    except PackageNotFoundError:
        return "phlo-lakehouse"
