"""`SnapshotManager`: list and read a table's snapshots, travel in time, and manage branches
and tags — every change a `TableOperation` run through ``lakehouse.run`` (access checks, dry
run, conflict retries, audit).

Refs follow the catalog: on Nessie they are catalog-wide Nessie references (a rollback assigns
the branch to an older commit; see `phlo_lakehouse.operations.snapshot_ops`), elsewhere Iceberg
table refs in the table's metadata. On Nessie, a table's metadata holds only its current
snapshot, so the history comes from Nessie's commit log: `list_snapshots` reads one metadata
file per state, and parents are the previous state's snapshot on that reference.

Maintenance on Nessie: `expire_snapshots` with ``delete_files=True`` refuses (other references
and older commits may still need the files); ``delete_files=False`` is safe. File deletion is
Nessie GC's job.

Time-travel reads return the rows with the schema the snapshot was written with (old column
names), as Iceberg engines do.

Example:
    >>> snapshots = SnapshotManager(lakehouse)                              # doctest: +SKIP
    >>> first = snapshots.list_snapshots("raw.events")[-1].snapshot_id      # doctest: +SKIP
    >>> snapshots.create_tag("raw.events", "v1", snapshot_id=first)        # doctest: +SKIP
    >>> snapshots.read("raw.events", tag="v1").num_rows                     # doctest: +SKIP
    500
    >>> snapshots.rollback_to_snapshot("raw.events", first, dry_run=True).figures  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.identifiers import TableIdentifier
from phlo_lakehouse.operations.snapshot_state import (
    SnapshotInfo,
    current_snapshot,
    nessie_history,
    nessie_read,
    require_snapshot,
    snapshot_as_of,
    snapshot_info,
    table_at,
    to_millis,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from phlo_lakehouse.lakehouse import IcebergLakehouse
    from phlo_lakehouse.operations.base import OperationResult, TableOperation

TableName = str | TableIdentifier
Duration = str | int | timedelta | None


class SnapshotManager:
    """Snapshots, refs and time travel for the tables of one lakehouse.

    Args:
        lakehouse: the `IcebergLakehouse` whose tables are managed.
        run: the runner for operations (default ``lakehouse.run``); the Dagster resource passes
            its own so metrics are pushed.

    Example:
        >>> from phlo_lakehouse import CatalogSettings, IcebergLakehouse
        >>> manager = SnapshotManager(IcebergLakehouse(CatalogSettings.embedded("/tmp/doc")))
        >>> manager.list_snapshots("demo.events")                   # doctest: +SKIP
    """

    def __init__(
        self, lakehouse: IcebergLakehouse, *, run: Callable[..., OperationResult] | None = None
    ) -> None:
        self.lakehouse = lakehouse
        self._run = run or lakehouse.run

    # -- reads -----------------------------------------------------------------------------

    def list_snapshots(self, table: TableName, ref: str | None = None) -> list[SnapshotInfo]:
        """Snapshots, newest first: every snapshot of the table when ``ref`` is None, else the
        history of ``ref`` (Nessie: always the reference's history, default ``main``).

        Example:
            >>> [s.operation for s in manager.list_snapshots("raw.events", "dev")]  # doctest: +SKIP
            ['append', 'append']
        """
        handle = self.lakehouse.get_table(table, ref)
        if handle.nessie:
            return nessie_history(self.lakehouse.nessie, handle)
        from pyiceberg.table.snapshots import ancestors_of

        metadata = handle.table.metadata
        if ref is None:
            snapshots = sorted(metadata.snapshots, key=lambda s: s.timestamp_ms, reverse=True)
        else:
            snapshots = list(ancestors_of(handle.snapshot, metadata))
        by_snapshot: dict[int, list[str]] = {}
        for name, snapshot_ref in sorted(metadata.refs.items()):
            by_snapshot.setdefault(snapshot_ref.snapshot_id, []).append(name)
        return [snapshot_info(s, tuple(by_snapshot.get(s.snapshot_id, ()))) for s in snapshots]

    def get_snapshot(
        self, table: TableName, snapshot_id: int, ref: str | None = None
    ) -> SnapshotInfo:
        """One snapshot (on Nessie: from ``ref``'s history, else any reference's).

        Raises:
            SnapshotNotFound: no such snapshot.
        """
        handle = self.lakehouse.get_table(table, ref)
        if not handle.nessie:
            snapshot = require_snapshot(handle.table, snapshot_id)
            names = sorted(
                n for n, r in handle.table.metadata.refs.items() if r.snapshot_id == snapshot_id
            )
            return snapshot_info(snapshot, tuple(names))
        for info in nessie_history(self.lakehouse.nessie, handle):
            if info.snapshot_id == snapshot_id:
                return info
        _, state = self.lakehouse.nessie.find_table_state(handle.identifier, snapshot_id)
        snapshot = current_snapshot(table_at(handle, state.metadata_location))
        return snapshot_info(snapshot, (), None, state.commit.hash, state.metadata_location)

    def read(
        self,
        table: TableName,
        *,
        snapshot_id: int | None = None,
        as_of: datetime | int | str | None = None,
        tag: str | None = None,
        ref: str | None = None,
        **scan: Any,
    ) -> pa.Table:
        """Rows of the table at a snapshot, at a time, or at a tag (one of them; none: ``ref``'s
        head), as Arrow. Extra keyword arguments (``row_filter``, ``selected_fields``,
        ``limit``) go to the scan.

        Raises:
            InvalidInput: more than one of ``snapshot_id``, ``as_of`` and ``tag``.
            SnapshotNotFound, RefNotFound: nothing at that point.

        Example:
            >>> manager.read("raw.events", as_of="2026-01-31T00:00Z").num_rows   # doctest: +SKIP
        """
        if sum(x is not None for x in (snapshot_id, as_of, tag)) > 1:
            raise InvalidInput(
                "read takes at most one of snapshot_id, as_of and tag",
                hint="time travel to one point",
            )
        handle = self.lakehouse.get_table(table, tag or ref)
        if snapshot_id is None and as_of is None:
            if handle.table_ref == "main":  # the head of main reads with the current schema
                return handle.table.scan(**scan).to_arrow()
            return handle.to_arrow(**scan)
        if handle.nessie:
            return nessie_read(self.lakehouse.nessie, handle, snapshot_id, as_of, scan)
        if snapshot_id is not None:
            require_snapshot(handle.table, snapshot_id)
            return handle.table.scan(snapshot_id=snapshot_id, **scan).to_arrow()
        millis = to_millis(as_of, name="as_of")  # type: ignore[arg-type]
        snapshot = snapshot_as_of(handle, millis)
        return handle.table.scan(snapshot_id=snapshot.snapshot_id, **scan).to_arrow()

    # -- changes: each a TableOperation through lakehouse.run ---------------------------------

    def expire_snapshots(
        self, table: TableName, ref: str | None = None, *, dry_run: bool = False, **kwargs: Any
    ) -> OperationResult:
        """Expire old snapshots (`ExpireSnapshotsOperation`; on Nessie pass
        ``delete_files=False``)."""
        from phlo_lakehouse.operations.expire import ExpireSnapshotsOperation

        return self._run(ExpireSnapshotsOperation(**kwargs), table, ref, dry_run=dry_run)

    def rollback_to_snapshot(
        self,
        table: TableName,
        snapshot_id: int,
        *,
        ref: str | None = None,
        dry_run: bool = False,
        allow_other_tables: bool = False,
    ) -> OperationResult:
        """Move branch ``ref`` back to its ancestor ``snapshot_id`` (Nessie: to the newest commit
        with it; refuses if other tables would change unless ``allow_other_tables``)."""
        from phlo_lakehouse.operations.snapshot_ops import RollbackOperation

        op = RollbackOperation(
            snapshot_id, allow_other_tables=allow_other_tables, nessie=self._nessie
        )
        return self._run(op, table, ref, dry_run=dry_run)

    def rollback_to_timestamp(
        self,
        table: TableName,
        timestamp: datetime | int | str,
        *,
        ref: str | None = None,
        dry_run: bool = False,
        allow_other_tables: bool = False,
    ) -> OperationResult:
        """Move branch ``ref`` back to its latest ancestor older than ``timestamp``."""
        from phlo_lakehouse.operations.snapshot_ops import RollbackOperation

        op = RollbackOperation(
            timestamp=timestamp, allow_other_tables=allow_other_tables, nessie=self._nessie
        )
        return self._run(op, table, ref, dry_run=dry_run)

    def set_current_snapshot(
        self,
        table: TableName,
        snapshot_id: int,
        *,
        ref: str | None = None,
        dry_run: bool = False,
        allow_other_tables: bool = False,
    ) -> OperationResult:
        """Point branch ``ref`` at any snapshot of the table, ancestor or not."""
        from phlo_lakehouse.operations.snapshot_ops import SetCurrentSnapshotOperation

        op = SetCurrentSnapshotOperation(
            snapshot_id, allow_other_tables=allow_other_tables, nessie=self._nessie
        )
        return self._run(op, table, ref, dry_run=dry_run)

    def create_tag(
        self,
        table: TableName,
        name: str,
        *,
        snapshot_id: int | None = None,
        ref: str | None = None,
        max_ref_age: Duration = None,
        dry_run: bool = False,
    ) -> OperationResult:
        """Tag ``snapshot_id`` (default: ``ref``'s head); ``max_ref_age`` like "30d".

        Example:
            >>> result = manager.create_tag("raw.events", "v1", max_ref_age="30d")  # doctest: +SKIP
        """
        from phlo_lakehouse.operations.ref_ops import CreateRefOperation

        op = CreateRefOperation(
            name, kind="tag", snapshot_id=snapshot_id, max_ref_age=max_ref_age, nessie=self._nessie
        )
        return self._run(op, table, ref, dry_run=dry_run)

    def create_branch(
        self,
        table: TableName,
        name: str,
        *,
        snapshot_id: int | None = None,
        ref: str | None = None,
        max_ref_age: Duration = None,
        max_snapshot_age: Duration = None,
        min_snapshots_to_keep: int | None = None,
        dry_run: bool = False,
    ) -> OperationResult:
        """Branch at ``snapshot_id`` (default: ``ref``'s head) with optional retention
        ("7d", "P7D", seconds) that `ExpireSnapshotsOperation` honours."""
        from phlo_lakehouse.operations.ref_ops import CreateRefOperation

        op = CreateRefOperation(
            name,
            kind="branch",
            snapshot_id=snapshot_id,
            max_ref_age=max_ref_age,
            max_snapshot_age=max_snapshot_age,
            min_snapshots_to_keep=min_snapshots_to_keep,
            nessie=self._nessie,
        )
        return self._run(op, table, ref, dry_run=dry_run)

    def remove_ref(
        self, table: TableName, name: str, *, ref: str | None = None, dry_run: bool = False
    ) -> OperationResult:
        """Remove branch or tag ``name`` (on Nessie: the catalog-wide reference). The table is
        resolved on ``ref`` (default: ``main``; on Nessie, ``name`` itself)."""
        from phlo_lakehouse.operations.ref_ops import RemoveRefOperation

        op = RemoveRefOperation(name, nessie=self._nessie)
        where = ref or (name if self.lakehouse.is_nessie else None)
        return self._run(op, table, where, dry_run=dry_run)

    def fast_forward(
        self, table: TableName, branch: str, to: str, *, dry_run: bool = False
    ) -> OperationResult:
        """Move ``branch`` to the head of ``to`` (its head must be an ancestor of it)."""
        from phlo_lakehouse.operations.ref_ops import FastForwardOperation

        op = FastForwardOperation(to, nessie=self._nessie)
        return self._run(op, table, branch, dry_run=dry_run)

    def cherry_pick(
        self,
        table: TableName,
        snapshot_id: int,
        *,
        onto: str = "main",
        source_ref: str | None = None,
        dry_run: bool = False,
    ) -> OperationResult:
        """Re-apply append snapshot ``snapshot_id`` on branch ``onto`` as a new snapshot."""
        from phlo_lakehouse.operations.cherry_pick import CherryPickOperation

        op = CherryPickOperation(snapshot_id, source_ref=source_ref, nessie=self._nessie)
        return self._run(op, table, onto, dry_run=dry_run)

    def run(
        self, op: TableOperation, table: TableName, ref: str | None = None, **kw: Any
    ) -> OperationResult:
        """Run any operation through the same runner."""
        return self._run(op, table, ref, **kw)

    @property
    def _nessie(self) -> Any:
        return self.lakehouse.nessie if self.lakehouse.is_nessie else None


__all__ = ["SnapshotInfo", "SnapshotManager", "to_millis"]
