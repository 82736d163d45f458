"""Moving a branch as `TableOperation`s: rollback, set-current, fast-forward; and the base class
and helpers the ref operations (`ref_ops`) and cherry-pick (`cherry_pick`) share. Plans validate
everything and change nothing.

Iceberg table refs: a ref move is one ``SetSnapshotRefUpdate`` commit guarded by
``AssertRefSnapshotId`` on the head the plan read (a concurrent move is a `Conflict`; the
executor re-plans), re-applying the branch's retention settings, which PyIceberg drops when it
commits to a branch.

Nessie references: older table states are Nessie commits, so rollback and set-current *assign
the Nessie branch* to the newest commit where the table had that snapshot, refusing when other
tables would change too (unless ``allow_other_tables=True``). Fast-forward assigns the branch to
the other reference's head when that head descends from it. Cherry-pick works alike on both: a
new append snapshot of the source snapshot's added files on top of the target head.

Example:
    >>> op = RollbackOperation(snapshot_id=42)
    >>> lakehouse.run(op, "raw.events", dry_run=True).figures   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from phlo_lakehouse.errors import (
    InvalidInput,
    SnapshotNotFound,
)
from phlo_lakehouse.operations.base import OperationPlan, OperationResult, TableOperation
from phlo_lakehouse.operations.commit import commit_updates
from phlo_lakehouse.operations.format_support import check_format_support
from phlo_lakehouse.operations.snapshot_state import require_snapshot, state_as_of, to_millis
from phlo_lakehouse.units import parse_duration

if TYPE_CHECKING:
    from pyiceberg.table import Table, Transaction
    from pyiceberg.table.refs import SnapshotRef
    from pyiceberg.table.snapshots import Snapshot

    from phlo_lakehouse.nessie import NessieReferences
    from phlo_lakehouse.table import LakehouseTable

MAIN = "main"
LIST_HINT = "list snapshots with SnapshotManager.list_snapshots(table, ref)"


class SnapshotOperation(TableOperation):
    """Shared plumbing: plans carry ``details["nessie"]``; results report the ref head after."""

    permission: ClassVar[str] = "manage_snapshots"

    def __init__(self, *, nessie: NessieReferences | None = None) -> None:
        self._nessie = nessie

    def refs(self, table: LakehouseTable) -> NessieReferences:
        """The Nessie client (given, or derived from the catalog the table was loaded from)."""
        if self._nessie is None:
            from phlo_lakehouse.config import nessie_base_uri
            from phlo_lakehouse.nessie import NessieReferences

            self._nessie = NessieReferences(nessie_base_uri(table.table.catalog.properties["uri"]))
        return self._nessie

    def _plan(
        self, table: LakehouseTable, figures: Mapping[str, Any], details: Mapping[str, Any]
    ) -> OperationPlan:
        return super()._plan(table, figures, {"nessie": table.nessie, **details})

    def _result(
        self,
        table: LakehouseTable,
        plan: OperationPlan,
        *,
        committed: bool,
        reload: bool = True,
        **extra: Any,
    ) -> OperationResult:
        after = table.snapshot_id
        if committed and table.nessie and reload:
            after = table.refresh().snapshot_id
        return OperationResult.applied(
            plan, committed=committed, snapshot_id_after=after, details={**plan.details, **extra}
        )


class MoveBranchOperation(SnapshotOperation):
    """Point the handle's branch at another snapshot (Iceberg) or commit (Nessie)."""

    def __init__(
        self, *, allow_other_tables: bool = False, nessie: NessieReferences | None = None
    ) -> None:
        super().__init__(nessie=nessie)
        self.allow_other_tables = bool(allow_other_tables)

    def _iceberg_target(self, table: LakehouseTable) -> Snapshot:
        raise NotImplementedError

    def _nessie_target(self, table: LakehouseTable, head_hash: str) -> tuple[str, str]:
        """(reference, commit hash) the branch moves to."""
        raise NotImplementedError

    def plan(self, table: LakehouseTable) -> OperationPlan:
        """The target snapshot (or Nessie commit) and the records before and after."""
        if table.nessie:
            return self._plan_nessie(table)
        check_format_support(table, self.name)
        if table.ref_kind != "branch":
            raise InvalidInput(
                f"{table.ref!r} of {table.identifier} is a tag; only branches move",
                hint="remove and re-create the tag, or move a branch",
            )
        target = self._iceberg_target(table)
        head = table.snapshot
        figures = {
            "snapshot_id_from": table.snapshot_id,
            "snapshot_id_to": target.snapshot_id,
            "records_before": snapshot_records(head),
            "records_after": snapshot_records(target),
        }
        return self._plan(table, figures, {"target_snapshot_id": target.snapshot_id})

    def execute(self, table: LakehouseTable, plan: OperationPlan) -> OperationResult:
        """Commit the move, guarded by the head the plan read."""
        if plan.details["nessie"]:
            target_hash = plan.details["target_hash"]
            if target_hash == plan.details["hash_before"]:
                return self._result(table, plan, committed=False)
            self.refs(table).assign(
                table.ref,
                plan.details["target_ref"],
                hash=target_hash,
                expected_hash=plan.details["hash_before"],
            )
            return self._result(table, plan, committed=True)
        target = plan.details["target_snapshot_id"]
        if target == plan.snapshot_id:
            return self._result(table, plan, committed=False)
        set_branch_head(table.table, table.table_ref, target, expected=plan.snapshot_id)
        return self._result(table, plan, committed=True)

    def _plan_nessie(self, table: LakehouseTable) -> OperationPlan:
        refs = self.refs(table)
        head = refs.get(table.ref)
        if head.kind != "BRANCH":
            raise InvalidInput(
                f"Nessie reference {table.ref!r} is a tag; only branches move",
                hint="move a branch, or delete and re-create the tag",
            )
        target_ref, target_hash = self._nessie_target(table, head.hash or "")
        key = str(table.identifier)
        changes = refs.diff(table.ref, target_ref, from_hash=head.hash, to_hash=target_hash)
        others = sorted(c.table for c in changes if c.table != key)
        if others and not self.allow_other_tables:
            raise InvalidInput(
                f"moving Nessie branch {table.ref!r} would also change {len(others)} other "
                f"table(s): {', '.join(others[:5])}",
                hint="Nessie rolls back whole branches; work on a branch of your own, or pass "
                "allow_other_tables=True to move them too",
            )
        after = next((c.snapshot_id_after for c in changes if c.table == key), table.snapshot_id)
        figures = {
            "snapshot_id_from": table.snapshot_id,
            "snapshot_id_to": after,
            "other_tables_changed": len(others),
        }
        details = {
            "hash_before": head.hash,
            "target_ref": target_ref,
            "target_hash": target_hash,
            "other_tables": others,
        }
        return self._plan(table, figures, details)


class RollbackOperation(MoveBranchOperation):
    """Move a branch back to one of its ancestors, by snapshot id or by time.

    Args:
        snapshot_id: an ancestor of the branch head.
        timestamp: instead of ``snapshot_id``: the latest ancestor strictly before this time
            (datetime, ISO-8601 text or epoch ms); on Nessie, the table's newest state
            committed before it.
        allow_other_tables: (Nessie) also move other tables that changed on the branch since.

    Raises:
        InvalidInput: neither or both of ``snapshot_id`` and ``timestamp``; a non-ancestor.
        SnapshotNotFound: the snapshot (or a snapshot old enough) does not exist.

    Example:
        >>> RollbackOperation(snapshot_id=42).settings()
        {'snapshot_id': 42, 'timestamp_ms': None, 'allow_other_tables': False}
    """

    name: ClassVar[str] = "rollback"

    def __init__(
        self,
        snapshot_id: int | None = None,
        *,
        timestamp: datetime | int | str | None = None,
        allow_other_tables: bool = False,
        nessie: NessieReferences | None = None,
    ) -> None:
        super().__init__(allow_other_tables=allow_other_tables, nessie=nessie)
        if (snapshot_id is None) == (timestamp is None):
            raise InvalidInput(
                "rollback needs exactly one of snapshot_id and timestamp",
                hint="pass snapshot_id=… or timestamp=…",
            )
        self.snapshot_id = snapshot_id_argument(snapshot_id) if snapshot_id is not None else None
        self.timestamp_ms = to_millis(timestamp) if timestamp is not None else None

    def settings(self) -> dict[str, Any]:
        return {
            "snapshot_id": self.snapshot_id,
            "timestamp_ms": self.timestamp_ms,
            "allow_other_tables": self.allow_other_tables,
        }

    def _iceberg_target(self, table: LakehouseTable) -> Snapshot:
        from pyiceberg.table.snapshots import ancestors_of

        ancestors = list(ancestors_of(table.snapshot, table.table.metadata))
        if self.timestamp_ms is not None:
            older = [s for s in ancestors if s.timestamp_ms < self.timestamp_ms]
            if not older:
                raise SnapshotNotFound(
                    f"{table} has no snapshot older than {iso_millis(self.timestamp_ms)}",
                    hint=LIST_HINT,
                )
            return older[0]
        snapshot = require_snapshot(table.table, self.snapshot_id)
        if snapshot.snapshot_id not in {s.snapshot_id for s in ancestors}:
            raise InvalidInput(
                f"snapshot {self.snapshot_id} is not an ancestor of {table}",
                hint="rollback only goes back in a branch's history; use set_current_snapshot "
                "to jump to any snapshot",
            )
        return snapshot

    def _nessie_target(self, table: LakehouseTable, head_hash: str) -> tuple[str, str]:
        refs = self.refs(table)
        if self.timestamp_ms is None:
            _, found = refs.find_table_state(table.identifier, self.snapshot_id or 0, [table.ref])
            return table.ref, found.latest_hash
        state = state_as_of(table, refs, self.timestamp_ms, head_hash, inclusive=False)
        if state is None:
            raise SnapshotNotFound(
                f"{table} has no snapshot older than {iso_millis(self.timestamp_ms)}",
                hint=LIST_HINT,
            )
        return table.ref, state.latest_hash


class SetCurrentSnapshotOperation(MoveBranchOperation):
    """Point a branch at any snapshot of the table, ancestor or not.

    On Nessie the snapshot is looked up in the branch's history first, then in every other
    reference's (a non-ancestor lives on another branch).

    Example:
        >>> SetCurrentSnapshotOperation(42).settings()["snapshot_id"]
        42
    """

    name: ClassVar[str] = "set_current_snapshot"

    def __init__(
        self,
        snapshot_id: int,
        *,
        allow_other_tables: bool = False,
        nessie: NessieReferences | None = None,
    ) -> None:
        super().__init__(allow_other_tables=allow_other_tables, nessie=nessie)
        self.snapshot_id = snapshot_id_argument(snapshot_id)

    def settings(self) -> dict[str, Any]:
        return {"snapshot_id": self.snapshot_id, "allow_other_tables": self.allow_other_tables}

    def _iceberg_target(self, table: LakehouseTable) -> Snapshot:
        return require_snapshot(table.table, self.snapshot_id)

    def _nessie_target(self, table: LakehouseTable, head_hash: str) -> tuple[str, str]:
        refs = self.refs(table)
        names = [table.ref, *sorted(r.name for r in refs.list() if r.name != table.ref)]
        ref, state = refs.find_table_state(table.identifier, self.snapshot_id, names)
        return ref, state.latest_hash


def set_branch_head(table: Table, branch: str, snapshot_id: int, *, expected: int | None) -> None:
    """Point ``branch`` at ``snapshot_id`` if it is still at ``expected``, keeping its retention.

    Raises:
        Conflict: the branch moved.
    """
    from pyiceberg.table.refs import SnapshotRefType
    from pyiceberg.table.update import AssertRefSnapshotId, SetSnapshotRefUpdate

    ref = table.metadata.refs.get(branch)
    update = SetSnapshotRefUpdate(
        ref_name=branch,
        type=SnapshotRefType.BRANCH,
        snapshot_id=snapshot_id,
        max_ref_age_ms=ref.max_ref_age_ms if ref else None,
        max_snapshot_age_ms=ref.max_snapshot_age_ms if ref else None,
        min_snapshots_to_keep=ref.min_snapshots_to_keep if ref else None,
    )
    commit_updates(table, [update], [AssertRefSnapshotId(ref=branch, snapshot_id=expected)])


def restore_retention(tx: Transaction, branch: str, ref: SnapshotRef | None) -> None:
    """Re-apply ``ref``'s retention to ``branch`` inside ``tx``, after a snapshot producer set
    the branch without it (PyIceberg drops retention when committing to a branch).

    The producer's ``AssertRefSnapshotId`` stays the transaction's only requirement on the
    branch (``Transaction._stage`` keeps one requirement per type), so this re-sets the new head.
    """
    from pyiceberg.table.update.snapshot import ManageSnapshots

    if ref is None or not has_retention(ref):
        return
    with ManageSnapshots(tx) as manage:
        manage.create_branch(
            tx.table_metadata.refs[branch].snapshot_id,
            branch,
            ref.max_ref_age_ms,
            ref.max_snapshot_age_ms,
            ref.min_snapshots_to_keep,
        )


def snapshot_records(snapshot: Snapshot | None) -> int | None:
    if snapshot is None or snapshot.summary is None:
        return None
    value = snapshot.summary.additional_properties.get("total-records")
    return int(value) if value is not None else None


def has_retention(ref: Any) -> bool:
    return any(
        v is not None
        for v in (ref.max_ref_age_ms, ref.max_snapshot_age_ms, ref.min_snapshots_to_keep)
    )


def snapshot_id_argument(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(
            f"snapshot_id={value!r} is not a snapshot id", hint="pass an int from list_snapshots"
        )
    return value


def duration_ms(value: str | int | timedelta | None, name: str) -> int | None:
    if value is None:
        return None
    return int(parse_duration(value, name=name).total_seconds() * 1000)


def iso_millis(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, tz=UTC).isoformat()
