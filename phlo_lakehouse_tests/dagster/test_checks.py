"""Stats asset checks land on the tables' asset keys and warn past thresholds."""

import dagster as dg
import pytest

from phlo_lakehouse import InvalidInput
from phlo_lakehouse.dagster import LakehouseTranslator
from phlo_lakehouse.dagster.checks import StatsThresholds, table_stats_checks
from phlo_lakehouse.demo import seed_demo_table


def _evaluate(resource, checks, instance, assets):
    defs = dg.Definitions(assets=assets, asset_checks=checks, resources={"lakehouse": resource})
    job = defs.resolve_implicit_global_asset_job_def()
    selection = dg.AssetSelection.all_asset_checks()
    result = job.get_subset(
        asset_check_selection=selection.resolve_checks(defs.resolve_asset_graph())
    ).execute_in_process(instance=instance)
    return {(e.asset_key, e.check_name): e for e in result.get_asset_check_evaluations()}


def test_check_reports_stats_and_warns_past_thresholds(resource, instance):
    seed_demo_table(resource.get_lakehouse(), "raw.events", commits=12, rows_per_commit=10)
    seed_demo_table(resource.get_lakehouse(), "raw.small", commits=1, rows_per_commit=10)
    checks = table_stats_checks(
        tables=["raw.events", "raw.small", "raw.missing"],
        thresholds=StatsThresholds(max_snapshots=10),
    )
    assets = [dg.AssetSpec(["raw", n]) for n in ("events", "small", "missing")]
    results = _evaluate(resource, checks, instance, assets)

    events = results[(dg.AssetKey(["raw", "events"]), "lakehouse_table_stats")]
    assert not events.passed and events.severity == dg.AssetCheckSeverity.WARN
    assert events.metadata["dagster/row_count"].value == 120
    assert events.metadata["snapshot_count"].value == 12
    assert "12 snapshots > 10" in events.metadata["violations"].value
    assert "small-file ratio" in events.metadata["violations"].value

    small = results[(dg.AssetKey(["raw", "small"]), "lakehouse_table_stats")]
    assert small.passed
    missing = results[(dg.AssetKey(["raw", "missing"]), "lakehouse_table_stats")]
    assert not missing.passed and missing.severity == dg.AssetCheckSeverity.ERROR


def test_translator_decides_the_asset_key(resource, instance):
    class Lake(LakehouseTranslator):
        def get_asset_key(self, table):
            return super().get_asset_key(table).with_prefix("lake")

    seed_demo_table(resource.get_lakehouse(), "raw.events", commits=1, rows_per_commit=10)
    checks = table_stats_checks(tables=["raw.events"], translator=Lake())
    results = _evaluate(resource, checks, instance, [dg.AssetSpec(["lake", "raw", "events"])])
    assert list(results) == [(dg.AssetKey(["lake", "raw", "events"]), "lakehouse_table_stats")]


def test_checks_need_literal_table_names():
    with pytest.raises(InvalidInput, match="literal"):
        table_stats_checks(tables=["raw.*"])
