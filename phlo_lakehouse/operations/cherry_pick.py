"""`CherryPickOperation`: re-apply an append snapshot onto a branch, and the helpers it shares
with write-audit-publish (appending to a branch, the files a snapshot added).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from phlo_lakehouse.errors import Conflict, InvalidInput
from phlo_lakehouse.identifiers import validate_ref_name
from phlo_lakehouse.operations.base import OperationPlan, OperationResult
from phlo_lakehouse.operations.format_support import check_format_support
from phlo_lakehouse.operations.snapshot_ops import (
    SnapshotOperation,
    restore_retention,
    snapshot_id_argument,
)
from phlo_lakehouse.operations.snapshot_state import require_snapshot, table_at

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table

    from phlo_lakehouse.nessie import NessieReferences
    from phlo_lakehouse.table import LakehouseTable


class CherryPickOperation(SnapshotOperation):
    """Re-apply an append snapshot onto the handle's branch: a new append snapshot with the same
    data files, whose parent is the branch head.

    Args:
        snapshot_id: an ``append`` snapshot of the table (Iceberg: any ref; Nessie: any
            reference's history, or ``source_ref``'s).
        source_ref: (Nessie) the reference whose history holds the snapshot.

    Raises:
        InvalidInput: not an append, already in the branch, or written with another spec.
        SnapshotNotFound: unknown snapshot.

    Example:
        >>> CherryPickOperation(42).settings()
        {'snapshot_id': 42, 'source_ref': None}
    """

    name: ClassVar[str] = "cherry_pick"

    def __init__(
        self,
        snapshot_id: int,
        *,
        source_ref: str | None = None,
        nessie: NessieReferences | None = None,
    ) -> None:
        super().__init__(nessie=nessie)
        self.snapshot_id = snapshot_id_argument(snapshot_id)
        self.source_ref = validate_ref_name(source_ref) if source_ref else None

    def settings(self) -> dict[str, Any]:
        return {"snapshot_id": self.snapshot_id, "source_ref": self.source_ref}

    def plan(self, table: LakehouseTable) -> OperationPlan:
        """The source snapshot's added files, checked against the branch's live files."""
        from pyiceberg.table.snapshots import ancestors_of

        from phlo_lakehouse.operations.live_files import live_files

        check_format_support(table, self.name)
        source_table, location = self._source_table(table)
        files = added_data_files(source_table, self.snapshot_id)
        head = table.snapshot
        if head is None and table.table.metadata.format_version >= 3:
            raise InvalidInput(
                f"{table} has no snapshot: a format v3 cherry-pick appends onto a branch head",
                hint="append to the branch first, or create it from a snapshot",
            )
        ancestors = list(ancestors_of(head, table.table.metadata))
        picked = {
            s.summary.additional_properties.get("source-snapshot-id")
            for s in ancestors
            if s.summary is not None
        }
        live = {f.path for f in live_files(table.table, head).data} if head else set()
        if (
            self.snapshot_id in {s.snapshot_id for s in ancestors}
            or str(self.snapshot_id) in picked
            or any(f.file_path in live for f in files)
        ):
            raise InvalidInput(
                f"snapshot {self.snapshot_id} is already part of {table}",
                hint="pick a snapshot the branch does not have yet",
            )
        default_spec = table.table.metadata.default_spec_id
        if any(f.spec_id != default_spec for f in files):
            raise InvalidInput(
                f"snapshot {self.snapshot_id} was written with another partition spec",
                hint="cherry-pick only snapshots written with the table's current partitioning",
            )
        figures = {
            "source_snapshot_id": self.snapshot_id,
            "added_data_files": len(files),
            "added_records": sum(f.record_count for f in files),
        }
        details = {"source_metadata_location": location, "files": [f.file_path for f in files]}
        return self._plan(table, figures, details)

    def execute(self, table: LakehouseTable, plan: OperationPlan) -> OperationResult:
        """Commit one fast append on the branch, re-applying the branch's retention."""
        from phlo_lakehouse.operations.commit import commit_transaction

        if table.refresh().snapshot_id != plan.snapshot_id:
            raise Conflict(f"{table} moved since the plan", hint="re-run; it is planned again")
        source_table, _ = self._source_table(table, plan.details["source_metadata_location"])
        files = added_data_files(source_table, self.snapshot_id)
        if table.table.metadata.format_version >= 3:
            return self._commit_v3(table, plan, files)
        branch = table.table_ref
        retention = table.table.metadata.refs.get(branch)
        tx = table.table.transaction()
        properties = {"source-snapshot-id": str(self.snapshot_id)}
        with tx.update_snapshot(properties, branch=branch).fast_append() as append:
            for data_file in files:
                append.append_data_file(data_file)
        restore_retention(tx, branch, retention)
        try:
            commit_transaction(tx, what=f"cherry-pick into {table}")
        except Conflict as e:
            raise Conflict(f"{table} moved during the cherry-pick", hint="re-run") from e
        return self._result(table, plan, committed=True)

    def _commit_v3(
        self, table: LakehouseTable, plan: OperationPlan, files: list[DataFile]
    ) -> OperationResult:
        """Format v3: the files in a new manifest whose ``first_row_id`` the v3 manifest list
        assigns from ``next-row-id`` (the files' own are not carried over), so the rows added
        get row ids as any append's do; through the replace producer, onto the planned head."""
        from phlo_lakehouse.operations.replace import ReplaceFiles

        outcome = ReplaceFiles(
            table.table,
            table.table_ref,
            starting_snapshot_id=plan.snapshot_id,
            removed=[],
            added=files,
            drop_unused_deletes=False,
            operation="append",
            summary={"source-snapshot-id": str(self.snapshot_id)},
            unchanged_head=True,
        ).commit()
        return OperationResult.applied(
            plan, snapshot_id_after=outcome.snapshot.snapshot_id, attempts=outcome.attempts
        )

    def _source_table(self, table: LakehouseTable, location: str | None = None) -> tuple[Any, Any]:
        if not table.nessie:
            require_snapshot(table.table, self.snapshot_id)
            return table.table, None
        if location is None:
            refs = [self.source_ref] if self.source_ref else None
            _, state = self.refs(table).find_table_state(table.identifier, self.snapshot_id, refs)
            location = state.metadata_location
        return table_at(table, location), location


def append_to_branch(table: Table, rows: pa.Table, branch: str) -> None:
    """Append ``rows`` to ``branch`` in one commit, keeping the branch's retention settings.

    Example:
        >>> append_to_branch(handle.table, rows, "audit")          # doctest: +SKIP
    """
    from phlo_lakehouse.operations.commit import commit_transaction

    retention = table.metadata.refs.get(branch)
    tx = table.transaction()
    tx.append(rows, branch=branch)
    restore_retention(tx, branch, retention)
    commit_transaction(tx, what=f"append to {branch}")


def added_data_files(table: Table, snapshot_id: int) -> list[DataFile]:
    """The data files an ``append`` snapshot added, in manifest order.

    Raises:
        SnapshotNotFound: unknown snapshot. InvalidInput: not an append.
    """
    from pyiceberg.manifest import ManifestEntryStatus
    from pyiceberg.table.snapshots import Operation

    snapshot = require_snapshot(table, snapshot_id)
    if snapshot.summary is None or snapshot.summary.operation != Operation.APPEND:
        operation = snapshot.summary.operation.value if snapshot.summary else "unknown"
        raise InvalidInput(
            f"snapshot {snapshot_id} is an {operation!r} snapshot; only appends are cherry-picked",
            hint="cherry-pick append snapshots; move branches with rollback/set-current instead",
        )
    files = []
    for manifest in snapshot.manifests(table.io):
        if manifest.added_snapshot_id != snapshot_id:
            continue
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            if entry.status == ManifestEntryStatus.ADDED and entry.snapshot_id == snapshot_id:
                files.append(entry.data_file)
    return files
