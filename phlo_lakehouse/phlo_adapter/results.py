"""Our plans, results and errors in Phlo's result shape (``MaintenanceOperationResult``).

Phlo reads ``status`` (planned, succeeded, noop, blocked, failed), ``accepted``, ``plan_token`` and
``failure``; its journal records the whole dictionary. Expected refusals — a table that moved
since the plan, access denied, the retention floor, a commit conflict — are ``blocked`` with
``accepted=False``; bad requests and errors are ``failed``. ``failure`` always carries a
one-line ``message`` and a ``hint``, and says whether anything may have changed (``outcome``).

Example:
    >>> from phlo_lakehouse.errors import PlanStale
    >>> failure_of(PlanStale("demo.events moved", hint="plan again"))["code"]
    'plan_stale'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import (
    AccessDenied,
    CatalogUnavailable,
    Conflict,
    InvalidInput,
    LakehouseError,
    NotFound,
    PlanStale,
    RetentionFloorViolation,
)

if TYPE_CHECKING:
    from phlo.capabilities.maintenance import MaintenanceOperationResult

    from phlo_lakehouse.operations.base import OperationPlan, OperationResult

#: Error class → (failure code, blocked?, retry safe?), most specific first.
_FAILURES: tuple[tuple[type[BaseException], str, bool, bool], ...] = (
    (PlanStale, "plan_stale", True, True),
    (RetentionFloorViolation, "retention_floor_violation", True, True),
    (AccessDenied, "access_denied", True, True),
    (Conflict, "concurrent_change", True, True),
    (NotFound, "not_found", False, True),
    (InvalidInput, "invalid_request", False, True),
    (CatalogUnavailable, "catalog_unavailable", False, True),
)
#: Figures that mean "nothing to do" when all are zero.
_WORK = {
    "compact": ("file_groups",),
    "snapshot_expiry": ("snapshots_to_expire", "refs_to_remove"),
}


def failure_of(error: BaseException) -> dict[str, Any]:
    """Phlo's ``failure`` dictionary for ``error``: code, message, hint, retryable, outcome."""
    for kind, code, blocked, retry_safe in _FAILURES:
        if isinstance(error, kind):
            return {
                "code": code,
                "type": type(error).__name__,
                "message": getattr(error, "message", str(error)),
                "hint": getattr(error, "hint", None),
                "retryable": retry_safe,
                "blocked": blocked,
                "outcome": "not_changed",
            }
    known = isinstance(error, LakehouseError)
    return {
        "code": "execution_failed",
        "type": type(error).__name__,
        "message": getattr(error, "message", None) if known else _first_line(error),
        "hint": getattr(error, "hint", None)
        or "check the table with `phlo lakehouse tables stats`; re-plan before retrying",
        "retryable": False,
        "blocked": False,
        # An error after the commit was sent can leave it unknown whether it landed.
        "outcome": "unknown",
    }


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0][:300]}" if text else type(error).__name__


def _result(**fields: Any) -> MaintenanceOperationResult:
    from phlo.capabilities.maintenance import MaintenanceOperationResult, MaintenanceOperationState

    fields["status"] = MaintenanceOperationState(fields["status"])
    return MaintenanceOperationResult(**fields)


def has_work(operation: str, figures: Any) -> bool:
    """True when ``figures`` say the operation has something to do."""
    return any(figures.get(name) for name in _WORK[operation])


def planned_result(
    operation: str,
    plan: OperationPlan,
    *,
    token: str,
    evidence: dict[str, Any],
    operation_id: str | None = None,
) -> MaintenanceOperationResult:
    """A plan in Phlo's shape: ``planned`` (or ``noop``), with the token to apply it."""
    return _result(
        operation=operation,
        table_name=plan.table,
        ref=plan.ref,
        dry_run=True,
        status="planned" if has_work(operation, plan.figures) else "noop",
        accepted=True,
        executed=False,
        before_revision=plan.snapshot_id,
        after_revision=plan.snapshot_id,
        planned=_planned(plan),
        evidence=evidence,
        operation_id=operation_id,
        plan_token=token,
        retry_safe=True,
    )


def executed_result(
    operation: str,
    result: OperationResult,
    *,
    token: str | None,
    evidence: dict[str, Any],
    operation_id: str | None = None,
) -> MaintenanceOperationResult:
    """An execution in Phlo's shape: ``succeeded`` when it committed, else ``noop``."""
    return _result(
        operation=operation,
        table_name=result.table,
        ref=result.ref,
        dry_run=False,
        status="succeeded" if result.committed else "noop",
        accepted=True,
        executed=result.committed,
        before_revision=result.snapshot_id_before,
        after_revision=result.snapshot_id_after,
        planned=_planned(result.plan) if result.plan is not None else {},
        affected=_affected(operation, result),
        evidence={
            **evidence,
            "attempts": result.attempts,
            "duration_seconds": result.duration_seconds,
        },
        operation_id=operation_id,
        plan_token=token,
        retry_safe=not result.committed,
    )


def refused_result(
    operation: str,
    table_name: str,
    ref: str,
    error: BaseException,
    *,
    dry_run: bool,
    token: str | None = None,
    evidence: dict[str, Any] | None = None,
    operation_id: str | None = None,
) -> MaintenanceOperationResult:
    """``error`` as a result: ``blocked`` for expected refusals, else ``failed``; never raised,
    so Phlo's journal records the outcome instead of staying SUBMITTED."""
    failure = failure_of(error)
    return _result(
        operation=operation,
        table_name=table_name,
        ref=ref,
        dry_run=dry_run,
        status="blocked" if failure.pop("blocked") else "failed",
        accepted=False,
        executed=False,
        evidence=evidence or {},
        failure=failure,
        operation_id=operation_id,
        plan_token=token,
        retry_safe=failure["retryable"],
    )


def _planned(plan: OperationPlan) -> dict[str, Any]:
    details = plan.details
    planned: dict[str, Any] = {"figures": dict(plan.figures), "snapshot_id": plan.snapshot_id}
    if plan.operation == "optimize":
        planned["strategy"] = details.get("strategy")
        planned["target_file_size"] = details.get("target_file_size")
        planned["groups"] = [
            {
                "partition": g.get("partition"),
                "files": len(g.get("files", [])),
                "delete_files": len(g.get("delete_files", [])),
                "input_bytes": g.get("input_bytes"),
                "input_records": g.get("input_records"),
                "expected_output_files": g.get("expected_output_files"),
            }
            for g in details.get("groups", [])
        ]
    elif plan.operation == "expire":
        planned["candidate_snapshots"] = list(details.get("expired_snapshot_ids", []))
        planned["refs_to_remove"] = list(details.get("removed_refs", []))
        planned["expire_older_than"] = details.get("expire_older_than")
        planned["reference_time"] = details.get("now")
        planned["files_deleted"] = "files_to_delete" in details
    return planned


def _affected(operation: str, result: OperationResult) -> dict[str, Any]:
    figures, details = result.figures, result.details
    if operation == "compact":
        return {
            "files_rewritten": figures.get("files_to_rewrite", 0),
            "bytes_rewritten": figures.get("bytes_to_rewrite", 0),
            "rows_rewritten": figures.get("rows_to_rewrite", 0),
            "files_written": len(details.get("files_written", [])),
            "bytes_written": details.get("bytes_written", 0),
            "rows_written": details.get("rows_written", 0),
            "delete_files_removed": len(details.get("delete_files_removed", [])),
            "commits": details.get("commits", 0),
        }
    files = details.get("files_to_delete") or {}
    return {
        "deleted_snapshots": figures.get("snapshots_to_expire", 0),
        "removed_refs": figures.get("refs_to_remove", 0),
        "retained_snapshots": figures.get("snapshots_retained", 0),
        "deleted_files": sum(len(paths) for paths in files.values()),
        "files_left_in_place": "files_to_delete" not in details,
    }
