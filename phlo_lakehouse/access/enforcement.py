"""`AccessControlHook`: the executor hook that checks every operation and audits every attempt.

Because it is a hook of the single executor, the Python API, the CLI and the Dagster ops are all
checked and audited the same way, dry runs included. The principal is resolved by the executor,
in this order: explicit argument (the Dagster layer passes the run tag ``phlo/principal``), the
``PHLO_LAKEHOUSE_PRINCIPAL`` environment variable, then the OS user.

A denied operation raises `AccessDenied` naming the missing permission before anything is
planned, so nothing is read beyond the table's metadata and nothing changes.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from phlo_lakehouse.access.policy import Permission, normalize_principal
from phlo_lakehouse.errors import AccessDenied

if TYPE_CHECKING:
    from phlo_lakehouse.access.audit import AuditLogger
    from phlo_lakehouse.access.store import AccessControlProvider
    from phlo_lakehouse.operations.executor import OperationContext


class AccessControlHook:
    """Checks ``operation.permission`` on the run's resource and audits the outcome.

    The resource is ``<catalog>.<namespace>.<table>`` for a table operation and for a
    catalog-level operation that names a table (migration), ``<catalog>@<ref>`` for one on a
    reference (Nessie reference changes, merges, publishing) and ``<catalog>`` for one on the
    whole catalog (Nessie GC); see `OperationContext.resource`.

    Args:
        provider: decides requests; None audits without enforcing.
        audit: where records go; None enforces without auditing.
    """

    def __init__(
        self, provider: AccessControlProvider | None, audit: AuditLogger | None = None
    ) -> None:
        self.provider = provider
        self.audit = audit

    @staticmethod
    def resource(context: OperationContext) -> str:
        """The resource the run is checked and audited on."""
        return context.resource

    def before_plan(self, context: OperationContext) -> None:
        if self.audit is not None and not context.dry_run and context.operation.mutates:
            # Fail closed: an operation that could not be audited does not run — checked before
            # anything is planned, so nothing is changed (after the commit it would be too late).
            self.audit.check_available()
        permission = Permission.parse(context.operation.permission)
        context.extras["permission"] = permission.value
        if self.provider is None:
            context.extras["decision"] = "not_enforced"
            return
        decision = self.provider.decide(context.principal, self.resource(context), permission)
        context.extras["decision"] = "allow" if decision.allowed else "deny"
        context.extras["reason"] = decision.reason
        if not decision.allowed:
            raise AccessDenied(
                f"{normalize_principal(context.principal)} lacks permission "
                f"{permission.value!r} on {self.resource(context)} ({decision.reason})",
                hint=f"ask an admin: phlo-lakehouse access grant {context.principal} "
                f"{self.resource(context)} {permission.value}",
            )

    def after(self, context: OperationContext) -> None:
        result = context.result
        assert result is not None
        outcome = "dry_run" if result.dry_run else ("committed" if result.committed else "done")
        digest = (
            hashlib.sha256(context.plan.to_json().encode()).hexdigest() if context.plan else None
        )
        self._log_after_the_fact(context, outcome, digest, result.figures)

    def on_error(self, context: OperationContext, error: BaseException) -> None:
        outcome = "denied" if isinstance(error, AccessDenied) else f"failed: {type(error).__name__}"
        self._log_after_the_fact(context, outcome, None, {"error": str(error)[:300]})

    def _log_after_the_fact(
        self, context: OperationContext, outcome: str, digest: str | None, details: object
    ) -> None:
        """The audit record of a run that already happened: a failure to write it cannot undo
        the run, so it is a warning and a counted sink failure (`phlo_lakehouse.sinks`)."""
        try:
            self._log(context, outcome, digest, details)
        except Exception as error:  # noqa: BLE001 - never fail (or mask) what already ran
            from phlo_lakehouse.sinks import sink_failed

            sink_failed(context, "audit", error)

    def _log(
        self, context: OperationContext, outcome: str, digest: str | None, details: object
    ) -> None:
        if self.audit is None:
            return
        self.audit.log_access(
            normalize_principal(context.principal),
            self.resource(context),
            context.operation.name,
            context.extras.get("decision", "unchecked"),
            outcome,
            plan_digest=digest,
            details={"dry_run": context.dry_run, "ref": context.ref, "figures": details},
        )
