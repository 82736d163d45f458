"""Branches and tags as `TableOperation`s: create (with retention), remove, fast-forward.

Iceberg refs are one metadata commit each; on Nessie the ref is a Nessie reference.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from phlo_lakehouse.errors import Conflict, InvalidInput, RefNotFound, SnapshotNotFound
from phlo_lakehouse.identifiers import validate_ref_name
from phlo_lakehouse.operations.base import OperationPlan, OperationResult
from phlo_lakehouse.operations.commit import commit_updates
from phlo_lakehouse.operations.format_support import check_format_support
from phlo_lakehouse.operations.snapshot_ops import (
    MAIN,
    MoveBranchOperation,
    SnapshotOperation,
    duration_ms,
    has_retention,
    snapshot_id_argument,
)
from phlo_lakehouse.operations.snapshot_state import require_snapshot

if TYPE_CHECKING:
    from pyiceberg.table.snapshots import Snapshot

    from phlo_lakehouse.nessie import NessieReferences
    from phlo_lakehouse.table import LakehouseTable


class CreateRefOperation(SnapshotOperation):
    """Create a branch or tag at a snapshot (default: the head of the handle's ref).

    Args:
        ref_name: the new branch or tag.
        kind: "branch" or "tag".
        snapshot_id: where it points (Nessie: the newest commit with that table snapshot).
        max_ref_age: the ref expires when its snapshot is older ("30d"); Iceberg refs only.
        max_snapshot_age / min_snapshots_to_keep: branch retention for expiry; Iceberg only.

    Example:
        >>> CreateRefOperation("v1", kind="tag", max_ref_age="30d").settings()["max_ref_age_ms"]
        2592000000
    """

    name: ClassVar[str] = "create_ref"

    def __init__(
        self,
        ref_name: str,
        *,
        kind: str = "branch",
        snapshot_id: int | None = None,
        max_ref_age: str | int | timedelta | None = None,
        max_snapshot_age: str | int | timedelta | None = None,
        min_snapshots_to_keep: int | None = None,
        nessie: NessieReferences | None = None,
    ) -> None:
        super().__init__(nessie=nessie)
        if kind not in ("branch", "tag"):
            raise InvalidInput(f"kind={kind!r} is not a ref kind", hint='use "branch" or "tag"')
        if kind == "tag" and (max_snapshot_age is not None or min_snapshots_to_keep is not None):
            raise InvalidInput(
                "tags have no snapshot retention (max_snapshot_age, min_snapshots_to_keep)",
                hint="give tags max_ref_age only, or create a branch",
            )
        keep = min_snapshots_to_keep
        if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 1):
            raise InvalidInput(
                f"min_snapshots_to_keep={min_snapshots_to_keep!r} is not a whole number >= 1",
                hint="pass 1 or more",
            )
        self.ref_name = validate_ref_name(ref_name)
        self.kind = kind
        self.snapshot_id = snapshot_id_argument(snapshot_id) if snapshot_id is not None else None
        self.max_ref_age_ms = duration_ms(max_ref_age, "max_ref_age")
        self.max_snapshot_age_ms = duration_ms(max_snapshot_age, "max_snapshot_age")
        self.min_snapshots_to_keep = min_snapshots_to_keep

    def settings(self) -> dict[str, Any]:
        return {
            "ref_name": self.ref_name,
            "kind": self.kind,
            "snapshot_id": self.snapshot_id,
            "max_ref_age_ms": self.max_ref_age_ms,
            "max_snapshot_age_ms": self.max_snapshot_age_ms,
            "min_snapshots_to_keep": self.min_snapshots_to_keep,
        }

    def plan(self, table: LakehouseTable) -> OperationPlan:
        """Check the name is free and the snapshot exists."""
        if table.nessie:
            return self._plan_nessie(table)
        check_format_support(table, self.name)
        if self.ref_name in table.table.metadata.refs or self.ref_name == MAIN:
            raise InvalidInput(
                f"table {table.identifier} already has a ref {self.ref_name!r}",
                hint="pick another name, or remove the ref first",
            )
        snapshot_id = self.snapshot_id if self.snapshot_id is not None else table.snapshot_id
        if snapshot_id is None:
            raise SnapshotNotFound(
                f"{table} has no snapshot to point {self.ref_name!r} at",
                hint="write to the table first",
            )
        require_snapshot(table.table, snapshot_id)
        return self._plan(table, {"snapshot_id": snapshot_id}, {**self.settings()})

    def execute(self, table: LakehouseTable, plan: OperationPlan) -> OperationResult:
        """Create the ref (Iceberg: asserting it still does not exist)."""
        if plan.details["nessie"]:
            refs = self.refs(table)
            create = refs.create_tag if self.kind == "tag" else refs.create_branch
            create(self.ref_name, from_ref=table.ref, hash=plan.details["target_hash"])
            return self._result(table, plan, committed=True)
        from pyiceberg.table.refs import SnapshotRefType
        from pyiceberg.table.update import AssertRefSnapshotId, SetSnapshotRefUpdate

        update = SetSnapshotRefUpdate(
            ref_name=self.ref_name,
            type=SnapshotRefType.TAG if self.kind == "tag" else SnapshotRefType.BRANCH,
            snapshot_id=plan.figures["snapshot_id"],
            max_ref_age_ms=self.max_ref_age_ms,
            max_snapshot_age_ms=self.max_snapshot_age_ms,
            min_snapshots_to_keep=self.min_snapshots_to_keep,
        )
        commit_updates(
            table.table, [update], [AssertRefSnapshotId(ref=self.ref_name, snapshot_id=None)]
        )
        return self._result(table, plan, committed=True)

    def _plan_nessie(self, table: LakehouseTable) -> OperationPlan:
        if has_retention(self):
            raise InvalidInput(
                "Nessie references have no retention settings",
                hint="leave max_ref_age/max_snapshot_age/min_snapshots_to_keep unset on Nessie; "
                "Nessie GC's cutoff policy decides how long history is kept",
            )
        refs = self.refs(table)
        if self.ref_name in {r.name for r in refs.list()}:
            raise InvalidInput(
                f"Nessie reference {self.ref_name!r} already exists",
                hint="pick another name, or delete the reference first",
            )
        head = refs.get(table.ref)
        target_hash, snapshot_id = head.hash, table.snapshot_id
        if self.snapshot_id is not None and self.snapshot_id != table.snapshot_id:
            _, state = refs.find_table_state(table.identifier, self.snapshot_id, [table.ref])
            target_hash, snapshot_id = state.latest_hash, state.snapshot_id
        return self._plan(
            table, {"snapshot_id": snapshot_id}, {**self.settings(), "target_hash": target_hash}
        )


class RemoveRefOperation(SnapshotOperation):
    """Remove a branch or tag (never ``main``); run it on any ref of the table.

    Example:
        >>> RemoveRefOperation("v1").settings()
        {'ref_name': 'v1'}
    """

    name: ClassVar[str] = "remove_ref"

    def __init__(self, ref_name: str, *, nessie: NessieReferences | None = None) -> None:
        super().__init__(nessie=nessie)
        self.ref_name = validate_ref_name(ref_name)
        if self.ref_name == MAIN:
            raise InvalidInput("main cannot be removed", hint="remove another branch or tag")

    def settings(self) -> dict[str, Any]:
        return {"ref_name": self.ref_name}

    def plan(self, table: LakehouseTable) -> OperationPlan:
        """Check that the ref exists; report where it points."""
        if table.nessie:
            nessie_ref = self.refs(table).get(self.ref_name)
            kind = {"ref_kind": nessie_ref.kind.lower()}
            return self._plan(table, kind, {"hash": nessie_ref.hash})
        check_format_support(table, self.name)
        ref = table.table.metadata.refs.get(self.ref_name)
        if ref is None:
            raise RefNotFound(
                f"table {table.identifier} has no branch or tag {self.ref_name!r}",
                hint="list the table's refs with SnapshotManager.list_snapshots(table)",
            )
        figures = {"ref_kind": str(ref.snapshot_ref_type), "snapshot_id": ref.snapshot_id}
        return self._plan(table, figures, {})

    def execute(self, table: LakehouseTable, plan: OperationPlan) -> OperationResult:
        """Remove it (Iceberg: asserting it did not move; Nessie: at the hash read)."""
        if plan.details["nessie"]:
            refs = self.refs(table)
            ref = refs.get(self.ref_name)
            if ref.hash != plan.details["hash"]:
                raise Conflict(
                    f"Nessie reference {self.ref_name!r} moved since the plan",
                    hint="re-run; the removal is planned again",
                )
            refs.delete(self.ref_name)
            return self._result(table, plan, committed=True, reload=False)
        from pyiceberg.table.update import AssertRefSnapshotId, RemoveSnapshotRefUpdate

        commit_updates(
            table.table,
            [RemoveSnapshotRefUpdate(ref_name=self.ref_name)],
            [AssertRefSnapshotId(ref=self.ref_name, snapshot_id=plan.figures["snapshot_id"])],
        )
        return self._result(table, plan, committed=True)


class FastForwardOperation(MoveBranchOperation):
    """Move a branch forward to the head of ``to`` when the branch head is its ancestor.

    Args:
        to: the branch or tag to catch up with (an Iceberg table ref, or a Nessie reference).

    Raises:
        InvalidInput: the branch has snapshots (commits) ``to`` does not: not a fast-forward.

    Example:
        >>> FastForwardOperation("audit").settings()
        {'to': 'audit'}
    """

    name: ClassVar[str] = "fast_forward"

    def __init__(self, to: str, *, nessie: NessieReferences | None = None) -> None:
        super().__init__(allow_other_tables=True, nessie=nessie)
        self.to = validate_ref_name(to)

    def settings(self) -> dict[str, Any]:
        return {"to": self.to}

    def _iceberg_target(self, table: LakehouseTable) -> Snapshot:
        from pyiceberg.table.snapshots import ancestors_of

        metadata = table.table.metadata
        if self.to not in metadata.refs:
            raise RefNotFound(
                f"table {table.identifier} has no branch or tag {self.to!r}",
                hint="list the table's refs with SnapshotManager.list_snapshots(table)",
            )
        target = require_snapshot(table.table, metadata.refs[self.to].snapshot_id)
        head = table.snapshot_id
        if head is not None and head not in {s.snapshot_id for s in ancestors_of(target, metadata)}:
            raise InvalidInput(
                f"cannot fast-forward {table} to {self.to!r}: {table.ref!r} has snapshots "
                f"{self.to!r} does not",
                hint="cherry-pick the snapshots instead, or roll the branch back first",
            )
        return target

    def _nessie_target(self, table: LakehouseTable, head_hash: str) -> tuple[str, str]:
        refs = self.refs(table)
        target = refs.get(self.to)
        if target.hash != head_hash:
            merge = refs.merge(self.to, onto=table.ref, dry_run=True)
            if merge.common_ancestor != head_hash:
                raise InvalidInput(
                    f"cannot fast-forward Nessie branch {table.ref!r} to {self.to!r}: it has "
                    f"commits {self.to!r} does not",
                    hint="merge instead (NessieReferences.merge)",
                )
        return target.name, target.hash or head_hash
