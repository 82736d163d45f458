"""The same maintenance jobs run against the real Nessie catalog on a non-main ref.

A branch ``b_<unique>`` is created from main and a fragmented table is seeded on it only;
``lakehouse_optimize`` and ``lakehouse_expire`` run with ``ref`` = that branch in run config
(expire with ``delete_files: false``: on Nessie other commits/refs may still need the files, and
the expire op refuses to delete them). Compaction commits on the branch; main never sees the
table (nor its namespace). ``lakehouse_vacuum`` is refused on Nessie by design: its step
fails with that error and changes nothing.
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg
import pytest

from phlo_lakehouse import IcebergLakehouse
from phlo_lakehouse.dagster import LakehouseResource, lakehouse_maintenance_definitions
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse_tests.conftest import S3_TEST_PROPERTIES

pytestmark = [pytest.mark.nessie, pytest.mark.moto]

COMMITS, ROWS = 8, 40


def _resource(lakehouse: IcebergLakehouse, s3_endpoint: str) -> LakehouseResource:
    return LakehouseResource(
        catalog_type="nessie",
        catalog_uri=lakehouse.settings.uri,
        warehouse=os.environ.get("PHLO_TEST_NESSIE_WAREHOUSE", "warehouse"),
        properties={**S3_TEST_PROPERTIES, "s3.endpoint": s3_endpoint},
    )


def _run(
    defs: dg.Definitions, job: str, config: dict[str, Any], instance: dg.DagsterInstance
) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def(job).execute_in_process(
        run_config={"ops": {f"{job}__select_tables": {"config": config}}},
        instance=instance,
        raise_on_error=False,
    )


def _event_ids(lakehouse: IcebergLakehouse, table: str, ref: str) -> list[int]:
    return sorted(lakehouse.get_table(table, ref).to_arrow()["event_id"].to_pylist())


def _failures(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    return {
        event.step_key: event.step_failure_data.error.to_string()
        for event in result.all_events
        if event.is_step_failure
    }


def test_maintenance_jobs_on_a_nessie_branch(
    nessie_lakehouse, s3_endpoint, unique_name, nessie_branch
):
    branch = nessie_branch
    table = f"{unique_name}.events"
    # Written on the branch only (a lakehouse whose default ref is the branch).
    on_branch = IcebergLakehouse(nessie_lakehouse.settings.with_ref(branch))
    seeded = seed_demo_table(on_branch, table, commits=COMMITS, rows_per_commit=ROWS)
    assert seeded.ref == branch and seeded.nessie
    assert not nessie_lakehouse.table_exists(table, "main")

    resource = _resource(nessie_lakehouse, s3_endpoint)
    assert resource.default_ref == "main"  # the ref comes from run config only
    defs = dg.Definitions.merge(
        lakehouse_maintenance_definitions(tables=[f"{unique_name}.*"]),
        dg.Definitions(resources={"lakehouse": resource}),
    )
    before = nessie_lakehouse.collect_stats(table, branch, full=True)
    rows_before = _event_ids(nessie_lakehouse, table, branch)
    # Nessie's REST catalog serves only the current snapshot (history lives in Nessie commits).
    assert (before.file_count, before.snapshot_count, before.row_count) == (
        COMMITS * 4,
        1,
        COMMITS * ROWS,
    )

    with dg.instance_for_test() as instance:
        optimize = _run(defs, "lakehouse_optimize", {"ref": branch}, instance)
        assert optimize.success, _failures(optimize)
        compacted = nessie_lakehouse.collect_stats(table, branch, full=True)
        assert compacted.file_count == 4 < before.file_count  # one file per day partition
        assert compacted.row_count == before.row_count
        assert compacted.snapshot_count == 1
        summary = optimize.output_for_node("lakehouse_optimize__summary")
        assert summary["tables"] == [table] and summary["committed"] == 1
        assert summary["results"][0]["ref"] == branch

        # delete_files: true is refused on Nessie: the table step fails, nothing changes.
        refused = _run(defs, "lakehouse_expire", {"ref": branch}, instance)
        assert not refused.success
        (error,) = _failures(refused).values()
        assert "Nessie may still need" in error
        assert nessie_lakehouse.collect_stats(table, branch).snapshot_id == compacted.snapshot_id

        expire_config = {"ref": branch, "expire": {"older_than": "0s", "delete_files": False}}
        expire = _run(defs, "lakehouse_expire", expire_config, instance)
        assert expire.success, _failures(expire)
        (result,) = expire.output_for_node("lakehouse_expire__summary")["results"]
        # Nothing to expire: Nessie's table metadata holds only the current snapshot.
        assert result["ref"] == branch and result["committed"] is False
        assert result["figures"]["snapshots_to_expire"] == 0
        expired = nessie_lakehouse.collect_stats(table, branch, full=True)
        assert expired.snapshot_count == 1
        assert (expired.file_count, expired.row_count) == (4, before.row_count)

        # vacuum is refused on Nessie by design, with a clear error; nothing changes.
        vacuum = _run(defs, "lakehouse_vacuum", {"ref": branch}, instance)
        assert not vacuum.success
        ((step, error),) = _failures(vacuum).items()
        assert step.startswith("lakehouse_vacuum__vacuum")
        assert "not safe on a Nessie catalog" in error and "Nessie GC" in error
        assert nessie_lakehouse.collect_stats(table, branch).snapshot_id == compacted.snapshot_id

        observations = instance.fetch_observations(
            dg.AssetKey([unique_name, "events"]), limit=20
        ).records
        refs = {r.asset_observation.metadata["lakehouse/ref"].value for r in observations}
        assert refs == {branch}

    assert _event_ids(nessie_lakehouse, table, branch) == rows_before
    handle = nessie_lakehouse.get_table(table, branch)
    assert handle.table.current_snapshot().summary.operation.value == "replace"
    # main never saw any of it (other tests share the server, so main's hash may move).
    assert not nessie_lakehouse.table_exists(table, "main")
    assert (unique_name,) not in nessie_lakehouse.list_namespaces("main")
