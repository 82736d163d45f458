"""The same Dagster maintenance job on the Spark engine (``engine: spark`` in run config) records
the observations and check results it records on the local engine.

Twin tables (same rows, same commits, same orphans) run ``lakehouse_maintenance`` (optimize →
expire → vacuum), one per engine. Figures that depend on how each engine writes files — bytes,
manifests, metadata files — could differ by nature; in fact only the Parquet bytes do (and the
age of the last commit, as the checks run after both jobs). Every other observed figure and every
check result must be equal.

Needs `LakehouseResource` fields ``engine``/``spark_remote`` and the ``engine`` key in the
selection op's run config (phlo_lakehouse.dagster).
"""

import re

import dagster as dg
import pytest

from phlo_lakehouse.dagster import (
    LakehouseResource,
    StatsThresholds,
    lakehouse_maintenance_definitions,
    table_stats_checks,
)
from phlo_lakehouse.demo import plant_orphans, seed_demo_table

pytestmark = [pytest.mark.spark, pytest.mark.timeout(300)]

TABLES = {"local": "twin_local.events", "spark": "twin_spark.events"}
#: Figures that differ by nature: Spark's Parquet writer packs the same rows into fewer bytes
#: (every byte count and readable size, also inside the summary), the checks run after both jobs
#: (the spark twin's last commit is younger), and snapshot ids, durations and the twins' own
#: table names are their own.
ENGINE_DEPENDENT = {
    "last_commit_age_hours",
    "lakehouse/snapshot_id",
    "lakehouse/duration_seconds",
    "dagster/table_name",
}
READABLE_SIZE = re.compile(r"\d[\d,.]* (?:B|KiB|MiB|GiB|TiB)\b")


def engine_dependent(key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    return key in ENGINE_DEPENDENT or name.endswith(("_bytes", "size"))


@pytest.fixture
def resource(tmp_path, spark_connect_url) -> LakehouseResource:
    return LakehouseResource(
        catalog_type="sql",
        catalog_name="dagster_engines",  # a catalog name the Spark Connect server does not serve
        home=str(tmp_path / "lakehouse"),
        spark_remote=spark_connect_url,
    )


def observations(instance, table: str) -> dict[str, dict]:
    key = dg.AssetKey(table.split("."))
    records = instance.fetch_observations(key, limit=10).records
    return {
        r.asset_observation.metadata["lakehouse/operation"].value: {
            k: v.value for k, v in r.asset_observation.metadata.items()
        }
        for r in records
    }


def comparable(figures: dict) -> dict:
    kept = {k: v for k, v in figures.items() if not engine_dependent(k)}
    if isinstance(kept.get("lakehouse/summary"), str):
        kept["lakehouse/summary"] = READABLE_SIZE.sub("<size>", kept["lakehouse/summary"])
    return kept


def test_maintenance_job_on_spark_observes_and_checks_like_local(resource, spark_connect_url):
    lakehouse = resource.get_lakehouse()
    for table in TABLES.values():
        handle = seed_demo_table(lakehouse, table, commits=20, rows_per_commit=50)
        plant_orphans(handle, count=5)
    defs = dg.Definitions.merge(
        lakehouse_maintenance_definitions(tables=list(TABLES.values())),
        dg.Definitions(resources={"lakehouse": resource}),
    )
    job = defs.resolve_job_def("lakehouse_maintenance")
    checks = table_stats_checks(tables=list(TABLES.values()), thresholds=StatsThresholds())

    with dg.instance_for_test() as instance:
        for engine, table in TABLES.items():
            config = {"tables": [table], "engine": engine, "expire": {"older_than": "0s"}}
            run = job.execute_in_process(
                run_config={"ops": {"lakehouse_maintenance__select_tables": {"config": config}}},
                instance=instance,
            )
            assert run.success
            results = run.output_for_node("lakehouse_maintenance__summary")["results"]
            assert {r["details"].get("engine", "local") for r in results} == {engine}
        local, spark = (observations(instance, t) for t in TABLES.values())
        check_defs = dg.Definitions(
            assets=[dg.AssetSpec(t.split(".")) for t in TABLES.values()],
            asset_checks=checks,
            resources={"lakehouse": resource},
        )
        check_job = check_defs.resolve_implicit_global_asset_job_def()
        selection = dg.AssetSelection.all_asset_checks().resolve_checks(
            check_defs.resolve_asset_graph()
        )
        evaluations = {
            e.asset_key.path[0]: e
            for e in check_job.get_subset(asset_check_selection=selection)
            .execute_in_process(instance=instance)
            .get_asset_check_evaluations()
        }

    assert sorted(local) == sorted(spark) == ["expire", "optimize", "vacuum"]
    for operation in local:
        assert set(local[operation]) == set(spark[operation]), operation
        assert comparable(local[operation]) == comparable(spark[operation]), operation
    assert (
        spark["optimize"]["after/file_count"] == 4
        and spark["vacuum"]["lakehouse/orphan_files_deleted"] == 5
    )
    local_check, spark_check = evaluations["twin_local"], evaluations["twin_spark"]
    assert (local_check.passed, local_check.severity) == (spark_check.passed, spark_check.severity)
    assert comparable({k: v.value for k, v in local_check.metadata.items()}) == comparable(
        {k: v.value for k, v in spark_check.metadata.items()}
    )


def _select(config: dict) -> dict:
    return {"ops": {"lakehouse_optimize__select_tables": {"config": config}}}


def test_options_spark_cannot_express_fail_in_the_selection_step(resource):
    handle = seed_demo_table(resource.get_lakehouse(), "raw.events", commits=6, rows_per_commit=20)
    job = dg.Definitions.merge(
        lakehouse_maintenance_definitions(tables=["raw.events"]),
        dg.Definitions(resources={"lakehouse": resource}),
    ).resolve_job_def("lakehouse_expire")
    with dg.instance_for_test() as instance:
        run = job.execute_in_process(
            run_config={
                "ops": {
                    "lakehouse_expire__select_tables": {
                        "config": {"engine": "spark", "expire": {"delete_files": False}}
                    }
                }
            },
            instance=instance,
            raise_on_error=False,
        )
    assert not run.success
    failure = run.get_step_failure_events()[0]
    assert failure.step_key == "lakehouse_expire__select_tables"
    message = failure.event_specific_data.error.cause.message
    # Run config's vocabulary, not Python's: the keys the launchpad shows.
    assert "expire.delete_files: false cannot be expressed" in message
    assert '(engine: "local")' in message
    assert "delete_files=False" not in message and "engine='local'" not in message
    assert resource.get_table("raw.events").table.metadata == handle.table.metadata


def test_partial_progress_on_spark_is_one_step_per_table(resource):
    seed_demo_table(resource.get_lakehouse(), "raw.events", commits=6, rows_per_commit=20)
    job = dg.Definitions.merge(
        lakehouse_maintenance_definitions(tables=["raw.events"]),
        dg.Definitions(resources={"lakehouse": resource}),
    ).resolve_job_def("lakehouse_optimize")
    with dg.instance_for_test() as instance:
        config = {"engine": "spark", "optimize": {"partial_progress": True}}
        run = job.execute_in_process(run_config=_select(config), instance=instance)
    steps = [e.step_key for e in run.get_step_success_events() if "__optimize[" in e.step_key]
    assert len(steps) == 1  # Spark groups files and commits each group itself
    result = run.output_for_node("lakehouse_optimize__summary")["results"][0]
    assert result["details"]["engine"] == "spark" and result["details"]["commits"] == 4
    assert "'partial-progress.enabled', 'true'" in result["details"]["spark"]["sql"]
    assert resource.collect_stats("raw.events").file_count == 4
