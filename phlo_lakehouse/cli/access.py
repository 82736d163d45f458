"""``access grant|revoke|list|check|audit|verify|sync``: policies and the audit log.

The store is ``PHLO_LAKEHOUSE_ACCESS_DB`` (default ``sqlite:///<home>/access.db``); enforcement on
every other command is switched on with ``PHLO_LAKEHOUSE_ACCESS_CONTROL=true``.

Example:
    $ phlo-lakehouse access grant group:eng 'lakehouse.raw.*' optimize expire --yes
    $ phlo-lakehouse access check alice lakehouse.raw.events optimize
    $ phlo-lakehouse access sync access.yaml --yes
    $ phlo-lakehouse access verify
"""

from __future__ import annotations

import click

from phlo_lakehouse.cli.apply import Confirmation, confirm_change, confirmed, show_document
from phlo_lakehouse.cli.command import LakehouseGroup, current_state
from phlo_lakehouse.cli.output import emit_json, render_rows
from phlo_lakehouse.errors import OperationFailed


def _url() -> str:
    return current_state().hook_settings().access_url()


def _acl():
    from phlo_lakehouse.access import SqlAccessControlProvider

    return SqlAccessControlProvider(_url())


def _audit():
    from phlo_lakehouse.access import SqlAuditLogger

    return SqlAuditLogger(_url(), secret=current_state().hook_settings().audit_secret)


@click.group(cls=LakehouseGroup)
def access() -> None:
    """Access policies (grant, revoke, check, sync) and the audit log (audit, verify)."""


@access.command()
@click.argument("principal")
@click.argument("resource")
@click.argument("permissions", nargs=-1, required=True)
@click.option("--deny", is_flag=True, help="A deny policy (deny wins over allow).")
@confirmed
def grant(
    principal: str,
    resource: str,
    permissions: tuple[str, ...],
    deny: bool,
    confirmation: Confirmation,
) -> None:
    """Allow (or with --deny, deny) PERMISSIONS on RESOURCE to PRINCIPAL.

    Example: phlo-lakehouse access grant group:eng 'lakehouse.raw.*' optimize --yes
    """
    from phlo_lakehouse.access import AccessPolicy

    policy = AccessPolicy.parse(principal, resource, permissions, "deny" if deny else "allow")
    document = {"action": "grant", **policy.to_dict()}
    if confirm_change(current_state(), confirmation, f"access grant {principal}", lambda: document):
        _acl().grant(policy)
        show_document(current_state(), {**document, "dry_run": False})


@access.command()
@click.argument("principal")
@click.argument("resource")
@click.argument("permissions", nargs=-1)
@confirmed
def revoke(
    principal: str, resource: str, permissions: tuple[str, ...], confirmation: Confirmation
) -> None:
    """Remove PRINCIPAL's policies on exactly RESOURCE (only PERMISSIONS when given).

    Example: phlo-lakehouse access revoke alice 'lakehouse.raw.*' vacuum --yes
    """
    from phlo_lakehouse.access.policy import (
        Permission,
        normalize_principal,
        validate_resource,
    )

    chosen = [Permission.parse(p).value for p in permissions] or None
    document = {
        "action": "revoke",
        "principal": normalize_principal(principal),
        "resource": validate_resource(resource),
        "permissions": chosen or "all",
    }
    if confirm_change(
        current_state(), confirmation, f"access revoke {principal}", lambda: document
    ):
        removed = _acl().revoke(principal, resource, chosen)
        show_document(current_state(), {**document, "removed": removed, "dry_run": False})


@access.command("list")
@click.option("--principal", default=None, help="Only this principal's policies.")
def list_policies(principal: str | None) -> None:
    """List policies and group memberships.

    Example: phlo-lakehouse access list --principal group:eng
    """
    acl = _acl()
    policies = [p.to_dict() for p in acl.list_policies(principal)]
    groups = acl.memberships()
    if current_state().json:
        emit_json({"policies": policies, "groups": groups})
        return
    rows = [{**p, "permissions": ",".join(p["permissions"])} for p in policies]
    click.echo(
        render_rows(rows, ["principal", "resource", "permissions", "effect"])
        if rows
        else "no policies"
    )
    for group, members in groups.items():
        click.echo(f"{group}: {', '.join(members)}")


@access.command()
@click.argument("principal")
@click.argument("resource")
@click.argument("permission")
def check(principal: str, resource: str, permission: str) -> None:
    """Would PRINCIPAL be allowed PERMISSION on RESOURCE? Exits 1 when not.

    Example: phlo-lakehouse access check alice lakehouse.raw.events optimize
    """
    decision = _acl().decide(principal, resource, permission)
    document = {
        "principal": decision.principal,
        "resource": resource,
        "permission": decision.permission.value,
        "allowed": decision.allowed,
        "reason": decision.reason,
    }
    show_document(current_state(), document)
    if not decision.allowed:
        raise click.exceptions.Exit(1)


@access.command()
@click.option("--principal", default=None, help="Only this principal's records.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
def audit(principal: str | None, limit: int) -> None:
    """Show the newest audit records.

    Example: phlo-lakehouse access audit --limit 20
    """
    from phlo_lakehouse.access.policy import normalize_principal

    who = normalize_principal(principal) if principal else None
    records = [r.to_dict() for r in _audit().records(principal=who, limit=limit)]
    if current_state().json:
        emit_json({"records": records})
        return
    columns = ["seq", "recorded_at", "principal", "resource", "operation", "decision", "outcome"]
    click.echo(render_rows(records, columns) if records else "no audit records")


@access.command()
def verify() -> None:
    """Recompute the audit hash chain; exits 1 when it was tampered with.

    Example: phlo-lakehouse access verify
    """
    report = _audit().verify()
    show_document(
        current_state(),
        {"records": report.records, "valid": report.valid, "problems": report.problems},
    )
    if not report.valid:
        raise OperationFailed(
            f"the audit chain is broken: {report.problems[0]}",
            hint="restore the audit database from a backup and investigate the change",
        )


@access.command()
@click.argument("policy_file", type=click.Path(dir_okay=False))
@confirmed
def sync(policy_file: str, confirmation: Confirmation) -> None:
    """Make the store hold exactly POLICY_FILE (validated first; plan, then apply).

    Example: phlo-lakehouse access sync access.yaml --dry-run
    """
    from phlo_lakehouse.access.policy_file import apply_sync, load_policy_file, plan_sync

    wanted = load_policy_file(policy_file)
    acl = _acl()
    plan = plan_sync(wanted, acl)
    if plan.empty:
        show_document(current_state(), {"action": "sync", "changes": 0})
        return
    if confirm_change(current_state(), confirmation, "access sync", lambda: plan.to_dict()):
        apply_sync(plan, acl)
        show_document(current_state(), {**plan.to_dict(), "dry_run": False})
