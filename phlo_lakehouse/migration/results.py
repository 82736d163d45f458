"""Results of a migration: `TableMigrationResult` per table and `MigrationSummary` per run, frozen
and JSON-ready like the executor's `OperationResult`.

Example:
    >>> summary = MigrationSummary("hive", "snapshot", True, ())
    >>> summary.ok, summary.figures["tables"]
    (True, 0)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phlo_lakehouse.errors import LakehouseError
    from phlo_lakehouse.operations.base import Figure, OperationResult

FIGURES = ("data_files", "bytes", "partitions", "records")
_STATUSES = ("planned", "migrated", "skipped", "failed")


@dataclass(frozen=True)
class TableMigrationResult:
    """What happened to one source table.

    Attributes:
        source / target: the identifiers (target as it is or will be named).
        status: ``planned`` (dry run), ``migrated``, ``skipped`` or ``failed``.
        action: the planned action (None when planning itself failed).
        figures: data_files, bytes, partitions, records (None when unknown).
        steps: what was (or would be) done, one line each.
        message / hint: why it was skipped or what failed, and what to do.
        validation: the validation report when one ran (as a dict).
        result: the operation result the hooks saw.
    """

    source: str
    target: str
    status: str
    action: str | None
    figures: Mapping[str, Figure] = field(default_factory=dict)
    steps: tuple[str, ...] = ()
    message: str | None = None
    hint: str | None = None
    validation: Mapping[str, Any] | None = None
    result: OperationResult | None = None

    @classmethod
    def failed(cls, source: str, target: str, error: LakehouseError) -> TableMigrationResult:
        """The result for a table whose planning or migration raised ``error``."""
        report = getattr(error, "report", None)  # a ValidationFailed carries its report
        return cls(
            source=source,
            target=target,
            status="failed",
            action=None,
            message=error.message,
            hint=error.hint,
            validation=report.to_dict() if report is not None else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form."""
        return {
            "source": self.source,
            "target": self.target,
            "status": self.status,
            "action": self.action,
            "figures": dict(self.figures),
            "steps": list(self.steps),
            "message": self.message,
            "hint": self.hint,
            "validation": self.validation,
        }

    def summary(self) -> str:
        """One line: source, target, status, action and figures (or the reason)."""
        head = f"{self.source} -> {self.target}: {self.status}"
        if self.action:
            head += f" ({self.action})"
        shown = ", ".join(f"{k}={v}" for k, v in self.figures.items() if v is not None)
        tail = self.message if self.status in ("failed", "skipped") and self.message else shown
        if self.status == "failed" and self.hint:
            tail += f" (hint: {self.hint})"
        return f"{head} {tail}".rstrip()


@dataclass(frozen=True)
class MigrationSummary:
    """A run over many tables: one `TableMigrationResult` each, and totals.

    Example:
        >>> MigrationSummary("hive", "snapshot", True, ()).figures["tables"]
        0
    """

    kind: str
    mode: str
    dry_run: bool
    tables: tuple[TableMigrationResult, ...]
    duration_seconds: float = 0.0

    @property
    def failed(self) -> list[TableMigrationResult]:
        """The tables that failed."""
        return [t for t in self.tables if t.status == "failed"]

    @property
    def ok(self) -> bool:
        """True when no table failed."""
        return not self.failed

    @property
    def figures(self) -> dict[str, int]:
        """Counts per status and summed figures of the tables that were (or would be) migrated."""
        counts = {s: sum(1 for t in self.tables if t.status == s) for s in _STATUSES}
        moved = [t for t in self.tables if t.status in ("planned", "migrated")]
        sums = {k: sum(int(t.figures.get(k) or 0) for t in moved) for k in FIGURES}
        return {"tables": len(self.tables), **counts, **sums}

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form."""
        return {
            "kind": self.kind,
            "mode": self.mode,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "figures": self.figures,
            "duration_seconds": round(self.duration_seconds, 3),
            "tables": [t.to_dict() for t in self.tables],
        }

    def to_json(self) -> str:
        """The summary as JSON text."""
        return json.dumps(self.to_dict(), sort_keys=True, default=str)

    def summary(self) -> str:
        """One line per table, then the totals."""
        figures = self.figures
        kind = "dry run" if self.dry_run else "run"
        totals = (
            f"{self.kind} migration ({self.mode}, {kind}): {figures['tables']} table(s), "
            + ", ".join(f"{s} {figures[s]}" for s in _STATUSES if figures[s])
        )
        return "\n".join([*(t.summary() for t in self.tables), totals.rstrip(", ")])


def table_result(result: OperationResult) -> TableMigrationResult:
    """The `TableMigrationResult` of an executed (or dry-run) migration plan."""
    details = dict(result.details)
    action = details.get("action")
    if action == "skip":
        status = "skipped"
    elif result.dry_run:
        status = "planned"
    else:
        status = "migrated"
    return TableMigrationResult(
        source=str(details.get("source")),
        target=str(details.get("target", result.table)),
        status=status,
        action=action,
        figures=dict(result.figures),
        steps=tuple(details.get("steps", ())),
        message=details.get("reason"),
        validation=details.get("validation"),
        result=result,
    )
