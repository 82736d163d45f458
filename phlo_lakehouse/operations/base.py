"""`TableOperation` and `CatalogOperation`: ``plan`` (a pure read) then ``execute`` (commits), with
frozen, JSON-ready plans and results that print the same figures.

A `TableOperation` acts on one table at one ref. A `CatalogOperation` acts on a catalog, or on one
of its references (`CatalogTarget`): Nessie reference changes and merges, write-audit-publish
publishing, Nessie GC, migrations. Both kinds run through the same `OperationExecutor` path
(access check, tracing, audit), with the same plan and result types.

Example:
    >>> from phlo_lakehouse.operations import ExpireSnapshotsOperation
    >>> op = ExpireSnapshotsOperation(older_than="5d", retain_last=1)
    >>> plan = op.plan(lakehouse.get_table("demo.events"))              # doctest: +SKIP
    >>> plan.figures["snapshots_to_expire"]                             # doctest: +SKIP
    11
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import EllipsisType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from phlo_lakehouse.config import CatalogSettings
    from phlo_lakehouse.identifiers import TableIdentifier
    from phlo_lakehouse.nessie import NessieReferences
    from phlo_lakehouse.table import LakehouseTable

Figure = int | float | str | None


@dataclass(frozen=True)
class OperationPlan:
    """What an operation would do to one table at one snapshot; changing nothing.

    Attributes:
        operation: the operation's name ("optimize", "expire", "vacuum", "rewrite_manifests" …).
        table: the table identifier.
        ref: the ref the plan was made on.
        snapshot_id: the ref head the plan was read from.
        figures: counts and sizes (same keys as the result's figures).
        details: JSON-ready lists (paths, snapshot ids, groups) the execution will act on.
    """

    operation: str
    table: str
    ref: str
    snapshot_id: int | None
    figures: Mapping[str, Figure]
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form."""
        return {
            "operation": self.operation,
            "table": self.table,
            "ref": self.ref,
            "snapshot_id": self.snapshot_id,
            "figures": dict(self.figures),
            "details": dict(self.details),
        }

    def to_json(self) -> str:
        """The plan as JSON text."""
        return json.dumps(self.to_dict(), sort_keys=True, default=str)

    def summary(self) -> str:
        """One line: operation, table and figures."""
        return _summary_line(self.operation, self.table, self.ref, self.figures, "plan")


@dataclass(frozen=True)
class OperationResult:
    """What an operation did (or, for a dry run, would do) to one table.

    Attributes:
        operation, table, ref: as in the plan.
        dry_run: True when nothing was committed or deleted on purpose.
        committed: True when a new table metadata version was committed.
        snapshot_id_before / snapshot_id_after: the ref head before and after.
        figures: the same keys as the plan's figures, with what actually happened.
        attempts: commit attempts (1 when the first commit landed).
        duration_seconds: wall time of plan + execute.
        plan: the plan that was executed.
    """

    operation: str
    table: str
    ref: str
    dry_run: bool
    committed: bool
    snapshot_id_before: int | None
    snapshot_id_after: int | None
    figures: Mapping[str, Figure]
    attempts: int = 1
    duration_seconds: float = 0.0
    plan: OperationPlan | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def applied(
        cls,
        plan: OperationPlan,
        *,
        committed: bool = True,
        figures: Mapping[str, Figure] | None = None,
        details: Mapping[str, Any] | None = None,
        snapshot_id_after: int | None | EllipsisType = ...,
        attempts: int = 1,
    ) -> OperationResult:
        """The result of carrying ``plan`` out: its figures, details and ref head unless given
        (``snapshot_id_after=None`` is a ref without a head).

        Example:
            >>> plan = OperationPlan("ref_delete", "lakehouse", "dev", None, {"refs": 1})
            >>> OperationResult.applied(plan).summary()
            'ref_delete lakehouse@dev (committed): refs=1'
        """
        return cls(
            operation=plan.operation,
            table=plan.table,
            ref=plan.ref,
            dry_run=False,
            committed=committed,
            snapshot_id_before=plan.snapshot_id,
            snapshot_id_after=plan.snapshot_id
            if isinstance(snapshot_id_after, EllipsisType)
            else snapshot_id_after,
            figures=dict(plan.figures if figures is None else figures),
            attempts=attempts,
            plan=plan,
            details=dict(plan.details if details is None else details),
        )

    @classmethod
    def from_plan(cls, plan: OperationPlan, *, duration_seconds: float = 0.0) -> OperationResult:
        """The dry-run result: the plan's figures, nothing committed."""
        return cls(
            operation=plan.operation,
            table=plan.table,
            ref=plan.ref,
            dry_run=True,
            committed=False,
            snapshot_id_before=plan.snapshot_id,
            snapshot_id_after=plan.snapshot_id,
            figures=dict(plan.figures),
            duration_seconds=duration_seconds,
            plan=plan,
            details=plan.details,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form (the plan included)."""
        return {
            "operation": self.operation,
            "table": self.table,
            "ref": self.ref,
            "dry_run": self.dry_run,
            "committed": self.committed,
            "snapshot_id_before": self.snapshot_id_before,
            "snapshot_id_after": self.snapshot_id_after,
            "figures": dict(self.figures),
            "attempts": self.attempts,
            "duration_seconds": round(self.duration_seconds, 6),
            "details": dict(self.details),
        }

    def to_json(self) -> str:
        """The result as JSON text."""
        return json.dumps(self.to_dict(), sort_keys=True, default=str)

    def summary(self) -> str:
        """One line: operation, table and figures."""
        kind = "dry run" if self.dry_run else ("committed" if self.committed else "no change")
        return _summary_line(self.operation, self.table, self.ref, self.figures, kind)


class TableOperation(ABC):
    """A lakehouse action: ``plan`` reads, ``execute`` commits, ``dry_run`` is ``plan`` alone.

    Subclasses validate their arguments in ``__init__`` so bad input fails before any I/O, and
    run through `OperationExecutor`, never on their own, so that access checks, tracing and
    audit apply to every call.
    """

    #: Operation name used in results, metrics and audit records.
    name: ClassVar[str]
    #: The permission an access-control hook requires for it.
    permission: ClassVar[str]
    #: False for operations that only read.
    mutates: ClassVar[bool] = True

    @abstractmethod
    def plan(self, table: LakehouseTable) -> OperationPlan:
        """Work out what to do; reads only."""

    @abstractmethod
    def execute(self, table: LakehouseTable, plan: OperationPlan) -> OperationResult:
        """Carry the plan out. Raises `Conflict` when the table moved in a way the plan cannot
        absorb; the executor then re-plans on a refreshed table."""

    def dry_run(self, table: LakehouseTable) -> OperationPlan:
        """The plan alone."""
        return self.plan(table)

    def _plan(
        self, table: LakehouseTable, figures: Mapping[str, Any], details: Mapping[str, Any]
    ) -> OperationPlan:
        """This operation's plan for ``table``, read at the head of its ref."""
        return OperationPlan(
            operation=self.name,
            table=str(table.identifier),
            ref=table.ref,
            snapshot_id=table.snapshot_id,
            figures=figures,
            details=details,
        )

    def settings(self) -> dict[str, Any]:
        """The operation's arguments, JSON-ready (for audit records and metrics labels)."""
        return {}


class CatalogSource(Protocol):
    """What operations and the executor need of a lakehouse (`IcebergLakehouse` is one).

    A protocol, so that operations depend on no lakehouse class: the lakehouse runs operations,
    operations never import it.
    """

    settings: CatalogSettings

    @property
    def is_nessie(self) -> bool:
        """True when refs are catalog-wide Nessie references."""
        ...

    @property
    def nessie(self) -> NessieReferences:
        """The Nessie reference client (Nessie catalogs only)."""
        ...

    def catalog(self, ref: str | None = None) -> Catalog:
        """The PyIceberg catalog (for Nessie: the one serving ``ref``)."""
        ...

    def get_table(self, name: str | TableIdentifier, ref: str | None = None) -> LakehouseTable:
        """Load table ``name`` as of ``ref``."""
        ...


@dataclass(frozen=True)
class CatalogTarget:
    """What a `CatalogOperation` acts on: one catalog, and one of its references (None: all).

    Its `name` is the resource access policies and audit records see: ``<catalog>@<ref>`` for
    one reference (``lakehouse@main``), ``<catalog>`` for the whole catalog (Nessie GC).

    Example:
        >>> from phlo_lakehouse.config import CatalogSettings
        >>> from phlo_lakehouse.lakehouse import IcebergLakehouse
        >>> lakehouse = IcebergLakehouse(CatalogSettings.embedded("/tmp/phlo-doc"))
        >>> CatalogTarget(lakehouse, "dev").name, CatalogTarget(lakehouse, None).name
        ('lakehouse@dev', 'lakehouse')
    """

    lakehouse: CatalogSource
    ref: str | None = None

    @property
    def catalog(self) -> str:
        """The catalog's name (``CatalogSettings.name``)."""
        return self.lakehouse.settings.name

    @property
    def name(self) -> str:
        """``<catalog>@<ref>``, or ``<catalog>`` when the target is the whole catalog."""
        return f"{self.catalog}@{self.ref}" if self.ref else self.catalog

    def plan(
        self,
        operation: str,
        figures: Mapping[str, Figure],
        details: Mapping[str, Any] | None = None,
    ) -> OperationPlan:
        """An `OperationPlan` on this target (``table`` is the catalog name, ``ref`` the ref or
        "" for the whole catalog), so renderers and audit show it like a table plan."""
        return OperationPlan(
            operation=operation,
            table=self.catalog,
            ref=self.ref or "",
            snapshot_id=None,
            figures=dict(figures),
            details=dict(details or {}),
        )


class CatalogOperation(ABC):
    """An action on a catalog or one of its references: ``plan`` reads, ``execute`` changes.

    Run it with ``lakehouse.run_catalog(operation, ref)`` (or
    `OperationExecutor.run_catalog`), never on its own: the executor validates the ref, runs the
    hooks' access check on `CatalogTarget.name` (or on `subject` when the operation names a
    table), traces and audits it, plans, and — unless it is a dry run — executes, re-planning
    when ``execute`` raises a retryable `Conflict`.

    Example:
        >>> class DeleteBranch(CatalogOperation):
        ...     name, permission = "ref_delete", "manage_refs"
        ...     def plan(self, target):
        ...         head = target.lakehouse.nessie.get(target.ref)
        ...         return target.plan(self.name, {"refs": 1}, {"hash": head.hash})
        ...     def execute(self, target, plan):
        ...         target.lakehouse.nessie.delete(target.ref)
        ...         return OperationResult.applied(plan)
        >>> lakehouse.run_catalog(DeleteBranch(), "dev", dry_run=True)   # doctest: +SKIP
    """

    #: Operation name used in results, metrics and audit records.
    name: ClassVar[str]
    #: The permission an access-control hook requires for it.
    permission: ClassVar[str]
    #: False for operations that only read.
    mutates: ClassVar[bool] = True

    @abstractmethod
    def plan(self, target: CatalogTarget) -> OperationPlan:
        """Work out what to do; reads only. Raises `RefNotFound` etc. for a bad target."""

    @abstractmethod
    def execute(self, target: CatalogTarget, plan: OperationPlan) -> OperationResult:
        """Carry the plan out. Raise a `Conflict` when the target moved (the executor then
        re-plans), a non-retryable one (``retryable = False``) when re-planning cannot help."""

    def dry_run(self, target: CatalogTarget) -> OperationPlan:
        """The plan alone."""
        return self.plan(target)

    def subject(self, target: CatalogTarget) -> TableIdentifier | None:
        """The table this operation creates or changes by name, if any (a migration's target
        table): access checks and audit records then name that table, not the reference."""
        return None

    def settings(self) -> dict[str, Any]:
        """The operation's arguments, JSON-ready (for audit records and metrics labels)."""
        return {}


@runtime_checkable
class Engine(Protocol):
    """Carries out an operation's plan on a table."""

    name: str

    def execute(
        self, operation: TableOperation, table: LakehouseTable, plan: OperationPlan
    ) -> OperationResult:
        """Execute ``plan``; raise `Conflict` when the table moved in a way the plan cannot
        absorb."""
        ...


#: Either kind of operation the executor runs.
AnyOperation = TableOperation | CatalogOperation


def _summary_line(
    operation: str, table: str, ref: str, figures: Mapping[str, Figure], kind: str
) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in figures.items())
    where = f"{table}@{ref}" if ref else table
    return f"{operation} {where} ({kind}): {shown}"
