"""The ``lakehouse_gc`` job (Nessie GC from Dagster): validated at definition time, picked by the
embedded default on a Nessie catalog, and run for real on the GC tests' own Nessie — a dry run
deletes nothing and records no observation; a real run deletes exactly what the preview listed and
reports an AssetObservation on the asset of each table it deleted files of."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import dagster as dg
import pytest

from phlo_lakehouse.dagster import LakehouseResource, lakehouse_maintenance_definitions
from phlo_lakehouse.dagster.factories import MaintenanceSchedule
from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse_tests.gc.histories import History
from phlo_lakehouse_tests.gc.oracle import bucket_files, put, s3_client

GC = {"cutoffs": ["1"], "older_than": "1s", "force": True}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"cutoffs": ["yesterday"]}, "cutoffs='yesterday' is not a cutoff policy"),
        ({"older_than": "1h"}, "older_than='1h' is under 24 hours"),
        ({"ref_regex": "("}, "ref_regex='(' is not a regular expression"),
        ({"retain": 3}, "unknown gc setting(s): retain"),
    ],
)
def test_bad_gc_settings_fail_at_definition_time(settings, message):
    with pytest.raises(InvalidInput) as info:
        lakehouse_maintenance_definitions(gc=settings)
    assert message in info.value.message and info.value.hint


def test_gc_schedules_need_the_gc_job():
    with pytest.raises(InvalidInput, match="unknown job 'lakehouse_gc'"):
        lakehouse_maintenance_definitions(
            schedules=[MaintenanceSchedule("lakehouse_gc", "0 3 * * 0")]
        )
    defs = dg.Definitions.merge(
        lakehouse_maintenance_definitions(
            gc={"cutoffs": ["P10D"]},
            schedules=[
                MaintenanceSchedule("lakehouse_gc", "0 3 * * 0", run_config={"dry_run": True})
            ],
        ),
        dg.Definitions(resources={"lakehouse": LakehouseResource()}),
    )
    schedule = defs.resolve_schedule_def("lakehouse_gc_schedule")
    assert schedule.job_name == "lakehouse_gc"
    request = schedule.evaluate_tick(dg.build_schedule_context()).run_requests[0]
    assert request.run_config == {"ops": {"lakehouse_gc__gc": {"config": {"dry_run": True}}}}
    assert defs.resolve_job_def("lakehouse_gc").tags["phlo/lakehouse-maintenance"] == "true"


@pytest.mark.parametrize(
    ("env", "jobs", "schedules"),
    [
        ({}, "lakehouse_vacuum", ["lakehouse_expire_schedule", "lakehouse_vacuum_schedule"]),
        ({"NESSIE_HOST": "nessie"}, "lakehouse_gc", ["lakehouse_gc_schedule"]),
    ],
)
def test_the_embedded_default_runs_gc_on_a_nessie_catalog(env, jobs, schedules):
    code = (
        "import json, phlo_lakehouse.definitions as d; print(json.dumps("
        "[sorted(j.name for j in d.defs.jobs), sorted(s.name for s in d.defs.schedules)]))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PHLO_LAKEHOUSE_", "NESSIE"))}
    out = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    import json

    found_jobs, found_schedules = json.loads(out.stdout)
    assert jobs in found_jobs and found_schedules == schedules
    assert ("lakehouse_gc" in found_jobs) == bool(env)


@pytest.mark.nessie
@pytest.mark.moto
@pytest.mark.timeout(600)
def test_lakehouse_gc_job_previews_then_deletes_and_observes_the_tables(gc_nessie, s3_endpoint):
    s3 = s3_client(s3_endpoint)
    gc_nessie.reset()
    history = History(gc_nessie.lakehouse())
    location = history.create("main", "events", batches=3)
    orphan = f"{location}/data/orphan.parquet"
    put(s3, orphan)
    time.sleep(1.5)
    settings = gc_nessie.settings()
    resource = LakehouseResource(
        catalog_type="nessie",
        catalog_uri=settings.uri,
        warehouse=settings.warehouse,
        properties=dict(settings.properties),
    )
    defs = dg.Definitions.merge(
        lakehouse_maintenance_definitions(gc=GC),
        dg.Definitions(resources={"lakehouse": resource}),
    )
    job = defs.resolve_job_def("lakehouse_gc")
    instance = dg.DagsterInstance.ephemeral()
    before = bucket_files(s3, gc_nessie.bucket)

    preview = job.execute_in_process(
        run_config={"ops": {"lakehouse_gc__gc": {"config": {"dry_run": True}}}}, instance=instance
    )
    planned = preview.output_for_node("lakehouse_gc__gc")
    assert planned["dry_run"] and bucket_files(s3, gc_nessie.bucket) == before
    assert not [e for e in preview.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    listed = set(planned["details"]["candidate_files"])
    assert orphan in listed

    result = job.execute_in_process(instance=instance)
    done = result.output_for_node("lakehouse_gc__gc")
    assert set(before) - set(bucket_files(s3, gc_nessie.bucket)) == listed
    assert done["figures"]["deleted"] == len(listed)
    observations = [
        e.event_specific_data.asset_observation
        for e in result.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    ]
    assert [o.asset_key for o in observations] == [dg.AssetKey(["gc", "events"])]
    metadata = observations[0].metadata
    assert metadata["lakehouse/files_deleted"].value == len(listed)
    assert observations[0].description.startswith(f"nessie_gc: deleted {len(listed)} files")
