"""Phlo's ``maintenance_executor`` capability, named ``compact`` and ``snapshot_expiry``.

Two contracts meet here, both on the same operations and the same single execution path
(access checks, Phlo authorization, telemetry, audit):

- ``phlo operations maintenance plan|apply`` calls ``plan(table_name=, ref=)`` and later
  ``execute(table_name=, ref=, plan_token=)``. The token binds the plan to the table (uuid,
  snapshot id at the ref, settings, plan fingerprint); ``execute`` plans again with the token's
  settings inside the executor and refuses — ``blocked``, nothing changed — unless the new plan is
  the confirmed one. Expected refusals and failures are results, never exceptions: an exception
  would leave Phlo's journal record SUBMITTED.
- phlo-dagster's ``MaintenanceExecutor`` protocol (``for_ref``, ``compact_table``,
  ``expire_snapshots_table``), which it checks with ``isinstance``. There, as Phlo's own
  providers do, a refusal before anything changed raises ``MaintenancePreconditionError`` and a
  failure raises ``MaintenanceExecutionError`` with the phase it happened in.

Example:
    >>> executor = SnapshotExpiryExecutor(env={"PHLO_LAKEHOUSE_HOME": "/tmp/lh"})
    >>> executor.for_ref("dev").default_ref
    'dev'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from phlo_lakehouse.errors import InvalidInput, LakehouseError, PlanStale
from phlo_lakehouse.identifiers import parse_table_identifier
from phlo_lakehouse.phlo_adapter import requests, results
from phlo_lakehouse.phlo_adapter.environment import LakehouseFromEnvironment
from phlo_lakehouse.phlo_adapter.tokens import PlanToken, plan_fingerprint

if TYPE_CHECKING:
    from phlo.capabilities.maintenance import MaintenanceOperationResult

    from phlo_lakehouse.operations.base import OperationPlan, OperationResult, TableOperation
    from phlo_lakehouse.table import LakehouseTable

PROVIDER = "phlo-lakehouse"


class _Seen:
    """A plan check that remembers the table and plan it saw (for the token and evidence)."""

    def __init__(self) -> None:
        self.table: LakehouseTable | None = None
        self.plan: OperationPlan | None = None

    def __call__(self, table: LakehouseTable, plan: OperationPlan) -> None:
        self.table, self.plan = table, plan


class LakehouseMaintenanceExecutor(LakehouseFromEnvironment):
    """One of Phlo's maintenance executors, backed by phlo-lakehouse.

    Args:
        ref: the ref `for_ref` bound this executor to (default: the catalog's default ref).
        lakehouse: the lakehouse to use (default: built from the environment on first use).
        env: the environment settings are read from (default: ``os.environ``).
    """

    #: Phlo's operation name.
    operation: ClassVar[str]

    @property
    def default_ref(self) -> str:
        """The ref used when a call names none."""
        return self._ref or self.lakehouse().settings.default_ref

    @property
    def bound_ref(self) -> str | None:
        """The ref `for_ref` bound this executor to, or None."""
        return self._ref

    def for_ref(self, ref: str) -> LakehouseMaintenanceExecutor:
        """This executor bound to ``ref`` (phlo-dagster's ``MaintenanceExecutor.for_ref``)."""
        return type(self)(ref=ref, lakehouse=self._lakehouse, env=self._env)

    # -- Phlo CLI: plan / execute / inventory -------------------------------------------------

    def plan(self, *, table_name: str, ref: str | None = None) -> MaintenanceOperationResult:
        """Plan ``table_name`` at ``ref`` (no change); the result carries the plan token."""
        ref = ref or self._ref or "main"
        try:
            settings = self._settings()
            operation = requests.build_operation(self.operation, settings)
            seen = _Seen()
            result = self._run(self.operation, operation, table_name, ref, seen, dry_run=True)
            assert result.plan is not None and seen.table is not None
            token = self._token(seen.table, result.plan, settings)
            return results.planned_result(
                self.operation,
                result.plan,
                token=token.encode(),
                evidence=self._evidence(seen.table),
                operation_id=self._operation_id(table_name, ref),
            )
        except Exception as error:  # noqa: BLE001 - every refusal and failure is a result
            return results.refused_result(
                self.operation, table_name, ref, error, dry_run=True, evidence=self._base()
            )

    def execute(
        self, *, table_name: str, ref: str | None = None, plan_token: str
    ) -> MaintenanceOperationResult:
        """Execute the plan ``plan_token`` confirmed, or refuse (``blocked``) if the table moved."""
        ref = ref or self._ref or "main"
        seen = _Seen()
        try:
            token = PlanToken.decode(plan_token)
            self._check_token_target(token, table_name, ref)
            operation = requests.build_operation(self.operation, token.settings)
            result = self._run(
                self.operation, operation, table_name, ref, requests.check_token(token), seen
            )
            return results.executed_result(
                self.operation,
                result,
                token=plan_token,
                evidence=self._evidence(seen.table),
                operation_id=self._operation_id(table_name, ref),
            )
        except Exception as error:  # noqa: BLE001 - every refusal and failure is a result
            return results.refused_result(
                self.operation,
                table_name,
                ref,
                error,
                dry_run=False,
                token=plan_token,
                evidence=self._evidence(seen.table),
                operation_id=self._operation_id(table_name, ref),
            )

    def get_inventory(self) -> list[dict[str, Any]]:
        """Every table on the default ref with its stats and this operation's state."""
        from phlo_lakehouse.phlo_adapter.inventory import inventory

        return inventory(self)

    # -- phlo-dagster: MaintenanceExecutor protocol -------------------------------------------

    def compact_table(
        self,
        *,
        table_name: str,
        ref: str,
        expected_revision: str | int | None = None,
        operation_id: str | None = None,
    ) -> dict[str, Any]:
        """Compact ``table_name`` at ``ref`` if its head is still ``expected_revision``."""
        settings = self._guard(lambda: requests.compact_settings(self.env))
        return self._protocol_run("compact", settings, table_name, ref, expected_revision)

    def expire_snapshots_table(
        self,
        *,
        table_name: str,
        ref: str,
        expected_revision: str | int | None,
        retention_hours: int,
        retain_last: int,
        operation_id: str | None = None,
    ) -> dict[str, Any]:
        """Expire snapshots older than ``retention_hours`` (≥ 168), keeping ``retain_last``."""
        settings = {
            "older_than": f"{int(retention_hours)}h",
            "retain_last": int(retain_last),
            "delete_files": not self.lakehouse().is_nessie,
            "now": datetime.now(UTC).isoformat(),
        }
        return self._protocol_run("snapshot_expiry", settings, table_name, ref, expected_revision)

    # -- internals -----------------------------------------------------------------------------

    def _settings(self) -> dict[str, Any]:
        if self.operation == "compact":
            return requests.compact_settings(self.env)
        return requests.expiry_settings(self.env, nessie=self.lakehouse().is_nessie)

    def _run(
        self,
        phlo_operation: str,
        operation: TableOperation,
        table_name: str,
        ref: str,
        *checks: Callable[[LakehouseTable, OperationPlan], None],
        dry_run: bool = False,
        max_attempts: int = 1,
    ) -> OperationResult:
        from phlo_lakehouse.operations import OperationExecutor

        floor = (requests.check_retention_floor,) if phlo_operation == "snapshot_expiry" else ()
        bound = requests.PlanBoundOperation(operation, *floor, *checks)
        lakehouse = self.lakehouse()
        # One attempt: a commit conflict is reported, never silently re-planned into a plan
        # nobody confirmed.
        executor = OperationExecutor(lakehouse, lakehouse.hooks, max_attempts=max_attempts)
        return executor.run(bound, table_name, ref, dry_run=dry_run, principal=self._principal())

    def _token(
        self, table: LakehouseTable, plan: OperationPlan, settings: Mapping[str, Any]
    ) -> PlanToken:
        return PlanToken(
            operation=self.operation,
            table=plan.table,
            ref=plan.ref,
            table_uuid=str(table.table.metadata.table_uuid),
            snapshot_id=plan.snapshot_id,
            settings=settings,
            fingerprint=plan_fingerprint(plan.figures, plan.details),
        )

    def _check_token_target(self, token: PlanToken, table_name: str, ref: str) -> None:
        table = str(parse_table_identifier(table_name))
        if (token.operation, token.table, token.ref) != (self.operation, table, ref):
            raise InvalidInput(
                f"the plan token is for {token.operation} of {token.table}@{token.ref}, "
                f"not {self.operation} of {table}@{ref}",
                hint="apply the plan file the token came from",
            )

    def _principal(self) -> str | None:
        """Phlo's identity for our access checks: PHLO_SERVICE_ACCOUNT, then PHLO_AUTH_SUBJECT
        (else our own default: PHLO_LAKEHOUSE_PRINCIPAL, then the OS user)."""
        return self.env.get("PHLO_SERVICE_ACCOUNT") or self.env.get("PHLO_AUTH_SUBJECT") or None

    def _operation_id(self, table_name: str, ref: str) -> str:
        # The id Phlo's journal gives the same apply.
        return f"{self.operation}:{table_name}:{ref}"

    def _base(self) -> dict[str, Any]:
        from phlo_lakehouse.cli.main import package_version

        evidence: dict[str, Any] = {
            "provider": PROVIDER,
            "version": package_version(),
            "engine": "local",
        }
        try:
            evidence["catalog"] = self.lakehouse().settings.describe()
        except LakehouseError:
            pass
        return evidence

    def _evidence(self, table: LakehouseTable | None) -> dict[str, Any]:
        evidence = self._base()
        if table is not None:
            evidence["table_uuid"] = str(table.table.metadata.table_uuid)
            evidence["metadata_location"] = table.table.metadata_location
            evidence["nessie"] = table.nessie
        return evidence

    @staticmethod
    def _guard(fn: Callable[[], Any]) -> Any:
        from phlo.capabilities.maintenance import MaintenancePreconditionError

        try:
            return fn()
        except LakehouseError as error:
            raise MaintenancePreconditionError(str(error)) from error

    def _protocol_run(
        self,
        operation: str,
        settings: Mapping[str, Any],
        table_name: str,
        ref: str,
        expected_revision: str | int | None,
    ) -> dict[str, Any]:
        from phlo.capabilities.maintenance import (
            MaintenanceExecutionError,
            MaintenanceExecutionPhase,
            MaintenancePreconditionError,
        )

        ref = ref or self._ref or "main"
        built = self._guard(lambda: requests.build_operation(operation, settings))
        seen = _Seen()
        checks = [seen] if expected_revision is None else [_expect(expected_revision), seen]
        try:
            result = self._run(operation, built, table_name, ref, *checks)
        except Exception as error:
            failure = results.failure_of(error)
            if failure["code"] == "catalog_unavailable":
                raise MaintenanceExecutionError(
                    MaintenanceExecutionPhase.PREFLIGHT, error
                ) from error
            if failure["outcome"] == "not_changed":  # refused before anything changed
                raise MaintenancePreconditionError(failure["message"]) from error
            # It may have failed after the commit was sent: the outcome is unknown.
            raise MaintenanceExecutionError(MaintenanceExecutionPhase.SUBMISSION, error) from error
        shaped = results.executed_result(
            operation, result, token=None, evidence=self._evidence(seen.table)
        ).to_dict()
        return {
            **shaped,
            "catalog": self.lakehouse().settings.name,
            "sql": None,
            "preflight": {"snapshot_id": result.snapshot_id_before},
            "retain_last": {"requested": settings.get("retain_last"), "enforced": True},
        }


def _expect(revision: str | int) -> Callable[[LakehouseTable, OperationPlan], None]:
    def check(table: LakehouseTable, plan: OperationPlan) -> None:
        if str(plan.snapshot_id) != str(revision):
            raise PlanStale(
                f"{table} moved before execution (expected snapshot {revision}, found "
                f"{plan.snapshot_id}); nothing was changed",
                hint="plan again with the current snapshot",
            )

    return check


class CompactExecutor(LakehouseMaintenanceExecutor):
    """Phlo's ``compact``: `OptimizeOperation` (settings: ``PHLO_LAKEHOUSE_COMPACT``)."""

    operation = "compact"


class SnapshotExpiryExecutor(LakehouseMaintenanceExecutor):
    """Phlo's ``snapshot_expiry``: `ExpireSnapshotsOperation` at ≥ 168 hours
    (settings: ``PHLO_LAKEHOUSE_SNAPSHOT_EXPIRY``)."""

    operation = "snapshot_expiry"
