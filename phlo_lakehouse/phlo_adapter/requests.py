"""Phlo's maintenance operations as phlo-lakehouse operations: settings, the retention floor, and
the operation that executes only the plan a token confirmed.

Phlo names two operations; each maps onto one of ours:

- ``compact`` → `OptimizeOperation` (arguments from ``PHLO_LAKEHOUSE_COMPACT``, a JSON object,
  e.g. ``{"target_file_size": "128MB"}``);
- ``snapshot_expiry`` → `ExpireSnapshotsOperation` (``PHLO_LAKEHOUSE_SNAPSHOT_EXPIRY``, default
  ``{"older_than": "7d"}``). Phlo refuses retention under 168 hours (``SAFE_MIN_RETENTION_HOURS``)
  and so do we: a shorter ``older_than`` — or a plan that would expire a younger snapshot
  because a ref's own ``max-snapshot-age-ms`` is shorter — is refused, never clamped. On Nessie
  the files stay in place (``delete_files=False``): other references may still need them.

Example:
    >>> compact_settings({"PHLO_LAKEHOUSE_COMPACT": '{"min_input_files": 3}'})
    {'min_input_files': 3}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import InvalidConfig, PlanStale, RetentionFloorViolation
from phlo_lakehouse.operations import operation_for
from phlo_lakehouse.operations.base import TableOperation
from phlo_lakehouse.units import parse_duration

if TYPE_CHECKING:
    from phlo_lakehouse.operations.base import OperationPlan, OperationResult
    from phlo_lakehouse.phlo_adapter.tokens import PlanToken
    from phlo_lakehouse.table import LakehouseTable

#: Phlo's operation names → ours.
OPERATION_KINDS = {"compact": "optimize", "snapshot_expiry": "expire"}
#: Phlo's floor for destructive retention (phlo.capabilities.maintenance.SAFE_MIN_RETENTION_HOURS).
SAFE_MIN_RETENTION = timedelta(hours=7 * 24)
COMPACT_ENV = "PHLO_LAKEHOUSE_COMPACT"
SNAPSHOT_EXPIRY_ENV = "PHLO_LAKEHOUSE_SNAPSHOT_EXPIRY"
DEFAULT_EXPIRY = {"older_than": "7d"}
#: Arguments a Phlo request may not set (they belong to a fan-out or to the executor itself).
_RESERVED = {"compact": {"files", "partial_progress"}, "snapshot_expiry": {"now", "delete_files"}}


def _env_settings(env: Mapping[str, str], name: str, operation: str) -> dict[str, Any]:
    raw = env.get(name, "").strip()
    if not raw:
        return {}
    try:
        settings = json.loads(raw)
    except json.JSONDecodeError as e:
        raise InvalidConfig(
            f"{name} is not JSON: {e.msg} at character {e.pos}",
            hint=f'set {name} to a JSON object, e.g. {name}=\'{{"older_than": "10d"}}\'',
        ) from e
    if not isinstance(settings, dict):
        raise InvalidConfig(f"{name} must be a JSON object", hint='e.g. {"min_input_files": 5}')
    reserved = sorted(set(settings) & _RESERVED[operation])
    if reserved:
        raise InvalidConfig(
            f"{name} may not set {', '.join(reserved)}",
            hint="the executor sets these itself; remove them",
        )
    return settings


def compact_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The compaction arguments configured in ``PHLO_LAKEHOUSE_COMPACT``.

    Raises:
        InvalidConfig: the variable is not a JSON object or sets a reserved argument.
    """
    return _env_settings(env, COMPACT_ENV, "compact")


def expiry_settings(
    env: Mapping[str, str], *, nessie: bool, now: datetime | None = None
) -> dict[str, Any]:
    """The expiry arguments for a plan made ``now``: configured ones, the reference time fixed
    (so executing the plan later expires exactly what was planned) and files kept on Nessie.

    Raises:
        InvalidConfig: ``PHLO_LAKEHOUSE_SNAPSHOT_EXPIRY`` is malformed.
    """
    settings = {**DEFAULT_EXPIRY, **_env_settings(env, SNAPSHOT_EXPIRY_ENV, "snapshot_expiry")}
    settings["now"] = (now or datetime.now(UTC)).isoformat()
    settings["delete_files"] = not nessie
    return settings


def build_operation(operation: str, settings: Mapping[str, Any]) -> TableOperation:
    """Our operation for Phlo's ``operation`` with ``settings`` (validated, floor checked).

    Raises:
        InvalidInput: a malformed argument.
        RetentionFloorViolation: an expiry ``older_than`` under 168 hours.
    """
    kwargs = dict(settings)
    if operation == "snapshot_expiry":
        older_than = parse_duration(kwargs.get("older_than", "7d"), name="older_than")
        if older_than < SAFE_MIN_RETENTION:
            raise RetentionFloorViolation(
                f"older_than={kwargs.get('older_than')!r} is under Phlo's 168-hour retention floor",
                hint=f"set {SNAPSHOT_EXPIRY_ENV} older_than to 7d or more",
            )
        if isinstance(kwargs.get("now"), str):
            kwargs["now"] = datetime.fromisoformat(kwargs["now"])
    return operation_for(OPERATION_KINDS[operation], **kwargs)


def check_retention_floor(table: LakehouseTable, plan: OperationPlan) -> None:
    """Refuse an expiry plan that would expire a snapshot younger than 168 hours (a ref's own
    ``max-snapshot-age-ms`` can be shorter than ``older_than``).

    Raises:
        RetentionFloorViolation: such a snapshot is in the plan.
    """
    now = datetime.fromisoformat(plan.details["now"])
    floor_ms = int((now - SAFE_MIN_RETENTION).timestamp() * 1000)
    by_id = {s.snapshot_id: s for s in table.table.metadata.snapshots}
    young = [
        i
        for i in plan.details.get("expired_snapshot_ids", [])
        if i in by_id and by_id[i].timestamp_ms > floor_ms
    ]
    if young:
        raise RetentionFloorViolation(
            f"the plan would expire {len(young)} snapshot(s) younger than 168 hours "
            f"(e.g. {young[0]}): a ref's history.expire settings are shorter than Phlo's floor",
            hint="raise the ref's max-snapshot-age-ms to 168 hours or more",
        )


def check_token(token: PlanToken) -> Callable[[LakehouseTable, OperationPlan], None]:
    """A plan check that refuses unless the plan matches what ``token`` confirmed.

    Example:
        >>> from phlo_lakehouse.phlo_adapter.tokens import PlanToken
        >>> callable(check_token(PlanToken("compact", "a.b", "main", "u", 1)))
        True
    """
    from phlo_lakehouse.phlo_adapter.tokens import plan_fingerprint

    def check(table: LakehouseTable, plan: OperationPlan) -> None:
        uuid = str(table.table.metadata.table_uuid)
        if uuid != token.table_uuid:
            raise PlanStale(
                f"{table.identifier} was dropped and re-created since the plan "
                f"(uuid {token.table_uuid} → {uuid}); nothing was changed",
                hint="plan again: phlo operations maintenance plan",
            )
        if plan.snapshot_id != token.snapshot_id:
            raise PlanStale(
                f"{table} moved since the plan (snapshot {token.snapshot_id} → "
                f"{plan.snapshot_id}); nothing was changed",
                hint="plan again: phlo operations maintenance plan",
            )
        if plan_fingerprint(plan.figures, plan.details) != token.fingerprint:
            raise PlanStale(
                f"the plan for {table} is no longer the one confirmed (table properties or "
                "metadata changed since); nothing was changed",
                hint="plan again: phlo operations maintenance plan",
            )

    return check


class PlanBoundOperation(TableOperation):
    """``inner``, whose plans must pass ``checks`` before anything executes.

    The check runs inside the executor, on the very plan that is then executed, so no table
    change can slip in between the check and the execution; access checks and hooks apply as to
    any operation.

    Args:
        inner: the operation to run.
        checks: called with the table and each plan; raise to refuse.
    """

    def __init__(
        self,
        inner: TableOperation,
        *checks: Callable[[LakehouseTable, OperationPlan], None],
    ) -> None:
        self.inner = inner
        self.checks = checks
        # Hooks, metrics and the audit log name the operation, not this wrapper.
        self.name = inner.name  # type: ignore[misc]
        self.permission = inner.permission  # type: ignore[misc]
        self.mutates = inner.mutates  # type: ignore[misc]

    def plan(self, table: LakehouseTable) -> OperationPlan:
        plan = self.inner.plan(table)
        for check in self.checks:
            check(table, plan)
        return plan

    def execute(self, table: LakehouseTable, plan: OperationPlan) -> OperationResult:
        return self.inner.execute(table, plan)

    def settings(self) -> dict[str, Any]:
        return self.inner.settings()
