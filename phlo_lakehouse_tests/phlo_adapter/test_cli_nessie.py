"""``phlo operations maintenance`` with the real ``phlo`` executable against the real Nessie server
(S3 warehouse on moto) on a non-main branch, configured the way a Phlo project is: Phlo's own
NESSIE_*/MINIO_* variables."""

import json
from urllib.parse import urlparse

import pytest

from phlo_lakehouse import IcebergLakehouse
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse_tests.phlo_adapter.conftest import (
    PhloProject,
    data_file_count,
    require_phlo,
    sorted_rows,
)

require_phlo()

pytestmark = [pytest.mark.nessie, pytest.mark.moto]

COMMITS, ROWS = 8, 40


@pytest.fixture
def nessie_project(tmp_path, nessie_lakehouse, s3_endpoint, nessie_branch, unique_name):
    branch = nessie_branch
    table = f"{unique_name}.events"
    seed_demo_table(
        IcebergLakehouse(nessie_lakehouse.settings.with_ref(branch)),
        table,
        commits=COMMITS,
        rows_per_commit=ROWS,
    )
    nessie, s3 = urlparse(nessie_lakehouse.settings.uri), urlparse(s3_endpoint)
    project = PhloProject(
        tmp_path / "project",
        nessie_lakehouse,
        extra_env={
            "NESSIE_HOST": nessie.hostname,
            "NESSIE_PORT": str(nessie.port),
            "MINIO_HOST": s3.hostname,
            "MINIO_API_PORT": str(s3.port),
            "MINIO_ROOT_USER": "testing",
            "MINIO_ROOT_PASSWORD": "testing",
            "ICEBERG_WAREHOUSE_PATH": nessie_lakehouse.settings.warehouse or "warehouse",
        },
    )
    return project, table, branch


def _phlo_variables_only(project: PhloProject) -> dict[str, str]:
    """The project environment without our PHLO_LAKEHOUSE_* catalog variables."""
    return {
        name: ""
        for name in project.env()
        if name.startswith("PHLO_LAKEHOUSE_CATALOG") or name == "PHLO_LAKEHOUSE_WAREHOUSE"
    }


def test_compact_on_a_nessie_branch_through_phlo(nessie_project, nessie_lakehouse):
    project, table, branch = nessie_project
    phlo_only = _phlo_variables_only(project)
    rows = sorted_rows(nessie_lakehouse, table, branch)
    files = data_file_count(nessie_lakehouse, table, branch)
    assert files == COMMITS * 4

    done, plan, plan_file = project.plan("compact", table, branch, **phlo_only)
    assert done.returncode == 0, done.stderr
    assert plan["status"] == "planned" and plan["ref"] == branch
    assert plan["evidence"]["nessie"] is True

    done, result = project.apply(plan_file, **phlo_only)
    assert done.returncode == 0, done.stderr
    assert result["status"] == "succeeded"
    assert data_file_count(nessie_lakehouse, table, branch) == 4
    assert sorted_rows(nessie_lakehouse, table, branch) == rows
    # main never saw the table.
    assert not nessie_lakehouse.table_exists(table, "main")
    assert project.journal(f"compact:{table}:{branch}")["state"] == "succeeded"


def test_a_nessie_branch_that_moved_blocks_the_apply(nessie_project, nessie_lakehouse):
    project, table, branch = nessie_project
    phlo_only = _phlo_variables_only(project)
    done, _, plan_file = project.plan("compact", table, branch, **phlo_only)
    assert done.returncode == 0, done.stderr
    handle = nessie_lakehouse.get_table(table, branch)
    handle.table.append(handle.to_arrow().slice(0, 2))
    moved = nessie_lakehouse.get_table(table, branch).table.metadata_location

    done, result = project.apply(plan_file, **phlo_only)
    assert done.returncode == 1
    assert result["status"] == "blocked" and result["failure"]["code"] == "plan_stale"
    assert nessie_lakehouse.get_table(table, branch).table.metadata_location == moved
    assert project.journal(f"compact:{table}:{branch}")["state"] == "failed"


def test_snapshot_expiry_on_a_nessie_branch_keeps_files_for_nessie_gc(
    nessie_project, nessie_lakehouse
):
    project, table, branch = nessie_project
    phlo_only = _phlo_variables_only(project)
    before = nessie_lakehouse.get_table(table, branch).table.metadata_location
    done, plan, plan_file = project.plan(
        "snapshot_expiry", table, branch, faketime="+8d", **phlo_only
    )
    assert done.returncode == 0, done.stderr
    # Nessie's REST catalog serves one snapshot per table (history lives in Nessie's commits),
    # and files are never deleted here: other references may need them.
    assert plan["status"] == "noop"
    assert plan["planned"]["files_deleted"] is False
    done, result = project.apply(plan_file, faketime="+8d", **phlo_only)
    assert done.returncode == 0, done.stderr
    assert result["status"] == "noop" and result["affected"]["files_left_in_place"] is True
    assert nessie_lakehouse.get_table(table, branch).table.metadata_location == before
    assert project.journal(f"snapshot_expiry:{table}:{branch}")["state"] == "succeeded"


def test_inventory_lists_the_tables_of_phlos_configured_branch(nessie_project, nessie_lakehouse):
    """``ICEBERG_NESSIE_REF`` (Phlo's own variable) names the ref the inventory reads: the branch
    lists its table with the branch's figures; main, which never saw the table, does not."""
    project, table, branch = nessie_project
    phlo_only = {**_phlo_variables_only(project), "PHLO_LAKEHOUSE_REF": ""}
    head = nessie_lakehouse.get_table(table, branch).snapshot_id

    done = project.phlo(
        "operations", "maintenance", "inventory", "--format", "json",
        ICEBERG_NESSIE_REF=branch, **phlo_only,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    entries = {(e["table_name"], e["operation"]): e for e in json.loads(done.stdout)["tables"]}
    compact = entries[(table, "compact")]
    assert compact["ref"] == branch and compact["state"] == "due"
    assert compact["stats"]["snapshot_id"] == head
    assert compact["stats"]["data_files"] == data_file_count(nessie_lakehouse, table, branch)
    assert entries[(table, "snapshot_expiry")]["state"] == "ok"

    done = project.phlo(
        "operations", "maintenance", "inventory", "--format", "json",
        ICEBERG_NESSIE_REF="main", **phlo_only,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert table not in {e["table_name"] for e in json.loads(done.stdout)["tables"]}


def test_a_catalog_gone_between_plan_and_apply_fails_the_journal_entry(
    nessie_project, nessie_lakehouse
):
    """Nessie unreachable at apply time: a failed result (exit 1, no traceback) and Phlo's
    journal entry ``failed`` — never left ``submitted`` by an exception; the branch unchanged."""
    project, table, branch = nessie_project
    phlo_only = _phlo_variables_only(project)
    done, _, plan_file = project.plan("compact", table, branch, **phlo_only)
    assert done.returncode == 0, done.stderr
    before = nessie_lakehouse.get_table(table, branch).table.metadata_location

    done, result = project.apply(plan_file, NESSIE_PORT="9", **phlo_only)  # nobody listens
    assert done.returncode == 1
    assert result["status"] == "failed" and result["executed"] is False
    assert result["failure"]["code"] == "catalog_unavailable"
    assert "Traceback" not in done.stderr
    record = project.journal(f"compact:{table}:{branch}")
    assert record["state"] == "failed"
    assert record["result"]["failure"]["code"] == "catalog_unavailable"
    assert nessie_lakehouse.get_table(table, branch).table.metadata_location == before
