"""Catalog-level operations run through the same executor path as table operations: dry run,
access check on ``<catalog>@<ref>``, audit, metrics, conflict re-planning."""

import pytest

from phlo_lakehouse import AccessDenied, CatalogSettings, Conflict, IcebergLakehouse
from phlo_lakehouse.access import AccessPolicy, SqlAccessControlProvider, SqlAuditLogger
from phlo_lakehouse.errors import InvalidRefName, MergeConflict
from phlo_lakehouse.hooks import HookSettings, build_hooks
from phlo_lakehouse.observability import PrometheusObservability
from phlo_lakehouse.operations import (
    CatalogOperation,
    CatalogTarget,
    OperationResult,
)


class CreateNamespace(CatalogOperation):
    """A real catalog-level change: create a namespace in the catalog."""

    name = "create_namespace"
    permission = "write"

    def __init__(self, namespace: str, conflicts: list[BaseException] | None = None) -> None:
        self.namespace = namespace
        self.conflicts = conflicts if conflicts is not None else []
        self.plans = 0

    def plan(self, target: CatalogTarget):
        self.plans += 1
        present = (self.namespace,) in target.lakehouse.catalog(target.ref).list_namespaces()
        return target.plan(
            self.name, {"namespaces_to_create": 0 if present else 1}, {"ns": self.namespace}
        )

    def execute(self, target: CatalogTarget, plan):
        if self.conflicts:
            raise self.conflicts.pop(0)
        if plan.figures["namespaces_to_create"]:
            target.lakehouse.catalog(target.ref).create_namespace(self.namespace)
        return OperationResult.applied(plan, committed=bool(plan.figures["namespaces_to_create"]))


def _namespaces(lakehouse):
    return sorted(lakehouse.catalog().list_namespaces())


@pytest.fixture
def secured(tmp_path):
    home = tmp_path / "lh"
    metrics = PrometheusObservability()
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(home))
    settings = HookSettings(access_control=True, home=str(home))
    lakehouse.hooks = build_hooks(settings, lakehouse, metrics=metrics)
    url = settings.access_url()
    acl, audit = SqlAccessControlProvider(url), SqlAuditLogger(url)
    acl.grant(AccessPolicy.parse("alice", "lakehouse@main", ["write"]))
    acl.grant(AccessPolicy.parse("bob", "lakehouse.*", ["write"]))
    return lakehouse, audit, metrics


def _count(metrics, operation, status):
    sample = metrics.registry.get_sample_value(
        "phlo_lakehouse_operations_total", {"operation": operation, "status": status}
    )
    return sample or 0


def test_a_catalog_operation_runs_plans_and_is_audited_on_catalog_at_ref(secured):
    lakehouse, audit, metrics = secured
    preview = lakehouse.run_catalog(
        CreateNamespace("bronze"), "main", dry_run=True, principal="alice"
    )
    assert preview.dry_run and preview.figures == {"namespaces_to_create": 1}
    assert _namespaces(lakehouse) == []
    result = lakehouse.run_catalog(CreateNamespace("bronze"), "main", principal="alice")
    assert result.committed and not result.dry_run
    assert result.summary() == "create_namespace lakehouse@main (committed): namespaces_to_create=1"
    assert _namespaces(lakehouse) == [("bronze",)]
    records = audit.records()[-2:]
    assert [(r.resource, r.operation, r.decision, r.outcome) for r in records] == [
        ("lakehouse@main", "create_namespace", "allow", "dry_run"),
        ("lakehouse@main", "create_namespace", "allow", "committed"),
    ]
    assert audit.verify().valid
    assert _count(metrics, "create_namespace", "dry_run") == 1
    assert _count(metrics, "create_namespace", "success") == 1


def test_a_catalog_operation_is_denied_without_the_permission_and_changes_nothing(secured):
    lakehouse, audit, metrics = secured
    with pytest.raises(AccessDenied) as info:
        lakehouse.run_catalog(CreateNamespace("bronze"), "main", principal="bob")
    assert "lacks permission 'write' on lakehouse@main" in str(info.value)
    # bob's grant on every table does not cover the reference, alice's on main not dev
    with pytest.raises(AccessDenied):
        lakehouse.run_catalog(CreateNamespace("bronze"), "dev", principal="alice")
    assert _namespaces(lakehouse) == []
    last = audit.records()[-1]
    assert (last.resource, last.decision, last.outcome) == ("lakehouse@dev", "deny", "denied")
    assert _count(metrics, "create_namespace", "denied") == 2


def test_the_whole_catalog_is_the_resource_when_no_ref_is_given(secured):
    lakehouse, audit, _metrics = secured
    with pytest.raises(AccessDenied) as info:
        lakehouse.run_catalog(CreateNamespace("bronze"), principal="alice")
    assert "on lakehouse (" in str(info.value)
    assert audit.records()[-1].resource == "lakehouse"


def test_a_retryable_conflict_re_plans_and_a_merge_conflict_does_not(tmp_path):
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(tmp_path / "lh"))
    retried = CreateNamespace("bronze", [Conflict("moved", hint="again")])
    result = lakehouse.run_catalog(retried, "main")
    assert (result.attempts, retried.plans, _namespaces(lakehouse)) == (2, 2, [("bronze",)])
    stuck = CreateNamespace("silver", [MergeConflict("both changed raw.events", hint="resolve")])
    with pytest.raises(MergeConflict):
        lakehouse.run_catalog(stuck, "main")
    assert stuck.plans == 1
    assert ("silver",) not in _namespaces(lakehouse)


def test_a_malformed_ref_fails_before_any_hook_or_plan(secured):
    lakehouse, audit, _metrics = secured
    op = CreateNamespace("bronze")
    with pytest.raises(InvalidRefName):
        lakehouse.run_catalog(op, "no good", principal="alice")
    assert op.plans == 0
    assert audit.records()[-1].outcome == "failed: InvalidRefName"
