"""The migration job executed in process: a dry run by default, then the real run, with one
item per table, an observation per migrated table and a summary that names failures."""

import dagster as dg
import pytest

from phlo_lakehouse.dagster import LakehouseResource
from phlo_lakehouse.dagster.migration import MigrationSourceResource, migration_definitions
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.errors import InvalidInput


@pytest.fixture
def resources(tmp_path):
    source = LakehouseResource(home=str(tmp_path / "source"))
    seed_demo_table(source.get_lakehouse(), "raw.events", commits=2, rows_per_commit=20)
    seed_demo_table(source.get_lakehouse(), "raw.orders", commits=1, rows_per_commit=10)
    return {
        "migration_source": source,
        "lakehouse": LakehouseResource(home=str(tmp_path / "target")),
    }


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def _job(resources, **kwargs):
    defs = dg.Definitions.merge(
        migration_definitions(kind="iceberg", drop_source=True, **kwargs),
        dg.Definitions(resources=resources),
    )
    return defs.resolve_job_def("lakehouse_migrate_iceberg")


def _config(**config):
    return {"ops": {"lakehouse_migrate_iceberg__select_tables": {"config": config}}}


def test_the_job_previews_by_default_and_migrates_when_told(resources, instance):
    job = _job(resources, tables=["raw.*"])
    target = resources["lakehouse"].get_lakehouse()

    preview = job.execute_in_process(instance=instance)

    assert preview.success
    summary = preview.output_for_node("lakehouse_migrate_iceberg__summary")
    assert (summary["tables"], summary["planned"], summary["migrated"]) == (2, 2, 0)
    assert target.list_tables() == []

    real = job.execute_in_process(run_config=_config(dry_run=False), instance=instance)

    assert real.success
    summary = real.output_for_node("lakehouse_migrate_iceberg__summary")
    assert (summary["migrated"], [r["target"] for r in summary["results"]]) == (
        2,
        ["raw.events", "raw.orders"],
    )
    assert target.get_table("raw.events").to_arrow().num_rows == 40
    records = instance.fetch_observations(dg.AssetKey(["raw", "events"]), limit=5).records
    metadata = records[0].asset_observation.metadata
    assert metadata["lakehouse/operation"].value == "migrate"
    assert metadata["lakehouse/records"].value == 40


def test_a_failed_table_fails_the_run_after_the_others_migrated(resources, instance):
    seed_demo_table(resources["lakehouse"].get_lakehouse(), "raw.orders", commits=1)
    job = _job(resources, tables=["raw.*"])

    result = job.execute_in_process(
        run_config=_config(dry_run=False), instance=instance, raise_on_error=False
    )

    assert not result.success
    outputs = [
        result.output_for_node("lakehouse_migrate_iceberg__migrate_table")[key]
        for key in result.output_for_node("lakehouse_migrate_iceberg__migrate_table")
    ]
    assert sorted((o["source"], o["status"]) for o in outputs) == [
        ("raw.events", "migrated"),
        ("raw.orders", "failed"),
    ]
    failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert (
        "raw.orders: target raw.orders exists"
        in failure[0].step_failure_data.user_failure_data.description
    )


def test_definitions_validate_their_arguments_without_io():
    with pytest.raises(InvalidInput, match="unknown migration kind"):
        migration_definitions(kind="delta")
    with pytest.raises(InvalidInput, match="does not apply"):
        migration_definitions(kind="iceberg", mode="migrate")
    defs = migration_definitions(kind="hive", tables=["sales.*"], mode="migrate", prefix="n_")
    assert [job.name for job in defs.jobs] == ["n_lakehouse_migrate_hive"]
    source = MigrationSourceResource(kind="hive", metastore_uri="thrift://127.0.0.1:9083")
    assert source.kind == "hive"
