"""Declarative automation: stats checks on a cron and maintenance of tables whose check failed,
evaluated by Dagster's own automation-condition machinery against a real instance."""

import datetime

import dagster as dg
import pytest

from phlo_lakehouse import InvalidInput
from phlo_lakehouse.dagster import table_stats_checks
from phlo_lakehouse.dagster.automation import (
    MAINTENANCE_PREFIX,
    automation_sensor,
    check_on_cron,
    table_maintenance_assets,
)
from phlo_lakehouse.dagster.checks import CHECK_NAME, StatsThresholds
from phlo_lakehouse.demo import seed_demo_table

TABLES = ["raw.fragmented", "raw.tidy"]
FRAGMENTED = dg.AssetKey(["raw", "fragmented"])
TIDY = dg.AssetKey(["raw", "tidy"])


def _defs(resource):
    return dg.Definitions(
        assets=[
            dg.AssetSpec(FRAGMENTED),
            dg.AssetSpec(TIDY),
            table_maintenance_assets(tables=TABLES, settings={"expire": {"older_than": "0s"}}),
        ],
        asset_checks=table_stats_checks(
            tables=TABLES,
            thresholds=StatsThresholds(max_snapshots=5),
            automation_condition=check_on_cron("0 * * * *"),
        ),
        sensors=[automation_sensor(tables=TABLES)],
        resources={"lakehouse": resource},
    )


def _execute(defs, instance, selection):
    """Execute ``selection`` in process, as the run the automation sensor requests would."""
    job = dg.define_asset_job("requested", selection=selection)
    resolved = dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def("requested")
    return resolved.execute_in_process(instance=instance)


def _requested(result) -> set:
    return {key for r in result.results if r.true_subset.size for key in [r.key]}


def test_failed_check_requests_maintenance_of_that_table_only(resource, instance):
    lakehouse = resource.get_lakehouse()
    seed_demo_table(lakehouse, "raw.fragmented", commits=8, rows_per_commit=10)  # 8 snapshots
    seed_demo_table(lakehouse, "raw.tidy", commits=1, rows_per_commit=10)
    defs = _defs(resource)
    start = datetime.datetime(2026, 12, 2, 5, 59, tzinfo=datetime.UTC)

    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=start)
    assert first.total_requested == 0  # no cron tick yet, no check result yet
    tick = start + datetime.timedelta(minutes=2)
    second = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=first.cursor, evaluation_time=tick
    )
    checks = {dg.AssetCheckKey(FRAGMENTED, CHECK_NAME), dg.AssetCheckKey(TIDY, CHECK_NAME)}
    assert {k for k in _requested(second) if isinstance(k, dg.AssetCheckKey)} == checks

    # Run what was requested (the checks), as the automation sensor's run would.
    assert _execute(defs, instance, dg.AssetSelection.checks(*checks)).success
    third = dg.evaluate_automation_conditions(
        defs=defs,
        instance=instance,
        cursor=second.cursor,
        evaluation_time=tick + datetime.timedelta(minutes=1),
    )
    assert _requested(third) == {FRAGMENTED.with_prefix(MAINTENANCE_PREFIX)}

    # The requested maintenance makes the table healthy; the next check passes.
    maintenance = FRAGMENTED.with_prefix(MAINTENANCE_PREFIX)
    assert _execute(defs, instance, dg.AssetSelection.assets(maintenance)).success
    stats = resource.collect_stats("raw.fragmented")
    assert stats.snapshot_count == 1 and stats.file_count == 4
    observed = instance.fetch_observations(FRAGMENTED, limit=10).records
    assert {r.asset_observation.metadata["lakehouse/operation"].value for r in observed} == {
        "optimize",
        "expire",
        "vacuum",
    }
    fourth = dg.evaluate_automation_conditions(
        defs=defs,
        instance=instance,
        cursor=third.cursor,
        evaluation_time=tick + datetime.timedelta(minutes=2),
    )
    assert _requested(fourth) == set()  # not requested again


def test_maintenance_assets_bad_input():
    with pytest.raises(InvalidInput, match="literal"):
        table_maintenance_assets(tables=["raw.*"])
    with pytest.raises(InvalidInput, match="unknown operation"):
        table_maintenance_assets(tables=["raw.a"], operations=["compact"])
    with pytest.raises(InvalidInput, match="24 hours"):
        table_maintenance_assets(tables=["raw.a"], settings={"vacuum": {"older_than": "1h"}})
