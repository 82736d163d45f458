"""Catalog-wide Nessie reference changes as `CatalogOperation`s: create, delete, assign, merge.

They run through the one executor like every other operation — ``lakehouse.run_catalog(op,
ref)`` — so each is access-checked (permission ``manage_refs`` on ``<catalog>@<ref>``, the
reference it changes), traced, audited, and previewed by a dry run. The CLI's ``refs`` commands
and write-audit-publish on Nessie use them; nothing else changes a Nessie reference.

Plans carry the document the CLI shows (``details``) and one figure per kind of change; a
reference that moved between plan and execution raises `Conflict` and the executor re-plans.

Example:
    >>> op = MergeReference("dev", delete_source=True)
    >>> op.name, op.permission, op.settings()["from_ref"]
    ('ref_merge', 'manage_refs', 'dev')
    >>> lakehouse.run_catalog(op, "main", dry_run=True).details["conflicts"]  # doctest: +SKIP
    []
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any, ClassVar

from phlo_lakehouse.errors import InvalidInput, RefNotFound
from phlo_lakehouse.identifiers import validate_ref_name
from phlo_lakehouse.operations.base import (
    CatalogOperation,
    CatalogTarget,
    OperationPlan,
    OperationResult,
)

if TYPE_CHECKING:
    from phlo_lakehouse.nessie import NessieReferences

KINDS = {"branch": "BRANCH", "tag": "TAG"}


class ReferenceOperation(CatalogOperation):
    """A change of one Nessie reference (the run's ref), needing ``manage_refs`` on it."""

    permission: ClassVar[str] = "manage_refs"

    def _refs(self, target: CatalogTarget) -> tuple[NessieReferences, str]:
        """The Nessie client and the reference the run names (checks both exist/are given)."""
        refs = target.lakehouse.nessie  # InvalidConfig with a hint on other catalogs
        if target.ref is None:
            raise InvalidInput(
                f"{self.name} changes one Nessie reference; none was given",
                hint="pass the reference: lakehouse.run_catalog(op, 'dev')",
            )
        return refs, target.ref


class CreateReference(ReferenceOperation):
    """Create branch (or tag) ``<ref>`` at the head of ``from_ref`` (or at its commit ``hash``).

    Example:
        >>> CreateReference(from_ref="main", kind="tag").settings()
        {'kind': 'TAG', 'from_ref': 'main', 'hash': None}
    """

    name: ClassVar[str] = "ref_create"

    def __init__(self, *, from_ref: str = "main", kind: str = "branch", hash: str | None = None):
        if kind.lower() not in KINDS:
            raise InvalidInput(f"kind={kind!r} is not a reference kind", hint="branch or tag")
        self.kind = KINDS[kind.lower()]
        self.from_ref = validate_ref_name(from_ref)
        self.hash = hash

    def settings(self) -> dict[str, Any]:
        return {"kind": self.kind, "from_ref": self.from_ref, "hash": self.hash}

    def plan(self, target: CatalogTarget) -> OperationPlan:
        """Check the name is free and ``from_ref`` exists."""
        refs, name = self._refs(target)
        try:
            existing = refs.get(name)
        except RefNotFound:
            existing = None
        if existing is not None:
            raise InvalidInput(
                f"Nessie reference {name!r} already exists ({existing.kind.lower()})",
                hint="pick another name, or delete it first (refs delete)",
            )
        source = refs.get(self.from_ref)
        details = {
            "action": "create",
            "name": name,
            "kind": self.kind,
            "from": source.name,
            "hash": self.hash or source.hash,
        }
        return target.plan(self.name, {"refs_created": 1}, details)

    def execute(self, target: CatalogTarget, plan: OperationPlan) -> OperationResult:
        refs, name = self._refs(target)
        make = refs.create_tag if self.kind == "TAG" else refs.create_branch
        created = make(name, plan.details["from"], hash=plan.details["hash"])
        return OperationResult.applied(plan, details={**plan.details, "hash": created.hash})


class DeleteReference(ReferenceOperation):
    """Delete branch or tag ``<ref>`` (never ``main``), at the hash the plan read.

    Example:
        >>> DeleteReference().name
        'ref_delete'
    """

    name: ClassVar[str] = "ref_delete"

    def plan(self, target: CatalogTarget) -> OperationPlan:
        refs, name = self._refs(target)
        ref = refs.get(name)
        if ref.name == "main":
            raise InvalidInput("main cannot be deleted", hint="delete another branch or tag")
        details = {"action": "delete", "name": ref.name, "kind": ref.kind, "hash": ref.hash}
        return target.plan(self.name, {"refs_deleted": 1}, details)

    def execute(self, target: CatalogTarget, plan: OperationPlan) -> OperationResult:
        refs, _ = self._refs(target)
        refs.delete(plan.details["name"], expected_hash=plan.details["hash"])
        return OperationResult.applied(plan)


class AssignReference(ReferenceOperation):
    """Point branch or tag ``<ref>`` at the head of ``to_ref`` (or at commit ``hash`` on it).

    Example:
        >>> AssignReference("main").settings()
        {'to_ref': 'main', 'hash': None}
    """

    name: ClassVar[str] = "ref_assign"

    def __init__(self, to_ref: str, *, hash: str | None = None) -> None:
        self.to_ref = validate_ref_name(to_ref)
        self.hash = hash

    def settings(self) -> dict[str, Any]:
        return {"to_ref": self.to_ref, "hash": self.hash}

    def plan(self, target: CatalogTarget) -> OperationPlan:
        refs, name = self._refs(target)
        ref, to = refs.get(name), refs.get(self.to_ref)
        details = {
            "action": "assign",
            "name": ref.name,
            "kind": ref.kind,
            "to": to.name,
            "hash_before": ref.hash,
            "hash_after": self.hash or to.hash,
        }
        moved = int(details["hash_before"] != details["hash_after"])
        return target.plan(self.name, {"refs_moved": moved}, details)

    def execute(self, target: CatalogTarget, plan: OperationPlan) -> OperationResult:
        refs, _ = self._refs(target)
        d = plan.details
        refs.assign(d["name"], d["to"], hash=d["hash_after"], expected_hash=d["hash_before"])
        return OperationResult.applied(plan, committed=bool(plan.figures["refs_moved"]))


class MergeReference(ReferenceOperation):
    """Merge ``from_ref`` onto branch ``<ref>``; the plan is Nessie's dry-run merge (conflicts
    listed), execution the real merge (all or nothing: `MergeConflict` merges nothing).

    Args:
        from_ref: the branch or tag merged.
        delete_source: delete ``from_ref`` after a successful merge (a branch only).
        message: the merge commit message.
    """

    name: ClassVar[str] = "ref_merge"

    def __init__(
        self, from_ref: str, *, delete_source: bool = False, message: str | None = None
    ) -> None:
        self.from_ref = validate_ref_name(from_ref)
        self.delete_source = delete_source
        self.message = message

    def settings(self) -> dict[str, Any]:
        return {
            "from_ref": self.from_ref,
            "delete_source": self.delete_source,
            "message": self.message,
        }

    def plan(self, target: CatalogTarget) -> OperationPlan:
        refs, onto = self._refs(target)
        preview = refs.merge(self.from_ref, onto, dry_run=True)
        figures = {"tables_merged": len(preview.keys), "conflicts": len(preview.conflicts)}
        return target.plan(self.name, figures, merge_document(preview))

    def execute(self, target: CatalogTarget, plan: OperationPlan) -> OperationResult:
        refs, onto = self._refs(target)
        merged = refs.merge(
            self.from_ref, onto, delete_source=self.delete_source, message=self.message
        )
        figures = {"tables_merged": len(merged.keys), "conflicts": len(merged.conflicts)}
        return OperationResult.applied(
            plan, committed=merged.applied, figures=figures, details=merge_document(merged)
        )


def merge_document(result: Any) -> dict[str, Any]:
    """A `MergeResult` as JSON-ready details (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(result).items()}
