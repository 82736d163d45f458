"""PyIceberg 0.12's private names, each behind one function of ours.

Example:
    >>> from phlo_lakehouse._upstream.pyiceberg import inclusive_metrics_evaluator
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog import Catalog
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.io import FileIO
    from pyiceberg.manifest import DataFile
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table, Transaction
    from pyiceberg.table.update import TableRequirement, TableUpdate
    from pyiceberg.table.update.schema import UpdateSchema


def do_commit(
    table: Table, updates: Sequence[TableUpdate], requirements: Sequence[TableRequirement]
) -> None:
    """Commit ``updates`` under ``requirements`` with ``Table._do_commit``, the call every
    PyIceberg transaction ends in (there is no public commit of hand-built updates); the table
    object is refreshed in place. On a format v3 table a client-side catalog writes the new
    metadata file with our v3 writer (`metadata_v3.v3_metadata_writes`)."""
    if table.metadata.format_version < 3:
        table._do_commit(updates=tuple(updates), requirements=tuple(requirements))  # noqa: SLF001
        return
    from phlo_lakehouse._upstream.metadata_v3 import v3_metadata_writes

    with v3_metadata_writes(table.catalog):
        table._do_commit(updates=tuple(updates), requirements=tuple(requirements))  # noqa: SLF001


def remove_snapshots_update(snapshot_ids: Sequence[int]) -> TableUpdate:
    """A ``RemoveSnapshotsUpdate`` that catalogs applying updates locally apply in linear time.

    PyIceberg 0.12 checks each removed id against every snapshot and each snapshot against the
    list of removed ids: quadratic, seconds for a few thousand snapshots. This subclass carries
    the same fields (REST catalogs receive the same request) and is applied by an equivalent
    handler with sets.
    """
    return _remove_snapshots_class()(snapshot_ids=list(snapshot_ids))


@cache
def _remove_snapshots_class() -> type:
    import itertools

    from pyiceberg.table.update import (
        RemoveSnapshotRefUpdate,
        RemoveSnapshotsUpdate,
        RemoveStatisticsUpdate,
        _apply_table_update,
    )

    class _RemoveSnapshots(RemoveSnapshotsUpdate):
        pass

    @_apply_table_update.register(_RemoveSnapshots)
    def _apply(update, base_metadata, context):
        removed = set(update.snapshot_ids)
        missing = removed - {s.snapshot_id for s in base_metadata.snapshots}
        if missing:
            raise ValueError(f"Snapshot with snapshot id {min(missing)} does not exist")
        snapshots = [
            s.model_copy(update={"parent_snapshot_id": None})
            if s.parent_snapshot_id in removed
            else s
            for s in base_metadata.snapshots
            if s.snapshot_id not in removed
        ]
        snapshot_log = [e for e in base_metadata.snapshot_log if e.snapshot_id not in removed]
        side_updates: Iterator[TableUpdate] = itertools.chain(
            (
                RemoveSnapshotRefUpdate(ref_name=name)
                for name, ref in base_metadata.refs.items()
                if ref.snapshot_id in removed
            ),
            (
                RemoveStatisticsUpdate(snapshot_id=stats.snapshot_id)
                for stats in base_metadata.statistics
                if stats.snapshot_id in removed
            ),
        )
        metadata = base_metadata
        for side_update in side_updates:
            metadata = _apply_table_update(side_update, metadata, context)
        context.add_update(update)
        return metadata.model_copy(update={"snapshots": snapshots, "snapshot_log": snapshot_log})

    return _RemoveSnapshots


def staged_changes(
    transaction: Transaction,
) -> tuple[Table, tuple[TableUpdate, ...], tuple[TableRequirement, ...]]:
    """The table, updates and requirements a ``Transaction`` staged (``_table``, ``_updates``,
    ``_requirements``: its builders stage there; only its own ``commit_transaction`` reads
    them), so that we commit them under our commit-outcome rule."""
    return (
        transaction._table,  # noqa: SLF001
        tuple(transaction._updates),  # noqa: SLF001
        tuple(transaction._requirements),  # noqa: SLF001
    )


def inclusive_metrics_evaluator(
    schema: Schema, expr: BooleanExpression, case_sensitive: bool = True
) -> Callable[[DataFile], bool]:
    """PyIceberg's ``_InclusiveMetricsEvaluator``: False when a data file's column metrics
    prove no row can match ``expr`` (what planning uses; it has no public constructor)."""
    from pyiceberg.expressions.visitors import _InclusiveMetricsEvaluator

    return _InclusiveMetricsEvaluator(schema, expr, case_sensitive).eval


def to_requested_schema(
    requested_schema: Schema,
    file_schema: Schema,
    batch: pa.RecordBatch,
    *,
    include_field_ids: bool,
    format_model: Any,
) -> pa.RecordBatch:
    """PyIceberg's ``_to_requested_schema``: a batch read with ``file_schema`` projected onto
    ``requested_schema`` (renames, promotions, missing columns), as its scans do."""
    from pyiceberg.io.pyarrow import _to_requested_schema

    return _to_requested_schema(
        requested_schema=requested_schema,
        file_schema=file_schema,
        batch=batch,
        include_field_ids=include_field_ids,
        format_model=format_model,
    )


def metastore_table_location(catalog: Catalog, namespace: str, name: str) -> str | None:
    """Where a metastore-backed catalog (SQL, Glue, Hive) puts a new table when none is given:
    ``MetastoreCatalog._resolve_table_location``, what its ``create_table`` calls. None for
    other catalogs (REST catalogs decide on the server)."""
    from pyiceberg.catalog import MetastoreCatalog

    if not isinstance(catalog, MetastoreCatalog):
        return None
    return catalog._resolve_table_location(None, namespace, name)  # noqa: SLF001


def preview_schema_update(update: UpdateSchema) -> Schema:
    """The schema ``update`` would commit (``UpdateSchema._apply``), validated, uncommitted."""
    return update._apply()  # noqa: SLF001


def deleted_positions(io: FileIO, delete_file: DataFile) -> dict[str, pa.ChunkedArray]:
    """The positions a position delete file (Parquet, ORC) or a Puffin file of deletion
    vectors deletes, by referenced data file path: PyIceberg's ``_read_deletes``, which its
    scans apply (there is no public reader of deletion vectors)."""
    from pyiceberg.io.pyarrow import _read_deletes

    return _read_deletes(io, delete_file)
