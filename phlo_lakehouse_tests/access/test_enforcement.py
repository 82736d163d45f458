"""Enforcement in the single executor: API, Dagster and dry runs checked and audited; a denied
operation changes nothing."""

import dagster as dg
import pytest

from phlo_lakehouse import AccessDenied, CatalogSettings, IcebergLakehouse
from phlo_lakehouse.access import (
    AccessControlHook,
    AccessPolicy,
    SqlAccessControlProvider,
    SqlAuditLogger,
)
from phlo_lakehouse.demo import plant_orphans, seed_demo_table
from phlo_lakehouse.operations import OptimizeOperation, VacuumOperation
from phlo_lakehouse.storage.listing import list_storage


@pytest.fixture
def secured(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/access.db"
    acl, audit = SqlAccessControlProvider(url), SqlAuditLogger(url)
    acl.grant(AccessPolicy.parse("group:eng", "lakehouse.demo.*", ["optimize"]))
    acl.add_member("group:eng", "alice")
    lakehouse = IcebergLakehouse(
        CatalogSettings.embedded(tmp_path / "lh"), hooks=[AccessControlHook(acl, audit)]
    )
    handle = seed_demo_table(lakehouse, "demo.events", commits=6, rows_per_commit=20)
    plant_orphans(handle, count=2)
    return lakehouse, acl, audit


def _storage(lakehouse):
    table = lakehouse.get_table("demo.events").table
    return table.metadata_location, sorted(f.path for f in list_storage(table.io, table.location()))


def test_a_denied_operation_changes_nothing_and_is_audited(secured):
    lakehouse, _acl, audit = secured
    before = _storage(lakehouse)
    with pytest.raises(AccessDenied) as info:
        lakehouse.run(VacuumOperation(), "demo.events", principal="alice")
    assert "lacks permission 'vacuum' on lakehouse.demo.events" in str(info.value)
    assert "access grant" in info.value.hint
    assert _storage(lakehouse) == before
    last = audit.records()[-1]
    assert (last.principal, last.operation, last.decision, last.outcome) == (
        "user:alice",
        "vacuum",
        "deny",
        "denied",
    )


def test_an_allowed_operation_is_audited_with_its_plan_digest(secured):
    lakehouse, _acl, audit = secured
    result = lakehouse.run(OptimizeOperation(), "demo.events", principal="alice")
    assert result.committed
    last = audit.records()[-1]
    assert (last.decision, last.outcome) == ("allow", "committed")
    assert last.plan_digest and len(last.plan_digest) == 64
    assert audit.verify().valid


def test_dry_runs_are_checked_and_audited_too(secured):
    lakehouse, _acl, audit = secured
    with pytest.raises(AccessDenied):
        lakehouse.run(OptimizeOperation(), "demo.events", dry_run=True, principal="bob")
    lakehouse.run(OptimizeOperation(), "demo.events", dry_run=True, principal="alice")
    outcomes = [(r.principal, r.outcome) for r in audit.records()[-2:]]
    assert outcomes == [("user:bob", "denied"), ("user:alice", "dry_run")]


def test_principal_comes_from_the_environment_when_not_given(secured, monkeypatch):
    lakehouse, _acl, audit = secured
    monkeypatch.setenv("PHLO_LAKEHOUSE_PRINCIPAL", "alice")
    lakehouse.run(OptimizeOperation(), "demo.events", dry_run=True)
    assert audit.records()[-1].principal == "user:alice"


def test_a_denied_dagster_op_fails_naming_the_missing_permission(tmp_path):
    from phlo_lakehouse.dagster import LakehouseResource, lakehouse_maintenance_definitions

    resource = LakehouseResource(home=str(tmp_path / "lh"), access_control=True)
    resource.get_lakehouse()
    acl = SqlAccessControlProvider(resource.access_url())
    acl.grant(AccessPolicy.parse("alice", "lakehouse.demo.*", ["optimize"]))
    seed_demo_table(resource.get_lakehouse(), "demo.events", commits=6, rows_per_commit=10)
    defs = dg.Definitions.merge(
        lakehouse_maintenance_definitions(tables=["demo.events"]),
        dg.Definitions(resources={"lakehouse": resource}),
    )
    job = defs.resolve_job_def("lakehouse_vacuum")
    with dg.instance_for_test() as instance:
        denied = job.execute_in_process(
            instance=instance, tags={"phlo/principal": "alice"}, raise_on_error=False
        )
        allowed = defs.resolve_job_def("lakehouse_optimize").execute_in_process(
            instance=instance, tags={"phlo/principal": "alice"}
        )
    failure = denied.get_step_failure_events()[0].event_specific_data.error
    assert failure.cause.cls_name == "AccessDenied"
    assert "lacks permission 'vacuum'" in failure.cause.message
    assert allowed.success
    audit = SqlAuditLogger(resource.access_url())
    assert [(r.operation, r.outcome) for r in audit.records()] == [
        ("vacuum", "denied"),
        ("optimize", "committed"),
    ]
