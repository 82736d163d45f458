"""A real Phlo project: a phlo-dlt ingestion workflow, phlo-dagster's own discovery
(``phlo_dagster.framework.definitions``, what a Phlo workspace.yaml loads) with every installed
plugin, and our ``phlo.plugins.dagster`` extension merged in."""

import json
import textwrap

import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse_tests.phlo_adapter.conftest import environment, require_phlo, run_python

require_phlo()

WORKFLOW = textwrap.dedent(
    """
    import pandera.pandas as pa
    import phlo


    class Events(pa.DataFrameModel):
        event_id: int
        kind: str


    @phlo.ingest.dlt(
        table_name="events", unique_key="event_id", group="raw", validation_schema=Events,
        partitioned=False,
    )
    def events():
        return [{"event_id": 1, "kind": "click"}]
    """
)

LOAD = textwrap.dedent(
    """
    import json, sys
    events = []
    def hook(event, args):
        if event in ("socket.connect", "sqlite3.connect"):
            events.append([event, repr(args)[:200]])
        elif event == "open" and str(args[0]).endswith(".db"):
            events.append([event, repr(args)[:200]])
    sys.addaudithook(hook)
    from phlo_dagster.framework.definitions import defs
    repo = defs.get_repository_def()
    print(json.dumps({
        "events": events,
        "jobs": sorted(j.name for j in repo.get_all_jobs()),
        "schedules": sorted(s.name for s in defs.schedules or []),
        "sensors": sorted(s.name for s in defs.sensors or []),
        "assets": sorted(k.to_user_string() for a in defs.assets or [] for k in a.keys),
        "checks": sorted(
            [k.asset_key.to_user_string(), k.name]
            for c in defs.asset_checks or [] for k in c.check_keys),
        "lakehouse": defs.resources["lakehouse"].phlo,
    }))
    """
)

RUN = textwrap.dedent(
    """
    import json
    import dagster as dg
    from phlo_dagster.framework.definitions import defs
    with dg.instance_for_test() as instance:
        job = defs.get_job_def("lakehouse_optimize")
        run = job.execute_in_process(
            run_config={"ops": {"lakehouse_optimize__select_tables": {"config": {
                "tables": ["raw.events"]}}}},
            instance=instance)
        observed = sorted({
            e.dagster_event.asset_key.to_user_string()
            for e in instance.all_logs(run.run_id)
            if e.dagster_event and e.dagster_event.event_type_value == "ASSET_OBSERVATION"})
        checks = dg.Definitions(
            asset_checks=defs.asset_checks,
            resources=defs.resources,
            jobs=[dg.define_asset_job(
                "stats", selection=dg.AssetSelection.checks_for_assets(dg.AssetKey("dlt_events")))],
        ).get_job_def("stats").execute_in_process(instance=instance)
        evaluations = [
            [e.asset_key.to_user_string(), e.check_name, e.passed]
            for e in checks.get_asset_check_evaluations()]
    print(json.dumps({"success": run.success, "observed": observed,
                      "checks": evaluations, "checks_success": checks.success}))
    """
)


@pytest.fixture
def phlo_project(tmp_path):
    root = tmp_path / "project"
    (root / "workflows" / "ingestion").mkdir(parents=True)
    (root / "workflows" / "ingestion" / "events.py").write_text(WORKFLOW)
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(tmp_path / "lakehouse"))
    seed_demo_table(lakehouse, "raw.events", commits=6, rows_per_commit=30)
    env = environment(
        drop=("PLUGINS_", "PHLO_LAKEHOUSE_", "NESSIE_", "MINIO_"),
        PHLO_LAKEHOUSE_HOME=str(tmp_path / "lakehouse"),
        PHLO_TELEMETRY_PATH=str(tmp_path / "telemetry.jsonl"),
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
    )
    (tmp_path / "dagster_home").mkdir()
    return root, env, lakehouse


def _python(code, root, env):
    return run_python(code, cwd=root, env=env)


def test_phlos_generated_definitions_hold_our_jobs_schedules_and_checks(phlo_project):
    root, env, _ = phlo_project
    loaded = _python(LOAD, root, env)
    assert "dlt_events" in loaded["assets"]  # the asset Phlo generated for raw.events
    assert ["dlt_events", "lakehouse_table_stats"] in loaded["checks"]
    assert {"lakehouse_maintenance", "lakehouse_optimize", "lakehouse_expire"} <= set(
        loaded["jobs"]
    )
    assert "lakehouse_maintenance_schedule" in loaded["schedules"]
    assert "lakehouse_auto_maintenance" in loaded["sensors"]
    assert loaded["lakehouse"] is True
    # Loading opened no connection and no catalog database.
    assert loaded["events"] == []


def test_the_lakehouse_section_of_phlo_yaml_configures_them(phlo_project):
    root, env, _ = phlo_project
    (root / "phlo.yaml").write_text(
        "name: demo\nlakehouse:\n  sensor: false\n  schedules:\n"
        "    - {job: lakehouse_expire, cron: '0 4 * * 0', default_status: RUNNING}\n"
    )
    loaded = _python(LOAD, root, env)
    assert "lakehouse_expire_schedule" in loaded["schedules"]
    assert "lakehouse_maintenance_schedule" not in loaded["schedules"]
    assert "lakehouse_auto_maintenance" not in loaded["sensors"]


def test_our_jobs_and_checks_run_on_phlos_asset_keys(phlo_project):
    root, env, lakehouse = phlo_project
    files = len(list(lakehouse.get_table("raw.events").scan().plan_files()))
    ran = _python(RUN, root, env)
    assert ran["success"]
    assert ran["observed"] == ["dlt_events"]
    assert len(list(lakehouse.get_table("raw.events").scan().plan_files())) < files
    assert ran["checks_success"]
    assert ran["checks"] == [["dlt_events", "lakehouse_table_stats", True]]
    telemetry = [
        json.loads(line)
        for line in (root.parent / "telemetry.jsonl").read_text().splitlines()
        if '"iceberg.maintenance.complete"' in line
    ]
    assert [e["payload"]["operation"] for e in telemetry] == ["compact"]
