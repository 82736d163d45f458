"""`PhloTelemetryHook`: every operation through our executor reported to Phlo's telemetry.

Phlo's maintenance read model (``phlo metrics export --format prometheus``,
``phlo.capabilities.load_maintenance_status``) reads telemetry events: a log event named
``iceberg.maintenance.complete`` per run and metric events ``iceberg.maintenance.*``. This hook
emits the same events phlo-dagster's maintenance jobs emit, through Phlo's own
``TelemetryEventEmitter`` — so they reach Phlo's JSONL file (``PHLO_TELEMETRY_PATH``, default
``.phlo/telemetry/events.jsonl``) and every telemetry hook plugin installed.

Operation names follow Phlo's vocabulary where it has one: optimize → ``compact``, expire →
``expire_snapshots``, vacuum → ``cleanup_orphan_files``; other operations keep their names.
Status is ``success``, ``blocked`` (an expected refusal: access denied, plan stale, conflict) or
``failure``. A telemetry sink that fails is a warning, never a failed operation.

Example:
    >>> PHLO_OPERATION_NAMES["optimize"]
    'compact'
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import AccessDenied, Conflict, RetentionFloorViolation

if TYPE_CHECKING:
    from phlo_lakehouse.operations.executor import OperationContext

logger = logging.getLogger(__name__)

MAINTENANCE_COMPLETE_EVENT = "iceberg.maintenance.complete"
MAINTENANCE_FAILED_EVENT = "iceberg.maintenance.failed"
PHLO_OPERATION_NAMES = {
    "optimize": "compact",
    "expire": "expire_snapshots",
    "vacuum": "cleanup_orphan_files",
}
_MIB = 1024 * 1024
_BLOCKED = (AccessDenied, Conflict, RetentionFloorViolation)


class PhloTelemetryHook:
    """The executor hook that writes Phlo's maintenance telemetry for each run.

    Args:
        job_name: reported as ``job_name`` (e.g. the Dagster job); optional.
        run_id: reported as ``run_id``; optional.

    Example:
        >>> hook = PhloTelemetryHook(job_name="nightly")
        >>> hook.job_name
        'nightly'
    """

    def __init__(self, *, job_name: str | None = None, run_id: str | None = None) -> None:
        self.job_name = job_name
        self.run_id = run_id

    # -- ExecutionHook ---------------------------------------------------------------------------

    def before_plan(self, context: OperationContext) -> None:
        context.timings.setdefault("phlo_telemetry_since", time.perf_counter())

    def after(self, context: OperationContext) -> None:
        result = context.result
        assert result is not None
        figures = result.figures
        snapshots = figures.get("snapshots_to_expire", 0) if result.operation == "expire" else 0
        orphans = figures.get("orphan_files", 0) if result.operation == "vacuum" else 0
        self._emit(
            context,
            status="success",
            duration=result.duration_seconds,
            extra={
                "outcome": "dry_run"
                if result.dry_run
                else ("committed" if result.committed else "no_change"),
                "snapshot_id_before": result.snapshot_id_before,
                "snapshot_id_after": result.snapshot_id_after,
                "snapshots_deleted": 0 if result.dry_run else int(snapshots or 0),
                "candidate_snapshots": int(snapshots or 0),
                "orphan_files": int(orphans or 0),
            },
            committed=result.committed,
        )

    def on_error(self, context: OperationContext, error: BaseException) -> None:
        started = context.timings.get("phlo_telemetry_since")
        status = "blocked" if isinstance(error, _BLOCKED) else "failure"
        self._emit(
            context,
            status=status,
            duration=(time.perf_counter() - started) if started else 0.0,
            extra={"error": str(error)[:300], "error_type": type(error).__name__},
            committed=False,
        )

    # -- emission --------------------------------------------------------------------------------

    def _emit(self, context: OperationContext, **fields: Any) -> None:
        try:
            self._emit_events(context, **fields)
        except Exception as error:  # noqa: BLE001 - a telemetry sink never fails the operation
            from phlo_lakehouse.sinks import sink_failed

            sink_failed(context, "phlo_telemetry", error)

    def _emit_events(
        self,
        context: OperationContext,
        *,
        status: str,
        duration: float,
        extra: dict[str, Any],
        committed: bool,
    ) -> None:
        from phlo.hooks import HookCorrelation, TelemetryEventContext, TelemetryEventEmitter

        operation = PHLO_OPERATION_NAMES.get(context.operation.name, context.operation.name)
        # A catalog-level operation (refs, Nessie GC, migration) has no table: no namespace.
        identifier = context.identifier
        namespace = ".".join(identifier.namespace) if identifier is not None else ""
        ref = context.ref or "main"
        dry_run = str(context.dry_run).lower()
        records, size_mb = _table_totals(context, committed)
        errors = 0 if status == "success" else 1
        payload = {
            "operation": operation,
            "namespace": namespace,
            "ref": ref,
            "table": context.subject,
            "status": status,
            "duration_seconds": round(duration, 6),
            "tables_processed": 1,
            "errors": errors,
            "total_records": records,
            "total_size_mb": size_mb,
            "dry_run": context.dry_run,
            "run_id": self.run_id,
            "job_name": self.job_name,
            "principal": context.principal,
            "provider": "phlo-lakehouse",
            **extra,
        }
        tags = {
            "maintenance": "true",
            "operation": operation,
            "namespace": namespace,
            "ref": ref,
            "dry_run": dry_run,
        }
        correlation = HookCorrelation(run_id=self.run_id, job_name=self.job_name)
        log = TelemetryEventEmitter(TelemetryEventContext(tags=tags, correlation=correlation))
        log.emit_log(name=MAINTENANCE_COMPLETE_EVENT, level="info", payload=payload)
        if status != "success":
            log.emit_log(name=MAINTENANCE_FAILED_EVENT, level="error", payload=payload)
        metric_tags = {**tags, "status": status}
        metrics = TelemetryEventEmitter(
            TelemetryEventContext(tags=metric_tags, correlation=correlation)
        )
        for name, value, unit in (
            ("run", 1, "run"),
            ("duration_seconds", round(duration, 6), "seconds"),
            ("tables_processed", 1, "tables"),
            ("errors", errors, "errors"),
            ("snapshots_deleted", extra.get("snapshots_deleted", 0), "snapshots"),
            ("orphan_files", extra.get("orphan_files", 0), "files"),
            ("total_records", records, "records"),
            ("total_size_mb", size_mb, "mb"),
        ):
            if value is None:
                continue
            metrics.emit_metric(
                name=f"iceberg.maintenance.{name}", value=value, unit=unit, payload=metric_tags
            )


def _table_totals(context: OperationContext, committed: bool) -> tuple[int | None, float | None]:
    """Records and size (MiB) of the table after the run, from its snapshot summary (O(1)): the
    table is re-read only when the run committed."""
    table = context.table
    if table is None:
        return None, None
    if committed:
        table = table.refresh()
    snapshot = table.snapshot
    if snapshot is None or snapshot.summary is None:
        return 0, 0.0
    summary = snapshot.summary
    records = summary.get("total-records")
    size = summary.get("total-files-size")
    return (
        int(records) if records is not None else None,
        round(int(size) / _MIB, 3) if size is not None else None,
    )
