"""SnapshotResource / SchemaResource in Dagster assets, and the schema compatibility check on the
tables' asset keys."""

import inspect

import dagster as dg
import pytest

from phlo_lakehouse import InvalidInput
from phlo_lakehouse.dagster import resources, schema_checks
from phlo_lakehouse.dagster.resources import SchemaResource, SnapshotResource
from phlo_lakehouse.dagster.schema_checks import schema_compatibility_checks
from phlo_lakehouse.demo import seed_demo_table


def _evaluate(resource, checks, instance, assets):
    defs = dg.Definitions(assets=assets, asset_checks=checks, resources={"lakehouse": resource})
    job = defs.resolve_implicit_global_asset_job_def()
    selection = dg.AssetSelection.all_asset_checks().resolve_checks(defs.resolve_asset_graph())
    result = job.get_subset(asset_check_selection=selection).execute_in_process(instance=instance)
    return {(e.asset_key, e.check_name): e for e in result.get_asset_check_evaluations()}


def test_resources_run_managers_inside_assets(resource, instance):
    seed_demo_table(resource.get_lakehouse(), "raw.events", commits=3, rows_per_commit=10)
    snapshots_resource = SnapshotResource(lakehouse=resource)
    schema_resource = SchemaResource(lakehouse=resource)

    @dg.asset
    def release(snapshots: SnapshotResource, schemas: SchemaResource) -> dict:
        listed = snapshots.list_snapshots("raw.events")
        first = listed[-1].snapshot_id
        snapshots.create_tag("raw.events", "v1", snapshot_id=first)
        evolved = schemas.evolve_schema("raw.events", add_columns={"country": "string"})
        return {
            "snapshots": len(listed),
            "tagged_rows": snapshots.read("raw.events", tag="v1").num_rows,
            "schema_after": evolved.figures["schema_id_after"],
            "ddl": schemas.export_schema("raw.events", "sql", dialect="trino"),
        }

    defs = dg.Definitions(
        assets=[release],
        resources={"snapshots": snapshots_resource, "schemas": schema_resource},
    )
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance)
    output = result.output_for_node("release")
    assert (output["snapshots"], output["tagged_rows"], output["schema_after"]) == (3, 10, 1)
    assert '"country" VARCHAR' in output["ddl"]
    assert "v1" in resource.get_table("raw.events").table.metadata.refs


def test_compatibility_check_flags_a_breaking_change(resource, instance):
    lakehouse = resource.get_lakehouse()
    seed_demo_table(lakehouse, "raw.events", commits=1, rows_per_commit=5)
    seed_demo_table(lakehouse, "raw.fine", commits=1, rows_per_commit=5)
    seed_demo_table(lakehouse, "raw.fresh", commits=1, rows_per_commit=5)
    schemas = SchemaResource(lakehouse=resource)
    schemas.evolve_schema("raw.events", widen_types={"user_id": "long"})  # not FORWARD
    schemas.evolve_schema("raw.fine", add_columns={"country": "string"})  # FULL

    checks = schema_compatibility_checks(
        tables=["raw.events", "raw.fine", "raw.fresh", "raw.missing"], mode="FULL"
    )
    assets = [dg.AssetSpec(["raw", n]) for n in ("events", "fine", "fresh", "missing")]
    results = _evaluate(resource, checks, instance, assets)
    key = "lakehouse_schema_compatibility"

    events = results[(dg.AssetKey(["raw", "events"]), key)]
    assert not events.passed and events.severity == dg.AssetCheckSeverity.ERROR
    assert "user_id (forward, vs schema 0)" in events.metadata["breaking_changes"].value
    assert events.metadata["changes"].value == "type_changed user_id"
    assert results[(dg.AssetKey(["raw", "fine"]), key)].passed
    fresh = results[(dg.AssetKey(["raw", "fresh"]), key)]
    assert fresh.passed and fresh.metadata["schema_versions"].value == 1
    missing = results[(dg.AssetKey(["raw", "missing"]), key)]
    assert not missing.passed and missing.severity == dg.AssetCheckSeverity.ERROR

    backward = schema_compatibility_checks(
        tables=["raw.events"], mode="backward", severity=dg.AssetCheckSeverity.WARN
    )
    results = _evaluate(resource, backward, instance, [dg.AssetSpec(["raw", "events"])])
    assert results[(dg.AssetKey(["raw", "events"]), key)].passed  # widening reads old data


def test_check_factory_validates_at_definition_time():
    with pytest.raises(InvalidInput, match="literal"):
        schema_compatibility_checks(tables=["raw.*"])
    with pytest.raises(InvalidInput, match="compatibility mode"):
        schema_compatibility_checks(tables=["raw.events"], mode="SIDEWAYS")
    assert schema_compatibility_checks(tables=[]) == []


def test_module_keeps_annotations_resolvable_for_dagster():
    for module in (resources, schema_checks):
        assert "from __future__ import annotations" not in inspect.getsource(module)
