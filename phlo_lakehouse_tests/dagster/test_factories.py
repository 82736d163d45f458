"""Factory validation, schedules and the auto-maintenance sensor, evaluated with build contexts."""

import json

import dagster as dg
import pytest

from phlo_lakehouse import (
    InvalidDuration,
    InvalidIdentifier,
    InvalidInput,
    InvalidRefName,
    InvalidSize,
)
from phlo_lakehouse.dagster import MaintenanceSchedule, lakehouse_maintenance_definitions
from phlo_lakehouse.dagster.sensors import MaintenanceTriggers, auto_maintenance_sensor
from phlo_lakehouse.demo import seed_demo_table


def test_factory_builds_every_job_with_the_concurrency_tag():
    defs = lakehouse_maintenance_definitions(prefix="nightly_")
    names = sorted(job.name for job in defs.jobs)
    assert names == [
        "nightly_lakehouse_compute_table_stats",
        "nightly_lakehouse_expire",
        "nightly_lakehouse_maintenance",
        "nightly_lakehouse_optimize",
        "nightly_lakehouse_remove_dangling_deletes",
        "nightly_lakehouse_rewrite_manifests",
        "nightly_lakehouse_rewrite_position_deletes",
        "nightly_lakehouse_vacuum",
    ]
    assert all(job.tags["phlo/lakehouse-maintenance"] == "true" for job in defs.jobs)


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"tables": ["raw"]}, InvalidIdentifier, "selector"),
        ({"ref": "bad ref"}, InvalidRefName, "ref"),
        ({"optimize": {"strategy": "shuffle"}}, InvalidInput, "strategy"),
        ({"optimize": {"no_such_setting": 1}}, InvalidInput, "unknown optimize setting"),
        ({"expire": {"older_than": "5 parsecs"}}, InvalidDuration, "older_than"),
        ({"optimize": {"target_file_size": 1}}, InvalidSize, "target_file_size='1' (1 B) is below"),
        (
            {"optimize": {"max_file_group_size": "100PB"}},
            InvalidSize,
            "max_file_group_size='100PB' is not a size",
        ),
        (
            {"rewrite_manifests": {"target_manifest_size": "512B"}},
            InvalidSize,
            "target_manifest_size='512B' (512 B) is below 1.0 KiB",
        ),
        ({"vacuum": {"older_than": "2h"}}, InvalidInput, "24"),
        (
            {"schedules": [MaintenanceSchedule("lakehouse_expire", "every day")]},
            InvalidInput,
            "cron",
        ),
        (
            {"schedules": [MaintenanceSchedule("lakehouse_nope", "0 3 * * *")]},
            InvalidInput,
            "unknown job",
        ),
        (
            {
                "schedules": [
                    MaintenanceSchedule("lakehouse_expire", "0 3 * * *", timezone="Mars/Base")
                ]
            },
            InvalidInput,
            "timezone",
        ),
        (
            {
                "schedules": [
                    MaintenanceSchedule("lakehouse_expire", "0 3 * * *", default_status="ON")
                ]
            },
            InvalidInput,
            "default_status",
        ),
    ],
)
def test_bad_factory_input_fails_at_definition_time(kwargs, error, fragment):
    with pytest.raises(error) as info:
        lakehouse_maintenance_definitions(**kwargs)
    assert fragment in str(info.value)
    assert info.value.hint


def test_schedule_requests_its_job_with_the_configured_run_config():
    defs = lakehouse_maintenance_definitions(
        schedules=[
            MaintenanceSchedule(
                "lakehouse_vacuum",
                "0 4 * * 0",
                timezone="Europe/Berlin",
                default_status="RUNNING",
                run_config={"tables": ["raw.*"], "dry_run": True},
            )
        ]
    )
    schedule = next(iter(defs.schedules))
    assert schedule.cron_schedule == "0 4 * * 0"
    assert schedule.execution_timezone == "Europe/Berlin"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    request = schedule.evaluate_tick(dg.build_schedule_context()).run_requests[0]
    config = request.run_config["ops"]["lakehouse_vacuum__select_tables"]["config"]
    assert config == {"tables": ["raw.*"], "dry_run": True}


def _sensor(**kwargs):
    maintenance = lakehouse_maintenance_definitions()
    return auto_maintenance_sensor(maintenance=maintenance, **kwargs)


def test_sensor_requests_optimize_and_expire_for_tables_past_thresholds(resource):
    lh = resource.get_lakehouse()
    seed_demo_table(
        lh, "raw.fragmented", commits=8, rows_per_commit=10
    )  # 32 small files, 8 snapshots
    seed_demo_table(lh, "raw.tidy", commits=1, rows_per_commit=10)
    sensor = _sensor(triggers=MaintenanceTriggers(min_files=20, max_snapshots=5))
    with dg.build_sensor_context(resources={"lakehouse": resource}) as context:
        result = sensor.evaluate_tick(context)
    requested = sorted((r.job_name, r.tags["phlo/lakehouse-table"]) for r in result.run_requests)
    assert requested == [
        ("lakehouse_expire", "raw.fragmented"),
        ("lakehouse_optimize", "raw.fragmented"),
    ]
    request = result.run_requests[0]
    select = request.run_config["ops"][f"{request.job_name}__select_tables"]["config"]
    assert select["tables"] == ["raw.fragmented"]
    assert len({r.run_key for r in result.run_requests}) == len(result.run_requests)


def test_sensor_respects_the_cooldown_and_the_cap(resource):
    lh = resource.get_lakehouse()
    for name in ("raw.a", "raw.b", "raw.c"):
        seed_demo_table(lh, name, commits=6, rows_per_commit=10)
    sensor = _sensor(
        triggers=MaintenanceTriggers(min_files=20, max_snapshots=100), max_runs_per_tick=2
    )
    with dg.build_sensor_context(resources={"lakehouse": resource}) as context:
        first = sensor.evaluate_tick(context)
    assert len(first.run_requests) == 2
    cursor = json.loads(first.cursor)
    with dg.build_sensor_context(resources={"lakehouse": resource}, cursor=first.cursor) as context:
        second = sensor.evaluate_tick(context)
    second_tables = {r.tags["phlo/lakehouse-table"] for r in second.run_requests}
    assert second_tables == {"raw.a", "raw.b", "raw.c"} - set(cursor["requested"])
    with dg.build_sensor_context(
        resources={"lakehouse": resource}, cursor=second.cursor
    ) as context:
        third = sensor.evaluate_tick(context)
    assert not third.run_requests  # every table is cooling down


def test_a_tick_out_of_budget_stops_and_the_next_resumes_with_the_following_table(resource):
    lh = resource.get_lakehouse()
    for name in ("raw.a", "raw.b", "raw.c"):
        seed_demo_table(lh, name, commits=6, rows_per_commit=10)
    sensor = _sensor(triggers=MaintenanceTriggers(min_files=20), tick_budget="0s")
    cursor, seen = None, []
    for _ in range(4):
        with dg.build_sensor_context(resources={"lakehouse": resource}, cursor=cursor) as context:
            result = sensor.evaluate_tick(context)
        seen.append([r.tags["phlo/lakehouse-table"] for r in result.run_requests])
        cursor = result.cursor
    # One table per tick (the budget is spent after the first), in turn; then all cool down.
    assert seen == [["raw.a"], ["raw.b"], ["raw.c"], []]
    assert json.loads(cursor)["position"] == "raw.a"


def test_run_keys_name_the_table_state(resource):
    lh = resource.get_lakehouse()
    handle = seed_demo_table(lh, "raw.a", commits=6, rows_per_commit=10)
    sensor = _sensor(triggers=MaintenanceTriggers(min_files=20), cooldown="0s")
    with dg.build_sensor_context(resources={"lakehouse": resource}) as context:
        keys = {r.run_key for r in sensor.evaluate_tick(context).run_requests}
    assert keys == {f"lakehouse_optimize:raw.a@{handle.snapshot_id}"}


def test_sensor_bad_input():
    with pytest.raises(InvalidDuration):
        _sensor(cooldown="soon")
    with pytest.raises(InvalidInput):
        _sensor(max_runs_per_tick=0)
    with pytest.raises(InvalidInput):
        auto_maintenance_sensor(maintenance=dg.Definitions())


def test_a_long_table_list_stays_the_jobs_default_without_being_spelled_out(resource, instance):
    from phlo_lakehouse.dagster.run_config import PREFILLED_TABLES

    names = [f"raw.t{i:04d}" for i in range(PREFILLED_TABLES + 1)]
    seed_demo_table(resource.get_lakehouse(), names[-1], commits=1, rows_per_commit=5)
    defs = dg.Definitions.merge(
        lakehouse_maintenance_definitions(tables=["raw.t0100", *names[:-1]]),
        dg.Definitions(resources={"lakehouse": resource}),
    )
    job = defs.resolve_job_def("lakehouse_rewrite_manifests")
    field = job.graph.node_named("lakehouse_rewrite_manifests__select_tables").definition
    tables = field.config_schema.config_type.fields["tables"]
    assert tables.default_value is None and "101 tables" in tables.description
    # Run config still selects; left null, the job's own list is used (its missing tables fail).
    result = job.execute_in_process(
        instance=instance,
        run_config={"ops": {f"{job.name}__select_tables": {"config": {"tables": ["raw.t0100"]}}}},
    )
    assert result.output_for_node(f"{job.name}__summary")["tables"] == ["raw.t0100"]
    failed = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not failed.success  # the job's default list names tables that do not exist
