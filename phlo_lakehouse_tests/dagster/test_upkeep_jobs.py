"""The upkeep jobs - data retention (only when configured), position-delete rewrite, dangling
deletes, table statistics - and optimize's Spark 1.10 options in run config, executed in process
against real embedded lakehouses."""

from datetime import UTC, datetime

import dagster as dg
import pyarrow.compute as pc
import pytest

from phlo_lakehouse import InvalidDuration, InvalidInput
from phlo_lakehouse.dagster import MaintenanceSchedule, lakehouse_maintenance_definitions
from phlo_lakehouse.dagster.component import LakehouseMaintenanceComponent
from phlo_lakehouse.dagster.run_config import OPERATION_SETTINGS
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.operations.live_files import live_files
from phlo_lakehouse_tests.operations.position_delete_helpers import (
    delete_positions,
    deleted_pairs,
    position_deletes_of,
)

RETENTION = {"column": "event_time", "retention": "1d"}  # demo rows are from January 2026


def _defs(resource, **kwargs):
    return dg.Definitions.merge(
        lakehouse_maintenance_definitions(tables=["demo.*"], **kwargs),
        dg.Definitions(resources={"lakehouse": resource}),
    )


def _select(job, **config):
    return {"ops": {f"{job}__select_tables": {"config": config}}}


def _observations(instance, kind):
    records = instance.fetch_observations(dg.AssetKey(["demo", "events"]), limit=20).records
    return [
        r.asset_observation
        for r in records
        if r.asset_observation.metadata["lakehouse/operation"].value == kind
    ]


def test_the_retention_job_exists_only_when_configured():
    assert "lakehouse_data_retention" not in {
        j.name for j in lakehouse_maintenance_definitions().jobs
    }
    defs = lakehouse_maintenance_definitions(
        data_retention=RETENTION,
        schedules=[MaintenanceSchedule("lakehouse_data_retention", "0 4 * * *")],
    )
    job = {j.name: j for j in defs.jobs}["lakehouse_data_retention"]
    assert job.tags["phlo/lakehouse-maintenance"] == "true"
    schedule = next(iter(defs.schedules))
    assert schedule.job_name == "lakehouse_data_retention" and schedule.cron_schedule == "0 4 * * *"


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        (
            {"schedules": [MaintenanceSchedule("lakehouse_data_retention", "0 4 * * *")]},
            InvalidInput,
            "data retention is not configured",
        ),
        ({"data_retention": {"column": "event_time"}}, InvalidInput, "needs retention"),
        ({"data_retention": {}}, InvalidInput, "needs column and retention"),
        ({"data_retention": {**RETENTION, "retention": "-1d"}}, InvalidDuration, "negative"),
        ({"data_retention": {**RETENTION, "retention": "0s"}}, InvalidInput, "positive"),
        ({"data_retention": {**RETENTION, "keep": 1}}, InvalidInput, "unknown data_retention"),
        ({"optimize": {"rewrite_job_order": "random"}}, InvalidInput, "rewrite_job_order"),
        ({"optimize": {"max_failed_commits": -1}}, InvalidInput, "max_failed_commits"),
        ({"optimize": {"delete_file_threshold": 0}}, InvalidInput, "delete_file_threshold"),
        (
            {"rewrite_position_deletes": {"delete_granularity": "row"}},
            InvalidInput,
            "delete_granularity",
        ),
    ],
)
def test_bad_upkeep_settings_fail_at_definition_time(kwargs, error, fragment):
    with pytest.raises(error) as info:
        lakehouse_maintenance_definitions(**kwargs)
    assert fragment in str(info.value) and info.value.hint


def test_every_new_setting_is_described_and_prefilled():
    for kind, keys in {
        "optimize": [
            "remove_dangling_deletes",
            "rewrite_job_order",
            "max_commits",
            "max_failed_commits",
            "delete_file_threshold",
            "use_starting_sequence_number",
            "output_spec_id",
        ],
        "rewrite_position_deletes": ["target_file_size", "delete_granularity", "max_commits"],
        "data_retention": ["column", "retention"],
    }.items():
        for key in keys:
            assert len(OPERATION_SETTINGS[kind][key].description) > 30, (kind, key)
    defs = lakehouse_maintenance_definitions(
        optimize={"rewrite_job_order": "bytes-desc", "max_failed_commits": 2}
    )
    job = {j.name: j for j in defs.jobs}["lakehouse_optimize"]
    select = job.graph.node_named("lakehouse_optimize__select_tables").definition
    optimize = select.config_schema.as_field().config_type.fields["optimize"]
    assert optimize.default_value["rewrite_job_order"] == "bytes-desc"
    assert optimize.default_value["max_failed_commits"] == 2
    assert optimize.default_value["remove_dangling_deletes"] is True


def test_retention_job_previews_then_deletes_the_old_rows(resource, instance):
    handle = seed_demo_table(resource.get_lakehouse(), "demo.events", commits=3, rows_per_commit=40)
    before = handle.to_arrow()
    job = _defs(resource, data_retention=RETENTION).resolve_job_def("lakehouse_data_retention")

    dry = job.execute_in_process(run_config=_select(job.name, dry_run=True), instance=instance)
    assert dry.success and resource.get_table("demo.events").to_arrow().num_rows == 120
    real = job.execute_in_process(
        run_config=_select(job.name, data_retention={"retention": "3650d"}), instance=instance
    )
    assert real.success  # ten years of retention: nothing is old
    assert resource.get_table("demo.events").to_arrow().num_rows == before.num_rows
    real = job.execute_in_process(run_config=_select(job.name), instance=instance)

    assert real.success
    cutoff = datetime.now(UTC)  # one day before now: every demo row is older
    assert pc.sum(pc.less(before["event_time"], cutoff)).as_py() == 120
    assert resource.get_table("demo.events").to_arrow().num_rows == 0
    [observation, nothing] = sorted(
        _observations(instance, "data_retention"),
        key=lambda o: o.metadata["lakehouse/rows_deleted"].value,
        reverse=True,
    )
    assert observation.metadata["lakehouse/rows_deleted"].value == 120
    assert observation.description.startswith("data_retention: deleted 120 rows older than")
    assert nothing.description.startswith("data_retention: no row older than")


def test_rewrite_position_deletes_and_dangling_jobs_observe_what_they_did(resource, instance):
    handle = seed_demo_table(resource.get_lakehouse(), "demo.events", commits=3, rows_per_commit=40)
    paths = [f.path for f in live_files(handle.table, handle.snapshot).data]
    for r in range(3):
        handle = delete_positions(handle, {p: [r] for p in paths})
    rows, pairs = handle.to_arrow().num_rows, deleted_pairs(handle)
    defs = _defs(resource, rewrite_position_deletes={"min_input_files": 2})

    job = defs.resolve_job_def("lakehouse_rewrite_position_deletes")
    assert job.execute_in_process(run_config=_select(job.name), instance=instance).success
    after = resource.get_table("demo.events")
    assert len(position_deletes_of(after)) == len(paths) and deleted_pairs(after) == pairs
    assert after.to_arrow().num_rows == rows
    [observation] = _observations(instance, "rewrite_position_deletes")
    assert observation.metadata["lakehouse/delete_files_rewritten"].value == 3 * len(paths)
    assert observation.metadata["lakehouse/delete_files_added"].value == len(paths)
    assert observation.description == (
        f"rewrite_position_deletes: rewrote {3 * len(paths)} files into {len(paths)} "
        "(position delete files)"
    )

    dangling = defs.resolve_job_def("lakehouse_remove_dangling_deletes")
    assert dangling.execute_in_process(run_config=_select(dangling.name), instance=instance).success
    [observation] = _observations(instance, "remove_dangling_deletes")
    assert observation.description == (
        f"remove_dangling_deletes: no dangling delete files ({len(paths)} delete files)"
    )


def test_component_yaml_configures_retention_and_the_new_settings():
    component = LakehouseMaintenanceComponent.resolve_from_yaml(
        """
tables: ["demo.*"]
data_retention: {column: event_time, retention: 365d}
rewrite_position_deletes: {min_input_files: 2, delete_granularity: partition}
optimize: {rewrite_job_order: files-desc, delete_file_threshold: 10}
schedules:
  - {job: lakehouse_data_retention, cron: "0 5 * * *"}
"""
    )
    defs = component.definitions()
    assert defs.resolve_job_def("lakehouse_data_retention")  # the component binds the resource
    assert next(iter(defs.schedules)).job_name == "lakehouse_data_retention"
    schema = LakehouseMaintenanceComponent.get_model_cls().model_json_schema()
    text = str(schema)
    assert "lakehouse_data_retention" in text and "delete_granularity" in text
