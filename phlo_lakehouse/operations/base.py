"""`TableOperation`: ``plan`` (a pure read) then ``execute`` (commits), with frozen, JSON-ready
plans and results that print the same figures.

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
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
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

    def settings(self) -> dict[str, Any]:
        """The operation's arguments, JSON-ready (for audit records and metrics labels)."""
        return {}


def _summary_line(
    operation: str, table: str, ref: str, figures: Mapping[str, Figure], kind: str
) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in figures.items())
    return f"{operation} {table}@{ref} ({kind}): {shown}"
