"""phlo-dagster's own maintenance path reaches our executor: its ``expire_snapshots_job`` plans
with phlo-iceberg's table store and, given the plan token, has phlo-iceberg call the unnamed
``maintenance_executor`` — ours, selected with PHLO_DEFAULT_CAPABILITIES — through the
``MaintenanceExecutor`` protocol (``for_ref(...).expire_snapshots_table(...)``).

phlo-iceberg talks to an Iceberg REST catalog: Iceberg's own REST server
(scripts/services/iceberg_rest.sh), which keeps the snapshot history Nessie's endpoint does not.
The job runs eight days in the future (libfaketime), past phlo-iceberg's 168-hour floor.
"""

import json
import textwrap
from urllib.parse import urlparse

import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse_tests.conftest import S3_TEST_PROPERTIES, require_env
from phlo_lakehouse_tests.phlo_adapter.conftest import (
    environment,
    require_phlo,
    run_python,
    sorted_rows,
)

require_phlo()

pytestmark = [pytest.mark.iceberg_rest, pytest.mark.moto]

COMMITS = 6
RUN = textwrap.dedent(
    """
    import json, sys
    import dagster as dg
    from phlo.capabilities.discovery import discover_capabilities
    from phlo.capabilities.resolver import resolve_capability
    from phlo_dagster.iceberg_maintenance import expire_snapshots_job

    table, namespace = sys.argv[1], sys.argv[2]
    discover_capabilities()
    store = resolve_capability("table_store", "iceberg").provider
    # The operator's dry run: the plan and its token (the arguments the job's op uses).
    plan = store.expire_snapshots(
        table_name=table, override_ref="main", catalog="rest", dry_run=True,
        retention_hours=7 * 24, retain_last=2, max_affected_objects=1000,
        max_affected_bytes=10 * 1024**3, operation_id=None)
    config = {"namespace": namespace, "ref": "main", "dry_run": False, "catalog": "rest",
              "snapshot_retention_days": 7, "snapshot_retain_last": 2,
              "confirmation_tokens": {table: plan["plan_token"]}}
    with dg.instance_for_test() as instance:
        run = expire_snapshots_job.execute_in_process(
            run_config={"ops": {"expire_table_snapshots": {"config": config}}},
            instance=instance)
    print(json.dumps({"planned": len(plan["planned"]["candidate_snapshots"]),
                      "success": run.success,
                      "summary": run.output_for_node("expire_table_snapshots")}, default=str))
    """
)


@pytest.fixture
def rest_table(unique_name):
    catalog_uri = require_env("PHLO_TEST_ICEBERG_REST_CATALOG", "iceberg_rest")
    s3 = require_env("PHLO_TEST_S3_ENDPOINT", "moto")
    settings = CatalogSettings(
        type="rest", uri=catalog_uri, properties={**S3_TEST_PROPERTIES, "s3.endpoint": s3}
    )
    lakehouse = IcebergLakehouse(settings)
    name = f"{unique_name}.events"
    seed_demo_table(lakehouse, name, commits=COMMITS, rows_per_commit=20)
    yield lakehouse, name, catalog_uri, s3
    lakehouse.catalog().drop_table((unique_name, "events"))
    lakehouse.catalog().drop_namespace((unique_name,))


def test_phlo_dagsters_expire_job_runs_through_our_executor(rest_table, tmp_path):
    lakehouse, table, catalog_uri, s3 = rest_table
    rows = sorted_rows(lakehouse, table)
    assert len(lakehouse.get_table(table).table.snapshots()) == COMMITS
    base = catalog_uri.rsplit("/", 1)[0]  # phlo-iceberg appends the ref itself
    env = environment(
        drop=("PLUGINS_", "PHLO_LAKEHOUSE_", "NESSIE_", "MINIO_", "PHLO_ICEBERG_"),
        PHLO_TELEMETRY_PATH=str(tmp_path / "events.jsonl"),
        PHLO_DEFAULT_CAPABILITIES=json.dumps({"maintenance_executor": "snapshot_expiry"}),
        # phlo-iceberg's catalog and storage …
        PHLO_ICEBERG_CATALOG_URI=base,
        PHLO_ICEBERG_S3_ENDPOINT=s3,
        PHLO_ICEBERG_S3_ACCESS_KEY="testing",
        PHLO_ICEBERG_S3_SECRET_KEY="testing",
        # … and ours, the same catalog.
        PHLO_LAKEHOUSE_CATALOG_TYPE="rest",
        PHLO_LAKEHOUSE_CATALOG_URI=catalog_uri,
        PHLO_LAKEHOUSE_S3_ENDPOINT=s3,
        PHLO_LAKEHOUSE_S3_ACCESS_KEY_ID="testing",
        PHLO_LAKEHOUSE_S3_SECRET_ACCESS_KEY="testing",
        PHLO_LAKEHOUSE_S3_REGION="us-east-1",
    )
    assert urlparse(base).path == "/iceberg"
    ran = run_python(RUN, table, table.split(".")[0], cwd=tmp_path, env=env, faketime="+8d")
    assert ran["planned"] == COMMITS - 2
    assert ran["success"]
    assert ran["summary"]["errors"] == [] and ran["summary"]["tables_processed"] == 1

    after = lakehouse.get_table(table).table
    assert len(after.snapshots()) == 2  # retain_last=2, honoured (Trino's executor cannot)
    assert sorted_rows(lakehouse, table) == rows
    events = [
        json.loads(line)
        for line in (tmp_path / "events.jsonl").read_text().splitlines()
        if '"iceberg.maintenance.complete"' in line
    ]
    ours = [e["payload"] for e in events if e["payload"].get("provider") == "phlo-lakehouse"]
    assert [(p["operation"], p["status"], p["snapshots_deleted"]) for p in ours] == [
        ("expire_snapshots", "success", COMMITS - 2)
    ]
    # phlo-dagster's own completion event for the job, beside ours.
    assert any(e["payload"].get("job_name") == "expire_snapshots_job" for e in events)
