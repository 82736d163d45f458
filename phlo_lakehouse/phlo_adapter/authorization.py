"""`PhloAuthorizationHook`: our executor asks Phlo's authorization policy backend too.

How our access control meets Phlo's:

- When Phlo enforces authorization — regulated mode (``PHLO_REGULATED=true``) or a configured
  backend (``PHLO_AUTHORIZATION_BACKEND`` / phlo.yaml) — every operation through our executor
  is decided by Phlo's core ``enforce()``: the caller's Phlo identity (``PHLO_SERVICE_ACCOUNT``,
  ``PHLO_AUTH_SUBJECT``/``PHLO_AUTH_GROUPS``) is canonicalized by Phlo's identity bridge, the
  configured ``authorization_policy_backend`` decides, and Phlo writes its own audit event.
  Mutating runs ask for Phlo's canonical action ``dataset.write``, plans and dry runs for
  ``dataset.read``, on resource type ``dataset`` with the table's ``namespace.table`` as id;
  catalog-level operations (refs, merges, Nessie GC) ask for ``catalog.manage`` /
  ``catalog.read`` on resource type ``catalog`` (id ``<catalog>@<ref>`` or ``<catalog>``).
  Phlo's ``phlo operations maintenance apply`` does not authorize itself (its command is not in
  Phlo's mutation list), so this hook is what guards it.
- Our own SQL policies (``PHLO_LAKEHOUSE_ACCESS_CONTROL=true``) still apply as well: both must
  allow, and our audit chain records the attempt either way.
- We do not register our SQL store as an ``authorization_policy_backend``: Phlo resolves that
  family without a name when none is configured, and a second backend would make that
  resolution ambiguous — failing closed in regulated mode.

A denial raises `AccessDenied` before anything is planned; Phlo's executor adapter turns it into
a ``blocked`` result.

Example:
    >>> PhloAuthorizationHook().surface
    'lakehouse'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from phlo_lakehouse.errors import AccessDenied

if TYPE_CHECKING:
    from phlo_lakehouse.operations.executor import OperationContext

#: (resource type, action when it changes something, action when it only reads)
TABLE_ACTIONS = ("dataset", "dataset.write", "dataset.read")
CATALOG_ACTIONS = ("catalog", "catalog.manage", "catalog.read")


def phlo_authorization_active(env: Mapping[str, str] | None = None) -> bool:
    """True when Phlo enforces authorization: regulated mode or a configured backend."""
    from phlo.infrastructure.config import get_configured_authorization_backend_name
    from phlo.security.mode import is_regulated

    env = os.environ if env is None else env
    if env.get("PHLO_AUTHORIZATION_BACKEND", "").strip():
        return True
    return bool(is_regulated() or get_configured_authorization_backend_name())


class PhloAuthorizationHook:
    """The executor hook that lets Phlo's policy decision point allow or deny each operation.

    Args:
        surface: the surface name in Phlo's audit events.
    """

    def __init__(self, *, surface: str = "lakehouse") -> None:
        self.surface = surface

    def before_plan(self, context: OperationContext) -> None:
        if not phlo_authorization_active():
            context.extras["phlo_decision"] = "not_enforced"
            return
        from phlo.capabilities.interfaces import ResourceRef
        from phlo.cli.authorization import CliPrincipalResolver
        from phlo.security.enforcement import enforce

        writes = context.operation.mutates and not context.dry_run
        kind, write, read = TABLE_ACTIONS if context.identifier is not None else CATALOG_ACTIONS
        action = write if writes else read
        resource = ResourceRef(
            resource_type=kind,
            resource_id=context.subject,
            attributes={
                "catalog": context.catalog,
                "ref": context.ref or "main",
                "operation": context.operation.name,
            },
        )
        principal = CliPrincipalResolver.resolve()
        result = enforce(
            principal,
            action,
            resource,
            surface=self.surface,
            request_id=os.environ.get("PHLO_REQUEST_ID"),
        )
        context.extras["phlo_decision"] = result.variant
        if not result.allowed:
            reason = result.explanation or result.reason_code or "denied"
            raise AccessDenied(
                f"Phlo denies {principal.subject} {action} on {kind} {context.subject} ({reason})",
                hint="grant it in .phlo/authorization/policies.yaml, or act as a principal "
                "that has it (PHLO_AUTH_SUBJECT / PHLO_SERVICE_ACCOUNT)",
            )

    def after(self, context: OperationContext) -> None:
        """Nothing: Phlo's ``enforce()`` already wrote its audit event."""

    def on_error(self, context: OperationContext, error: BaseException) -> None:
        """Nothing: Phlo's ``enforce()`` already wrote its audit event."""
